"""Losses and training of the neural codec (Zhen et al. 2020, models A-D).

- Model A: time-domain MSE alone (the work's model A).
- Model B: A + a mel-scale-weighted log-spectral loss (:class:`~percloss.losses.MelWeightedLoss`).
  This is our reading of the work's "mel-scale weighting": the per-line
  squared level error of the 512-point spectrum, each line weighted by its share
  of the mel filterbank (every mel band carries the same total weight), so low
  lines count more than high ones. The work's exact definition is not
  reproduced; this reading is stated wherever model B's numbers appear.
- Model C: B + the priority-weighted spectral loss (:class:`~percloss.losses.PriorityWeightedLoss`).
- Model D: C + the noise-modulation loss (:class:`~percloss.losses.NoiseModulationLoss`, max form).
- Rate: the entropy of each module's soft code histogram, weighted by a
  per-module multiplier that a controller raises while the entropy is above the
  target bits per code and lowers while it is below.

Loss weights are our choices (stated in :class:`CodecLoss`); the work's own
are not known to this library. :func:`train_codec` saves resumable
checkpoints; resuming under another ``kind`` fine-tunes (how model D is
trained from model C in the codec chapter).
"""

from __future__ import annotations

import csv
import math
import os
import signal
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ._checks import (
    check_choice,
    check_integer,
    check_positive,
    check_real,
    check_sample_rate,
    check_signal,
)
from ._optional import tqdm
from .codec import (
    FRAME,
    HOP,
    SATURATION_PREACTIVATION,
    CascadedCodec,
    SoftmaxQuantizer,
    code_entropy_bits,
    frame,
    hard_entropy_bits,
    overlap_add,
    reseed_centroids,
    saturation_penalty,
)
from .losses import (
    MelWeightedLoss,
    NoiseModulationLoss,
    PriorityWeightedLoss,
    check_pair,
    check_reduction,
    reduce_elements,
)

__all__ = ["CodecLoss", "KINDS", "PRECISIONS", "LOG_COLUMNS", "bits_per_code", "TrainLog", "sample_segments",
           "reseed_codec", "RATE_ENTROPIES", "RATE_CONTROLS", "update_rate_weights_signed", "anneal_floor",
           "apply_anneal_floor", "RATE_WEIGHT_RANGE", "update_rate_weights", "rate_term", "train_codec",
           "TrainSettings", "stop_requests"]

KINDS = ("A", "B", "C", "D")


