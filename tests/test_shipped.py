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
