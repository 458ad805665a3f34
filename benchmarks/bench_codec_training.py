"""Codec training speed: seconds per step, audio seconds per second, and the share of matmul throughput.

In one run, on ``--threads`` CPU threads (Default: 2, the project's machines):
the throughput of a large ``torch.mm`` in float32 and bfloat16; then one
training step of :func:`percloss.codec_training.train_codec` (straight-through
quantisation, the model's loss, the rate term, Adam) for models A, C and D
with one and two modules, at the batch shape of the long runs
(:data:`percloss.codec_runs.RUN`: 8 segments x 8 frames), in float32 and under
bfloat16 autocast, and under bfloat16 for the zero-preserving architecture (no biases). FLOPs are counted from every convolution's shape (forward;
backward counted as twice the forward), and divided by the step time and by
the matmul throughput of the same precision. Parameters are random and the
input is real music: the step time does not depend on training. Side by side in
the same run, model D (one module) and model A (two modules) in bfloat16 with
the decoder's output convolution computed directly instead of by FFT (what
:class:`percloss.codec.OutputConv1d` bought), and model D (one module) with its
convolution stacks under ``torch.compile`` against eager mode. Results are written to
``benchmarks/results/codec_training.md`` (a section after the generated one is kept).

Usage: python benchmarks/bench_codec_training.py [--threads 2] [--repeats 5]
"""

from __future__ import annotations

import argparse
import datetime
import platform
from collections.abc import Callable
from pathlib import Path
from typing import cast

import torch
from _timing import timed
from bench_codec import conv_flops

from percloss import data
from percloss.codec import (
    FRAME,
    HOP,
    CascadedCodec,
    OutputConv1d,
    code_entropy_bits,
    frame,
    overlap_add,
)
from percloss.codec_runs import RUN
from percloss.codec_training import CodecLoss, sample_segments

RESULTS = Path(__file__).resolve().parent / "results" / "codec_training.md"
KEEP = "## Training throughput on a GPU"  # a hand-written section of RESULTS that a new run keeps


def matmul_gflops(dtype: torch.dtype, n: int = 2048) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    return 2 * n**3 / timed(lambda: a @ b, 10, torch.device("cpu")) / 1e9


def make_step(codec: CascadedCodec, loss_fn: CodecLoss, optimizer: torch.optim.Optimizer, x: torch.Tensor,
              precision: str) -> Callable[[], None]:
    """One training step on the batch ``x`` ``(batch, length)``, as :func:`train_codec` takes it."""
    batch, length = x.shape
    frames = frame(x).reshape(-1, FRAME)

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            recon, _, assignments = codec.run(frames, straight_through=True)
        y = overlap_add(recon.float().reshape(batch, -1, FRAME), length)
        loss = loss_fn(y, x) + sum(0.01 * code_entropy_bits(a.float()) for a in assignments)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def direct_output_convolution(codec: CascadedCodec) -> CascadedCodec:
    """``codec`` with its output convolutions computed directly in training too (the path before FFT)."""
    for m in codec.modules():
        if isinstance(m, OutputConv1d):
            m.forward = torch.nn.Conv1d.forward.__get__(m)  # type: ignore[method-assign]
    return codec


