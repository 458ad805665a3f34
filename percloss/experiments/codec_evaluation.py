"""The codec study's stored evaluation: compute it, store it, update it, and check a build against it.

Standard mode evaluates the shipped models, which do not change between builds; so the rows are computed once
(``python -m percloss eval-codec``), stored in ``$PERCLOSS_RUNS/codec/eval`` (:func:`percloss.paths.eval_dir`)
with the models' SHA-256, and loaded by :func:`run_study`, which recodes the listening items in every build and
requires them to agree with the stored rows within tolerances measured between processors
(:data:`NEURAL_TOLERANCE`). CDPAM, slow on a CPU, is scored separately (:func:`score_cdpam`) and attached to the
rows of the same models (:func:`attach_cdpam`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from ..modes import machine_description
from ..paths import cache_dir, eval_dir, shown_path
from . import codec_study as cs
from .codec_study import MEASURES, CodecStudy, CodecStudyConfig, TrainedModel

__all__ = ["run_study", "write_evaluation", "update_evaluation", "stored_evaluation", "check_agreement",
           "agreement_summary", "agreement_tolerance", "NEURAL_TOLERANCE", "EXACT_TOLERANCE", "REBUILD_COMMAND",
           "attach_cdpam", "cdpam_seconds", "score_cdpam"]

_STORED = object()  # run_study's default: the stored evaluations of eval_dir()


def _record_key(config: CodecStudyConfig, models: dict[str, TrainedModel]) -> dict[str, Any]:
    """What a stored evaluation must match to stand for this one: models (by hash) and evaluation settings."""
    return {"models": {m.point.name: m.sha256 for m in models.values()}, "items": list(config.eval_items),
            "eval_seconds": config.eval_seconds, "anchor_kbps": list(config.anchor_kbps)}


def _write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _listening_opus_keys(config: CodecStudyConfig, rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """``(item, point)`` of the Opus rows of ``config``'s listening items: the ones a build recodes, whose
    bitstreams the stored evaluation keeps."""
    return {(r["item"], r["point"]) for r in rows if r["system"] == "Opus" and r["item"] in config.listen_items}


def _opus_folder(folder: Path, mode: str) -> Path:
    return folder / f"opus-{mode}"


def _opus_name(key: tuple[str, str]) -> str:
    return f"{key[0]}__{key[1]}.opus"


def _write_opus(folder: Path, mode: str, streams: dict[tuple[str, str], bytes]) -> dict[str, str]:
    """Store ``streams`` as ``opus-<mode>/<item>__<point>.opus`` in ``folder``; their SHA-256 by file name."""
    out = _opus_folder(folder, mode)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.opus"):
        stale.unlink()
    hashes = {}
    for key in sorted(streams):
        (out / _opus_name(key)).write_bytes(streams[key])
        hashes[_opus_name(key)] = hashlib.sha256(streams[key]).hexdigest()
    return hashes


def _read_opus(folder: Path, mode: str, record: dict[str, Any], keys: set[tuple[str, str]]
               ) -> dict[tuple[str, str], bytes]:
    """The stored Opus bitstreams of ``keys`` that ``record`` lists, each checked against its SHA-256.

    Raises:
        ValueError: if a listed file is missing or its hash differs.
    """
    listed: dict[str, str] = record.get("opus_bitstreams", {})
    streams = {}
    for key in keys:
        name = _opus_name(key)
        if name not in listed:
            continue
        path = _opus_folder(folder, mode) / name
        if not path.is_file():
            raise ValueError(f"the stored evaluation lists the Opus bitstream {path}, which is missing")
        blob = path.read_bytes()
        if hashlib.sha256(blob).hexdigest() != listed[name]:
            raise ValueError(f"{path} does not match the SHA-256 in the stored evaluation's record")
        streams[key] = blob
    return streams


def write_evaluation(study: CodecStudy, folder: str | os.PathLike[str] | None = None, wall_s: float = 0.0,
                     machine: str = "") -> Path:
    """Store ``study``'s rows as ``<mode>.csv`` with ``<mode>.json`` (what they were computed from, the
    CSV's SHA-256, the machine) and the listening items' Opus bitstreams in ``opus-<mode>/`` in ``folder``
    (Default: :func:`eval_dir`), for :func:`run_study` to load instead of recomputing."""
    out = Path(folder) if folder is not None else eval_dir()
    out.mkdir(parents=True, exist_ok=True)
    table = out / f"{study.config.mode}.csv"
    _write_rows(table, study.rows)
    record = {**_record_key(study.config, study.models), "csv_sha256": hashlib.sha256(table.read_bytes()).hexdigest(),
              "wall_seconds": round(wall_s, 1), "machine": machine or machine_description(),
              "opus_bitstreams": _write_opus(out, study.config.mode, study.opus_streams)}
    (out / f"{study.config.mode}.json").write_text(json.dumps(record, indent=1) + "\n")
    return table


def _read_stored(config: CodecStudyConfig, folder: Path) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The stored evaluation of ``config.mode`` in ``folder``: its record and rows (``None`` if absent).

    Raises:
        ValueError: if the stored table's SHA-256 differs from its record's.
    """
    table, record_file = folder / f"{config.mode}.csv", folder / f"{config.mode}.json"
    if not (table.is_file() and record_file.is_file()):
        return None
    record: dict[str, Any] = json.loads(record_file.read_text())
    if hashlib.sha256(table.read_bytes()).hexdigest() != record["csv_sha256"]:
        raise ValueError(f"{table} does not match the SHA-256 in {record_file}")
    with open(table, newline="") as handle:
        rows: list[dict[str, Any]] = list(csv.DictReader(handle))
    for r in rows:
        for k in ("sample_rate", "modules"):
            r[k] = int(r[k])
        for k in ("target_kbps", *MEASURES):
            r[k] = float(r[k])
    return record, rows


