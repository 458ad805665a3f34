"""Chapter 4 on the held-out set (``data/heldout``, :func:`percloss.data.heldout_set`): every shipped model and
the MP3 and Opus ladders on every segment, scored by the primary judges and the diagnostics.

- :func:`evaluate_song` codes one song's segments with every model (a real range-coded file; its size gives
  the achieved rate) and every anchor rate of the model's sample rate (:data:`percloss.anchors.LADDERS`), and scores each
  output: ViSQOL v3 and CDPAM (the primary judges, :data:`percloss.experiments.claims.MUSIC_JUDGES`; CDPAM on
  the middle :data:`CDPAM_SECONDS` of the segment), NMR, audible-frame fraction, SNR and LSD (diagnostics).
- :func:`run` does every song, one CSV and one record per song under ``folder/rows/`` (the models' and the
  file's SHA-256), so a stopped run resumes where it stopped and a changed model is rescored.
- :func:`anchor_at_rate` interpolates an anchor's ladder at an item's achieved rate; :func:`song_differences`
  gives per-song paired differences and :func:`song_interval` their cluster-bootstrap interval
  (:func:`percloss.experiments.stats.cluster_bootstrap_mean`: songs resampled, segments nested).
- Another collection (``run(..., collection="broad")``: the broad-corpus models) is scored without the ladders,
  whose rows it shares with the codec collection's; :func:`run_clips` scores a collection and the ladders on
  repository clips (speech, solo piano); :func:`anchor_comparison` sets a system against MP3 and Opus at its
  achieved rate.

Script: ``scripts/eval_heldout.py``. Notebook: ``notebooks/ch04_codec.py``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from .. import anchors, data
from ..anchors import LADDERS
from ..codec import read_bitstream, write_bitstream
from ..metrics import log_spectral_distance, nmr, snr
from ..signal import middle
from .claims import MUSIC_JUDGES, Claim, Interval, paired_verdict, verdict
from .stats import cluster_bootstrap_mean

__all__ = ["CDPAM_SECONDS", "COLUMNS", "MEASURES", "MIN_SONGS", "TEXT_COLUMNS", "write_table", "read_tables",
           "score_segment", "evaluate_song", "run", "read_rows",
           "anchor_at_rate", "song_differences", "song_differences_scaled", "song_interval", "heldout_claims", "group_differences",
           "achieved_rates", "mechanism_row", "FLAT_TOLERANCE", "last_quarter_change", "training_state",
           "claim_pairs", "song_table", "group_table"]

#: The rule's minimum, fixed before the evaluation: verdicts need this many held-out songs evaluated.
MIN_SONGS = 12
#: A training curve has *flattened* when its own loss's mean over the last quarter of training is within this
#: fraction of its mean over the quarter before (fixed before the verdicts it qualifies; the shipped models keep
#: only their last snapshot, so the curve is the training loss, not the judges).
FLAT_TOLERANCE = 0.02

#: The anchors' rates per sample rate (kbit/s): MPEG-1 Layer III rates bracketing the shipped models'
#: achieved rates on music (54-108 kbit/s); Opus is coded at the same targets.
#: CDPAM scores the middle of each segment (about 4 s of CPU per second of audio on one thread).
CDPAM_SECONDS = 2.0
MEASURES = ("kbps", "visqol", "cdpam", "nmr_db", "audible_fraction", "snr_db", "lsd_db")
COLUMNS = ("song", "group", "segment", "system", "point", "sample_rate", "target_kbps", *MEASURES)


def score_segment(x: torch.Tensor, y: torch.Tensor, sample_rate: int) -> dict[str, float]:
    """One coded segment ``y`` against its reference ``x`` (mono, same length, ``sample_rate`` Hz): ViSQOL v3
    (audio mode), CDPAM on the middle :data:`CDPAM_SECONDS`, NMR (mean dB and audible-frame fraction), SNR and
    LSD (dB)."""
    from ..losses import cdpam_distance
    from ..scorers import visqol

    x, y = x.double(), y.double()
    result = nmr(x, y, sample_rate)
    n = int(CDPAM_SECONDS * sample_rate)
    return {
        "visqol": float(visqol(x.numpy(), y.numpy(), sample_rate, "audio")),
        "cdpam": float(cdpam_distance(middle(x, n), middle(y, n), sample_rate)),
        "nmr_db": float(result.mean_db),
        "audible_fraction": float(result.audible_fraction),
        "snr_db": float(snr(x, y)),
        "lsd_db": float(log_spectral_distance(x, y, sample_rate)[0]),
    }


def evaluate_song(song: str, group: str, segments_by_rate: dict[int, list[torch.Tensor]],
                  models: dict[str, tuple[Any, list[torch.Tensor], int]], with_anchors: bool = True,
                  anchor_rates: Sequence[int] = ()) -> list[dict[str, Any]]:
    """Rows for one song: ``models`` maps a name (``"D64"``, ``"broad/D64"``) to ``(codec, symbol_counts,
    sample_rate)``; ``segments_by_rate`` the song's segments at each model's rate (and at ``anchor_rates``).
    Each anchor rate is coded once per segment and sample rate, at the models' rates and ``anchor_rates``
    (none with ``with_anchors=False``)."""
    rows: list[dict[str, Any]] = []
    for k in range(len(next(iter(segments_by_rate.values())))):
        for rate in sorted({r for _, _, r in models.values()} | set(anchor_rates)):
            x = segments_by_rate[rate][k]
            seconds = len(x) / rate
            common = {"song": song, "group": group, "segment": k, "sample_rate": rate}
            for name, (codec, counts, model_rate) in models.items():
                if model_rate != rate:
                    continue
                blob = write_bitstream(codec, counts, x.float(), rate)
                y, _ = read_bitstream(codec, counts, blob)
                point = name.rsplit("/", 1)[-1]
                rows.append({**common, "system": name, "point": point, "target_kbps": float(point[1:]),
                             "kbps": len(blob) * 8 / seconds / 1000, **score_segment(x, y, rate)})
            for kbps in LADDERS[rate] if with_anchors else ():
                mp3 = anchors.mp3(x.double().numpy(), rate, kbps)
                rows.append({**common, "system": "MP3", "point": f"MP3 {kbps}", "target_kbps": float(kbps),
                             "kbps": mp3.kbps, **score_segment(x, torch.from_numpy(mp3.audio), rate)})
                opus = anchors.opus_decode(anchors.opus_encode(x.double().numpy(), rate, kbps), x.double().numpy(),
                                           rate)
                rows.append({**common, "system": "Opus", "point": f"Opus {kbps}", "target_kbps": float(kbps),
                             "kbps": opus.kbps, **score_segment(x, torch.from_numpy(opus.audio), rate)})
    return rows


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


#: Columns of a stored table read as text; every other column is read as a float.
TEXT_COLUMNS = ("song", "group", "system", "point")


def write_table(table: Path, columns: Sequence[str], rows: Sequence[dict[str, Any]], record: dict[str, Any]) -> None:
    """Write ``rows`` to the CSV ``table`` and its record ``table.json``: ``record`` plus the row count, the
    CSV's SHA-256 (:func:`read_tables` checks it), the machine and torch's threads."""
    from ..modes import machine_description

    with open(table, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    table.with_suffix(".json").write_text(json.dumps({
        **record, "rows": len(rows), "csv_sha256": _sha(table), "machine": machine_description(),
        "torch_threads": torch.get_num_threads()}, indent=1) + "\n")


def read_tables(folder: Path, columns: Sequence[str]) -> list[dict[str, Any]]:
    """Every row of the tables :func:`write_table` wrote in ``folder`` (:data:`TEXT_COLUMNS` as text, the rest
    as floats), each CSV checked against its record's SHA-256.

    Raises:
        ValueError: a CSV that does not match its record.
    """
    rows: list[dict[str, Any]] = []
    for record_path in sorted(folder.glob("*.json")):
        record = json.loads(record_path.read_text())
        table = record_path.with_suffix(".csv")
        if _sha(table) != record["csv_sha256"]:
            raise ValueError(f"{table} does not match the SHA-256 in {record_path}")
        with open(table, newline="") as handle:
            rows += [{k: (r[k] if k in TEXT_COLUMNS else float(r[k])) for k in columns} for r in csv.DictReader(handle)]
    return rows


def _shipped(collection: str, model_names: Sequence[str] | None
             ) -> tuple[dict[str, tuple[Any, list[torch.Tensor], int]], dict[str, str]]:
    """The collection's shipped models (or ``model_names`` of them) by system name (``"D64"``, ``"broad/D64"``),
    and each file's SHA-256."""
    from ..shipped import collection_dir, load_shipped_codec, shipped_models

    shipped = shipped_models(collection)
    prefix = "" if collection == "codec" else f"{collection}/"
    models, shas = {}, {}
    for name in (list(model_names) if model_names is not None else sorted(shipped)):
        codec, counts, info = load_shipped_codec(prefix + name)
        models[prefix + name] = (codec.eval(), counts, int(info["sample_rate"]))  # type: ignore[call-overload]
        shas[prefix + name] = _sha(collection_dir(collection) / shipped[name]["file"])
    return models, shas


