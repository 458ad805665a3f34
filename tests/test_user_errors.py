"""User errors in the command line and the API: one line naming the argument (exit status 2), no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from percloss import cli, shipped


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    status = cli.main(list(argv))
    err = capsys.readouterr().err
    assert status == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_train_codec_checks_its_folders_device_and_steps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    base = ("train-codec", "--point", "A64", "--hours", "0.001", "--corpus-folder", "excerpts")
    err = _run(capsys, *base, "--state-dir", str(afile))
    assert "--state-dir" in err and "is a file" in err
    assert "--snapshot-dir" in _run(capsys, *base, "--snapshot-dir", str(afile / "sub"))
    for device in ("meta", "mps"):
        assert f"--device {device}" in _run(capsys, *base, "--device", device)
    assert "--report-every" in _run(capsys, *base, "--report-every", "0")
    assert "--hours" in _run(capsys, "train-codec", "--point", "A64", "--hours", "0", "--corpus-folder", "excerpts")


@pytest.fixture()
def wav(tmp_path: Path) -> Path:
    path = tmp_path / "in.wav"
    sf.write(path, 0.3 * np.sin(np.arange(32000) * 0.05), 32000)
    return path


def test_encode_refuses_damaged_or_mismatched_checkpoints(tmp_path: Path, wav: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    one = torch.load(shipped.models_dir() / "A64.codec", map_location="cpu", weights_only=True)
    two = torch.load(shipped.models_dir() / "A79.codec", map_location="cpu", weights_only=True)
    cases = {
        "missing": {**one, "state_dict": {k: v for i, (k, v) in enumerate(one["state_dict"].items()) if i % 2}},
        "modules": {**one, "n_modules": 2},
        "two_as_one": {**two, "n_modules": 1},
        "lacks_keys": {k: v for k, v in one.items() if k != "symbol_counts"},
    }
    for name, payload in cases.items():
        path = tmp_path / f"{name}.codec"
        torch.save(payload, path)
        err = _run(capsys, "encode", str(wav), str(tmp_path / "o.pcl"), "--model", str(path))
        assert str(path) in err and ("does not fit" in err or "damaged" in err), err
        assert len(err) < 300  # one line, not a dump of the state dict
    garbage = tmp_path / "garbage.codec"
    garbage.write_bytes(b"not a checkpoint")
    err = _run(capsys, "encode", str(wav), str(tmp_path / "o.pcl"), "--model", str(garbage))
    assert "not a readable codec checkpoint" in err and "weights_only" not in err


def test_models_refuses_a_malformed_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PERCLOSS_MODELS", str(tmp_path))
    (tmp_path / "manifest.json").write_text('{"A64": [1, 2')
    assert "not valid JSON" in _run(capsys, "models")
    (tmp_path / "manifest.json").write_text(json.dumps({"A64": {"file": "A64.codec"}}))
    assert "sha256" in _run(capsys, "models")


def test_threshold_refuses_a_rate_model_1_cannot_analyse(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "fast.wav"
    sf.write(path, np.zeros(2000), 2**31 - 1)
    assert "too high for psychoacoustic model 1" in _run(capsys, "threshold", str(path))


def test_api_user_errors_are_value_errors(tmp_path: Path) -> None:
    from percloss.codec import CascadedCodec
    from percloss.codec_training import bits_per_code, train_codec
    from percloss.losses import PerceptualLoss
    from percloss.metrics import log_spectral_distance

    x = torch.randn(32000) * 0.1
    corrupt, foreign = tmp_path / "corrupt.pt", tmp_path / "foreign.pt"
    corrupt.write_bytes(b"garbage")
    torch.save({"foo": 1}, foreign)
    calls = [
        (lambda: train_codec(CascadedCodec(1), [], 32000, "A", steps=1), "signals must be a non-empty list"),
        (lambda: train_codec(CascadedCodec(1), [torch.randn(2, 32000)], 32000, "A", steps=1), r"signals\[0\] must be mono"),
        (lambda: train_codec(CascadedCodec(1), [x], 32000, "A", steps=1, save_every=0), "save_every"),
        (lambda: train_codec(CascadedCodec(1), [x], 32000, "A", steps=1, checkpoint=corrupt), "not a readable training"),
        (lambda: train_codec(CascadedCodec(1), [x], 32000, "A", steps=1, checkpoint=foreign), "not a train_codec state"),
        (lambda: bits_per_code(64, 0), "sample_rate"),
        (lambda: bits_per_code(0, 32000), "kbps"),
        (lambda: log_spectral_distance(x, x, 16000, n_fft=True), "n_fft"),  # type: ignore[arg-type]
        (lambda: log_spectral_distance(x, x, 16000, n_fft=512.0), "n_fft"),  # type: ignore[arg-type]
        (lambda: PerceptualLoss(16000, n_bands=32, n_taps=32)(torch.zeros(0, 4096), torch.zeros(0, 4096)),
         "empty batch"),
    ]
    for call, match in calls:
        with pytest.raises(ValueError, match=match):
            call()


def test_load_cdpam_refuses_an_unknown_device() -> None:
    pytest.importorskip("cdpam")
    from percloss.cdpam import load_cdpam

    with pytest.raises(ValueError, match="device must name a torch device"):
        load_cdpam(device="bogus")
