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

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import anchors, data, shipped
from .._checks import check_choice
from ..anchors import mp3_bitrate_for
from ..codec import (
    CascadedCodec,
    count_parameters,
    load_codec,
    read_bitstream,
    write_bitstream,
)
from ..codec_runs import POINTS, RUN, RunConfig, RunPoint, read_log, train_point
from ..codec_training import TrainLog
from ..metrics import log_spectral_distance, nmr, snr
from ..modes import MODES, current_mode
from ..paths import runs_dir, shown_path
from ..scorers import visqol
from .stats import bootstrap_mean

__all__ = ["WORK_POINTS", "QUICK_POINTS", "CodecStudyConfig", "CodecStudy", "TrainedModel", "obtain_model",
           "evaluate", "shipped_checkpoint", "checkpoint_path", "eval_signal", "shipped_points", "describe_model",
           "training_curve", "summary", "means_table", "cdpam_table", "anchor_at", "segments", "MEASURES",
           "SEGMENT", "CLIP", "NOT_SHIPPED", "not_shipped_reason", "why_absent", "in_this_build",
           "operating_points_table", "RATE_TOLERANCE", "ATTEMPTS_RECORD", "quick_reason"]

# Bumped whenever train_codec's procedure changes, so that cached checkpoints of an older one are not reused.
TRAINING_PROCEDURE = 4  # 2: straight-through hard quantisation, annealed sharpness, clipped gradients; 3: model A = MSE alone, masking terms on the standard's calibration; 4: the output convolution by FFT while training on a CPU
# The work's operating points (Zhen et al. 2020: the models of its page's decoded sample sets): the long runs' list.
WORK_POINTS = tuple(POINTS.values())
# Quick mode's tiny models: the four losses at one point (B64 is not one of the work's points).
QUICK_POINTS = tuple(POINTS.get(f"{m}64") or RunPoint(f"{m}64", m, 32000, 64, 1) for m in "ABCD")


def shipped_points() -> tuple[RunPoint, ...]:
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


@dataclass
class CodecStudyConfig:
    """Operating points, training schedule and evaluation set of one run."""

    points: tuple[RunPoint, ...]
    schedule: RunConfig  # how a point is trained (:meth:`percloss.codec_runs.RunConfig.settings`)
    eval_items: tuple[str, ...]
    eval_seconds: float
    listen_items: tuple[str, ...]
    listen_seconds: float
    anchor_kbps: tuple[float, ...] = ()  # MP3/Opus also at these rates (rate-quality curves)
    mode: str = "custom"
    use_shipped: bool = True
    corpus_folder: str | None = None
    listen_anchor_kbps: float | None = None  # the anchors' rate in the listening panel (None: the first point's)

    @classmethod
    def for_mode(cls, mode: str | None = None) -> CodecStudyConfig:
        """``quick``: 8 steps per model (pipeline check, untrained); ``standard``: the models that ship
        with the package (:func:`shipped_points`; no training; their schedule is
        :data:`percloss.codec_runs.RUN`); ``full``: the work's ten points trained here, batch 128, lr 2e-4
        (the work's), 20000 steps, whole songs if ``data/codec_corpus`` exists. The schedule of each is
        :meth:`percloss.codec_runs.RunConfig.for_mode`."""
        mode = current_mode() if mode is None else check_choice(mode, "mode", MODES)
        schedule = RunConfig.for_mode(mode)
        songs = ("escape_from_chaosland", "mutilated_mime")
        clips = tuple(data.list_clips())
        held_out = segments(songs, 12, 6.0)  # 2 x 72 s excerpts: 24 segments of 6 s
        listen = tuple(f"{song}@{t}s" for song in songs for t in (0, 36))  # four held-out segments
        if mode == "quick":
            return cls(QUICK_POINTS, schedule, ("mutilated_mime@0s", "piano_bach"), 2.0,
                       ("mutilated_mime@0s", "piano_bach"), 2.0, mode=mode, use_shipped=False)
        if mode == "standard":
            return cls(shipped_points(), schedule, held_out + clips, 6.0, listen, 4.0, anchor_kbps=(48, 64, 80, 112),
                       mode=mode)
        full = data.clips_dir().parent / "codec_corpus"  # beside the clips ($PERCLOSS_DATA)
        return cls(WORK_POINTS, schedule, held_out + clips, 6.0, listen, 4.0,
                   anchor_kbps=(48, 64, 80, 96, 112, 128, 160), mode=mode, use_shipped=False,
                   corpus_folder=str(full) if full.is_dir() else None)

    @property
    def seed(self) -> int:
        return self.schedule.seed

    def fingerprint(self) -> str:
        """Short hash of the training settings (names the checkpoint folder)."""
        record: dict[str, Any] = {**asdict(self.schedule), "corpus_folder": self.corpus_folder,
                                  "procedure": TRAINING_PROCEDURE}
        text = json.dumps(record, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:10]


