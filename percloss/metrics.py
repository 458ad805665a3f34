"""Objective measures: SNR and log-spectral distance.

Notebook: ``notebooks/ch01_deep_audio_prior.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ._checks import check_same_shape, check_sample_rate, check_signal

__all__ = ["snr", "log_spectral_distance"]


def snr(reference: torch.Tensor, test: torch.Tensor) -> torch.Tensor:
    """Signal-to-noise ratio in dB, ``10 log10(sum ref^2 / sum (test - ref)^2)``.

    ``+inf`` when ``test`` equals ``reference``.

    Shape:
        ``(..., time), (..., time) -> (...)``

    >>> x = torch.ones(100, dtype=torch.float64)
    >>> round(float(snr(x, x + 0.1)), 6)
    20.0
    """
    check_signal(reference, "reference")
    check_signal(test, "test")
    check_same_shape(reference, test, "reference", "test")
    signal = reference.pow(2).sum(-1)
    noise = (test - reference).pow(2).sum(-1)
    return 10 * torch.log10(signal / noise)


def log_spectral_distance(
    reference: torch.Tensor,
    test: torch.Tensor,
    sample_rate: int,
    bands: Sequence[tuple[float, float | None]] = ((0.0, None),),
    n_fft: int = 512,
    floor_db: float = -80.0,
) -> torch.Tensor:
    """Log-spectral distance in dB within frequency bands.

    Power spectrograms (Hann, ``n_fft``, hop ``n_fft // 4``) in dB, floored at
    ``floor_db`` below the reference's largest bin; per band, the root mean
    square dB difference over the band's bins, averaged over frames.

    Args:
        reference, test: signals of equal shape.
        sample_rate: in Hz.
        bands: ``(low, high)`` pairs in Hz; ``high=None`` means Nyquist. (Default: whole band)
        n_fft: FFT size. (Default: 512)
        floor_db: dynamic-range floor. (Default: -80)

    Shape:
        ``(..., time), (..., time) -> (..., len(bands))``

    >>> x = torch.sin(torch.arange(4096) * 0.3)
    >>> log_spectral_distance(x, x, 8000)
    tensor([0.])
    """
    rate = check_sample_rate(sample_rate)
    check_signal(reference, "reference", min_length=n_fft)
    check_signal(test, "test", min_length=n_fft)
    check_same_shape(reference, test, "reference", "test")
    freqs = torch.fft.rfftfreq(n_fft, 1 / rate)
    masks = []
    for low, high in bands:
        top = rate / 2 if high is None else high
        if not 0 <= low < top <= rate / 2:
            raise ValueError(f"bands must hold (low, high) with 0 <= low < high <= {rate / 2}, got {(low, high)}")
        masks.append((freqs >= low) & (freqs <= top))
    window = torch.hann_window(n_fft, dtype=reference.dtype, device=reference.device)

    def power_db(x: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(x.reshape(-1, x.shape[-1]), n_fft, n_fft // 4, window=window, return_complex=True)
        return 10 * torch.log10(spec.abs().pow(2) + 1e-20)

    ref_db, test_db = power_db(reference), power_db(test)
    floor = ref_db.amax(dim=(-2, -1), keepdim=True) + floor_db
    diff2 = (ref_db.maximum(floor) - test_db.maximum(floor)).pow(2)  # (batch, bin, frame)
    out = torch.stack([diff2[:, m.to(diff2.device)].mean(-2).sqrt().mean(-1) for m in masks], dim=-1)
    return out.reshape(*reference.shape[:-1], len(masks))
