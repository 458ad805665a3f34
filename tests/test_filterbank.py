"""Filterbank: scales, design, responses against scipy, FFT == direct convolution."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
import torch

from percloss import filterbank as fbm
from percloss.weighting import a_weighting_band_weights, a_weighting_db

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def test_scales_invert_and_match_their_formulas() -> None:
    f = torch.tensor([20.0, 440.0, 1000.0, 8000.0], dtype=torch.float64)
    for fwd, inv in [(fbm.hz_to_bark, fbm.bark_to_hz), (fbm.hz_to_mel, fbm.mel_to_hz),
                     (fbm.hz_to_erb_rate, fbm.erb_rate_to_hz)]:
        torch.testing.assert_close(inv(fwd(f)), f)
    assert float(fbm.hz_to_mel(torch.tensor(1000.0))) == pytest.approx(1000.0, abs=0.1)
    assert float(fbm.hz_to_bark(torch.tensor(600.0))) == pytest.approx(6 * math.asinh(1))
    # zounds' ERB is 0.108 f + 24.7
    assert float(fbm.erb_bandwidth(torch.tensor(2000.0))) == pytest.approx(0.108 * 2000 + 24.7, rel=1e-3)


def test_center_frequencies_are_uniform_on_the_scale() -> None:
    c = fbm.center_frequencies(64, 1.0, 5512.5, "bark")
    steps = torch.diff(fbm.hz_to_bark(c))
    torch.testing.assert_close(steps, steps.mean().expand_as(steps))
    assert float(c[0]) == pytest.approx(1.0) and float(c[-1]) == pytest.approx(5512.5)


@pytest.mark.parametrize("sample_rate", [11025, 44100])
def test_every_band_is_built_and_peaks_at_its_centre(sample_rate: int) -> None:
    taps = fbm.fir_filterbank(sample_rate, 512, 512, dtype=torch.float64).numpy()
    assert np.isfinite(taps).all()
    n_fft = 8192
    response = np.abs(np.fft.rfft(taps, n_fft, axis=-1))
    # each filter is normalised to a unit peak: no band is degenerate
    np.testing.assert_allclose(response.max(axis=-1), 1.0, rtol=1e-9)
    freqs = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    centres = fbm.center_frequencies(512, 1.0, sample_rate / 2).numpy()
    peak = freqs[response.argmax(axis=-1)]
    # within the resolution of a 512-tap filter (one bin of a 512-point DFT)
    assert np.abs(peak - centres).max() <= sample_rate / 512 + 1e-6


def test_responses_match_scipy_freqz_of_the_same_taps() -> None:
    taps = fbm.fir_filterbank(11025, 32, 256, dtype=torch.float64).numpy()
    for h in taps[::7]:
        w, resp = scipy.signal.freqz(h, worN=1024, fs=11025)
        ours = np.fft.rfft(h, 2048)[:1024]
        np.testing.assert_allclose(np.abs(ours), np.abs(resp), atol=1e-12)


def test_a_band_rejects_a_tone_far_above_it() -> None:
    sr = 11025
    taps = fbm.fir_filterbank(sr, 64, 512, dtype=torch.float64)
    centres = fbm.center_frequencies(64, 1.0, sr / 2)
    band = 20
    t = torch.arange(4096, dtype=torch.float64) / sr
    inside = torch.sin(2 * math.pi * float(centres[band]) * t)
    far = torch.sin(2 * math.pi * 3 * float(centres[band]) * t)
    y_in = fbm.apply_filterbank(inside, taps)[band, 1024:-1024].pow(2).mean()
    y_far = fbm.apply_filterbank(far, taps)[band, 1024:-1024].pow(2).mean()
    assert 10 * math.log10(y_far / y_in) < -40


@pytest.mark.parametrize("device", DEVICES)
def test_fft_equals_direct_convolution_float64(device: str) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 1000, generator=g, dtype=torch.float64).to(device)
    taps = fbm.fir_filterbank(11025, 24, 129, dtype=torch.float64).to(device)
    a = fbm.apply_filterbank(x, taps, "fft")
    b = fbm.apply_filterbank(x, taps, "direct")
    assert a.shape == (2, 3, 24, 1000)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-12 * float(b.abs().max()))
    ref = scipy.signal.convolve(x[1, 2].cpu().numpy(), taps[5].cpu().numpy(), mode="same")
    np.testing.assert_allclose(a[1, 2, 5].cpu().numpy(), ref, atol=1e-12)


def test_fft_gradient_equals_direct_gradient_and_passes_gradcheck() -> None:
    taps = fbm.fir_filterbank(8000, 6, 33, dtype=torch.float64)
    x = torch.randn(2, 80, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: fbm.apply_filterbank(v, taps, "fft"), (x,))
    w = torch.randn(2, 6, 80, dtype=torch.float64)
    (ga,) = torch.autograd.grad((fbm.apply_filterbank(x, taps, "fft") * w).sum(), x)
    (gb,) = torch.autograd.grad((fbm.apply_filterbank(x, taps, "direct") * w).sum(), x)
    torch.testing.assert_close(ga, gb)
    # learnable taps take the autograd path and get gradients too
    t = taps.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda h: fbm.apply_filterbank(x.detach(), h, "fft"), (t,))


def test_module_caches_spectra_and_moves_with_to() -> None:
    fb = fbm.FilterBank(11025, 16, 128, method="fft")
    x = torch.randn(3, 2000)
    y = fb(x)
    torch.testing.assert_close(y, fbm.apply_filterbank(x, fb.filters, "direct"), atol=1e-5, rtol=1e-4)
    fb64 = fb.to(torch.float64)
    assert fb64.filters.dtype == torch.float64
    y64 = fb64(x.double())
    torch.testing.assert_close(y64.float(), y, atol=1e-5, rtol=1e-4)


def test_auto_never_picks_direct_for_long_filters() -> None:
    assert fbm.choose_method(8192, 512, torch.device("cpu")) == "fft"
    assert fbm.choose_method(8192, 9, torch.device("cpu")) == "direct"


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (torch.tensor([1.0, float("nan"), 0.0]), "x contains NaN"),
        (torch.tensor([1, 2, 3]), "x must be a floating-point"),
        (torch.zeros(()), "x must have at least 1"),
        (torch.zeros(0), "x must have at least 1 samples"),
    ],
)
def test_bad_signals_are_rejected(bad: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fbm.apply_filterbank(bad, torch.ones(2, 3))


def test_bad_parameters_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"filters \(torch.float64, cpu\) must match x"):
        fbm.apply_filterbank(torch.zeros(10), torch.ones(2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="filters must have shape"):
        fbm.apply_filterbank(torch.zeros(10), torch.ones(2, 3, 1))
    with pytest.raises(ValueError, match="method"):
        fbm.apply_filterbank(torch.zeros(10), torch.ones(2, 3), "fast")
    with pytest.raises(ValueError, match="f_max"):
        fbm.fir_filterbank(8000, f_max=5000.0)
    with pytest.raises(ValueError, match="sample_rate"):
        fbm.fir_filterbank(-8000)
    with pytest.raises(ValueError, match="scale"):
        fbm.fir_filterbank(8000, scale="octave")
    with pytest.raises(ValueError, match="n_bands"):
        fbm.fir_filterbank(8000, n_bands=0)


def test_a_weighting_matches_iec_61672_table() -> None:
    # IEC 61672-1 Table 3 (A-weighting, dB): nominal frequency -> value
    table = {31.5: -39.4, 63: -26.2, 125: -16.1, 250: -8.6, 500: -3.2, 1000: 0.0,
             2000: 1.2, 4000: 1.0, 8000: -1.1, 16000: -6.6}
    f = torch.tensor(list(table), dtype=torch.float64)
    # the table's nominal frequencies are rounded; exact base-10 frequencies are 10^(n/10)
    exact = 1000 * 10 ** (torch.round(10 * torch.log10(f / 1000)) / 10)
    np.testing.assert_allclose(a_weighting_db(exact).numpy(), list(table.values()), atol=0.1)


def test_a_weighting_band_weights_follow_zounds() -> None:
    w = a_weighting_band_weights(torch.tensor([10.0, 1000.0, 2500.0]))
    assert float(w.min()) == 1.0
    assert float(w[1] - w[0]) == pytest.approx(float(a_weighting_db(torch.tensor(1000.0)) - a_weighting_db(torch.tensor(10.0))), rel=1e-6)
    with pytest.raises(ValueError, match="center_frequencies"):
        a_weighting_band_weights(torch.tensor([0.0, 100.0]))


def test_one_mel_scale_for_tensors_and_arrays() -> None:
    """The library's single HTK mel (VGGish's 1127 ln form) for tensors and arrays alike."""
    import numpy as np

    f = np.array([0.0, 125.0, 1000.0, 7500.0, 22050.0])
    assert np.allclose(fbm.hz_to_mel(f), fbm.hz_to_mel(torch.as_tensor(f)).numpy(), rtol=1e-12)
    assert np.allclose(fbm.mel_to_hz(fbm.hz_to_mel(f)), f, atol=1e-9)
    # the 2595 log10 form of the same scale agrees to 1e-5 relative
    assert np.allclose(fbm.hz_to_mel(f), 2595 * np.log10(1 + f / 700), rtol=2e-5)
    # mel_triangles' band edges are uniform on that scale: the peaks of unit-height triangles
    tri = fbm.mel_triangles(4096, 44100, 16)
    peaks = np.linspace(0, 22050, 2049)[tri.argmax(0)]
    assert np.allclose(np.diff(fbm.hz_to_mel(peaks)), np.diff(fbm.hz_to_mel(peaks)).mean(), rtol=0.05)
