"""Global masking threshold of MPEG-1 model 1: batched torch vs per-frame numpy, and against TwoLAME.

Both run on the same 10 s of real 44.1 kHz music in one process, and are
checked equal (within 0.01 dB) before timing. With ``--baseline REV`` the
model as it was at git revision REV runs side by side too (loaded from
``git show REV:percloss/masking.py``). On a GPU (``--device cuda``) it also
times one hour of 44.1 kHz audio.

``--speed`` measures frames per second on one CPU thread (process CPU time,
best of several runs; the machine may be shared) on 60 s of the same music:
model 1 at the default analysis (512 / 384) and at Layer II's (1024 / 1152)
with the scalefactor SPL, today's and ``--baseline``'s side by side, against
TwoLAME's ``psycho_1`` when ``--twolame-src DIR`` names a TwoLAME source tree
(``git clone https://github.com/njh/twolame DIR``): the project's own driver
``benchmarks/twolame_psycho1_driver.c`` is compiled against ``DIR/libtwolame``
(LGPL; nothing of it is copied here). A per-step and per-operator profile of
today's model follows. Each part writes its own section of
benchmarks/results/masking.md.

    python benchmarks/bench_masking.py [--seconds 10] [--device cpu] [--baseline 1f50cfa]
    python benchmarks/bench_masking.py --speed --baseline 1bfc4ac [--twolame-src /tmp/twolame]
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import math
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from _timing import timed  # noqa: E402
from bench_masking_memory import write_section  # noqa: E402
from masking_reference import analyse as reference_analyse  # noqa: E402

import percloss.masking as masking  # noqa: E402
from percloss.data import load_clip  # noqa: E402
from percloss.masking import model_tables, psychoacoustic_model1  # noqa: E402
from percloss.modes import describe_device  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "masking.md"


def load_baseline(rev: str) -> ModuleType:
    """``percloss.masking`` as it was at git revision ``rev``, importable beside today's."""
    source = subprocess.run(["git", "show", f"{rev}:percloss/masking.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    path = ROOT / "_build" / "bench" / "_masking_baseline.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("percloss._masking_baseline", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--baseline", help="git revision whose percloss/masking.py runs side by side")
    parser.add_argument("--speed", action="store_true", help="frames/s on one thread, against TwoLAME, and a profile")
    parser.add_argument("--twolame-src", type=Path, help="a TwoLAME source tree (for --speed)")
    args = parser.parse_args()
    if args.speed:
        speed(args.baseline, args.twolame_src)
        return
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rate = 44100
    clip = torch.cat([load_clip("band_sectoid"), load_clip("piano_bach")])
    n = int(args.seconds * rate)
    x64 = clip.double()[:n]
    assert len(x64) == n, "not enough clip material"
    t = model_tables(rate)

    start = time.perf_counter()
    ref = reference_analyse(x64.numpy(), t, 384)["global_threshold_db"]
    t_ref = time.perf_counter() - start
    got = psychoacoustic_model1(x64.to(device), rate).global_threshold_db.cpu().numpy()
    max_diff = float(np.abs(got - ref).max())
    assert max_diff < 0.01, f"batched and reference differ by {max_diff} dB"

    x32 = x64.float().to(device)
    x64d = x64.to(device)
    t64 = timed(lambda: psychoacoustic_model1(x64d, rate), 5, device, warmup=1)
    t32 = timed(lambda: psychoacoustic_model1(x32, rate), 5, device, warmup=1)
    t32s = timed(lambda: psychoacoustic_model1(x32, rate, spl="spectrum"), 5, device, warmup=1)
    rows = [
        ("per-frame numpy reference (float64)", t_ref, 1.0),
        (f"batched torch, float64, {device.type}", t64, t_ref / t64),
        (f"batched torch, float32, {device.type}", t32, t_ref / t32),
        (f"batched torch, float32, {device.type}, SMR from the spectrum alone (spl='spectrum')", t32s, t_ref / t32s),
    ]
    baseline_line = ""
    if args.baseline:
        old = load_baseline(args.baseline)
        t_old = timed(lambda: old.psychoacoustic_model1(x32, rate), 5, device, warmup=1)
        t_old_s = timed(lambda: old.psychoacoustic_model1(x32, rate, spl="spectrum"), 5, device, warmup=1)
        rows.append((f"model at revision {args.baseline}, float32, {device.type}", t_old, t_ref / t_old))
        rows.append((f"model at revision {args.baseline}, float32, {device.type}, spl='spectrum'", t_old_s,
                     t_ref / t_old_s))
        baseline_line = (
            f"\nSide by side with revision `{args.baseline}` (float32, {device.type}): today's model takes"
            f" {t32 / t_old:.2f}x the baseline's time with Annex D's scalefactor term (polyphase filterbank)"
            f" and {t32s / t_old_s:.2f}x with the spectrum-only SMR.\n"
        )
    hour_line = ""
    if device.type == "cuda":
        hour = clip.float().repeat(int(3600 * rate / len(clip)) + 1)[: 3600 * rate].to(device)
        t_hour = timed(lambda: psychoacoustic_model1(hour, rate), 3, device, warmup=1)
        hour_line = f"\nOne hour of 44.1 kHz audio, float32 on {describe_device(device)}: {t_hour:.3f} s.\n"

    frames = ref.shape[0]
    lines = [
        "# Global masking threshold, MPEG-1 psychoacoustic model 1",
        "",
        f"Measured {datetime.date.today().isoformat()} with `python benchmarks/bench_masking.py"
        f" --seconds {args.seconds:g} --device {args.device}"
        + (f" --baseline {args.baseline}" if args.baseline else "")
        + f"`; {platform.processor() or platform.machine()},"
        f" {torch.get_num_threads()} torch threads, torch {torch.__version__}, device: {describe_device(device)}.",
        f"Input: {args.seconds:g} s of real 44.1 kHz music (band_sectoid, piano_bach), {frames} frames"
        " (512-point FFT, hop 384). Both implementations agree to"
        f" {max_diff:.2e} dB (float64). Median of 5 runs for torch; one run for the reference.",
        "",
        "| implementation | wall time (s) | speed-up vs reference |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {sec:.4f} | {ratio:.0f}x |" for name, sec, ratio in rows]
    text = "\n".join(lines) + "\n" + baseline_line + hour_line
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    write_section(RESULTS, lines[0], text)
    print(text)


SPEED = "## Speed on one thread, against TwoLAME"
PROFILE = "## Where the time goes"


def cpu_best(fn: Callable[[], object], repeats: int = 7) -> float:
    """Least process CPU time of ``fn`` over ``repeats`` runs after one warm-up, seconds (one thread)."""
    fn()
    best = math.inf
    for _ in range(repeats):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def build_twolame_driver(src: Path) -> Path:
    """Compile benchmarks/twolame_psycho1_driver.c against ``src``/libtwolame (gcc -O2); the binary's path."""
    lib = src / "libtwolame"
    if not (lib / "psycho_1.c").is_file():
        raise SystemExit(f"--twolame-src {src}: no libtwolame/psycho_1.c there (git clone https://github.com/njh/twolame)")
    build = ROOT / "_build" / "bench" / "twolame"
    build.mkdir(parents=True, exist_ok=True)
    (build / "config.h").write_text('#define HAVE_STDLIB_H 1\n#define HAVE_STRING_H 1\n#define PACKAGE_VERSION "bench"\n'
                                    '#define PACKAGE_BUGREPORT ""\n#define PACKAGE_URL ""\n')
    binary = build / "driver"
    sources = sorted(str(p) for p in lib.glob("*.c"))
    subprocess.run(["gcc", "-O2", "-w", f"-I{build}", f"-I{lib}", "-o", str(binary),
                    str(ROOT / "benchmarks" / "twolame_psycho1_driver.c"), *sources, "-lm"], check=True)
    return binary


def speed(baseline: str | None, twolame_src: Path | None, seconds: float = 60.0) -> None:
    torch.set_num_threads(1)
    rate = 44100
    clip = torch.cat([load_clip("band_sectoid"), load_clip("piano_bach")])
    n = int(seconds * rate)
    x32 = clip.repeat(int(n / len(clip)) + 1)[:n].contiguous()
    x64 = x32.double()
    old = load_baseline(baseline) if baseline else None
    configs = [  # name, n_fft, spl, signal
        ("float32, n_fft 512 / hop 384 (default), scalefactor SPL", 512, "scalefactor", x32),
        ("float32, n_fft 1024 / hop 1152, scalefactor SPL", 1024, "scalefactor", x32),
        ("float32, n_fft 1024 / hop 1152, spectrum SPL", 1024, "spectrum", x32),
        ("float64, n_fft 1024 / hop 1152, scalefactor SPL", 1024, "scalefactor", x64),
    ]
    twolame: dict[str, float] = {}
    twolame_note = ("TwoLAME not measured: pass `--twolame-src DIR` with a TwoLAME source tree"
                    " (`git clone https://github.com/njh/twolame DIR`).")
    if twolame_src is not None:
        driver = build_twolame_driver(twolame_src)
        raw = ROOT / "_build" / "bench" / "music.raw"
        np.clip(np.round(x32.numpy() * 32768), -32768, 32767).astype("<i2").tofile(raw)
        out = subprocess.run([str(driver), str(raw), str(rate), "7"], check=True, capture_output=True, text=True)
        record = json.loads(out.stdout)
        frames = record["frames"]
        twolame = {"psycho_1": frames / record["psycho1"], "filterbank": frames / record["with_filterbank"]}
        commit = subprocess.run(["git", "-C", str(twolame_src), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        configure = twolame_src / "configure.ac"
        version = re.search(r"AC_INIT\(\s*\[TwoLAME\],\s*\[([^\]]+)\]", configure.read_text()) if configure.is_file() else None
        which = ", ".join(([f"version {version.group(1)}"] if version else []) + ([f"commit {commit}"] if commit else []))
        twolame_note = (f"TwoLAME from `{twolame_src.name}`" + (f" ({which})" if which else "")
                        + ", compiled with `gcc -O2`, mono, 44.1 kHz, Layer II frames of 1152 samples (its FFT: 1024"
                        " points, float64); CPU time per call, best of 7.")
    rows = []
    if twolame:
        rows.append(("TwoLAME `psycho_1` (C)", twolame["psycho_1"], None))
        rows.append(("TwoLAME filterbank + scalefactors + `psycho_1` (C)", twolame["filterbank"], None))
    for name, n_fft, spl, x in configs:
        frames = 1 + (len(x) - n_fft) // masking.default_hop(n_fft)
        fps = frames / cpu_best(lambda x=x, n_fft=n_fft, spl=spl: psychoacoustic_model1(x, rate, n_fft, spl=spl))
        before = None
        if old is not None:
            before = frames / cpu_best(lambda x=x, n_fft=n_fft, spl=spl: old.psychoacoustic_model1(x, rate, n_fft, spl=spl))
        rows.append((f"percloss model 1, {name}", fps, before))
    ref = twolame.get("psycho_1")
    lines = [
        SPEED,
        "",
        f"Measured {datetime.date.today().isoformat()} with `python benchmarks/bench_masking.py --speed"
        + (f" --baseline {baseline}" if baseline else "") + (" --twolame-src DIR" if twolame_src else "")
        + f"`; {platform.processor() or platform.machine()}, one torch thread, torch {torch.__version__}."
        f" {seconds:g} s of real 44.1 kHz music (band_sectoid, piano_bach, tiled); frames per second of process CPU"
        " time, best of 7 runs, all in one run (the machine is shared: CPU time, and ratios, are what to compare)."
        f" {twolame_note}",
        "",
        "| implementation | frames / s | vs TwoLAME `psycho_1` |" + (f" at `{baseline}` (frames / s) | speed-up |"
                                                                     if old else ""),
        "|---|---:|---:|" + ("---:|---:|" if old else ""),
    ]
    for name, fps, before in rows:
        cells = [name, f"{fps:,.0f}".replace(",", " "), f"{fps / ref:.2f}" if ref else "-"]
        if old is not None:
            cells += ["" if before is None else f"{before:,.0f}".replace(",", " "),
                      "" if before is None else f"{fps / before:.2f}x"]
        lines.append("| " + " | ".join(cells) + " |")
    found = {name.split(", ", 1)[1] if name.startswith("percloss") else name: (fps, before)
             for name, fps, before in rows}
    default = found.get("float32, n_fft 512 / hop 384 (default), scalefactor SPL")
    layer2 = found.get("float32, n_fft 1024 / hop 1152, scalefactor SPL")
    notes = []
    if default and default[1]:
        notes.append(f"The default analysis runs at {default[0] / default[1]:.2f}x the baseline's rate.")
    if layer2 and ref:
        notes.append(f"Layer II's analysis with the scalefactor SPL runs at {layer2[0] / ref:.2f}x TwoLAME's"
                     f" `psycho_1` alone and {layer2[0] / twolame['filterbank']:.2f}x TwoLAME's filterbank +"
                     " scalefactors + `psycho_1`, the like-for-like comparison (the model computes its own"
                     " polyphase filterbank for the scalefactor term, in float64).")
    text = "\n".join(lines) + "\n" + ("\n" + " ".join(notes) + "\n" if notes else "")
    write_section(RESULTS, SPEED, text)
    print(text)
    profile_text = profile(x32, rate, old)
    write_section(RESULTS, PROFILE, profile_text)
    print(profile_text)


def profile(x: torch.Tensor, rate: int, old: ModuleType | None) -> str:
    """Per-step CPU time of today's model (and the baseline's) and the operators that take it."""
    lines = [PROFILE, "", "CPU time per step on the same 60 s, one thread (each step on all frames at once, so the"
             " sum differs a little from the chunked whole), and in the baseline where given.", ""]
    for n_fft in (512, 1024):
        hop = masking.default_hop(n_fft)
        frames = 1 + (len(x) - n_fft) // hop
        head = f"| step, n_fft {n_fft} / hop {hop}, float32 | today (us / frame) |"
        lines += [head + (" baseline (us / frame) |" if old else ""), "|---|---:|" + ("---:|" if old else "")]
        for name, fn in _steps(masking, x, rate, n_fft, hop):
            cells = [name, f"{1e6 * cpu_best(fn, 5) / frames:.1f}"]
            if old is not None:
                cells.append(f"{1e6 * cpu_best(dict(_steps(old, x, rate, n_fft, hop))[name], 5) / frames:.1f}")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    for n_fft in (512, 1024):
        psychoacoustic_model1(x, rate, n_fft)
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            psychoacoustic_model1(x, rate, n_fft)
        events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
        total = sum(e.self_cpu_time_total for e in events)
        lines += [f"Operators of today's model, n_fft {n_fft}, float32 (torch profiler, self CPU time):", "",
                  "| operator | calls | self CPU (ms) | share |", "|---|---:|---:|---:|"]
        for e in events[:10]:
            lines.append(f"| `{e.key}` | {e.count} | {e.self_cpu_time_total / 1e3:.1f} |"
                         f" {100 * e.self_cpu_time_total / total:.1f} % |")
        lines.append("")
    return "\n".join(lines)


def _steps(module: ModuleType, x: torch.Tensor, rate: int, n_fft: int,
           hop: int) -> list[tuple[str, Callable[[], object]]]:
    """Model 1's steps on all frames of ``x`` as zero-argument calls, with ``module``'s functions."""
    t = module.model_tables(rate, n_fft)
    level, _ = module.calibrated_spectrum_db(x, n_fft, hop, "iso")
    lv = level.reshape(-1, level.shape[-1])
    tonal, tonal_db = module.tonal_maskers(lv, t)
    nontonal = module.nontonal_maskers(lv, tonal, t)
    kept, nontonal_kept = module.decimate_maskers(tonal, tonal_db, nontonal, t)
    kept_db = torch.where(kept, tonal_db, float("-inf"))
    global_db = module.global_threshold(kept_db, nontonal_kept, t)
    scf = module.scalefactor_level_db(x, n_fft, hop)
    return [
        ("level spectrum (FFT)", lambda: module.calibrated_spectrum_db(x, n_fft, hop, "iso")),
        ("scalefactor term (polyphase filterbank)", lambda: module.scalefactor_level_db(x, n_fft, hop)),
        ("tonal maskers", lambda: module.tonal_maskers(lv, t)),
        ("non-tonal maskers", lambda: module.nontonal_maskers(lv, tonal, t)),
        ("decimation (0.5-Bark rule)", lambda: module.decimate_maskers(tonal, tonal_db, nontonal, t)),
        ("global threshold (spreading)", lambda: module.global_threshold(kept_db, nontonal_kept, t)),
        ("subband minimum and SMR", lambda: module.subband_smr(lv, global_db, t, scf.reshape(-1, 32))),
    ]


if __name__ == "__main__":
    main()
