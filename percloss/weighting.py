"""Frequency weightings.

Notebook: ``notebooks/ch01_deep_audio_prior.py``.
"""

from __future__ import annotations

import torch

__all__ = ["a_weighting_db", "a_weighting_band_weights"]

# IEC 61672-1 pole frequencies (Hz) and the 1 kHz normalisation (dB).
_F1, _F2, _F3, _F4 = 20.598997, 107.65265, 737.86223, 12194.217
_A1000 = 1.9997


def a_weighting_db(f: torch.Tensor) -> torch.Tensor:
    """A-weighting in dB at frequencies ``f`` (Hz), 0 dB at 1 kHz (IEC 61672-1).

    Returns ``-inf`` at 0 Hz.

    Shape:
        ``(...) -> (...)``

    >>> a_weighting_db(torch.tensor([100.0, 1000.0, 10000.0])).round(decimals=1)
    tensor([-19.1000,   0.0000,  -2.5000])
    """
    f2 = torch.as_tensor(f, dtype=torch.float64) ** 2
    ra = (_F4**2 * f2**2) / (
        (f2 + _F1**2) * torch.sqrt((f2 + _F2**2) * (f2 + _F3**2)) * (f2 + _F4**2)
    )
    out = 20 * torch.log10(ra) + _A1000
    return out.to(torch.as_tensor(f).dtype) if torch.is_floating_point(torch.as_tensor(f)) else out


def a_weighting_band_weights(center_frequencies: torch.Tensor) -> torch.Tensor:
    """Per-band feature weights from the A-weighting, as zounds applies them.

    zounds (Vinyard 2018) multiplies each band's log features by
    ``1 + A(f_k) - min_j A(f_j)``: the A-weighting in dB, shifted so that the
    least-weighted band gets weight 1. The weight is linear in dB, so with bands
    down to 1 Hz the mid bands weigh about 150 times the lowest one.

    Shape:
        ``(band,) -> (band,)``

    >>> a_weighting_band_weights(torch.tensor([100.0, 1000.0])).round(decimals=1)
    tensor([ 1.0000, 20.1000], dtype=torch.float64)
    """
    db = a_weighting_db(torch.as_tensor(center_frequencies, dtype=torch.float64))
    if not bool(torch.isfinite(db).all()):
        raise ValueError("center_frequencies must be positive (A-weighting is -inf at 0 Hz)")
    return 1.0 + db - db.min()
