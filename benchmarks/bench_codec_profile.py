"""Where a CPU training step of the codec goes, and what was tried to make it faster.

In one run, on ``--threads`` CPU threads (Default: 2), for model A and model D
(one module, bfloat16 autocast, the batch of the long runs: 8 segments x 8
frames of real music at 32 kHz, the zero-preserving architecture they train):

1. the matmul probe: the median time of a square ``torch.mm`` (2048 x 2048,
   after 3 warm-up calls, 10 timed) in float32 and bfloat16 on these threads;
   the "share of matmul" of every row below is its FLOP rate divided by it;
2. a per-op profile of 3 steps (``torch.profiler``): each operator's share of
   the step, and each convolution shape's forward and backward time and FLOP
   rate (FLOPs counted from the shapes; backward = 2 x forward);
3. candidates measured side by side: each convolution shape as an explicit
   im2col + bfloat16 GEMM (a custom autograd function) against ``F.conv1d``
   (oneDNN), forward and backward; the step with the model-1 target analysis
   taken out of the timed step (what caching it per corpus frame grid could
   save at most); two processes of one thread each against one process of
   two threads (steps per second of the machine).

Results go to ``benchmarks/results/codec_training_profile.md``.

Usage: python benchmarks/bench_codec_profile.py [--threads 2]
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing as mp
import platform
import time
from collections import defaultdict
from pathlib import Path

import torch
import torch.nn.functional as F
from _timing import timed
from bench_codec_training import matmul_gflops
from torch import nn
from torch.profiler import ProfilerActivity, profile

from percloss import data
from percloss.codec import FRAME, HOP, CascadedCodec, code_entropy_bits, frame, overlap_add
from percloss.codec_runs import RUN
from percloss.codec_training import CodecLoss, sample_segments

RESULTS = Path(__file__).resolve().parent / "results" / "codec_training_profile.md"
RATE = 32000


class Im2colConv1d(torch.autograd.Function):
    """``F.conv1d(x, w, b, padding, dilation=dilation)`` (stride 1) as one GEMM on the unfolded input:
    forward ``(O, C K) @ (C K, N T)``; backward the two GEMMs of its gradients and a shifted sum for the input's."""

    @staticmethod
    def forward(ctx, x, w, b, padding, dilation):  # type: ignore[no-untyped-def, override]
        n, c, t = x.shape
        o, _, k = w.shape
        cols = F.pad(x, (padding, padding)).unfold(2, dilation * (k - 1) + 1, 1)[..., ::dilation]
        cols = cols.permute(1, 3, 0, 2).reshape(c * k, n * t)
        y = w.reshape(o, c * k) @ cols
        if b is not None:
            y = y + b[:, None]
        ctx.save_for_backward(cols, w)
        ctx.sizes = (n, c, t, padding, dilation)
        return y.reshape(o, n, t).permute(1, 0, 2)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[no-untyped-def, override]
        cols, w = ctx.saved_tensors
        n, c, t, padding, dilation = ctx.sizes
        o, _, k = w.shape
        g = grad.permute(1, 0, 2).reshape(o, n * t)
        grad_w = (g @ cols.t()).reshape(o, c, k)
        grad_cols = (w.reshape(o, c * k).t() @ g).reshape(c, k, n, t)
        grad_x = torch.zeros(c, n, t + 2 * padding, dtype=grad.dtype)
        for tap in range(k):
            grad_x[:, :, tap * dilation : tap * dilation + t] += grad_cols[:, tap]
        grad_b = g.sum(1) if ctx.needs_input_grad[2] else None
        return grad_x.permute(1, 0, 2)[..., padding : padding + t], grad_w, grad_b, None, None


def batch() -> torch.Tensor:
    """The step's segments, from the codec corpus's real music (the step's time does not depend on the music)."""
    signals = list(data.codec_corpus("train", RATE).values())
    length = (RUN.segment_frames - 1) * HOP + FRAME
    return sample_segments(signals, RUN.batch, length, torch.Generator().manual_seed(0))


def make_step(kind: str, x: torch.Tensor, cached_target: bool = False):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    codec = CascadedCodec(1, zero_preserving=RUN.zero_preserving).train()
    loss_fn = CodecLoss(kind, RATE)
    optimizer = torch.optim.Adam(codec.parameters(), lr=1e-4)
    frames = frame(x).reshape(-1, FRAME)
    analysis = loss_fn.priority.analyse_target(x) if (cached_target and loss_fn.priority is not None) else None

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            recon, _, assignments = codec.run(frames, straight_through=True)
        y = overlap_add(recon.float().reshape(x.shape[0], -1, FRAME), x.shape[-1])
        if cached_target and analysis is not None:
            terms = [(y - x).pow(2).mean(), loss_fn.mel_weighted.forward_unchecked(y, x),  # type: ignore[union-attr]
                     loss_fn.priority.forward_unchecked(y, x, analysis)]  # type: ignore[union-attr]
            if loss_fn.noise is not None:
                terms.append(0.01 * loss_fn.noise.forward_unchecked(y, x, analysis))
            loss = sum(terms)
        else:
            loss = loss_fn(y, x)
        loss = loss + sum(0.01 * code_entropy_bits(a.float()) for a in assignments)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step, codec


