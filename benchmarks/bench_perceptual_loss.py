"""Speed of the chapter-1 losses, measured side by side in one run.

Forward + backward of PerceptualLoss by FFT convolution and by direct conv1d
(the 2018 form), checked equal; the multi-resolution STFT loss; MSE; one
generator step with MSE; and the machine's fp32 matmul throughput. Writes
benchmarks/results/perceptual_loss.md.

    python benchmarks/bench_perceptual_loss.py [--repeats 20] [--device cpu]
"""

from __future__ import annotations

import argparse
import datetime
import platform
from collections.abc import Callable
from pathlib import Path

import torch
from _timing import timed

from percloss._checks import check_signal
from percloss.experiments.prior import UpsamplingGenerator
from percloss.losses import MSELoss, MultiResolutionSTFTLoss, PerceptualLoss

RESULTS = Path(__file__).resolve().parent / "results" / "perceptual_loss.md"


def matmul_gflops(device: torch.device, n: int = 2048) -> float:
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    return 2 * n**3 / timed(lambda: a @ b, 10, device) / 1e9


MEMORY_PROBE = """
import resource, sys, torch
from percloss.losses import PerceptualLoss
device = torch.device(sys.argv[2])
loss = PerceptualLoss(44100).to(device)
n = int(float(sys.argv[1]) * 44100)
x = torch.randn(1, n, device=device, requires_grad=True)
t = torch.randn(1, n, device=device)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if device.type == "cuda":
    torch.cuda.reset_peak_memory_stats(device)
loss(x, t).backward()
if device.type == "cuda":
    print(torch.cuda.max_memory_allocated(device) / 2**20)
else:
    print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024)
"""


