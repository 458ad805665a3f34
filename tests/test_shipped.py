"""The codec models shipped in percloss/models: manifest, SHA-256, and the default model's round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from percloss.cli import main
from percloss.codec import count_parameters
from percloss.codec_runs import POINTS
from percloss.shipped import DEFAULT_MODEL, load_shipped_codec, shipped_models, training_log

SHIPPED = shipped_models()


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_model_matches_its_manifest(name: str) -> None:
    entry = SHIPPED[name]
    codec, counts, info = load_shipped_codec(name)  # verifies the SHA-256
    point = POINTS[name]
    assert (entry["model"], entry["sample_rate"], entry["n_modules"]) == (point.model, point.sample_rate,
                                                                            point.n_modules)
    assert info["sample_rate"] == point.sample_rate and count_parameters(codec) == entry["parameters"]
    assert len(counts) == point.n_modules and all(float(c.sum()) > 0 for c in counts)
    # the work's rate, within 3 %, measured as range-coded file size on the held-out songs
    assert abs(entry["file_kbps_heldout"] - point.kbps) <= 0.03 * point.kbps
    log = training_log(name)
    assert len(log) == entry["steps"] and [int(r["step"]) for r in log] == list(range(1, entry["steps"] + 1))


@pytest.mark.skipif(DEFAULT_MODEL not in SHIPPED, reason=f"the default model {DEFAULT_MODEL} does not ship yet")
def test_default_model_round_trips_a_44k_stereo_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from percloss import data

    x = data.load_clip("band_sectoid", 44100)[44100 : 2 * 44100].numpy()
    stereo = np.stack([x, 0.8 * x], axis=1)
    wav, pcl, out = tmp_path / "in.wav", tmp_path / "o.pcl", tmp_path / "o.wav"
    sf.write(str(wav), stereo, 44100, subtype="PCM_16")
    assert main(["encode", str(wav), str(pcl), "--quiet"]) == 0
    assert main(["decode", str(pcl), str(out), "--quiet"]) == 0
    y, rate = sf.read(str(out))
    assert rate == 44100 and abs(len(y) - len(x)) <= 3
    mono = stereo.mean(1)
    n = min(len(y), len(mono))
    snr = 10 * np.log10(np.sum(mono[:n] ** 2) / np.sum((mono[:n] - y[:n]) ** 2))
    assert snr > 5.0, snr  # a trained codec, not noise


def test_training_curve_reads_a_log_csv_and_a_train_log_alike(tmp_path: Path) -> None:
    """The curve of a CSV log and of the TrainLog it was written from agree; a two-module log's curve
    follows the hard codes' entropy, a one-module log's the soft one; an empty log is refused."""
    import gzip

    from percloss.codec_training import TrainLog
    from percloss.shipped import training_curve

    rows = "step,distortion,entropy_bits,hard_entropy_bits\n1,2.5,1.0;2.0,1.5;2.5\n2,1.25,1.1;2.1,1.6;2.6\n"
    (tmp_path / "log.csv").write_text(rows)
    with gzip.open(tmp_path / "log.csv.gz", "wt") as handle:
        handle.write(rows)
    two = training_curve(tmp_path / "log.csv", 2)
    assert list(two) == ["step", "distortion", "H1", "H2"]
    np.testing.assert_array_equal(two["H2"], [2.5, 2.6])  # hard, for two modules
    np.testing.assert_array_equal(training_curve(tmp_path / "log.csv.gz", 1)["H1"], [1.0, 1.1])  # soft, for one
    log = TrainLog(distortion=[2.5, 1.25], entropy_bits=[[1.0, 2.0], [1.1, 2.1]],
                   hard_entropy_bits=[[1.5, 2.5], [1.6, 2.6]])
    from_log = training_curve(log, 2)
    for key, value in two.items():
        np.testing.assert_array_equal(from_log[key], value)
    with pytest.raises(ValueError, match="no steps"):
        training_curve(TrainLog(), 1)
