"""Global masking threshold of MPEG-1 model 1: batched torch vs per-frame numpy.

Both run on the same 10 s of real 44.1 kHz music in one process, and are
checked equal (within 0.01 dB) before timing. On a GPU (``--device cuda``) it
also times one hour of 44.1 kHz audio. Writes benchmarks/results/masking.md.

    python benchmarks/bench_masking.py [--seconds 10] [--device cpu]
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import time
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
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
    t64 = timed(lambda: psychoacoustic_model1(x64.to(device), rate), 5, device, warmup=1)
    t32 = timed(lambda: psychoacoustic_model1(x32, rate), 5, device, warmup=1)
    rows = [
        ("per-frame numpy reference (float64)", t_ref, 1.0),
        (f"batched torch, float64, {device.type}", t64, t_ref / t64),
        (f"batched torch, float32, {device.type}", t32, t_ref / t32),
    ]
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
        f" --seconds {args.seconds:g} --device {args.device}`; {platform.processor() or platform.machine()},"
        f" {torch.get_num_threads()} torch threads, torch {torch.__version__}, device: {describe_device(device)}.",
        f"Input: {args.seconds:g} s of real 44.1 kHz music (band_sectoid, piano_bach), {frames} frames"
        " (512-point FFT, hop 384). Both implementations agree to"
        f" {max_diff:.2e} dB (float64). Median of 5 runs for torch; one run for the reference.",
        "",
        "| implementation | wall time (s) | speed-up vs reference |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {sec:.4f} | {ratio:.0f}x |" for name, sec, ratio in rows]
    text = "\n".join(lines) + "\n" + hour_line
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
