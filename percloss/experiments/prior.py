"""The deep-audio-prior experiment of chapter 1 (Vinyard 2018).

A tiny generator maps one fixed 128-d Gaussian noise vector to one fixed
8192-sample clip at 11025 Hz. It is fitted with different losses, starting each
time from the same weights and noise, and its output is recorded every
``checkpoint_every`` iterations: audio, loss curve and objective measures.

Notebook: ``notebooks/ch01_deep_audio_prior.py``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .. import data, paths
from .._checks import check_choice, check_signal
from .._optional import tqdm
from ..losses import (
    EmbeddingDistanceLoss,
    MaskedFilterbankLoss,
    MSELoss,
    MultiResolutionSTFTLoss,
    PerceptualLoss,
)
from ..modes import MODES, current_mode, default_device
from ..signal import peak_normalize
from .prior_measures import claims_summary, claims_table, objective_measures

__all__ = [
    "claims_table",
    "claims_summary",
    "UpsamplingGenerator",
    "PriorConfig",
    "PriorResult",
    "LOSSES",
    "make_loss",
    "MAIN_LOSSES",
    "CDPAM_CLIPS",
    "fit_prior",
    "run_prior_experiment",
    "save_results",
    "load_results",
    "CHECK_ITERATIONS",
    "CHECK_RTOL",
    "RecomputeCheck",
    "check_stored_runs",
    "obtain_results",
    "SEEDS",
    "SEED_LOSSES",
    "seed_runs_dir",
    "obtain_seed_runs",
    "loss_weights",
    "stored_machine",
    "stored_spread",
    "objective_measures",
    "peak_normalize",
    "TARGET_PEAK",
]

#: Peak of the fitted targets (each clip's excerpt is peak-normalised to it).
TARGET_PEAK = 0.9
KERNEL_SIZES: tuple[int, ...] = (3, 15, 25, 25, 25, 25, 25)
SCALE_FACTORS: tuple[int, ...] = (4, 4, 4, 4, 4, 4, 2)


class UpsamplingGenerator(nn.Module):
    """The 2018 generator: 7 stages of nearest-neighbour upsampling + bias-free Conv1d.

    The latent vector is treated as ``latent_dim`` channels of length 1; stages
    upsample by 4 (six times) and 2 (once) to ``4**6 * 2 = 8192`` samples.
    LeakyReLU(0.2) follows every convolution but the last; weights are
    Xavier-normal initialised with the LeakyReLU gain (gain 1 for the last).

    Args:
        latent_dim: size of the noise vector. (Default: 128)
        channels: channels of the hidden convolutions. (Default: 32)

    Shape:
        ``(batch, latent_dim) -> (batch, 8192)``

    >>> g = UpsamplingGenerator()
    >>> g(torch.zeros(2, 128)).shape
    torch.Size([2, 8192])
    """

    def __init__(self, latent_dim: int = 128, channels: int = 32) -> None:
        super().__init__()
        if latent_dim < 1 or channels < 1:
            raise ValueError(
                f"latent_dim and channels must be positive, got {latent_dim} and {channels}"
            )
        self.latent_dim = latent_dim
        widths = [latent_dim] + [channels] * (len(KERNEL_SIZES) - 1) + [1]
        convs = [
            nn.Conv1d(widths[i], widths[i + 1], k, padding=k // 2, bias=False)
            for i, k in enumerate(KERNEL_SIZES)
        ]
        gain = nn.init.calculate_gain("leaky_relu", 0.2)
        for i, conv in enumerate(convs):
            nn.init.xavier_normal_(conv.weight, gain if i < len(convs) - 1 else 1.0)
        self.convs = nn.ModuleList(convs)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (batch, {self.latent_dim}), got {tuple(z.shape)}")
        x = z.unsqueeze(-1)
        last = len(self.convs) - 1
        for i, (conv, factor) in enumerate(zip(self.convs, SCALE_FACTORS, strict=True)):
            x = conv(F.interpolate(x, scale_factor=factor, mode="nearest"))
            if i < last:
                x = F.leaky_relu(x, 0.2)
        return x.squeeze(1)


def _perceptual(sample_rate: int) -> nn.Module:
    # The 2018 configuration: 512 Bark bands from 1 Hz to Nyquist, 512 taps,
    # A-weighted bands, cosine distance.
    return PerceptualLoss(sample_rate, n_bands=512, n_taps=512, a_weighting=True, distance="cosine")


def _masked(sample_rate: int) -> nn.Module:
    # The 2018 filterbank made masking-aware: the error's band energy against
    # the target's MPEG-1 masking threshold (percloss.losses.masking).
    return MaskedFilterbankLoss(sample_rate, n_bands=512, n_taps=512)


def _cdpam(sample_rate: int) -> nn.Module:
    from ..losses import CDPAMLoss  # needs the cdpam extra

    return CDPAMLoss(sample_rate)


LOSSES: dict[str, Callable[[int], nn.Module]] = {
    "mse": lambda sample_rate: MSELoss(),
    "perceptual": _perceptual,
    "mrstft": lambda sample_rate: MultiResolutionSTFTLoss(),
    "masked": _masked,
    "vggish": lambda sample_rate: EmbeddingDistanceLoss(sample_rate),
    "cdpam": _cdpam,
}
#: The losses every clip is fitted with in each mode; CDPAM (a pretrained network: the stored runs took 5.0 and
#: 6.5 s per iteration on one CPU thread, ``runs/prior/standard/*.json``) runs on :data:`CDPAM_CLIPS` only, and
#: standard mode loads its stored runs.
MAIN_LOSSES: tuple[str, ...] = ("mse", "perceptual", "mrstft", "masked", "vggish")
CDPAM_CLIPS: dict[str, tuple[str, ...]] = {"quick": ("speech_male",), "standard": ("speech_male", "piano_bach")}


def make_loss(name: str, sample_rate: int) -> nn.Module:
    """Build the loss called ``name`` (one of :data:`LOSSES`) for ``sample_rate``."""
    check_choice(name, "name", tuple(LOSSES))
    return LOSSES[name](sample_rate)


@dataclass(frozen=True)
class PriorConfig:
    """What one run of the experiment does; :meth:`for_mode` gives the chapter's settings."""

    clips: tuple[str, ...]
    losses: tuple[str, ...]
    iterations: int
    checkpoint_every: int
    sample_rate: int = 11025
    num_samples: int = 8192
    seed: int = 0
    lr: float = 1e-4
    betas: tuple[float, float] = (0.0, 0.9)
    mode: str = "custom"

    @classmethod
    def for_mode(cls, mode: str | None = None, losses: Sequence[str] | None = None) -> PriorConfig:
        """The chapter's configuration in ``mode`` (Default: ``PERCLOSS_MODE``).

        ``quick``: 2 clips, 4 iterations (a pipeline check); ``standard``: all clips, 300 iterations;
        ``full``: all clips, 1000 iterations with audio every 250 (the 2018 schedule).
        """
        mode = current_mode() if mode is None else check_choice(mode, "mode", MODES)
        chosen = tuple(losses) if losses is not None else MAIN_LOSSES
        if mode == "quick":
            return cls(("speech_male", "piano_bach"), chosen, 4, 2, mode=mode)
        iterations, every = (300, 100) if mode == "standard" else (1000, 250)
        return cls(tuple(data.list_clips()), chosen, iterations, every, mode=mode)


