"""Losses and training of the neural codec (Zhen et al. 2020, models A-D).

- Model A: time-domain MSE alone (the work's model A).
- Model B: A + a mel-scale-weighted log-spectral loss (:class:`MelWeightedLoss`).
  This is our reading of the work's "mel-scale weighting": the per-line
  squared level error of the 512-point spectrum, each line weighted by its share
  of the mel filterbank (every mel band carries the same total weight), so low
  lines count more than high ones. The work's exact definition is not
  reproduced; this reading is stated wherever model B's numbers appear.
- Model C: B + the priority-weighted spectral loss (:class:`~percloss.masking_losses.PriorityWeightedLoss`).
- Model D: C + the noise-modulation loss (:class:`~percloss.masking_losses.NoiseModulationLoss`, max form).
- Rate: the entropy of each module's soft code histogram, weighted by a
  per-module multiplier that a controller raises while the entropy is above the
  target bits per code and lowers while it is below.

Loss weights are our choices (stated in :class:`CodecLoss`); the work's own
are not known to this library. :func:`train_codec` saves resumable
checkpoints; resuming under another ``kind`` fine-tunes (how model D is
trained from model C in the codec chapter).
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from ._checks import check_choice, check_same_shape, check_sample_rate, check_signal
from .codec import FRAME, HOP, CascadedCodec, code_entropy_bits, frame, overlap_add
from .filterbank import mel_triangles
from .masking import spectrum_db
from .masking_losses import NoiseModulationLoss, PriorityWeightedLoss

__all__ = ["MelLoss", "MelWeightedLoss", "mel_line_weights", "CodecLoss", "KINDS", "bits_per_code", "TrainLog",
           "train_codec"]

KINDS = ("A", "B", "C", "D")


def _check_pair(input: torch.Tensor, target: torch.Tensor, min_length: int = 1) -> None:
    """``input`` and ``target``: finite floating-point ``(..., time)`` tensors of one shape, dtype and device."""
    check_signal(input, "input", min_length=min_length)
    check_signal(target, "target", min_length=min_length)
    check_same_shape(input, target, "input", "target")


class MelLoss(nn.Module):
    """Mean L1 distance of ``log(mel + 1e-5)`` spectrograms at several FFT sizes (hop = size / 4).

    ``input`` and ``target`` must have one shape ``(..., time)`` with more than
    half the largest FFT size of samples, and finite values (else ``ValueError``).
    """

    def __init__(self, sample_rate: int, fft_sizes: tuple[int, ...] = (256, 512, 1024), n_mels: int = 64) -> None:
        super().__init__()
        self.sample_rate = check_sample_rate(sample_rate)
        self.fft_sizes = fft_sizes
        for n in fft_sizes:
            self.register_buffer(f"mel{n}", torch.from_numpy(mel_triangles(n, self.sample_rate, n_mels)).float())
            self.register_buffer(f"win{n}", torch.hann_window(n))

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_pair(input, target, min_length=max(self.fft_sizes) // 2 + 1)  # the STFT's reflection padding
        total = input.new_zeros(())
        for n in self.fft_sizes:
            mel, win = getattr(self, f"mel{n}").to(input.dtype), getattr(self, f"win{n}").to(input.dtype)

            def logmel(x: torch.Tensor, n: int = n, mel: torch.Tensor = mel, win: torch.Tensor = win) -> torch.Tensor:
                spec = torch.stft(x.reshape(-1, x.shape[-1]), n, n // 4, window=win, return_complex=True).abs()
                return torch.log(spec.transpose(-1, -2) @ mel + 1e-5)

            total = total + (logmel(input) - logmel(target)).abs().mean()
        return total / len(self.fft_sizes)


def mel_line_weights(n_fft: int, sample_rate: int, n_mels: int = 64) -> torch.Tensor:
    """Weight of each rFFT line under the mel scale, ``(n_fft/2 + 1,)``, mean 1.

    Each HTK-mel triangle is scaled to unit area and the triangles are summed:
    a line's weight is inversely proportional to the width of the mel bands it
    belongs to, so every mel band carries the same total weight.
    """
    tri = torch.from_numpy(mel_triangles(n_fft, sample_rate, n_mels, slaney_norm=True))
    tri = tri / tri.sum(0, keepdim=True).clamp_min(1e-12)
    w = tri.sum(1)
    return (w / w.mean()).float()


class MelWeightedLoss(nn.Module):
    """Model B's term: ``mean_{frames, lines} w_f ((L_in - L_tg) / 10)^2``, ``w`` from :func:`mel_line_weights`.

    Levels ``L`` are :func:`percloss.masking.spectrum_db` (512-point Hann, dB SPL
    with full scale at 96 dB) floored softly at 0 dB as in
    :class:`~percloss.masking_losses.PriorityWeightedLoss`, so the two terms
    are on one scale and differ only in their weights. ``input`` and ``target``
    must have one shape ``(..., time)``, at least ``n_fft`` samples and finite
    values (else ``ValueError``).
    """

    def __init__(self, sample_rate: int, n_fft: int = 512, n_mels: int = 64) -> None:
        super().__init__()
        self.sample_rate = check_sample_rate(sample_rate)
        self.n_fft = n_fft
        self.register_buffer("weights", mel_line_weights(n_fft, self.sample_rate, n_mels))

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_pair(input, target, min_length=self.n_fft)

        def soft(x: torch.Tensor) -> torch.Tensor:
            return 10.0 * torch.log10(torch.pow(10.0, spectrum_db(x, self.n_fft) / 10.0) + 1.0)

        with torch.no_grad():
            level_tg = soft(target)
        err = ((soft(input) - level_tg) / 10.0).pow(2)
        weights: torch.Tensor = self.weights  # type: ignore[assignment]
        return (weights.to(err.dtype) * err).mean()


class CodecLoss(nn.Module):
    """The distortion term of model ``kind`` in {"A", "B", "C", "D"} (Zhen et al.'s list).

    - A: ``mse_weight * MSE`` (the work's model A: the codec under MSE alone);
    - B: A ``+ mel_weighted_weight * MelWeightedLoss`` (our reading of the work's
      "mel-scale" loss, see :class:`MelWeightedLoss`);
    - C: B ``+ priority_weight * PriorityWeightedLoss``;
    - D: C ``+ noise_weight * NoiseModulationLoss``.

    Defaults: 1, 1, 1, 0.01 (our choices; the work's weights are not known to
    this library). The masking terms use model 1 with ``calibration`` (default
    ``"iso"``, the standard's). The noise-modulation ratio is unbounded: from a
    random initialisation it dominates and the distortion can rise for a
    while, so model D is best fine-tuned from a trained model C. ``input`` and
    ``target`` must have one shape, dtype and device, at least one codec frame
    (512 samples) and finite values (else ``ValueError``). :meth:`components`
    returns each weighted term.

    Shape:
        ``(..., time), (..., time) -> ()``
    """

    def __init__(self, kind: str, sample_rate: int, mse_weight: float = 1.0, mel_weighted_weight: float = 1.0,
                 priority_weight: float = 1.0, noise_weight: float = 0.01, calibration: str = "iso") -> None:
        super().__init__()
        self.kind = check_choice(kind, "kind", KINDS)
        self.weights = {"mse": mse_weight, "mel_weighted": mel_weighted_weight, "priority": priority_weight,
                        "noise_modulation": noise_weight}
        self.mel_weighted = MelWeightedLoss(sample_rate) if kind != "A" else None
        self.priority = PriorityWeightedLoss(sample_rate, calibration=calibration) if kind in ("C", "D") else None
        self.noise = NoiseModulationLoss(sample_rate, calibration=calibration) if kind == "D" else None

    def components(self, input: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each weighted term of this model's distortion, by name (their sum is :meth:`forward`)."""
        _check_pair(input, target, min_length=FRAME)  # one codec frame: every model sees the same minimum
        terms = {"mse": self.weights["mse"] * (input - target).pow(2).mean()}
        if self.mel_weighted is not None:
            terms["mel_weighted"] = self.weights["mel_weighted"] * self.mel_weighted(input, target)
        if self.priority is not None:
            terms["priority"] = self.weights["priority"] * self.priority(input, target)
        if self.noise is not None:
            terms["noise_modulation"] = self.weights["noise_modulation"] * self.noise(input, target)
        return terms

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total: torch.Tensor = sum(self.components(input, target).values())  # type: ignore[assignment]
        return total


def bits_per_code(kbps: float, sample_rate: int) -> float:
    """Bits per code for ``kbps`` per module: 256 codes every 480 samples."""
    return kbps * 1000.0 / (256 * sample_rate / HOP)


@dataclass
class TrainLog:
    """Per-step record of a training run (``kind`` names the loss of each step)."""

    distortion: list[float] = field(default_factory=list)
    entropy_bits: list[list[float]] = field(default_factory=list)
    rate_weight: list[list[float]] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)

    @property
    def steps(self) -> int:
        return len(self.distortion)


def _save_state(path: Path, codec: CascadedCodec, optimizer: torch.optim.Optimizer, lambdas: list[float],
                generator: torch.Generator, log: TrainLog, config: dict[str, object]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"codec": codec.state_dict(), "optimizer": optimizer.state_dict(), "lambdas": lambdas,
                "generator": generator.get_state(), "log": asdict(log), "config": config}, tmp)
    os.replace(tmp, path)


def train_codec(codec: CascadedCodec, signals: list[torch.Tensor], sample_rate: int, kind: str = "A", *,
                steps: int = 100, batch: int = 8, segment_frames: int = 8, lr: float = 2e-4,
                target_kbps: float | None = None, rate_gain: float = 0.05, seed: int = 0,
                anneal: tuple[float, float] = (10.0, 300.0), anneal_steps: int | None = None,
                max_grad_norm: float = 1.0,
                checkpoint: str | os.PathLike[str] | None = None, save_every: int = 100,
                progress: bool = True) -> TrainLog:
    """Adam training on random segments of ``signals`` (mono tensors at ``sample_rate``) up to ``steps`` steps.

    With ``target_kbps`` (per module) the rate term ``sum_m lambda_m H_m`` is
    added and each ``lambda_m`` is multiplied by ``exp(rate_gain (H_m - target) / target)``
    after every step.

    Quantisation: hard centroids forward, the soft assignment's gradient
    backward (straight-through), so training decodes what inference decodes.
    The quantisers' sharpness ``alpha`` (learned) is annealed: after step ``t``
    of ``T = anneal_steps`` (Default: ``steps``) it is at least
    ``anneal[0] * (anneal[1] / anneal[0]) ** min(t / T, 1)``;
    as it rises the soft entropy estimate approaches the hard codes' entropy.
    Gradients are clipped to norm ``max_grad_norm``.

    With ``checkpoint``, the whole state (parameters, optimiser, rate
    multipliers, sampler, log) is saved there every ``save_every`` steps and at
    the end; if the file exists, training resumes from it (its sample rate,
    module count, batch shape and rate target must match) and runs on to
    ``steps`` in total. A checkpoint written under another ``kind`` is
    fine-tuned with this ``kind``'s loss, with a fresh optimiser (Adam's moment
    estimates from another loss's scale would make its first steps far too large).
    """
    rate = check_sample_rate(sample_rate)
    length = (segment_frames - 1) * HOP + FRAME
    for i, s in enumerate(signals):
        check_signal(s, f"signals[{i}]", min_length=length)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    loss_fn = CodecLoss(kind, rate)
    optimizer = torch.optim.Adam(codec.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    target_bits = bits_per_code(target_kbps, rate) if target_kbps is not None else None
    lambdas = [0.01 for _ in codec.stages]
    log = TrainLog()
    config: dict[str, object] = {"sample_rate": rate, "n_modules": len(codec.stages), "batch": batch,
                                 "segment_frames": segment_frames, "target_kbps": target_kbps}
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None and path.is_file():
        state = torch.load(path, map_location="cpu", weights_only=False)
        if state["config"] != config:
            raise ValueError(f"checkpoint {str(path)!r} was written with {state['config']}, not {config}")
        codec.load_state_dict(state["codec"])
        if not state["log"]["kind"] or state["log"]["kind"][-1] == kind:
            optimizer.load_state_dict(state["optimizer"])
        lambdas = list(state["lambdas"])
        g.set_state(state["generator"])
        log = TrainLog(**state["log"])
    horizon = max(anneal_steps if anneal_steps is not None else steps, 1)
    codec.train()
    for step in tqdm(range(log.steps, steps), desc=f"codec {kind}", disable=not progress, leave=False,
                     initial=log.steps, total=steps):
        picks = torch.randint(len(signals), (batch,), generator=g)
        segs = []
        for p in picks.tolist():
            start = int(torch.randint(len(signals[p]) - length + 1, (1,), generator=g))
            segs.append(signals[p][start : start + length].float())
        x = torch.stack(segs)  # (batch, length)
        frames = frame(x).reshape(-1, FRAME)
        floor = math.log(anneal[0]) + (math.log(anneal[1]) - math.log(anneal[0])) * min(step / horizon, 1.0)
        with torch.no_grad():
            for quantizer in codec.quantizers:
                quantizer.log_alpha.clamp_(min=floor)  # type: ignore[operator]
        recon, _, assignments = codec.run(frames, straight_through=True)
        y = overlap_add(recon.reshape(batch, -1, FRAME), length)
        distortion = loss_fn(y, x)
        entropies = [code_entropy_bits(a) for a in assignments]
        loss = distortion
        if target_bits is not None:
            loss = loss + sum(lam * h for lam, h in zip(lambdas, entropies, strict=True))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(codec.parameters(), max_grad_norm)
        optimizer.step()
        hs = [float(h.detach()) for h in entropies]
        if target_bits is not None:
            lambdas = [lam * math.exp(rate_gain * (h - target_bits) / target_bits) for lam, h in zip(lambdas, hs,
                                                                                                      strict=True)]
        log.distortion.append(float(distortion.detach()))
        log.entropy_bits.append(hs)
        log.rate_weight.append(list(lambdas))
        log.kind.append(kind)
        if path is not None and ((step + 1) % save_every == 0 or step + 1 == steps):
            _save_state(path, codec, optimizer, lambdas, g, log, config)
    codec.eval()
    return log
