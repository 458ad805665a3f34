"""Argument validation shared by every public function of :mod:`percloss`.

Each check raises :class:`ValueError` naming the argument, its value and what
was expected, so that bad input never turns into a silently wrong number.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import torch

__all__ = [
    "AUDIO_RATE_RANGE",
    "HALF_DTYPES",
    "check_signal",
    "check_same_shape",
    "check_sample_rate",
    "check_positive",
    "check_real",
    "check_integer",
    "check_choice",
    "check_mono_array",
]


#: Dtypes :func:`check_signal` refuses with a clear error (FFTs, dB floors and masking thresholds of the
#: library are float32/float64 computations; under autocast, cast a model's output with ``.float()``).
HALF_DTYPES = (torch.float16, torch.bfloat16)


#: The largest amplitude an audio tensor may hold (about +180 dB re full scale): squared and summed over frames,
#: larger values overflow float32 and turn spectra, thresholds and losses into Inf and NaN.
MAX_AMPLITUDE = 1e9


def check_signal(
    x: object,
    name: str,
    *,
    min_length: int = 1,
    min_dim: int = 1,
    allow_nonfinite: bool = False,
    check_peak: bool = True,
) -> torch.Tensor:
    """Validate an audio tensor of shape ``(..., time)`` and return it.

    Args:
        x: the candidate tensor.
        name: argument name used in the error message.
        min_length: smallest accepted number of samples on the last axis.
        min_dim: smallest accepted number of dimensions.
        allow_nonfinite: accept NaN/Inf values. (Default: ``False``)
        check_peak: refuse a peak above :data:`MAX_AMPLITUDE`. (Default: ``True``; the losses check it
            together with finiteness, in one host synchronisation)

    Raises:
        ValueError: if ``x`` is not a float32/float64 tensor (half precision is
            refused, :data:`HALF_DTYPES`) of at least ``min_dim`` dimensions and
            ``min_length`` samples, or holds NaN/Inf, or a peak above :data:`MAX_AMPLITUDE`.
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not torch.is_floating_point(x):
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.dtype in HALF_DTYPES:
        raise ValueError(f"{name} has dtype {x.dtype}: half precision is not supported here (the dB levels and "
                         f"thresholds need float32 or float64); pass {name}.float()")
    if x.dim() < min_dim:
        raise ValueError(
            f"{name} must have at least {min_dim} dimension(s) (..., time), got shape {tuple(x.shape)}"
        )
    if x.shape[-1] < min_length:
        raise ValueError(
            f"{name} must have at least {min_length} samples on its last (time) axis, "
            f"got {x.shape[-1]}"
        )
    if not allow_nonfinite and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or Inf values")
    if check_peak and x.numel():
        finite = x.detach().abs()
        if allow_nonfinite:
            finite = finite.nan_to_num(0.0, 0.0, 0.0)
        check_peak_value(float(finite.amax()), name)
    return x


def check_peak_value(peak: float, name: str) -> None:
    """``ValueError`` naming ``name`` when ``peak`` exceeds :data:`MAX_AMPLITUDE`."""
    if peak > MAX_AMPLITUDE:
        raise ValueError(f"{name}'s peak is {peak:g}: beyond {MAX_AMPLITUDE:g} its power is not representable "
                         f"in the analyses here (audio is expected near full scale 1.0)")


def check_same_shape(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have equal shapes, dtypes and devices."""
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if a.dtype != b.dtype:
        raise ValueError(f"{name_a} and {name_b} must have the same dtype, got {a.dtype} and {b.dtype}")
    if a.device != b.device:
        raise ValueError(
            f"{name_a} and {name_b} must be on the same device, got {a.device} and {b.device}"
        )


#: The sample rates audio files and codec streams may have, Hz.
AUDIO_RATE_RANGE = (1000, 384_000)


def check_sample_rate(sample_rate: object, name: str = "sample_rate", *,
                      rate_range: tuple[int, int] | None = None) -> int:
    """Validate a sample rate in Hz (a positive integer, numpy integers too) and return it as ``int``.

    With ``rate_range = (low, high)`` the rate must also lie in ``low .. high``
    (:data:`AUDIO_RATE_RANGE` for files and codec streams).
    """
    if isinstance(sample_rate, (bool, np.bool_)) or not isinstance(sample_rate, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a positive number of Hz, got {sample_rate!r}")
    if not math.isfinite(sample_rate) or sample_rate <= 0 or int(sample_rate) != sample_rate:
        raise ValueError(f"{name} must be a positive integer number of Hz, got {sample_rate!r}")
    rate = int(sample_rate)
    if rate_range is not None and not rate_range[0] <= rate <= rate_range[1]:
        raise ValueError(f"{name} must be between {rate_range[0]} and {rate_range[1]} Hz, got {rate}")
    return rate


def check_positive(value: object, name: str, *, allow_zero: bool = False) -> float:
    """Validate a finite positive (or non-negative) number (Python or numpy scalar, not ``bool``) as ``float``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    ok = value >= 0 if allow_zero else value > 0
    if not math.isfinite(value) or not ok:
        expected = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be a finite {expected} number, got {value!r}")
    return float(value)


def check_choice(value: object, name: str, choices: tuple[str, ...]) -> str:
    """Validate that ``value`` is one of ``choices`` and return it."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return str(value)


def check_mono_array(x: Any, name: str) -> np.ndarray:
    """Validate a mono signal ``(time,)`` given as a float numpy array or tensor; return float64 numpy.

    Raises:
        ValueError: if ``x`` is not floating point, not 1-D, empty, or holds NaN/Inf.
    """
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{name} must be a floating-point numpy array or tensor, got {type(x).__name__}")
    if x.ndim != 1:
        raise ValueError(f"{name} must be mono with shape (time,), got shape {x.shape}")
    if len(x) == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or Inf values")
    return x.astype(np.float64)


def check_real(value: object, name: str, lo: float | None = None, hi: float | None = None, *,
               lo_open: bool = False) -> float:
    """A finite real number (Python or numpy scalar; ``bool`` is not a number) in ``[lo, hi]``, as ``float``.

    ``lo_open`` excludes ``lo`` itself. Raises ``ValueError`` naming ``name`` otherwise.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if lo is not None and (v < lo or (lo_open and v == lo)):
        raise ValueError(f"{name} must be {'>' if lo_open else '>='} {lo:g}, got {value!r}")
    if hi is not None and v > hi:
        raise ValueError(f"{name} must be <= {hi:g}, got {value!r}")
    return v


def check_integer(value: object, name: str, lo: int | None = None, hi: int | None = None) -> int:
    """An integer (Python or numpy; not ``bool``, not a float) in ``[lo, hi]``, as ``int``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    v = int(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        bound = f"in {lo}..{hi}" if lo is not None and hi is not None else (f">= {lo}" if lo is not None else
                                                                            f"<= {hi}")
        raise ValueError(f"{name} must be an integer {bound}, got {value!r}")
    return v