def stored_evaluation(config: CodecStudyConfig, folder: str | os.PathLike[str] | None = None
                      ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The record and rows of the stored evaluation of ``config.mode`` in ``folder`` (Default: :func:`eval_dir`).

    Raises:
        FileNotFoundError: if there is none.
        ValueError: if its table's SHA-256 differs from its record's.
    """
    out = Path(folder) if folder is not None else eval_dir()
    stored = _read_stored(config, out)
    if stored is None:
        raise FileNotFoundError(f"no stored {config.mode} evaluation in {out} ({REBUILD_COMMAND.split(' --')[0]})")
    return stored


def _matching_stored(config: CodecStudyConfig, models: dict[str, TrainedModel], folder: Path
                     ) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The stored evaluation's record and rows when it was computed from exactly these models and settings,
    else ``None``.

    Raises:
        ValueError: if the stored table's SHA-256 differs from its record's.
    """
    stored = _read_stored(config, folder)
    if stored is None:
        return None
    record, _ = stored
    key = _record_key(config, models)
    return stored if {k: record.get(k) for k in key} == key else None


def _stored_rows(config: CodecStudyConfig, models: dict[str, TrainedModel], folder: Path
                 ) -> list[dict[str, Any]] | None:
    """The rows of :func:`_matching_stored`, or ``None``."""
    stored = _matching_stored(config, models, folder)
    return None if stored is None else stored[1]


def update_evaluation(config: CodecStudyConfig, folder: str | os.PathLike[str] | None = None,
                      workdir: str | os.PathLike[str] | None = None, machine: str = "",
                      progress: bool = False) -> tuple[Path, list[str]]:
    """Bring the stored evaluation in ``folder`` (Default: :func:`eval_dir`) up to ``config``'s models:
    evaluate only the models that are new or changed (by SHA-256) and the anchor rows not stored yet, keep
    the other stored rows, drop those of models no longer in ``config``. Returns the table and the points
    evaluated in this call. The record lists each update (points, wall seconds, machine).

    Raises:
        ValueError: if there is no stored evaluation, or it was made with other items, duration or anchors
            (then recompute it whole: ``python -m percloss eval-codec``).
    """
    out = Path(folder) if folder is not None else eval_dir()
    stored = _read_stored(config, out)
    if stored is None:
        raise ValueError(f"no stored {config.mode} evaluation in {out}: compute it whole first")
    record, rows = stored
    start = time.perf_counter()
    base = Path(workdir) if workdir is not None else cache_dir()
    models = {p.key: cs.obtain_model(p, config, base / f"{config.mode}-{config.fingerprint()}", progress)
              for p in config.points}
    key = _record_key(config, models)
    changed = [k for k in ("items", "eval_seconds", "anchor_kbps") if record.get(k) != key[k]]
    if changed:
        raise ValueError(f"the stored evaluation was made with other {', '.join(changed)}: recompute it whole")
    same = {m.point.key for m in models.values() if record["models"].get(m.point.name) == m.sha256}
    streams = _read_opus(out, config.mode, record, _listening_opus_keys(config, rows))
    # A listening item's Opus row without its bitstream is coded again (and its bitstream stored): the build
    # decodes those bitstreams, since libopus encodes differently on other processors.
    done = frozenset((r["item"], r["point"]) for r in rows if r["point"] in same or r["modules"] == 0
                     if r["system"] != "Opus" or (r["item"], r["point"]) in streams
                     or r["item"] not in config.listen_items)
    new, _ = cs.evaluate(config, models, config.eval_items, done, streams)
    table = out / f"{config.mode}.csv"
    with open(table, newline="") as handle:  # the kept rows exactly as stored
        kept = [r for r in csv.DictReader(handle) if (r["item"], r["point"]) in done]
    order = {item: i for i, item in enumerate(config.eval_items)}
    merged = sorted(kept + new, key=lambda r: order[r["item"]])  # stable: stored order, new rows after
    _write_rows(table, merged)
    evaluated = sorted(m.point.name for m in models.values() if m.point.key not in same)
    updates = [*record.get("updates", []), {"points": evaluated, "rows": len(new),
                                            "wall_seconds": round(time.perf_counter() - start, 1),
                                            "machine": machine or machine_description()}]
    record = {**record, **key, "csv_sha256": hashlib.sha256(table.read_bytes()).hexdigest(), "updates": updates,
              "opus_bitstreams": _write_opus(out, config.mode, streams)}
    (out / f"{config.mode}.json").write_text(json.dumps(record, indent=1) + "\n")
    return table, evaluated


#: How far a row recoded in this build may stand from its stored row and still agree: per measure, an absolute
#: and a relative tolerance (either suffices). The neural codecs' rows change with the processor's arithmetic
#: (oneDNN and torch pick SIMD kernels per CPU; a latent that lands on a rounding boundary takes the other code,
#: and the bitstream changes by a few bytes): each tolerance is 20x the largest spread measured between the stored
#: rows' processor and this one's kernel paths, rounded up to one digit (``runs/codec/eval/spread.json``, written
#: by ``scripts/eval_codec_spread.py``: kbit/s 7.9e-5 relative, SNR 4.8e-4 dB, LSD 1.0e-4 dB, NMR 2.7e-4 dB,
#: audible-frame fraction 0.0015 (one frame), ViSQOL 3.0e-5). A real change (another model, a changed measure, a
#: shifted segment) moves them by far more (``tests/test_codec_study.py``).
NEURAL_TOLERANCE: dict[str, tuple[float, float]] = {
    "kbps": (0.0, 2e-3),
    "snr_db": (0.01, 0.0),
    "lsd_db": (0.003, 0.0),
    "nmr_db": (0.006, 0.0),
    "audible_fraction": (0.03, 0.0),
    "visqol": (7e-4, 0.0),
}
#: MP3 (LAME) and Opus decoded from the stored bitstreams gave the same numbers on every processor measured:
#: they are held to the last digits.
EXACT_TOLERANCE: tuple[float, float] = (1e-9, 1e-6)
REBUILD_COMMAND = "python -m percloss eval-codec --update"


def agreement_tolerance(row: dict[str, Any], measure: str) -> tuple[float, float]:
    """``(absolute, relative)`` tolerance of ``measure`` for ``row``: :data:`NEURAL_TOLERANCE` for a neural
    codec's row, :data:`EXACT_TOLERANCE` for an anchor's."""
    return EXACT_TOLERANCE if row["modules"] == 0 else NEURAL_TOLERANCE[measure]


def check_agreement(live: list[dict[str, Any]], stored: list[dict[str, Any]]) -> None:
    """Every live row agrees with its stored row (same item, point) within :func:`agreement_tolerance`.

    Raises:
        ValueError: naming every disagreeing row and measure with both values and the tolerance, and the
            command that rebuilds the stored evaluation.
    """
    index = {(r["item"], r["point"]): r for r in stored}
    problems = []
    for r in live:
        s = index.get((r["item"], r["point"]))
        if s is None:
            problems.append(f"{r['item']}, {r['point']}: no stored row")
            continue
        for k in MEASURES:
            atol, rtol = agreement_tolerance(r, k)
            if not abs(float(r[k]) - float(s[k])) <= max(atol, rtol * abs(float(s[k]))):
                problems.append(f"{r['item']}, {r['point']}, {k}: {float(s[k])!r} stored vs {float(r[k])!r} now "
                                f"(tolerance {atol:g} absolute or {rtol:g} relative)")
    if problems:
        shown = "\n  ".join(problems[:20]) + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else "")
        raise ValueError(f"the stored evaluation disagrees with this build on {len(problems)} value(s):\n  {shown}\n"
                         f"If the models or the measures changed on purpose, rebuild it: {REBUILD_COMMAND}")