def _recorded(table: Path, key: dict[str, Any], file_sha256: str) -> bool:
    """Whether ``table`` and its record exist for this ``key`` and audio file: the song needs no new scoring."""
    record = table.with_suffix(".json")
    if not (record.is_file() and table.is_file()):
        return False
    done = json.loads(record.read_text())
    return bool(done["key"] == key and done["file_sha256"] == file_sha256)


def _checkpoint(collection: str, point: str, path: str | os.PathLike[str]
                ) -> tuple[dict[str, tuple[Any, list[torch.Tensor], int]], dict[str, str]]:
    """:func:`_shipped` for one checkpoint file that has not shipped (e.g. a finished run the ship rule refused):
    system name ``<collection>/<point>``."""
    from ..codec import load_codec

    codec, counts, info = load_codec(path)
    name = f"{collection}/{point}"
    return {name: (codec.eval(), counts, int(info["sample_rate"]))}, {name: _sha(Path(path))}  # type: ignore[call-overload]


def run(folder: str | os.PathLike[str], model_names: Sequence[str] | None = None,
        songs: Sequence[str] | None = None, progress: bool = True, collection: str = "codec",
        checkpoint: str | os.PathLike[str] | None = None) -> Path:
    """Evaluate every held-out song (or ``songs``) with every shipped model of ``collection`` (or
    ``model_names`` of it) into ``folder/rows/<song>.csv`` with its record ``<song>.json`` (models' and file's
    SHA-256, CDPAM seconds, ladders, machine, seconds). A song recorded for the same models and file is
    skipped, so processes given different ``songs`` can share a folder, and a stopped run resumes. The MP3 and
    Opus ladders are coded with the ``codec`` collection only (another collection's rows are read beside
    those: :func:`read_rows`). ``checkpoint``: score that file as ``<collection>/<model_names[0]>`` instead
    of a shipped model (a finished run that has not shipped)."""
    out = Path(folder)
    (out / "rows").mkdir(parents=True, exist_ok=True)
    manifest = data.heldout_manifest()
    if checkpoint is not None:
        if collection == "codec" or model_names is None or len(model_names) != 1:
            raise ValueError("checkpoint needs another collection than 'codec' and model_names naming its point")
        models, shas = _checkpoint(collection, model_names[0], checkpoint)
    else:
        models, shas = _shipped(collection, model_names)
    with_anchors = collection == "codec"
    key = {"models": shas, "cdpam_seconds": CDPAM_SECONDS,
           "ladders": {str(k): list(v) for k, v in LADDERS.items()} if with_anchors else {}}
    rates = sorted({r for _, _, r in models.values()})
    sets: dict[int, dict[str, list[torch.Tensor]]] = {}  # the set at each rate, loaded once, when first needed
    for song in (list(songs) if songs is not None else list(manifest)):
        info = manifest[song]
        table = out / "rows" / f"{song}.csv"
        if _recorded(table, key, info["sha256"]):
            continue
        started = time.perf_counter()
        if not sets:
            sets.update({rate: data.heldout_set(rate) for rate in rates})
        segments = {rate: sets[rate][song] for rate in rates}
        rows = evaluate_song(song, str(info["group"]), segments, models, with_anchors)
        write_table(table, COLUMNS, rows, {"song": song, "key": key, "file_sha256": info["sha256"],
                                           "seconds": round(time.perf_counter() - started, 1)})
        if progress:
            print(f"{song}: {len(rows)} rows in {time.perf_counter() - started:.0f} s", flush=True)
    return out


