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

Locations come from the environment, never from where the code sits alone:

- ``PERCLOSS_RUNS`` -- the stored runs (:func:`runs_dir`; the stored
  evaluations are in ``$PERCLOSS_RUNS/codec/eval``, :func:`eval_dir`).
  Default: the repository's ``runs/`` when the package is imported from a
  source checkout that has one; otherwise unset is an error naming the variable
  (only where a stored evaluation is read or written).
- ``PERCLOSS_CACHE`` -- models trained and files coded by :func:`run_study`
  go to ``$PERCLOSS_CACHE/codec`` (:func:`cache_dir`). Default: the
  repository's ``_build/percloss_cache/codec``, else ``~/.cache/percloss/codec``.
- ``PERCLOSS_DATA`` -- the clips (:func:`percloss.data.clips_dir`); the full
  mode's whole training songs are looked for in ``codec_corpus/`` beside them.

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
from ..metrics import log_spectral_distance, nmr, snr
from ..modes import MODES, current_mode
from ..scorers import visqol

__all__ = ["OperatingPoint", "WORK_POINTS", "CodecStudyConfig", "CodecStudy", "run_study", "shipped_checkpoint",
           "checkpoint_path", "shipped_points", "summary", "anchor_at", "segments", "bootstrap_mean",
           "PairedDifference", "paired_difference", "attach_cdpam", "write_evaluation", "MPEG1_BITRATES", "mp3_bitrate_for"]

# Bumped whenever train_codec's procedure changes, so that cached checkpoints of an older one are not reused.
TRAINING_PROCEDURE = 3  # 2: straight-through hard quantisation, annealed sharpness, clipped gradients; 3: model A = MSE alone, masking terms on the standard's calibration
MPEG1_BITRATES = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
#: The source checkout this package was imported from (holds ``runs/``), or ``None`` for an installed package.
_CHECKOUT = Path(__file__).resolve().parents[2]


def repository_root() -> Path | None:
    """The repository the package runs from (the folder above ``percloss/`` that holds ``runs/``), or ``None``."""
    return _CHECKOUT if (_CHECKOUT / "runs").is_dir() and (_CHECKOUT / "percloss").is_dir() else None


def runs_dir() -> Path:
    """The stored runs: ``$PERCLOSS_RUNS``, else the repository's ``runs/`` next to the package.

    Raises:
        FileNotFoundError: naming ``PERCLOSS_RUNS``, when it is unset and the
            package is not imported from a source checkout with a ``runs/`` folder.
    """
    env = os.environ.get("PERCLOSS_RUNS")
    if env:
        return Path(env)
    root = repository_root()
    if root is None:
        raise FileNotFoundError(f"no runs/ folder next to the package ({_CHECKOUT}); set PERCLOSS_RUNS to the "
                                "folder holding the stored runs (the repository's runs/)")
    return root / "runs"


def eval_dir() -> Path:
    """Stored evaluations of the shipped models (``scripts/eval_codec_study.py``): ``runs_dir()/codec/eval``."""
    return runs_dir() / "codec" / "eval"


def cache_dir() -> Path:
    """Where :func:`run_study` trains and codes: ``$PERCLOSS_CACHE/codec``, else the repository's
    ``_build/percloss_cache/codec``, else ``~/.cache/percloss/codec``."""
    env = os.environ.get("PERCLOSS_CACHE")
    if env:
        return Path(env) / "codec"
    root = repository_root()
    base = root / "_build" / "percloss_cache" if root is not None else Path.home() / ".cache" / "percloss"
    return base / "codec"


def _shown(path: Path) -> Path:
    """``path`` relative to the repository when inside it (for messages and pages), else as is."""
    root = repository_root()
    return path.relative_to(root) if root is not None and path.is_relative_to(root) else path


_STORED = object()  # run_study's default: the stored evaluations of eval_dir()


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