def agreement_summary(study: CodecStudy) -> str:
    """Markdown: how the rows recoded in this build compare with the stored evaluation it loaded: the machines,
    the largest difference per measure of the neural rows against its tolerance, and the anchors; ``""`` when
    the rows were computed in this build."""
    if not study.live_rows:
        return ""
    record = study.stored_record
    index = {(r["item"], r["point"]): r for r in study.rows}
    neural = [r for r in study.live_rows if r["modules"] > 0]
    anchor = [r for r in study.live_rows if r["modules"] == 0]
    parts = []
    for k in MEASURES:
        atol, rtol = NEURAL_TOLERANCE[k]
        diffs = [abs(float(r[k]) - float(index[(r["item"], r["point"])][k])) for r in neural]
        rel = [d / max(abs(float(index[(r["item"], r["point"])][k])), 1e-12) for d, r in zip(diffs, neural, strict=True)]
        shown = f"{max(diffs, default=0):.2g} (tolerance {atol:g})" if atol > 0 else \
            f"{max(rel, default=0):.2g} relative (tolerance {rtol:g})"
        parts.append(f"{k} {shown}")
    exact = max((abs(float(r[k]) - float(index[(r["item"], r["point"])][k])) for r in anchor for k in MEASURES),
                default=0.0)
    machine = record.get("machine") or "a machine it does not name"
    if "torch kernels" not in machine:  # written before records named the CPU model
        machine += " (CPU model not recorded)"
    return (f"**Stored vs this build.** The stored evaluation was computed on {machine}; "
            f"this build runs on {machine_description()}. It recoded {len(neural)} neural-codec rows and "
            f"{len(anchor)} anchor rows (MP3 encoded here, Opus decoded from the {len(record.get('opus_bitstreams', {}))} "
            f"bitstreams stored with the evaluation, since libopus's encoder takes processor-specific paths). "
            f"Largest difference of the neural rows: {'; '.join(parts)}. The tolerances are 20× the spread "
            f"measured between processors and kernel paths (`runs/codec/eval/spread.json`); the anchors' rows "
            f"are held to the last digits (largest difference here {exact:.1g}).")