def peak_memory_per_second(device: torch.device, lengths: tuple[float, ...] = (1.0, 2.0, 3.0)) -> dict:
    """Peak memory (MB) of one forward + backward by signal length, each in a fresh process, and the slope."""
    import subprocess
    import sys

    rows = []
    for seconds in lengths:
        out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(seconds), device.type], check=True,
                             capture_output=True, text=True).stdout
        rows.append((seconds, float(out.strip().splitlines()[-1])))
    # the last two lengths: the shortest step can stay under the peak the set-up itself reached (then 0 MB)
    slope = (rows[-1][1] - rows[-2][1]) / (rows[-1][0] - rows[-2][0])
    what = ("torch.cuda.max_memory_allocated" if device.type == "cuda"
            else "growth of the process's peak RSS during the step")
    return {"rows": rows, "slope": slope, "what": what}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    sr, n, bands, taps = 11025, 8192, 512, 512
    target = torch.randn(1, n, device=device)
    x = torch.randn(1, n, device=device, requires_grad=True)

    def step(loss: torch.nn.Module) -> Callable[[], None]:
        def run() -> None:
            x.grad = None
            loss(x, target).backward()
        return run

    fft_loss = PerceptualLoss(sr, bands, taps, a_weighting=True).to(device)
    direct_loss = PerceptualLoss(sr, bands, taps, a_weighting=True).to(device)
    fft_loss.filterbank.method = "fft"
    direct_loss.filterbank.method = "direct"
    with torch.no_grad():
        fa, fb = fft_loss.features(x), direct_loss.features(x)
    rel = float((fa - fb).abs().max() / fb.abs().max())

    gen = UpsamplingGenerator().to(device)
    noise = torch.randn(1, 128, device=device)
    opt = torch.optim.Adam(gen.parameters(), lr=1e-4, betas=(0.0, 0.9))
    mse = MSELoss()

    def generator_step() -> None:
        opt.zero_grad()
        mse(gen(noise), target).backward()
        opt.step()

    def unchecked_step() -> None:
        x.grad = None
        fft_loss.forward_unchecked(x, target).backward()

    def three_checks_step() -> None:  # the earlier form: input, target and the features each checked per call
        x.grad = None
        for t in (x, target, x):
            check_signal(t.detach(), "x")
        fft_loss.forward_unchecked(x, target).backward()

    rows = {
        "PerceptualLoss, direct conv1d (2018 form)": timed(step(direct_loss), args.repeats, device),
        "PerceptualLoss, FFT convolution (library)": timed(step(fft_loss), args.repeats, device),
        "MultiResolutionSTFTLoss": timed(step(MultiResolutionSTFTLoss().to(device)), args.repeats, device),
        "MSELoss": timed(step(mse), args.repeats, device),
        "one generator step with MSE (fwd+bwd+Adam)": timed(generator_step, args.repeats, device),
    }
    checks = {
        "three checks per call (input, target, features; before)": timed(three_checks_step, args.repeats, device),
        "one check of the pair at the entry (now)": timed(step(fft_loss), args.repeats, device),
        "no check (forward_unchecked)": timed(unchecked_step, args.repeats, device),
    }
    memory = peak_memory_per_second(device)
    gflops = matmul_gflops(device)
    # three filterbank passes per step (input and target forward, input gradient),
    # counted as the direct form does them: a multiply-add (2 FLOPs) per tap per band per sample
    direct_flops = 3 * 2 * bands * taps * n
    base = rows["PerceptualLoss, direct conv1d (2018 form)"]
    lines = [
        "# Chapter-1 loss speed (forward + backward, one 8192-sample signal at 11025 Hz)",
        "",
        f"Measured {datetime.date.today()} on {platform.machine()}, device `{device}`"
        + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else f", {torch.get_num_threads()} threads")
        + f", torch {torch.__version__}; median of {args.repeats} runs.",
        f"Reproduce: `python benchmarks/bench_perceptual_loss.py --device {device.type}`.",
        "",
        f"Filterbank: {bands} Bark bands x {taps} taps. FFT and direct feature maps agree to {rel:.1e} (max abs difference / max).",
        "Direct-form FLOPs per step: 3 filterbank passes x 2 x bands x taps x samples.",
        f"fp32 matmul throughput (2048x2048): {gflops:.0f} GFLOP/s.",
        "",
        "| operation | time (ms) | speed-up vs direct | direct-form GFLOP/s | % of matmul |",
        "|---|---|---|---|---|",
    ]
    for name, seconds in rows.items():
        if name.startswith("PerceptualLoss"):
            eff = direct_flops / seconds / 1e9
            extra = f"{eff:.0f} | {100 * eff / gflops:.0f}%"
        else:
            extra = "— | —"
        lines.append(f"| {name} | {1000 * seconds:.2f} | {base / seconds:.2f}x | {extra} |")
    lines += ["", "## Validation at the edge", "",
              "PerceptualLoss (FFT), forward + backward, the same signal; the checks are `isfinite().all()` and "
              "shape checks, each a host synchronisation on a GPU.", "",
              "| input checks | time (ms) | vs no check |", "|---|---|---|"]
    note = ("On a CPU the checks cost less than the run-to-run spread of the step (differences of either sign); "
            "on a GPU each check is a host synchronisation.")
    free = checks["no check (forward_unchecked)"]
    for name, seconds in checks.items():
        lines.append(f"| {name} | {1000 * seconds:.3f} | {1000 * (seconds - free):+.3f} ms |")
    lines += ["", note]
    lines += ["", "## Memory", "",
              f"Peak memory of one forward + backward of `PerceptualLoss(44100)` (512 bands x 512 taps, FFT) "
              f"on {device.type}, by length (a fresh process per length; {memory['what']}):", "",
              "| seconds of 44.1 kHz audio | peak (MB) |", "|---|---|"]
    for seconds, mb in memory["rows"]:
        lines.append(f"| {seconds:g} | {mb:.0f} |")
    lines += ["", f"Slope between the two longest: **{memory['slope']:.0f} MB per second of 44.1 kHz audio** (the features of input and "
              "target, 512 bands each, and their autograd buffers); chunk long signals, or batch short ones, "
              "to stay within memory."]
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    out = RESULTS if device.type == "cpu" else RESULTS.with_name(f"perceptual_loss_{device.type}.md")
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
