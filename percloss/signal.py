"""Small signal utilities shared by the library and the chapters, and the two resamplers.

- :func:`resample_audio` -- audio as it is heard or scored: band-limited polyphase resampling with soxr
  (``VHQ``), numpy in and out, no gradient. The clip loaders (:mod:`percloss.data`), the CLI, the
  scorers and the embeddings' front ends use it; it needs soxr (the ``codec`` and ``metrics`` extras).
- :func:`resample_differentiable` -- a signal on its way into a network inside a loss: band-limited by
  zero-padding or truncating the spectrum, torch in and out, gradients flow (VGGish and CDPAM losses).
"""

from __future__ import annotations

from typing import TypeVar, overload

import numpy as np
import torch

from ._checks import (
    AUDIO_RATE_RANGE,
    check_integer,
    check_positive,
    check_real,
    check_same_shape,
    check_sample_rate,
    check_signal,
)
from ._optional import needs

__all__ = ["peak_normalize", "middle", "stft_power_db", "floored_db_pair", "dc_reject", "resample_audio",
           "resample_differentiable", "resample_differentiable_unchecked"]

@overload
def peak_normalize(x: torch.Tensor, peak: float = ...) -> torch.Tensor: ...
@overload
def peak_normalize(x: np.ndarray, peak: float = ...) -> np.ndarray: ...
def peak_normalize(x: torch.Tensor | np.ndarray, peak: float = 1.0) -> torch.Tensor | np.ndarray:
    """Scale each signal of ``x`` so that its largest absolute sample is ``peak``; silence stays silence.

    A tensor gives a tensor, an array an array (same dtype and device).

    Shape:
        ``(..., time) -> (..., time)``: each row along the last axis on its own.

    Raises:
        ValueError: for a non-floating, empty or non-finite ``x``, or a ``peak`` that is not positive.

    >>> peak_normalize(torch.tensor([0.1, -0.2]), 1.0)
    tensor([ 0.5000, -1.0000])
    >>> peak_normalize(np.array([[0.0, 0.0], [0.25, -0.5]]), 0.5).tolist()
    [[0.0, 0.0], [0.25, -0.5]]
    """
    peak = check_real(peak, "peak", 0.0, lo_open=True)
    if isinstance(x, np.ndarray):
        if not np.issubdtype(x.dtype, np.floating) or x.ndim == 0 or x.shape[-1] == 0:
            raise ValueError(f"x must be a non-empty floating-point array, got dtype {x.dtype}, shape {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("x contains NaN or Inf values")
        m = np.abs(x).max(axis=-1, keepdims=True)
        return np.where(m > 0, x * (peak / np.where(m > 0, m, 1.0)), x).astype(x.dtype, copy=False)
    check_signal(x, "x")
    m = x.abs().amax(dim=-1, keepdim=True)
    return torch.where(m > 0, x * (peak / m.clamp_min(torch.finfo(x.dtype).tiny)), x)


def stft_power_db(x: torch.Tensor, n_fft: int) -> torch.Tensor:
    """Power spectrogram in dB: Hann window of ``n_fft``, hop ``n_fft // 4``, ``10 log10(|X|^2 + 1e-20)``.

    Shape:
        ``(..., time) -> (..., n_fft // 2 + 1, frames)``; ``time > n_fft // 2`` (the STFT's reflection padding).
    """
    n_fft = check_integer(n_fft, "n_fft", 2)
    check_signal(x, "x", min_length=n_fft // 2 + 1)
    window = torch.hann_window(n_fft, dtype=x.dtype, device=x.device)
    spec = torch.stft(x.reshape(-1, x.shape[-1]), n_fft, n_fft // 4, window=window, return_complex=True)
    power_db = 10 * torch.log10(spec.abs().square() + 1e-20)
    return power_db.reshape(*x.shape[:-1], *power_db.shape[-2:])


def floored_db_pair(reference: torch.Tensor, test: torch.Tensor, n_fft: int,
                    floor_db: float) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`stft_power_db` of both signals, each floored at ``floor_db`` (negative) under the reference's
    loudest bin: the dynamic range within which spectral distances compare them.

    Shape:
        ``(..., time), (..., time) -> (..., freq, frames)`` twice
    """
    floor_db = check_real(floor_db, "floor_db", hi=0.0)
    check_signal(reference, "reference")
    check_signal(test, "test")
    check_same_shape(reference, test, "reference", "test")
    ref_db, test_db = stft_power_db(reference, n_fft), stft_power_db(test, n_fft)
    floor = ref_db.amax(dim=(-2, -1), keepdim=True) + floor_db
    return ref_db.maximum(floor), test_db.maximum(floor)


_Signal = TypeVar("_Signal", torch.Tensor, np.ndarray)


def middle(x: _Signal, length: int) -> _Signal:
    """The middle ``length`` samples of ``x`` along its first axis (all of it when shorter).

    >>> middle(np.arange(10), 4)
    array([3, 4, 5, 6])
    """
    length = min(len(x), check_integer(length, "length", lo=0))
    start = (len(x) - length) // 2
    return x[start : start + length]


def dc_reject(x: torch.Tensor, sample_rate: int, cutoff_hz: float) -> torch.Tensor:
    """A first-order DC-rejection high-pass, ``y[n] = g (x[n] - x[n-1]) + a y[n-1]``, ``a = exp(-2 pi f_c / f_s)``,
    ``g = (1 + a) / 2`` (unit gain at Nyquist), from rest (Opus runs such a filter on its encoder's input, at
    3 Hz); computed in float64, returned in ``x``'s dtype. Its gain is 0 at DC and within 0.1 dB of 1 from
    20 Hz up when ``cutoff_hz`` is 3.

    Shape:
        ``(time,) -> (time,)``
    """
    from scipy.signal import lfilter

    check_positive(cutoff_hz, "cutoff_hz")
    a = float(np.exp(-2 * np.pi * cutoff_hz / check_sample_rate(sample_rate)))
    g = (1 + a) / 2
    y = lfilter([g, -g], [1.0, -a], x.detach().cpu().double().numpy())
    return torch.from_numpy(y).to(dtype=x.dtype, device=x.device)


def resample_audio(x: np.ndarray, orig_rate: int, new_rate: int) -> np.ndarray:
    """Band-limited resampling of a 1-D float signal (soxr, very high quality): for audio that is
    listened to, stored or scored; not differentiable (:func:`resample_differentiable` is).

    Shape:
        ``(time,) -> (round(time * new_rate / orig_rate),)``

    >>> resample_audio(np.ones(16000), 16000, 8000).shape
    (8000,)
    """
    orig_rate = check_sample_rate(orig_rate, "orig_rate", rate_range=AUDIO_RATE_RANGE)
    new_rate = check_sample_rate(new_rate, "new_rate", rate_range=AUDIO_RATE_RANGE)
    if np.ndim(x) != 1:
        raise ValueError(f"x must be mono with shape (time,), got shape {np.shape(x)}")
    if orig_rate == new_rate:
        return x
    with needs(("codec", "metrics"), "Resampling (soxr)"):
        import soxr
    out: np.ndarray = soxr.resample(np.ascontiguousarray(x, dtype=np.float64), orig_rate, new_rate, quality="VHQ")
    return out


def resample_differentiable(x: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Differentiable band-limited resampling by zero-padding/truncating the spectrum.

    ``(..., time) -> (..., round(time * new_rate / orig_rate))``. Exact for
    periodic signals; used where gradients must flow (losses), not for audio files
    (:func:`resample_audio`).
    """
    check_signal(x, "x")
    return resample_differentiable_unchecked(x, orig_rate, new_rate)


def resample_differentiable_unchecked(x: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """:func:`resample_differentiable` without validating ``x`` (for losses that validated it already)."""
    n_in = x.shape[-1]
    n_out = int(round(n_in * new_rate / orig_rate))
    if n_out == n_in:
        return x
    spec = torch.fft.rfft(x)
    bins = n_out // 2 + 1
    if bins <= spec.shape[-1]:
        spec = spec[..., :bins]
    else:
        spec = torch.nn.functional.pad(spec, (0, bins - spec.shape[-1]))
    return torch.fft.irfft(spec, n=n_out) * (n_out / n_in)
