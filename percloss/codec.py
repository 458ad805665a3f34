"""The neural codec of Zhen et al. (IEEE SPL 2020): framing, model, quantiser.

- Framing: 512-sample frames every 480 samples; neighbouring frames overlap
  by 32 samples and are cross-faded with complementary Hann half-windows
  (:func:`frame`, :func:`overlap_add`; framing alone reconstructs exactly).
- :class:`CodecModule`: a 1-D CNN autoencoder. Encoder: Conv1d k55 1->100,
  bottleneck residual blocks (100->20->20->100, all k9, dilations 1 and 2), a
  stride-2 convolution to 256 positions, more blocks, a k9 projection to one
  channel and tanh: 256 codes per frame. Decoder: k9 projection 1->100,
  blocks, a convolution to 2 x 50 channels interleaved by sub-pixel
  upsampling back to 512 positions, 50-channel blocks (50->10->10->50),
  a linear k55 output. Our reading of the work's description; the parameter
  count is printed by :func:`count_parameters` and tested.
- :class:`SoftmaxQuantizer`: scalar quantisation to 32 learned centroids,
  soft (softmax over negative scaled distances, learned sharpness) while
  training, hard (nearest centroid) at inference.
- :class:`CascadedCodec`: a second module codes the scaled residual of the first.
- ``zero_preserving=True`` (the broad-corpus models): convolutions without biases and a codebook with an
  exact zero, so the network maps a zero frame to zero codes, the zero codeword, and back to exact zeros
  (digital silence stays silent; the work's architecture, with biases, decodes it to DC plus a hum at
  the frame rate: ``runs/codec/attempts/silence/README.md``); :meth:`CascadedCodec.set_dc_reject` makes
  :func:`read_bitstream` remove DC from what it decodes (a 3-Hz high-pass, as Opus's encoder input has).
- :func:`code_entropy_bits`: a differentiable estimate of bits per code from
  the soft-assignment histogram, for the rate term of the loss.

- A real bitstream: :func:`write_bitstream` range-codes the hard indices with
  ``constriction`` under the per-module symbol histograms stored with the
  model, behind a versioned header (magic, version, sample rate, length,
  modules, frames, model id = SHA-256 of the parameters and the entropy
  model, then a CRC32 of the whole header and payload); :func:`read_bitstream`
  decodes it bit-exactly or raises ``ValueError`` for truncated, corrupted
  or foreign files, bounding every header field before it allocates
  anything. The bitrate is the file size x 8 / duration.

- Inference (:class:`_Inference`): on the CPU the networks run as oneDNN's convolutions called directly on
  activations kept in its blocked layout, activations fused, 32 frames per call: bit for bit the
  ``nn.Module``'s numbers (files and decoded samples unchanged), faster; ``precision="bfloat16"`` is an opt-in
  with other numbers (its tolerance: ``benchmarks/results/codec.md``).

- Checkpoints (:func:`save_codec`, :func:`load_codec`) and
  ``python -m percloss encode|decode``.

Losses and training: :mod:`percloss.codec_training`.
"""

from __future__ import annotations

import hashlib
import math
import os
import struct
import time
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ._checks import AUDIO_RATE_RANGE, check_sample_rate, check_signal
from .masking import check_long_signal
from .signal import dc_reject

__all__ = [
    "FRAME",
    "HOP",
    "OVERLAP",
    "frame",
    "overlap_add",
    "BottleneckBlock",
    "CodecModule",
    "SoftmaxQuantizer",
    "CascadedCodec",
    "code_entropy_bits",
    "hard_entropy_bits",
    "reseed_centroids",
    "saturation_penalty",
    "SATURATION_PREACTIVATION",
    "count_parameters",
    "frame_stream",
    "iter_indices",
    "encode_indices",
    "symbol_histogram",
    "decode_indices",
    "write_bitstream",
    "read_bitstream",
    "bitstream_info",
    "model_id",
    "save_codec",
    "load_codec",
]

FRAME = 512
HOP = 480
OVERLAP = FRAME - HOP


