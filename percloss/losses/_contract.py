"""The contract every loss of :mod:`percloss.losses` follows.

- ``forward(input, target)`` (and the functional form) take ``(..., time)``
  tensors of one shape, dtype and device, float32 or float64, finite; anything
  else raises :class:`ValueError` naming the argument (:func:`check_pair`).
  Broadcasting is refused: ``(2, T)`` against ``(T,)`` is an error.
- ``reduction`` is ``"none"`` (one value per signal, shape ``(...)``),
  ``"mean"`` (the default) or ``"sum"`` over signals, as in torch.
- The pair is validated once, at the public entry (``forward`` or the
  functional form); the kernels behind it do not re-check (each check of
  finiteness is a device-to-host synchronisation).
"""

from __future__ import annotations

import torch

from .._checks import check_choice, check_peak_value, check_same_shape, check_signal
from .._memory import check_memory

__all__ = ["REDUCTIONS", "check_reduction", "check_pair", "check_working_memory", "reduce", "reduce_elements"]

# estimates below this are not compared with the system's figures (which costs a few file reads)
CHECKED_ABOVE_BYTES = 256 * 2**20

REDUCTIONS = ("none", "mean", "sum")


def check_reduction(reduction: object) -> str:
    """Validate ``reduction`` (one of :data:`REDUCTIONS`) and return it."""
    return check_choice(reduction, "reduction", REDUCTIONS)


def check_pair(input: torch.Tensor, target: torch.Tensor, min_length: int = 1) -> None:
    """``input`` and ``target``: finite float32/float64 ``(..., time)`` tensors of one shape, dtype and device,
    with at least ``min_length`` samples (else ``ValueError`` naming the argument). One host synchronisation
    for the finiteness of both."""
    check_signal(input, "input", min_length=min_length, allow_nonfinite=True, check_peak=False)
    check_signal(target, "target", min_length=min_length, allow_nonfinite=True, check_peak=False)
    check_same_shape(input, target, "input", "target")
    if input.numel() == 0:
        raise ValueError(f"input and target hold no signal (shape {tuple(input.shape)}): an empty batch")
    a, b = input.detach(), target.detach()
    values = torch.stack([torch.isfinite(a).all().to(a.dtype), torch.isfinite(b).all().to(a.dtype),
                          a.abs().amax(), b.abs().amax()]).tolist()
    for ok, name in zip(values[:2], ("input", "target"), strict=True):
        if not ok:
            raise ValueError(f"{name} contains NaN or Inf values")
    for peak, name in zip(values[2:], ("input", "target"), strict=True):
        check_peak_value(peak, name)


def check_working_memory(input: torch.Tensor, bytes_per_sample: float, what: str) -> None:
    """Refuse before allocating: :class:`~percloss._memory.InsufficientMemoryError` (a ``ValueError``) when a
    loss's working memory, ``bytes_per_sample`` per sample of every signal in float32 (scaled by the dtype's
    size), would exceed the memory available on ``input``'s device."""
    estimate = bytes_per_sample * input.numel() * input.element_size() / 4
    if estimate > CHECKED_ABOVE_BYTES:
        check_memory(estimate, f"{what} on input of shape {tuple(input.shape)}", input.device,
                     hint="split the audio into shorter segments and weight each segment's loss by its length")


def reduce(per_signal: torch.Tensor, reduction: str) -> torch.Tensor:
    """Apply a torch-style ``reduction`` to per-signal losses of shape ``(...)``."""
    if reduction == "mean":
        return per_signal.mean()
    if reduction == "sum":
        return per_signal.sum()
    return per_signal


def reduce_elements(values: torch.Tensor, lead: torch.Size, reduction: str) -> torch.Tensor:
    """Reduce per-element values of signals with leading shape ``lead`` (``values``: ``(*lead, ...)``
    or flattened ``(prod(lead), ...)``).

    ``"none"`` gives each signal's mean over its elements, shape ``lead``;
    ``"sum"`` the sum of those means. ``"mean"`` is the mean over all elements
    at once: every signal has equally many, so it equals the mean of the
    per-signal means (and is the same floating-point computation the losses
    always made under ``"mean"``, which keeps stored training runs reproducible).
    """
    if reduction == "mean":
        return values.mean()
    n_signals = 1
    for d in lead:
        n_signals *= d
    per_signal = values.reshape(n_signals, -1).mean(-1).reshape(lead)
    return per_signal.sum() if reduction == "sum" else per_signal