class CodecLoss(nn.Module):
    """The distortion term of model ``kind`` in {"A", "B", "C", "D"} (Zhen et al.'s list).

    - A: ``mse_weight * MSE`` (the work's model A: the codec under MSE alone);
    - B: A ``+ mel_weighted_weight * MelWeightedLoss`` (our reading of the work's
      "mel-scale" loss, see :class:`~percloss.losses.MelWeightedLoss`);
    - C: B ``+ priority_weight * PriorityWeightedLoss``;
    - D: C ``+ noise_weight * NoiseModulationLoss``.

    Defaults: 1, 1, 1, 0.01 (our choices; the work's weights are not known to
    this library). The masking terms use model 1 with ``calibration`` (default
    ``"iso"``, the standard's). The noise-modulation ratio is unbounded: from a
    random initialisation it dominates and the distortion can rise for a
    while, so model D is best fine-tuned from a trained model C. ``input`` and
    ``target`` must have one shape, dtype and device, at least one codec frame
    (512 samples) and finite values (else ``ValueError``), checked once for all
    terms. :meth:`components` returns each weighted term.

    Args:
        kind: ``"A"``, ``"B"``, ``"C"`` or ``"D"``.
        sample_rate: Hz.
        mse_weight, mel_weighted_weight, priority_weight, noise_weight: the
            terms' weights. (Default: 1, 1, 1, 0.01)
        calibration: level calibration of model 1. (Default: ``"iso"``)
        reduction: ``"none"``, ``"mean"`` or ``"sum"``. (Default: ``"mean"``)

    Shape:
        ``(..., time), (..., time) -> ()`` or ``(...)`` with ``reduction="none"``;
        ``time >= 512``.
    """

    def __init__(self, kind: str, sample_rate: int, mse_weight: float = 1.0, mel_weighted_weight: float = 1.0,
                 priority_weight: float = 1.0, noise_weight: float = 0.01, calibration: str = "iso",
                 reduction: str = "mean") -> None:
        super().__init__()
        self.kind = check_choice(kind, "kind", KINDS)
        self.reduction = check_reduction(reduction)
        self.weights = {name: check_positive(w, f"{name}_weight", allow_zero=True) for name, w in (
            ("mse", mse_weight), ("mel_weighted", mel_weighted_weight), ("priority", priority_weight),
            ("noise_modulation", noise_weight))}
        r = self.reduction
        self.mel_weighted = MelWeightedLoss(sample_rate, reduction=r) if kind != "A" else None
        self.priority = (PriorityWeightedLoss(sample_rate, calibration=calibration, reduction=r)
                         if kind in ("C", "D") else None)
        self.noise = NoiseModulationLoss(sample_rate, calibration=calibration, reduction=r) if kind == "D" else None

    def components(self, input: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each weighted term of this model's distortion, by name (their sum is :meth:`forward`).

        Shape:
            ``(..., time), (..., time) -> {name: ()}`` or ``{name: (...)}`` with ``reduction="none"``.
        """
        check_pair(input, target, min_length=FRAME)  # one codec frame: every model sees the same minimum
        mse = reduce_elements((input - target).pow(2), input.shape[:-1], self.reduction)
        terms = {"mse": self.weights["mse"] * mse}
        if self.mel_weighted is not None:
            terms["mel_weighted"] = self.weights["mel_weighted"] * self.mel_weighted.forward_unchecked(input, target)
        # model 1 analyses the target once for both masking terms (their settings are the same)
        analysis = self.priority.analyse_target(target) if self.priority is not None else None
        if self.priority is not None:
            terms["priority"] = self.weights["priority"] * self.priority.forward_unchecked(input, target, analysis)
        if self.noise is not None:
            terms["noise_modulation"] = self.weights["noise_modulation"] * self.noise.forward_unchecked(
                input, target, analysis)
        return terms

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total: torch.Tensor = sum(self.components(input, target).values())  # type: ignore[assignment]
        return total


def bits_per_code(kbps: float, sample_rate: int) -> float:
    """Bits per code for ``kbps`` per module: 256 codes every 480 samples."""
    rate = check_sample_rate(sample_rate)
    return check_real(kbps, "kbps", 0.0, lo_open=True) * 1000.0 / (256 * rate / HOP)


@dataclass
class TrainLog:
    """Per-step record of a training run (``kind`` names the loss of each step).

    ``wall_seconds`` is the run's cumulative training time after each step
    (across resumptions); ``terms`` holds each step's weighted distortion terms;
    ``entropy_bits`` the soft-assignment entropy per module (the differentiable
    rate estimate), ``hard_entropy_bits`` the entropy of the hard codes (what
    the range coder pays; logged since the two-module runs collapsed while the
    soft estimate looked right), ``reseeded`` the centroids re-seeded per module,
    ``saturated`` the share of codes on the flat ends of the encoder's ``tanh``
    (:data:`percloss.codec.SATURATION_PREACTIVATION`) per module.
    """

    distortion: list[float] = field(default_factory=list)
    entropy_bits: list[list[float]] = field(default_factory=list)
    rate_weight: list[list[float]] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    wall_seconds: list[float] = field(default_factory=list)
    terms: list[dict[str, float]] = field(default_factory=list)
    hard_entropy_bits: list[list[float]] = field(default_factory=list)
    reseeded: list[list[int]] = field(default_factory=list)
    saturated: list[list[float]] = field(default_factory=list)

    @property
    def steps(self) -> int:
        return len(self.distortion)

    def record(self, kind: str, distortion: float, terms: dict[str, float], soft: list[float], hard: list[float],
               reseeded: list[int], saturated: list[float], rate_weight: list[float], wall_seconds: float) -> None:
        """Append one step."""
        self.kind.append(kind)
        self.distortion.append(distortion)
        self.terms.append(terms)
        self.entropy_bits.append(soft)
        self.hard_entropy_bits.append(hard)
        self.reseeded.append(reseeded)
        self.saturated.append(saturated)
        self.rate_weight.append(list(rate_weight))
        self.wall_seconds.append(wall_seconds)


#: Columns of the training-log CSV (:func:`train_codec`'s ``log_csv``).
LOG_COLUMNS = ("step", "kind", "wall_s", "distortion", "mse", "mel_weighted", "priority", "noise_modulation",
               "entropy_bits", "rate_weight", "est_kbps", "hard_entropy_bits", "reseeded", "saturated")
#: Which entropy the rate controller follows (:func:`train_codec`'s ``rate_entropy``).
RATE_ENTROPIES = ("soft", "hard")
PRECISIONS = ("fp32", "bf16")


def _save_state(path: Path, codec: CascadedCodec, optimizer: torch.optim.Optimizer, lambdas: list[float],
                generator: torch.Generator, log: TrainLog, config: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"codec": codec.state_dict(), "optimizer": optimizer.state_dict(), "lambdas": lambdas,
                "generator": generator.get_state(), "log": asdict(log), "config": config}, tmp)
    os.replace(tmp, path)


def sample_segments(signals: list[torch.Tensor], batch: int, length: int, generator: torch.Generator) -> torch.Tensor:
    """``batch`` random segments of ``length`` samples from random ``signals``, ``(batch, length)`` float32."""
    picks = torch.randint(len(signals), (batch,), generator=generator)
    segs = []
    for p in picks.tolist():
        start = int(torch.randint(len(signals[p]) - length + 1, (1,), generator=generator))
        segs.append(signals[p][start : start + length].float())
    return torch.stack(segs)


def anneal_floor(step: int, horizon: int, anneal: tuple[float, float]) -> float:
    """Lower bound of the quantisers' ``log alpha`` after ``step`` of ``horizon``: geometric from ``anneal[0]`` to ``[1]``."""
    fraction = min(step / max(horizon, 1), 1.0)
    return math.log(anneal[0]) + (math.log(anneal[1]) - math.log(anneal[0])) * fraction


#: Bounds of the rate multipliers (anti-windup). The shipped one-module runs kept every ``lambda`` in
#: [5.4e-5, 0.151] (their logs; tested), so the bounds never acted on them. Unbounded, two-module runs wound
#: ``lambda`` up to 2e4 (the second module's codes collapsed to one centroid) and then down to 1e-56, from
#: where it could not recover in the steps left (``runs/codec/attempts``).
RATE_WEIGHT_RANGE = (1e-5, 1.0)


def update_rate_weights(lambdas: list[float], entropy_bits: list[float], target_bits: float,
                        gain: float, bounds: tuple[float, float] = RATE_WEIGHT_RANGE) -> list[float]:
    """Rate controller: each ``lambda_m`` times ``exp(gain (H_m - target) / target)``, kept within ``bounds``."""
    lo, hi = bounds
    return [min(max(lam * math.exp(gain * (h - target_bits) / target_bits), lo), hi)
            for lam, h in zip(lambdas, entropy_bits, strict=True)]


#: Bound and gain of the signed controller (:func:`update_rate_weights_signed`). The multiplier that holds a
#: rate target grows with the loss's scale (model B's distortion is ~400 times model A's MSE; B79 sat at a bound
#: of 1 from step 200 with its entropy above target), so the bound is wide; the step, on the loss's own scale,
#: is what keeps the multiplier from winding up.
SIGNED_RATE_BOUND = 10.0
SIGNED_RATE_GAIN = 0.05
#: Steps of distortion whose mean sets the signed controller's step size.
SIGNED_RATE_WINDOW = 50
#: How the rate multipliers follow the entropy (:func:`train_codec`'s ``rate_control``).
RATE_CONTROLS = ("multiplicative", "signed")


def update_rate_weights_signed(lambdas: list[float], entropy_bits: list[float], target_bits: float,
                               scale: float, gain: float = SIGNED_RATE_GAIN,
                               bound: float = SIGNED_RATE_BOUND) -> list[float]:
    """Rate controller for an *equality* target: ``lambda_m + gain * scale * (H_m - target) / target`` within
    ``[-bound, bound]``; ``scale``: the distortion's recent mean, so the step is on the loss's own scale
    (the multipliers that balance MSE are ~1e-3, those of the masking losses ~100 times larger).

    The multiplicative controller (:func:`update_rate_weights`) keeps ``lambda`` positive, so below the
    target it can only stop pressing; the rate term cannot push the entropy back up. Here ``lambda`` may turn
    negative, and the term ``lambda H`` then rewards entropy: a Lagrange multiplier of ``H = target``.
    """
    step = gain * scale
    return [min(max(lam + step * (h - target_bits) / target_bits, -bound), bound)
            for lam, h in zip(lambdas, entropy_bits, strict=True)]


def _append_csv(path: Path, log: TrainLog, first: int, sample_rate: int) -> None:
    """Append steps ``first:`` of ``log``; a log begun before the last three columns existed keeps its header."""
    new = not path.is_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = len(LOG_COLUMNS)
    if not new:
        with path.open(newline="") as f:
            columns = len(next(csv.reader(f), LOG_COLUMNS))
    codes_per_second = 256 * sample_rate / HOP
    with path.open("a", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(LOG_COLUMNS)
        for i in range(first, log.steps):
            terms = log.terms[i] if i < len(log.terms) else {}
            hs = log.entropy_bits[i]
            hard = log.hard_entropy_bits[i] if i < len(log.hard_entropy_bits) else []
            moved = log.reseeded[i] if i < len(log.reseeded) else []
            saturated = log.saturated[i] if i < len(log.saturated) else []
            writer.writerow([
                i + 1, log.kind[i], f"{log.wall_seconds[i]:.1f}" if i < len(log.wall_seconds) else "",
                f"{log.distortion[i]:.6g}", *(f"{terms[k]:.6g}" if k in terms else "" for k in LOG_COLUMNS[4:8]),
                ";".join(f"{h:.4f}" for h in hs), ";".join(f"{lam:.5g}" for lam in log.rate_weight[i]),
                f"{sum(hs) * codes_per_second / 1000:.2f}",
                ";".join(f"{h:.4f}" for h in hard), ";".join(str(n) for n in moved),
                ";".join(f"{v:.4f}" for v in saturated),
            ][:columns])


def apply_anneal_floor(codec: CascadedCodec, floor: float) -> None:
    """Raise every quantiser's ``log alpha`` to at least ``floor`` (in place, outside autograd)."""
    with torch.no_grad():
        for quantizer in codec.quantizers:
            quantizer.log_alpha.clamp_(min=floor)  # type: ignore[operator]


def rate_term(lambdas: list[float], entropies: list[torch.Tensor]) -> torch.Tensor:
    """The rate term of the training loss, ``sum_m lambda_m H_m``."""
    total: torch.Tensor = sum(lam * h for lam, h in zip(lambdas, entropies, strict=True))  # type: ignore[assignment]
    return total


#: Pre-clip gradient norms whose median sets the relative clipping norm (:func:`gradient_clip_norm`), and how
#: many must be known before it acts.
CLIP_WINDOW = 100
CLIP_MIN_HISTORY = 10


def gradient_clip_norm(recent: list[float], max_norm: float, relative: float | None) -> float:
    """The norm a step's gradient is clipped to: ``max_norm``, and with ``relative``, at most ``relative`` times
    the median of the last :data:`CLIP_WINDOW` pre-clip norms ``recent`` (once :data:`CLIP_MIN_HISTORY` are
    known). Adam divides each step by the gradient's running scale, so a fixed norm far above the usual one
    does not limit a spike's update; a norm relative to the recent ones does."""
    if relative is None or len(recent) < CLIP_MIN_HISTORY:
        return max_norm
    return min(max_norm, relative * statistics.median(recent[-CLIP_WINDOW:]))


def _training_step(codec: CascadedCodec, loss_fn: CodecLoss, optimizer: torch.optim.Optimizer, x: torch.Tensor,
                   lambdas: list[float] | None, precision: str, max_grad_norm: float,
                   saturation_weight: float = 0.0
                   ) -> tuple[float, dict[str, float], list[float], list[float], list[float], float]:
    """One Adam step on the segments ``x``, ``(batch, length)``; ``lambdas`` add the rate term (``None``: no
    rate control). Returns the distortion, its weighted terms and each module's entropy in bits per code, of
    the soft assignments (differentiable, in the loss) and of the hard codes (the nearest centroids), each
    module's share of saturated codes, and the gradient's norm before clipping to ``max_grad_norm``;
    ``saturation_weight`` adds its multiple of :func:`percloss.codec.saturation_penalty` for every module."""
    frames = frame(x).reshape(-1, FRAME)
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        recon, _, assignments, pre = codec.run_with_preactivations(frames, straight_through=True)
    y = overlap_add(recon.float().reshape(x.shape[0], -1, FRAME), x.shape[-1])
    terms = loss_fn.components(y, x)
    distortion: torch.Tensor = sum(terms.values())  # type: ignore[assignment]
    entropies = [code_entropy_bits(a.float()) for a in assignments]
    loss = distortion
    if lambdas is not None:
        loss = loss + rate_term(lambdas, entropies)
    if saturation_weight:
        loss = loss + saturation_weight * sum(saturation_penalty(z.float()) for z in pre)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(codec.parameters(), max_grad_norm)
    optimizer.step()
    hard = [hard_entropy_bits(a.detach().argmax(-1), a.shape[-1]) for a in assignments]
    saturated = [(z.detach().abs() > SATURATION_PREACTIVATION).double().mean() for z in pre]
    # every logged number in one device-to-host copy (float64 holds each value exactly)
    values = torch.stack([t.detach().double()
                          for t in (distortion, *terms.values(), *entropies, *hard, *saturated, grad_norm)]).tolist()
    n, m = len(terms), len(entropies)
    return (values[0], dict(zip(terms, values[1 : 1 + n], strict=True)), values[1 + n : 1 + n + m],
            values[1 + n + m : 1 + n + 2 * m], values[1 + n + 2 * m : -1], values[-1])


def reseed_codec(codec: CascadedCodec, optimizer: torch.optim.Optimizer, x: torch.Tensor,
                 generator: torch.Generator) -> list[int]:
    """Re-seed every quantiser's dead and merged centroids (:func:`percloss.codec.reseed_centroids`) from the
    raw codes of the segments ``x``, ``(batch, length)``, and clear Adam's moments of the moved centroids.
    Returns the number moved per module."""
    raws = codec.raw_codes(frame(x).reshape(-1, FRAME))
    counts = []
    for quantizer, raw in zip(codec.quantizers, raws, strict=True):
        assert isinstance(quantizer, SoftmaxQuantizer)
        moved = reseed_centroids(quantizer, raw, generator)
        state = optimizer.state.get(quantizer.centroids, {})
        for key in ("exp_avg", "exp_avg_sq"):
            if key in state:
                state[key][moved] = 0
        counts.append(len(moved))
    return counts


def _resume(path: Path, config: dict[str, object], kind: str, codec: CascadedCodec,
            optimizer: torch.optim.Optimizer, generator: torch.Generator) -> tuple[list[float], TrainLog]:
    """Load the checkpoint at ``path`` into ``codec``, ``optimizer`` (unless written under another ``kind``)
    and ``generator``; return its rate multipliers and log."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - any unreadable file is a bad checkpoint
        raise ValueError(f"checkpoint {str(path)!r} is not a readable training state (damaged, or not written by "
                         "train_codec); move it away to start afresh") from None
    needed = ("config", "codec", "optimizer", "generator", "log", "lambdas")
    if not isinstance(state, dict) or any(k not in state for k in needed):
        raise ValueError(f"checkpoint {str(path)!r} is not a train_codec state (it lacks "
                         f"{', '.join(k for k in needed if not isinstance(state, dict) or k not in state)})")
    if state["config"] != config:
        raise ValueError(f"checkpoint {str(path)!r} was written with {state['config']}, not {config}")
    codec.load_state_dict(state["codec"])
    if not state["log"]["kind"] or state["log"]["kind"][-1] == kind:
        optimizer.load_state_dict(state["optimizer"])
    generator.set_state(state["generator"])
    log = TrainLog(**state["log"])
    for name in ("hard_entropy_bits", "reseeded", "saturated"):  # a log begun before these were recorded
        getattr(log, name)[:0] = [[]] * (log.steps - len(getattr(log, name)))
    return list(state["lambdas"]), log


@contextmanager
def stop_requests() -> Iterator[dict[str, bool]]:
    """While active, SIGTERM/SIGINT set ``["signal"]`` of the yielded flags instead of stopping the
    process (main thread only); the previous handlers come back on exit."""
    stop = {"signal": False}

    def request_stop(signum: int, _frame: object) -> None:
        stop["signal"] = True

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, request_stop)
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Saver:
    """Checkpoint and CSV writing of one :func:`train_codec` call: what is due and what was written."""

    def __init__(self, path: Path | None, csv_path: Path | None, sample_rate: int, config: dict[str, object],
                 logged: int, save_every: int, save_every_seconds: float | None) -> None:
        self.path, self.csv_path, self.sample_rate, self.config = path, csv_path, sample_rate, config
        self.logged, self.save_every, self.save_every_seconds = logged, save_every, save_every_seconds
        self.last_save = time.monotonic()

    def due(self, step: int, steps: int, now: float) -> bool:
        due = (step + 1) % self.save_every == 0 or step + 1 == steps
        return due or (self.save_every_seconds is not None and now - self.last_save >= self.save_every_seconds)

    def save(self, codec: CascadedCodec, optimizer: torch.optim.Optimizer, lambdas: list[float],
             generator: torch.Generator, log: TrainLog) -> None:
        if self.path is not None:
            _save_state(self.path, codec, optimizer, lambdas, generator, log, self.config)
        if self.csv_path is not None:
            _append_csv(self.csv_path, log, self.logged, self.sample_rate)
            self.logged = log.steps
        self.last_save = time.monotonic()


@dataclass(frozen=True)
class TrainSettings:
    """What a :func:`train_codec` run optimises and how; checked at construction.

    Segments: ``batch`` random segments of ``segment_frames`` codec frames per
    step, ``steps`` Adam steps in total (lr ``lr``), seed ``seed``. Rate: with
    ``target_kbps`` (per module) the term ``sum_m lambda_m H_m`` is added
    (``H_m``: the soft assignments' entropy) and each ``lambda_m`` follows
    :func:`update_rate_weights` (gain ``rate_gain``) after every step, driven by
    the soft entropy (``rate_entropy="soft"``, as the one-module models were
    trained) or by the hard codes' entropy (``"hard"``: what the file pays;
    coincident centroids make the soft one overstate it);
    ``rate_control="signed"`` uses :func:`update_rate_weights_signed` instead (the
    multiplier may turn negative below the target); with ``reward_gap_bits`` it may be negative only while
    the soft entropy exceeds the hard one by at most that many bits, else it is held at 0 (a negative
    multiplier rewards the soft entropy, which a codec can raise while its hard entropy falls: C64's
    runaway, ``runs/codec/attempts/broad-signed/``). ``reseed_every``: every that
    many steps dead and merged centroids are re-seeded (:func:`reseed_codec`;
    the draws come from a generator seeded by ``seed`` and the step, so a resumed
    run re-seeds as an uninterrupted one would). ``saturation_weight`` adds that
    multiple of :func:`percloss.codec.saturation_penalty` per module (keeps the
    encoders' outputs off the flat ends of their ``tanh``).

    Quantisation: the quantisers' sharpness ``alpha`` (learned) is annealed: after
    step ``t`` of ``T = anneal_steps`` (Default: ``steps``) it is at least
    ``anneal[0] * (anneal[1] / anneal[0]) ** min(t / T, 1)``. Gradients are
    clipped to norm ``max_grad_norm`` and, with ``clip_relative``, to that multiple of the median
    pre-clip norm of the last 100 steps (:func:`gradient_clip_norm`; the history restarts when a run
    resumes). ``precision="bf16"`` runs the codec's
    forward and backward under bfloat16 autocast (loss and optimiser stay float32).
    """

    steps: int = 100
    batch: int = 8
    segment_frames: int = 8
    lr: float = 2e-4
    target_kbps: float | None = None
    rate_gain: float = 0.05
    seed: int = 0
    anneal: tuple[float, float] = (10.0, 300.0)
    anneal_steps: int | None = None
    max_grad_norm: float = 1.0
    clip_relative: float | None = None
    precision: str = "fp32"
    rate_entropy: str = "soft"
    reseed_every: int | None = None
    saturation_weight: float = 0.0
    rate_control: str = "multiplicative"
    reward_gap_bits: float | None = None

    def __post_init__(self) -> None:
        check_integer(self.steps, "steps", 0)
        check_integer(self.batch, "batch", 1)
        check_integer(self.segment_frames, "segment_frames", 1)
        check_positive(self.lr, "lr")
        if self.target_kbps is not None:
            check_positive(self.target_kbps, "target_kbps")
        check_positive(self.rate_gain, "rate_gain")
        check_integer(self.seed, "seed", 0)
        if len(self.anneal) != 2:
            raise ValueError(f"anneal must be (start, end), got {self.anneal!r}")
        for a in self.anneal:
            check_positive(a, "anneal")
        if self.anneal_steps is not None:
            check_integer(self.anneal_steps, "anneal_steps", 1)
        check_positive(self.max_grad_norm, "max_grad_norm")
        if self.clip_relative is not None:
            check_positive(self.clip_relative, "clip_relative")
        check_choice(self.precision, "precision", PRECISIONS)
        check_choice(self.rate_entropy, "rate_entropy", RATE_ENTROPIES)
        if self.reseed_every is not None:
            check_integer(self.reseed_every, "reseed_every", 1)
        check_positive(self.saturation_weight, "saturation_weight", allow_zero=True)
        check_choice(self.rate_control, "rate_control", RATE_CONTROLS)
        if self.reward_gap_bits is not None:
            check_positive(self.reward_gap_bits, "reward_gap_bits")

    @property
    def segment_length(self) -> int:
        """Samples per training segment."""
        return (self.segment_frames - 1) * HOP + FRAME

    def checkpoint_key(self, sample_rate: int, n_modules: int) -> dict[str, object]:
        """What a checkpoint must match to be resumed (settings at their defaults are left out, so
        checkpoints written before a setting existed still resume)."""
        key: dict[str, object] = {"sample_rate": sample_rate, "n_modules": n_modules, "batch": self.batch,
                                  "segment_frames": self.segment_frames, "target_kbps": self.target_kbps}
        for name, default in (("precision", "fp32"), ("rate_entropy", "soft"), ("reseed_every", None),
                              ("rate_control", "multiplicative"), ("saturation_weight", 0.0),
                              ("reward_gap_bits", None)):
            value = getattr(self, name)
            if value != default:
                key[name] = float(value) if name in ("saturation_weight", "reward_gap_bits") else value
        return key

    def initial_rate_weights(self, n_modules: int) -> list[float]:
        """The rate multipliers at step 0 (the signed controller starts from no rate pressure)."""
        return [0.0 if self.rate_control == "signed" else 0.01] * n_modules

    def next_rate_weights(self, lambdas: list[float], soft: list[float], hard: list[float],
                          target_bits: float, recent_distortion: list[float]) -> list[float]:
        """The rate multipliers after a step with these soft and hard entropies (bits per code);
        ``recent_distortion``: the last steps' distortions, this one's included."""
        followed = hard if self.rate_entropy == "hard" else soft
        if self.rate_control == "signed":
            scale = sum(recent_distortion[-SIGNED_RATE_WINDOW:]) / len(recent_distortion[-SIGNED_RATE_WINDOW:])
            new = update_rate_weights_signed(lambdas, followed, target_bits, scale)
            if self.reward_gap_bits is not None:
                new = [0.0 if lam < 0 and s_ - h > self.reward_gap_bits else lam
                       for lam, s_, h in zip(new, soft, hard, strict=True)]
            return new
        return update_rate_weights(lambdas, followed, target_bits, self.rate_gain)


def train_codec(codec: CascadedCodec, signals: list[torch.Tensor], sample_rate: int, kind: str = "A",
                settings: TrainSettings | None = None, *, checkpoint: str | os.PathLike[str] | None = None,
                save_every: int = 100, save_every_seconds: float | None = None, max_seconds: float | None = None,
                log_csv: str | os.PathLike[str] | None = None, progress: bool = True,
                **overrides: Any) -> TrainLog:
    """Adam training of ``codec`` under model ``kind``'s loss on random segments of ``signals``
    (mono tensors at ``sample_rate``) up to ``settings.steps`` steps.

    ``settings``: a :class:`TrainSettings` (Default: its defaults); keyword
    ``overrides`` replace its fields (``train_codec(..., steps=20, batch=2)``).
    Quantisation: hard centroids forward, the soft assignment's gradient
    backward (straight-through), so training decodes what inference decodes.
    Training runs on the codec's device; segments are drawn on the CPU (the
    same draws on any device) and moved there.

    With ``checkpoint``, the whole state (parameters, optimiser, rate
    multipliers, sampler, log) is saved there every ``save_every`` steps (and
    every ``save_every_seconds``), at the end, after ``max_seconds`` of training
    in this call and on SIGTERM/SIGINT (training then stops after the current
    step); if the file exists, training resumes from it (its sample rate,
    module count and :meth:`TrainSettings.checkpoint_key` must match) and runs
    on to ``steps`` in total. A checkpoint written under another ``kind`` is
    fine-tuned with this ``kind``'s loss, with a fresh optimiser (Adam's moment
    estimates from another loss's scale would make its first steps far too large).
    ``log_csv`` gets one row per step (:data:`LOG_COLUMNS`), appended at each save.
    """
    try:
        s = replace(settings if settings is not None else TrainSettings(), **overrides)
    except TypeError as err:
        raise ValueError(f"train_codec: {err}") from None
    rate = check_sample_rate(sample_rate)
    if isinstance(signals, torch.Tensor) or not isinstance(signals, (list, tuple)) or not signals:
        raise ValueError("signals must be a non-empty list of mono (time,) tensors")
    for i, x in enumerate(signals):
        check_signal(x, f"signals[{i}]", min_length=s.segment_length)
        if x.dim() != 1:
            raise ValueError(f"signals[{i}] must be mono with shape (time,), got {tuple(x.shape)}")
    check_integer(save_every, "save_every", lo=1)
    device = next(codec.parameters()).device
    loss_fn = CodecLoss(kind, rate).to(device)
    optimizer = torch.optim.Adam(codec.parameters(), lr=s.lr)
    g = torch.Generator().manual_seed(s.seed)
    target_bits = bits_per_code(s.target_kbps, rate) if s.target_kbps is not None else None
    lambdas = s.initial_rate_weights(len(codec.stages))
    log = TrainLog()
    key = s.checkpoint_key(rate, len(codec.stages))
    if codec.zero_preserving:  # the architecture a state resumes into (left out for the work's, as before)
        key["zero_preserving"] = True
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None and path.is_file():
        lambdas, log = _resume(path, key, kind, codec, optimizer, g)
    horizon = max(s.anneal_steps if s.anneal_steps is not None else s.steps, 1)
    saver = _Saver(path, Path(log_csv) if log_csv is not None else None, rate, key, log.steps, save_every,
                   save_every_seconds)
    wall0 = log.wall_seconds[-1] if log.wall_seconds else 0.0
    grad_norms: list[float] = []
    with stop_requests() as stop:
        start = saver.last_save = time.monotonic()
        codec.train()
        for step in tqdm(range(log.steps, s.steps), desc=f"codec {kind}", disable=not progress, leave=False,
                         initial=log.steps, total=s.steps):
            x = sample_segments(signals, s.batch, s.segment_length, g).to(device)  # drawn on the CPU
            apply_anneal_floor(codec, anneal_floor(step, horizon, s.anneal))
            distortion, terms, hs, hard, saturated, grad_norm = _training_step(
                codec, loss_fn, optimizer, x, lambdas if target_bits is not None else None, s.precision,
                gradient_clip_norm(grad_norms, s.max_grad_norm, s.clip_relative), s.saturation_weight)
            grad_norms = [*grad_norms[1 - CLIP_WINDOW:], grad_norm]
            if target_bits is not None:
                recent = [*log.distortion[1 - SIGNED_RATE_WINDOW:], distortion]
                lambdas = s.next_rate_weights(lambdas, hs, hard, target_bits, recent)
            moved = [0] * len(hs)
            if s.reseed_every is not None and (step + 1) % s.reseed_every == 0:
                moved = reseed_codec(codec, optimizer, x, torch.Generator().manual_seed(s.seed * 1_000_003 + step))
            log.record(kind, distortion, terms, hs, hard, moved, saturated, lambdas,
                       wall0 + time.monotonic() - start)
            now = time.monotonic()
            out_of_time = max_seconds is not None and now - start >= max_seconds
            if saver.due(step, s.steps, now) or out_of_time or stop["signal"]:
                saver.save(codec, optimizer, lambdas, g, log)
            if out_of_time or stop["signal"]:
                break
    codec.eval()
    return log
