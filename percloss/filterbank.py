"""Auditory frequency scales and FIR filterbanks, applied by FFT convolution.

Scales: Bark in the form zounds uses (``z = 6 asinh(f / 600)``), mel (HTK),
and the ERB-rate scale with the equivalent rectangular bandwidth of Glasberg
and Moore (1990). The zounds-style filterbank (Vinyard 2018) gives every band
a Gaussian-shaped passband around its centre frequency, one ERB wide, and
designs it with ``scipy.signal.firwin2``.

Notebook: ``notebooks/ch01_deep_audio_prior.py``.
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any

import numpy as np
import scipy.signal
import torch
from torch.autograd.function import once_differentiable
from torch.nn import functional as F

from ._checks import (
    check_choice,
    check_integer,
    check_positive,
    check_real,
    check_sample_rate,
    check_signal,
)

__all__ = [
    "hz_to_bark",
    "bark_to_hz",
    "hz_to_mel",
    "mel_to_hz",
    "mel_triangles",
    "hz_to_erb_rate",
    "erb_rate_to_hz",
    "erb_bandwidth",
    "center_frequencies",
    "fir_filterbank",
    "apply_filterbank",
    "FilterBank",
]

SCALES = ("bark", "mel", "erb")
METHODS = ("auto", "fft", "direct")
# zounds' frequency window is scipy.signal.windows.gaussian(100, 3): a Gaussian
# with a standard deviation of 3 points out of 100 spread over one bandwidth.
WINDOW_POINTS = 100
WINDOW_STD_POINTS = 3.0


def hz_to_bark(f: torch.Tensor) -> torch.Tensor:
    """Critical-band rate in Bark, ``6 asinh(f / 600)`` (zounds, after Traunmüller).

    >>> float(hz_to_bark(torch.tensor(600.0)))  # 6 asinh(1)
    5.288...
    """
    return 6.0 * torch.asinh(torch.as_tensor(f) / 600.0)


def bark_to_hz(z: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`hz_to_bark`."""
    return 600.0 * torch.sinh(torch.as_tensor(z) / 6.0)


def hz_to_mel(f: Any) -> Any:
    """Mel (HTK, as VGGish computes it): ``1127 ln(1 + f / 700)``; tensors stay tensors, anything else is numpy.

    (``2595 log10(1 + f/700)`` is the same scale to 1e-5.) The one mel scale of
    the library: :func:`mel_triangles`, the mel filterbanks and VGGish's front end use it.
    """
    if isinstance(f, torch.Tensor):
        return 1127.0 * torch.log1p(f / 700.0)
    return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m: Any) -> Any:
    """Inverse of :func:`hz_to_mel` (tensors stay tensors, anything else is numpy)."""
    if isinstance(m, torch.Tensor):
        return 700.0 * torch.expm1(m / 1127.0)
    return 700.0 * np.expm1(np.asarray(m, dtype=np.float64) / 1127.0)