def _fade(dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Complementary fade-in/fade-out of length ``OVERLAP`` (Hann halves, sum to 1)."""
    n = torch.arange(OVERLAP, dtype=torch.float64)
    fade_in = torch.sin(torch.pi * (n + 0.5) / (2 * OVERLAP)) ** 2
    return fade_in.to(dtype=dtype, device=device), (1 - fade_in).to(dtype=dtype, device=device)


def frame(x: torch.Tensor) -> torch.Tensor:
    """Cut ``(..., time)`` into frames ``(..., n_frames, 512)`` every 480 samples.

    The signal is zero-padded at the end to a whole number of hops plus the overlap.
    """
    check_signal(x, "x")
    n = x.shape[-1]
    n_frames = max(1, math.ceil((n - OVERLAP) / HOP))
    padded = F.pad(x, (0, n_frames * HOP + OVERLAP - n))
    return padded.unfold(-1, FRAME, HOP)


def overlap_add(frames: torch.Tensor, length: int) -> torch.Tensor:
    """Inverse of :func:`frame`: cross-fade the 32-sample overlaps, trim to ``length``."""
    if frames.dim() < 2 or frames.shape[-1] != FRAME:
        raise ValueError(f"frames must have shape (..., n_frames, {FRAME}), got {tuple(frames.shape)}")
    fade_in, fade_out = _fade(frames.dtype, frames.device)
    weighted = frames.clone()
    weighted[..., 1:, :OVERLAP] = weighted[..., 1:, :OVERLAP] * fade_in
    weighted[..., :-1, HOP:] = weighted[..., :-1, HOP:] * fade_out
    n_frames = frames.shape[-2]
    total = (n_frames - 1) * HOP + FRAME
    lead = frames.shape[:-2]
    out = F.fold(
        weighted.reshape(-1, n_frames, FRAME).transpose(1, 2),
        output_size=(1, total), kernel_size=(1, FRAME), stride=(1, HOP),
    ).reshape(*lead, total)
    if length > total:
        raise ValueError(f"length {length} exceeds the {total} samples the frames cover")
    return out[..., :length]


class BottleneckBlock(nn.Module):
    """Residual block ``x + W3 act(W2 act(W1 x))``, three k9 convolutions
    (channels -> bottleneck -> bottleneck -> channels), the middle one dilated."""

    def __init__(self, channels: int, bottleneck: int, dilation: int, kernel: int = 9, bias: bool = True) -> None:
        super().__init__()
        self.down = nn.Conv1d(channels, bottleneck, kernel, padding=kernel // 2, bias=bias)
        self.mid = nn.Conv1d(bottleneck, bottleneck, kernel, dilation=dilation, padding=dilation * (kernel // 2),
                             bias=bias)
        self.up = nn.Conv1d(bottleneck, channels, kernel, padding=kernel // 2, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(F.leaky_relu(self.mid(F.leaky_relu(self.down(x), 0.2)), 0.2))


def fft_conv1d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, padding: int) -> torch.Tensor:
    """``F.conv1d(x, weight, bias, padding=padding)`` (stride 1, no dilation) computed by FFT, in float32.

    Shape:
        ``(N, C_in, T), (C_out, C_in, K) -> (N, C_out, T + 2 padding - K + 1)``
    """
    x, weight = x.float(), weight.float()
    length, taps = x.shape[-1], weight.shape[-1]
    out = length + 2 * padding - taps + 1
    n_fft = 1 << (length + taps - 2).bit_length()  # >= the full linear convolution, length + taps - 1
    spectrum = torch.einsum("bcf,ocf->bof", torch.fft.rfft(x, n_fft), torch.fft.rfft(weight.flip(-1), n_fft))
    start = taps - 1 - padding
    y = torch.fft.irfft(spectrum, n_fft)[..., start : start + out]
    return y if bias is None else y + bias.float()[None, :, None]


class OutputConv1d(nn.Conv1d):
    """The decoder's long many-to-one output convolution. While training on a CPU it is computed by FFT
    (:func:`fft_conv1d`, float32): the direct form's backward with one output channel is the slowest kernel
    of a CPU training step (``benchmarks/results/codec_training.md``). Otherwise, and at inference, it is
    the direct convolution, so coded files do not depend on the path; the two agree to about 1e-6."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if self.training and input.device.type == "cpu":
            with torch.autocast("cpu", enabled=False):
                return fft_conv1d(input, self.weight, self.bias, int(self.padding[0]))
        return super().forward(input)


def _blocks(channels: int, bottleneck: int, pairs: int, bias: bool) -> nn.Sequential:
    return nn.Sequential(*[BottleneckBlock(channels, bottleneck, d, bias=bias) for _ in range(pairs) for d in (1, 2)])


class CodecModule(nn.Module):
    """One autoencoder module: frames ``(N, 512)`` -> codes ``(N, 256)`` in (-1, 1) -> frames.

    Args:
        channels: width of the encoder and first decoder stage. (Default: 100)
        bottleneck: width inside the blocks. (Default: 20)
        pairs: pairs of blocks (dilations 1, 2) per stage. (Default: 1)
        bias: convolutions with biases (the work's architecture). Without them
            (and with ``leaky_relu``, ``tanh`` and the sub-pixel shuffle all
            mapping 0 to 0) a zero frame encodes to zero codes and zero codes
            decode to a zero frame. (Default: ``True``)

    With the defaults a module has 448,832 parameters, the work's "about 0.45 M"
    (without biases 447,450).
    """

    def __init__(self, channels: int = 100, bottleneck: int = 20, pairs: int = 1, bias: bool = True) -> None:
        super().__init__()
        half = channels // 2
        self.encoder = nn.Sequential(
            nn.Conv1d(1, channels, 55, padding=27, bias=bias),
            _blocks(channels, bottleneck, pairs, bias),
            nn.Conv1d(channels, channels, 9, stride=2, padding=4, bias=bias),
            _blocks(channels, bottleneck, pairs, bias),
            nn.Conv1d(channels, 1, 9, padding=4, bias=bias),
        )
        self.decoder_in = nn.Sequential(
            nn.Conv1d(1, channels, 9, padding=4, bias=bias),
            _blocks(channels, bottleneck, pairs, bias),
            nn.Conv1d(channels, 2 * half, 9, padding=4, bias=bias),
        )
        self.decoder_out = nn.Sequential(
            _blocks(half, bottleneck // 2, pairs, bias),
            OutputConv1d(half, 1, 55, padding=27, bias=bias),
        )
        self.half_channels = half

    def preactivation(self, frames: torch.Tensor) -> torch.Tensor:
        """The encoder's output before its ``tanh``, ``(N, 256)``: codes are ``tanh`` of it."""
        if frames.dim() != 2 or frames.shape[-1] != FRAME:
            raise ValueError(f"frames must have shape (N, {FRAME}), got {tuple(frames.shape)}")
        return self.encoder(frames.unsqueeze(1)).squeeze(1)

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.preactivation(frames))

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        if codes.dim() != 2 or codes.shape[-1] != FRAME // 2:
            raise ValueError(f"codes must have shape (N, {FRAME // 2}), got {tuple(codes.shape)}")
        y = self.decoder_in(codes.unsqueeze(1))  # (N, 2*half, 256)
        n = y.shape[0]
        # sub-pixel upsampling: channel pairs become neighbouring time steps
        y = y.reshape(n, 2, self.half_channels, FRAME // 2).permute(0, 2, 3, 1).reshape(n, self.half_channels, FRAME)
        return self.decoder_out(y).squeeze(1)


class SoftmaxQuantizer(nn.Module):
    """Scalar quantiser with ``n_centroids`` learned centroids (Agustsson et al. 2017 style).

    Soft mode: ``sum_k softmax(-alpha |c - mu_k|^2)_k mu_k`` (differentiable);
    hard mode (``self.training is False`` or ``hard=True``): the nearest centroid.
    ``alpha`` is learned (stored as its log) and annealed upwards by training.
    ``zero_codeword``: centroid ``n_centroids // 2`` is held at exactly 0 (not
    learned; a buffer ``keep`` masks it), so a zero code is quantised without error.
    The quantiser's values are :attr:`codebook`.
    """

    def __init__(self, n_centroids: int = 32, alpha: float = 10.0, zero_codeword: bool = False) -> None:
        super().__init__()
        if n_centroids < 2:
            raise ValueError(f"n_centroids must be at least 2, got {n_centroids}")
        centroids = torch.linspace(-1, 1, n_centroids)
        if zero_codeword:
            keep = torch.ones(n_centroids)
            keep[n_centroids // 2] = 0.0
            centroids = centroids * keep
            self.register_buffer("keep", keep)
        self.centroids = nn.Parameter(centroids)
        self.log_alpha = nn.Parameter(torch.tensor(math.log(alpha)))

    @property
    def zero_index(self) -> int | None:
        """The index of the fixed zero codeword (``None`` without one)."""
        keep = getattr(self, "keep", None)
        return None if keep is None else int(torch.nonzero(keep == 0).flatten()[0])

    @property
    def codebook(self) -> torch.Tensor:
        """The centroids ``(n_centroids,)`` as the quantiser uses them (the zero codeword forced to 0)."""
        keep = getattr(self, "keep", None)
        return self.centroids if keep is None else self.centroids * keep

    def assignments(self, codes: torch.Tensor) -> torch.Tensor:
        """Soft assignment probabilities ``(..., n_centroids)``."""
        distance = (codes.unsqueeze(-1) - self.codebook) ** 2
        return torch.softmax(-self.log_alpha.exp() * distance, dim=-1)

    def indices(self, codes: torch.Tensor) -> torch.Tensor:
        """Index of the nearest centroid for each code."""
        return (codes.unsqueeze(-1) - self.codebook).abs().argmin(-1)

    def forward(self, codes: torch.Tensor, hard: bool | None = None, straight_through: bool = False) -> torch.Tensor:
        """Quantised codes. ``straight_through``: the hard values forward, the soft gradient backward
        (training then sees exactly what inference will decode)."""
        if hard is None:
            hard = not self.training
        codebook = self.codebook
        if hard:
            return codebook[self.indices(codes)]
        soft = self.assignments(codes) @ codebook
        if straight_through:
            return soft + (codebook[self.indices(codes)] - soft).detach()
        return soft


def code_entropy_bits(assignments: torch.Tensor) -> torch.Tensor:
    """Entropy in bits per code of the batch histogram of soft assignments ``(..., K)``."""
    histogram = assignments.reshape(-1, assignments.shape[-1]).mean(0)
    return -(histogram * torch.log2(histogram.clamp_min(1e-12))).sum()


def hard_entropy_bits(indices: torch.Tensor, n_centroids: int) -> torch.Tensor:
    """Entropy in bits per code of the histogram of hard centroid ``indices`` (what the range coder pays for).

    Unlike :func:`code_entropy_bits` of the soft assignments, it reads 0 when
    every code lands on one centroid, even if several centroids coincide there.
    """
    histogram = torch.bincount(indices.reshape(-1), minlength=n_centroids).to(torch.float64)
    p = histogram / histogram.sum().clamp_min(1)
    return -(p * torch.log2(p.clamp_min(1e-300))).sum()


#: |pre-activation| beyond which an encoder output counts as saturated: tanh(3) = 0.995, where the tanh's
#: gradient has fallen to 1 % and a code can no longer move.
SATURATION_PREACTIVATION = 3.0


def saturation_penalty(preactivation: torch.Tensor, limit: float = SATURATION_PREACTIVATION) -> torch.Tensor:
    """``mean(relu(|z| - limit)^2)`` of encoder pre-activations ``z``: zero while codes stay off the flat ends
    of the ``tanh``; its gradient reaches ``z`` directly, so it can pull a saturated encoder back (a code at
    the flat end gets no gradient through the ``tanh`` and stays there: the collapse of the two-module runs)."""
    return torch.relu(preactivation.abs() - limit).square().mean()


def reseed_centroids(quantizer: SoftmaxQuantizer, codes: torch.Tensor, generator: torch.Generator,
                     min_share: float = 1e-3, min_gap: float = 1e-3) -> torch.Tensor:
    """Move dead and merged centroids of ``quantizer`` into the busiest centroid's cell (in place).

    The usual remedy for a vector quantiser's unused codes: a centroid is
    *dead* when fewer than ``min_share`` of ``codes`` (the encoder's raw,
    unquantised outputs of a batch) pick it, *merged* when it lies within
    ``min_gap`` of a lower-numbered centroid (coincident centroids get
    identical gradients and never separate; the soft entropy then counts them
    as distinct codes while the hard codes do not). Each such centroid is set to
    a raw code drawn at random from the busiest centroid's cell, splitting it.
    A fixed zero codeword (``zero_codeword``) is never moved.

    Returns:
        the indices of the centroids moved (empty when none was).
    """
    with torch.no_grad():
        centroids = quantizer.centroids
        codebook = quantizer.codebook
        flat = codes.detach().reshape(-1).to(centroids)
        idx = quantizer.indices(flat)
        usage = torch.bincount(idx, minlength=len(centroids)).to(torch.float64) / max(len(flat), 1)
        gap = (codebook[:, None] - codebook[None, :]).abs()
        merged = (gap < min_gap).tril(-1).any(1)
        movable = (usage < min_share) | merged
        zero = quantizer.zero_index
        if zero is not None:  # a centroid on top of the fixed zero is merged with it, whatever its index
            movable |= gap[:, zero] < min_gap
            movable[zero] = False
        moved = torch.nonzero(movable).flatten()
        if len(moved) == 0 or len(moved) == len(centroids):
            return moved[:0]
        busiest = int(usage.argmax())
        cell = flat[idx == busiest]
        if len(cell) == 0:
            return moved[:0]
        pick = torch.randint(len(cell), (len(moved),), generator=generator).to(cell.device)
        centroids[moved] = cell[pick]
        return moved


class CascadedCodec(nn.Module):
    """Modules coding a signal and then the scaled residuals of the previous ones.

    Module ``m > 0`` codes ``residual_scale * (x - sum of previous decodings)``
    and its decoding is divided by the same scale (the work uses 5).
    ``zero_preserving``: modules without biases and quantisers with a fixed
    zero codeword, so a zero frame is coded as zero codes and decoded to exact
    zeros (:class:`CodecModule`'s ``bias``, :class:`SoftmaxQuantizer`'s
    ``zero_codeword``). (Default: ``False``, the work's architecture)
    """

    def __init__(self, n_modules: int = 2, residual_scale: float = 5.0, n_centroids: int = 32,
                 zero_preserving: bool = False) -> None:
        super().__init__()
        if n_modules < 1:
            raise ValueError(f"n_modules must be at least 1, got {n_modules}")
        self.stages = nn.ModuleList(CodecModule(bias=not zero_preserving) for _ in range(n_modules))
        self.quantizers = nn.ModuleList(SoftmaxQuantizer(n_centroids, zero_codeword=zero_preserving)
                                        for _ in range(n_modules))
        self.residual_scale = residual_scale
        self.zero_preserving = zero_preserving

    @property
    def dc_reject_hz(self) -> float | None:
        """The cut-off of the DC-rejection high-pass :func:`read_bitstream` runs on the decoded signal
        (:func:`percloss.signal.dc_reject`), Hz; ``None``: none (the work's codec, and a codec until
        :meth:`set_dc_reject`). Stored with the weights (a buffer), so it is part of the model's id."""
        value = getattr(self, "dc_reject", None)
        return None if value is None else float(value)

    def set_dc_reject(self, cutoff_hz: float | None) -> None:
        """Decode through a DC-rejection high-pass at ``cutoff_hz`` (``None``: none). Training does not see it:
        the losses of models C and D weigh nothing below ~20 Hz, and such a codec learns an offset that only
        the MSE term, a small share of its loss, opposes."""
        if cutoff_hz is None:
            self._buffers.pop("dc_reject", None)
            return
        if not (isinstance(cutoff_hz, (int, float)) and 0 < cutoff_hz < 20):
            raise ValueError(f"cutoff_hz must be in (0, 20) Hz, got {cutoff_hz!r}")
        self.register_buffer("dc_reject", torch.tensor(float(cutoff_hz), dtype=torch.float64))

    @classmethod
    def for_state_dict(cls, state_dict: Any, residual_scale: float = 5.0, n_centroids: int = 32) -> CascadedCodec:
        """A codec of the architecture that ``state_dict`` (a :meth:`state_dict`) was saved from (its modules'
        count, and whether it is ``zero_preserving``, read from its keys), not yet loaded."""
        keys = list(state_dict)
        n_modules = len({k.split(".")[1] for k in keys if k.startswith("stages.")})
        codec = cls(max(n_modules, 1), residual_scale, n_centroids, zero_preserving="quantizers.0.keep" in keys)
        if "dc_reject" in keys:
            codec.set_dc_reject(float(state_dict["dc_reject"]))
        return codec

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Frames ``(N, 512)`` -> (reconstruction ``(N, 512)``, quantised codes per module)."""
        total, codes, _ = self.run(frames)
        return total, codes

    def raw_codes(self, frames: torch.Tensor) -> list[torch.Tensor]:
        """Each module's unquantised encoder output ``(N, 256)`` for frames ``(N, 512)``, the cascade run with
        hard codes as in inference (no gradient): what :func:`reseed_centroids` samples from."""
        with torch.no_grad():
            return [torch.tanh(z) for z in self.run_with_preactivations(frames, hard=True)[3]]

    def run(self, frames: torch.Tensor, straight_through: bool = False
            ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """As :meth:`forward`, also returning each module's soft assignments ``(N, 256, K)``.

        ``straight_through`` is passed to every quantiser (see :meth:`SoftmaxQuantizer.forward`).
        """
        total, codes, assignments, _ = self.run_with_preactivations(frames, straight_through)
        return total, codes, assignments

    def run_with_preactivations(self, frames: torch.Tensor, straight_through: bool = False, hard: bool | None = None
                                ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
        """As :meth:`run`, also returning each module's encoder output before its ``tanh`` ``(N, 256)``;
        ``hard`` is passed to every quantiser (``None``: hard unless training)."""
        total = torch.zeros_like(frames)
        codes, assignments, pre = [], [], []
        for m, (stage, quantizer) in enumerate(zip(self.stages, self.quantizers, strict=True)):
            assert isinstance(stage, CodecModule) and isinstance(quantizer, SoftmaxQuantizer)
            scale = 1.0 if m == 0 else self.residual_scale
            z = stage.preactivation(scale * (frames - total))
            raw = torch.tanh(z)
            pre.append(z)
            assignments.append(quantizer.assignments(raw))
            q = quantizer(raw, hard=hard, straight_through=straight_through)
            codes.append(q)
            total = total + stage.decode(q) / scale
        return total, codes, assignments, pre


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


# ------------------------------------------------------------------ bitstream

MAGIC = b"PCL"
# Version 1 (no longer read) checksummed only the payload, so a corrupted header
# decoded "successfully" or made the decoder allocate terabytes.
# Version 2 had no field for the input's original sample rate.
FORMAT_VERSION = 3
# magic, version, sample rate, length (samples), modules, frames, model id,
# original sample rate of the input (before resampling to the model's rate);
# then a CRC32 of these bytes and the payload, then the payload.
_HEADER = struct.Struct("<3sBIQBI32sI")
_CRC = struct.Struct("<I")
HEADER_SIZE = _HEADER.size + _CRC.size
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = AUDIO_RATE_RANGE  # the rates the clip loaders accept


def _check_symbol_counts(codec: CascadedCodec, symbol_counts: object) -> list[torch.Tensor]:
    """One finite, non-negative histogram of ``n_centroids`` entries per module, else ``ValueError``."""
    first = codec.quantizers[0]
    assert isinstance(first, SoftmaxQuantizer)
    n = int(first.centroids.numel())
    if not isinstance(symbol_counts, (list, tuple)) or len(symbol_counts) != len(codec.stages):
        raise ValueError(f"symbol_counts must be a list of {len(codec.stages)} histograms (one per module)")
    for m, c in enumerate(symbol_counts):
        if not isinstance(c, torch.Tensor) or c.shape != (n,):
            raise ValueError(f"symbol_counts[{m}] must be a tensor of shape ({n},)")
        if not bool(torch.isfinite(c).all()) or bool((c < 0).any()):
            raise ValueError(f"symbol_counts[{m}] must hold finite non-negative counts")
    return list(symbol_counts)


def model_id(codec: CascadedCodec, symbol_counts: list[torch.Tensor] | None = None) -> bytes:
    """SHA-256 of the codec's parameters and, given ``symbol_counts``, of the entropy model.

    The entropy model enters as the probabilities the range coder uses
    (:func:`_probabilities`), so a file decodes only with the weights and the
    symbol histograms that wrote it.
    """
    h = hashlib.sha256()
    for name, tensor in sorted(codec.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    if symbol_counts is not None:
        for m, counts in enumerate(symbol_counts):
            h.update(f"symbol_counts.{m}".encode())
            h.update(_probabilities(counts).astype("<f4").tobytes())
    return h.digest()


def _probabilities(counts: torch.Tensor) -> np.ndarray:
    p = counts.detach().cpu().double().clamp_min(0) + 1.0  # every symbol stays encodable
    return (p / p.sum()).numpy().astype(np.float32)


def _min_bits_per_symbol(probabilities: np.ndarray) -> float:
    """A lower bound on the bits the range coder spends on any one symbol under ``probabilities``.

    No symbol costs less than ``-log2`` of the largest probability after
    constriction's quantisation to 24-bit fixed point, in which every symbol
    keeps at least one unit; the bound allows a rounding of two units per symbol.
    """
    k = len(probabilities)
    largest = float(probabilities.astype(np.float64).max())
    return -math.log2(min(1.0 - (k - 1) * 2.0**-24, largest + 2 * k * 2.0**-24))


def _n_frames(length: int) -> int:
    """Frames :func:`frame` cuts from ``length`` samples."""
    return max(1, math.ceil((length - OVERLAP) / HOP))


def _frame_block(x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """Frames ``start .. stop - 1`` of :func:`frame` (``(stop - start, 512)``), cut from ``x`` without padding
    or copying the whole signal."""
    first, last = start * HOP, (stop - 1) * HOP + FRAME
    piece = x[..., first : min(last, x.shape[-1])]
    if piece.shape[-1] < last - first:
        piece = F.pad(piece, (0, last - first - piece.shape[-1]))
    return piece.unfold(-1, FRAME, HOP)


# ------------------------------------------------------------- fast inference

#: Frames per call of the inference networks inside a block of :func:`iter_indices` / :func:`decode_indices`, per
#: torch thread: a 100-channel activation of 32 frames (6.5 MB) stays near the caches where one of 256 frames
#: (52 MB) does not (``benchmarks/results/codec.md``). The results do not depend on it: each frame is computed alone.
SUB_CHUNK = 32

#: Inference precisions: ``"float32"`` (the default; the reference numbers) and ``"bfloat16"`` (opt-in, where
#: oneDNN has bf16 kernels: faster, but the codes and the decoded audio differ from float32's).
PRECISIONS = ("float32", "bfloat16")


def _check_precision(precision: str) -> torch.dtype:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "bfloat16":
        if not (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")
                and torch.ops.mkldnn._is_mkldnn_bf16_supported()):
            raise ValueError("bfloat16 inference needs a CPU with bf16 instructions and torch built with oneDNN")
        return torch.bfloat16
    return torch.float32


class _Inference:
    """Inference of one :class:`CodecModule` on the CPU through oneDNN, the numbers of its ``nn.Module`` path.

    For a batch of two or more frames the module's float32 convolutions run as oneDNN's direct convolution
    (``torch.backends.mkldnn``) with its activations reordered into oneDNN's blocked layout and back around
    every layer. Here the same convolutions are called directly (``torch.ops.mkldnn._convolution_pointwise``)
    on activations that stay in that layout from the first layer to the last, each ``leaky_relu`` fused into
    the convolution before it (the same ``x > 0 ? x : 0.2 x`` on the same float32 sums): the same kernels,
    the same sums, bit for bit the same outputs, without the reorders and the separate activation passes.
    One frame alone (the module's convolutions then take another path) and anything the fast path cannot
    run (no oneDNN, another device or dtype, a self-check that fails) use the module itself.
    ``dtype=torch.bfloat16`` runs the same graph in bfloat16 (opt-in: other numbers).
    """

    def __init__(self, stage: CodecModule, dtype: torch.dtype = torch.float32) -> None:
        self.stage, self.dtype = stage, dtype
        weight = stage.encoder[0].weight
        self.fast = (weight.device.type == "cpu" and weight.dtype == torch.float32
                     and torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise"))
        if dtype != torch.float32 and not self.fast:
            raise ValueError("bfloat16 inference needs float32 weights on the CPU and torch built with oneDNN")
        # float32: each half (encoder, decoder) is compared with the module once before it is trusted
        self.checked: set[str] = {"encode", "decode"} if dtype != torch.float32 else set()
        self.layers: dict[int, tuple[torch.Tensor, torch.Tensor | None, list[int], list[int], list[int]]] = {}
        if self.fast:
            for layer in stage.modules():
                if isinstance(layer, nn.Conv1d):  # as the 2-D convolution torch runs for it: (O, I, 1, K)
                    bias = None if layer.bias is None else layer.bias.detach().to(dtype)
                    self.layers[id(layer)] = (layer.weight.detach().to(dtype).unsqueeze(2), bias,
                                              [0, int(layer.padding[0])], [1, int(layer.stride[0])],
                                              [1, int(layer.dilation[0])])

    def _conv(self, layer: nn.Module, h: torch.Tensor, leaky: bool = False) -> torch.Tensor:
        weight, bias, padding, stride, dilation = self.layers[id(layer)]
        if leaky:
            return torch.ops.mkldnn._convolution_pointwise(h, weight, bias, padding, stride, dilation, 1,
                                                           "leaky_relu", [0.2], "")
        return torch.ops.mkldnn._convolution_pointwise(h, weight, bias, padding, stride, dilation, 1, "none", [], "")

    def _blocks(self, blocks: nn.Module, h: torch.Tensor) -> torch.Tensor:
        assert isinstance(blocks, nn.Sequential)
        for block in blocks:
            assert isinstance(block, BottleneckBlock)
            h = h + self._conv(block.up, self._conv(block.mid, self._conv(block.down, h, True), True))
        return h

    def _to_one_channel(self, layer: nn.Module, h: torch.Tensor) -> torch.Tensor:
        """A stride-1 convolution of a oneDNN tensor ``(N, C, 1, T)`` to one channel ``(N, T)``, in float32, as a
        matrix product ``(K, C) @ (C, T)`` and a sum along the diagonals of its ``K`` rows: oneDNN's direct
        kernel pads one output channel to sixteen (the slowest layer of a decode). Other sums than the module's:
        used only by the bfloat16 path."""
        assert isinstance(layer, nn.Conv1d) and layer.out_channels == 1
        x = h.to_dense().to(torch.float32).squeeze(2)
        taps, pad = layer.kernel_size[0], int(layer.padding[0])
        z = F.pad(torch.matmul(layer.weight[0].detach().T, x), (pad, pad)).contiguous()  # (N, K, T + 2 pad)
        n, _, padded = z.shape
        diagonals = z.as_strided((n, taps, padded - taps + 1), (taps * padded, padded + 1, 1))
        out = diagonals.sum(1)
        return out if layer.bias is None else out + layer.bias.detach()

    def _to_blocked(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, T)`` -> a oneDNN tensor ``(N, C, 1, T)``."""
        return x.to(self.dtype).unsqueeze(2).contiguous().to_mkldnn()

    def _encode_fast(self, frames: torch.Tensor) -> torch.Tensor:
        enc = self.stage.encoder
        h = self._conv(enc[0], self._to_blocked(frames.unsqueeze(1)))
        h = self._blocks(enc[3], self._conv(enc[2], self._blocks(enc[1], h)))
        if self.dtype != torch.float32:
            return self._to_one_channel(enc[4], h)
        return self._conv(enc[4], h).to_dense().reshape(frames.shape[0], FRAME // 2)

    def _decode_fast(self, codes: torch.Tensor) -> torch.Tensor:
        n, half = codes.shape[0], self.stage.half_channels
        dec_in, dec_out = self.stage.decoder_in, self.stage.decoder_out
        h = self._conv(dec_in[0], self._to_blocked(codes.unsqueeze(1)))
        y = self._conv(dec_in[2], self._blocks(dec_in[1], h)).to_dense()
        # the module's sub-pixel upsampling: channel pairs become neighbouring time steps
        y = y.reshape(n, 2, half, FRAME // 2).permute(0, 2, 3, 1).reshape(n, half, FRAME)
        h = self._blocks(dec_out[0], self._to_blocked(y))
        if self.dtype != torch.float32:
            return self._to_one_channel(dec_out[1], h)
        return self._conv(dec_out[1], h).to_dense().reshape(n, FRAME)

    def _run(self, fast: Any, module: Any, x: torch.Tensor, half: str) -> torch.Tensor:
        if not self.fast or (x.shape[0] < 2 and self.dtype == torch.float32):
            return module(x)
        if half not in self.checked:  # a torch whose kernels or fusions differ falls back to the module
            probe = x[:2]
            self.checked.add(half)
            self.fast = bool(torch.equal(fast(probe), module(probe)))
            if not self.fast:
                return module(x)
        step = SUB_CHUNK * max(1, torch.get_num_threads())  # each thread's share stays SUB_CHUNK frames
        return torch.cat([fast(x[i : i + step]) for i in range(0, x.shape[0], step)])

    def preactivation(self, frames: torch.Tensor) -> torch.Tensor:
        """:meth:`CodecModule.preactivation` of frames ``(N, 512)``."""
        return self._run(self._encode_fast, self.stage.preactivation, frames.contiguous(), "encode")

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """:meth:`CodecModule.decode` of codes ``(N, 256)``."""
        return self._run(self._decode_fast, self.stage.decode, codes.contiguous(), "decode")


def _inference(codec: CascadedCodec, precision: str = "float32") -> list[_Inference]:
    dtype = _check_precision(precision)
    stages = []
    for stage in codec.stages:
        assert isinstance(stage, CodecModule)
        stages.append(_Inference(stage, dtype))
    return stages


def frame_stream(blocks: Iterable[torch.Tensor], chunk: int = 256,
                 counter: list[int] | None = None) -> Iterator[torch.Tensor]:
    """Frames of a signal handed over as consecutive 1-D blocks, ``chunk`` frames ``(chunk, 512)`` at a time:
    the rows :func:`frame` cuts from the blocks joined, in the same order and numbers, with only one
    block and one chunk's span in memory. Each block is checked as it comes (:func:`check_signal`: NaN/Inf,
    dtype, peak); ``counter``, if given, receives the total length in samples once the stream ends.
    """
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    span = (chunk - 1) * HOP + FRAME  # samples a full chunk of frames covers
    buffer = torch.zeros(0)
    total, emitted = 0, 0
    for i, block in enumerate(blocks):
        if isinstance(block, torch.Tensor) and block.dim() == 1 and block.shape[-1] == 0:
            continue  # a resampler may hand over an empty block
        check_long_signal(block, f"block {i} of x")
        if block.dim() != 1:
            raise ValueError(f"block {i} of x must be mono with shape (time,), got {tuple(block.shape)}")
        buffer = torch.cat([buffer, block.float()])
        total += block.shape[-1]
        while buffer.shape[-1] >= span:
            yield buffer[:span].unfold(-1, FRAME, HOP)
            buffer = buffer[chunk * HOP :].clone()  # drop what the next chunk does not need
            emitted += chunk
    if total == 0:
        raise ValueError("x is empty: the stream held no samples")
    if counter is not None:
        counter[:] = [total]
    remaining = _n_frames(total) - emitted
    if remaining > 0:  # the tail, zero-padded as frame() pads it
        need = (remaining - 1) * HOP + FRAME
        yield F.pad(buffer, (0, max(0, need - buffer.shape[-1])))[:need].unfold(-1, FRAME, HOP)


def _frame_chunks(x: torch.Tensor | Iterable[torch.Tensor], chunk: int,
                  counter: list[int] | None = None) -> Iterator[torch.Tensor]:
    """Chunks of frames of a signal ``(time,)`` or of a stream of blocks (:func:`frame_stream`)."""
    if not isinstance(x, torch.Tensor):
        yield from frame_stream(x, chunk, counter)
        return
    check_long_signal(x, "x")  # block by block: no temporaries the size of a long signal
    x = x.float()
    n_frames = _n_frames(x.shape[-1])
    if counter is not None:
        counter[:] = [x.shape[-1]]
    for start in range(0, n_frames, chunk):
        yield _frame_block(x, start, min(start + chunk, n_frames))


@torch.no_grad()
def iter_indices(codec: CascadedCodec, x: torch.Tensor | Iterable[torch.Tensor], chunk: int = 256,
                 progress: bool = False, precision: str = "float32",
                 counter: list[int] | None = None) -> Iterator[list[torch.Tensor]]:
    """:func:`encode_indices` a block of ``chunk`` frames at a time: yields ``[(frames, 256)] * n_modules``.

    ``x`` is a signal ``(time,)`` or an iterable of its consecutive mono blocks (any sizes; read from a
    file as it goes: :func:`frame_stream`) — the same indices either way. Only one block of frames and its
    network activations are in memory at once. The networks run through :class:`_Inference` (the module's
    numbers, faster); ``precision="bfloat16"`` is opt-in and gives other codes. ``counter`` receives the
    signal's length in samples.
    """
    from ._optional import tqdm

    codec.eval()
    runners = _inference(codec, precision)
    total = _n_frames(x.shape[-1]) if isinstance(x, torch.Tensor) else None
    for block in tqdm(_frame_chunks(x, chunk, counter), desc="encode", total=None if total is None
                      else math.ceil(total / chunk), disable=not progress, leave=False):
        total_decoded = torch.zeros_like(block)
        parts = []
        for m, (stage, quantizer) in enumerate(zip(runners, codec.quantizers, strict=True)):
            assert isinstance(quantizer, SoftmaxQuantizer)
            scale = 1.0 if m == 0 else codec.residual_scale
            idx = quantizer.indices(torch.tanh(stage.preactivation(scale * (block - total_decoded))))
            parts.append(idx)
            if m + 1 < len(codec.stages):  # the next module codes the residual
                total_decoded = total_decoded + stage.decode(quantizer.codebook[idx]) / scale
        yield parts


@torch.no_grad()
def encode_indices(codec: CascadedCodec, x: torch.Tensor, chunk: int = 256,
                   progress: bool = False, precision: str = "float32") -> list[torch.Tensor]:
    """Hard centroid indices per module, ``[(n_frames, 256)] * n_modules``, for a mono signal.

    Frames are processed ``chunk`` at a time (:func:`iter_indices`).
    """
    parts: list[list[torch.Tensor]] = [[] for _ in codec.stages]
    for block in iter_indices(codec, x, chunk, progress, precision):
        for m, idx in enumerate(block):
            parts[m].append(idx)
    return [torch.cat(p) for p in parts]


def symbol_histogram(codec: CascadedCodec, signals: list[torch.Tensor]) -> list[torch.Tensor]:
    """Per-module counts of each centroid's use over ``signals`` (the entropy coder's model), float64."""
    first = codec.quantizers[0]
    assert isinstance(first, SoftmaxQuantizer)
    n = int(first.centroids.numel())
    counts = [torch.zeros(n, dtype=torch.float64) for _ in codec.stages]
    for x in signals:
        for m, idx in enumerate(encode_indices(codec, x)):
            counts[m] += torch.bincount(idx.flatten(), minlength=n).double().cpu()
    return counts


@torch.no_grad()
def decode_indices(codec: CascadedCodec, indices: list[torch.Tensor] | list[np.ndarray], length: int,
                   chunk: int = 256, progress: bool = False, precision: str = "float32") -> torch.Tensor:
    """Signal ``(length,)`` from hard indices (the decoder half of the codec).

    ``indices[m]``: module ``m``'s ``(n_frames, 256)`` indices (any integer tensor or array). Frames are
    decoded ``chunk`` at a time and overlap-added into the output as they come (the same sums as
    :func:`overlap_add` on all frames: each sample receives at most two frames' terms), so memory beyond
    the output is one block's. ``precision="bfloat16"`` (opt-in) runs the networks in bfloat16 (other samples).
    """
    from ._optional import tqdm

    codec.eval()
    runners = _inference(codec, precision)
    n_frames = indices[0].shape[0]
    total_length = (n_frames - 1) * HOP + FRAME
    if length > total_length:
        raise ValueError(f"length {length} exceeds the {total_length} samples the frames cover")
    first = codec.quantizers[0]
    assert isinstance(first, SoftmaxQuantizer)
    fade_in, fade_out = _fade(first.centroids.dtype, first.centroids.device)
    out = torch.zeros(total_length, dtype=first.centroids.dtype, device=first.centroids.device)
    for start in tqdm(range(0, n_frames, chunk), desc="decode", disable=not progress, leave=False):
        stop = min(start + chunk, n_frames)
        block = None
        for m, (stage, quantizer) in enumerate(zip(runners, codec.quantizers, strict=True)):
            assert isinstance(quantizer, SoftmaxQuantizer)
            scale = 1.0 if m == 0 else codec.residual_scale
            part = indices[m][start:stop]
            idx = torch.from_numpy(part.astype(np.int64)) if isinstance(part, np.ndarray) else part.long()
            y = stage.decode(quantizer.codebook[idx]) / scale
            block = y if block is None else block + y
        assert block is not None
        weighted = block.clone()
        if start == 0:
            weighted[1:, :OVERLAP] = weighted[1:, :OVERLAP] * fade_in
        else:
            weighted[:, :OVERLAP] = weighted[:, :OVERLAP] * fade_in
        if stop == n_frames:
            weighted[:-1, HOP:] = weighted[:-1, HOP:] * fade_out
        else:
            weighted[:, HOP:] = weighted[:, HOP:] * fade_out
        span = (stop - start - 1) * HOP + FRAME
        folded = F.fold(weighted.T.unsqueeze(0), output_size=(1, span), kernel_size=(1, FRAME),
                        stride=(1, HOP)).reshape(span)
        out[start * HOP : start * HOP + span] += folded
    return out[:length]


def write_bitstream(codec: CascadedCodec, symbol_counts: list[torch.Tensor],
                    x: torch.Tensor | Iterable[torch.Tensor],
                    sample_rate: int, progress: bool = False, original_rate: int | None = None,
                    precision: str = "float32", timings: dict[str, float] | None = None) -> bytes:
    """Range-code a mono signal with ``codec`` (constriction); returns the file's bytes.

    ``x``: the signal ``(time,)``, or an iterable of its consecutive mono blocks (a long file read and
    resampled as it goes; the same bytes as the whole signal, in memory bounded by a block and the codes).

    ``symbol_counts[m]`` is module ``m``'s centroid histogram from training
    (stored with the model); it is the entropy coder's probability model.
    ``original_rate`` (Default: ``sample_rate``) is recorded in the header: the
    rate the audio had before it was resampled to the model's, so a decoder
    can restore it (:func:`bitstream_info`). ``precision="bfloat16"`` (opt-in, :data:`PRECISIONS`) runs the
    networks in bfloat16: faster where the CPU has bf16 instructions, other codes than float32's (any decoder
    reads the file). ``timings``, if given, receives the seconds spent in the ``"network"`` (framing, networks,
    quantiser) and in the ``"range coder"`` (with the header), added to what it holds.
    """
    from ._optional import needs

    with needs("codec", "The codec's range coder (constriction)"):
        import constriction

    if isinstance(x, torch.Tensor):
        check_long_signal(x, "x")  # block by block: no temporaries the size of a long signal
        if x.dim() != 1:
            raise ValueError(f"x must be mono with shape (time,), got {tuple(x.shape)}")
        if _n_frames(x.shape[-1]) >= 2**32:
            raise ValueError(f"x is too long for one file: {x.shape[-1]} samples")
    rate = check_sample_rate(sample_rate, rate_range=AUDIO_RATE_RANGE)
    original = (rate if original_rate is None
                else check_sample_rate(original_rate, "original_rate", rate_range=AUDIO_RATE_RANGE))
    symbol_counts = _check_symbol_counts(codec, symbol_counts)
    # indices kept in the smallest integer type (the range coder takes the modules one after the other)
    compact = np.min_scalar_type(int(symbol_counts[0].numel()) - 1)
    blocks: list[list[np.ndarray]] = [[] for _ in codec.stages]
    started = time.perf_counter()
    length: list[int] = []
    for parts in iter_indices(codec, x, progress=progress, precision=precision, counter=length):
        for m, idx in enumerate(parts):
            blocks[m].append(idx.numpy().astype(compact))
    coding = time.perf_counter()
    encoder = constriction.stream.queue.RangeEncoder()
    for module_blocks, counts in zip(blocks, symbol_counts, strict=True):
        model = constriction.stream.model.Categorical(_probabilities(counts), perfect=False)
        for block in module_blocks:  # a queue coder: block after block is one message
            encoder.encode(block.reshape(-1).astype(np.int32), model)
    payload = encoder.get_compressed().astype("<u4").tobytes()
    n_frames = sum(b.shape[0] for b in blocks[0])
    if n_frames >= 2**32:
        raise ValueError(f"x is too long for one file: {length[0]} samples")
    header = _HEADER.pack(MAGIC, FORMAT_VERSION, rate, length[0], len(blocks), n_frames,
                          model_id(codec, symbol_counts), original)
    blob = header + _CRC.pack(zlib.crc32(payload, zlib.crc32(header))) + payload
    if timings is not None:
        timings["network"] = timings.get("network", 0.0) + coding - started
        timings["range coder"] = timings.get("range coder", 0.0) + time.perf_counter() - coding
    return blob


def bitstream_info(blob: bytes) -> dict[str, Any]:
    """The header of a codec file, checked: ``sample_rate``, ``original_rate``, ``length``, ``modules``,
    ``frames``, ``model_id`` (bytes).

    The checksum (header and payload) is verified and every field bounded.

    Raises:
        ValueError: not a percloss codec file, another format version (1 and 2
            are no longer read), truncated or corrupted.
    """
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise ValueError(f"blob must be bytes, got {type(blob).__name__}")
    blob = bytes(blob)
    if len(blob) < len(MAGIC) or blob[: len(MAGIC)] != MAGIC:
        raise ValueError("not a percloss codec file (bad magic bytes)")
    if len(blob) < len(MAGIC) + 1:
        raise ValueError(f"file is truncated: {len(blob)} bytes, the header alone needs {HEADER_SIZE}")
    version = blob[len(MAGIC)]
    if version == 1:
        raise ValueError("codec file version 1 is no longer read (its header was not checksummed); "
                         "encode the audio again with this library")
    if version == 2:
        raise ValueError("codec file version 2 is no longer read (it did not record the original sample rate); "
                         "encode the audio again with this library")
    if version != FORMAT_VERSION:
        raise ValueError(f"unsupported codec file version {version} (this library reads {FORMAT_VERSION})")
    if len(blob) < HEADER_SIZE:
        raise ValueError(f"file is truncated: {len(blob)} bytes, the header alone needs {HEADER_SIZE}")
    header, payload = blob[: _HEADER.size], blob[HEADER_SIZE:]
    (crc,) = _CRC.unpack_from(blob, _HEADER.size)
    if len(payload) == 0 or len(payload) % 4 or zlib.crc32(payload, zlib.crc32(header)) != crc:
        raise ValueError("file is truncated or corrupted (checksum mismatch)")
    _, _, rate, length, n_modules, n_frames, mid, original = _HEADER.unpack(header)
    # the checksum passed: what follows guards against crafted files
    for name, value in (("sample rate", rate), ("original sample rate", original)):
        if not MIN_SAMPLE_RATE <= value <= MAX_SAMPLE_RATE:
            raise ValueError(f"corrupted file: {name} {value} Hz is outside {MIN_SAMPLE_RATE} .. {MAX_SAMPLE_RATE}")
    if length < 1 or n_frames != _n_frames(length):
        raise ValueError(f"corrupted file: {n_frames} frames cannot hold {length} samples")
    return {"sample_rate": rate, "original_rate": original, "length": length, "modules": n_modules,
            "frames": n_frames, "model_id": mid}


def read_bitstream(codec: CascadedCodec, symbol_counts: list[torch.Tensor], blob: bytes,
                   progress: bool = False, precision: str = "float32",
                   timings: dict[str, float] | None = None) -> tuple[torch.Tensor, int]:
    """Decode bytes from :func:`write_bitstream`; returns ``(signal, sample_rate)``.

    The checksum covers the header and the payload; every header field is
    checked (sample rate within 1000 .. 384000 Hz, frame count matching the
    length, a payload long enough for that many codes under the entropy
    model) before anything is allocated. ``precision="bfloat16"`` (opt-in) decodes in bfloat16: faster where
    the CPU has bf16 instructions, other samples than float32's. ``timings``, if given, receives the seconds
    spent in the ``"range coder"`` (with the checks) and in the ``"network"`` (networks and overlap-add).

    Raises:
        ValueError: not a percloss codec file, another format version (1 and 2
            are no longer read), written by another model (weights or symbol
            histograms differ), truncated or corrupted (checksum mismatch or
            an impossible header).
    """
    from ._optional import needs

    with needs("codec", "The codec's range coder (constriction)"):
        import constriction

    _check_precision(precision)
    started = time.perf_counter()
    info = bitstream_info(blob)
    payload = bytes(blob)[HEADER_SIZE:]
    rate, length, n_modules, n_frames, mid = (info[k] for k in ("sample_rate", "length", "modules", "frames",
                                                                 "model_id"))
    symbol_counts = _check_symbol_counts(codec, symbol_counts)
    if n_modules != len(codec.stages) or mid != model_id(codec, symbol_counts):
        raise ValueError("file was written by another codec model (model id differs: weights or symbol counts)")
    probabilities = [_probabilities(c) for c in symbol_counts]
    least_bits = n_frames * (FRAME // 2) * sum(_min_bits_per_symbol(p) for p in probabilities)
    if least_bits > 1.01 * len(payload) * 8 + 128:
        raise ValueError(f"corrupted file: {n_frames} frames need at least {least_bits:.0f} bits, "
                         f"the payload has {len(payload) * 8}")
    decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(payload, dtype="<u4").astype(np.uint32))
    indices: list[np.ndarray] = []
    compact = np.min_scalar_type(len(probabilities[0]) - 1)
    step = 4096  # frames decoded per call: the symbols stay in the smallest integer type
    try:
        for p in probabilities:
            model = constriction.stream.model.Categorical(p, perfect=False)
            symbols = np.empty((n_frames, FRAME // 2), dtype=compact)
            for start in range(0, n_frames, step):
                count = min(step, n_frames - start)
                symbols[start : start + count] = decoder.decode(model, count * (FRAME // 2)).reshape(count, -1)
            indices.append(symbols)
    except (ValueError, RuntimeError, AssertionError) as err:
        raise ValueError(f"corrupted file: the payload does not decode ({err})") from None
    if not decoder.maybe_exhausted():
        raise ValueError("corrupted file: the payload holds more than the header's frames")
    network = time.perf_counter()
    y = decode_indices(codec, indices, length, progress=progress, precision=precision)
    if codec.dc_reject_hz is not None:
        y = dc_reject(y, rate, codec.dc_reject_hz)
    if timings is not None:
        timings["range coder"] = timings.get("range coder", 0.0) + network - started
        timings["network"] = timings.get("network", 0.0) + time.perf_counter() - network
    return y, rate


# ----------------------------------------------------------------- checkpoints

CHECKPOINT_FORMAT = "percloss-codec"


def save_codec(path: str | os.PathLike[str], codec: CascadedCodec, symbol_counts: list[torch.Tensor],
               sample_rate: int, name: str, trained: str) -> str:
    """Write a codec checkpoint (config, parameters, symbol histograms); returns its SHA-256.

    ``trained`` says how the parameters were obtained (e.g. "untrained (seed 0)"
    or the training schedule); it is printed wherever the model is used. Missing folders are created.
    """
    first = codec.quantizers[0]
    assert isinstance(first, SoftmaxQuantizer)
    payload = {
        "format": CHECKPOINT_FORMAT, "version": 1, "name": name, "trained": trained,
        "sample_rate": int(sample_rate), "n_modules": len(codec.stages),
        "residual_scale": codec.residual_scale, "n_centroids": int(first.centroids.numel()),
        "zero_preserving": bool(codec.zero_preserving), "state_dict": codec.state_dict(), "symbol_counts": [c.double() for c in symbol_counts],
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, path)
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_codec(path: str | os.PathLike[str]) -> tuple[CascadedCodec, list[torch.Tensor], dict[str, object]]:
    """Read :func:`save_codec`'s file; returns ``(codec, symbol_counts, info)`` (info has the SHA-256)."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"model path does not name a file: {str(p)!r}")
    try:
        payload = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is a bad model file
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if "Weights only load failed" in first:  # torch's advice on weights_only is not for a user here
            first = "not a file that save_codec wrote"
        raise ValueError(f"{p} is not a readable codec checkpoint: {first}") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{p} is not a percloss codec checkpoint")
    missing_keys = [k for k in ("n_modules", "residual_scale", "n_centroids", "state_dict", "symbol_counts", "name",
                                "trained", "sample_rate") if k not in payload]
    if missing_keys:
        raise ValueError(f"{p} is a damaged codec checkpoint: it lacks {', '.join(missing_keys)}")
    try:
        codec = CascadedCodec(int(payload["n_modules"]), float(payload["residual_scale"]),
                              int(payload["n_centroids"]), zero_preserving=bool(payload.get("zero_preserving")))
        if "dc_reject" in payload["state_dict"]:
            codec.set_dc_reject(float(payload["state_dict"]["dc_reject"]))
        result = codec.load_state_dict(payload["state_dict"], strict=False)
    except (TypeError, ValueError, RuntimeError) as err:  # wrong types or tensor shapes
        first = str(err).strip().splitlines()[0]
        raise ValueError(f"{p} does not fit the codec it describes ({payload['n_modules']} module(s)): "
                         f"{first}") from None
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"{p} does not fit the codec it describes ({payload['n_modules']} module(s)): "
            f"{len(result.missing_keys)} weight(s) missing, {len(result.unexpected_keys)} unexpected"
            + (f" (e.g. {(result.missing_keys or result.unexpected_keys)[0]})"))
    info = {k: payload[k] for k in ("name", "trained", "sample_rate", "n_modules")}
    info["zero_preserving"] = bool(payload.get("zero_preserving"))
    info["dc_reject_hz"] = codec.dc_reject_hz
    info["sha256"] = hashlib.sha256(p.read_bytes()).hexdigest()
    return codec.eval(), list(payload["symbol_counts"]), info
