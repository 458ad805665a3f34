"""Learning curves of the shipped codec points as the primary judges see them (chapter 4).

A verdict reached at one training budget means more when its two sides had stopped improving. The training
loss says little about that across models (each point trains on its own loss), so the stored snapshots of a
shipped point's own run are scored like the shipped model, by ViSQOL and CDPAM on a fixed subset of the
held-out set (:data:`CURVE_SEGMENT` of every song), and the last step is the shipped model's own row of the
held-out evaluation on the same segments.

- :data:`SNAPSHOTS`: the snapshots kept of the shipped points' runs, each at the commit that stored it (the
  training runs overwrote one ``runs/codec/<point>/snapshot.pt``; git keeps every committed version); runs
  trained since keep a snapshot at each quarter (:func:`kept_snapshots`);
- :func:`run` scores each snapshot into ``folder/curves/<point>-<step>.csv`` with a record (commit, the
  snapshot's SHA-256, machine, seconds); :func:`read_curves` reads them back;
- :func:`curve_points` the mean of each judge per point and step; :func:`judge_trend` whether a point's
  curve had flattened by the end (:data:`FLAT_RULE`).

Script: ``scripts/eval_snapshots.py``. Notebook: ``notebooks/ch04_codec.py``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .claims import MUSIC_JUDGES, Judge
from .heldout_eval import read_tables, write_table

__all__ = ["CURVE_SEGMENT", "Snapshot", "SNAPSHOTS", "kept_snapshots", "FLAT_RULE", "CURVE_COLUMNS", "snapshot_state",
           "snapshot_codec", "evaluate_snapshot", "run", "read_curves", "curve_points", "JudgeTrend",
           "judge_trend"]

#: The fixed subset a learning curve is scored on, chosen before any snapshot was scored: this segment (of the
#: :data:`percloss.data.HELDOUT_SEGMENTS` evenly spaced ones) of every held-out song, the second, so no
#: curve rests on a song's opening.
CURVE_SEGMENT = 1

#: When a curve has flattened, fixed before the curves were scored: each primary judge's subset mean moved by
#: less than that judge's non-inferiority margin per quarter of training, from the last stored snapshot at
#: least a quarter of training before the end to the end (the change scaled linearly to a quarter).
FLAT_RULE = ("each primary judge moved by less than its margin (ViSQOL 0.1, CDPAM 0.01) per quarter of training "
             "from the last snapshot at least a quarter before the end to the end")

CURVE_COLUMNS = ("song", "group", "segment", "system", "step", "sample_rate", "kbps", "visqol", "cdpam",
                 "nmr_db", "audible_fraction", "snr_db", "lsd_db")


@dataclass(frozen=True)
class Snapshot:
    """A stored snapshot of a point's training run after ``step`` steps: ``runs/codec/<point>/snapshot.pt`` at
    ``commit`` (the shipped points' runs kept one file and overwrote it), or with ``commit=None`` the kept
    ``<folder>/<point>/step-<step>.pt`` in the working tree (:attr:`percloss.codec_runs.RunConfig.kept_steps`)."""

    point: str
    step: int
    commit: str | None = None
    folder: str = "runs/codec"

    @property
    def path(self) -> str:
        name = "snapshot.pt" if self.commit is not None else f"step-{self.step}.pt"
        return f"{self.folder}/{self.point}/{name}"


def kept_snapshots(folder: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> list[Snapshot]:
    """The ``step-<n>.pt`` snapshots kept under ``folder`` (relative to the checkout ``root``), by point and step."""
    from ..paths import repository_root

    base = Path(root) if root is not None else repository_root() or Path.cwd()
    found = [Snapshot(p.parent.name, int(p.stem.split("-")[1]), None, str(folder))
             for p in (base / folder).glob("*/step-*.pt") if p.stem.split("-")[1].isdigit()]
    return sorted(found, key=lambda s: (s.point, s.step))


#: Every snapshot of a shipped point's own run that the repository kept (checked: each one's training log
#: equals the first ``step`` rows of the shipped model's log). The other shipped points kept only their end.
SNAPSHOTS = (
    Snapshot("A79", 3866, "596ae46"), Snapshot("A79", 5366, "584af84"),
    Snapshot("B79", 3233, "596ae46"), Snapshot("B79", 4969, "584af84"),
    Snapshot("C96", 2650, "7b95bf0"),
)


def snapshot_state(snapshot: Snapshot, root: str | os.PathLike[str] | None = None) -> tuple[dict[str, Any], str]:
    """The snapshot's saved state and its SHA-256, read from the git history of the checkout at ``root``.

    Raises:
        ValueError: no git history holds it (e.g. a shallow clone: ``git fetch --unshallow``).
    """
    from ..paths import repository_root

    where = Path(root) if root is not None else repository_root()
    if where is None:
        raise ValueError("snapshots are read from the repository's checkout; this is no checkout")
    if snapshot.commit is None:
        file = where / snapshot.path
        if not file.is_file():
            raise ValueError(f"snapshot {snapshot.point} step {snapshot.step}: {file} does not exist")
        blob = file.read_bytes()
    else:
        done = subprocess.run(["git", "show", f"{snapshot.commit}:{snapshot.path}"], cwd=where, capture_output=True)
        if done.returncode != 0:
            raise ValueError(f"snapshot {snapshot.point} step {snapshot.step}: {snapshot.path} is not at commit "
                             f"{snapshot.commit} of {where} ({done.stderr.decode().strip()}); a shallow clone "
                             "lacks the history: git fetch --unshallow")
        blob = done.stdout
    state = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    steps = len(state["log"]["distortion"])
    if steps != snapshot.step:
        raise ValueError(f"snapshot {snapshot.point} at {snapshot.commit} holds {steps} steps, not {snapshot.step}")
    return state, hashlib.sha256(blob).hexdigest()


def snapshot_codec(state: Mapping[str, Any]) -> tuple[Any, int]:
    """The codec of a snapshot's state (eval mode) and its sample rate."""
    from ..codec import CascadedCodec

    config = state["config"]
    codec = CascadedCodec.for_state_dict(state["codec"])
    codec.load_state_dict(state["codec"])
    return codec.eval(), int(config["sample_rate"])


def evaluate_snapshot(name: str, step: int, codec: Any, counts: list[torch.Tensor], sample_rate: int,
                      segments: Mapping[str, torch.Tensor], groups: Mapping[str, str]) -> list[dict[str, Any]]:
    """Rows (:data:`CURVE_COLUMNS`) for one snapshot: each song's segment coded to a real range-coded file (its
    size gives the rate) and scored like the held-out evaluation
    (:func:`percloss.experiments.heldout_eval.score_segment`)."""
    from ..codec import read_bitstream, write_bitstream
    from .heldout_eval import score_segment

    rows = []
    with torch.inference_mode():
        for song, x in segments.items():
            blob = write_bitstream(codec, counts, x.float(), sample_rate)
            y, _ = read_bitstream(codec, counts, blob)
            rows.append({"song": song, "group": groups[song], "segment": CURVE_SEGMENT, "system": name,
                         "step": step, "sample_rate": sample_rate, "kbps": len(blob) * 8 / (len(x) / sample_rate) / 1000,
                         **score_segment(x, y, sample_rate)})
    return rows


def run(folder: str | os.PathLike[str], snapshots: Sequence[Snapshot] = SNAPSHOTS,
        root: str | os.PathLike[str] | None = None, progress: bool = True) -> Path:
    """Score every snapshot into ``folder/curves/<point>-<step>.csv`` and its record ``.json``; a snapshot
    recorded with the same SHA-256 and held-out manifest is skipped. The entropy coder's counts are each
    snapshot's symbol histogram over the codec corpus's shipped training excerpts (the snapshot's rate is
    shown beside its quality, not judged)."""
    from .. import data
    from ..codec import symbol_histogram

    out = Path(folder) / "curves"
    out.mkdir(parents=True, exist_ok=True)
    manifest = data.heldout_manifest()
    manifest_sha = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
    groups = {song: str(info["group"]) for song, info in manifest.items()}
    material: dict[int, tuple[list[torch.Tensor], dict[str, torch.Tensor]]] = {}
    for snap in snapshots:
        table, record_path = out / f"{snap.point}-{snap.step}.csv", out / f"{snap.point}-{snap.step}.json"
        state, digest = snapshot_state(snap, root)
        if record_path.is_file() and table.is_file():
            done = json.loads(record_path.read_text())
            if done["snapshot_sha256"] == digest and done["heldout_manifest_sha256"] == manifest_sha:
                continue
        started = time.perf_counter()
        codec, rate = snapshot_codec(state)
        if rate not in material:  # loaded once per sample rate
            material[rate] = (list(data.codec_corpus("train", rate).values()),
                              {song: pieces[CURVE_SEGMENT] for song, pieces in data.heldout_set(rate).items()})
        training, segments = material[rate]
        with torch.inference_mode():
            counts = symbol_histogram(codec, training)
        rows = evaluate_snapshot(snap.point, snap.step, codec, counts, rate, segments, groups)
        write_table(table, CURVE_COLUMNS, rows, {
            "point": snap.point, "step": snap.step, "commit": snap.commit, "path": snap.path,
            "snapshot_sha256": digest, "heldout_manifest_sha256": manifest_sha, "segment": CURVE_SEGMENT,
            "counts": "symbol histogram over the codec corpus's shipped training excerpts",
            "seconds": round(time.perf_counter() - started, 1)})
        if progress:
            print(f"{snap.point} step {snap.step}: {len(rows)} rows in {time.perf_counter() - started:.0f} s",
                  flush=True)
    return out


def read_curves(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The rows :func:`run` wrote under ``folder/curves`` (each CSV checked against its record's SHA-256)."""
    return read_tables(Path(folder) / "curves", CURVE_COLUMNS)


def curve_points(curves: Sequence[Mapping[str, Any]], heldout_rows: Sequence[Mapping[str, Any]],
                 final_steps: Mapping[str, int]) -> list[dict[str, Any]]:
    """Per point and step, each judge's mean (and the mean rate) over the songs that both every snapshot of the
    point and the shipped model's held-out rows cover at :data:`CURVE_SEGMENT`; the shipped model is the point
    at ``final_steps[point]``. Points without a snapshot give their end only. Sorted by point, then step."""
    by: dict[tuple[str, int], dict[str, Mapping[str, Any]]] = {}
    for r in curves:
        by.setdefault((str(r["system"]), int(r["step"])), {})[str(r["song"])] = r
    for r in heldout_rows:
        name = str(r["system"])
        if name in final_steps and int(r["segment"]) == CURVE_SEGMENT:
            by.setdefault((name, int(final_steps[name])), {})[str(r["song"])] = r
    out = []
    for name in sorted({p for p, _ in by}):
        steps = sorted(s for p, s in by if p == name)
        songs = set.intersection(*(set(by[name, s]) for s in steps))
        if not songs:
            continue
        for s in steps:
            picked = [by[name, s][song] for song in sorted(songs)]
            out.append({"point": name, "step": s, "songs": len(picked),
                        **{m: sum(float(r[m]) for r in picked) / len(picked) for m in ("visqol", "cdpam", "kbps")}})
    return out


@dataclass(frozen=True)
class JudgeTrend:
    """How a point's judged quality moved at the end of its training (:data:`FLAT_RULE`).

    Attributes:
        point: the point's name.
        flattened: ``True``/``False`` by the rule; ``None`` when no snapshot lies a quarter or more before the end.
        text: the judges' values and per-quarter changes as printed beside a verdict.
        short: the state and the per-quarter changes only.
    """

    point: str
    flattened: bool | None
    text: str
    short: str


_MEASURE = {"ViSQOL": "visqol", "CDPAM": "cdpam"}


def judge_trend(points: Sequence[Mapping[str, Any]], point: str, judges: Sequence[Judge] = MUSIC_JUDGES
                ) -> JudgeTrend:
    """:data:`FLAT_RULE` applied to ``point``'s rows of :func:`curve_points`.

    Raises:
        ValueError: ``point`` has no rows.
    """
    mine = sorted((p for p in points if p["point"] == point), key=lambda p: p["step"])
    if not mine:
        raise ValueError(f"point {point!r} has no learning-curve rows")
    end = mine[-1]
    total = int(end["step"])
    earlier = [p for p in mine[:-1] if int(p["step"]) <= 0.75 * total]
    if not earlier:
        return JudgeTrend(point, None, f"{point}: the judges at its end only (no snapshot a quarter or more "
                                       f"before step {total} was kept)", f"{point}: no judged snapshot")
    start = earlier[-1]
    quarters = (total - int(start["step"])) / (total / 4)
    changes = {j.name: (float(end[_MEASURE[j.name]]) - float(start[_MEASURE[j.name]])) / quarters for j in judges}
    flat = all(abs(changes[j.name]) < j.margin for j in judges)
    moved = ", ".join(f"{name} {value:+.3f}" for name, value in changes.items())
    values = "; ".join(f"{j.name} " + " → ".join(f"{float(p[_MEASURE[j.name]]):.3f}" for p in mine) for j in judges)
    steps = "/".join(str(int(p["step"])) for p in mine)
    state = "flattened" if flat else "not flattened"
    since = f"({moved} per quarter of training since step {int(start['step'])})"
    return JudgeTrend(point, flat, f"{point} judged at steps {steps} ({values}; {end['songs']} songs): {state} {since}",
                      f"{point} by the judges {state} {since}")
