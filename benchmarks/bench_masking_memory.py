"""Peak memory and time of model 1, NMR and the CLI's ``threshold``/``nmr`` on long audio.

Each (entry point, length) runs in a fresh child process on one torch thread,
under an address-space limit (``--limit-gib``, Default 6); the parent reads the
child's peak resident set size from ``os.wait4``. The input is real 44.1 kHz
music (band_sectoid then piano_bach, 16 s) tiled to the length; ``nmr`` compares
it with a copy plus quiet noise. Entry points:

- ``model1``: ``psychoacoustic_model1(x, 44100)`` on a float32 tensor (its
  result, a :class:`~percloss.masking.MaskingAnalysis`, grows with the audio:
  the table lists its size);
- ``nmr``: ``percloss.metrics.nmr(reference, test, 44100)`` on float32 tensors;
- ``cli-threshold``, ``cli-nmr``: ``python -m percloss threshold|nmr`` on
  16-bit mono WAV files (written once to ``--wav-dir``).
- ``idle``: the imports alone (the floor of every row).

Results are kept per label in benchmarks/results/masking_memory.json (run once
with ``--label before`` on the code to compare against, once with ``--label
after``) and written as a section of benchmarks/results/masking.md.

    python benchmarks/bench_masking_memory.py --label after [--seconds 10 60 600 3600]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
RECORD = RESULTS / "masking_memory.json"
ENTRIES = ("idle", "model1", "nmr", "cli-threshold", "cli-nmr")
RATE = 44100
SECTION = "## Memory on long audio"


def _music(seconds: float):  # type: ignore[no-untyped-def]
    import torch

    from percloss.data import load_clip

    clip = torch.cat([load_clip("band_sectoid"), load_clip("piano_bach")])
    n = int(seconds * RATE)
    return clip.repeat(n // len(clip) + 1)[:n].contiguous()


def _noise(n: int, seed: int = 0):  # type: ignore[no-untyped-def]
    import torch

    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, generator=g).mul_(1e-3)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


#: This process's peak RSS once its input was built, just before the call.
_PEAK_BEFORE_CALL = [0.0]


def write_wavs(seconds: float, folder: Path) -> tuple[Path, Path]:
    """``ref.wav`` (tiled music) and ``test.wav`` (plus quiet noise) of ``seconds``, written in blocks."""
    import numpy as np
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    ref, test = folder / f"ref_{seconds:g}s.wav", folder / f"test_{seconds:g}s.wav"
    if ref.exists() and test.exists():
        return ref, test
    clip = _music(32.0).numpy()  # two copies of the 16 s material
    n = int(seconds * RATE)
    rng = np.random.default_rng(0)
    with sf.SoundFile(str(ref), "w", RATE, 1, "PCM_16") as fr, sf.SoundFile(str(test), "w", RATE, 1, "PCM_16") as ft:
        for start in range(0, n, len(clip) // 2):
            block = clip[start % (len(clip) // 2):][: min(len(clip) // 2, n - start)]
            fr.write(block)
            ft.write(block + 1e-3 * rng.standard_normal(len(block)))
    return ref, test


def child(entry: str, seconds: float, wav_dir: Path) -> None:
    """Run one entry point; print its wall time, result size and this process's peak RSS as JSON."""
    try:
        wall, result_mb = _run(entry, seconds, wav_dir)
        outcome: dict[str, object] = {"ok": True, "seconds": wall, "result_mb": result_mb}
    except (MemoryError, RuntimeError, SystemExit) as err:
        outcome = {"ok": False, "error": f"{type(err).__name__}: {str(err).splitlines()[0][:160]}"}
    outcome["peak_mib"] = _peak_mib()
    outcome["before_call_mib"] = _PEAK_BEFORE_CALL[0]
    import percloss

    outcome["package"] = str(Path(percloss.__file__).parent)
    print(json.dumps(outcome))


