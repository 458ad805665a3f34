"""Long, resumable training runs of the work's codec operating points.

``python -m percloss train-codec --point A64 --hours 2`` trains one point of
Zhen et al.'s low-bitrate set (32 kHz, the codec corpus's training split) and
can be stopped (SIGTERM, Ctrl-C, or the time budget) and resumed at any time:

- A64 (model A, 1 module, 64 kbit/s), A79 and B79 (2 modules, 79 kbit/s in
  total), C64 (1 module), D64 (1 module, fine-tuned from C64: it starts from
  C64's state after ``1 - finetune_fraction`` of the steps and trains the
  rest under model D's loss with a fresh optimiser).
- The work's high-bitrate set at 44.1 kHz (meant for a GPU, ``--device cuda``):
  A168 (2 modules), C96 (1), C112 (2), D96 and D112 (fine-tuned from C96 and
  C112 as D64 is from C64).
- Equal budget: every point trains for :attr:`RunConfig.steps` steps of
  ``batch x segment_frames`` codec frames (the same number of frames; D's
  count includes the C steps it starts from). At 44.1 kHz a frame is shorter,
  so those points see 32/44.1 of the seconds of audio.
- State: the whole resumable state (weights, Adam moments, rate multipliers,
  sampler, log) lives outside the work tree, in ``$PERCLOSS_TRAIN_DIR``
  (Default: ``~/.cache/percloss/codec-train``), saved every few minutes. A
  weights-only *snapshot* (weights, rate multipliers, sampler, log; no Adam
  moments) and the training-log CSV are written to ``--snapshot-dir``
  (Default: ``runs/codec`` in the working directory), so a run can resume on
  a new machine from the repository alone (with fresh Adam moments).
- A finished point is exported with :func:`percloss.codec.save_codec`
  (weights and the symbol histograms of the training material) beside its snapshot.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch

from . import data
from ._checks import check_choice
from .codec import HOP, CascadedCodec, save_codec, symbol_histogram
from .codec_training import TrainLog, TrainSettings, stop_requests, train_codec
from .modes import MODES, current_mode

__all__ = ["RunPoint", "RunConfig", "POINTS", "LOW_BITRATE", "HIGH_BITRATE", "RUN", "state_dir", "snapshot_path",
           "schedule_text", "train_point", "read_log", "shared_state_path", "CORPORA"]


@dataclass(frozen=True)
class RunPoint:
    """One operating point: loss ``model``, ``kbps`` in total over ``n_modules`` modules."""

    name: str
    model: str
    sample_rate: int
    kbps: float
    n_modules: int
    init_from: str | None = None
    precision: str | None = None  # None: the schedule's

    @property
    def key(self) -> str:
        """Name, rate and modules in one word (``A64_32k_1m``): a point's rows in the evaluation tables."""
        return f"{self.model}{self.kbps:g}_{self.sample_rate // 1000}k_{self.n_modules}m"

    @property
    def label(self) -> str:
        return f"{self.model} {self.kbps:g} kbit/s ({self.n_modules} module{'s' if self.n_modules > 1 else ''})"


