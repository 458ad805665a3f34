"""Losses over long audio: the windowed computation gives the whole-signal value and gradient, its memory
stays bounded, and the losses that hold whole spectra refuse, before allocating, what will not fit."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from percloss import data
from percloss._memory import InsufficientMemoryError, available_memory, check_memory, format_bytes
from percloss.losses import (
    MaskedFilterbankLoss,
    MelLoss,
    MelWeightedLoss,
    MultiResolutionSTFTLoss,
    NoiseModulationLoss,
    PerceptualLoss,
    PriorityWeightedLoss,
    cosine_distance,
    masked_filterbank_loss,
    multi_resolution_stft_loss,
    perceptual_loss,
)
from percloss.losses import filterbank as fb_module
from percloss.losses._chunked import frame_windows, sample_windows


def _pair(rate: int = 11025, n: int = 6000, batch: int = 2, dtype: torch.dtype = torch.float64):
    """A real clip (target) and the same with noise 40 dB down (input), ``batch`` different excerpts."""
    clip = data.load_clip("speech_male", rate)
    target = torch.stack([clip[i * 3000 : i * 3000 + n] for i in range(batch)]).to(dtype)
    noise = 0.01 * torch.randn(target.shape, generator=torch.Generator().manual_seed(0), dtype=dtype)
    return (target + noise).requires_grad_(True), target


def _value_and_grad(loss: torch.nn.Module, x: torch.Tensor, t: torch.Tensor):
    value = loss(x, t)
    (grad,) = torch.autograd.grad(value.sum(), x)
    return value.detach(), grad


@pytest.mark.parametrize("make_whole, make_windowed", [
    (lambda: PerceptualLoss(11025, n_bands=64, n_taps=256, reduction="none"),
     lambda: PerceptualLoss(11025, n_bands=64, n_taps=256, reduction="none", chunk_size=700)),
    (lambda: PerceptualLoss(11025, n_bands=64, n_taps=256, distance="mse", reduction="none"),
     lambda: PerceptualLoss(11025, n_bands=64, n_taps=256, distance="mse", reduction="none", chunk_size=1000)),
    (lambda: MaskedFilterbankLoss(11025, n_bands=64, n_taps=256, reduction="none"),
     lambda: MaskedFilterbankLoss(11025, n_bands=64, n_taps=256, reduction="none", chunk_frames=3)),
    (lambda: MultiResolutionSTFTLoss(reduction="none"), lambda: MultiResolutionSTFTLoss(reduction="none",
                                                                                        chunk_frames=4)),
])
def test_windowed_equals_whole_in_float64(make_whole, make_windowed):
    x, t = _pair()
    whole, g_whole = _value_and_grad(make_whole().double(), x, t)
    windowed, g_windowed = _value_and_grad(make_windowed().double(), x, t)
    assert whole.shape == windowed.shape == (2,)
    torch.testing.assert_close(windowed, whole, rtol=1e-10, atol=0)
    torch.testing.assert_close(g_windowed, g_whole, rtol=1e-8, atol=1e-14 * g_whole.abs().max().item())


def test_windowed_gradient_passes_gradcheck():
    x, t = _pair(n=700, batch=1)
    loss = PerceptualLoss(11025, n_bands=8, n_taps=64, chunk_size=150).double()
    assert torch.autograd.gradcheck(lambda a: loss(a, t), (x.detach().clone().requires_grad_(True),))
    stft = MultiResolutionSTFTLoss((64, 128), (16, 32), (64, 128), chunk_frames=3).double()
    assert torch.autograd.gradcheck(lambda a: stft(a, t), (x.detach().clone().requires_grad_(True),))


def test_windowed_target_gradient():
    """A target that requires gradients gets the whole computation's gradient too."""
    x, t = _pair(n=3000, batch=1)
    t = t.clone().requires_grad_(True)
    for chunk in (None, 500):
        loss = PerceptualLoss(11025, n_bands=32, n_taps=128, chunk_size=chunk).double()
        value = loss(x, t)
        gx, gt = torch.autograd.grad(value, (x, t))
        if chunk is None:
            ref = (gx, gt)
        else:
            torch.testing.assert_close(gx, ref[0], rtol=1e-8, atol=1e-16)
            torch.testing.assert_close(gt, ref[1], rtol=1e-8, atol=1e-16)


