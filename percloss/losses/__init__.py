"""The perceptual losses of :mod:`percloss`, under one contract.

Every loss compares ``input`` with ``target``, two ``(..., time)`` tensors of
one shape, dtype and device (float32 or float64, finite; anything else raises
:class:`ValueError` naming the argument, and ``(2, T)`` against ``(T,)`` is
refused, not broadcast), and takes ``reduction`` in ``"none"`` (one value per
signal, shape ``(...)``), ``"mean"`` (the default) or ``"sum"``. Each comes as
a functional form and as a thin :class:`torch.nn.Module` that holds its
filterbanks and tables as buffers (torchaudio's split); the pair is validated
once, at the public entry (:mod:`percloss.losses._contract`).

- :mod:`~percloss.losses.filterbank` -- :class:`MSELoss` / :func:`mse_loss`,
  the Bark-filterbank :class:`PerceptualLoss` / :func:`perceptual_loss`
  (Vinyard 2018), :func:`perceptual_features`, :func:`cosine_distance`.
- :mod:`~percloss.losses.spectral` -- :class:`MultiResolutionSTFTLoss`,
  :class:`MelLoss`, :class:`MelWeightedLoss` (the codec's model B term) and
  :func:`mel_line_weights`.
- :mod:`~percloss.losses.masking` -- the MPEG-1-threshold losses
  :class:`PriorityWeightedLoss`, :class:`NoiseModulationLoss` (Zhen et al. 2020),
  :class:`MaskedFilterbankLoss`, with :func:`priority_weights` and :func:`soft_level_db`.
- :mod:`~percloss.losses.embedding` -- :class:`EmbeddingDistanceLoss` (VGGish).
- :mod:`~percloss.losses.cdpam` -- :class:`CDPAMLoss` / :func:`cdpam_distance`, the
  pretrained CDPAM network (loaded by :mod:`percloss.cdpam`; the ``cdpam`` extra
  is needed when a distance is computed, not to import the losses).

The package imports only the modules below it (:mod:`percloss.signal`,
:mod:`percloss.masking`, :mod:`percloss.filterbank`, the network loaders
:mod:`percloss.embeddings` and :mod:`percloss.cdpam`, ...), none of which imports it at import
time (``tests/test_layers.py`` checks both).

The codec's combination of these terms is :class:`percloss.codec_training.CodecLoss`.
"""

from __future__ import annotations

from ._contract import REDUCTIONS, check_pair, check_reduction, reduce, reduce_elements
from .cdpam import CDPAMLoss, cdpam_distance
from .embedding import EmbeddingDistanceLoss, embedding_distance_loss
from .filterbank import (
    MSELoss,
    PerceptualLoss,
    cosine_distance,
    mse_loss,
    perceptual_features,
    perceptual_loss,
)
from .masking import (
    MaskedFilterbankLoss,
    NoiseModulationLoss,
    PriorityWeightedLoss,
    masked_filterbank_loss,
    noise_modulation_loss,
    priority_weighted_loss,
    priority_weights,
    soft_level_db,
)
from .spectral import (
    MelLoss,
    MelWeightedLoss,
    MultiResolutionSTFTLoss,
    mel_line_weights,
    mel_loss,
    mel_weighted_loss,
    multi_resolution_stft_loss,
)

__all__ = [
    "REDUCTIONS",
    "check_pair",
    "check_reduction",
    "reduce",
    "reduce_elements",
    # filterbank
    "perceptual_features",
    "cosine_distance",
    "mse_loss",
    "perceptual_loss",
    "MSELoss",
    "PerceptualLoss",
    # spectral
    "multi_resolution_stft_loss",
    "mel_loss",
    "mel_weighted_loss",
    "mel_line_weights",
    "MultiResolutionSTFTLoss",
    "MelLoss",
    "MelWeightedLoss",
    # masking
    "priority_weights",
    "soft_level_db",
    "priority_weighted_loss",
    "noise_modulation_loss",
    "masked_filterbank_loss",
    "PriorityWeightedLoss",
    "NoiseModulationLoss",
    "MaskedFilterbankLoss",
    # embeddings
    "embedding_distance_loss",
    "EmbeddingDistanceLoss",
    "cdpam_distance",
    "CDPAMLoss",
]
