"""Codec speed on one CPU thread: the earlier code against the current one, next to LAME, with the profile.

In one run (``--threads 1`` by default), on ``--seconds`` of the held-out music at 32 kHz:

- the real-time factors (audio seconds / seconds) of ``write_bitstream`` (encode: framing, networks,
  quantiser, range coder) and ``read_bitstream`` (decode) for the shipped one-module model ``D64`` and the
  two-module model ``A79``, three ways, the repeats interleaved and the median taken: *before*, the codec as
  it was at ``--before`` (its ``percloss/codec.py`` is taken from git into a temporary folder and loaded beside
  the package, whose helpers it imports); *after*, the current code in float32 (the default); and the opt-in
  bfloat16 precision. Each is given in wall time and in the thread's CPU time (on a loaded machine the wall
  time also counts the waits for a core). Before and after must write byte-identical files and decode
  identical samples: the benchmark stops if not;
- LAME (``lameenc``, quality 2, 64 kbit/s) encoding and libsndfile (mpg123) decoding the same audio;
- the profile: where the time of one encode and one decode goes, per convolution shape, in the range coder
  and in the rest (residual adds, layout changes, quantiser, overlap-add, Python), timed call by call;
- the fp32 matmul throughput of the machine and the network's FLOPs per second of audio (2 x multiply-adds of
  every convolution), hence the share of the matmul rate the convolutions reach.

Results (with the machine, torch, threads, date and this command) go to ``benchmarks/results/codec.md`` when
run on one thread.

Usage: python benchmarks/bench_codec.py [--seconds 10] [--repeats 5] [--threads 1] [--before 9ebdfd7]
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import io
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import nn

from percloss import codec as current
from percloss import data
from percloss.shipped import models_dir, shipped_models

RESULTS = Path(__file__).resolve().parent / "results" / "codec.md"
ROOT = Path(__file__).resolve().parent.parent
RATE = 32000
MODELS = ("D64", "A79")  # one module, two modules; both 32 kHz


def load_before(commit: str, folder: Path) -> ModuleType:
    """``percloss/codec.py`` at ``commit``, loaded as ``percloss._codec_before`` (its relative imports: this package)."""
    source = subprocess.run(["git", "show", f"{commit}:percloss/codec.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    path = folder / "codec_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("percloss._codec_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def timed_both(fn: Callable[[], object]) -> tuple[float, float, object]:
    """(wall seconds, this thread's CPU seconds, result) of one call."""
    wall, cpu = time.perf_counter(), time.thread_time()
    out = fn()
    return time.perf_counter() - wall, time.thread_time() - cpu, out


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = min(timed_both(lambda: a @ b)[1] for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def conv_flops(module: nn.Module, x: torch.Tensor, call: str) -> float:
    """Multiply-adds x 2 of every Conv1d run by ``getattr(module, call)(x)``."""
    total = 0.0

    def hook(layer: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        assert isinstance(layer, nn.Conv1d)
        total += 2.0 * output.numel() * layer.in_channels // layer.groups * layer.kernel_size[0]

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, nn.Conv1d)]
    with torch.no_grad():
        getattr(module, call)(x)
    for h in handles:
        h.remove()
    return total


def lame_times(x: np.ndarray, rate: int, kbps: int) -> tuple[float, float, float, float]:
    """(encode wall, encode CPU, decode wall, decode CPU) seconds of LAME and libsndfile's mpg123."""
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
    e_wall, e_cpu, _ = timed_both(encode)
    d_wall, d_cpu, _ = timed_both(lambda: sf.read(io.BytesIO(blob)))
    return e_wall, e_cpu, d_wall, d_cpu


def _layer_key(layer: nn.Conv1d, length: int, leaky: bool) -> str:
    return (f"conv {layer.in_channels}→{layer.out_channels} k{layer.kernel_size[0]} len {length // layer.stride[0]}"
            + (" stride 2" if layer.stride[0] == 2 else "") + (" dil 2" if layer.dilation[0] == 2 else "")
            + (" + leaky" if leaky else ""))


def profile(module: ModuleType, model: str, x: torch.Tensor, precision: str) -> dict[str, dict[str, float]]:
    """CPU seconds of one encode and one decode by convolution shape, range coder and the rest, each convolution
    timed call by call: the earlier code's ``nn.Conv1d`` calls (oneDNN with the layout reorders around each),
    the current code's direct oneDNN calls (and, in bfloat16, its one-channel layers as matrix products)."""
    codec, counts, _ = module.load_codec(models_dir() / shipped_models()[model]["file"])
    spent: dict[str, float] = {}

    def timing(key: str, fn: Callable[[], torch.Tensor]) -> torch.Tensor:
        start = time.thread_time()
        out = fn()
        spent[key] = spent.get(key, 0.0) + time.thread_time() - start
        return out

    patches: list[tuple[Any, str, Any]] = []
    if module is current:
        conv, one = current._Inference._conv, current._Inference._to_one_channel
        patches.append((current._Inference, "_conv", lambda self, layer, h, leaky=False: timing(
            _layer_key(layer, h.shape[-1], leaky), lambda: conv(self, layer, h, leaky))))
        patches.append((current._Inference, "_to_one_channel", lambda self, layer, h: timing(
            _layer_key(layer, h.shape[-1], False) + " as a matmul", lambda: one(self, layer, h))))
    else:
        forward = nn.Conv1d._conv_forward
        patches.append((nn.Conv1d, "_conv_forward", lambda self, h, w, b: timing(
            _layer_key(self, h.shape[-1], False), lambda: forward(self, h, w, b))))
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    kw = {"precision": precision} if module is current else {}
    result: dict[str, dict[str, float]] = {}
    blob = module.write_bitstream(codec, counts, x, RATE, **kw)
    for owner, name, fn in patches:
        setattr(owner, name, fn)
    try:
        for what in ("encode", "decode"):
            spent.clear()
            start = time.thread_time()
            if what == "encode":
                module.write_bitstream(codec, counts, x, RATE, **kw)
            else:
                module.read_bitstream(codec, counts, blob, **kw)
            total = time.thread_time() - start
            row = dict(spent)
            row["the rest: range coder, residual adds, activations, layout changes, quantiser, overlap-add, Python"] = (
                total - sum(spent.values()))
            row["total"] = total
            result[what] = row
    finally:
        for owner, name, fn in originals:
            setattr(owner, name, fn)
    # the range coder alone (constriction, with the header and checks), from the code's own split
    if module is current:
        for what in ("encode", "decode"):
            timings: dict[str, float] = {}
            if what == "encode":
                module.write_bitstream(codec, counts, x, RATE, timings=timings, **kw)
            else:
                module.read_bitstream(codec, counts, blob, timings=timings, **kw)
            result[what]["of which the range coder (wall)"] = timings["range coder"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--before", default="9ebdfd7", help="the commit whose codec.py is 'before' (Default: 9ebdfd7)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    songs = data.codec_corpus("heldout", RATE)
    x = torch.cat(list(songs.values()))[: int(args.seconds * RATE)].float()
    seconds = len(x) / RATE
    bf16 = torch.backends.mkldnn.is_available() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    with tempfile.TemporaryDirectory() as tmp:
        before = load_before(args.before, Path(tmp))
        peak = matmul_gflops()
        rows: list[str] = []
        profiles: dict[str, dict[str, dict[str, float]]] = {}
        for model in MODELS:
            path = models_dir() / shipped_models()[model]["file"]
            old_codec, old_counts, _ = before.load_codec(path)
            codec, counts, _ = current.load_codec(path)
            ways: dict[str, tuple[Any, Any, Any, str]] = {
                "before (float32)": (before, old_codec, old_counts, "float32"),
                "after, float32 (default)": (current, codec, counts, "float32"),
            }
            if bf16:
                ways["after, bfloat16 (opt-in)"] = (current, codec, counts, "bfloat16")
            times: dict[str, list[tuple[float, float, float, float]]] = {k: [] for k in ways}
            outputs: dict[str, tuple[bytes, torch.Tensor]] = {}
            for _ in range(args.repeats):
                for name, (module, c, n, precision) in ways.items():
                    kw = {} if module is before else {"precision": precision}
                    e_wall, e_cpu, blob = timed_both(partial(module.write_bitstream, c, n, x, RATE, **kw))
                    d_wall, d_cpu, out = timed_both(partial(module.read_bitstream, c, n, blob, **kw))
                    times[name].append((e_wall, e_cpu, d_wall, d_cpu))
                    outputs[name] = (blob, out[0])  # type: ignore[index]
            old_blob, old_y = outputs["before (float32)"]
            new_blob, new_y = outputs["after, float32 (default)"]
            if old_blob != new_blob or not torch.equal(old_y, new_y):
                raise SystemExit(f"{model}: the float32 bitstream or decoded samples changed")
            one = current.frame(x)[:2]
            stages = list(codec.stages)
            enc_flops = sum(conv_flops(s, one, "encode") for s in stages) / 2
            dec_flops = sum(conv_flops(s, torch.tanh(one[:, ::2]), "decode") for s in stages) / 2
            enc_flops += dec_flops * (len(stages) - 1) / len(stages)  # the encoder decodes all but the last module
            per_s = current._n_frames(len(x)) / seconds
            for name, runs in times.items():
                e_wall, e_cpu, d_wall, d_cpu = (statistics.median(r[i] for r in runs) for i in range(4))
                e_best, d_best = min(r[1] for r in runs), min(r[3] for r in runs)
                identical = "yes (bytes and samples)" if "float32" in name else "no (opt-in)"
                effic = (f"{100 * enc_flops * per_s * seconds / e_cpu / 1e9 / peak:.0f} % / "
                         f"{100 * dec_flops * per_s * seconds / d_cpu / 1e9 / peak:.0f} %")
                rows.append(f"| {model}, {len(stages)} module(s) | {name} | **{seconds / e_cpu:.2f}** | "
                            f"**{seconds / d_cpu:.2f}** | {seconds / e_best:.2f} | {seconds / d_best:.2f} | "
                            f"{seconds / e_wall:.2f} | {seconds / d_wall:.2f} | {effic} | {identical} |")
            profiles[f"{model} before"] = profile(before, model, x, "float32")
            profiles[f"{model} after, float32"] = profile(current, model, x, "float32")
            if bf16:
                profiles[f"{model} after, bfloat16"] = profile(current, model, x, "bfloat16")
            rows.append(f"| | FLOPs: encode {enc_flops * per_s / 1e9:.2f}, decode {dec_flops * per_s / 1e9:.2f} "
                        "GFLOP per second of audio | | | | | | | | |")
        le_wall, le_cpu, ld_wall, ld_cpu = lame_times(x.numpy().astype(np.float64), RATE, 64)
        rows.append(f"| LAME 64 kbit/s (lameenc q2 / libsndfile mpg123) | – | **{seconds / le_cpu:.0f}** | "
                    f"**{seconds / ld_cpu:.0f}** | – | – | {seconds / le_wall:.0f} | {seconds / ld_wall:.0f} | – | – |")
    command = (f"python benchmarks/bench_codec.py --seconds {args.seconds:g} --repeats {args.repeats} "
               f"--threads {args.threads} --before {args.before}")
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    lines = [
        "# Codec speed", "",
        f"`{command}` · {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC · {cpu} · "
        f"torch {torch.__version__} (oneDNN) · python {sys.version.split()[0]} · {args.threads} thread(s) · "
        f"{seconds:g} s of held-out music at {RATE} Hz · {args.repeats} interleaved repeats · "
        f"fp32 matmul (2048³) on this machine: {peak:.1f} GFLOP/s",
        "",
        "Real-time factor = audio seconds / seconds, of `write_bitstream` (encode) and `read_bitstream` (decode), "
        "framing, networks, quantiser and range coder included. **CPU** = the thread's CPU time, the figure to "
        "compare (the machine was shared: the wall time also counts waits for a core, and a core's twin thread "
        "busy with other work slows even the CPU time, hence the median and the best of the repeats). "
        "LAME: one run each.",
        "",
        "| model | code | encode × real time (CPU, median) | decode × real time (CPU, median) | encode × (CPU, best) | "
        "decode × (CPU, best) | encode × (wall) | decode × (wall) | convolutions' FLOP/s as % of fp32 matmul, "
        "enc / dec (CPU median) | bitstream and samples as before |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
        *rows, "",
        "## Profile (CPU seconds of one encode and one decode of the same audio, one thread)", "",
    ]
    for name, prof in profiles.items():
        lines += [f"### {name}", "", "| where | encode s | % | decode s | % |", "|---|---:|---:|---:|---:|"]
        keys = [k for k in dict.fromkeys([*prof["encode"], *prof["decode"]]) if k != "total"]
        keys.sort(key=lambda k: -(prof["encode"].get(k, 0.0) + prof["decode"].get(k, 0.0)))
        keys = [k for k in keys if not k.startswith("of which")]
        for k in [*keys, "total", *(["of which the range coder (wall)"] if "of which the range coder (wall)" in
                                     prof["encode"] else [])]:
            e, d = prof["encode"].get(k, 0.0), prof["decode"].get(k, 0.0)
            lines.append(f"| {k} | {e:.3f} | {100 * e / prof['encode']['total']:.0f} | {d:.3f} | "
                         f"{100 * d / prof['decode']['total']:.0f} |")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    if args.threads == 1:
        notes = RESULTS.read_text().split("<!-- notes -->", 1)[1] if RESULTS.exists() and \
            "<!-- notes -->" in RESULTS.read_text() else "\n"
        RESULTS.write_text(text + "\n<!-- notes -->" + notes)


if __name__ == "__main__":
    main()
