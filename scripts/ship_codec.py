"""Ship a finished codec run into the package: ``percloss/models/`` + its manifest entry.

Takes the checkpoint a finished ``python -m percloss train-codec`` run exported
(``runs/codec/<NAME>/<NAME>.codec``) and its training log, measures the
range-coded file bitrate on the held-out songs of the codec corpus (whole
songs from ``--corpus-folder`` when given, else the shipped excerpts), and
writes ``percloss/models/<NAME>.codec``, ``<NAME>.log.csv.gz`` and the manifest
entry (point, sample rate, modules, parameters, steps, audio seen, wall time,
final loss terms, achieved bitrate, SHA-256, code commit).

Usage: python scripts/ship_codec.py NAME [--runs runs/codec] [--corpus-folder data/codec_corpus]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import shutil
import subprocess
from pathlib import Path

import torch

from percloss import data
from percloss.codec import count_parameters, load_codec, write_bitstream
from percloss.codec_runs import POINTS, RUN
from percloss.shipped import models_dir

ROOT = Path(__file__).resolve().parents[1]
RATE_TOLERANCE = 0.03  # a shipped model's held-out file bitrate is within 3 % of its point's target


def _trained_on(run: Path) -> str:
    """The device of the run's record (runs before the record named one trained on the CPU)."""
    record = run / "run.json"
    return str(json.loads(record.read_text()).get("device", "cpu")) if record.is_file() else "cpu"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", choices=sorted(POINTS))
    parser.add_argument("--runs", default=str(ROOT / "runs" / "codec"))
    parser.add_argument("--corpus-folder", default=None)
    parser.add_argument("--out", default=str(models_dir()))
    args = parser.parse_args()
    point = POINTS[args.name]
    run = Path(args.runs) / args.name
    checkpoint, log_csv = run / f"{args.name}.codec", run / "log.csv"
    if not checkpoint.is_file():
        raise SystemExit(f"{checkpoint} does not exist: the run has not finished")
    codec, counts, info = load_codec(checkpoint)
    rows = list(csv.DictReader(log_csv.open()))
    tail = rows[-100:]
    terms = {k: sum(float(r[k]) for r in tail) / len(tail) for k in ("distortion", "mse", "mel_weighted", "priority",
                                                                      "noise_modulation") if tail[0][k] != ""}
    songs = data.codec_corpus("heldout", point.sample_rate, args.corpus_folder)
    bits = seconds = 0.0
    per_song = {}
    with torch.inference_mode():
        for name, x in songs.items():
            blob = write_bitstream(codec, counts, x, point.sample_rate)
            per_song[name] = round(len(blob) * 8 / (len(x) / point.sample_rate) / 1000, 2)
            bits += len(blob) * 8
            seconds += len(x) / point.sample_rate
    kbps = bits / seconds / 1000
    if abs(kbps - point.kbps) > RATE_TOLERANCE * point.kbps:
        raise SystemExit(f"{args.name} does not ship: its file bitrate on the held-out songs is {kbps:.2f} kbit/s "
                         f"({per_song}), more than {RATE_TOLERANCE:.0%} from the target {point.kbps:g}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(checkpoint, out / f"{args.name}.codec")
    with log_csv.open("rb") as src, gzip.GzipFile(out / f"{args.name}.log.csv.gz", "wb", mtime=0) as dst:
        shutil.copyfileobj(src, dst)
    import hashlib

    sha = hashlib.sha256((out / f"{args.name}.codec").read_bytes()).hexdigest()
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    manifest[args.name] = {
        "file": f"{args.name}.codec", "log": f"{args.name}.log.csv.gz", "sha256": sha,
        "model": point.model, "sample_rate": point.sample_rate, "target_kbps": point.kbps,
        "n_modules": point.n_modules, "parameters": count_parameters(codec), "steps": len(rows),
        "audio_seen_hours": round(len(rows) * RUN.seconds_per_step(point.sample_rate) / 3600, 3),
        "wall_hours": round(float(rows[-1]["wall_s"]) / 3600, 3), "trained": info["trained"],
        "final_terms_mean_last_100_steps": {k: round(v, 6) for k, v in terms.items()},
        "file_kbps_heldout": round(kbps, 2), "file_kbps_per_song": per_song,
        "heldout_corpus": "whole songs" if args.corpus_folder else "shipped excerpts", "code_commit": commit,
        "device": _trained_on(run),
    }
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print(json.dumps(manifest[args.name], indent=1))


if __name__ == "__main__":
    main()