def test_windowed_cosine_in_float32_is_as_accurate_as_float64():
    """At a small difference the windowed float32 loss keeps the float64 value (its sums are float64):
    a loss that rounded to 0 would train nothing."""
    clip = data.load_clip("piano_bach", 11025)[:8192]
    t32 = clip[None]
    x32 = t32 * (1 + 1e-4) + 1e-5 * torch.sin(torch.arange(8192) * 0.37)[None]
    reference = float(PerceptualLoss(11025).double()(x32.double(), t32.double()))
    windowed = float(PerceptualLoss(11025, chunk_size=2000)(x32, t32))
    assert reference > 0
    assert windowed == pytest.approx(reference, rel=1e-4)


def test_windowed_cosine_silence_conventions():
    silent, x = torch.zeros(1, 4000, dtype=torch.float64), _pair(n=4000, batch=1)[1]
    loss = PerceptualLoss(11025, n_bands=16, n_taps=64, chunk_size=900).double()
    assert float(loss(silent, silent)) == 0.0
    assert float(loss(x, silent)) == 1.0
    assert float(loss(silent, x)) == 1.0
    whole = PerceptualLoss(11025, n_bands=16, n_taps=64).double()
    assert float(whole(x, silent)) == float(cosine_distance(torch.ones(3), torch.zeros(3)))


def test_functional_forms_take_the_window_arguments():
    x, t = _pair(n=4000, batch=1)
    a = perceptual_loss(x, t, 11025, n_bands=32, n_taps=128, chunk_size=600)
    b = perceptual_loss(x, t, 11025, n_bands=32, n_taps=128)
    assert float(a) == pytest.approx(float(b), rel=1e-10)
    a = masked_filterbank_loss(x, t, 11025, n_bands=32, n_taps=128, chunk_frames=2)
    b = masked_filterbank_loss(x, t, 11025, n_bands=32, n_taps=128)
    assert float(a) == pytest.approx(float(b), rel=1e-10)
    a = multi_resolution_stft_loss(x, t, chunk_frames=2)
    assert float(a) == pytest.approx(float(multi_resolution_stft_loss(x, t)), rel=1e-10)
    with pytest.raises(ValueError, match="chunk_size"):
        perceptual_loss(x, t, 11025, chunk_size=0)
    with pytest.raises(ValueError, match="chunk_frames"):
        MaskedFilterbankLoss(11025, chunk_frames=-1)


def test_automatic_windows_switch_on_above_the_budget(monkeypatch):
    """With the budget lowered, the default path windows the computation and still agrees."""
    x, t = _pair(n=5000)
    loss = PerceptualLoss(11025, n_bands=32, n_taps=128, reduction="none").double()
    whole = loss(x, t)
    calls = []
    original = fb_module._perceptual_chunked
    monkeypatch.setattr(fb_module, "CHUNK_BYTES", 2**20)
    monkeypatch.setattr(fb_module, "_perceptual_chunked",
                        lambda *a: calls.append(a[-1]) or original(*a))
    windowed = loss(x, t)
    assert calls and calls[0] < 5000
    torch.testing.assert_close(windowed, whole, rtol=1e-10, atol=0)


def test_windows_cover_every_output_once():
    for length, chunk, context in [(10, 3, 2), (1000, 1000, 50), (7, 10, 4), (1001, 100, 512)]:
        owned = []
        for w in sample_windows(length, chunk, context):
            assert 0 <= w.start <= w.start + w.keep_start < w.start + w.keep_stop <= w.stop <= length
            assert w.keep_start >= min(context, w.start + w.keep_start)  # full context unless at the start
            owned += range(w.start + w.keep_start, w.start + w.keep_stop)
        assert owned == list(range(length))
    frames = frame_windows(10, 4, 8, 2)
    assert [(w.keep_start, w.keep_stop) for w in frames] == [(0, 4), (4, 8), (8, 10)]
    assert frames[-1].stop == 9 * 2 + 8


