"""Peak memory and time of each loss's forward + backward on long audio, under an address-space limit.

Each (loss, length) runs in a fresh process limited to ``--limit-gb`` of
address space (``ulimit -v``), on a real clip tiled to the length at
44.1 kHz (target) and the same plus noise 40 dB down (input, requiring
gradients); the row records the growth of the process's peak RSS during the
step, its wall time, or how it failed (a clear refusal or an allocator error).

Usage:
    python benchmarks/bench_memory.py [--lengths 10 60 600] [--losses perceptual ...] [--limit-gb 6]
        [--label after] [--out benchmarks/results/memory.md]
Run it with ``PYTHONPATH`` pointing at another checkout to measure that one (the "before" rows).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

RATE = 44100
LOSSES = {
    "perceptual": "PerceptualLoss(44100)",
    "masked": "MaskedFilterbankLoss(44100)",
    "mrstft": "MultiResolutionSTFTLoss()",
    "mel": "MelLoss(44100)",
    "mel_weighted": "MelWeightedLoss(44100)",
    "priority": "PriorityWeightedLoss(44100)",
    "noise_modulation": "NoiseModulationLoss(44100)",
    "embedding": "EmbeddingDistanceLoss(44100)",
    "cdpam": "__import__('percloss.losses', fromlist=['CDPAMLoss']).CDPAMLoss(44100)",
}

CHILD = r"""
import json, resource, sys, time
limit = int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
import numpy as np, torch
torch.set_num_threads(1)
from percloss import data
from percloss.losses import *  # noqa
seconds, expr = float(sys.argv[1]), sys.argv[2]
clip = data.load_clip("band_sectoid", 44100).numpy()
n = int(seconds * 44100)
target = torch.from_numpy(np.tile(clip, n // len(clip) + 1)[:n].copy())[None]
rng = np.random.default_rng(0)
noise = torch.from_numpy((0.01 * rng.standard_normal(n)).astype(np.float32))[None]
loss = eval(expr)
x = (target + noise).requires_grad_(True)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    value = loss(x, target)
    value.backward()
    result = {"peak_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024,
              "seconds": time.perf_counter() - start, "value": float(value)}
except Exception as e:  # the row records how it failed
    result = {"error": type(e).__name__, "message": str(e).splitlines()[0][:160],
              "seconds": time.perf_counter() - start}
print(json.dumps(result))
"""


CLI_CHILD = r"""
import json, os, resource, sys, time
limit = int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
import torch
torch.set_num_threads(1)
from percloss.cli import main
verb, wav, folder = sys.argv[1], sys.argv[2], sys.argv[4]
pcl, out = os.path.join(folder, "x.pcl"), os.path.join(folder, "y.wav")
start = time.perf_counter()
if verb == "decode" and not os.path.exists(pcl):
    raise SystemExit("encode first")
args = ["encode", wav, pcl] if verb == "encode" else ["decode", pcl, out]
try:
    status = main(args + ["--quiet"])
    result = {"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
              "seconds": time.perf_counter() - start, "status": status}
    if status:
        result = {"error": f"exit {status}", "message": "", "seconds": result["seconds"]}
except Exception as e:  # the row records how it failed
    result = {"error": type(e).__name__, "message": str(e).splitlines()[0][:160] if str(e) else "",
              "seconds": time.perf_counter() - start}
print(json.dumps(result))
"""


def stereo_wav(seconds: float, folder: Path) -> Path:
    """A real clip tiled to ``seconds`` of 44.1 kHz stereo (16-bit WAV)."""
    import numpy as np
    import soundfile as sf

    from percloss import data

    path = folder / f"long_{seconds:g}.wav"
    if not path.exists():
        clip = data.load_clip("band_sectoid", RATE).numpy()
        with sf.SoundFile(str(path), "w", samplerate=RATE, channels=2, subtype="PCM_16") as f:
            n, done = int(seconds * RATE), 0
            while done < n:
                block = clip[: min(len(clip), n - done)]
                f.write(np.stack([block, 0.8 * block], axis=1))
                done += len(block)
    return path


def measure_cli(verb: str, seconds: float, limit_gb: float, timeout: float, folder: Path) -> dict:
    """Peak RSS of the whole process (imports included) for ``python -m percloss encode|decode``."""
    wav = stereo_wav(seconds, folder)
    work = folder / f"work_{seconds:g}"
    work.mkdir(exist_ok=True)
    try:
        out = subprocess.run([sys.executable, "-c", CLI_CHILD, verb, str(wav), str(int(limit_gb * 2**30)),
                              str(work)], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": "timeout", "message": f"over {timeout:.0f} s", "seconds": timeout}
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"error": "crash", "message": tail[:160], "seconds": float("nan")}
    result: dict = json.loads(lines[-1])
    return result


def measure(loss: str, seconds: float, limit_gb: float, timeout: float) -> dict:
    try:
        out = subprocess.run([sys.executable, "-c", CHILD, str(seconds), LOSSES[loss], str(int(limit_gb * 2**30))],
                             capture_output=True, text=True, timeout=timeout, env=os.environ.copy())
    except subprocess.TimeoutExpired:
        return {"error": "timeout", "message": f"over {timeout:.0f} s", "seconds": timeout}
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"error": "crash", "message": tail[:160], "seconds": float("nan")}
    result: dict = json.loads(lines[-1])
    return result


def cell(r: dict) -> str:
    if r.get("error") == "timeout":
        return f"timeout ({r['message']})"
    if "error" in r:
        asked = re.search(r"allocate (\d+) bytes", r["message"])
        if asked:
            return f"fails: allocator error (asked for {int(asked.group(1)) / 1e9:.1f} GB more)"
        if r["error"] == "InsufficientMemoryError":
            return "refused before allocating: " + r["message"].split(": split")[0]
        return f"fails: {r['error']} ({r['message']})"
    return f"{r['peak_mb']:.0f} MB, {r['seconds']:.1f} s"


def report(rows: list[dict], out: Path, header: str) -> None:
    """``memory.md``: one row per entry point and length, before and after side by side."""
    keys: dict[tuple[str, float], dict[str, dict]] = {}
    for r in rows:  # a later row of the same entry point, length and label replaces an earlier one
        keys.setdefault((r["loss"], r["seconds_audio"]), {})[r["label"]] = r
    order = [*LOSSES, "cli encode", "cli decode"]
    lines = [header, "", "| entry point | audio | before | after |", "|---|---|---|---|"]
    for (loss, seconds), by in sorted(keys.items(), key=lambda k: (order.index(k[0][0]), k[0][1])):
        length = f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"
        cells = [cell(by[label]) if label in by else "—" for label in ("before", "after")]
        lines.append(f"| {loss} | {length} | {cells[0]} | {cells[1]} |")
    out.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=float, nargs="+", default=[10.0, 60.0, 600.0])
    parser.add_argument("--losses", nargs="*", default=list(LOSSES), choices=list(LOSSES))
    parser.add_argument("--cli", nargs="*", default=[], choices=["encode", "decode"],
                        help="also run these CLI verbs (whole-process peak RSS; decode after encode)")
    parser.add_argument("--work", default=None, help="folder for the CLI's long WAV files (Default: a temp dir)")
    parser.add_argument("--limit-gb", type=float, default=6.0)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--label", default="after")
    parser.add_argument("--json", default=None, help="append the rows to this JSON file")
    parser.add_argument("--report", nargs="+", default=None, metavar="JSON",
                        help="write --out from these JSON files instead of measuring")
    parser.add_argument("--out", default="benchmarks/results/memory.md")
    parser.add_argument("--header", default="# Memory on long audio")
    args = parser.parse_args()
    if args.report:
        rows = [r for path in args.report for r in json.loads(Path(path).read_text())]
        report(rows, Path(args.out), args.header)
        return
    rows = []
    for loss in args.losses:
        for seconds in args.lengths:
            r = measure(loss, seconds, args.limit_gb, args.timeout)
            r.update(loss=loss, seconds_audio=seconds, label=args.label)
            rows.append(r)
            print(f"{args.label:8s} {loss:18s} {seconds:6.0f} s: {cell(r)}", flush=True)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.work or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for seconds in args.lengths:
            for verb in args.cli:
                r = measure_cli(verb, seconds, args.limit_gb, args.timeout, folder)
                r.update(loss=f"cli {verb}", seconds_audio=seconds, label=args.label)
                rows.append(r)
                print(f"{args.label:8s} {'cli ' + verb:18s} {seconds:6.0f} s: {cell(r)}", flush=True)
    if args.json:
        path = Path(args.json)
        old = json.loads(path.read_text()) if path.exists() else []
        path.write_text(json.dumps(old + rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