@dataclass
class PriorResult:
    """The record of fitting one clip with one loss.

    ``audio[i]`` is the generator output after ``checkpoints[i]`` iterations,
    peak-normalised like the target; ``measures[i]`` its objective measures.
    """

    clip: str
    loss: str
    sample_rate: int
    target: np.ndarray
    loss_curve: np.ndarray
    checkpoints: list[int] = field(default_factory=list)
    audio: list[np.ndarray] = field(default_factory=list)
    measures: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


def fit_prior(
    target: torch.Tensor,
    loss_fn: nn.Module,
    *,
    iterations: int,
    checkpoint_every: int,
    seed: int = 0,
    lr: float = 1e-4,
    betas: tuple[float, float] = (0.0, 0.9),
    device: torch.device | None = None,
    progress: bool = True,
    desc: str = "",
) -> tuple[np.ndarray, list[int], list[torch.Tensor]]:
    """Fit a fresh :class:`UpsamplingGenerator` (seeded) to ``target`` with ``loss_fn``.

    Returns the loss curve, the checkpoint iterations and the generator output
    at each checkpoint (on the CPU).

    Shape:
        ``target``: ``(8192,)``
    """
    check_signal(target, "target", min_length=8192)
    if target.dim() != 1 or target.shape[0] != 8192:
        raise ValueError(f"target must have shape (8192,), got {tuple(target.shape)}")
    if iterations < 1 or checkpoint_every < 1:
        raise ValueError(f"iterations and checkpoint_every must be >= 1, got {iterations}, {checkpoint_every}")
    device = device or default_device()
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    network = UpsamplingGenerator().to(device)
    noise = torch.randn(1, 128, generator=gen).to(device)
    optimizer = torch.optim.Adam(network.parameters(), lr=lr, betas=betas)
    loss_fn = loss_fn.to(device)
    y = target.to(device).unsqueeze(0)
    curve = np.empty(iterations)
    checkpoints: list[int] = []
    outputs: list[torch.Tensor] = []
    for i in tqdm(range(1, iterations + 1), desc=desc, disable=not progress, leave=False):
        optimizer.zero_grad(set_to_none=True)
        out = network(noise)
        loss = loss_fn(out, y)
        loss.backward()
        optimizer.step()
        curve[i - 1] = float(loss.detach())
        if i % checkpoint_every == 0 or i == iterations:
            checkpoints.append(i)
            with torch.no_grad():
                outputs.append(network(noise)[0].cpu())
    return curve, checkpoints, outputs