LONG = r"""
import json, resource, sys
import torch
torch.set_num_threads(1)
from percloss import data
from percloss.losses import PerceptualLoss, MaskedFilterbankLoss
clip = data.load_clip("band_sectoid", 44100)
n = int(float(sys.argv[2]) * 44100)
target = clip.repeat(n // len(clip) + 1)[:n][None]
x = (target + 0.01 * torch.randn(target.shape, generator=torch.Generator().manual_seed(0))).requires_grad_(True)
loss = {"perceptual": PerceptualLoss(44100, n_bands=128), "masked": MaskedFilterbankLoss(44100, n_bands=128)}[sys.argv[1]]
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
value = loss(x, target)
value.backward()
print(json.dumps({"peak_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024,
                  "value": float(value), "finite": bool(torch.isfinite(x.grad).all())}))
"""


@pytest.mark.parametrize("loss", ["perceptual", "masked"])
def test_long_input_runs_in_bounded_memory(loss):
    """8 s of 44.1 kHz audio (a real clip tiled) with 128 bands: the whole-signal maps would take about
    40 bytes x 128 bands x 352800 samples = 1.8 GB; the windowed computation stays far below."""
    out = subprocess.run([sys.executable, "-c", LONG, loss, "8"], capture_output=True, text=True, timeout=600,
                         check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["finite"] and result["value"] > 0
    assert result["peak_mb"] < 700, result


def test_check_memory_refuses_with_the_numbers(monkeypatch):
    monkeypatch.setenv("PERCLOSS_MEMORY_LIMIT", str(10**8))
    assert available_memory() <= 10**8
    with pytest.raises(InsufficientMemoryError, match=r"needs about 2\.0 GB .* only 100\.0 MB"):
        check_memory(2e9, "something")
    check_memory(5e7, "something")
    monkeypatch.setenv("PERCLOSS_MEMORY_LIMIT", "lots")
    with pytest.raises(ValueError, match="PERCLOSS_MEMORY_LIMIT"):
        available_memory()
    assert format_bytes(1.5e9) == "1.5 GB" and format_bytes(512) == "512 B"


@pytest.mark.parametrize("make", [lambda: MelLoss(44100), lambda: MelWeightedLoss(44100),
                                  lambda: PriorityWeightedLoss(44100), lambda: NoiseModulationLoss(44100)])
def test_whole_spectrum_losses_refuse_before_allocating(monkeypatch, make):
    """An input whose estimate exceeds the memory available is refused with a ValueError that names the
    loss and the input's shape; the same input runs once the memory is there."""
    x = torch.zeros(4, 44100 * 90)  # 90 s x 4 signals: several hundred MB of spectra
    monkeypatch.setenv("PERCLOSS_MEMORY_LIMIT", str(100 * 2**20))
    loss = make()
    with pytest.raises(ValueError, match=rf"{type(loss).__name__} on input of shape \(4, 3969000\) needs about"):
        loss(x, x)
    monkeypatch.delenv("PERCLOSS_MEMORY_LIMIT")
    short = x[:1, : 44100 // 2]
    assert float(loss(short, short)) == 0.0


def test_cdpam_refuses_before_loading_what_will_not_fit(monkeypatch):
    """CDPAM's activations take about 313 MB per second: 20 s is refused under a 1 GB limit, before the
    network is loaded."""
    from percloss.losses import cdpam

    def no_loading(*args, **kwargs):
        raise AssertionError("the network was loaded before the memory check")

    monkeypatch.setattr(cdpam, "load_cdpam", no_loading)
    monkeypatch.setenv("PERCLOSS_MEMORY_LIMIT", str(10**9))
    x = 0.1 * torch.randn(20 * 22050, generator=torch.Generator().manual_seed(0))
    with pytest.raises(InsufficientMemoryError, match=r"CDPAM on target and input of shape \(441000,\)"):
        cdpam.CDPAMLoss(22050)(x, x)