def mel_triangles(n_fft: int, sample_rate: int, n_mels: int, slaney_norm: bool = False, f_min: float = 0.0,
                  f_max: float | None = None, space: str = "hz", on_empty: str = "raise") -> np.ndarray:
    """Triangular HTK-mel filters on the rFFT lines, ``(n_fft/2 + 1, n_mels)``: the library's one mel filterbank.

    Band edges are uniform in HTK mel (:func:`hz_to_mel`) from ``f_min`` to
    ``f_max`` (Default: 0 Hz to Nyquist). ``space`` says where the triangles
    are linear: ``"hz"`` (librosa's ``htk=True``, the losses and OpenL3) or
    ``"mel"`` (VGGish's ``mel_features``, which interpolates on the lines'
    mel values). ``slaney_norm`` (``space="hz"`` only) scales each triangle to
    unit area (librosa's ``norm="slaney"``); otherwise each peaks at 1.

    A triangle narrower than the line spacing, which no FFT line reaches, is an
    empty band: ``on_empty`` says what then happens, ``"raise"`` (a ``ValueError``),
    ``"warn"`` (a ``UserWarning``, as librosa does) or ``"ignore"`` (OpenL3's
    design has two).

    Raises:
        ValueError: for ``n_fft < 2``, a rate that is not a positive integer, ``n_mels < 1``, edges outside
            ``0 <= f_min < f_max <= sample_rate / 2``, or an empty band under ``on_empty="raise"``.
    """
    check_choice(space, "space", ("hz", "mel"))
    check_choice(on_empty, "on_empty", ("raise", "warn", "ignore"))
    n_fft = check_integer(n_fft, "n_fft", lo=2)
    sample_rate = check_sample_rate(sample_rate)
    n_mels = check_integer(n_mels, "n_mels", lo=1)
    top = sample_rate / 2 if f_max is None else check_real(f_max, "f_max", hi=sample_rate / 2)
    check_real(f_min, "f_min", 0.0)
    if not f_min < top:
        raise ValueError(f"f_min must be below f_max ({top:g} Hz), got {f_min!r}")
    mel_edges = np.linspace(float(hz_to_mel(f_min)), float(hz_to_mel(top)), n_mels + 2)
    lines = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    if space == "mel":
        if slaney_norm:
            raise ValueError("slaney_norm needs space='hz'")
        axis, edges = hz_to_mel(lines), mel_edges
    else:
        axis, edges = lines, mel_to_hz(mel_edges)
    lower = (axis[:, None] - edges[None, :-2]) / (edges[1:-1] - edges[:-2])
    upper = (edges[None, 2:] - axis[:, None]) / (edges[2:] - edges[1:-1])
    weights = np.maximum(0.0, np.minimum(lower, upper))
    empty = int((weights.max(axis=0) <= 0).sum())
    if empty and on_empty != "ignore":
        message = (f"{empty} of the n_mels={n_mels} mel triangles are empty at n_fft={n_fft} ({sample_rate} Hz): no "
                   f"line of the {n_fft // 2 + 1}-line FFT falls inside them; use fewer bands or a larger n_fft")
        if on_empty == "raise":
            raise ValueError(message)
        warnings.warn(message, UserWarning, stacklevel=2)
    if slaney_norm:
        weights = weights * (2.0 / (edges[2:] - edges[:-2]))[None, :]
    return weights


def hz_to_erb_rate(f: torch.Tensor) -> torch.Tensor:
    """ERB-rate (number of ERBs below ``f``), ``21.4 log10(1 + 0.00437 f)`` (Glasberg & Moore 1990)."""
    return 21.4 * torch.log10(1.0 + 0.00437 * torch.as_tensor(f))


