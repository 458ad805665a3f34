"""Embedding distances as losses: ``1 - cos`` of frozen VGGish embeddings.

Functional form :func:`embedding_distance_loss`; module
:class:`EmbeddingDistanceLoss` (holds the frozen network and a cache of the
last target's embeddings). The pretrained CDPAM distance as a loss is
:class:`~percloss.losses.cdpam.CDPAMLoss` (functional form
:func:`~percloss.losses.cdpam.cdpam_distance`), beside this module.

Notebook: ``notebooks/ch01_deep_audio_prior.py``.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from .._checks import check_sample_rate
from ..embeddings import load_embedding, vggish_examples_unchecked
from ..signal import resample_differentiable_unchecked
from ._contract import check_pair, check_reduction, reduce_elements
from .filterbank import cosine_distance

__all__ = ["embedding_distance_loss", "EmbeddingDistanceLoss"]

_VGGISH_RATE = 16000
_NEED = 400 + 95 * 160  # one 0.96 s example at 16 kHz (25 ms frames every 10 ms)
_HOP = 96 * 160


def _embed(network: nn.Module, x: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """VGGish embeddings of every signal, ``(..., time) -> (signals, examples, 128)``."""
    y = resample_differentiable_unchecked(x, sample_rate, _VGGISH_RATE) if sample_rate != _VGGISH_RATE else x
    length = max(_NEED, _NEED + _HOP * ((y.shape[-1] - _NEED + _HOP - 1) // _HOP))
    y = torch.nn.functional.pad(y, (0, length - y.shape[-1]))
    flat = y.reshape(-1, y.shape[-1]).float()
    examples = torch.cat([vggish_examples_unchecked(s) for s in flat])  # (signals * E, 1, 96, 64)
    return network(examples).reshape(flat.shape[0], -1, 128)


def _frozen_vggish(weights: str | os.PathLike[str] | None, seed: int) -> tuple[nn.Module, str]:
    embedding = load_embedding("vggish", weights, seed=seed)
    network = embedding.network.eval()
    for p in network.parameters():
        p.requires_grad_(False)
    return network, embedding.weights


def embedding_distance_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    sample_rate: int,
    weights: str | os.PathLike[str] | None = None,
    seed: int = 0,
    reduction: str = "mean",
) -> torch.Tensor:
    """Functional :class:`EmbeddingDistanceLoss` (arguments as there); loads the network on every call.

    Shape:
        ``(..., time), (..., time) -> ()`` or ``(...)`` with ``reduction="none"``.
    """
    rate = check_sample_rate(sample_rate)
    reduction = check_reduction(reduction)
    check_pair(input, target)
    network, _ = _frozen_vggish(weights, seed)
    network = network.to(input.device)
    with torch.no_grad():
        et = _embed(network, target, rate)
    ei = _embed(network, input, rate)
    return reduce_elements(cosine_distance(ei, et), input.shape[:-1], reduction).to(input.dtype)


class EmbeddingDistanceLoss(nn.Module):
    """``1 - cos`` between VGGish embeddings of input and target (mean over examples).

    The report's "perceptual metric" used as a training loss. Signals are
    resampled to 16 kHz differentiably (:func:`~percloss.signal.resample_differentiable`)
    and zero-padded to whole 0.96 s examples. The network is frozen;
    :attr:`weights` says whether it is pretrained or the random-feature
    control. Functional form: :func:`embedding_distance_loss`.

    Args:
        sample_rate: Hz.
        weights: VGGish weights, see :func:`~percloss.embeddings.load_embedding`.
            (Default: found as there, else the random-feature control)
        seed: seed of the random-feature control. (Default: 0)
        reduction: ``"none"``, ``"mean"`` or ``"sum"``. (Default: ``"mean"``)

    Shape:
        ``(..., time), (..., time) -> ()`` or ``(...)`` with ``reduction="none"``.

    Memory: VGGish's activations for 0.96-s examples at 16 kHz, a few MB per
    second of audio (below what loading the network takes for 8 s of 44.1 kHz
    audio; ``benchmarks/results/memory.md``).
    """

    def __init__(self, sample_rate: int, weights: str | os.PathLike[str] | None = None, seed: int = 0,
                 reduction: str = "mean") -> None:
        super().__init__()
        self.sample_rate = check_sample_rate(sample_rate)
        self.reduction = check_reduction(reduction)
        self.network, self.weights = _frozen_vggish(weights, seed)
        self._target_cache: tuple[torch.Tensor, torch.Tensor] | None = None  # fixed targets repeat

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        """Embeddings of validated signals, ``(..., time) -> (signals, examples, 128)``."""
        return _embed(self.network, x, self.sample_rate)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_pair(input, target)
        return self.forward_unchecked(input, target)

    def forward_unchecked(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` on a pair the caller validated (:func:`~percloss.losses.check_pair`)."""
        cached = self._target_cache
        if cached is not None and cached[0].shape == target.shape and torch.equal(cached[0], target):
            et = cached[1]
        else:
            with torch.no_grad():
                et = self._embed(target)
            self._target_cache = (target.detach().clone(), et)
        ei = self._embed(input)
        # 1 - cos from the difference of unit vectors: exact where the two embeddings nearly agree
        return reduce_elements(cosine_distance(ei, et), input.shape[:-1], self.reduction).to(input.dtype)