def compile_convolutions(codec: CascadedCodec) -> CascadedCodec:
    """``codec`` with each module's convolution stacks under ``torch.compile`` (inductor; the output
    convolution by FFT stays eager)."""
    for stage in codec.stages:
        for part in (stage.encoder, stage.decoder_in, stage.decoder_out[0]):  # type: ignore[index]
            cast(torch.nn.Module, part).compile()
    return codec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    peak = {"fp32": matmul_gflops(torch.float32), "bf16": matmul_gflops(torch.bfloat16)}
    rate = 32000
    signals = list(data.codec_corpus("train", rate).values())
    batch, segment = RUN.batch, RUN.segment_frames
    length = (segment - 1) * HOP + FRAME
    g = torch.Generator().manual_seed(0)
    x = sample_segments(signals, batch, length, g)
    audio_s = batch * segment * HOP / rate
    rows = []
    for kind, modules in (("A", 1), ("C", 1), ("D", 1), ("A", 2), ("D", 2)):
        frames = frame(x).reshape(-1, FRAME)
        for precision, zero_preserving in (("fp32", False), ("bf16", False), ("bf16", True)):
            torch.manual_seed(0)
            codec = CascadedCodec(modules, zero_preserving=zero_preserving).train()
            forward = sum(conv_flops(stage, frames, "encode") + conv_flops(
                stage, torch.zeros(frames.shape[0], FRAME // 2), "decode") for stage in codec.stages)
            flops = 3.0 * forward  # forward + backward (grad of inputs and of weights)
            optimizer = torch.optim.Adam(codec.parameters(), lr=1e-4)
            step = make_step(codec, CodecLoss(kind, rate), optimizer, x, precision)
            seconds = timed(step, args.repeats, torch.device("cpu"), warmup=2)
            label = precision + (", zero-preserving" if zero_preserving else "")
            rows.append((kind, modules, label, seconds, audio_s / seconds, flops / seconds / 1e9,
                         flops / seconds / 1e9 / peak[precision]))
            print(rows[-1], flush=True)
    fft_vs_direct = []
    for kind, modules in (("D", 1), ("A", 2)):
        times = {}
        for path in ("direct", "fft"):
            torch.manual_seed(0)
            codec = CascadedCodec(modules).train()
            if path == "direct":
                direct_output_convolution(codec)
            optimizer = torch.optim.Adam(codec.parameters(), lr=1e-4)
            step = make_step(codec, CodecLoss(kind, rate), optimizer, x, "bf16")
            times[path] = timed(step, args.repeats, torch.device("cpu"), warmup=2)
        fft_vs_direct.append((kind, modules, times["direct"], times["fft"]))
        print(fft_vs_direct[-1], flush=True)
    compiled: list[tuple[str, int, float, float | str]] = []
    for kind, modules in (("D", 1),):
        timing: dict[str, float | str] = {}
        for path in ("eager", "compiled"):
            torch.manual_seed(0)
            codec = CascadedCodec(modules).train()
            optimizer = torch.optim.Adam(codec.parameters(), lr=1e-4)
            step = make_step(compile_convolutions(codec) if path == "compiled" else codec, CodecLoss(kind, rate),
                             optimizer, x, "bf16")
            try:
                timing[path] = timed(step, args.repeats, torch.device("cpu"), warmup=3)
            except Exception as err:  # noqa: BLE001 - no C++ compiler, or inductor cannot lower a kernel
                timing[path] = f"failed: {type(err).__name__}"
        compiled.append((kind, modules, cast(float, timing["eager"]), timing["compiled"]))
        print(compiled[-1], flush=True)
    base = {(k, m): s for k, m, p, s, *_ in rows if p == "fp32"}
    lines = [
        "# Codec training speed",
        "",
        f"Measured {datetime.date.today().isoformat()} with `python benchmarks/bench_codec_training.py --threads "
        f"{args.threads} --repeats {args.repeats}`; {platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}. One step = {batch} segments x {segment} frames of real music at {rate} Hz "
        f"({audio_s:.2f} s of audio), the loss of the model, the rate term and Adam; median of {args.repeats} steps.",
        f"Matmul throughput in the same run: {peak['fp32']:.0f} GFLOP/s (float32), {peak['bf16']:.0f} GFLOP/s "
        "(bfloat16). Convolution FLOPs are counted from the layer shapes, backward as twice the forward.",
        "",
        "The rows *zero-preserving* train the architecture the broad-corpus models train (convolutions without "
        "biases, a fixed zero codeword: `percloss.codec.CascadedCodec`); the others the work's, with biases.",
        "",
        "| model | modules | precision | s / step | audio s / s | GFLOP/s (counted) | share of matmul | "
        "speed-up vs float32 |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for kind, modules, precision, seconds, aps, gflops, share in rows:
        lines.append(f"| {kind} | {modules} | {precision} | {seconds:.3f} | {aps:.2f} | {gflops:.0f} | "
                     f"{100 * share:.0f} % | {base[(kind, modules)] / seconds:.2f}x |")
    lines += ["", "The decoder's output convolution (50 channels -> 1, 55 taps) by FFT while training, against the "
              "direct convolution, same run, bfloat16:", "",
              "| model | modules | direct: s / step | FFT: s / step | speed-up |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {k} | {m} | {d:.3f} | {f:.3f} | {d / f:.2f}x |" for k, m, d, f in fft_vs_direct]
    lines += ["", "The convolution stacks under `torch.compile` (inductor, CPU) against eager mode, same run, bfloat16 "
              "(compilation before the timed steps):", "",
              "| model | modules | eager: s / step | compiled: s / step | speed-up |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {k} | {m} | {e:.3f} | " + (f"{c:.3f} | {e / c:.2f}x |" if isinstance(c, float) else f"{c} | — |")
              for k, m, e, c in compiled]
    text = "\n".join(lines) + "\n"
    kept = RESULTS.read_text().split(KEEP, 1) if RESULTS.is_file() else []
    RESULTS.write_text(text + ("\n" + KEEP + kept[1] if len(kept) == 2 else ""))
    print(text)


if __name__ == "__main__":
    main()