def erb_rate_to_hz(e: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`hz_to_erb_rate`."""
    return (10.0 ** (torch.as_tensor(e) / 21.4) - 1.0) / 0.00437


def erb_bandwidth(f: torch.Tensor) -> torch.Tensor:
    """Equivalent rectangular bandwidth in Hz, ``24.7 (4.37 f / 1000 + 1)``.

    >>> float(erb_bandwidth(torch.tensor(1000.0)))
    132.639...
    """
    return 24.7 * (4.37 * torch.as_tensor(f) / 1000.0 + 1.0)


_TO_SCALE = {"bark": (hz_to_bark, bark_to_hz), "mel": (hz_to_mel, mel_to_hz), "erb": (hz_to_erb_rate, erb_rate_to_hz)}


def center_frequencies(n_bands: int, f_min: float, f_max: float, scale: str = "bark") -> torch.Tensor:
    """``n_bands`` centre frequencies (Hz, float64) uniformly spaced on ``scale`` from ``f_min`` to ``f_max``.

    >>> center_frequencies(3, 100.0, 1000.0, "mel").round()
    tensor([ 100.,  466., 1000.], dtype=torch.float64)
    """
    check_choice(scale, "scale", SCALES)
    if isinstance(n_bands, bool) or not isinstance(n_bands, int) or n_bands < 1:
        raise ValueError(f"n_bands must be a positive integer, got {n_bands!r}")
    check_positive(f_min, "f_min", allow_zero=True)
    check_positive(f_max, "f_max")
    if f_max <= f_min:
        raise ValueError(f"f_max must exceed f_min, got f_min={f_min}, f_max={f_max}")
    forward, inverse = _TO_SCALE[scale]
    lo, hi = forward(torch.tensor(float(f_min), dtype=torch.float64)), forward(torch.tensor(float(f_max), dtype=torch.float64))
    return inverse(torch.linspace(float(lo), float(hi), n_bands, dtype=torch.float64))


@functools.lru_cache(maxsize=16)
def _design(sample_rate: int, n_bands: int, n_taps: int, f_min: float, f_max: float, scale: str) -> np.ndarray:
    nyquist = sample_rate / 2
    centres = center_frequencies(n_bands, f_min, f_max, scale).numpy()
    sigmas = WINDOW_STD_POINTS * erb_bandwidth(torch.from_numpy(centres)).numpy() / (WINDOW_POINTS - 1)
    # A uniform design grid from 0 Hz to Nyquist, fine enough to resolve the
    # narrowest Gaussian (zounds' own grid starts below 0 Hz or ends above
    # Nyquist for the outer bands, which current scipy rejects).
    step = min(float(sigmas.min()) / 2, nyquist / (8 * n_taps))
    nfreqs = 2 ** math.ceil(math.log2(nyquist / step)) + 1
    grid = np.linspace(0.0, 1.0, nfreqs)
    hz = grid * nyquist
    taps = np.empty((n_bands, n_taps))
    dense = 16 * n_taps
    for k, (c, s) in enumerate(zip(centres, sigmas, strict=True)):
        gain = np.exp(-0.5 * ((hz - c) / s) ** 2)
        if n_taps % 2 == 0:
            gain[-1] = 0.0  # an even-length linear-phase filter has a zero at Nyquist
        h = scipy.signal.firwin2(n_taps, grid, gain, nfreqs=nfreqs)
        peak = np.abs(np.fft.rfft(h, dense)).max()
        taps[k] = h / peak
    return taps


def fir_filterbank(
    sample_rate: int,
    n_bands: int = 512,
    n_taps: int = 512,
    f_min: float = 1.0,
    f_max: float | None = None,
    scale: str = "bark",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """A zounds-style FIR filterbank with Gaussian passbands (Vinyard 2018).

    Band ``k`` is centred on the ``k``-th of ``n_bands`` frequencies uniform on
    ``scale``; its gain is a Gaussian with a standard deviation of 3/99 of the
    band's ERB (zounds' ``gaussian(100, 3)`` window spread over one ERB). The
    gain is sampled on a dense uniform grid from 0 Hz to Nyquist and designed
    with ``scipy.signal.firwin2`` (Hamming window), so every band builds,
    including the lowest and highest ones that the original construction sends
    outside ``[0, Nyquist]``. Each filter is scaled to a peak magnitude
    response of 1.

    Args:
        sample_rate: sample rate in Hz.
        n_bands: number of bands. (Default: 512)
        n_taps: filter length. (Default: 512)
        f_min: lowest centre frequency in Hz. (Default: 1.0)
        f_max: highest centre frequency in Hz. (Default: Nyquist)
        scale: ``"bark"``, ``"mel"`` or ``"erb"``. (Default: ``"bark"``)
        dtype: floating dtype of the result. (Default: float32)

    Shape:
        ``() -> (band, taps)``

    >>> fir_filterbank(11025, n_bands=8, n_taps=64).shape
    torch.Size([8, 64])
    """
    rate = check_sample_rate(sample_rate)
    nyquist = rate / 2
    top = nyquist if f_max is None else check_positive(f_max, "f_max")
    if top > nyquist:
        raise ValueError(f"f_max must not exceed the Nyquist frequency {nyquist} Hz, got {f_max}")
    if isinstance(n_taps, bool) or not isinstance(n_taps, int) or n_taps < 3:
        raise ValueError(f"n_taps must be an integer >= 3, got {n_taps!r}")
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point dtype, got {dtype}")
    center_frequencies(n_bands, f_min, top, scale)  # validates the remaining arguments
    return torch.from_numpy(_design(rate, n_bands, n_taps, float(f_min), float(top), scale)).to(dtype)


def _check_filters(filters: torch.Tensor, x: torch.Tensor) -> None:
    check_signal(filters, "filters", min_dim=2)
    if filters.dim() != 2:
        raise ValueError(f"filters must have shape (band, taps), got {tuple(filters.shape)}")
    if filters.dtype != x.dtype or filters.device != x.device:
        raise ValueError(
            f"filters ({filters.dtype}, {filters.device}) must match x ({x.dtype}, {x.device})"
        )


def _fft_size(n: int) -> int:
    # smallest 2^a * 3^b >= n: sizes pocketfft and cuFFT handle fast
    best = 2 ** math.ceil(math.log2(n))
    p3 = 1
    while p3 < best:
        size = p3 * 2 ** max(0, math.ceil(math.log2(n / p3)))
        best = min(best, size)
        p3 *= 3
    return best


def _filter_spectrum(filters: torch.Tensor, n_fft: int) -> torch.Tensor:
    return torch.fft.rfft(filters, n_fft)


class _FFTConvolution(torch.autograd.Function):
    """'Same' FFT convolution with every band, with a hand-written backward.

    The gradient is the correlation of the output gradient with each filter,
    summed over bands, computed in the frequency domain: one ``rfft`` of the
    gradient and one ``irfft`` instead of autograd's generic complex chain
    (about 2x faster on CPU, see ``benchmarks/bench_perceptual_loss.py``).
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, spectrum: torch.Tensor, n_fft: int, start: int) -> torch.Tensor:
        time = x.shape[-1]
        ctx.save_for_backward(spectrum)
        ctx.shape = (n_fft, start, time)
        y = torch.fft.irfft(torch.fft.rfft(x, n_fft).unsqueeze(-2) * spectrum, n_fft)
        return y[..., start : start + time]

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        (spectrum,) = ctx.saved_tensors
        n_fft, start, time = ctx.shape
        g = torch.fft.rfft(F.pad(grad, (start, n_fft - start - time)), n_fft)
        return torch.fft.irfft((g * spectrum.conj()).sum(-2), n_fft)[..., :time], None, None, None