def run_study(config: CodecStudyConfig | None = None, workdir: str | os.PathLike[str] | None = None,
              progress: bool = True, csv_path: str | os.PathLike[str] | None = None,
              stored: str | os.PathLike[str] | None | object = _STORED, check: bool = True) -> CodecStudy:
    """Train (or load) every operating point, code the evaluation set, measure models and anchors.

    With shipped models, an evaluation stored in ``stored`` (:func:`write_evaluation`) that was computed
    from the same models (SHA-256) and settings is loaded instead of recomputed; the listening items are
    still coded in this build and must agree with it (:func:`check_agreement`; ``check=False`` only records
    them in ``live_rows``), Opus decoded from the stored bitstreams. ``stored`` defaults to :func:`eval_dir`
    (``$PERCLOSS_RUNS``); ``stored=None`` recomputes everything. ``workdir`` defaults to :func:`cache_dir`.
    """
    config = CodecStudyConfig.for_mode() if config is None else config
    base = Path(workdir) if workdir is not None else cache_dir()
    if stored is _STORED:
        stored = eval_dir() if config.use_shipped else None
    assert stored is None or isinstance(stored, (str, os.PathLike))
    folder = base / f"{config.mode}-{config.fingerprint()}"
    folder.mkdir(parents=True, exist_ok=True)
    models = {p.key: cs.obtain_model(p, config, folder, progress) for p in config.points}
    found = _matching_stored(config, models, Path(stored)) if stored is not None and config.use_shipped else None
    opus_streams: dict[tuple[str, str], bytes] = {}
    live: list[dict[str, Any]] = []
    record: dict[str, Any] = {}
    if found is None:
        rows, listening = cs.evaluate(config, models, config.eval_items, opus_streams=opus_streams)
        source = "computed in this build"
    else:
        record, rows = found
        listen_items = tuple(i for i in config.eval_items if i in config.listen_items)
        keys = _listening_opus_keys(config, rows)
        opus_streams = _read_opus(Path(stored or ""), config.mode, record, keys)
        if keys - set(opus_streams):
            raise ValueError(f"the stored evaluation has no Opus bitstream for {len(keys - set(opus_streams))} of "
                             f"its listening rows (libopus encodes differently on other processors, so the build "
                             f"decodes stored ones): {REBUILD_COMMAND}")
        live, listening = cs.evaluate(config, models, listen_items, opus_streams=opus_streams)
        if check:
            check_agreement(live, rows)
        table = Path(stored or "") / f"{config.mode}.csv"
        shown = shown_path(table.resolve())
        source = (f"loaded from the stored evaluation `{shown}` (same models by SHA-256); "
                  f"its {len({r['item'] for r in live})} listening items recoded in this build and checked against it")
        cdpam = attach_cdpam(rows, models, Path(stored or ""))
        if cdpam is not None:
            source += f"; {cdpam}"
    if csv_path is not None:
        _write_rows(Path(csv_path), rows)
    return CodecStudy(config, models, rows, listening, folder, source, opus_streams, live, record)


