"""Global masking threshold of MPEG-1 model 1: batched torch vs per-frame numpy.

Both run on the same 10 s of real 44.1 kHz music in one process, and are
checked equal (within 0.01 dB) before timing. With ``--baseline REV`` the
model as it was at git revision REV runs side by side too (loaded from
``git show REV:percloss/masking.py``). On a GPU (``--device cuda``) it also
times one hour of 44.1 kHz audio. Writes benchmarks/results/masking.md.

    python benchmarks/bench_masking.py [--seconds 10] [--device cpu] [--baseline 1f50cfa]
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import platform
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from _timing import timed  # noqa: E402
from masking_reference import analyse as reference_analyse  # noqa: E402

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
    args = parser.parse_args()
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
        rows.append((f"model at revision {args.baseline} (pairwise 0.5-Bark rule, no scalefactors), float32",
                     t_old, t_ref / t_old))
        baseline_line = (
            f"\nSide by side with revision `{args.baseline}` (float32, {device.type}): today's model with the"
            f" sequential 0.5-Bark scan and the spectrum-only SMR takes {t32s / t_old:.2f}x the baseline's time;"
            f" with Annex D's scalefactor term (polyphase filterbank) {t32 / t_old:.2f}x.\n"
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
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