def segments(songs: tuple[str, ...], count: int, seconds: float) -> tuple[str, ...]:
    """Evaluation items that cut each of ``songs`` into ``count`` consecutive segments of ``seconds``.

    An item is named ``"<song>@<offset>s"`` (offset in seconds from the start of the shipped excerpt).

    >>> segments(("mutilated_mime",), 3, 6.0)
    ('mutilated_mime@0s', 'mutilated_mime@6s', 'mutilated_mime@12s')
    """
    return tuple(f"{song}@{k * seconds:g}s" for song in songs for k in range(count))


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
        held_out = segments(songs, 12, 6.0)  # 2 x 72 s excerpts: 24 segments of 6 s
        listen = tuple(f"{song}@{t}s" for song in songs for t in (0, 36))  # four held-out segments
        if mode == "quick":
            return cls(STANDARD_POINTS, 8, 2, 4, 1e-3, ("mutilated_mime@0s", "piano_bach"), 2.0,
                       ("mutilated_mime@0s", "piano_bach"), 2.0, histogram_seconds=1.0, mode=mode, use_shipped=False)
        if mode == "standard":
            run = RUN
            return cls(shipped_points(), run.steps, run.batch, run.segment_frames, run.lr, held_out + clips, 6.0,
                       listen, 4.0, anchor_kbps=(48, 64, 80, 112), histogram_seconds=run.histogram_seconds,
                       finetune_fraction=run.finetune_fraction, seed=run.seed, mode=mode)
        full = data.clips_dir().parent / "codec_corpus"  # beside the clips ($PERCLOSS_DATA)
        return cls(WORK_POINTS, 20000, 128, 8, 2e-4, held_out + clips, 6.0, listen, 4.0, histogram_seconds=None,
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
    evaluation: str = "computed in this build"  # or where the stored rows came from


def checkpoint_path(study: CodecStudy, point: OperatingPoint) -> str:
    """How to name ``point``'s model to ``python -m percloss encode --model``: its shipped name, or its file."""
    if study.config.use_shipped and shipped_checkpoint(point) is not None:
        return point.name
    path = (study.folder / f"{point.key}.codec").resolve()
    return str(_shown(path))


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
        log = TrainLog(**torch.load(state, map_location="cpu", weights_only=True)["log"]) if state.is_file() else None
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
    """``item`` at ``sample_rate``: ``seconds`` of a held-out song from ``songs`` (``"<song>@<offset>s"``: from
    that offset; a bare song name: from its start) or the first ``seconds`` of a shipped clip.

    Raises:
        ValueError: if a segment runs past the end of its song's excerpt.
    """
    song, _, offset = item.partition("@")
    if song in songs:
        start = int(round(float(offset.removesuffix("s")) * sample_rate)) if offset else 0
        x, split = songs[song][start:], "held-out segment" if offset else "held-out song"
        if len(x) < int(seconds * sample_rate):
            raise ValueError(f"item {item!r}: the excerpt of {song} ends before {seconds:g} s from its offset")
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


def _evaluate(config: CodecStudyConfig, models: dict[str, TrainedModel], items: tuple[str, ...]
              ) -> tuple[list[dict[str, Any]], dict[str, dict[str, np.ndarray]]]:
    """Code ``items`` with every model and anchor; the measure rows and the listening excerpts."""
    rows: list[dict[str, Any]] = []
    listening: dict[str, dict[str, np.ndarray]] = {}
    anchors_done: set[tuple[str, int, float, str]] = set()
    heldout: dict[int, dict[str, torch.Tensor]] = {}  # sample rate -> held-out songs, loaded once
    for item in items:
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
    return rows, listening


def _record_key(config: CodecStudyConfig, models: dict[str, TrainedModel]) -> dict[str, Any]:
    """What a stored evaluation must match to stand for this one: models (by hash) and evaluation settings."""
    return {"models": {m.point.name: m.sha256 for m in models.values()}, "items": list(config.eval_items),
            "eval_seconds": config.eval_seconds, "anchor_kbps": list(config.anchor_kbps)}


def _write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_evaluation(study: CodecStudy, folder: str | os.PathLike[str] | None = None, wall_s: float = 0.0,
                     machine: str = "") -> Path:
    """Store ``study``'s rows as ``<mode>.csv`` with ``<mode>.json`` (what they were computed from, the
    CSV's SHA-256) in ``folder`` (Default: :func:`eval_dir`), for :func:`run_study` to load instead of
    recomputing."""
    out = Path(folder) if folder is not None else eval_dir()
    out.mkdir(parents=True, exist_ok=True)
    table = out / f"{study.config.mode}.csv"
    _write_rows(table, study.rows)
    record = {**_record_key(study.config, study.models), "csv_sha256": hashlib.sha256(table.read_bytes()).hexdigest(),
              "wall_seconds": round(wall_s, 1), "machine": machine}
    (out / f"{study.config.mode}.json").write_text(json.dumps(record, indent=1) + "\n")
    return table


def _stored_rows(config: CodecStudyConfig, models: dict[str, TrainedModel], folder: Path
                 ) -> list[dict[str, Any]] | None:
    """The stored evaluation's rows when it was computed from exactly these models and settings, else ``None``.

    Raises:
        ValueError: if the stored table's SHA-256 differs from its record's.
    """
    table, record_file = folder / f"{config.mode}.csv", folder / f"{config.mode}.json"
    if not (table.is_file() and record_file.is_file()):
        return None
    record = json.loads(record_file.read_text())
    key = _record_key(config, models)
    if {k: record.get(k) for k in key} != key:
        return None
    if hashlib.sha256(table.read_bytes()).hexdigest() != record["csv_sha256"]:
        raise ValueError(f"{table} does not match the SHA-256 in {record_file}")
    with open(table, newline="") as handle:
        rows: list[dict[str, Any]] = list(csv.DictReader(handle))
    for r in rows:
        for k in ("sample_rate", "modules"):
            r[k] = int(r[k])
        for k in ("target_kbps", *MEASURES):
            r[k] = float(r[k])
    return rows


def _check_agreement(live: list[dict[str, Any]], stored: list[dict[str, Any]], rtol: float = 1e-6) -> None:
    """Every live row equals its stored row (same item, point) to ``rtol``; raise ``ValueError`` otherwise."""
    index = {(r["item"], r["point"]): r for r in stored}
    for r in live:
        s = index.get((r["item"], r["point"]))
        if s is None:
            raise ValueError(f"the stored evaluation has no row for {r['item']}, {r['point']}")
        for k in MEASURES:
            if not np.isclose(r[k], s[k], rtol=rtol, atol=1e-9):
                raise ValueError(f"stored evaluation disagrees with this build on {r['item']}, {r['point']}, {k}: "
                                 f"{s[k]!r} stored vs {r[k]!r} now")


def run_study(config: CodecStudyConfig | None = None, workdir: str | os.PathLike[str] | None = None,
              progress: bool = True, csv_path: str | os.PathLike[str] | None = None,
              stored: str | os.PathLike[str] | None | object = _STORED) -> CodecStudy:
    """Train (or load) every operating point, code the evaluation set, measure models and anchors.

    With shipped models, an evaluation stored in ``stored`` (:func:`write_evaluation`) that was computed
    from the same models (SHA-256) and settings is loaded instead of recomputed; the listening items are
    still coded in this build and must agree with it row for row. ``stored`` defaults to :func:`eval_dir`
    (``$PERCLOSS_RUNS``); ``stored=None`` recomputes everything. ``workdir`` defaults to :func:`cache_dir`.
    """
    config = CodecStudyConfig.for_mode() if config is None else config
    base = Path(workdir) if workdir is not None else cache_dir()
    if stored is _STORED:
        stored = eval_dir() if config.use_shipped else None
    assert stored is None or isinstance(stored, (str, os.PathLike))
    folder = base / f"{config.mode}-{config.fingerprint()}"
    folder.mkdir(parents=True, exist_ok=True)
    models = {p.key: obtain_model(p, config, folder, progress) for p in config.points}
    rows = _stored_rows(config, models, Path(stored)) if stored is not None and config.use_shipped else None
    if rows is None:
        rows, listening = _evaluate(config, models, config.eval_items)
        source = "computed in this build"
    else:
        live, listening = _evaluate(config, models, tuple(i for i in config.eval_items if i in config.listen_items))
        _check_agreement(live, rows)
        table = Path(stored or "") / f"{config.mode}.csv"
        shown = _shown(table.resolve())
        source = (f"loaded from the stored evaluation `{shown}` (same models by SHA-256); "
                  f"its {len({r['item'] for r in live})} listening items recoded in this build and checked against it")
        cdpam = attach_cdpam(rows, models, Path(stored or ""))
        if cdpam is not None:
            source += f"; {cdpam}"
    if csv_path is not None:
        _write_rows(Path(csv_path), rows)
    return CodecStudy(config, models, rows, listening, folder, source)


MEASURES = ("kbps", "snr_db", "lsd_db", "nmr_db", "audible_fraction", "visqol")


def summary(study: CodecStudy, split: str | None = None, intervals: bool = False) -> list[dict[str, Any]]:
    """Mean of each measure per system and operating point over the evaluation items (rows of a table),
    optionally only the items of ``split``; with ``intervals``, also ``<measure>_low``/``_high``: the
    percentile-bootstrap 95 % interval of each mean over the items."""
    groups: dict[tuple[int, float, str, str], list[dict[str, Any]]] = {}
    for r in study.rows:
        if split is None or r["split"] == split:
            groups.setdefault((r["sample_rate"], r["target_kbps"], r["system"], r["point"]), []).append(r)
    out = []
    for (rate, target, system, point), rs in groups.items():
        entry: dict[str, Any] = {"sample_rate": rate, "target_kbps": target, "system": system, "point": point}
        for k in MEASURES:
            values = np.array([r[k] for r in rs], dtype=np.float64)
            entry[k] = float(values.mean())
            if intervals:
                _, entry[f"{k}_low"], entry[f"{k}_high"] = bootstrap_mean(values)
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


def bootstrap_mean(values: np.ndarray, resamples: int = 2000, level: float = 0.95, seed: int = 0
                   ) -> tuple[float, float, float]:
    """Mean of ``values`` (1-D, finite) and its percentile-bootstrap ``level`` interval over the values.

    Returns:
        ``(mean, low, high)``.

    Raises:
        ValueError: if ``values`` is empty or holds a non-finite value.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or len(values) == 0 or not np.isfinite(values).all():
        raise ValueError(f"values must be a non-empty 1-D array of finite numbers, got {values!r}")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(values.mean()), float(low), float(high)


@dataclass(frozen=True)
class PairedDifference:
    """``a − b`` on one measure over the items both systems coded: mean with its bootstrap 95 % interval,
    and on how many items ``a`` is better."""

    a: str
    b: str
    measure: str
    items: int
    mean: float
    low: float
    high: float
    a_better: int
    lower_is_better: bool

    @property
    def verdict(self) -> str:
        """``"a"`` or ``"b"`` where the interval excludes 0 (the better system), else ``"tie"``."""
        if self.low > 0 or self.high < 0:
            return "a" if (self.high < 0) == self.lower_is_better else "b"
        return "tie"


LOWER_IS_BETTER = {"nmr_db": True, "audible_fraction": True, "lsd_db": True, "visqol": False, "snr_db": False,
                   "cdpam": True}


def attach_cdpam(rows: list[dict[str, Any]], models: dict[str, TrainedModel], folder: str | os.PathLike[str]
                 ) -> str | None:
    """Add the stored CDPAM distances (``scripts/eval_codec_cdpam.py``: ``cdpam.csv`` and ``cdpam.json`` in
    ``folder``) to ``rows`` as ``"cdpam"``, in place, when they were computed from exactly these models
    (SHA-256); return what was attached, or ``None`` (no file, or other models).

    Raises:
        ValueError: if the table's SHA-256 differs from its record's.
    """
    table, record_file = Path(folder) / "cdpam.csv", Path(folder) / "cdpam.json"
    if not (table.is_file() and record_file.is_file()):
        return None
    record = json.loads(record_file.read_text())
    if hashlib.sha256(table.read_bytes()).hexdigest() != record["table_sha256"]:
        raise ValueError(f"{table} does not match the SHA-256 in {record_file}")
    if any(models.get(key) is None or models[key].sha256 != entry["sha256"]
           for key, entry in record["models"].items()):
        return None
    with open(table, newline="") as handle:
        scores = {(r["item"], r["point"]): float(r["cdpam"]) for r in csv.DictReader(handle)}
    hits = 0
    for r in rows:
        value = scores.get((r["item"], r["point"]))
        if value is not None:
            r["cdpam"] = value
            hits += 1
    return (f"CDPAM for {hits} rows ({len({p for _, p in scores})} systems, the held-out segments) from "
            f"`{_shown(table.resolve())}` (same models by SHA-256; {record['wall_s'] / 60:.0f} min on "
            f"{record['machine']})")


def paired_difference(rows: list[dict[str, Any]], a: str, b: str, measure: str, split: str | None = None,
                      seed: int = 0) -> PairedDifference:
    """Paired ``a − b`` of ``measure`` between two row keys (``point`` column, e.g. ``"C64_32k_1m"``,
    ``"MP3 64_32k"``) over the items both have, optionally only those of ``split``.

    Raises:
        ValueError: for an unknown measure, or when the two systems share no item.
    """
    measure = check_choice(measure, "measure", tuple(LOWER_IS_BETTER))
    pick = [r for r in rows if split is None or r["split"] == split]
    va = {r["item"]: r[measure] for r in pick if r["point"] == a and measure in r}
    vb = {r["item"]: r[measure] for r in pick if r["point"] == b and measure in r}
    common = sorted(set(va) & set(vb))
    if not common:
        raise ValueError(f"{a} and {b} share no evaluation item{'' if split is None else ' in ' + split}")
    diff = np.array([va[i] - vb[i] for i in common])
    mean, low, high = bootstrap_mean(diff, seed=seed)
    lower = LOWER_IS_BETTER[measure]
    better = int((diff < 0).sum() if lower else (diff > 0).sum())
    return PairedDifference(a, b, measure, len(common), mean, low, high, better, lower)