@dataclass
class TrainedModel:
    point: RunPoint
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
    opus_streams: dict[tuple[str, str], bytes] = field(default_factory=dict)  # (item, point) -> Ogg Opus file
    live_rows: list[dict[str, Any]] = field(default_factory=list)  # rows recoded to check a stored evaluation
    stored_record: dict[str, Any] = field(default_factory=dict)  # the loaded stored evaluation's record


def describe_model(model: TrainedModel) -> str:
    """A Markdown bullet on how ``model`` was obtained: a shipped model's manifest (modules, parameters, steps,
    training audio, device and time, held-out file rate, SHA-256, code commit), else its training in this run."""
    r = model.record
    if not r:
        return (f"- **{model.point.label}**: {model.source}; training wall time in this build "
                f"{model.seconds / 60:.1f} min; checkpoint SHA-256 `{model.sha256[:16]}…`")
    return (f"- **{model.point.name}** ({r['n_modules']} module(s), {r['parameters']:,} parameters, "
            f"{r['sample_rate'] / 1000:g} kHz): {r['steps']} steps, {r['audio_seen_hours']:g} h of training audio, "
            f"trained on {r.get('device', 'cpu')} in {r['wall_hours'] * 60:.0f} min of training time; "
            f"file bitrate on the two whole held-out songs {r['file_kbps_heldout']:.2f} kbit/s "
            f"(target {r['target_kbps']:g}); SHA-256 `{r['sha256'][:16]}…`, code commit `{r['code_commit'][:10]}`")


def training_curve(model: TrainedModel) -> dict[str, np.ndarray] | None:
    """``model``'s training curve (:func:`percloss.shipped.training_curve`) from its shipped log or this run's,
    or ``None`` when it has neither."""
    if model.log_csv is not None:
        return shipped.training_curve(model.log_csv, model.point.n_modules)
    if model.log is None or not model.log.steps:
        return None
    return shipped.training_curve(model.log, model.point.n_modules)


def checkpoint_path(study: CodecStudy, point: RunPoint) -> str:
    """How to name ``point``'s model to ``python -m percloss encode --model``: its shipped name, or its file."""
    if study.config.use_shipped and shipped_checkpoint(point) is not None:
        return point.name
    path = (study.folder / point.name / f"{point.name}.codec").resolve()
    return str(shown_path(path))


def _shipped_entry(point: RunPoint) -> dict[str, Any] | None:
    """The manifest entry of ``point``'s shipped model (same name, rate and modules), or ``None``."""
    entry = shipped.shipped_models().get(point.name)
    if entry is None or (entry["sample_rate"], entry["n_modules"]) != (point.sample_rate, point.n_modules):
        return None
    return entry


def shipped_checkpoint(point: RunPoint) -> Path | None:
    """The shipped checkpoint of ``point`` (:mod:`percloss.shipped`), its SHA-256 verified; ``None`` if none ships.

    Raises:
        ValueError: if the manifest lists it but the file is missing or its hash differs.
    """
    entry = _shipped_entry(point)
    if entry is None:
        return None
    shipped.load_shipped_codec(point.name)  # verifies the hash
    return shipped.models_dir() / entry["file"]