@dataclass(frozen=True)
class RunConfig:
    """The schedule shared by every point (equal budget)."""

    steps: int = 7500
    batch: int = 8
    segment_frames: int = 8
    lr: float = 5e-4
    precision: str = "bf16"
    seed: int = 0
    finetune_fraction: float = 0.25
    save_every_seconds: float = 300.0
    # Training audio per song, from its middle, for the exported symbol histogram (None: all). 30 s: the broad
    # corpus's 6.3 h would take about 50 min of one thread to encode whole (11.6 GFLOP per second of audio);
    # its 72 songs x 30 s are 36 min of audio (the codec-corpus models counted all their training audio).
    histogram_seconds: float | None = 30.0
    # Points with more than one module: the rate controller follows the hard codes' entropy with a signed
    # multiplier and saturated encoder outputs are penalised (runs/codec/attempts/README.md: the runs without
    # these collapsed; re-seeding centroids every 100 steps collapsed the first module at its first re-seed
    # in the CPU probes of 2026-11-30, so it is off). The shipped one-module models were trained without them.
    multi_module_rate_entropy: str = "hard"
    multi_module_reseed_every: int | None = None
    multi_module_saturation_weight: float = 1.0  # keeps encoder outputs off the flat ends of their tanh
    multi_module_rate_control: str = "signed"  # the multiplier may turn negative: an equality target
    # A79 diverged twice near its end under a fixed clipping norm (1, ~100 times its usual gradient norm),
    # each time after a gradient 20-40 times the usual one. Clipping at 3 times the recent median norm passed
    # the second divergence's step, but A79 diverged again 760 steps later, more slowly: not a sufficient
    # remedy (runs/codec/attempts/README.md); A79 went on in fp32 (its RunPoint.precision), with it. B79
    # finished without it.
    multi_module_clip_relative: float | None = 3.0
    # Convolutions without biases and a fixed zero codeword (CascadedCodec's zero_preserving): digital silence
    # in, exact silence out. The models trained on the codec corpus before 2026-12-07 have the work's biases
    # and decode silence to DC plus a hum at the frame rate (runs/codec/attempts/silence/README.md); so did
    # A64 retrained on the broad corpus with them (runs/codec/attempts/broad-biased/).
    zero_preserving: bool = True
    # One-module points: the multiplicative controller (it only presses, never rewards rate) on the hard codes'
    # entropy, what the file pays. Under it on the soft entropy (the codec-corpus models' schedule) A64 on the
    # broad corpus sat at the floor with ~57 kbit/s against 64 (runs/codec/attempts/broad-biased/); the signed
    # controller of the two-module points ran away for C64 on the broad corpus: below its target, the
    # negative multiplier rewards the *soft* entropy, which the codec raised (to 4.96 bits per code) while
    # its hard entropy fell (to 2.77) and the multiplier wound down to -5.3 by step 2404
    # (runs/codec/attempts/broad-signed/).
    one_module_rate_entropy: str = "hard"
    one_module_rate_control: str = "multiplicative"
    # The exported model decodes through a DC-rejection high-pass at this cut-off (CascadedCodec.set_dc_reject;
    # None: none). C64 on the broad corpus added up to +0.019 DC to real clips at step 1875 (the losses of C and
    # D weigh nothing below ~20 Hz); the shipped models are tested for less than 1e-3.
    dc_reject_hz: float | None = 3.0

    @classmethod
    def for_mode(cls, mode: str | None = None) -> RunConfig:
        """The schedule of a run mode: ``quick`` 8 tiny steps (a pipeline check); ``standard`` :data:`RUN`,
        the shipped models' schedule; ``full`` the work's (batch 128, lr 2e-4) for 20000 steps. Quick and
        full train in float32 with the whole training material in the entropy coder's histogram (full) or
        1 s per song (quick)."""
        mode = current_mode() if mode is None else check_choice(mode, "mode", MODES)
        if mode == "quick":
            return cls(steps=8, batch=2, segment_frames=4, lr=1e-3, precision="fp32", histogram_seconds=1.0)
        if mode == "standard":
            return RUN
        return cls(steps=20000, batch=128, segment_frames=8, lr=2e-4, precision="fp32", histogram_seconds=None)

    @property
    def audio_seconds_per_step(self) -> float:
        """Seconds of 32 kHz training audio per step."""
        return self.seconds_per_step(32000)

    def seconds_per_step(self, sample_rate: int) -> float:
        """Seconds of training audio per step at ``sample_rate``."""
        return self.batch * self.segment_frames * HOP / sample_rate

    def settings(self, point: RunPoint) -> TrainSettings:
        """The :class:`~percloss.codec_training.TrainSettings` of ``point`` under this schedule."""
        multi: dict[str, Any] = dict(rate_entropy=self.one_module_rate_entropy,
                                     rate_control=self.one_module_rate_control)
        if point.n_modules > 1:
            multi = dict(rate_entropy=self.multi_module_rate_entropy, reseed_every=self.multi_module_reseed_every,
                         saturation_weight=self.multi_module_saturation_weight,
                         rate_control=self.multi_module_rate_control,
                         clip_relative=self.multi_module_clip_relative)
        return TrainSettings(steps=self.steps, batch=self.batch, segment_frames=self.segment_frames, lr=self.lr,
                             target_kbps=point.kbps / point.n_modules, seed=self.seed, anneal_steps=self.steps,
                             precision=self.precision_of(point), **multi)

    def precision_of(self, point: RunPoint) -> str:
        """The arithmetic ``point`` trains in: its own, else the schedule's."""
        return point.precision or self.precision

    @property
    def shared_steps(self) -> int:
        """Steps of C64 that D64 starts from."""
        return round(self.steps * (1 - self.finetune_fraction))

    @property
    def kept_steps(self) -> tuple[int, ...]:
        """The steps at which a run keeps a weights-only snapshot for good (``step-<n>.pt``): each quarter of the
        schedule before its end, so the judges can score a learning curve (the end is the exported model)."""
        return tuple(sorted({self.steps * k // 4 for k in (1, 2, 3)} - {0}))


POINTS = {p.name: p for p in (
    # A79 diverged three times in bf16 between steps 6150 and 6878; its run went on in fp32 from its step-6116
    # state (runs/codec/attempts/README.md), which is what resuming it needs now (the checkpoint key names
    # the precision). Its bf16 snapshot of step 5366 no longer resumes.
    RunPoint("A64", "A", 32000, 64, 1), RunPoint("A79", "A", 32000, 79, 2, precision="fp32"),
    RunPoint("B79", "B", 32000, 79, 2),
    RunPoint("C64", "C", 32000, 64, 1), RunPoint("D64", "D", 32000, 64, 1, init_from="C64"),
    RunPoint("A168", "A", 44100, 168, 2), RunPoint("C96", "C", 44100, 96, 1), RunPoint("C112", "C", 44100, 112, 2),
    RunPoint("D96", "D", 44100, 96, 1, init_from="C96"), RunPoint("D112", "D", 44100, 112, 2, init_from="C112"),
)}
#: The work's low-bitrate (32 kHz) and high-bitrate (44.1 kHz) sets.
LOW_BITRATE = ("A64", "A79", "B79", "C64", "D64")
HIGH_BITRATE = ("A168", "C96", "C112", "D96", "D112")
RUN = RunConfig()
#: The material a point may train on (:func:`train_point`'s ``corpus``).
CORPORA = ("codec", "broad")
_PRINT = partial(print, flush=True)


def state_dir(folder: str | os.PathLike[str] | None = None) -> Path:
    """Where resumable states live: ``folder``, ``$PERCLOSS_TRAIN_DIR`` or ``~/.cache/percloss/codec-train``."""
    if folder is not None:
        return Path(folder)
    env = os.environ.get("PERCLOSS_TRAIN_DIR")
    return Path(env) if env else Path.home() / ".cache" / "percloss" / "codec-train"


def snapshot_path(snapshots: Path, name: str, tag: str = "snapshot") -> Path:
    return snapshots / name / f"{tag}.pt"


def _write_snapshot(state_file: Path, target: Path) -> None:
    """Weights-only copy of a full training state (drops the optimiser's moments)."""
    state = torch.load(state_file, map_location="cpu", weights_only=True)
    state.pop("optimizer", None)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, target)


def _state_from_snapshot(snapshot: Path, target: Path, lr: float) -> None:
    """A full training state from a weights-only snapshot, with a fresh Adam optimiser."""
    state = torch.load(snapshot, map_location="cpu", weights_only=True)
    codec = CascadedCodec.for_state_dict(state["codec"])
    codec.load_state_dict(state["codec"])
    state["optimizer"] = torch.optim.Adam(codec.parameters(), lr=lr).state_dict()
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, target)


def shared_state_path(states: Path, name: str) -> Path:
    """The full training state of C point ``name`` at :attr:`RunConfig.shared_steps`, where a D point starts
    (beside its weights-only ``shared`` snapshot when states and snapshots share a folder)."""
    return states / name / "shared-state.pt"


def read_log(state_file: Path) -> TrainLog | None:
    """The training log kept in a state or snapshot file, or ``None`` when there is no such file."""
    if not state_file.is_file():
        return None
    return TrainLog(**torch.load(state_file, map_location="cpu", weights_only=True)["log"])


def _steps_done(state_file: Path) -> int:
    log = read_log(state_file)
    return 0 if log is None else log.steps


def train_point(point: RunPoint | str, config: RunConfig = RUN, workdir: str | os.PathLike[str] | None = None, *,
                hours: float | None = None, snapshots: str | os.PathLike[str] | None = None,
                corpus_folder: str | os.PathLike[str] | None = None, report_every: int = 50,
                device: str | torch.device = "cpu", print_fn: Callable[[str], object] = _PRINT,
                corpus: str = "codec") -> TrainLog | None:
    """Train ``point`` (a :class:`RunPoint`, or the name of one of :data:`POINTS`) under ``config`` up to its
    steps, resuming where it stopped: the one trainer of the command line, the launcher and full mode.

    ``workdir``: the resumable states (:func:`state_dir`); ``snapshots`` (Default: ``workdir``): weights-only
    snapshots, the training-log CSV and the exported ``<point>/<point>.codec``. ``hours``: wall-time budget
    (Default: none). A fine-tuned point (``init_from``) starts from its source's state after
    :attr:`RunConfig.shared_steps`; a C point writes that state when it passes it. ``corpus_folder``: whole
    songs from ``scripts/build_codec_corpus.sh --full`` (Default: the shipped 20 s excerpts);
    ``snapshots/<point>/run.json`` records the corpus, and resuming on another corpus raises ``ValueError``.
    ``corpus``: ``"codec"``, the codec corpus's training songs (:func:`percloss.data.codec_corpus`), or
    ``"broad"``, the broad training corpus (:func:`percloss.data.training_corpus`, 6.3 h of six sources,
    disjoint from the held-out set; ``corpus_folder`` is then where its audio was built).
    At each of :attr:`RunConfig.kept_steps` a weights-only ``snapshots/<point>/step-<n>.pt`` is kept for the
    learning curves (:mod:`percloss.experiments.learning_curves`).
    ``device``: where the codec trains (and its symbol histogram is counted); the codec is initialised on
    the CPU, so every device starts from the same weights. SIGTERM and Ctrl-C stop it after saving.

    Returns the point's training log so far, or ``None`` when nothing could run (a fine-tuned point whose
    source has not reached its shared steps).
    """
    if isinstance(point, str):
        point = POINTS[check_choice(point, "point", tuple(POINTS))]
    if hours is not None and not (isinstance(hours, (int, float)) and math.isfinite(hours) and hours > 0):
        raise ValueError(f"hours must be a positive number, got {hours!r}")
    kind = check_choice(corpus, "corpus", CORPORA)
    say, name = print_fn, point.name
    states = state_dir(workdir)
    snap_root = Path(snapshots) if snapshots is not None else states
    folder = states / name
    state = folder / "state.pt"
    csv_path = snap_root / name / "log.csv"
    snapshot = snapshot_path(snap_root, name)
    if not state.is_file() and snapshot.is_file():
        _state_from_snapshot(snapshot, state, config.lr)
        say(f"{name}: resuming from the snapshot {snapshot} (fresh Adam moments)")
    if point.init_from is not None and not state.is_file():
        source_state = shared_state_path(states, point.init_from)
        source_snapshot = snapshot_path(snap_root, point.init_from, "shared")
        if source_state.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source_state, state)
        elif source_snapshot.is_file():
            _state_from_snapshot(source_snapshot, state, config.lr)
        else:
            say(f"{name}: waiting for {point.init_from} to reach {config.shared_steps} steps")
            return None
        if csv_path.is_file():
            csv_path.unlink()  # the copied state's log is rewritten below
        shared_csv = snap_root / point.init_from / "log.csv"
        if shared_csv.is_file():
            lines = shared_csv.read_text().splitlines()[: config.shared_steps + 1]
            csv_path.parent.mkdir(parents=True, exist_ok=True)
            csv_path.write_text("\n".join(lines) + "\n")
        say(f"{name}: starting from {point.init_from} after {config.shared_steps} steps")
    songs = (data.codec_corpus("train", point.sample_rate, corpus_folder) if kind == "codec"
             else data.training_corpus(point.sample_rate, corpus_folder))
    seconds = {name_: round(len(x) / point.sample_rate, 3) for name_, x in songs.items()}
    record = snap_root / name / "run.json"
    if record.is_file():
        before = json.loads(record.read_text())
        if before.get("corpus_kind", "codec") != kind:
            raise ValueError(f"{name} was trained on the {before.get('corpus_kind', 'codec')} corpus, not the {kind} "
                             "one: resume it on the same corpus, or train it afresh in another state folder")
        if before["corpus"] != seconds:
            raise ValueError(f"{name} was trained on {before['corpus']} (s per song), not on {seconds}: "
                             f"pass the same corpus folder as before ({before['corpus_folder']!r})")
    else:
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"point": asdict(point), "schedule": asdict(config), "device": str(device),
                                      "corpus_kind": kind,
                                      "corpus_folder": None if corpus_folder is None else str(corpus_folder),
                                      "corpus": seconds}, indent=1) + "\n")
    signals = list(songs.values())
    settings = config.settings(point)
    kw: dict[str, Any] = dict(checkpoint=state, save_every=10**9, save_every_seconds=config.save_every_seconds,
                              log_csv=csv_path, progress=False)
    budget = math.inf if hours is None else hours * 3600.0
    start = time.monotonic()
    with stop_requests() as stop:
        done = _steps_done(state)
        while done < config.steps and not stop["signal"]:
            left = budget - (time.monotonic() - start)
            if left <= 0:
                break
            target = min(config.steps, done + report_every)
            if point.model == "C" and done < config.shared_steps:
                target = min(target, config.shared_steps)  # a D point starts from exactly this step
            target = min([target, *(k for k in config.kept_steps if k > done)])
            torch.manual_seed(config.seed)
            codec = CascadedCodec(point.n_modules, zero_preserving=config.zero_preserving).to(device)
            log = train_codec(codec, signals, point.sample_rate, point.model, settings, steps=target,
                              max_seconds=None if math.isinf(left) else left, **kw)
            if log.steps < target:  # stopped by the time budget or a signal: train_codec saved
                _write_snapshot(state, snapshot)
                break
            done = log.steps
            if point.model == "C" and done == config.shared_steps:
                shared = shared_state_path(states, name)
                shutil.copyfile(state, shared.with_suffix(".tmp"))
                os.replace(shared.with_suffix(".tmp"), shared)  # a D process may be waiting for it
                _write_snapshot(state, snapshot_path(snap_root, name, "shared"))
                say(f"{name}: reached {done} steps; a point fine-tuned from {name} can start from here")
            if done in config.kept_steps:
                _write_snapshot(state, snapshot_path(snap_root, name, f"step-{done}"))
            hs = log.entropy_bits[-1]
            kbps = sum(hs) * 256 * point.sample_rate / HOP / 1000
            say(f"{name}: step {done}/{config.steps}, distortion {log.distortion[-1]:.4g}, "
                f"entropy {'+'.join(f'{h:.2f}' for h in hs)} bits/code (~{kbps:.1f} kbit/s), "
                f"{log.wall_seconds[-1] / 60:.1f} min of training")
            if done % (report_every * 10) == 0:
                _write_snapshot(state, snapshot)
    if state.is_file():
        _write_snapshot(state, snapshot)
    if _steps_done(state) >= config.steps:
        _export(point, state, snap_root, signals, config, device)
        say(f"{name}: finished {config.steps} steps; exported {snap_root / name / (name + '.codec')}")
    return read_log(state)


