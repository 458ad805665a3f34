"""CDPAM, the pretrained neural perceptual audio distance of Manocha et al. (2021): weights, network, embedding.

"CDPAM: Contrastive learning for perceptual audio similarity" (ICASSP 2021).
The network and its trained weights come from the PyPI package ``cdpam``
(MIT licence), an optional dependency: ``pip install 'percloss[cdpam]'``.
Only the weights file inside the installed wheel is used (no download), after
its SHA-256 is checked against :data:`CDPAM_WEIGHTS_SHA256`; ``cdpam`` itself
is imported only when the network is loaded, so importing this module needs
nothing of the extra.

This module loads (:func:`load_cdpam`, cached once per device, frozen) and
embeds (:func:`acoustic_embedding`: a signal at 22.05 kHz, scaled to the int16
range as ``cdpam.load_audio`` does less its rounding, through the 16-layer conv
encoder, the time-averaged "acoustic" half of its 1024 channels
unit-normalised; other rates are resampled differentiably with
:func:`~percloss.signal.resample_differentiable`). The distance and the loss
built on it are :func:`percloss.losses.cdpam_distance` and
:class:`percloss.losses.CDPAMLoss` (:mod:`percloss.losses.cdpam`); this module
sits below the losses and imports none of them. ``percloss.cdpam.cdpam_distance``
and ``percloss.cdpam.CDPAMLoss``, their former home, still resolve (on first access).
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
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_sample_rate
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


def acoustic_embedding(model: nn.Module, x: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Unit-norm acoustic embeddings of validated signals (no checks), ``(batch, time) -> (batch, 512)``.

    ``model`` is :func:`load_cdpam`'s network; ``x`` holds float signals in ``[-1, 1]`` at ``sample_rate``
    of at least :func:`cdpam_min_length` samples (:func:`percloss.losses.cdpam_distance` checks them).
    """
    x = x.float()  # the network's dtype (and FFTs of half-precision tensors need not exist)
    if sample_rate != CDPAM_SAMPLE_RATE:
        x = resample_differentiable_unchecked(x, sample_rate, CDPAM_SAMPLE_RATE)  # validated by the entry point
    encoder = cast(nn.Module, model.base_encoder)
    _, acoustic, _ = encoder(x.mul(_INT16_SCALE).unsqueeze(1))
    return F.normalize(acoustic, dim=1)


# moved to percloss.losses.cdpam; resolved there on first access, so that this module imports no loss
_MOVED = ("cdpam_distance", "CDPAMLoss", "FULL_SCALE_LIMIT", "BYTES_PER_SECOND")


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        from .losses import cdpam as moved

        return getattr(moved, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
