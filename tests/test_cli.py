"""``python -m percloss``: readable output, one-line errors with non-zero status."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from percloss.cli import main


def write(path: Path, x: np.ndarray, rate: int) -> Path:
    sf.write(str(path), x, rate, subtype="PCM_16")
    return path


@pytest.fixture
def tone_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A 1 kHz tone and two noisy copies (a synthetic signal, not music): the CLI plumbing only."""
    rng = np.random.default_rng(0)
    t = np.arange(22050) / 44100
    x = 0.5 * np.sin(2 * np.pi * 1000 * t)
    ref = write(tmp_path / "ref.wav", x, 44100)
    quiet = write(tmp_path / "quiet.wav", x + 1e-4 * rng.standard_normal(len(x)), 44100)
    loud = write(tmp_path / "loud.wav", x + 3e-2 * rng.standard_normal(len(x)), 44100)
    return ref, quiet, loud


def test_threshold_prints_the_subband_table_and_plots(tone_files: tuple[Path, Path, Path], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "thr.png"
    assert main(["threshold", str(tone_files[0]), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.strip()[:2].strip().isdigit()]
    assert len(rows) == 32
    smr = [float(r[-1]) for r in rows]
    assert int(np.argmax(smr)) == 1  # the 1 kHz tone lives in subband 1 (689-1378 Hz)
    assert png.stat().st_size > 10_000


def test_threshold_calibration_option(tone_files: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from percloss.cli import CALIBRATIONS
    from percloss.masking import CALIBRATIONS as LIBRARY_CALIBRATIONS

    assert CALIBRATIONS == LIBRARY_CALIBRATIONS
    levels = {}
    for calibration in ("iso", "sine96"):
        assert main(["threshold", str(tone_files[0]), "--calibration", calibration]) == 0
        out = capsys.readouterr().out
        assert f"calibration {calibration}" in out
        rows = [line.split() for line in out.splitlines() if line.strip()[:2].strip().isdigit()]
        levels[calibration] = float(rows[1][3])  # subband 1's level, dB SPL
    # a 0.5-amplitude tone: 82.52 - 6.02 dB under the standard's scaling, 13.48 dB more under sine96
    assert levels["sine96"] - levels["iso"] == pytest.approx(13.48, abs=0.1)  # printed to 0.1 dB
    with pytest.raises(SystemExit):
        main(["threshold", str(tone_files[0]), "--calibration", "loud"])


def test_nmr_orders_quiet_and_loud_noise(tone_files: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    values = []
    for test in tone_files[1:]:
        assert main(["nmr", str(tone_files[0]), str(test)]) == 0
        out = capsys.readouterr().out
        values.append(float(out.split("NMR (mean over frames and bands):")[1].split()[0]))
    assert values[0] < 0 < values[1]


def test_errors_are_one_line_with_nonzero_status(tone_files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    other_rate = write(tmp_path / "r48.wav", np.zeros(24000), 48000)
    not_audio = tmp_path / "x.wav"
    not_audio.write_text("hello")
    cases = [
        (["nmr", str(tone_files[0]), str(other_rate)], "sample rates differ"),
        (["nmr", str(tone_files[0]), str(tmp_path / "missing.wav")], "does not name a file"),
        (["threshold", str(not_audio)], "not a readable audio file"),
    ]
    for argv, message in cases:
        proc = subprocess.run([sys.executable, "-m", "percloss", *argv], capture_output=True, text=True)
        assert proc.returncode == 2
        assert message in proc.stderr
        assert "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1


def test_weights_list_reports_missing_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PERCLOSS_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    assert "vggish: not found (vggish-10086976.pth" in out
    assert "openl3: not found (openl3_audio_mel256_music.h5" in out


def test_codec_encode_decode_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    from percloss.codec import CascadedCodec, decode_indices, encode_indices, save_codec

    torch.manual_seed(0)
    codec = CascadedCodec(1).eval()
    counts = [torch.ones(32, dtype=torch.float64)]
    model = tmp_path / "model.pt"
    save_codec(model, codec, counts, 16000, "test-untrained", "untrained (seed 0)")
    rng = np.random.default_rng(1)
    wav = write(tmp_path / "in.wav", 0.1 * rng.standard_normal(8000), 16000)
    pcl, out = tmp_path / "out.pcl", tmp_path / "out.wav"
    assert main(["encode", str(wav), str(pcl), "--model", str(model), "--quiet"]) == 0
    line = capsys.readouterr().out
    size = pcl.stat().st_size
    assert f"{size} bytes" in line and f"{size * 8 / 0.5 / 1000:.1f} kbit/s" in line
    assert main(["decode", str(pcl), str(out), "--model", str(model), "--quiet"]) == 0
    decoded, rate = sf.read(str(out), dtype="float64")
    x, _ = sf.read(str(wav), dtype="float64")
    xt = torch.from_numpy(x).float()
    expected = decode_indices(codec, encode_indices(codec, xt), len(x)).clamp(-1, 1).numpy()
    assert rate == 16000 and len(decoded) == len(x)
    assert np.abs(decoded - expected).max() <= 1 / 32767 + 1e-9  # only the 16-bit WAV rounding
    bad = tmp_path / "bad.pt"
    bad.write_text("no")
    proc = subprocess.run([sys.executable, "-m", "percloss", "decode", str(pcl), str(out), "--model", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "not a readable codec checkpoint" in proc.stderr


def _ship(folder: Path, rate: int = 16000) -> None:
    """A tiny untrained model 'D64' in a models folder with its manifest (the plumbing, not a trained codec)."""
    import hashlib
    import json

    import torch

    from percloss.codec import CascadedCodec, save_codec

    torch.manual_seed(0)
    folder.mkdir(parents=True, exist_ok=True)
    sha = save_codec(folder / "D64.codec", CascadedCodec(1).eval(), [torch.ones(32, dtype=torch.float64)], rate,
                     "D64", "untrained (seed 0)")
    assert sha == hashlib.sha256((folder / "D64.codec").read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps({"D64": {"file": "D64.codec", "sha256": sha, "sample_rate": rate,
                                                              "n_modules": 1, "steps": 0}}))


def test_default_model_round_trips_a_44k_stereo_wav(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PERCLOSS_MODELS", str(tmp_path / "models"))
    assert main(["models"]) == 0
    assert "no codec models ship" in capsys.readouterr().out
    assert main(["encode", "x.wav", str(tmp_path / "o.pcl")]) == 2
    assert "no shipped codec model 'D64'" in capsys.readouterr().err
    _ship(tmp_path / "models")
    assert main(["models"]) == 0
    assert capsys.readouterr().out.startswith("D64 (default): 16000 Hz, 1 module(s)")
    rng = np.random.default_rng(2)
    stereo = 0.1 * rng.standard_normal((44100, 2))
    wav = write(tmp_path / "in.wav", stereo, 44100)
    pcl, out = tmp_path / "o.pcl", tmp_path / "o.wav"
    assert main(["encode", str(wav), str(pcl), "--quiet"]) == 0
    notes = capsys.readouterr().out
    assert "2 channels downmixed to mono" in notes and "resampled 44100 Hz -> 16000 Hz" in notes
    assert main(["decode", str(pcl), str(out), "--quiet"]) == 0
    assert "resampled 16000 Hz -> 44100 Hz" in capsys.readouterr().out
    info = sf.info(str(out))
    assert info.samplerate == 44100 and info.channels == 1 and abs(info.frames - 44100) <= 3
    assert main(["decode", str(pcl), str(tmp_path / "r.wav"), "--quiet", "--rate", "16000"]) == 0
    assert sf.info(str(tmp_path / "r.wav")).samplerate == 16000
    # a tampered shipped file is refused, with one line
    blob = bytearray((tmp_path / "models" / "D64.codec").read_bytes())
    blob[-10] ^= 1
    (tmp_path / "models" / "D64.codec").write_bytes(bytes(blob))
    assert main(["encode", str(wav), str(pcl), "--quiet"]) == 2
    assert "SHA-256" in capsys.readouterr().err


def test_output_path_errors_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PERCLOSS_MODELS", str(tmp_path / "models"))
    _ship(tmp_path / "models")
    wav = write(tmp_path / "in.wav", 0.1 * np.ones(8000), 16000)
    for target, message in ((tmp_path, "is a directory"), (tmp_path / "no" / "o.pcl", "does not exist")):
        assert main(["encode", str(wav), str(target), "--quiet"]) == 2
        assert message in capsys.readouterr().err
    assert main(["encode", str(wav), str(tmp_path / "o.wav"), "--quiet"]) == 2  # wrote a bitstream named .wav
    assert ".pcl suffix" in capsys.readouterr().err and not (tmp_path / "o.wav").exists()
    assert main(["encode", str(wav), str(tmp_path / "o.pcl"), "--quiet"]) == 0
    assert main(["decode", str(tmp_path / "o.pcl"), str(tmp_path / "o.mp3"), "--quiet"]) == 2
    assert ".wav or .flac" in capsys.readouterr().err


def test_threshold_and_nmr_say_when_they_downmix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    t = np.arange(22050) / 44100
    stereo = np.stack([0.5 * np.sin(2 * np.pi * 1000 * t), 0.4 * np.sin(2 * np.pi * 1000 * t)], axis=1)
    path = write(tmp_path / "st.wav", stereo, 44100)
    assert main(["threshold", str(path)]) == 0
    assert f"note: {path}: 2 channels downmixed to mono" in capsys.readouterr().out
    assert main(["nmr", str(path), str(path)]) == 0
    assert capsys.readouterr().out.count("2 channels downmixed") == 2


@pytest.mark.parametrize("name, message", [(".", "is a directory"), ("thr", "use a .png"), ("thr.wav", "use a .png"),
                                           ("no/thr.png", "does not exist")])
def test_threshold_refuses_a_plot_name_it_would_not_honour(tone_files: tuple[Path, Path, Path], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str], name: str,
                                                          message: str) -> None:
    # before: "--plot DIR" wrote DIR.png and reported "plot written to DIR"
    target = tmp_path / name
    assert main(["threshold", str(tone_files[0]), "--plot", str(target)]) != 0
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err
    assert captured.out == ""  # refused before the analysis printed anything
    assert not (tmp_path / f"{name}.png").exists() and not Path(str(tmp_path) + ".png").exists()


def test_encode_refuses_an_unwritable_output_before_encoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    import percloss.codec
    from percloss.codec import CascadedCodec, save_codec

    torch.manual_seed(0)
    model = tmp_path / "model.pt"
    save_codec(model, CascadedCodec(1).eval(), [torch.ones(32, dtype=torch.float64)], 16000, "test", "untrained")
    wav = write(tmp_path / "in.wav", 0.1 * np.random.default_rng(1).standard_normal(8000), 16000)

    def never(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("encoded although the output cannot be written")

    monkeypatch.setattr(percloss.codec, "write_bitstream", never)
    # /proc takes no new files, whoever runs the test (root included)
    assert main(["encode", str(wav), "/proc/percloss-test.pcl", "--model", str(model), "--quiet"]) == 2
    assert "cannot write '/proc/percloss-test.pcl'" in capsys.readouterr().err
    ok = tmp_path / "ok.pcl"
    monkeypatch.undo()
    assert main(["encode", str(wav), str(ok), "--model", str(model), "--quiet"]) == 0 and ok.stat().st_size > 0


def test_encode_decode_stream_in_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """encode and decode read, resample and write block by block (bounded memory on long files): with tiny
    blocks, the bitstream is byte for byte that of the whole stereo file downmixed and resampled in one
    piece, and the decoded file that of the one-piece decoder, resampler and 16-bit writer."""
    import torch

    from percloss import cli
    from percloss.codec import CascadedCodec, read_bitstream, save_codec, write_bitstream
    from percloss.data import load_clip, read_audio
    from percloss.signal import resample_audio

    torch.manual_seed(0)
    codec = CascadedCodec(2).eval()
    counts = [torch.arange(1, 33, dtype=torch.float64)] * 2
    model = tmp_path / "model.pt"
    save_codec(model, codec, counts, 16000, "test-untrained", "untrained (seed 0)")
    clip = load_clip("band_sectoid", 22050).numpy()[:30011]
    stereo = np.stack([clip, 0.5 * clip[::-1]], axis=1)
    wav = tmp_path / "in.wav"
    sf.write(str(wav), stereo, 22050, subtype="FLOAT")
    monkeypatch.setattr(cli, "BLOCK", 4099)
    pcl, out = tmp_path / "out.pcl", tmp_path / "out.wav"
    assert main(["encode", str(wav), str(pcl), "--model", str(model), "--quiet"]) == 0
    audio, _ = read_audio(wav)
    mono = audio.mean(axis=1).astype(np.float32).astype(np.float64)  # the reader's float32 downmix
    x = torch.from_numpy(resample_audio(mono, 22050, 16000).astype(np.float32))
    expected_blob = write_bitstream(codec, counts, x, 16000, original_rate=22050)
    assert pcl.read_bytes() == expected_blob
    assert main(["decode", str(pcl), str(out), "--model", str(model), "--quiet"]) == 0
    decoded, rate = sf.read(str(out), dtype="int16")
    y, _ = read_bitstream(codec, counts, expected_blob)
    whole = np.clip(resample_audio(y.clamp(-1, 1).double().numpy(), 16000, 22050), -1.0, 1.0)
    reference = tmp_path / "ref.wav"
    sf.write(str(reference), whole, 22050, subtype="PCM_16")
    assert rate == 22050
    np.testing.assert_array_equal(decoded, sf.read(str(reference), dtype="int16")[0])


def test_codec_verbose_prints_the_real_time_factor_and_the_time_split(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    import re

    import torch

    from percloss.codec import CascadedCodec, save_codec

    torch.manual_seed(0)
    model = tmp_path / "model.pt"
    save_codec(model, CascadedCodec(1).eval(), [torch.ones(32, dtype=torch.float64)], 16000, "test-untrained",
               "untrained (seed 0)")
    wav = write(tmp_path / "in.wav", 0.1 * np.random.default_rng(1).standard_normal(16000), 16000)
    pcl, out = tmp_path / "out.pcl", tmp_path / "out.wav"
    pattern = (r"(encode|decode): 1\.00 s of audio in ([0-9.]+) s = ([0-9.]+)x real time \(network ([0-9.]+) s, "
               r"range coder ([0-9.]+) s, I/O, resampling and model loading (-?[0-9.]+) s; \d+ thread\(s\), float32\)")
    for argv in (["encode", str(wav), str(pcl)], ["decode", str(pcl), str(out)]):
        assert main([*argv, "--model", str(model), "--quiet", "--verbose"]) == 0
        match = re.search(pattern, capsys.readouterr().out)
        assert match is not None and match.group(1) == argv[0]
        wall, factor, network, coder, rest = (float(match.group(i)) for i in range(2, 7))
        assert network > 0 and coder >= 0 and rest >= -0.01
        assert wall > 0 and abs(factor * wall - 1) <= 0.06 * wall + 0.006 / wall  # both rounded as printed
        assert network + coder <= wall + 0.01
    assert main(["encode", str(wav), str(pcl), "--model", str(model), "--quiet"]) == 0
    assert "real time" not in capsys.readouterr().out  # only with --verbose
