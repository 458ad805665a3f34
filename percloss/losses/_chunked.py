"""Losses over long audio in bounded memory: sums over time windows, recomputed in backward.

Every chunked loss of :mod:`percloss.losses` is a function of a few sums over
time (dot products and norms for the cosine, squared and absolute differences
for the STFT terms, ``log(1 + E/M)`` for the masked filterbank). Each window
of the signal gives its share of the sums from the samples it covers (plus the
context its filters or frames reach into); :func:`window_sums` adds the shares
with autograd disabled, so only one window's feature map is alive at a time,
and in backward recomputes each window's share with gradients and
back-propagates the sums' gradient through it. Value and gradient equal the
unchunked computation's up to rounding (the sums are accumulated in float64);
peak memory is one window's worth instead of the whole signal's, for about
twice the compute.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch

__all__ = ["Window", "window_sums", "sample_windows", "frame_windows"]


class Window(NamedTuple):
    """A slice ``[start, stop)`` of the (padded) signals, the part ``[keep_start, keep_stop)`` of it whose
    outputs this window owns (relative to ``start``), and its ``position`` in the sequence."""

    start: int
    stop: int
    keep_start: int
    keep_stop: int
    position: int


# stat(window, *slices) -> (n_signals, n_sums): the window's share of every sum
StatFn = Callable[..., torch.Tensor]


def sample_windows(length: int, chunk: int, context: int) -> list[Window]:
    """Windows owning consecutive runs of ``chunk`` output samples of a ``length``-sample signal, each
    widened by ``context`` samples on both sides (clipped at the ends) for filters of that reach."""
    windows = []
    for index, begin in enumerate(range(0, length, chunk)):
        end = min(begin + chunk, length)
        start, stop = max(0, begin - context), min(length, end + context)
        windows.append(Window(start, stop, begin - start, end - start, index))
    return windows


def frame_windows(n_frames: int, frames_per_chunk: int, frame_length: int, hop: int) -> list[Window]:
    """Windows over the samples of consecutive runs of ``frames_per_chunk`` frames (frame ``k`` covers
    ``[k hop, k hop + frame_length)``); ``keep_start``/``keep_stop`` hold the run's frame indices."""
    windows = []
    for index, first in enumerate(range(0, n_frames, frames_per_chunk)):
        last = min(first + frames_per_chunk, n_frames)
        windows.append(Window(first * hop, (last - 1) * hop + frame_length, first, last, index))
    return windows


class _WindowSums(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, stat: StatFn, windows: Sequence[Window], *signals: torch.Tensor) -> torch.Tensor:
        ctx.stat, ctx.windows = stat, windows
        ctx.save_for_backward(*signals)
        total: torch.Tensor | None = None
        with torch.no_grad():
            for w in windows:
                share = stat(w, *(s[..., w.start : w.stop] for s in signals)).double()
                total = share if total is None else total + share
        if total is None:
            raise ValueError("no windows: the signals are empty")
        return total

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        signals = ctx.saved_tensors
        needs = ctx.needs_input_grad[2:]
        grads = [torch.zeros_like(s) if n else None for s, n in zip(signals, needs, strict=True)]
        for w in ctx.windows:
            with torch.enable_grad():
                pieces = [s[..., w.start : w.stop].detach().requires_grad_(n) for s, n in zip(signals, needs,
                                                                                              strict=True)]
                share = ctx.stat(w, *pieces)
                wanted = [p for p, n in zip(pieces, needs, strict=True) if n]
                parts = torch.autograd.grad(share, wanted, grad.to(share.dtype), allow_unused=True)
            it = iter(parts)
            for g, n in zip(grads, needs, strict=True):
                if n:
                    part = next(it)
                    if g is not None and part is not None:
                        g[..., w.start : w.stop] += part
        return (None, None, *grads)


def window_sums(stat: StatFn, windows: Sequence[Window], *signals: torch.Tensor) -> torch.Tensor:
    """``sum_w stat(w, *(s[..., w.start:w.stop] for s in signals))`` in float64, holding one window at a time.

    ``stat`` must be a differentiable function of its slices returning ``(n_signals, n_sums)``; it is called
    once per window in forward (without gradients) and again in backward (with them).

    Shape:
        ``signals: (n_signals, time)`` each ``-> (n_signals, n_sums)`` (float64)
    """
    out: torch.Tensor = _WindowSums.apply(stat, list(windows), *signals)
    return out