def _train(point: RunPoint, config: CodecStudyConfig, workdir: Path, progress: bool) -> TrainedModel:
    """Train ``point`` in ``workdir`` with :func:`percloss.codec_runs.train_point` under ``config.schedule``
    (a fine-tuned point's source first, when its shared state is not there yet); a finished model is reused."""
    final = workdir / point.name / f"{point.name}.codec"
    if final.is_file():
        codec, counts, info = load_codec(final)
        return TrainedModel(point, codec, counts, f"{info['trained']} (checkpoint reused)", str(info["sha256"]),
                            read_log(workdir / point.name / "state.pt"), 0.0)
    kw: dict[str, Any] = dict(corpus_folder=config.corpus_folder, print_fn=print if progress else _quiet)
    start = time.perf_counter()
    log = train_point(point, config.schedule, workdir, **kw)
    if log is None:  # fine-tuned from a point whose shared steps are not there yet
        source = next((p for p in config.points if p.name == point.init_from), None) or POINTS[str(point.init_from)]
        train_point(source, config.schedule, workdir, **kw)
        log = train_point(point, config.schedule, workdir, **kw)
    codec, counts, info = load_codec(final)
    return TrainedModel(point, codec, counts, str(info["trained"]), str(info["sha256"]), log,
                        time.perf_counter() - start)


def _quiet(_line: str) -> None:
    pass