def schedule_text(point: RunPoint, config: RunConfig = RUN, snapshots: str | os.PathLike[str] = "runs/codec") -> str:
    """How ``point`` was trained, as its exported checkpoint states it: the schedule, then the run's
    ``history`` from ``snapshots/<point>/run.json`` where the run departed from it (e.g. A79's precision)."""
    text = (f"{config.steps} Adam steps (lr {config.lr:g}, {config.precision_of(point)}) of {config.batch} x "
            f"{config.segment_frames} frames at {point.sample_rate} Hz, seed {config.seed}"
            + (f"; fine-tuned from {point.init_from} after {config.shared_steps} steps" if point.init_from else "")
            + (f"; {config.multi_module_rate_control} rate control on the {config.multi_module_rate_entropy} "
               f"entropy, saturation penalty {config.multi_module_saturation_weight:g}"
               + (f", centroids re-seeded every {config.multi_module_reseed_every} steps"
                  if config.multi_module_reseed_every else "")
               + (f", gradients clipped at {config.multi_module_clip_relative:g} x their recent median norm"
                  if config.multi_module_clip_relative else "")
               if point.n_modules > 1 else
               f"; {config.one_module_rate_control} rate control on the {config.one_module_rate_entropy} entropy")
            + ("; zero-preserving codec (convolutions without biases, a fixed zero codeword)"
               if config.zero_preserving else "")
            + (f"; decoded through a {config.dc_reject_hz:g}-Hz DC-rejection high-pass"
               if config.dc_reject_hz is not None else ""))
    record = Path(snapshots) / point.name / "run.json"
    history = json.loads(record.read_text()).get("history") if record.is_file() else None
    return f"{text}; {history}" if history else text


