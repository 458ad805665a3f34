"""CDPAM (percloss.cdpam, percloss.losses.cdpam) with the real weights of the cdpam==0.0.6 wheel.

Clips are 0.25-0.5 s so that the file runs in well under a minute on one core.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import types
from pathlib import Path

import pytest
import torch

import percloss.cdpam as pc
from percloss.cdpam import cdpam_min_length, cdpam_weights_path, load_cdpam
from percloss.data import excerpt
from percloss.losses import CDPAMLoss, cdpam_distance
from percloss.signal import resample_audio

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("cdpam") is None,
    reason="the optional package cdpam is not installed (pip install 'percloss[cdpam]')",
)

RATE = 22050
SNRS_DB = (30.0, 20.0, 10.0)


def noisy(x: torch.Tensor, snr_db: float, seed: int = 0) -> torch.Tensor:
    """``x`` plus white Gaussian noise at ``snr_db`` dB below its RMS."""
    n = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed), dtype=x.dtype)
    return x + n * x.pow(2).mean().sqrt() * 10 ** (-snr_db / 20)


@pytest.fixture(scope="module")
def speech() -> torch.Tensor:
    return excerpt("speech_female", RATE, RATE // 4)


def test_weights_file_is_the_pinned_one() -> None:
    path = cdpam_weights_path()
    assert path.name == "scratchJNDdefault_best_model.pth" and path.is_file()
    model = load_cdpam("cpu")
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())
    assert load_cdpam(torch.device("cpu")) is model  # cached per device


def test_identical_inputs_give_zero(speech: torch.Tensor) -> None:
    with torch.no_grad():
        assert float(cdpam_distance(speech, speech, RATE)) <= 1e-6
        assert float(cdpam_distance(speech, speech.clone(), RATE)) <= 1e-6


@pytest.mark.parametrize("clip", ["speech_female", "piano_bach"])
def test_distance_rises_with_noise(clip: str) -> None:
    x = excerpt(clip, RATE, RATE // 2)
    tests = torch.stack([noisy(x, snr) for snr in SNRS_DB])
    with torch.no_grad():
        d = cdpam_distance(x.expand(len(SNRS_DB), -1), tests, RATE)
    print(clip, dict(zip(SNRS_DB, d.tolist(), strict=True)))  # 30, 20, 10 dB SNR
    assert bool((d > 0).all()) and bool((d[1:] > d[:-1]).all()), d


def test_matches_the_cdpam_package_forward(speech: torch.Tensor) -> None:
    """Our scaling and forward pass equal ``cdpam.CDPAM.forward`` on int16-scaled input."""
    cdpam = pytest.importorskip("cdpam")
    x = speech[: RATE // 10]
    ref = torch.stack([x, x.flip(-1)])
    test = torch.stack([noisy(x, 20.0), noisy(x.flip(-1), 15.0, seed=1)])
    stub = types.SimpleNamespace(model=load_cdpam("cpu"), device=torch.device("cpu"))
    with torch.no_grad():
        expected = cdpam.CDPAM.forward(stub, ref * 32768, test * 32768)
        batch = cdpam_distance(ref, test, RATE)
        single = torch.stack([cdpam_distance(ref[i], test[i], RATE) for i in range(2)])
        losses = {r: CDPAMLoss(RATE, reduction=r)(test, ref) for r in ("none", "mean", "sum")}
    assert batch.shape == (2,) and single.shape == (2,)
    torch.testing.assert_close(batch, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(batch, single, rtol=1e-4, atol=1e-6)  # batch == items one by one
    torch.testing.assert_close(losses["none"], batch)
    torch.testing.assert_close(losses["mean"], batch.mean())
    torch.testing.assert_close(losses["sum"], batch.sum())
    assert len(CDPAMLoss(RATE).state_dict()) == 0  # the network is not a submodule


def test_gradient_is_finite_and_nonzero(speech: torch.Tensor) -> None:
    """Through the resampler too: input at 44.1 kHz."""
    x = torch.from_numpy(resample_audio(speech.double().numpy(), RATE, 44100)).float()
    y = noisy(x, 20.0).requires_grad_(True)
    d = cdpam_distance(x, y, 44100)
    d.backward()
    assert y.grad is not None
    assert bool(torch.isfinite(y.grad).all()) and float(y.grad.abs().max()) > 0


def test_44k_input_gives_the_22k_distance() -> None:
    """The same band-limited audio given at 44.1 kHz (upsampled with soxr) or at 22.05 kHz."""
    x = excerpt("speech_female", RATE, RATE // 2).double()
    n = torch.randn(x.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    spec = torch.fft.rfft(n)
    spec[torch.fft.rfftfreq(len(n), 1 / RATE) > 9000] = 0  # clear of soxr's transition band
    n = torch.fft.irfft(spec, n=len(n))
    y = x + 0.02 * n / n.pow(2).mean().sqrt()

    def up(s: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(resample_audio(s.numpy(), RATE, 44100)).float()

    with torch.no_grad():
        d22 = float(cdpam_distance(x.float(), y.float(), RATE))
        d44 = float(cdpam_distance(up(x), up(y), 44100))
    assert d22 > 0.05
    assert d44 == pytest.approx(d22, rel=0.02)


@pytest.mark.parametrize("rate", [0, -1, 1.5, True, float("nan"), "22050", None])
def test_bad_sample_rate(rate: object, speech: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        cdpam_distance(speech, speech, rate)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sample_rate"):
        CDPAMLoss(rate)  # type: ignore[arg-type]


def test_bad_signals(speech: torch.Tensor) -> None:
    bad = speech.clone()
    bad[10] = float("nan")
    with pytest.raises(ValueError, match="test contains NaN or Inf"):
        cdpam_distance(speech, bad, RATE)
    bad[10] = float("inf")
    with pytest.raises(ValueError, match="input contains NaN or Inf"):
        CDPAMLoss(RATE)(bad, speech)
    with pytest.raises(ValueError, match="reference must be a floating-point"):
        cdpam_distance((speech * 32768).to(torch.int16), speech, RATE)
    with pytest.raises(ValueError, match="same dtype"):
        cdpam_distance(speech, speech.double(), RATE)
    with pytest.raises(ValueError, match="same shape"):
        cdpam_distance(speech, speech[:-1], RATE)
    with pytest.raises(ValueError, match=r"\(time,\) or \(batch, time\)"):
        cdpam_distance(speech.view(1, 1, -1), speech.view(1, 1, -1), RATE)
    with pytest.raises(ValueError, match="reference must be a torch.Tensor"):
        cdpam_distance(speech.numpy(), speech, RATE)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reduction"):
        CDPAMLoss(RATE, reduction="max")


def test_too_short() -> None:
    assert cdpam_min_length(RATE) == pc.CDPAM_RECEPTIVE_FIELD == 841
    x = torch.zeros(840)
    with pytest.raises(ValueError, match="reference must have at least 841 samples"):
        cdpam_distance(x, x, RATE)
    x = torch.zeros(1681)
    with pytest.raises(ValueError, match="at least 1682 samples"):
        cdpam_distance(x, x, 44100)


def test_tampered_weights_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, speech: torch.Tensor
) -> None:
    monkeypatch.setattr(pc, "_MODELS", {})  # nothing cached: the file is really read
    copy = tmp_path / "weights.pth"
    shutil.copyfile(cdpam_weights_path(), copy)
    with open(copy, "r+b") as f:
        f.seek(1_000_000)
        byte = f.read(1)
        f.seek(1_000_000)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ValueError, match="SHA-256"):
        load_cdpam("cpu", copy)
    with pytest.raises(ValueError, match="SHA-256"):
        cdpam_distance(speech, speech, RATE, weights=copy)
    with pytest.raises(ValueError, match="SHA-256"):
        CDPAMLoss(RATE, weights=copy)(speech, speech)
    # the wheel's own file, through a monkeypatched path
    monkeypatch.setattr(pc, "cdpam_weights_path", lambda: copy)
    with pytest.raises(ValueError, match="SHA-256"):
        cdpam_distance(speech, speech, RATE)
    with pytest.raises(ValueError, match="not found"):
        load_cdpam("cpu", tmp_path / "missing.pth")
    assert pc._MODELS == {}


def test_loading_leaves_the_global_rng_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pc, "_MODELS", {})
    state = torch.get_rng_state()
    load_cdpam("cpu")
    assert torch.equal(torch.get_rng_state(), state)


def test_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cdpam", None)
    monkeypatch.setitem(sys.modules, "cdpam.models", None)
    with pytest.raises(ImportError, match=r"pip install 'percloss\[cdpam\]'"):
        load_cdpam("cpu")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_on_the_device_of_the_inputs(speech: torch.Tensor) -> None:
    ref, test = speech, noisy(speech, 20.0)
    with torch.no_grad():
        cpu = cdpam_distance(ref, test, RATE)
        gpu = cdpam_distance(ref.cuda(), test.cuda(), RATE)
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-3, atol=1e-5)


def test_the_distance_and_the_loss_live_in_the_losses_and_keep_their_old_names() -> None:
    """``percloss.cdpam`` loads and embeds; the distance and the loss moved to ``percloss.losses.cdpam``,
    and their former names resolve to the very same objects."""
    import percloss.losses.cdpam as lc

    assert CDPAMLoss.__module__ == cdpam_distance.__module__ == "percloss.losses.cdpam"
    assert pc.CDPAMLoss is CDPAMLoss and pc.cdpam_distance is cdpam_distance
    assert pc.FULL_SCALE_LIMIT == lc.FULL_SCALE_LIMIT and pc.BYTES_PER_SECOND == lc.BYTES_PER_SECOND
    assert "CDPAMLoss" not in pc.__all__ and not hasattr(pc, "check_reduction")
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        pc.nothing  # noqa: B018
