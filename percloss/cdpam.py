"""CDPAM, the pretrained neural perceptual audio distance of Manocha et al. (2021).

"CDPAM: Contrastive learning for perceptual audio similarity" (ICASSP 2021).
The network and its trained weights come from the PyPI package ``cdpam``
(MIT licence), an optional dependency: ``pip install 'percloss[cdpam]'``.
Only the weights file inside the installed wheel is used (no download), after
its SHA-256 is checked against :data:`CDPAM_WEIGHTS_SHA256`.

The distance follows ``cdpam.CDPAM.forward``: each signal, at 22.05 kHz and
scaled to the int16 range (``x * 32768``, as ``cdpam.load_audio`` does, less
its rounding, which would stop gradients), goes through the 16-layer conv
encoder; the time-averaged "acoustic" half of its 1024 channels is
unit-normalised, and a small learned network turns the two embeddings into a
non-negative distance (0 for identical inputs). Other sample rates are
resampled to 22.05 kHz differentiably with
:func:`~percloss.signal.resample_differentiable` (band-limited, treats the signal as
periodic). The network is frozen and cached once per device; it runs in
float32 on the device of the inputs.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import math
import os
import warnings
from pathlib import Path
from types import ModuleType
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_same_shape, check_sample_rate, check_signal
from ._memory import check_memory
from .losses import check_reduction, reduce
from .signal import resample_differentiable_unchecked

__all__ = [
    "acoustic_embedding",
    "CDPAM_VERSION",
    "CDPAM_SAMPLE_RATE",
    "CDPAM_WEIGHTS_SHA256",
    "CDPAM_RECEPTIVE_FIELD",
    "cdpam_weights_path",
    "load_cdpam",
    "cdpam_min_length",
    "cdpam_distance",
    "CDPAMLoss",
]

#: The ``cdpam`` release whose weights are pinned below.
CDPAM_VERSION = "0.0.6"
#: SHA-256 of ``cdpam/CDPAM_trained/scratchJNDdefault_best_model.pth`` in the
#: ``cdpam==0.0.6`` wheel (106,120,042 bytes).
CDPAM_WEIGHTS_SHA256 = "453c8b6edee1a94f0120236156436ff28fe4d8d884485e4a67695c8e8570bdfe"
#: Sample rate (Hz) the network was trained at.
CDPAM_SAMPLE_RATE = 22050
#: Receptive field of the encoder in samples at 22.05 kHz (about 38 ms): 16
#: convolutions of 15 taps, the signal decimated by 2 after every fourth. It is
#: the shortest accepted signal; shorter ones would be mostly zero padding.
CDPAM_RECEPTIVE_FIELD = 1 + 14 * 4 * (1 + 2 + 4 + 8)

_WEIGHTS_FILE = Path("CDPAM_trained") / "scratchJNDdefault_best_model.pth"
_INT16_SCALE = 32768.0
_MODELS: dict[tuple[str, str], nn.Module] = {}


def _import_cdpam_models() -> ModuleType:
    """The ``cdpam.models`` module, or ``ImportError`` naming the extra to install."""
    try:
        with warnings.catch_warnings():
            # cdpam/__init__.py imports numpy.matlib (PendingDeprecationWarning)
            warnings.simplefilter("ignore")
            import cdpam.models
    except ImportError as exc:
        raise ImportError(
            f"CDPAM needs the optional packages cdpam=={CDPAM_VERSION} and resampy "
            f"({exc}): pip install 'percloss[cdpam]'"
        ) from exc
    return cdpam.models


def cdpam_weights_path() -> Path:
    """Path of the weights file shipped inside the installed ``cdpam`` wheel.

    Raises:
        ImportError: if ``cdpam`` is not installed.
    """
    package = _import_cdpam_models().__file__
    if package is None:  # no file behind it: not the cdpam wheel
        raise ImportError("the installed cdpam is not the PyPI wheel: pip install 'percloss[cdpam]'")
    return Path(package).resolve().parent / _WEIGHTS_FILE


def _device_key(device: torch.device) -> str:
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return str(device)


def load_cdpam(
    device: str | torch.device = "cpu", weights: str | os.PathLike[str] | None = None
) -> nn.Module:
    """The frozen CDPAM network (``cdpam.models.FINnet``, eval mode) on ``device``, cached.

    Args:
        device: where the network lives. (Default: ``"cpu"``)
        weights: checkpoint to load; ``None`` uses the file in the installed
            ``cdpam`` wheel (:func:`cdpam_weights_path`). Either way its SHA-256
            must equal :data:`CDPAM_WEIGHTS_SHA256`. (Default: ``None``)

    Raises:
        ImportError: if ``cdpam`` is not installed.
        ValueError: if the file is missing or its SHA-256 does not match.
    """
    models = _import_cdpam_models()
    path = Path(weights) if weights is not None else cdpam_weights_path()
    try:
        where = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must name a torch device (cpu, cuda, cuda:1, ...), got {device!r}") from None
    key = (str(path.resolve()), _device_key(where))
    if key in _MODELS:
        return _MODELS[key]
    if not path.is_file():
        raise ValueError(f"weights: CDPAM weights file not found: {str(path)!r}")
    data = path.read_bytes()  # hashed and unpickled from the same bytes
    digest = hashlib.sha256(data).hexdigest()
    if digest != CDPAM_WEIGHTS_SHA256:
        try:
            installed = importlib.metadata.version("cdpam")
        except importlib.metadata.PackageNotFoundError:
            installed = "none"
        raise ValueError(
            f"weights: {path} does not have the SHA-256 of the cdpam=={CDPAM_VERSION} weights "
            f"(expected {CDPAM_WEIGHTS_SHA256}, got {digest}; installed cdpam: {installed}); "
            f"the file is corrupt or from another release: pip install 'percloss[cdpam]'"
        )
    # The checkpoint is a legacy full pickle (state dict plus optimiser state) that
    # torch's weights-only unpickler rejects ("Unsupported operand"). Unpickling it
    # in full is acceptable only because the SHA-256 of these very bytes was just verified.
    checkpoint = torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)
    del data
    # Built on the meta device: no random initialisation, no use of the global RNG.
    with torch.device("meta"):
        model = models.FINnet(
            encoder_layers=16,
            encoder_filters=64,
            ndim=[16, 6],
            classif_dp=0.05,
            classif_BN=0,
            classif_act="no",
            input_size=512,
        )  # the hyper-parameters of cdpam.CDPAM.__init__
    model.load_state_dict(checkpoint["state"], assign=True)
    model = model.to(device).eval().requires_grad_(False)
    _MODELS[key] = model
    return model


def cdpam_min_length(sample_rate: int) -> int:
    """Shortest accepted signal, in samples at ``sample_rate``: one receptive field (~38 ms).

    >>> cdpam_min_length(22050), cdpam_min_length(44100), cdpam_min_length(16000)
    (841, 1682, 611)
    """
    rate = check_sample_rate(sample_rate)
    return math.ceil(CDPAM_RECEPTIVE_FIELD * rate / CDPAM_SAMPLE_RATE)


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


def acoustic_embedding(model: nn.Module, x: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Unit-norm acoustic embeddings, ``(batch, time) -> (batch, 512)``."""
    x = x.float()  # the network's dtype (and FFTs of half-precision tensors need not exist)
    if sample_rate != CDPAM_SAMPLE_RATE:
        x = resample_differentiable_unchecked(x, sample_rate, CDPAM_SAMPLE_RATE)  # validated by the entry point
    encoder = cast(nn.Module, model.base_encoder)
    _, acoustic, _ = encoder(x.mul(_INT16_SCALE).unsqueeze(1))
    return F.normalize(acoustic, dim=1)


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
        weights: CDPAM checkpoint, see :func:`load_cdpam`. (Default: the wheel's)

    Shape:
        ``(time,), (time,) -> ()`` or ``(batch, time), (batch, time) -> (batch,)``;
        ``time >= cdpam_min_length(sample_rate)`` (841 samples at 22.05 kHz).

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
        weights: CDPAM checkpoint, see :func:`load_cdpam`. (Default: the wheel's)

    Shape:
        ``(time,) or (batch, time)``, same for target ``-> ()``, or ``(batch,)``
        with ``reduction="none"``; ``time >= cdpam_min_length(sample_rate)``.

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