def _apply_fft(x: torch.Tensor, filters: torch.Tensor, spectrum: torch.Tensor | None = None) -> torch.Tensor:
    time, taps = x.shape[-1], filters.shape[-1]
    n_fft = _fft_size(time + taps - 1)
    start = (taps - 1) // 2
    if spectrum is None or spectrum.shape[-1] != n_fft // 2 + 1:
        spectrum = _filter_spectrum(filters, n_fft)
    if filters.requires_grad:  # learnable taps: let autograd differentiate the spectrum too
        y = torch.fft.irfft(torch.fft.rfft(x, n_fft).unsqueeze(-2) * spectrum, n_fft)
        return y[..., start : start + time]
    out: torch.Tensor = _FFTConvolution.apply(x, spectrum, n_fft, start)
    return out


def _apply_direct(x: torch.Tensor, filters: torch.Tensor) -> torch.Tensor:
    taps = filters.shape[-1]
    # conv1d is a correlation: flip the taps for a true convolution, pad for 'same'
    left = (taps - 1) // 2
    padded = F.pad(x.unsqueeze(-2), (taps - 1 - left, left))
    return F.conv1d(padded, filters.flip(-1).unsqueeze(1))


def choose_method(time: int, taps: int, device: torch.device) -> str:
    """The faster of ``"fft"`` and ``"direct"`` for this size and device.

    Direct convolution costs ``taps`` multiply-adds per output sample; FFT
    convolution a few times ``log2(n_fft)``. The crossover (taps of about 64 on
    CPU, 128 on CUDA) was measured with ``benchmarks/bench_perceptual_loss.py``.
    """
    crossover = 128 if device.type == "cuda" else 64
    return "fft" if taps >= crossover and time >= taps else "direct"