def _run(entry: str, seconds: float, wav_dir: Path) -> tuple[float, float]:
    import torch

    torch.set_num_threads(1)
    from percloss.cli import main as cli_main
    from percloss.masking import psychoacoustic_model1
    from percloss.metrics import nmr

    result_mb = 0.0
    if entry == "idle":
        wall = 0.0
    elif entry in ("model1", "nmr"):
        x = _music(seconds)
        if entry == "nmr":
            y = _noise(len(x)).add_(x)
        _PEAK_BEFORE_CALL[0] = _peak_mib()
        start = time.perf_counter()
        if entry == "model1":
            a = psychoacoustic_model1(x, RATE)
            result_mb = sum(v.numel() * v.element_size() for v in vars(a).values()
                            if isinstance(v, torch.Tensor)) / 2**20
        else:
            r = nmr(x, y, RATE)
            result_mb = sum(v.numel() * v.element_size() for v in vars(r).values()) / 2**20
        wall = time.perf_counter() - start
    else:
        ref, test = wav_dir / f"ref_{seconds:g}s.wav", wav_dir / f"test_{seconds:g}s.wav"
        argv = ["threshold", str(ref)] if entry == "cli-threshold" else ["nmr", str(ref), str(test)]
        _PEAK_BEFORE_CALL[0] = _peak_mib()
        start = time.perf_counter()
        with open(os.devnull, "w") as sink:
            saved, sys.stdout = sys.stdout, sink
            try:
                status = cli_main(argv)
            finally:
                sys.stdout = saved
        wall = time.perf_counter() - start
        if status != 0:
            raise SystemExit(f"cli exit status {status}")
    return wall, result_mb


def measure(entry: str, seconds: float, wav_dir: Path, limit_gib: float, tree: Path | None) -> dict[str, object]:
    """Run ``entry`` on ``seconds`` of audio in a child; its peak RSS (MiB), wall time and outcome."""
    def limit() -> None:
        size = int(limit_gib * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (size, size))

    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if tree is not None:  # another checkout's percloss package (e.g. `git archive REV percloss data | tar -x -C DIR`)
        env["PYTHONPATH"] = str(tree)
        env.setdefault("PERCLOSS_DATA", str(ROOT / "data" / "clips"))
    proc = subprocess.run([sys.executable, __file__, "--child", entry, str(seconds), "--wav-dir", str(wav_dir)],
                          capture_output=True, text=True, preexec_fn=limit, env=env, cwd=ROOT)
    row: dict[str, object] = {"entry": entry, "audio_s": seconds}
    lines = [line for line in proc.stdout.strip().splitlines() if line.startswith("{")]
    if lines:
        row.update(json.loads(lines[-1]))
    else:
        err = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        row.update(ok=False, peak_mib=float("nan"), error=err[-1][:200] if err else f"exit status {proc.returncode}")
    return row


def _failure(error: str) -> str:
    """``fails: allocating 10.2 GB`` from an allocator's message, else the message's start."""
    match = re.search(r"tried to allocate (\d+) bytes", error)
    if match:
        return f"fails: cannot allocate {int(match.group(1)) / 1e9:.1f} GB more"
    return f"fails: {error[:80]}"