def attach_cdpam(rows: list[dict[str, Any]], models: dict[str, TrainedModel], folder: str | os.PathLike[str]
                 ) -> str | None:
    """Add the stored CDPAM distances (:func:`score_cdpam`, ``python -m percloss eval-codec --cdpam``: ``cdpam.csv`` and ``cdpam.json`` in
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
            f"`{shown_path(table.resolve())}` (same models by SHA-256; {record['wall_s'] / 60:.0f} min on "
            f"{record['machine']})")


def cdpam_seconds(folder: str | os.PathLike[str] | None = None) -> float | None:
    """How many seconds in the middle of each segment the stored CDPAM scores cover (``cdpam.json`` in
    ``folder``, default :func:`eval_dir`), or ``None`` where none are stored."""
    try:
        record_file = (Path(folder) if folder is not None else eval_dir()) / "cdpam.json"
    except FileNotFoundError:
        return None
    if not record_file.is_file():
        return None
    return float(json.loads(record_file.read_text())["cdpam_seconds"])


def _cdpam_row(item: str, point: str, kbps: float, x: Any, y: Any, rate: int, seconds: float) -> dict[str, object]:
    """CDPAM of the middle ``seconds`` of the pair (float64 tensors); ``kbps`` is the whole segment's file rate."""
    import torch

    from ..losses import cdpam_distance
    from ..signal import middle

    n = int(seconds * rate)
    with torch.no_grad():
        d = float(cdpam_distance(middle(x, n).float(), middle(y, n).float().clamp(-1, 1), rate))
    return {"item": item, "point": point, "kbps": round(kbps, 3), "cdpam": f"{d:.6g}"}


