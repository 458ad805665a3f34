"""Losses and training of the neural codec (Zhen et al. 2020, models A, C, D).

- Model A: time-domain MSE + a multi-resolution log-mel loss.
- Model C: A + the priority-weighted spectral loss (:class:`~percloss.masking_losses.PriorityWeightedLoss`).
- Model D: C + the noise-modulation loss (:class:`~percloss.masking_losses.NoiseModulationLoss`, max form).
- Rate: the entropy of each module's soft code histogram, weighted by a
  per-module multiplier that a controller raises while the entropy is above the
  target bits per code and lowers while it is below.

Model B ("A + mel-scale weighting") is not implemented: the work's definition of
that weighting is not reproduced here. Loss weights are our choices (stated in
:class:`CodecLoss`); the work's own are not known to this library.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from ._checks import check_choice, check_sample_rate, check_signal
from .codec import FRAME, HOP, CascadedCodec, code_entropy_bits, frame, overlap_add
from .filterbank import mel_triangles
from .masking_losses import NoiseModulationLoss, PriorityWeightedLoss

__all__ = ["MelLoss", "CodecLoss", "bits_per_code", "TrainLog", "train_codec"]


class MelLoss(nn.Module):
    """Mean L1 distance of ``log(mel + 1e-5)`` spectrograms at several FFT sizes (hop = size / 4)."""

    def __init__(self, sample_rate: int, fft_sizes: tuple[int, ...] = (256, 512, 1024), n_mels: int = 64) -> None:
        super().__init__()
        self.sample_rate = check_sample_rate(sample_rate)
        self.fft_sizes = fft_sizes
        for n in fft_sizes:
            self.register_buffer(f"mel{n}", torch.from_numpy(mel_triangles(n, self.sample_rate, n_mels)).float())
            self.register_buffer(f"win{n}", torch.hann_window(n))

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = input.new_zeros(())
        for n in self.fft_sizes:
            mel, win = getattr(self, f"mel{n}").to(input.dtype), getattr(self, f"win{n}").to(input.dtype)

            def logmel(x: torch.Tensor, n: int = n, mel: torch.Tensor = mel, win: torch.Tensor = win) -> torch.Tensor:
                spec = torch.stft(x.reshape(-1, x.shape[-1]), n, n // 4, window=win, return_complex=True).abs()
                return torch.log(spec.transpose(-1, -2) @ mel + 1e-5)

            total = total + (logmel(input) - logmel(target)).abs().mean()
        return total / len(self.fft_sizes)


class CodecLoss(nn.Module):
    """The distortion term of model ``kind`` in {"A", "C", "D"}.

    ``mse_weight * MSE + mel_weight * MelLoss`` (A), ``+ priority_weight *
    PriorityWeightedLoss`` (C), ``+ noise_weight * NoiseModulationLoss`` (D).
    Defaults: 1, 1, 1, 0.01. The noise-modulation ratio is unbounded: from a
    random initialisation it dominates and the distortion can rise for a while,
    so model D is best fine-tuned from a trained model C.
    """

    def __init__(self, kind: str, sample_rate: int, mse_weight: float = 1.0, mel_weight: float = 1.0,
                 priority_weight: float = 1.0, noise_weight: float = 0.01) -> None:
        super().__init__()
        self.kind = check_choice(kind, "kind", ("A", "C", "D"))
        self.weights = (mse_weight, mel_weight, priority_weight, noise_weight)
        self.mel = MelLoss(sample_rate)
        self.priority = PriorityWeightedLoss(sample_rate) if kind in ("C", "D") else None
        self.noise = NoiseModulationLoss(sample_rate) if kind == "D" else None

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        w_mse, w_mel, w_pri, w_noise = self.weights
        loss = w_mse * (input - target).pow(2).mean() + w_mel * self.mel(input, target)
        if self.priority is not None:
            loss = loss + w_pri * self.priority(input, target)
        if self.noise is not None:
            loss = loss + w_noise * self.noise(input, target)
        return loss


def bits_per_code(kbps: float, sample_rate: int) -> float:
    """Bits per code for ``kbps`` per module: 256 codes every 480 samples."""
    return kbps * 1000.0 / (256 * sample_rate / HOP)


@dataclass
class TrainLog:
    """Per-step record of a training run."""

    distortion: list[float] = field(default_factory=list)
    entropy_bits: list[list[float]] = field(default_factory=list)
    rate_weight: list[list[float]] = field(default_factory=list)


def train_codec(codec: CascadedCodec, signals: list[torch.Tensor], sample_rate: int, kind: str = "A", *,
                steps: int = 100, batch: int = 8, segment_frames: int = 8, lr: float = 2e-4,
                target_kbps: float | None = None, rate_gain: float = 0.05, seed: int = 0,
                progress: bool = True) -> TrainLog:
    """Adam training on random segments of ``signals`` (mono tensors at ``sample_rate``).

    With ``target_kbps`` (per module) the rate term ``sum_m lambda_m H_m`` is
    added and each ``lambda_m`` is multiplied by ``exp(rate_gain (H_m - target) / target)``
    after every step.
    """
    rate = check_sample_rate(sample_rate)
    length = (segment_frames - 1) * HOP + FRAME
    for i, s in enumerate(signals):
        check_signal(s, f"signals[{i}]", min_length=length)
    loss_fn = CodecLoss(kind, rate)
    optimizer = torch.optim.Adam(codec.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    target_bits = bits_per_code(target_kbps, rate) if target_kbps is not None else None
    lambdas = [0.01 for _ in codec.stages]
    log = TrainLog()
    codec.train()
    for _ in tqdm(range(steps), desc=f"codec {kind}", disable=not progress, leave=False):
        picks = torch.randint(len(signals), (batch,), generator=g)
        segs = []
        for p in picks.tolist():
            start = int(torch.randint(len(signals[p]) - length + 1, (1,), generator=g))
            segs.append(signals[p][start : start + length].float())
        x = torch.stack(segs)  # (batch, length)
        frames = frame(x).reshape(-1, FRAME)
        recon, _, assignments = codec.run(frames)
        y = overlap_add(recon.reshape(batch, -1, FRAME), length)
        distortion = loss_fn(y, x)
        entropies = [code_entropy_bits(a) for a in assignments]
        loss = distortion
        if target_bits is not None:
            loss = loss + sum(lam * h for lam, h in zip(lambdas, entropies, strict=True))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        hs = [float(h.detach()) for h in entropies]
        if target_bits is not None:
            lambdas = [lam * math.exp(rate_gain * (h - target_bits) / target_bits) for lam, h in zip(lambdas, hs,
                                                                                                      strict=True)]
        log.distortion.append(float(distortion.detach()))
        log.entropy_bits.append(hs)
        log.rate_weight.append(list(lambdas))
    codec.eval()
    return log
