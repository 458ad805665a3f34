"""The codec chapter's experiment: models A-D at the work's operating points vs MP3 and Opus.

Zhen et al. (IEEE SPL 2020) train a small convolutional codec under four
losses (A: MSE alone; B: + mel-scale weighting; C: + priority weighting;
D: + noise modulation) and compare them with MP3 at equal bitrate. Here every
model writes a real range-coded file (:func:`percloss.codec.write_bitstream`),
whose size gives the bitrate; MP3 (LAME) and Opus (libopus) are the anchors.

Training material is the Fret's on Fire songs of the "train" split
(:func:`percloss.data.codec_corpus`); evaluation uses the held-out songs and
every shipped clip (none of them is in the training split). Model D is model
C fine-tuned: both share C's first ``1 - finetune_fraction`` of the steps, then
C continues under its own loss and D under D's, so both see the same number of
steps. Checkpoints are resumable; a finished one is reused.

Notebook: ``notebooks/ch04_codec.py``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import anchors, data, shipped
from .._checks import check_choice
from ..codec import (
    CascadedCodec,
    load_codec,
    read_bitstream,
    save_codec,
    symbol_histogram,
    write_bitstream,
)
from ..codec_runs import POINTS, RUN
from ..codec_training import TrainLog, train_codec
from ..metrics import log_spectral_distance, nmr, snr, visqol
from ..modes import MODES, current_mode

__all__ = ["OperatingPoint", "WORK_POINTS", "CodecStudyConfig", "CodecStudy", "run_study", "shipped_checkpoint",
           "checkpoint_path", "shipped_points", "summary", "anchor_at",
           "MPEG1_BITRATES", "mp3_bitrate_for"]

# Bumped whenever train_codec's procedure changes, so that cached checkpoints of an older one are not reused.
TRAINING_PROCEDURE = 3  # 2: straight-through hard quantisation, annealed sharpness, clipped gradients; 3: model A = MSE alone, masking terms on the standard's calibration
MPEG1_BITRATES = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "_build" / "percloss_cache" / "codec"


@dataclass(frozen=True)
class OperatingPoint:
    """One trained model: loss ``model``, ``kbps`` in total over ``n_modules`` cascaded modules."""

    model: str
    sample_rate: int
    kbps: float
    n_modules: int

    @property
    def key(self) -> str:
        return f"{self.model}{self.kbps:g}_{self.sample_rate // 1000}k_{self.n_modules}m"

    @property
    def name(self) -> str:
        """The work's name of the point (``A64``, ``C112``, ...): the shipped model's name."""
        return f"{self.model}{self.kbps:g}"

    @property
    def label(self) -> str:
        return f"{self.model} {self.kbps:g} kbit/s ({self.n_modules} module{'s' if self.n_modules > 1 else ''})"


# The work's operating points (Zhen et al. 2020, Table/Fig. of the listening tests): the long runs' list.
WORK_POINTS = tuple(OperatingPoint(p.model, p.sample_rate, p.kbps, p.n_modules) for p in POINTS.values())
STANDARD_POINTS = tuple(OperatingPoint(m, 32000, 64, 1) for m in "ABCD")


def shipped_points() -> tuple[OperatingPoint, ...]:
    """The work's points whose trained models ship with the package (:mod:`percloss.shipped`), in the work's order."""
    names = set(shipped.shipped_models())
    return tuple(p for p in WORK_POINTS if p.name in names)


def mp3_bitrate_for(kbps: float) -> int:
    """The MPEG-1 Layer III bitrate nearest ``kbps`` (LAME runs at constant rate)."""
    return min(MPEG1_BITRATES, key=lambda b: abs(b - kbps))


@dataclass
class CodecStudyConfig:
    """Operating points, schedule and evaluation set of one run."""

    points: tuple[OperatingPoint, ...]
    steps: int
    batch: int
    segment_frames: int
    lr: float
    eval_items: tuple[str, ...]
    eval_seconds: float
    listen_items: tuple[str, ...]
    listen_seconds: float
    anchor_kbps: tuple[float, ...] = ()  # MP3/Opus also at these rates (rate-quality curves)
    histogram_seconds: float | None = 10.0  # per training song, for the entropy coder's model (None: all)
    finetune_fraction: float = 0.25
    seed: int = 0
    mode: str = "custom"
    use_shipped: bool = True
    corpus_folder: str | None = None

    @classmethod
    def for_mode(cls, mode: str | None = None) -> CodecStudyConfig:
        """``quick``: 8 steps per model (pipeline check, untrained); ``standard``: the models that ship
        with the package (:func:`shipped_points`; no training; their schedule is
        :data:`percloss.codec_runs.RUN`); ``full``: the work's ten points trained here, batch 128, lr 2e-4
        (the work's), 20000 steps, whole songs if ``data/codec_corpus`` exists."""
        mode = current_mode() if mode is None else check_choice(mode, "mode", MODES)
        songs = ("escape_from_chaosland", "mutilated_mime")
        clips = tuple(data.list_clips())
        listen = (*songs, "piano_bach")
        if mode == "quick":
            return cls(STANDARD_POINTS, 8, 2, 4, 1e-3, ("mutilated_mime", "piano_bach"), 2.0, listen, 2.0,
                       histogram_seconds=1.0, mode=mode, use_shipped=False)
        if mode == "standard":
            run = RUN
            return cls(shipped_points(), run.steps, run.batch, run.segment_frames, run.lr, songs + clips, 6.0, listen,
                       3.0, anchor_kbps=(32, 48, 64, 80), histogram_seconds=run.histogram_seconds,
                       finetune_fraction=run.finetune_fraction, seed=run.seed, mode=mode)
        full = ROOT / "data" / "codec_corpus"
        return cls(WORK_POINTS, 20000, 128, 8, 2e-4, songs + clips, 10.0, listen, 5.0, histogram_seconds=None,
                   anchor_kbps=(48, 64, 80, 96, 112, 128, 160),
                   mode=mode, use_shipped=False,
                   corpus_folder=str(full) if full.is_dir() else None)

    def fingerprint(self) -> str:
        """Short hash of the training settings (names the checkpoint folder)."""
        keys = ("steps", "batch", "segment_frames", "lr", "finetune_fraction", "seed", "corpus_folder",
                "histogram_seconds")
        record: dict[str, Any] = {k: getattr(self, k) for k in keys}
        record["procedure"] = TRAINING_PROCEDURE
        text = json.dumps(record, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:10]


@dataclass
class TrainedModel:
    point: OperatingPoint
    codec: CascadedCodec
    counts: list[torch.Tensor]
    source: str  # how the parameters were obtained
    sha256: str
    log: TrainLog | None
    seconds: float  # wall time spent training in this run (0 when loaded)
    record: dict[str, Any] = field(default_factory=dict)  # a shipped model's manifest entry
    log_csv: Path | None = None  # a shipped model's training log (``LOG_COLUMNS``)


@dataclass
class CodecStudy:
    config: CodecStudyConfig
    models: dict[str, TrainedModel]
    rows: list[dict[str, Any]]
    listening: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # item -> system -> audio
    folder: Path = Path(".")  # where the run's checkpoints are


def checkpoint_path(study: CodecStudy, point: OperatingPoint) -> str:
    """How to name ``point``'s model to ``python -m percloss encode --model``: its shipped name, or its file."""
    if study.config.use_shipped and shipped_checkpoint(point) is not None:
        return point.name
    path = (study.folder / f"{point.key}.codec").resolve()
    return str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def _shipped_entry(point: OperatingPoint) -> dict[str, Any] | None:
    """The manifest entry of ``point``'s shipped model (same name, rate and modules), or ``None``."""
    entry = shipped.shipped_models().get(point.name)
    if entry is None or (entry["sample_rate"], entry["n_modules"]) != (point.sample_rate, point.n_modules):
        return None
    return entry


def shipped_checkpoint(point: OperatingPoint) -> Path | None:
    """The shipped checkpoint of ``point`` (:mod:`percloss.shipped`), its SHA-256 verified; ``None`` if none ships.

    Raises:
        ValueError: if the manifest lists it but the file is missing or its hash differs.
    """
    entry = _shipped_entry(point)
    if entry is None:
        return None
    shipped.load_shipped_codec(point.name)  # verifies the hash
    return shipped.models_dir() / entry["file"]


def _train_signals(point: OperatingPoint, config: CodecStudyConfig) -> list[torch.Tensor]:
    return list(data.codec_corpus("train", point.sample_rate, config.corpus_folder).values())


def _train(point: OperatingPoint, config: CodecStudyConfig, workdir: Path, progress: bool) -> TrainedModel:
    final = workdir / f"{point.key}.codec"
    state = workdir / f"{point.key}.state"
    signals = _train_signals(point, config)
    shared_steps = round(config.steps * (1 - config.finetune_fraction))
    schedule = (f"{config.mode} mode: {config.steps} Adam steps (lr {config.lr:g}) of {config.batch} x "
                f"{config.segment_frames} frames, seed {config.seed}")
    if point.model == "D":
        schedule += f"; fine-tuned from model C after {shared_steps} steps"
    if final.is_file():
        codec, counts, info = load_codec(final)
        log = TrainLog(**torch.load(state, weights_only=False)["log"]) if state.is_file() else None
        return TrainedModel(point, codec, counts, f"{info['trained']} (checkpoint reused)", str(info["sha256"]),
                            log, 0.0)
    kw: dict[str, Any] = dict(batch=config.batch, segment_frames=config.segment_frames, lr=config.lr,
                              target_kbps=point.kbps / point.n_modules, seed=config.seed, save_every=50,
                              anneal_steps=config.steps,
                              progress=progress)
    start = time.perf_counter()
    if point.model in ("C", "D"):  # C's first steps, shared by the C and D of this operating point
        shared = workdir / f"{replace(point, model='C').key}.shared"
        torch.manual_seed(config.seed)
        train_codec(CascadedCodec(point.n_modules), signals, point.sample_rate, "C", steps=shared_steps,
                    checkpoint=shared, **kw)
        if not state.is_file():
            shutil.copyfile(shared, state)
    torch.manual_seed(config.seed)
    codec = CascadedCodec(point.n_modules)
    log = train_codec(codec, signals, point.sample_rate, point.model, steps=config.steps, checkpoint=state, **kw)
    n = None if config.histogram_seconds is None else int(config.histogram_seconds * point.sample_rate)
    counts = symbol_histogram(codec, [s[:n] for s in signals])
    sha = save_codec(final, codec, counts, point.sample_rate, point.key, schedule)
    return TrainedModel(point, codec, counts, schedule, sha, log, time.perf_counter() - start)


def obtain_model(point: OperatingPoint, config: CodecStudyConfig, workdir: Path,
                 progress: bool = True) -> TrainedModel:
    """A shipped model for ``point`` (hash-verified) when allowed and present, else train (or resume)."""
    entry = _shipped_entry(point) if config.use_shipped else None
    if entry is not None:
        codec, counts, info = shipped.load_shipped_codec(point.name)  # verifies the hash
        return TrainedModel(point, codec, counts, f"shipped model {point.name}: {info['trained']}",
                            str(info["sha256"]), None, 0.0, record=entry, log_csv=shipped.models_dir() / entry["log"])
    if config.mode == "standard":
        raise ValueError(f"no shipped model for {point.name}: standard mode does not train (use full mode)")
    return _train(point, config, workdir, progress)


def _eval_signal(item: str, sample_rate: int, seconds: float, songs: dict[str, torch.Tensor]
                 ) -> tuple[torch.Tensor, str]:
    """``item`` (a held-out song from ``songs`` or a shipped clip) at ``sample_rate``, its first ``seconds``."""
    if item in songs:
        x, split = songs[item], "held-out song"
    else:
        x, split = data.load_clip(item, sample_rate), "shipped clip"
    return x[: int(seconds * sample_rate)].double(), split


def _measures(x: torch.Tensor, y: torch.Tensor, sample_rate: int) -> dict[str, float]:
    result = nmr(x, y, sample_rate)
    return {
        "snr_db": float(snr(x, y)),
        "lsd_db": float(log_spectral_distance(x, y, sample_rate)[0]),
        "nmr_db": float(result.mean_db),
        "audible_fraction": float(result.audible_fraction),
        "visqol": float(visqol(x.numpy(), y.numpy(), sample_rate, "audio")),
    }


def run_study(config: CodecStudyConfig | None = None, workdir: str | os.PathLike[str] | None = None,
              progress: bool = True, csv_path: str | os.PathLike[str] | None = None) -> CodecStudy:
    """Train (or load) every operating point, code the evaluation set, measure models and anchors."""
    config = CodecStudyConfig.for_mode() if config is None else config
    base = Path(workdir) if workdir is not None else CACHE
    folder = base / f"{config.mode}-{config.fingerprint()}"
    folder.mkdir(parents=True, exist_ok=True)
    models = {p.key: obtain_model(p, config, folder, progress) for p in config.points}
    rows: list[dict[str, Any]] = []
    listening: dict[str, dict[str, np.ndarray]] = {}
    anchors_done: set[tuple[str, int, float, str]] = set()
    heldout: dict[int, dict[str, torch.Tensor]] = {}  # sample rate -> held-out songs, loaded once
    for item in config.eval_items:
        for p in config.points:
            if p.sample_rate not in heldout:
                heldout[p.sample_rate] = data.codec_corpus("heldout", p.sample_rate)
            x, split = _eval_signal(item, p.sample_rate, config.eval_seconds, heldout[p.sample_rate])
            seconds = len(x) / p.sample_rate
            common = {"item": item, "split": split, "sample_rate": p.sample_rate, "target_kbps": p.kbps}
            trained = models[p.key]
            blob = write_bitstream(trained.codec, trained.counts, x.float(), p.sample_rate)
            y, _ = read_bitstream(trained.codec, trained.counts, blob)
            y = y.double()
            rows.append({**common, "system": p.model, "point": p.key, "modules": p.n_modules,
                         "kbps": len(blob) * 8 / seconds / 1000, **_measures(x, y, p.sample_rate)})
            listen = item in config.listen_items and p.sample_rate == config.points[0].sample_rate
            n_listen = int(config.listen_seconds * p.sample_rate)
            if listen:
                listening.setdefault(item, {"reference": x[:n_listen].numpy()})[p.label] = y[:n_listen].numpy()
            ladder = sorted({p.kbps, *config.anchor_kbps})
            for name in ("MP3", "Opus"):
                for target in ladder:
                    rate = mp3_bitrate_for(target) if name == "MP3" else target
                    key = (item, p.sample_rate, rate, name)
                    if key in anchors_done:
                        continue
                    anchors_done.add(key)
                    coded = (anchors.mp3(x.numpy(), p.sample_rate, int(rate)) if name == "MP3"
                             else anchors.opus(x.numpy(), p.sample_rate, rate))
                    z = torch.from_numpy(coded.audio)
                    rows.append({**common, "target_kbps": rate, "system": name,
                                 "point": f"{name}{rate:g}_{p.sample_rate // 1000}k", "modules": 0,
                                 "kbps": coded.kbps, **_measures(x, z, p.sample_rate)})
                    if listen and target == p.kbps:
                        listening[item][f"{name} {rate:g} kbit/s"] = coded.audio[:n_listen]
    if csv_path is not None:
        with open(csv_path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return CodecStudy(config, models, rows, listening, folder)


def summary(study: CodecStudy) -> list[dict[str, Any]]:
    """Mean of each measure per system and operating point over the evaluation items (rows of a table)."""
    groups: dict[tuple[int, float, str, str], list[dict[str, Any]]] = {}
    for r in study.rows:
        groups.setdefault((r["sample_rate"], r["target_kbps"], r["system"], r["point"]), []).append(r)
    out = []
    for (rate, target, system, point), rs in groups.items():
        entry: dict[str, Any] = {"sample_rate": rate, "target_kbps": target, "system": system, "point": point}
        for k in ("kbps", "snr_db", "lsd_db", "nmr_db", "audible_fraction", "visqol"):
            entry[k] = float(np.mean([r[k] for r in rs]))
        entry["items"] = len(rs)
        out.append(entry)
    return out


def anchor_at(study: CodecStudy, anchor: str, sample_rate: int, kbps: float, measure: str) -> float:
    """Mean ``measure`` of ``anchor`` ("MP3"/"Opus") interpolated (linearly in file kbit/s) at ``kbps``.

    NaN when ``kbps`` lies outside the anchor's measured rates.
    """
    table = [r for r in summary(study) if r["system"] == anchor and r["sample_rate"] == sample_rate]
    table.sort(key=lambda r: r["kbps"])
    rates = [r["kbps"] for r in table]
    if not rates or not rates[0] <= kbps <= rates[-1]:
        return float("nan")
    return float(np.interp(kbps, rates, [r[measure] for r in table]))