def _fmt_len(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def table(record: dict[str, dict[str, object]]) -> str:
    labels = [k for k in ("before", "after") if k in record]
    lines = [SECTION, ""]
    for label in labels:
        meta = record[label]
        lines.append(f"- **{label}**: revision `{meta['revision']}`, measured {meta['date']} on {meta['machine']} "
                     f"(one torch thread, address space limited to {meta['limit_gib']:g} GiB per run).")
    lines += [
        "",
        "Peak resident memory of a fresh process (imports included: the `idle` row) and wall time of the call,"
        " 44.1 kHz real music tiled to the length; the inputs of `model1`/`nmr` are float32 tensors built before"
        " the call (4 bytes per sample each: 10 min = 101 MiB, 60 min = 606 MiB), the CLI reads 16-bit WAV files."
        " *The call's part* is the peak minus the process's peak just before the call (imports, and the input"
        " tensors of `model1`/`nmr`). `result` is the size of what the call returns (for `model1` every"
        " per-frame tensor of the analysis, which grows with the audio by design).",
        "",
        "| entry point | audio | " + " | ".join(f"{label}: peak RSS (MiB) | {label}: the call's part (MiB) |"
                                               f" {label}: time (s)" for label in labels)
        + " | result (MiB) |",
        "|---|---|" + "---:|---:|---:|" * len(labels) + "---:|",
    ]
    keys: list[tuple[str, float]] = []
    for label in labels:
        for row in record[label]["rows"]:  # type: ignore[attr-defined]
            key = (row["entry"], row["audio_s"])
            if key not in keys:
                keys.append(key)
    keys.sort(key=lambda k: (ENTRIES.index(k[0]), k[1]))
    for entry, seconds in keys:
        cells = []
        result = ""
        for label in labels:
            found = [r for r in record[label]["rows"] if (r["entry"], r["audio_s"]) == (entry, seconds)]  # type: ignore[attr-defined]
            if not found:
                cells += ["", "", ""]
                continue
            r = found[0]
            growth = float(r["peak_mib"]) - float(r.get("before_call_mib") or 0.0)  # type: ignore[arg-type]
            if r["ok"]:
                cells += [f"{r['peak_mib']:.0f}", f"{growth:.0f}" if r.get("before_call_mib") else "",
                          f"{r['seconds']:.2f}"]
                if r.get("result_mb"):
                    result = f"{r['result_mb']:.0f}"
            else:
                cells += [_failure(str(r["error"])), "", ""]
        lines.append(f"| {entry} | {'-' if entry == 'idle' else _fmt_len(seconds)} | " + " | ".join(cells)
                     + f" | {result} |")
    return "\n".join(lines) + "\n"


def write_section(path: Path, title: str, text: str) -> None:
    """Replace the section that starts with ``title`` (up to the next ``## ``) in ``path``, or append it."""
    old = path.read_text() if path.exists() else ""
    start = old.find(title)
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text if old else text
    else:
        end = old.find("\n## ", start + len(title))
        new = old[:start] + (text.rstrip("\n") + "\n\n" + old[end + 1:] if end >= 0 else text)
    path.write_text(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label", choices=("before", "after"), default="after")
    parser.add_argument("--seconds", type=float, nargs="+", default=[10.0, 60.0, 600.0, 3600.0])
    parser.add_argument("--entries", nargs="+", choices=ENTRIES, default=list(ENTRIES))
    parser.add_argument("--limit-gib", type=float, default=6.0)
    parser.add_argument("--wav-dir", type=Path, default=Path("/tmp/percloss_bench_wavs"))
    parser.add_argument("--tree", type=Path, help="import percloss from this folder (a checkout of the revision"
                        " to compare with) instead of this one")
    parser.add_argument("--revision", help="the revision --tree holds (recorded; Default: HEAD)")
    parser.add_argument("--child", nargs=2, metavar=("ENTRY", "SECONDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], float(args.child[1]), args.wav_dir)
        return
    revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "percloss/masking.py", "percloss/metrics.py",
                            "percloss/cli.py"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    record = json.loads(RECORD.read_text()) if RECORD.exists() else {}
    rows = []
    for entry in args.entries:
        for seconds in ([args.seconds[0]] if entry == "idle" else args.seconds):
            if entry.startswith("cli"):
                write_wavs(seconds, args.wav_dir)
            row = measure(entry, seconds, args.wav_dir, args.limit_gib, args.tree)
            print(json.dumps(row), flush=True)
            rows.append(row)
    record[args.label] = {
        "revision": args.revision or revision + (" + working tree" if dirty and args.tree is None else ""),
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "limit_gib": args.limit_gib,
        "rows": rows,
    }
    RECORD.write_text(json.dumps(record, indent=1) + "\n")
    text = table(record)
    write_section(RESULTS / "masking.md", SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
