"""Measure how far the codec chapter's live rows move between processors and torch kernel paths.

The chapter's standard mode loads the stored evaluation and recodes its
listening items to check it (``codec_evaluation.check_agreement``). This script
recodes those items once per kernel path, each in its own process: this CPU's
defaults, oneDNN (the convolutions) held to SSE4.1 (``ONEDNN_MAX_CPU_ISA``),
and torch's own kernels without SIMD (``ATEN_CPU_CAPABILITY=default``). It
writes the largest difference per measure and kind of system (neural codec,
MP3, Opus decoded from the stored bitstreams) between each path and the stored
rows, which the processor named in the stored record wrote, and between the
paths, to ``runs/codec/eval/spread.json``. The agreement tolerances
(``codec_evaluation.NEURAL_TOLERANCE``) are set from it.

Usage: python scripts/eval_codec_spread.py [--paths default ONEDNN_MAX_CPU_ISA=SSE41 ATEN_CPU_CAPABILITY=default]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from percloss.experiments import codec_evaluation as ce
from percloss.experiments import codec_study as cs
from percloss.modes import (
    configure_threads,
    cpu_model,
    kernel_path_environment,
    machine_description,
)
from percloss.paths import eval_dir


def live_rows(out: str) -> None:
    """Recode the standard mode's listening items (Opus from the stored bitstreams) and write the rows."""
    configure_threads()
    config = cs.CodecStudyConfig.for_mode("standard")
    study = ce.run_study(config, progress=False, check=False)
    json.dump({"machine": machine_description(), "rows": study.live_rows}, open(out, "w"))


def kind(row: dict[str, Any]) -> str:
    return "neural" if int(row["modules"]) > 0 else str(row["system"])


def spread(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Largest absolute and relative difference per kind of system and measure between rows ``a`` and ``b``."""
    index = {(r["item"], r["point"]): r for r in b}
    worst: dict[str, dict[str, dict[str, Any]]] = {}
    for r in a:
        s = index[(r["item"], r["point"])]
        for k in cs.MEASURES:
            d = abs(float(r[k]) - float(s[k]))
            w = worst.setdefault(kind(r), {}).setdefault(k, {"abs": 0.0, "rel": 0.0, "rows": 0, "where": None})
            w["rows"] += 1
            w["rel"] = max(w["rel"], d / max(abs(float(s[k])), 1e-12))
            if d > w["abs"]:
                w["abs"], w["where"] = d, f"{r['item']}, {r['point']}: {float(s[k])!r} vs {float(r[k])!r}"
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", nargs="+",
                        default=["default", "ONEDNN_MAX_CPU_ISA=SSE41", "ATEN_CPU_CAPABILITY=default"],
                        help="NAME=VALUE environment settings, one run each ('default': none)")
    parser.add_argument("--out", default=None, help="(Default: runs/codec/eval/spread.json)")
    parser.add_argument("--live-rows", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.live_rows:
        live_rows(args.live_rows)
        return
    config = cs.CodecStudyConfig.for_mode("standard")
    folder = eval_dir()
    record = json.loads((folder / "standard.json").read_text())
    _, stored = ce.stored_evaluation(config, folder)
    runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for path in args.paths:
            env = kernel_path_environment(path)
            out = Path(tmp) / f"run{len(runs)}.json"
            start = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--live-rows", str(out)], env=env, check=True)
            runs[path] = {**json.loads(out.read_text()), "seconds": round(time.perf_counter() - start, 1)}
            print(f"{path}: {runs[path]['machine']}, {runs[path]['seconds']} s", flush=True)
    result = {
        "stored_machine": record.get("machine", ""),
        "this_cpu": cpu_model(),
        "paths": {p: {"machine": r["machine"], "seconds": r["seconds"], "rows": len(r["rows"])}
                  for p, r in runs.items()},
        "vs_stored": {p: spread(r["rows"], stored) for p, r in runs.items()},
        "between_paths": {f"{p} vs {q}": spread(runs[p]["rows"], runs[q]["rows"])
                          for i, p in enumerate(args.paths) for q in args.paths[i + 1:]},
    }
    target = Path(args.out) if args.out else folder / "spread.json"
    target.write_text(json.dumps(result, indent=1) + "\n")
    print(target)


if __name__ == "__main__":
    main()