def obtain_model(point: RunPoint, config: CodecStudyConfig, workdir: Path,
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


def eval_signal(item: str, sample_rate: int, seconds: float, songs: dict[str, torch.Tensor]
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


def _opus_coded(x: torch.Tensor, sample_rate: int, kbps: float, key: tuple[str, str], listen: bool,
                opus_streams: dict[tuple[str, str], bytes] | None) -> anchors.Coded:
    """Opus at ``kbps``: decoded from ``opus_streams[key]`` when that holds the bitstream, else encoded here
    (and, for a listening item, the new bitstream kept in ``opus_streams``).

    Raises:
        ValueError: if a stored bitstream's file rate is not within :data:`percloss.anchors.OPUS_RATE_TOLERANCE`
            of ``kbps``.
    """
    y = x.numpy()
    blob = None if opus_streams is None else opus_streams.get(key)
    if blob is None:
        blob = anchors.opus_encode(y, sample_rate, kbps)
        if listen and opus_streams is not None:
            opus_streams[key] = blob
    coded = anchors.opus_decode(blob, y, sample_rate)
    if abs(coded.kbps - kbps) > anchors.OPUS_RATE_TOLERANCE * kbps:
        raise ValueError(f"the stored Opus bitstream of {key[0]}, {key[1]} has {coded.kbps:.2f} kbit/s, "
                         f"not {kbps:g} within {anchors.OPUS_RATE_TOLERANCE:.0%}: it was made for another setting")
    return coded


def evaluate(config: CodecStudyConfig, models: dict[str, TrainedModel], items: tuple[str, ...],
              done: frozenset[tuple[str, str]] = frozenset(),
              opus_streams: dict[tuple[str, str], bytes] | None = None,
              ) -> tuple[list[dict[str, Any]], dict[str, dict[str, np.ndarray]]]:
    """Code ``items`` with every model and anchor; the measure rows and the listening excerpts.
    ``done``: ``(item, point)`` rows to leave out (stored already). ``opus_streams``: Ogg Opus files by
    ``(item, point)`` to decode instead of encoding (libopus encodes differently on other processors);
    the listening items' new Opus bitstreams are added to it."""
    rows: list[dict[str, Any]] = []
    listening: dict[str, dict[str, np.ndarray]] = {}
    anchors_done: set[tuple[str, int, float, str]] = set()
    heldout: dict[int, dict[str, torch.Tensor]] = {}  # sample rate -> held-out songs, loaded once
    for item in items:
        for p in config.points:
            if p.sample_rate not in heldout:
                heldout[p.sample_rate] = data.codec_corpus("heldout", p.sample_rate)
            x, split = eval_signal(item, p.sample_rate, config.eval_seconds, heldout[p.sample_rate])
            seconds = len(x) / p.sample_rate
            common = {"item": item, "split": split, "sample_rate": p.sample_rate, "target_kbps": p.kbps}
            listen = item in config.listen_items and p.sample_rate == config.points[0].sample_rate
            n_listen = int(config.listen_seconds * p.sample_rate)
            if (item, p.key) not in done:
                trained = models[p.key]
                blob = write_bitstream(trained.codec, trained.counts, x.float(), p.sample_rate)
                y, _ = read_bitstream(trained.codec, trained.counts, blob)
                y = y.double()
                rows.append({**common, "system": p.model, "point": p.key, "modules": p.n_modules,
                             "kbps": len(blob) * 8 / seconds / 1000, **_measures(x, y, p.sample_rate)})
                if listen:
                    listening.setdefault(item, {"reference": x[:n_listen].numpy()})[p.label] = y[:n_listen].numpy()
            ladder = sorted({p.kbps, *config.anchor_kbps})
            for name in ("MP3", "Opus"):
                for target in ladder:
                    rate = mp3_bitrate_for(target) if name == "MP3" else target
                    key = (item, p.sample_rate, rate, name)
                    point = f"{name}{rate:g}_{p.sample_rate // 1000}k"
                    if key in anchors_done or (item, point) in done:
                        continue
                    anchors_done.add(key)
                    coded = (anchors.mp3(x.numpy(), p.sample_rate, int(rate)) if name == "MP3"
                             else _opus_coded(x, p.sample_rate, rate, (item, point), item in config.listen_items,
                                              opus_streams))
                    z = torch.from_numpy(coded.audio)
                    rows.append({**common, "target_kbps": rate, "system": name, "point": point, "modules": 0,
                                 "kbps": coded.kbps, **_measures(x, z, p.sample_rate)})
                    if listen and target == (config.listen_anchor_kbps or config.points[0].kbps):
                        listening.setdefault(item, {"reference": x[:n_listen].numpy()})[
                            f"{name} {rate:g} kbit/s"] = coded.audio[:n_listen]
    return rows, listening


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


#: The measures of :func:`means_table` and their column labels.
MEASURE_LABELS = {"kbps": "kbit/s (file)", "snr_db": "SNR dB", "lsd_db": "LSD dB", "nmr_db": "NMR dB",
                  "audible_fraction": "audible frames", "visqol": "ViSQOL"}


def means_table(study: CodecStudy, split: str) -> list[dict[str, Any]]:
    """Each system's mean of each measure over the items of ``split`` with its percentile-bootstrap 95 %
    interval, formatted (``"3.41 [3.30, 3.52]"``): one row per sample rate, target rate and system."""
    out = []
    for entry in summary(study, split=split, intervals=True):
        row = {k: entry[k] for k in ("sample_rate", "target_kbps", "system", "items")}
        for k, label in MEASURE_LABELS.items():
            digits = 3 if k == "audible_fraction" else 2
            row[label] = f"{entry[k]:.{digits}f} [{entry[k + '_low']:.{digits}f}, {entry[k + '_high']:.{digits}f}]"
        out.append(row)
    return out


def cdpam_table(study: CodecStudy) -> list[dict[str, Any]]:
    """Each system's mean CDPAM distance over the held-out segments that carry a stored score, with its
    percentile-bootstrap 95 % interval and mean file rate (empty when no score is attached)."""
    scored = [r for r in study.rows if "cdpam" in r and r["split"] == SEGMENT]
    out = []
    for point in dict.fromkeys(r["point"] for r in scored):
        values = np.array([r["cdpam"] for r in scored if r["point"] == point])
        mean, low, high = bootstrap_mean(values)
        kbps = np.mean([r["kbps"] for r in study.rows if r["point"] == point and r["split"] == SEGMENT])
        out.append({"point": point, "kbit/s (file)": round(float(kbps), 2), "segments": len(values),
                    "CDPAM [95 %]": f"{mean:.3f} [{low:.3f}, {high:.3f}]"})
    return out


def anchor_at(study: CodecStudy, anchor: str, sample_rate: int, kbps: float, measure: str,
              split: str | None = None) -> float:
    """Mean ``measure`` of ``anchor`` ("MP3"/"Opus") interpolated (linearly in file kbit/s) at ``kbps``, the
    means taken over all items or those of ``split``. (Per item, paired: :func:`interpolated_difference`.)

    NaN when ``kbps`` lies outside the anchor's measured rates.
    """
    table = [r for r in summary(study, split) if r["system"] == anchor and r["sample_rate"] == sample_rate]
    table.sort(key=lambda r: r["kbps"])
    rates = [r["kbps"] for r in table]
    if not rates or not rates[0] <= kbps <= rates[-1]:
        return float("nan")
    return float(np.interp(kbps, rates, [r[measure] for r in table]))


SEGMENT = "held-out segment"  # the split of the held-out segments (:func:`eval_signal`)
CLIP = "shipped clip"  # the split of the book's clips
#: Largest relative gap between two systems' file rates and the rates a claim sets them at, beyond which an
#: anchor is interpolated at the model's own rate (:func:`codec_claims`).
RATE_TOLERANCE = 0.03
#: The record of the failed training attempts that :data:`NOT_SHIPPED` summarises.
ATTEMPTS_RECORD = "runs/codec/attempts/README.md"
#: Why a point of the work has no shipped model: the one place these reasons are written (see
#: :data:`ATTEMPTS_RECORD`; every page and table takes them from here).
NOT_SHIPPED: dict[str, str] = {
    "A168": ("its two-module training collapsed: in the second GPU attempt the distortion jumped at step ≈2840, "
             "then both modules' codes fell onto one centroid"),
    "C112": ("its GPU run was stopped after 2300 steps, its rate multipliers above the bounds now in place, and "
             "has not been repeated yet"),
    "D112": "it is fine-tuned from C112, which is not trained",
}


def not_shipped_reason(name: str) -> str:
    """Why point ``name`` does not ship (:data:`NOT_SHIPPED`), with the progress of a run under way: the steps in
    its training log beside its snapshot (``runs_dir()/codec/<name>/log.csv``, ``python -m percloss train-codec``)."""
    reason = NOT_SHIPPED.get(name, "not trained")
    try:
        log = runs_dir() / "codec" / name / "log.csv"
    except FileNotFoundError:
        return reason
    if log.is_file():
        with open(log) as handle:
            steps = sum(1 for _ in handle) - 1
        if 0 < steps < RUN.steps:
            reason += (f"; a new run under the two-module schedule had reached step {steps} of {RUN.steps} "
                       f"(`runs/codec/{name}/`, resumable)")
    return reason


def quick_reason(config: CodecStudyConfig) -> str:
    """Why nothing of a quick build stands for the work's models."""
    return (f"quick mode trains tiny models for {config.schedule.steps} steps, untrained: a pipeline check, "
            "not the work's models")


def why_absent(name: str, config: CodecStudyConfig) -> str:
    """Why system ``name`` (a point of the work, ``"A79"``, or an anchor) is not evaluated in a build of
    ``config``: quick mode's reason, a point's :data:`NOT_SHIPPED` reason when the build uses the shipped
    models, else ``"not in this build"``."""
    if config.mode == "quick":
        return quick_reason(config)
    if config.use_shipped and name in POINTS and name not in shipped.shipped_models():
        return not_shipped_reason(name)
    return "not in this build"


def in_this_build(name: str, config: CodecStudyConfig) -> str:
    """What a build of ``config`` does with the work's point ``name`` (a cell of :func:`operating_points_table`)."""
    if config.mode == "quick":
        return quick_reason(config)
    if name not in {p.name for p in config.points}:
        return f"not evaluated: {why_absent(name, config)}"
    return "evaluated (shipped model)" if config.use_shipped else "trained and evaluated in this build"


def operating_points_table(config: CodecStudyConfig) -> list[dict[str, Any]]:
    """One row per operating point of the work (:data:`percloss.codec_runs.POINTS`): sample rate, target rate,
    modules, parameters (counted), whether a model ships (else why: :data:`NOT_SHIPPED`), its training
    (steps, device) and held-out file rate from the shipped manifest, and what a build of ``config`` does with it."""
    counted: dict[int, int] = {}
    out = []
    for point in POINTS.values():
        if point.n_modules not in counted:
            counted[point.n_modules] = count_parameters(CascadedCodec(point.n_modules))
        entry = _shipped_entry(point)
        out.append({
            "point": point.name, "sample rate (kHz)": point.sample_rate / 1000, "kbit/s (target)": point.kbps,
            "modules": point.n_modules, "parameters": counted[point.n_modules],
            "shipped": "yes" if entry else f"no: {not_shipped_reason(point.name)}",
            "training": f"{entry['steps']} steps on {entry.get('device', 'cpu')}" if entry else "—",
            "held-out kbit/s (file)": entry["file_kbps_heldout"] if entry else None,
            "in this build": in_this_build(point.name, config),
        })
    return out
