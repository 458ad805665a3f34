"""CDPAM (Manocha et al. 2021) as a distance and a loss: :func:`cdpam_distance` and :class:`CDPAMLoss`.

The distance follows ``cdpam.CDPAM.forward``: both signals are embedded by the
pretrained network (:func:`percloss.cdpam.acoustic_embedding`: 22.05 kHz,
int16 scale, the acoustic half of the encoder's channels, unit-normalised) and
its small learned head turns the two embeddings into a non-negative distance
(0 for identical inputs). The network is loaded, verified and cached by
:func:`percloss.cdpam.load_cdpam` on the device of the inputs; it needs the
``cdpam`` extra only when a distance is computed (``pip install 'percloss[cdpam]'``),
not to import this module.

Notebook: ``notebooks/ch01_deep_audio_prior.py``.
"""

from __future__ import annotations

import os
from typing import cast

import torch
from torch import nn

from .._checks import check_same_shape, check_sample_rate, check_signal
from .._memory import check_memory
from ..cdpam import acoustic_embedding, cdpam_min_length, load_cdpam
from ._contract import check_reduction, reduce

__all__ = ["cdpam_distance", "CDPAMLoss"]


#: The largest peak :func:`cdpam_distance` accepts: CDPAM was trained on audio in [-1, 1], and its distance
#: collapses outside (int16-scaled copies of a pair 0.68 apart scored 0.0066); overs of a decoder pass.
FULL_SCALE_LIMIT = 2.0


# Working memory of the network's activations for both signals, forward + backward, per second of audio
# (it runs at 22.05 kHz whatever the input's rate): benchmarks/bench_memory.py measured 313 MB per second
# (2 s -> 1.09 GB, 8 s -> 2.96 GB at 44.1 kHz); 330 leaves a margin.
BYTES_PER_SECOND = 330 * 10**6


def _check_inputs(
    reference: torch.Tensor, test: torch.Tensor, sample_rate: object, names: tuple[str, str],
    full_scale: bool = False,
) -> int:
    rate = check_sample_rate(sample_rate)
    need = cdpam_min_length(rate)
    for x, name in zip((reference, test), names, strict=True):
        check_signal(x, name, min_length=need)
        if x.dim() > 2:
            raise ValueError(f"{name} must have shape (time,) or (batch, time), got {tuple(x.shape)}")
        peak = float(x.detach().abs().max())
        if full_scale and peak > FULL_SCALE_LIMIT:
            raise ValueError(f"{name}'s peak is {peak:g}: CDPAM takes audio at full scale 1.0 (up to "
                             f"{FULL_SCALE_LIMIT:g} accepted); PCM-scaled audio? divide int16 samples by 32768")
    check_same_shape(reference, test, *names)
    seconds = reference.shape[-1] / rate * (reference.shape[0] if reference.dim() == 2 else 1)
    if seconds * BYTES_PER_SECOND > 256 * 2**20:
        check_memory(seconds * BYTES_PER_SECOND, f"CDPAM on {names[0]} and {names[1]} of shape "
                     f"{tuple(reference.shape)} at {rate} Hz", reference.device,
                     hint="score shorter segments (CDPAM was trained on clips of a few seconds) and average")
    return rate


def _distance(
    reference: torch.Tensor,
    test: torch.Tensor,
    sample_rate: int,
    weights: str | os.PathLike[str] | None,
) -> torch.Tensor:
    model = load_cdpam(test.device, weights)
    ref, tst = reference.reshape(-1, reference.shape[-1]), test.reshape(-1, test.shape[-1])
    head = cast(nn.Module, model.model_dist)
    dist = head(acoustic_embedding(model, ref, sample_rate), acoustic_embedding(model, tst, sample_rate))
    return dist.reshape(test.shape[:-1]).to(test.dtype)


def cdpam_distance(
    reference: torch.Tensor,
    test: torch.Tensor,
    sample_rate: int,
    weights: str | os.PathLike[str] | None = None,
) -> torch.Tensor:
    """CDPAM distance between ``reference`` and ``test`` (0 when they are equal; larger is worse).

    Differentiable with respect to both signals (the network is frozen), so it
    can serve as a training loss. Signals are in ``[-1, 1]`` full scale.

    Args:
        reference: clean signals, ``(time,)`` or ``(batch, time)``, floating point.
        test: signals to judge, same shape, dtype and device as ``reference``.
        sample_rate: rate of both in Hz (a positive integer); other rates than
            22050 are resampled with :func:`~percloss.signal.resample_differentiable`.
        weights: CDPAM checkpoint, see :func:`~percloss.cdpam.load_cdpam`. (Default: the wheel's)

    Shape:
        ``(time,), (time,) -> ()`` or ``(batch, time), (batch, time) -> (batch,)``;
        ``time >= percloss.cdpam.cdpam_min_length(sample_rate)`` (841 samples at 22.05 kHz).

    Raises:
        ImportError: if ``cdpam`` is not installed.
        ValueError: for NaN/Inf, non-float dtypes, mismatched shapes, a sample
            rate that is not a positive integer, too-short signals, or a peak
            above :data:`FULL_SCALE_LIMIT` (PCM-scaled audio).
    """
    rate = _check_inputs(reference, test, sample_rate, ("reference", "test"), full_scale=True)
    return _distance(reference, test, rate, weights)


class CDPAMLoss(nn.Module):
    """CDPAM distance as a loss, ``forward(input, target)`` (see :func:`cdpam_distance`).

    The network is not a submodule: it is loaded lazily, cached per device and
    run on the device of ``input``, so it never enters this module's
    ``state_dict`` and ``.to()`` has nothing to move.

    Args:
        sample_rate: rate of the signals in Hz.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``. (Default: ``"mean"``)
        weights: CDPAM checkpoint, see :func:`~percloss.cdpam.load_cdpam`. (Default: the wheel's)

    Shape:
        ``(time,) or (batch, time)``, same for target ``-> ()``, or ``(batch,)``
        with ``reduction="none"``; ``time >= percloss.cdpam.cdpam_min_length(sample_rate)``.

    Memory: the network's activations for both signals, forward and backward,
    take about 313 MB per second of audio (it runs at 22.05 kHz whatever the
    input's rate; ``benchmarks/results/memory.md``); an input whose estimate
    exceeds the memory available is refused before allocating.
    """

    def __init__(
        self,
        sample_rate: int,
        reduction: str = "mean",
        weights: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        self.sample_rate = check_sample_rate(sample_rate)
        self.reduction = check_reduction(reduction)
        self.weights = weights

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_inputs(target, input, self.sample_rate, ("target", "input"))
        return reduce(_distance(target, input, self.sample_rate, self.weights), self.reduction)
