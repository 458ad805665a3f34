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

from percloss.experiments.prior import UpsamplingGenerator
from percloss.losses import MSELoss, MultiResolutionSTFTLoss, PerceptualLoss

RESULTS = Path(__file__).resolve().parent / "results" / "perceptual_loss.md"


def matmul_gflops(device: torch.device, n: int = 2048) -> float:
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    return 2 * n**3 / timed(lambda: a @ b, 10, device) / 1e9


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

    rows = {
        "PerceptualLoss, direct conv1d (2018 form)": timed(step(direct_loss), args.repeats, device),
        "PerceptualLoss, FFT convolution (library)": timed(step(fft_loss), args.repeats, device),
        "MultiResolutionSTFTLoss": timed(step(MultiResolutionSTFTLoss().to(device)), args.repeats, device),
        "MSELoss": timed(step(mse), args.repeats, device),
        "one generator step with MSE (fwd+bwd+Adam)": timed(generator_step, args.repeats, device),
    }
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
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    out = RESULTS if device.type == "cpu" else RESULTS.with_name(f"perceptual_loss_{device.type}.md")
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