def _export(point: RunPoint, state: Path, snap_root: Path, signals: list[torch.Tensor], config: RunConfig,
            device: str | torch.device = "cpu") -> Path:
    payload = torch.load(state, map_location="cpu", weights_only=True)
    codec = CascadedCodec.for_state_dict(payload["codec"])
    codec.load_state_dict(payload["codec"])
    codec.set_dc_reject(config.dc_reject_hz)
    codec.to(device).eval()
    n = None if config.histogram_seconds is None else int(config.histogram_seconds * point.sample_rate)
    middles = [s if n is None or len(s) <= n else s[(len(s) - n) // 2 : (len(s) - n) // 2 + n] for s in signals]
    with torch.no_grad():
        counts = symbol_histogram(codec, [s.to(device) for s in middles])
    codec.cpu()
    schedule = schedule_text(point, config, snap_root)
    path = snap_root / point.name / f"{point.name}.codec"
    save_codec(path, codec, counts, point.sample_rate, point.name, schedule)
    return path


def describe() -> str:
    """The points and the schedule, one line each."""
    lines = [f"schedule: {asdict(RUN)}; {RUN.audio_seconds_per_step:.2f} s of audio per step at 32 kHz, "
             f"{RUN.steps * RUN.audio_seconds_per_step / 3600:.2f} h per point "
             f"({RUN.steps * RUN.seconds_per_step(44100) / 3600:.2f} h at 44.1 kHz)"]
    lines += [f"{p.name}: model {p.model}, {p.n_modules} module(s), {p.kbps:g} kbit/s at {p.sample_rate} Hz"
              + (f", fine-tuned from {p.init_from}" if p.init_from else "") for p in POINTS.values()]
    return "\n".join(lines)
