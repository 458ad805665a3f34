"""Codec speed: FLOPs per second of audio, throughput against the machine's matmul, and LAME.

In one run on one CPU thread (``--threads`` to change; ``--device cuda`` for a
GPU): the fp32 throughput of a large ``torch.mm``; the FLOPs of the encoder and
decoder per second of audio (counted from every convolution's shape); the
encode and decode wall time of a one- and a two-module codec on a music file
with all frames batched; LAME's encode and decode of the same audio. The
efficiency of the codec is its counted FLOP/s over the matmul's. Parameters
are random: speed does not depend on training. Results are written to
``benchmarks/results/codec.md``.

Usage: python benchmarks/bench_codec.py [--seconds 30] [--threads 1] [--device cpu]
"""

from __future__ import annotations

import argparse
import io
import platform
import sys
from pathlib import Path

import numpy as np
import torch
from _timing import timed
from torch import nn

from percloss import data
from percloss.codec import FRAME, CascadedCodec, CodecModule, frame

RESULTS = Path(__file__).resolve().parent / "results" / "codec.md"


def matmul_gflops(device: torch.device, n: int = 2048) -> float:
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    return 2 * n**3 / timed(lambda: a @ b, 10, device) / 1e9


def conv_flops(module: nn.Module, x: torch.Tensor, call: str) -> float:
    """Multiply-adds x 2 of every Conv1d/Linear run by ``getattr(module, call)(x)``."""
    total = 0.0

    def hook(layer: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(layer, nn.Conv1d):
            per_output = layer.in_channels // layer.groups * layer.kernel_size[0]
            total += 2.0 * output.numel() * per_output
        elif isinstance(layer, nn.Linear):
            total += 2.0 * output.numel() * layer.in_features

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, (nn.Conv1d, nn.Linear))]
    with torch.no_grad():
        getattr(module, call)(x)
    for h in handles:
        h.remove()
    return total


def codec_calls(codec: CascadedCodec, frames: torch.Tensor) -> tuple[object, object]:
    """encode: frames -> hard indices per module; decode: indices -> frames (all frames in one batch)."""
    stages = [s for s in codec.stages if isinstance(s, CodecModule)]
    quantizers = list(codec.quantizers)
    indices: list[torch.Tensor] = []

    @torch.no_grad()
    def encode() -> None:
        indices.clear()
        total = torch.zeros_like(frames)
        for m, (stage, q) in enumerate(zip(stages, quantizers, strict=True)):
            scale = 1.0 if m == 0 else codec.residual_scale
            idx = q.indices(stage.encode(scale * (frames - total)))  # type: ignore[operator]
            indices.append(idx)
            if m + 1 < len(stages):
                total = total + stage.decode(q.centroids[idx]) / scale  # type: ignore[index]

    @torch.no_grad()
    def decode() -> None:
        out = torch.zeros_like(frames)
        for m, (stage, q) in enumerate(zip(stages, quantizers, strict=True)):
            scale = 1.0 if m == 0 else codec.residual_scale
            out = out + stage.decode(q.centroids[indices[m]]) / scale  # type: ignore[index]

    encode()
    return encode, decode


def lame_times(x: np.ndarray, rate: int, kbps: int, repeats: int) -> tuple[float, float]:
    import lameenc
    import soundfile as sf

    pcm = np.clip(np.round(x * 32767), -32768, 32767).astype("<i2").tobytes()

    def encode() -> bytes:
        enc = lameenc.Encoder()
        enc.set_bit_rate(kbps)
        enc.set_in_sample_rate(rate)
        enc.set_channels(1)
        enc.set_quality(2)
        return bytes(enc.encode(pcm) + enc.flush())

    blob = encode()
    cpu = torch.device("cpu")
    return timed(encode, repeats, cpu, warmup=1), timed(lambda: sf.read(io.BytesIO(blob)), repeats, cpu, warmup=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rate", type=int, default=44100)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    songs = data.codec_corpus("heldout", args.rate)
    x = torch.cat(list(songs.values()))
    while len(x) < args.seconds * args.rate:
        x = torch.cat([x, x])
    x = x[: int(args.seconds * args.rate)]
    frames = frame(x).to(device)
    seconds = len(x) / args.rate
    peak = matmul_gflops(device)
    lines = [
        "# Codec speed", "",
        f"`python benchmarks/bench_codec.py --seconds {args.seconds:g} --threads {args.threads} "
        f"--device {args.device}` · {platform.processor() or platform.machine()} · torch {torch.__version__} · "
        f"python {sys.version.split()[0]} · {args.threads} thread(s) · {seconds:g} s of music at "
        f"{args.rate} Hz ({frames.shape[0]} frames, batched) · random parameters (speed does not depend on training)",
        "", f"Measured fp32 matmul (2048³) on this device: **{peak:.1f} GFLOP/s**.", "",
        "| coder | encode GFLOP per s audio | decode GFLOP per s audio | encode ms | decode ms | "
        "encode × real time | decode × real time | encode % of matmul | decode % of matmul |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n_modules in (1, 2):
        codec = CascadedCodec(n_modules).to(device).eval()
        one = frames[:1]
        enc_flops = sum(conv_flops(s, one, "encode") for s in codec.stages)
        dec_flops = sum(conv_flops(s, codec.stages[0].encode(one), "decode") for s in codec.stages)
        enc_flops += dec_flops * (n_modules - 1) / n_modules  # the encoder decodes all but the last module
        per_s = frames.shape[0] / seconds
        encode, decode = codec_calls(codec, frames)
        t_enc = timed(encode, args.repeats, device, warmup=1)  # type: ignore[arg-type]
        t_dec = timed(decode, args.repeats, device, warmup=1)  # type: ignore[arg-type]
        e, d = enc_flops * frames.shape[0], dec_flops * frames.shape[0]
        lines.append(
            f"| neural, {n_modules} module(s) | {enc_flops * per_s / 1e9:.2f} | {dec_flops * per_s / 1e9:.2f} | "
            f"{t_enc * 1e3:.0f} | {t_dec * 1e3:.0f} | {seconds / t_enc:.1f} | {seconds / t_dec:.1f} | "
            f"{100 * e / t_enc / 1e9 / peak:.0f} % | {100 * d / t_dec / 1e9 / peak:.0f} % |"
        )
    if device.type == "cpu":
        t_le, t_ld = lame_times(x.numpy().astype(np.float64), args.rate, 112, args.repeats)
        lines.append(f"| LAME 112 kbit/s (lameenc / libsndfile-mpg123) | – | – | {t_le * 1e3:.0f} | {t_ld * 1e3:.0f} | "
                     f"{seconds / t_le:.0f} | {seconds / t_ld:.0f} | – | – |")
    lines += ["", f"Frame = {FRAME} samples every 480; FLOPs counted as 2 × multiply-adds of every convolution.", ""]
    text = "\n".join(lines)
    print(text)
    if device.type == "cpu" and args.threads == 1:
        RESULTS.write_text(text)


if __name__ == "__main__":
    main()