def read_rows(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every stored row (numbers as floats), each song's CSV checked against its record's SHA-256."""
    return read_tables(Path(folder) / "rows", COLUMNS)


def read_collection_rows(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The rows of every model evaluated into its own subfolder of ``folder`` (``folder/<point>/rows/``: how
    ``scripts/eval_heldout.py --collection broad`` stores each model as it ships, so one shipping does not
    redo the others' songs)."""
    root = Path(folder)
    return [r for sub in sorted(root.iterdir()) if (sub / "rows").is_dir() and sub.name not in ("clips", "anchors")
            for r in read_rows(sub)] if root.is_dir() else []


def run_clips(folder: str | os.PathLike[str], clips: Sequence[str], collection: str = "broad",
              seconds: float = 8.0, progress: bool = True, anchor_rates: Sequence[int] = (32000, 44100)) -> Path:
    """The collection's shipped models and the MP3 / Opus ladders on repository clips (:func:`data.load_clip`,
    the first ``seconds`` of each, one segment per clip): material the held-out set does not have (speech,
    solo piano). Each model into ``folder/<point>/rows/<clip>.csv``, the ladders at ``anchor_rates`` once into
    ``folder/anchors/rows/`` (resumable as :func:`run`; a newly shipped model adds its own folder only);
    :func:`read_collection_rows` and :func:`read_rows` of ``folder/anchors`` read them back."""
    out = Path(folder)
    models, shas = _shipped(collection, None)
    jobs: list[tuple[str, dict[str, Any], dict[str, Any], Sequence[int]]] = [
        ("anchors", {}, {"ladders": {str(k): list(v) for k, v in LADDERS.items()}}, tuple(anchor_rates))]
    jobs += [(name.rsplit("/", 1)[-1], {name: models[name]}, {"model": shas[name]}, ()) for name in models]
    for sub, these, key_part, rates_here in jobs:
        (out / sub / "rows").mkdir(parents=True, exist_ok=True)
        key = {**key_part, "cdpam_seconds": CDPAM_SECONDS, "seconds": seconds, "anchor_rates": list(rates_here)}
        rates = sorted({r for _, _, r in these.values()} | set(rates_here))
        for clip in clips:
            table = out / sub / "rows" / f"{clip}.csv"
            sha = data.clip_info(clip)["sha256"]
            if _recorded(table, key, sha):
                continue
            started = time.perf_counter()
            segments = {rate: [data.load_clip(clip, rate)[: int(seconds * rate)]] for rate in rates}
            rows = evaluate_song(clip, str(data.clip_info(clip)["kind"]), segments, these,
                                 with_anchors=sub == "anchors", anchor_rates=rates_here)
            write_table(table, COLUMNS, rows, {"song": clip, "key": key, "file_sha256": sha,
                                               "seconds": round(time.perf_counter() - started, 1)})
            if progress:
                print(f"{sub} / {clip}: {len(rows)} rows in {time.perf_counter() - started:.0f} s", flush=True)
    return out


def anchor_at_rate(rows: Sequence[dict[str, Any]], anchor: str, song: str, segment: int, sample_rate: int,
                   kbps: float, measure: str) -> float:
    """``anchor``'s ``measure`` on one segment at ``kbps``, linearly interpolated between the two ladder rows
    (by their achieved rates) that bracket it; NaN outside the ladder."""
    ladder = sorted((r["kbps"], r[measure]) for r in rows if r["system"] == anchor and r["song"] == song
                    and r["segment"] == segment and r["sample_rate"] == sample_rate)
    for (r0, v0), (r1, v1) in zip(ladder[:-1], ladder[1:], strict=True):
        if r0 <= kbps <= r1:
            return float(v0 + (v1 - v0) * (kbps - r0) / (r1 - r0)) if r1 > r0 else float(v0)
    return math.nan


def song_differences(rows: Sequence[dict[str, Any]], a: str, b: str, measure: str) -> dict[str, list[float]]:
    """Per song, the per-segment paired differences ``a − b`` of ``measure``. ``b`` is a model's name, or
    ``"MP3"`` / ``"Opus"``: the anchor interpolated at ``a``'s achieved rate on that segment
    (:func:`anchor_at_rate`). Segments where the anchor's ladder does not reach ``a``'s rate are left out."""
    ours = {(r["song"], r["segment"]): r for r in rows if r["system"] == a}
    if not ours:
        raise ValueError(f"no rows of system {a!r}")
    theirs = {(r["song"], r["segment"]): r for r in rows if r["system"] == b}
    out: dict[str, list[float]] = {}
    for (song, segment), r in ours.items():
        if b in ("MP3", "Opus"):
            other = anchor_at_rate(rows, b, song, int(segment), int(r["sample_rate"]), r["kbps"], measure)
        elif (song, segment) in theirs:
            other = theirs[song, segment][measure]
        else:
            continue
        if math.isfinite(other) and math.isfinite(r[measure]):
            out.setdefault(song, []).append(r[measure] - other)
    return out


def song_interval(differences: dict[str, list[float]], resamples: int = 2000, seed: int = 0) -> Interval:
    """The mean of per-song mean differences with its 95 % cluster-bootstrap interval (songs resampled)."""
    values = [v for vs in differences.values() for v in vs]
    clusters = [song for song, vs in differences.items() for _ in vs]
    r = cluster_bootstrap_mean(values, clusters, resamples=resamples, seed=seed)
    return Interval(r.mean, min(r.low, r.mean), max(r.high, r.mean))


def _side(name: str) -> tuple[str, float]:
    """A claim side's system and nominal rate: ``"C64"`` -> ``("C64", 64)``, ``"MP3 112 @44k"`` -> ``("MP3", 112)``."""
    head = name.split(" @")[0]
    if head.startswith(("MP3 ", "Opus ")):
        system, rate = head.split(" ")
        return system, float(rate)
    return head, float(head[1:])


def song_differences_scaled(rows: Sequence[dict[str, Any]], a: str, b: str, measure: str, scale: float
                            ) -> dict[str, list[float]]:
    """:func:`song_differences` against an anchor ``b`` read at ``scale`` × ``a``'s achieved rate (a claim that
    sets D96 against MP3 112 reads MP3 at 112/96 of D96's rate)."""
    if scale == 1.0 or b not in ("MP3", "Opus"):
        return song_differences(rows, a, b, measure)
    # only the rate the anchor is read at moves; a's own measure is unchanged
    return song_differences([dict(r, kbps=r["kbps"] * scale) if r["system"] == a else r for r in rows], a, b,
                            measure)


def achieved_rates(rows: Sequence[dict[str, Any]], system: str) -> dict[str, float]:
    """Per song, the mean achieved file rate (kbit/s) of ``system`` over its segments."""
    by: dict[str, list[float]] = {}
    for r in rows:
        if r["system"] == system:
            by.setdefault(r["song"], []).append(r["kbps"])
    return {song: sum(v) / len(v) for song, v in by.items()}


def anchor_comparison(rows: Sequence[dict[str, Any]], system: str, others: Sequence[str] = ("MP3", "Opus")
                      ) -> dict[str, Any]:
    """``system`` on the songs of ``rows``: songs, mean achieved rate, mean ViSQOL and CDPAM (over songs' means),
    and per judge ``system − other`` (an anchor read at ``system``'s achieved rate on each segment, or another
    system on the same segments) as a song-resampled interval (``None`` where no segment pairs up)."""
    rates = achieved_rates(rows, system)
    out: dict[str, Any] = {"system": system, "songs": len(rates), "kbps": sum(rates.values()) / len(rates)}
    for measure in ("visqol", "cdpam"):
        by: dict[str, list[float]] = {}
        for r in rows:
            if r["system"] == system:
                by.setdefault(r["song"], []).append(r[measure])
        out[measure] = sum(sum(v) / len(v) for v in by.values()) / len(by)
        for other in others:
            diffs = song_differences(rows, system, other, measure)
            out[f"{measure}_vs_{other}"] = song_interval(diffs) if len(diffs) >= 2 else None
    return out


def collection_table(rows: Sequence[dict[str, Any]], systems: Sequence[str]) -> list[dict[str, str]]:
    """A display row per system of ``systems`` (e.g. ``"broad/D64"``): songs, mean achieved rate, ViSQOL and
    CDPAM, each against MP3 and Opus at the system's achieved rate and against the codec collection's model of
    the same point where ``rows`` hold it (:func:`anchor_comparison`; intervals resample songs)."""
    present = {r["system"] for r in rows}
    out = []
    for system in systems:
        point = system.rsplit("/", 1)[-1]
        others = ("MP3", "Opus", *((point,) if point != system and point in present else ()))
        found = anchor_comparison(rows, system, others)
        row = {"system": system, "songs": str(found["songs"]), "kbit/s": f"{found['kbps']:.1f}",
               "ViSQOL": f"{found['visqol']:.2f}", "CDPAM": f"{found['cdpam']:.3f}"}
        for measure, label in (("visqol", "ViSQOL"), ("cdpam", "CDPAM")):
            for other in others:
                value = found[f"{measure}_vs_{other}"]
                row[f"{label} − {other}"] = ("—" if value is None else
                                             f"{value.estimate:+.2f} [{value.low:+.2f}, {value.high:+.2f}]")
        out.append(row)
    return out


def group_differences(rows: Sequence[dict[str, Any]], a: str, b: str, measure: str, scale: float = 1.0
                      ) -> dict[str, tuple[int, float]]:
    """Per source group: (songs, mean of the per-song mean differences ``a − b``)."""
    groups = {r["song"]: r["group"] for r in rows}
    diffs = song_differences_scaled(rows, a, b, measure, scale)
    out: dict[str, list[float]] = {}
    for song, values in diffs.items():
        out.setdefault(groups[song], []).append(sum(values) / len(values))
    return {g: (len(v), sum(v) / len(v)) for g, v in out.items()}


def heldout_claims(rows: Sequence[dict[str, Any]], specs: Sequence[Any] | None = None,
                   total_songs: int | None = None, curves: Sequence[dict[str, Any]] | None = None) -> list[Claim]:
    """The claims table on the held-out set under the book's one rule
    (:func:`~percloss.experiments.claims.paired_verdict`, judges :data:`~percloss.experiments.claims.MUSIC_JUDGES`):
    per claim the song-level interval of ``a − b`` for ViSQOL and CDPAM (and NMR, a diagnostic that never
    decides), an anchor read at each segment's achieved rate of ``a``. ``specs`` default to
    :data:`percloss.experiments.codec_claims.CLAIMS`. With fewer than :data:`MIN_SONGS` songs evaluated every
    verdict is *not tested here* and says what the rule would give. Each row states its sides' training steps and
    whether their training loss had flattened (:func:`training_state`); ``curves``
    (:func:`percloss.experiments.learning_curves.curve_points`) add, for a side with judged snapshots, whether
    the judges had (:func:`~percloss.experiments.learning_curves.judge_trend`).
    """
    from . import codec_claims as cc
    from . import codec_study as cs
    from .learning_curves import judge_trend

    specs = cc.CLAIMS if specs is None else specs
    songs = sorted({r["song"] for r in rows})
    systems = {r["system"] for r in rows}
    short = len(songs) < MIN_SONGS
    out = []
    for spec in specs:
        (a, rate_a), (b, rate_b) = _side(spec.a), _side(spec.b)
        rule = (f"song-level paired a − b over the held-out set ({len(songs)} songs"
                + (f" of {total_songs}" if total_songs else "") + ", segments nested; 95 % cluster-bootstrap "
                "intervals); an anchor is read at each segment's achieved rate of a"
                + (f" × {rate_b:g}/{rate_a:g}" if b in ("MP3", "Opus") and rate_b != rate_a else "")
                + "; judges ViSQOL and CDPAM decide (\"better\": both intervals favour a; \"as good\": "
                "non-inferior at the margins 0.1 and 0.01); NMR is shown, never decides")
        missing = [n for n in (a, b) if n not in systems]
        if missing:
            why = "; ".join(f"{n}: {cs.not_shipped_reason(n)}" if n not in ("MP3", "Opus") else f"{n}: no rows"
                            for n in missing)
            out.append(Claim(spec.claim, spec.where, spec.source, rule, "—", verdict(None, why)))
            continue
        scale = rate_b / rate_a if b in ("MP3", "Opus") else 1.0
        intervals = {}
        parts = []
        for measure, label in (("visqol", "ViSQOL"), ("cdpam", "CDPAM"), ("nmr_db", "NMR")):
            diffs = song_differences_scaled(rows, a, b, measure, scale)
            digits = 3 if measure == "cdpam" else 2
            count = f"{len(diffs)} song{'s' if len(diffs) != 1 else ''}, {sum(len(v) for v in diffs.values())} segments"
            if len(diffs) == 1:  # no interval over one song
                values = next(iter(diffs.values()))
                parts.append(f"{label} a − b {sum(values) / len(values):+.{digits}f} ({count}; no interval)")
            if len(diffs) < 2:
                continue
            iv = song_interval(diffs)
            intervals[label] = iv
            parts.append(f"{label} a − b {iv.estimate:+.{digits}f} [{iv.low:+.{digits}f}, {iv.high:+.{digits}f}] "
                         f"({count})")
        rates = achieved_rates(rows, a)
        parts.insert(0, f"{a} at {min(rates.values()):.1f}–{max(rates.values()):.1f} kbit/s per song (mean "
                        f"{sum(rates.values()) / len(rates):.1f})")
        if b not in ("MP3", "Opus"):
            rb = achieved_rates(rows, b)
            parts.insert(1, f"{b} at {min(rb.values()):.1f}–{max(rb.values()):.1f} kbit/s")
        models = [n for n in (a, b) if n not in ("MP3", "Opus")]
        try:
            parts.append("training: " + "; ".join(training_state(n) for n in models))
        except ValueError:  # a model without a shipped log (e.g. constructed rows)
            pass
        judged = [judge_trend(curves, n) for n in models
                  if curves and sum(p["point"] == n for p in curves) > 1]
        if judged:
            parts.append("; ".join(t.short for t in judged))
        decided = all(j.name in intervals for j in MUSIC_JUDGES)
        text = paired_verdict(spec.kind, intervals, MUSIC_JUDGES, spec.a, spec.b) if decided else ""
        if short:
            text = verdict(None, f"{len(songs)} of the held-out songs evaluated so far; the rule needs {MIN_SONGS}"
                                 + (f"; it would give: {text}" if text else ""))
        elif not decided:
            text = verdict(None, f"{a}'s rates lie outside {b}'s ladder on all but one song or none")
        out.append(Claim(spec.claim, spec.where, spec.source, rule, "; ".join(parts), text))
    out += [mechanism_row(rows, d, c) for d, c in (("D64", "C64"), ("D96", "C96"))]
    return out


def mechanism_row(rows: Sequence[dict[str, Any]], d: str, c: str) -> Claim:
    """The diagnostic row of the noise-modulation mechanism: the share of frames whose coding noise exceeds
    model 1's mask (NMR's audible-frame fraction), ``d − c``, song-level interval. Model 1 judges a model
    trained on model-1 terms, so the row never gives a verdict."""
    from . import codec_claims as cc

    claim = f"{d}'s noise-modulation term leaves fewer frames with noise above the mask than {c} (the mechanism)"
    source = f"\"{cc.PAGE_SENTENCES['complementary']}\""
    measure = ("audible-frame fraction (model 1's NMR: frames with noise above the mask), song-level a − b with "
               "a cluster-bootstrap interval; a diagnostic, never a verdict")
    why = "a diagnostic: model 1 judges a model trained on model-1 terms, a consistency check and not evidence"
    if not {d, c} <= {r["system"] for r in rows}:
        return Claim(claim, "the work's page, on the two losses", source, measure, "—",
                     verdict(None, f"{why}; {d} or {c} has no rows"))
    diffs = song_differences(rows, d, c, "audible_fraction")
    if len(diffs) < 2:
        values = [v for vs in diffs.values() for v in vs]
        measured = f"a − b {sum(values) / len(values):+.3f} ({len(diffs)} song; no interval)"
    else:
        iv = song_interval(diffs)
        measured = f"a − b {iv.estimate:+.3f} [{iv.low:+.3f}, {iv.high:+.3f}] ({len(diffs)} songs)"
    return Claim(claim, "the work's page, on the two losses", source, measure, measured, verdict(None, why))


def last_quarter_change(values: Sequence[float]) -> float:
    """Relative change of the mean of ``values`` from the third quarter to the last (negative: still falling)."""
    n = len(values)
    if n < 8:
        raise ValueError(f"values must hold at least 8 steps, got {n}")
    third = sum(values[n // 2 : 3 * n // 4]) / len(values[n // 2 : 3 * n // 4])
    last = sum(values[3 * n // 4 :]) / len(values[3 * n // 4 :])
    return (last - third) / abs(third)


def training_state(name: str) -> str:
    """``"<name> at <steps> steps, flattened (−0.4 % over the last quarter)"`` or ``"... still falling (−6 %)"``
    from a shipped model's training log (its own distortion, :data:`FLAT_TOLERANCE`)."""
    from ..shipped import training_log

    log = training_log(name)
    change = last_quarter_change([float(r["distortion"]) for r in log])
    state = "flattened" if abs(change) <= FLAT_TOLERANCE else "still falling" if change < 0 else "rising"
    return f"{name} at {len(log)} steps, {state} ({change:+.1%} over the last quarter)"


def claim_pairs(rows: Sequence[dict[str, Any]], specs: Sequence[Any] | None = None) -> list[tuple[str, str, float]]:
    """``(a, b, scale)`` of each claim (Default: :data:`percloss.experiments.codec_claims.CLAIMS`) whose two sides
    have rows, once each: an anchor ``b`` is read at ``scale`` × ``a``'s achieved rate."""
    from . import codec_claims as cc

    systems = {r["system"] for r in rows}
    out: list[tuple[str, str, float]] = []
    for spec in cc.CLAIMS if specs is None else specs:
        (a, rate_a), (b, rate_b) = _side(spec.a), _side(spec.b)
        pair = (a, b, rate_b / rate_a if b in ("MP3", "Opus") else 1.0)
        if a in systems and b in systems and pair not in out:
            out.append(pair)
    return out


def _pair_label(a: str, b: str, scale: float) -> str:
    return f"{a} − {b}" + (f" (read at {scale:.3g} × {a}'s rate)" if scale != 1.0 else "")


#: The row keys of the primary judges' measures.
_JUDGE_MEASURES = (("visqol", "ViSQOL"), ("cdpam", "CDPAM"))


def _judge_table(rows: Sequence[dict[str, Any]], pairs: Sequence[tuple[str, str, float]] | None,
                 cells: Any) -> list[dict[str, Any]]:
    """One row per pair ``(a, b, scale)`` (Default: :func:`claim_pairs`) and primary judge:
    ``cells(a, b, measure, scale)`` gives its columns."""
    return [{"a − b": _pair_label(a, b, scale), "judge": label, **cells(a, b, measure, scale)}
            for a, b, scale in (claim_pairs(rows) if pairs is None else pairs) for measure, label in _JUDGE_MEASURES]


def song_table(rows: Sequence[dict[str, Any]], pairs: Sequence[tuple[str, str, float]] | None = None
               ) -> list[dict[str, Any]]:
    """The per-song paired differences behind each verdict: for each of ``pairs`` ``(a, b, scale)`` (Default:
    :func:`claim_pairs`) and each primary judge, one row with every song's mean ``a − b`` over its segments
    (``None`` where a song has no segment in reach of the anchor's ladder); the song-level interval of the
    verdict resamples these."""
    songs = sorted({r["song"] for r in rows})

    def cells(a: str, b: str, measure: str, scale: float) -> dict[str, float | None]:
        diffs = song_differences_scaled(rows, a, b, measure, scale)
        return {song: (sum(diffs[song]) / len(diffs[song]) if song in diffs else None) for song in songs}

    return _judge_table(rows, pairs, cells)


def group_table(rows: Sequence[dict[str, Any]], pairs: Sequence[tuple[str, str, float]] | None = None
                ) -> list[dict[str, Any]]:
    """Per source group, for each of ``pairs`` (Default: :func:`claim_pairs`) and each primary judge: the mean
    of the per-song mean differences ``a − b`` and the number of songs (:func:`group_differences`)."""
    groups = sorted({r["group"] for r in rows})

    def cells(a: str, b: str, measure: str, scale: float) -> dict[str, tuple[float, int] | None]:
        by = group_differences(rows, a, b, measure, scale)
        return {g: (by[g][1], by[g][0]) if g in by else None for g in groups}

    return _judge_table(rows, pairs, cells)