def score_cdpam(config: CodecStudyConfig, folder: str | os.PathLike[str] | None = None, seconds: float = 2.0,
                update: bool = False, say: Any = print) -> tuple[Path, list[str]]:
    """Score ``config``'s shipped models and the anchors the claims compare them with by CDPAM on the middle
    ``seconds`` of each held-out segment (each segment coded whole): every model, MP3 at each model's rate and,
    at 44.1 kHz, MP3 at 112 kbit/s. Writes ``cdpam.csv`` (item, point, kbps, cdpam) and ``cdpam.json`` (the
    models' and the CDPAM weights' SHA-256, items, spans, wall time, machine) in ``folder`` (Default:
    :func:`eval_dir`). ``update``: score only the models that are new or changed since the stored table (by
    SHA-256) and the anchor rows it lacks; keep the rest, drop the rows of models no longer in ``config``.
    Returns the table and the points scored.

    Raises:
        ValueError: on ``update`` when the stored table was made with other items, spans or CDPAM weights.
    """
    import torch

    from .. import anchors, data
    from ..cdpam import cdpam_weights_path
    from ..codec import read_bitstream, write_bitstream
    from ..shipped import resolve_codec

    out = Path(folder) if folder is not None else eval_dir()
    items = [i for i in config.eval_items if "@" in i]  # the held-out segments
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    models: dict[str, dict[str, str]] = {}
    before: dict[str, Any] = {}
    weights_sha = hashlib.sha256(cdpam_weights_path().read_bytes()).hexdigest()
    if update:
        before = json.loads((out / "cdpam.json").read_text())
        if (before["items"], before["eval_seconds"], before["cdpam_seconds"]) != (items, config.eval_seconds, seconds):
            raise ValueError("the stored CDPAM table was made with other items or durations: recompute it whole")
        if before.get("cdpam_weights_sha256") != weights_sha:
            raise ValueError("the stored CDPAM table was scored with other CDPAM weights: recompute it whole")
        with (out / "cdpam.csv").open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    shas = {p.key: str(resolve_codec(p.name)[2]["sha256"]) for p in config.points}
    same = {k for k, entry in before.get("models", {}).items() if shas.get(k) == entry["sha256"]}
    anchors_in_table = {str(r["point"]) for r in rows if str(r["point"]).startswith(("MP3", "Opus"))}
    rows = [r for r in rows if r["point"] in same or r["point"] in anchors_in_table]
    done = {(r["item"], r["point"]) for r in rows}
    for rate in sorted({p.sample_rate for p in config.points}):
        songs = data.codec_corpus("heldout", rate)
        points = [p for p in config.points if p.sample_rate == rate]
        for p in points:
            codec, counts, info = resolve_codec(p.name)
            models[p.key] = {"name": p.name, "sha256": str(info["sha256"])}
            if p.key in same:
                continue
            for item in items:
                x, _ = cs.eval_signal(item, rate, config.eval_seconds, songs)
                blob = write_bitstream(codec, counts, x.float(), rate)
                y, _ = read_bitstream(codec, counts, blob)
                rows.append(_cdpam_row(item, p.key, len(blob) * 8 / (len(x) / rate) / 1000, x, y.double(), rate,
                                       seconds))
            say(f"{p.name}: {len(items)} segments, {time.perf_counter() - start:.0f} s")
        for kbps in sorted({*(p.kbps for p in points), *((112,) if rate == 44100 else ())}):
            target = anchors.mp3_bitrate_for(kbps)
            key = f"MP3{target:g}_{rate // 1000}k"
            for item in items:
                if (item, key) in done:
                    continue
                x, _ = cs.eval_signal(item, rate, config.eval_seconds, songs)
                coded = anchors.mp3(x.numpy(), rate, int(target))
                rows.append(_cdpam_row(item, key, coded.kbps, x, torch.from_numpy(coded.audio).double(), rate,
                                       seconds))
            say(f"MP3 {target:g} @ {rate}: {time.perf_counter() - start:.0f} s")
    wall = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    table = out / "cdpam.csv"
    with table.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["item", "point", "kbps", "cdpam"])
        writer.writeheader()
        writer.writerows(rows)
    machine = machine_description()
    scored = sorted(models[k]["name"] for k in models if k not in same)
    record: dict[str, Any] = {
        "models": models, "items": items, "eval_seconds": config.eval_seconds, "cdpam_seconds": seconds,
        "cdpam_weights_sha256": weights_sha, "table_sha256": hashlib.sha256(table.read_bytes()).hexdigest(),
        "wall_s": before.get("wall_s", round(wall, 1)), "machine": before.get("machine", machine)}
    if update:
        record["updates"] = [*before.get("updates", []), {"points": scored, "wall_s": round(wall, 1),
                                                          "machine": machine}]
    (out / "cdpam.json").write_text(json.dumps(record, indent=1) + "\n")
    return table, scored