def run_prior_experiment(config: PriorConfig, *, progress: bool = True) -> list[PriorResult]:
    """Run every (clip, loss) pair of ``config`` and return their records."""
    results: list[PriorResult] = []
    for clip in config.clips:
        target = peak_normalize(data.excerpt(clip, config.sample_rate, config.num_samples), TARGET_PEAK)
        for loss_name in config.losses:
            start = time.perf_counter()
            curve, checkpoints, outputs = fit_prior(
                target,
                make_loss(loss_name, config.sample_rate),
                iterations=config.iterations,
                checkpoint_every=config.checkpoint_every,
                seed=config.seed,
                lr=config.lr,
                betas=config.betas,
                progress=progress,
                desc=f"{clip} / {loss_name}",
            )
            seconds = time.perf_counter() - start
            peak = float(target.abs().max())
            results.append(
                PriorResult(
                    clip=clip,
                    loss=loss_name,
                    sample_rate=config.sample_rate,
                    target=target.numpy(),
                    loss_curve=curve,
                    checkpoints=checkpoints,
                    audio=[peak_normalize(o, peak).numpy() for o in outputs],
                    measures=[objective_measures(target, o, config.sample_rate) for o in outputs],
                    seconds=seconds,
                )
            )
    return results


def _settings(config: PriorConfig) -> dict[str, object]:
    keys = ("iterations", "checkpoint_every", "sample_rate", "num_samples", "seed", "lr", "betas")
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items() if k in keys}


def _sha(x: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(x, dtype=np.float32).tobytes()).hexdigest()


def loss_weights(name: str, sample_rate: int) -> str:
    """Which weights the loss ``name`` runs with in this build (the ``vggish`` loss: pretrained or the
    random-feature control); ``""`` for a loss without learnt weights. Stored runs record it."""
    if name != "vggish":
        return ""
    return str(getattr(make_loss(name, sample_rate), "weights", ""))


def loss_label(name: str, sample_rate: int) -> str:
    """The loss's name as the chapter shows it: ``"vggish (random-feature control)"`` when this build's
    VGGish weights are the random control (never to be read as VGGish), else ``name``."""
    return f"{name} (random-feature control)" if "random-feature control" in loss_weights(name, sample_rate) else name