def apply_filterbank(
    x: torch.Tensor, filters: torch.Tensor, method: str = "auto", spectrum: torch.Tensor | None = None
) -> torch.Tensor:
    """Filter ``x`` with every band of ``filters`` ('same'-length, centred output).

    ``y[..., k, n] = sum_m filters[k, m] x[..., n + (taps - 1) // 2 - m]``: the
    full linear convolution, cropped to ``time`` samples starting at the
    filter's centre, as ``scipy.signal.convolve(..., mode="same")``.

    Args:
        x: signals.
        filters: FIR taps, same dtype and device as ``x``.
        method: ``"fft"`` (FFT convolution), ``"direct"`` (``conv1d``, the
            reference) or ``"auto"`` (:func:`choose_method`). (Default: ``"auto"``)
        spectrum: optional precomputed ``rfft`` of ``filters`` (see :class:`FilterBank`).

    Shape:
        ``(..., time), (band, taps) -> (..., band, time)``

    >>> h = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    >>> apply_filterbank(torch.tensor([1.0, 2.0, 3.0]), h, "direct")
    tensor([[2., 3., 0.],
            [0., 1., 2.]])
    """
    check_signal(x, "x")
    _check_filters(filters, x)
    check_choice(method, "method", METHODS)
    return _filter(x, filters, method, spectrum)


def _filter(x: torch.Tensor, filters: torch.Tensor, method: str, spectrum: torch.Tensor | None) -> torch.Tensor:
    """:func:`apply_filterbank` on validated arguments (no checks: the callers' entry points made them)."""
    if method == "auto":
        method = choose_method(x.shape[-1], filters.shape[-1], x.device)
    lead = x.shape[:-1]
    flat = x.reshape(-1, x.shape[-1])
    y = _apply_fft(flat, filters, spectrum) if method == "fft" else _apply_direct(flat, filters)
    return y.reshape(*lead, filters.shape[0], x.shape[-1])


class FilterBank(torch.nn.Module):
    """A fixed FIR filterbank as a module; taps are a buffer (moved by ``.to``).

    Args:
        sample_rate, n_bands, n_taps, f_min, f_max, scale: see :func:`fir_filterbank`.
        method: see :func:`apply_filterbank`. (Default: ``"auto"``)

    Shape:
        ``(..., time) -> (..., band, time)``

    >>> fb = FilterBank(11025, n_bands=16, n_taps=128)
    >>> fb(torch.zeros(2, 1000)).shape
    torch.Size([2, 16, 1000])
    """

    filters: torch.Tensor

    def __init__(
        self,
        sample_rate: int,
        n_bands: int = 512,
        n_taps: int = 512,
        f_min: float = 1.0,
        f_max: float | None = None,
        scale: str = "bark",
        method: str = "auto",
    ) -> None:
        super().__init__()
        self.sample_rate = check_sample_rate(sample_rate)
        self.method = check_choice(method, "method", METHODS)
        self.register_buffer("filters", fir_filterbank(sample_rate, n_bands, n_taps, f_min, f_max, scale))
        self.center_frequencies = center_frequencies(n_bands, f_min, f_max or sample_rate / 2, scale)
        self._spectra: dict[tuple[int, torch.dtype, torch.device], torch.Tensor] = {}

    def _spectrum(self, time: int) -> torch.Tensor:
        n_fft = _fft_size(time + self.filters.shape[-1] - 1)
        key = (n_fft, self.filters.dtype, self.filters.device)
        if key not in self._spectra:
            self._spectra = {key: _filter_spectrum(self.filters, n_fft)}
        return self._spectra[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_signal(x, "x")
        return self.apply_unchecked(x)

    def apply_unchecked(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` without the finiteness check of ``x`` (a device-to-host synchronisation), for
        losses that validated their pair once already; the taps must still match ``x``'s dtype and device."""
        if x.dtype != self.filters.dtype or x.device != self.filters.device:
            raise ValueError(f"filters ({self.filters.dtype}, {self.filters.device}) must match x "
                             f"({x.dtype}, {x.device})")
        method = self.method
        if method == "auto":
            method = choose_method(x.shape[-1], self.filters.shape[-1], x.device)
        spectrum = self._spectrum(x.shape[-1]) if method == "fft" and x.dtype == self.filters.dtype else None
        return _filter(x, self.filters, method, spectrum)