def conv_shapes(codec: CascadedCodec, x: torch.Tensor) -> dict[tuple[int, ...], tuple[int, float]]:
    """Per convolution shape ``(C_in, C_out, T_in, K, stride)``: (calls per step, forward FLOPs per call); the
    dilations 1 and 2 of a block share a shape (the profiler's input shapes do not tell them apart)."""
    found: dict[tuple[int, ...], tuple[int, float]] = {}

    def hook(layer: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        assert isinstance(layer, nn.Conv1d)
        key = (layer.in_channels, layer.out_channels, inputs[0].shape[-1], layer.kernel_size[0], layer.stride[0])
        flops = 2.0 * output.numel() * layer.in_channels * layer.kernel_size[0]
        found[key] = (found.get(key, (0, 0.0))[0] + 1, flops)

    handles = [m.register_forward_hook(hook) for m in codec.modules() if isinstance(m, nn.Conv1d)]
    with torch.no_grad():
        codec.run(frame(x).reshape(-1, FRAME))
    for h in handles:
        h.remove()
    return found


def profile_step(step, repeats: int = 3) -> tuple[dict[str, float], dict[tuple[str, str], float]]:  # type: ignore[no-untyped-def]
    """ms per step by operator, and by (operator, input shapes) for the convolutions."""
    for _ in range(2):
        step()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(repeats):
            step()
    by_op: dict[str, float] = defaultdict(float)
    by_shape: dict[tuple[str, str], float] = defaultdict(float)
    for e in prof.key_averages(group_by_input_shape=True):
        by_op[e.key] += e.self_cpu_time_total / 1e3 / repeats
        if e.key in ("aten::mkldnn_convolution", "aten::convolution_backward"):
            by_shape[(e.key, str(e.input_shapes[:2]))] += e.self_cpu_time_total / 1e3 / repeats
    return dict(by_op), dict(by_shape)


def layer_times(c_in: int, c_out: int, t: int, k: int, d: int) -> tuple[float, float]:
    """Seconds for forward + backward of one layer, ``F.conv1d`` and :class:`Im2colConv1d`, bfloat16, 64 frames."""
    xin = torch.randn(64, c_in, t, dtype=torch.bfloat16, requires_grad=True)
    w = torch.randn(c_out, c_in, k, dtype=torch.bfloat16, requires_grad=True)
    g = torch.randn(64, c_out, t, dtype=torch.bfloat16)
    pad = d * (k // 2)
    direct = timed(lambda: F.conv1d(xin, w, None, padding=pad, dilation=d).backward(g), 10, torch.device("cpu"))
    gemm = timed(lambda: Im2colConv1d.apply(xin, w, None, pad, d).backward(g), 10, torch.device("cpu"))
    return direct, gemm


def _steps_per_second(args: tuple[str, int, float]) -> float:
    kind, threads, seconds = args
    torch.set_num_threads(threads)
    step, _ = make_step(kind, batch())
    for _ in range(2):
        step()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        n += 1
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--layout-seconds", type=float, default=40.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    peak = {"fp32": matmul_gflops(torch.float32), "bf16": matmul_gflops(torch.bfloat16)}
    print("matmul GFLOP/s", peak, flush=True)
    x = batch()
    lines = [
        "# Codec training step: profile and candidates",
        "",
        f"Measured {datetime.date.today()} with `python benchmarks/bench_codec_profile.py --threads {args.threads}`; "
        f"{platform.machine()}, {args.threads} torch threads, torch {torch.__version__}. One step = "
        f"{RUN.batch} segments x {RUN.segment_frames} frames of real music at {RATE} Hz, the model's loss, the rate "
        "term and Adam, bfloat16 autocast, one module, the zero-preserving architecture (no biases).",
        "",
        f"**The matmul probe**: a 2048 x 2048 `torch.mm` on the same {args.threads} threads, median of 10 calls after "
        f"3 warm-up calls: **{peak['fp32']:.0f} GFLOP/s float32, {peak['bf16']:.0f} GFLOP/s bfloat16**. A share of "
        "matmul below is a FLOP rate (counted from the layer shapes) divided by the bfloat16 figure. The share "
        "depends on the probe: a smaller or oddly shaped product runs slower (a 100 x 900 by 900 x 16384 product, "
        "the shape of the widest layer's im2col GEMM, reaches about 80 % of the square one on one thread).",
    ]
    for kind in ("A", "D"):
        step, codec = make_step(kind, x)
        seconds = timed(step, 5, torch.device("cpu"), warmup=2)
        by_op, by_shape = profile_step(step)
        total = sum(by_op.values())
        shapes = conv_shapes(codec, x)
        lines += ["", f"## Model {kind}: {seconds * 1e3:.0f} ms per step (median of 5; the profiled steps: "
                  f"{total:.0f} ms of operator time)", "", "| operator | ms / step | share |", "|---|---:|---:|"]
        for name, ms in sorted(by_op.items(), key=lambda kv: -kv[1])[:12]:
            lines.append(f"| `{name}` | {ms:.1f} | {100 * ms / total:.0f} % |")
        lines += ["", "Convolutions by shape (C_in -> C_out, input length T, kernel K, stride s; calls per step, the "
                  "blocks' dilations 1 and 2 together; the decoder's 50 -> 1 output convolution trains by FFT, "
                  "its time is in the FFT operators above):", "", "| shape | calls | forward ms | backward ms | forward GFLOP/s | backward GFLOP/s | "
                  "share of matmul (fwd / bwd) |", "|---|---:|---:|---:|---:|---:|---:|"]
        for (c_in, c_out, t, k, s), (calls, flops) in sorted(shapes.items(), key=lambda kv: -kv[1][1] * kv[1][0]):
            n = x.numel() // x.shape[-1] * RUN.segment_frames
            fwd_key = ("aten::mkldnn_convolution", str([[n, c_in, 1, t], [c_out, c_in, 1, k]]))
            bwd = [ms for (op, sh), ms in by_shape.items() if op == "aten::convolution_backward"
                   and sh == str([[n, c_out, t // s], [n, c_in, t]])]
            f_ms = by_shape.get(fwd_key, float("nan"))
            b_ms = bwd[0] if bwd else float("nan")
            if not bwd:
                continue  # the FFT output convolution
            f_rate, b_rate = calls * flops / f_ms / 1e6, 2 * calls * flops / b_ms / 1e6
            lines.append(f"| {c_in} -> {c_out}, T {t}, K {k}, s {s} | {calls} | {f_ms:.1f} | {b_ms:.1f} | "
                         f"{f_rate:.0f} | {b_rate:.0f} | {100 * f_rate / peak['bf16']:.0f} % / "
                         f"{100 * b_rate / peak['bf16']:.0f} % |")
        print("\n".join(lines[-40:]), flush=True)
        if kind == "D":
            cached, _ = make_step(kind, x, cached_target=True)
            s_cached = timed(cached, 5, torch.device("cpu"), warmup=2)
            lines += ["", f"**The target's model-1 analysis cached** (computed once, outside the timed step): "
                      f"{s_cached * 1e3:.0f} ms per step against {seconds * 1e3:.0f} ms "
                      f"({seconds / s_cached:.2f}x): the most that caching it per corpus frame grid could buy on this "
                      "CPU (a pass over the 6.3-h corpus costs more target analyses than the 7500 steps of one run "
                      "make, so it pays only across runs that share a sample rate)."]
    # im2col + GEMM against oneDNN, per distinct shape of the step
    lines += ["", "## Convolutions as explicit im2col + bfloat16 GEMMs, against `F.conv1d` (oneDNN)", "",
              "Forward and backward of one layer, bfloat16, batch of the step (64 frames); median of 10.", "",
              "| shape | F.conv1d ms | im2col GEMM ms | ratio |", "|---|---:|---:|---:|"]
    _, codec = make_step("A", x)
    for (c_in, c_out, t, k, s), _ in sorted(conv_shapes(codec, x).items()):
        if s != 1 or c_out == 1 and k == 55:
            continue
        d = 1
        direct, gemm = layer_times(c_in, c_out, t, k, d)
        lines.append(f"| {c_in} -> {c_out}, T {t}, K {k}, d {d} | {direct * 1e3:.1f} | {gemm * 1e3:.1f} | "
                     f"{direct / gemm:.2f}x |")
    print("\n".join(lines[-12:]), flush=True)
    # process layout
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        one = pool.map(_steps_per_second, [("A", args.threads, args.layout_seconds)])[0]
    with ctx.Pool(args.threads) as pool:
        many = pool.map(_steps_per_second, [("A", 1, args.layout_seconds)] * args.threads)
    lines += ["", "## One process on all threads, or one process per thread", "",
              f"Model A, {args.layout_seconds:g} s each: one process of {args.threads} threads makes {one:.2f} steps/s; "
              f"{args.threads} processes of one thread each make {sum(many):.2f} steps/s together "
              f"({sum(many) / one:.2f}x the machine's throughput; each of them {many[0]:.2f} steps/s)."]
    RESULTS.write_text("\n".join(lines) + "\n")
    print(lines[-1])


if __name__ == "__main__":
    main()