def save_results(results: Sequence[PriorResult], config: PriorConfig, folder: str | os.PathLike[str],
                 machine: str = "") -> list[Path]:
    """Store each result as ``<clip>__<loss>.npz`` plus ``.json`` (the schedule, the target's SHA-256,
    wall time, machine), for :func:`load_results`."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for r in results:
        stem = out / f"{r.clip}__{r.loss}"
        np.savez_compressed(stem.with_suffix(".npz"), target=r.target, loss_curve=r.loss_curve,
                            checkpoints=np.asarray(r.checkpoints), audio=np.stack(r.audio))
        record = {"clip": r.clip, "loss": r.loss, **_settings(config), "target_sha256": _sha(r.target),
                  "loss_weights": loss_weights(r.loss, r.sample_rate),
                  "npz_sha256": hashlib.sha256(stem.with_suffix(".npz").read_bytes()).hexdigest(),
                  "seconds": round(r.seconds, 1), "machine": machine}
        stem.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
        written.append(stem.with_suffix(".npz"))
    return written


def load_results(config: PriorConfig, loss: str, clips: Sequence[str], folder: str | os.PathLike[str]
                 ) -> list[PriorResult]:
    """Stored runs of ``loss`` on ``clips`` (:func:`save_results`), checked against ``config``'s schedule
    and this build's targets; the objective measures are recomputed from the stored audio.

    Raises:
        FileNotFoundError: if a run is not stored.
        ValueError: if a stored run used another schedule or target, or its file's hash differs.
    """
    results = []
    for clip in clips:
        stem = Path(folder) / f"{clip}__{loss}"
        if not stem.with_suffix(".json").is_file():
            raise FileNotFoundError(f"no stored run {stem}.npz (scripts/run_prior_stored.py writes it)")
        record = json.loads(stem.with_suffix(".json").read_text())
        if {k: record.get(k) for k in _settings(config)} != _settings(config):
            raise ValueError(f"{stem}.json was run with another schedule than this build's: {record}")
        blob = stem.with_suffix(".npz").read_bytes()
        if hashlib.sha256(blob).hexdigest() != record["npz_sha256"]:
            raise ValueError(f"{stem}.npz does not match the SHA-256 in its record")
        target = peak_normalize(data.excerpt(clip, config.sample_rate, config.num_samples), TARGET_PEAK)
        if _sha(target.numpy()) != record["target_sha256"]:
            raise ValueError(f"{stem}: the stored run fitted another target than this build's {clip}")
        with np.load(io.BytesIO(blob)) as z:  # the bytes just hashed
            audio = [a for a in z["audio"]]
            results.append(PriorResult(
                clip=clip, loss=loss, sample_rate=config.sample_rate, target=target.numpy(),
                loss_curve=z["loss_curve"], checkpoints=[int(c) for c in z["checkpoints"]], audio=audio,
                measures=[objective_measures(target, torch.from_numpy(a), config.sample_rate) for a in audio],
                seconds=float(record["seconds"])))
    return results


#: How a build checks stored runs (:func:`check_stored_runs`). The fits are chaotic: from the first Adam step
#: on (with beta1 = 0 a step is about ``lr * sign(gradient)``, so a gradient near zero flips its step on a last-bit
#: difference), two kernel paths of one processor part ways, and after 100 iterations their outputs are as far
#: apart as two seeds' (``runs/prior/standard/spread.json``, ``scripts/run_prior_stored.py --spread``). What
#: every processor reproduces is the start: the first iteration's loss of every loss on every clip (the seeded
#: generator's output, the target, the loss) and MSE's first steps (the optimizer and its settings).
CHECK_ITERATIONS: dict[str, int] = {"mse": 3}
#: Relative tolerance of those recomputed losses: about 20x the largest difference measured between kernel paths.
CHECK_RTOL = 1e-3


@dataclass(frozen=True)
class RecomputeCheck:
    """Stored runs checked against this build: how many first-iteration losses were recomputed, the largest
    relative difference from the stored loss curves, and the seconds it took."""

    values: int
    runs: int
    worst_rel: float
    seconds: float

    def text(self) -> str:
        agree = ("they equal the stored loss curves to the last bit" if self.worst_rel == 0 else
                 f"they agree with the stored loss curves within {self.worst_rel:.1g} relative")
        return (f"recomputed the first {self.values} loss values of its {self.runs} runs ({self.seconds:.0f} s): "
                f"{agree} (required: within {CHECK_RTOL:g})")


def check_stored_runs(config: PriorConfig, stored: Sequence[PriorResult], rtol: float = CHECK_RTOL
                      ) -> RecomputeCheck:
    """Recompute the start of every stored run (:data:`CHECK_ITERATIONS`; one iteration where unlisted) and
    compare it with the stored loss curve.

    Raises:
        ValueError: naming the run, iteration and both values, and the command that rebuilds the stored runs,
            if any recomputed loss differs by more than ``rtol``.
    """
    start = time.perf_counter()
    worst, values, problems = 0.0, 0, []
    for r in stored:
        n = min(CHECK_ITERATIONS.get(r.loss, 1), config.iterations)
        target = torch.as_tensor(r.target)
        curve, _, _ = fit_prior(target, make_loss(r.loss, config.sample_rate), iterations=n, checkpoint_every=n,
                                seed=config.seed, lr=config.lr, betas=config.betas, progress=False)
        for i in range(n):
            rel = abs(curve[i] - r.loss_curve[i]) / max(abs(float(r.loss_curve[i])), 1e-30)
            worst, values = max(worst, rel), values + 1
            if not rel <= rtol:
                problems.append(f"{r.clip} / {r.loss}, iteration {i + 1}: {float(r.loss_curve[i])!r} stored vs "
                                f"{float(curve[i])!r} now")
    if problems:
        raise ValueError("the stored runs disagree with this build (relative tolerance "
                         f"{rtol:g}):\n  " + "\n  ".join(problems) + "\nIf the generator, a loss or the schedule "
                         "changed on purpose, rebuild them: python scripts/run_prior_stored.py --loss all")
    return RecomputeCheck(values, len(stored), worst, time.perf_counter() - start)


def stored_spread(mode: str, folder: str | os.PathLike[str] | None = None) -> str:
    """Markdown: how far kernel paths part when they refit the stored runs (``spread.json`` in ``folder``,
    Default :func:`percloss.paths.prior_runs_dir` of ``mode``, written by ``scripts/run_prior_stored.py
    --spread``); ``""`` when it is absent."""
    path = (Path(folder) if folder is not None else paths.prior_runs_dir(mode)) / "spread.json"
    if not path.is_file():
        return ""
    spread = json.loads(path.read_text())
    prefix = spread["prefix_rel_max_over_paths"]
    checked = max(v[i] for key, v in prefix.items() for i in range(CHECK_ITERATIONS.get(key.split("__")[1], 1)))
    n = len(next(iter(prefix.values())))
    second, last = (max(v[i] for v in prefix.values()) for i in (1, n - 1))
    fits = spread["whole_fits_speech_male"]
    lines = []
    for loss, f in fits.items():
        between = [min(v[i] for v in f["snr_db_between_paths"].values()) for i in range(len(f["checkpoints"]))]
        lines.append(f"`{loss}`: {', '.join(f'{b:.1f}' for b in between)} dB between kernel paths at worst vs "
                     f"{', '.join(f'{s:.1f}' for s in f['snr_db_between_seeds'])} dB between seeds 0 and 1")
    machine = next(iter(spread["machine"].values()))
    return (f"**How far the fits part between kernel paths** (measured on {machine}: its defaults, "
            f"{', '.join(p for p in spread['paths'] if p != 'default')}). The loss values the build checks agreed "
            f"within {checked:.1g} relative over {len(prefix)} runs; at iteration 2 the paths differed by up to "
            f"{second:.1g}, at iteration {n} by up to {last:.1g}. Whole fits "
            f"of `speech_male`, SNR of one path's output against another's at iterations "
            f"{', '.join(str(c) for c in next(iter(fits.values()))['checkpoints'])}: " + "; ".join(lines) + ".")


def stored_machine(config: PriorConfig, folder: str | os.PathLike[str] | None = None) -> str:
    """The machines named in the records of ``config``'s stored runs (Default folder:
    :func:`percloss.paths.prior_runs_dir` of ``config.mode``), ``"; "``-joined; ``""`` when none are stored."""
    out = Path(folder) if folder is not None else paths.prior_runs_dir(config.mode)
    names = []
    for clip in config.clips:
        for loss in config.losses:
            record = out / f"{clip}__{loss}.json"
            if record.is_file():
                machine = json.loads(record.read_text()).get("machine", "") or "machine not recorded"
                if machine not in names:
                    names.append(machine)
    return "; ".join(names)


def obtain_results(config: PriorConfig, folder: str | os.PathLike[str] | None = None, *, progress: bool = True,
                   check: bool = True) -> tuple[list[PriorResult], RecomputeCheck | None]:
    """Every (clip, loss) run of ``config``: loaded from the stored runs in ``folder`` (Default:
    :func:`percloss.paths.prior_runs_dir` of ``config.mode``) for each loss whose runs are all stored for this
    schedule and these weights (:func:`loss_weights`), their start recomputed and checked
    (:func:`check_stored_runs`, unless ``check`` is false); the other losses are run here. The check is
    ``None`` when nothing was loaded.

    Raises:
        ValueError: if a stored run fails its checks (hash, schedule, target, recomputation).
    """
    out = Path(folder) if folder is not None else paths.prior_runs_dir(config.mode)

    def is_stored(loss: str) -> bool:
        records = [out / f"{clip}__{loss}.json" for clip in config.clips]
        if not all(r.is_file() for r in records):
            return False
        weights = loss_weights(loss, config.sample_rate)  # e.g. pretrained VGGish here, a control when stored
        return all(json.loads(r.read_text()).get("loss_weights", "") == weights for r in records)

    loaded = [loss for loss in config.losses if is_stored(loss)]
    if not loaded:
        return run_prior_experiment(config, progress=progress), None
    results = [r for loss in loaded for r in load_results(config, loss, config.clips, out)]
    missing = tuple(loss for loss in config.losses if loss not in loaded)
    if missing:
        results += run_prior_experiment(replace(config, losses=missing), progress=progress)
    results.sort(key=lambda r: (config.clips.index(r.clip), config.losses.index(r.loss)))
    if not check:
        return results, None
    return results, check_stored_runs(config, [r for r in results if r.loss in loaded])


#: Chapter 1's verdicts: MSE and the 2018 loss on every clip on the post's schedule (1000 iterations, audio every
#: 250; :meth:`PriorConfig.for_mode` ``"full"``), each fit with these generator and noise seeds.
SEEDS: tuple[int, ...] = (0, 1, 2)
SEED_LOSSES: tuple[str, ...] = ("mse", "perceptual")


def seed_runs_dir(seed: int) -> Path:
    """Where seed ``seed``'s stored full-schedule runs live: ``runs/prior/full/seed<seed>``
    (``scripts/run_prior_stored.py --mode full --seed K`` writes them)."""
    return paths.prior_runs_dir("full") / f"seed{seed}"


def obtain_seed_runs(mode: str, seeds: Sequence[int] = SEEDS, losses: Sequence[str] = SEED_LOSSES, *,
                     folder: str | os.PathLike[str] | None = None, progress: bool = False, check: bool = True
                     ) -> tuple[dict[int, list[PriorResult]], RecomputeCheck | None] | None:
    """The runs chapter 1's verdicts rest on: ``losses`` on every clip on the post's schedule, one list per seed.

    ``standard`` loads them (``folder/seed<k>``, Default :func:`seed_runs_dir`; hashes, schedule, target and
    weights checked; with ``check``, the start of every run recomputed, :func:`check_stored_runs`) and returns
    ``None`` when any is not stored; ``full`` fits them here; ``quick`` returns ``None`` (its verdicts stay
    provisional). The check sums the seeds' checks (``None`` when nothing was loaded).
    """
    mode = check_choice(mode, "mode", MODES)
    if mode == "quick":
        return None
    base = PriorConfig.for_mode("full", losses=tuple(losses))
    runs: dict[int, list[PriorResult]] = {}
    if mode == "full":
        for seed in seeds:
            runs[seed] = run_prior_experiment(replace(base, seed=seed), progress=progress)
        return runs, None
    root = Path(folder) if folder is not None else None
    where = {seed: root / f"seed{seed}" if root is not None else seed_runs_dir(seed) for seed in seeds}
    if not all((where[seed] / f"{clip}__{loss}.json").is_file() for seed in seeds for clip in base.clips
               for loss in base.losses):
        return None
    checks = []
    for seed in seeds:
        config = replace(base, seed=seed)
        runs[seed] = [r for loss in config.losses for r in load_results(config, loss, config.clips, where[seed])]
        runs[seed].sort(key=lambda r: (config.clips.index(r.clip), config.losses.index(r.loss)))
        if check:
            checks.append(check_stored_runs(config, runs[seed]))
    if not checks:
        return runs, None
    return runs, RecomputeCheck(sum(c.values for c in checks), sum(c.runs for c in checks),
                                max(c.worst_rel for c in checks), sum(c.seconds for c in checks))
