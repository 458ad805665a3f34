"""Small signal utilities shared by the library and the chapters."""

from __future__ import annotations

from typing import overload

import numpy as np
import torch

from ._checks import check_real, check_signal

__all__ = ["peak_normalize"]

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
