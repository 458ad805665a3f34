"""Score the shipped codec models and the anchors the claims compare them with by CDPAM, and store the rows.

CDPAM (a network trained on listeners' judgements of audio differences; several
seconds of CPU per second of audio on one thread) on the middle ``--seconds``
of each of the 24 held-out segments of 6 s of the chapter's standard
evaluation (each segment is coded whole): every shipped model, and MP3 at each
model's rate plus MP3 at 112 kbit/s at 44.1 kHz. Writes
``runs/codec/eval/cdpam.csv`` (item, point, kbps, cdpam) and ``cdpam.json``
(the models' SHA-256, the CDPAM weights' SHA-256, wall time, machine). The
chapter adds these to its stored evaluation when the SHA-256 match.

``--update`` scores only the models that are new or changed since the stored
table (by SHA-256) and the anchor rows it lacks, keeps the rest and drops the
rows of models no longer shipped.

Usage: python scripts/eval_codec_cdpam.py [--out runs/codec/eval] [--threads 2] [--seconds 2] [--update]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import platform
import time
from pathlib import Path
from typing import Any

import torch

from percloss import anchors, data
from percloss.cdpam import cdpam_distance, cdpam_weights_path
from percloss.codec import read_bitstream, write_bitstream
from percloss.experiments import codec_study as cs
from percloss.shipped import resolve_codec
from percloss.signal import middle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="folder (Default: $PERCLOSS_RUNS/codec/eval)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=2.0, help="the middle of each segment CDPAM scores")
    parser.add_argument("--update", action="store_true", help="score only new or changed models")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = args.out if args.out is not None else cs.eval_dir()
    config = cs.CodecStudyConfig.for_mode("standard")
    items = [i for i in config.eval_items if "@" in i]  # the held-out segments
    start = time.perf_counter()
    rows: list[dict[str, object]] = []
    models: dict[str, dict[str, str]] = {}
    before: dict[str, Any] = {}
    if args.update:
        before = json.loads((out / "cdpam.json").read_text())
        if (before["items"], before["eval_seconds"], before["cdpam_seconds"]) != (
                items, config.eval_seconds, args.seconds):
            raise SystemExit("the stored CDPAM table was made with other items or durations: recompute it whole")
        with (out / "cdpam.csv").open(newline="") as f:
            rows = list(csv.DictReader(f))
    weights_sha = hashlib.sha256(cdpam_weights_path().read_bytes()).hexdigest()
    if args.update and before.get("cdpam_weights_sha256") != weights_sha:
        raise SystemExit("the stored CDPAM table was scored with other CDPAM weights: recompute it whole")
    shas = {p.key: str(resolve_codec(p.name)[2]["sha256"]) for p in config.points}
    same = {k for k, entry in before.get("models", {}).items() if shas.get(k) == entry["sha256"]}
    anchors_in_table = {str(r["point"]) for r in rows if str(r["point"]).startswith(("MP3", "Opus"))}
    rows = [r for r in rows if r["point"] in same or r["point"] in anchors_in_table]
    done = {(r["item"], r["point"]) for r in rows}
    for rate in sorted({p.sample_rate for p in config.points}):
        songs = data.codec_corpus("heldout", rate)
        points = [p for p in config.points if p.sample_rate == rate]
        anchor_rates = sorted({*(p.kbps for p in points), *((112,) if rate == 44100 else ())})
        for p in points:
            codec, counts, info = resolve_codec(p.name)
            models[p.key] = {"name": p.name, "sha256": str(info["sha256"])}
            if p.key in same:
                continue
            for item in items:
                x, _ = cs.eval_signal(item, rate, config.eval_seconds, songs)
                blob = write_bitstream(codec, counts, x.float(), rate)
                y, _ = read_bitstream(codec, counts, blob)
                rows.append(score(item, p.key, len(blob) * 8 / (len(x) / rate) / 1000, x, y.double(), rate,
                                  args.seconds))
            print(f"{p.name}: {len(items)} segments, {time.perf_counter() - start:.0f} s", flush=True)
        for kbps in anchor_rates:
            for name in ("MP3",):
                target = cs.mp3_bitrate_for(kbps) if name == "MP3" else kbps
                for item in items:
                    if (item, f"{name}{target:g}_{rate // 1000}k") in done:
                        continue
                    x, _ = cs.eval_signal(item, rate, config.eval_seconds, songs)
                    coded = (anchors.mp3(x.numpy(), rate, int(target)) if name == "MP3"
                             else anchors.opus(x.numpy(), rate, target))
                    rows.append(score(item, f"{name}{target:g}_{rate // 1000}k", coded.kbps, x,
                                      torch.from_numpy(coded.audio).double(), rate, args.seconds))
                print(f"{name} {target:g} @ {rate}: {time.perf_counter() - start:.0f} s", flush=True)
    wall = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    table = out / "cdpam.csv"
    with table.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["item", "point", "kbps", "cdpam"])
        writer.writeheader()
        writer.writerows(rows)
    machine = f"{platform.machine()} CPU, {torch.get_num_threads()} torch thread(s), torch {torch.__version__}"
    record = {"models": models, "items": items, "eval_seconds": config.eval_seconds, "cdpam_seconds": args.seconds,
              "cdpam_weights_sha256": weights_sha,
              "table_sha256": hashlib.sha256(table.read_bytes()).hexdigest(),
              "wall_s": before.get("wall_s", round(wall, 1)), "machine": before.get("machine", machine)}
    if args.update:
        record["updates"] = [*before.get("updates", []), {"points": sorted(models[k]["name"] for k in models
                                                                           if k not in same),
                                                          "wall_s": round(wall, 1), "machine": machine}]
    (out / "cdpam.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"{len(rows)} rows in {wall / 60:.1f} min -> {table}")


def score(item: str, point: str, kbps: float, x: torch.Tensor, y: torch.Tensor, rate: int,
          seconds: float) -> dict[str, object]:
    """CDPAM of the middle ``seconds`` of the pair; ``kbps`` is the whole segment's file rate."""
    n = int(seconds * rate)
    with torch.no_grad():
        d = float(cdpam_distance(middle(x, n).float(), middle(y, n).float().clamp(-1, 1), rate))
    return {"item": item, "point": point, "kbps": round(kbps, 3), "cdpam": f"{d:.6g}"}


if __name__ == "__main__":
    main()
