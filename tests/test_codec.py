"""Codec building blocks: exact framing, parameter count, quantiser modes, cascade, rate estimate."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from percloss import data
from percloss.codec import (
    FRAME,
    HOP,
    CascadedCodec,
    CodecModule,
    SoftmaxQuantizer,
    code_entropy_bits,
    count_parameters,
    frame,
    overlap_add,
)


@pytest.mark.parametrize("length", [512, 513, 992, 44100])
def test_framing_alone_reconstructs_exactly(length: int) -> None:
    x = data.load_clip("piano_bach", 44100).double()[:length]
    f = frame(x)
    assert f.shape[-1] == FRAME
    assert torch.equal(f[1, :32], f[0, HOP:]) if f.shape[0] > 1 else True
    torch.testing.assert_close(overlap_add(f, length), x, rtol=0, atol=1e-15)


def test_framing_is_batched() -> None:
    x = torch.randn(2, 3, 2000, dtype=torch.float64)
    f = frame(x)
    assert f.shape[:2] == (2, 3)
    torch.testing.assert_close(overlap_add(f, 2000), x, rtol=0, atol=1e-15)
    torch.testing.assert_close(frame(x[1, 2]), f[1, 2])


def test_parameter_count_matches_the_work() -> None:
    n = count_parameters(CodecModule())
    print(f"one codec module: {n} parameters")
    assert n == 448_832
    assert abs(n - 450_000) / 450_000 < 0.02  # "about 0.45 M per module"
    assert count_parameters(CascadedCodec(2)) == 2 * n + 2 * 33  # + centroids and sharpness
    # without biases: one per output channel of its 30 convolutions fewer (100 x 10 + 20 x 12 + 50 x 2 + 10 x 4 + 1 x 2)
    assert count_parameters(CodecModule(bias=False)) == n - 1_382 == 447_450


def test_module_shapes_and_code_range() -> None:
    m = CodecModule()
    codes = m.encode(torch.randn(4, FRAME))
    assert codes.shape == (4, FRAME // 2)
    assert codes.abs().max() < 1
    assert m.decode(codes).shape == (4, FRAME)
    with pytest.raises(ValueError, match="frames"):
        m.encode(torch.randn(4, 480))


def test_hard_quantiser_emits_only_centroids_and_soft_is_differentiable() -> None:
    q = SoftmaxQuantizer(32)
    c = torch.rand(1000) * 2 - 1
    hard = q(c, hard=True)
    assert set(hard.tolist()) <= set(q.centroids.tolist())
    nearest = q.centroids[(c[:, None] - q.centroids).abs().argmin(-1)]
    assert torch.equal(hard, nearest)
    q.eval()
    assert torch.equal(q(c), hard)
    q.train()
    c.requires_grad_(True)
    soft = q(c)
    soft.sum().backward()
    assert c.grad is not None and c.grad.abs().sum() > 0
    q.log_alpha.data.fill_(12.0)  # very sharp: soft approaches hard (except exactly between centroids)
    close = (q(c.detach()) - hard).abs() < 1e-3
    assert close.double().mean() > 0.97


def test_straight_through_sends_hard_values_forward_and_soft_gradients_back() -> None:
    q = SoftmaxQuantizer(32).train()
    c = (torch.rand(500, dtype=torch.float64) * 2 - 1).requires_grad_(True)
    q = q.double()
    st = q(c, straight_through=True)
    assert torch.equal(st.detach(), q(c.detach(), hard=True))
    (st * torch.arange(500, dtype=torch.float64)).sum().backward()
    grad_st = c.grad.clone()  # type: ignore[union-attr]
    c.grad = None
    (q(c) * torch.arange(500, dtype=torch.float64)).sum().backward()
    torch.testing.assert_close(grad_st, c.grad)


def test_entropy_estimate_bounds() -> None:
    uniform = torch.full((100, 32), 1 / 32)
    assert float(code_entropy_bits(uniform)) == pytest.approx(5.0)
    one_hot = torch.zeros(100, 32)
    one_hot[:, 3] = 1
    assert float(code_entropy_bits(one_hot)) == pytest.approx(0.0, abs=1e-9)


def test_second_module_codes_the_scaled_residual() -> None:
    torch.manual_seed(0)
    codec = CascadedCodec(2, residual_scale=5.0).eval()
    frames = torch.randn(3, FRAME) * 0.1
    out, codes = codec(frames)
    first = codec.stages[0].decode(codes[0])
    second_input = codec.stages[1].encode(5.0 * (frames - first))
    assert torch.equal(codes[1], codec.quantizers[1](second_input))
    torch.testing.assert_close(out, first + codec.stages[1].decode(codes[1]) / 5.0)


@pytest.fixture(scope="module")
def small_codec() -> tuple[CascadedCodec, list[torch.Tensor]]:
    torch.manual_seed(1)
    codec = CascadedCodec(2).eval()
    counts = [torch.arange(32, dtype=torch.float64) % 7 + 1 for _ in range(2)]
    return codec, counts


def test_bitstream_round_trip_is_bit_exact(small_codec: tuple[CascadedCodec, list[torch.Tensor]]) -> None:
    from percloss.codec import decode_indices, encode_indices, read_bitstream, write_bitstream

    codec, counts = small_codec
    x = data.load_clip("piano_bach", 44100)[:4000]
    blob = write_bitstream(codec, counts, x, 44100)
    y, rate = read_bitstream(codec, counts, blob)
    expected = decode_indices(codec, encode_indices(codec, x), len(x))
    assert rate == 44100 and y.shape == x.shape
    assert torch.equal(y, expected)
    bits_per_code = (len(blob) - 64) * 8 / (2 * 9 * 256)
    assert bits_per_code <= 5.2  # at most log2(32) bits per code plus coder overhead


def test_bad_files_get_clear_errors(small_codec: tuple[CascadedCodec, list[torch.Tensor]]) -> None:
    from percloss.codec import read_bitstream, write_bitstream

    codec, counts = small_codec
    blob = write_bitstream(codec, counts, torch.randn(2000) * 0.1, 16000)
    with pytest.raises(ValueError, match="truncated"):
        read_bitstream(codec, counts, blob[:-8])
    with pytest.raises(ValueError, match="truncated"):
        read_bitstream(codec, counts, blob[:20])
    corrupted = bytearray(blob)
    corrupted[-3] ^= 0xFF
    with pytest.raises(ValueError, match="corrupted"):
        read_bitstream(codec, counts, bytes(corrupted))
    with pytest.raises(ValueError, match="magic"):
        read_bitstream(codec, counts, b"XYZ" + blob[3:])
    torch.manual_seed(2)
    with pytest.raises(ValueError, match="another codec model"):
        read_bitstream(CascadedCodec(2).eval(), counts, blob)


def test_coded_size_is_the_cross_entropy_of_the_codes(small_codec: tuple[CascadedCodec, list[torch.Tensor]]) -> None:
    """The range coder's file is within 2 % of the ideal code length under the stored model."""
    from percloss.codec import _probabilities, encode_indices, symbol_histogram, write_bitstream

    codec, _ = small_codec
    x = data.load_clip("drums_hydrogen", 44100)[: 2 * 44100]
    counts = symbol_histogram(codec, [data.load_clip("piano_bach", 44100)[: 2 * 44100]])
    assert [float(c.sum()) for c in counts] == [frame(x[:2 * 44100]).shape[0] * 256] * 2  # one count per code
    ideal = 0.0
    for idx, c in zip(encode_indices(codec, x), counts, strict=True):
        p = torch.from_numpy(_probabilities(c)).double()
        ideal += float(-torch.log2(p[idx.flatten()]).sum())
    blob = write_bitstream(codec, counts, x, 44100)
    assert len(blob) * 8 == pytest.approx(ideal, rel=0.02)


def test_encoding_is_deterministic(small_codec: tuple[CascadedCodec, list[torch.Tensor]]) -> None:
    from percloss.codec import write_bitstream

    codec, counts = small_codec
    x = data.load_clip("piano_bach", 44100)[:20000]
    assert write_bitstream(codec, counts, x, 44100) == write_bitstream(codec, counts, x.clone(), 44100)
    torch.manual_seed(1)
    again = CascadedCodec(2).eval()  # same seed, same parameters, same file
    assert write_bitstream(again, counts, x, 44100) == write_bitstream(codec, counts, x, 44100)


@pytest.mark.parametrize("length", [1, 511, 512, 513, 5 * 480 + 32, 5 * 480 + 33, 20000])
@pytest.mark.parametrize("block", [1000, 4003, 1 << 20])
def test_a_stream_of_blocks_codes_to_the_same_bytes_as_the_whole_signal(
        small_codec: tuple[CascadedCodec, list[torch.Tensor]], length: int, block: int) -> None:
    """A file read block by block (the CLI's encode) gives the bytes of the whole signal: frames at the
    chunk edges (5 frames a chunk here: 2432 samples), lengths that end on or just after a frame, blocks
    that split frames."""
    from percloss.codec import frame_stream, iter_indices, write_bitstream

    codec, counts = small_codec
    x = data.load_clip("piano_bach", 44100)[:length]
    pieces = [x[i : i + block] for i in range(0, length, block)]
    assert write_bitstream(codec, counts, iter(pieces), 44100) == write_bitstream(codec, counts, x, 44100)
    for chunk in (1, 5):
        streamed = torch.cat(list(frame_stream(iter(pieces), chunk)))
        assert torch.equal(streamed, frame(x))
        counter: list[int] = []
        by_stream = [p for parts in iter_indices(codec, iter(pieces), chunk, counter=counter) for p in parts]
        by_signal = [p for parts in iter_indices(codec, x, chunk) for p in parts]
        assert counter == [length] and all(torch.equal(a, b) for a, b in zip(by_stream, by_signal, strict=True))


def test_a_bad_block_in_a_stream_is_refused_by_index(small_codec: tuple[CascadedCodec, list[torch.Tensor]]) -> None:
    from percloss.codec import write_bitstream

    codec, counts = small_codec
    good = torch.zeros(3000)
    with pytest.raises(ValueError, match="block 1 of x.*NaN"):
        write_bitstream(codec, counts, iter([good, torch.full((10,), float("nan"))]), 16000)
    with pytest.raises(ValueError, match="block 0 of x must be mono"):
        write_bitstream(codec, counts, iter([torch.zeros(2, 3000)]), 16000)
    with pytest.raises(ValueError, match="x is empty"):
        write_bitstream(codec, counts, iter([]), 16000)


# The file layout (format version 3): magic "PCL", version (u8), sample rate (u32), length in samples (u64),
# modules (u8), frames (u32), model id (32 bytes), original sample rate (u32), CRC32 of all the above and the
# payload (u32), payload.
HEADER_BYTES = 61
FIELDS = {"rate": (4, "<I"), "length": (8, "<Q"), "modules": (16, "<B"), "frames": (17, "<I"),
          "original_rate": (53, "<I")}


def _craft(blob: bytes, field: str, value: int, fix_crc: bool) -> bytes:
    """``blob`` with one header field set to ``value``; with ``fix_crc`` the checksum is recomputed (a crafted file)."""
    import struct
    import zlib

    out = bytearray(blob)
    offset, fmt = FIELDS[field]
    struct.pack_into(fmt, out, offset, value)
    if fix_crc:
        struct.pack_into("<I", out, HEADER_BYTES - 4, zlib.crc32(bytes(out[HEADER_BYTES:]),
                                                                  zlib.crc32(bytes(out[: HEADER_BYTES - 4]))))
    return bytes(out)


def test_every_header_bit_flip_is_rejected(small_codec: tuple[CascadedCodec, list[torch.Tensor]]) -> None:
    """A flipped sample-rate bit used to decode "successfully" (e.g. at 27,904 Hz): the CRC now covers the header."""
    import subprocess
    import sys

    # run in a child process: before the fix a flipped frame-count bit made the decoder allocate terabytes and abort
    code = f"""
import torch
from percloss.codec import CascadedCodec, read_bitstream, write_bitstream
torch.manual_seed(1)
codec = CascadedCodec(2).eval()
counts = [torch.arange(32, dtype=torch.float64) % 7 + 1 for _ in range(2)]
blob = write_bitstream(codec, counts, torch.sin(torch.arange(3000) * 0.05) * 0.3, 16000)
assert read_bitstream(codec, counts, blob)[1] == 16000
rejected = 0
for bit in range({HEADER_BYTES} * 8):
    bad = bytearray(blob)
    bad[bit // 8] ^= 1 << (bit % 8)
    try:
        y, rate = read_bitstream(codec, counts, bytes(bad))
    except ValueError:
        rejected += 1
        continue
    except BaseException as err:
        raise SystemExit(f"bit {{bit}}: {{type(err).__name__}}: {{err}}")
    raise SystemExit(f"bit {{bit}} decoded silently at {{rate}} Hz, {{len(y)}} samples")
print(rejected)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert int(proc.stdout.split()[-1]) == HEADER_BYTES * 8


def test_impossible_header_fields_are_rejected_before_allocating(
        small_codec: tuple[CascadedCodec, list[torch.Tensor]]) -> None:
    """Even with a valid checksum (a crafted file) no header field is trusted; 2**40 frames fail at once."""
    import time

    from percloss.codec import read_bitstream, write_bitstream

    codec, counts = small_codec
    x = data.load_clip("piano_bach", 16000)[:3000]
    blob = write_bitstream(codec, counts, x, 16000)
    assert len(blob) > HEADER_BYTES and blob[:4] == b"PCL\x03"
    assert read_bitstream(codec, counts, _craft(blob, "rate", 16000, fix_crc=True))[1] == 16000  # the layout above
    from percloss.codec import bitstream_info

    assert bitstream_info(_craft(blob, "original_rate", 44100, fix_crc=True))["original_rate"] == 44100
    assert bitstream_info(write_bitstream(codec, counts, x, 16000, original_rate=48000))["original_rate"] == 48000
    cases = [
        ("frames", 2**32 - 1, "frames"), ("frames", 1, "frames"), ("frames", 0, "frames"),
        ("length", 2**40, "frames"), ("length", 2**40 * 480, "frames"), ("length", 0, "frames"),
        ("rate", 0, "sample rate"), ("rate", 27904 * 1000, "sample rate"), ("modules", 3, "another codec model"),
        ("original_rate", 0, "original sample rate"), ("original_rate", 10**7, "original sample rate"),
    ]
    for field, value, match in cases:
        for fix_crc in (False, True):
            start = time.perf_counter()
            with pytest.raises(ValueError, match=match if fix_crc else "checksum"):
                read_bitstream(codec, counts, _craft(blob, field, value, fix_crc))
            assert time.perf_counter() - start < 1.0, (field, value)
    # frames and length raised together, consistently: the payload is far too short for that many codes
    # (one frame more than written passes that bound; the range decoder's state then gives it away)
    for n_frames, match in ((2**32 - 1, "4294967295 frames need at least"), (2**20, "1048576 frames need at least"),
                            (8, "corrupted file")):
        crafted = _craft(_craft(blob, "frames", n_frames, False), "length", (n_frames - 1) * HOP + FRAME, True)
        start = time.perf_counter()
        with pytest.raises(ValueError, match=match):
            read_bitstream(codec, counts, crafted)
        assert time.perf_counter() - start < 1.0, n_frames


def test_other_versions_and_symbol_counts_are_rejected(small_codec: tuple[CascadedCodec, list[torch.Tensor]]) -> None:
    """Same weights, other symbol counts: once accepted (the model id hashed only the weights); now a model error."""
    from percloss.codec import decode_indices, encode_indices, read_bitstream, write_bitstream

    codec, counts = small_codec
    x = data.load_clip("piano_bach", 16000)[:3000]
    blob = write_bitstream(codec, counts, x, 16000)
    other = [c.clone() for c in counts]
    other[1][5] += 40
    with pytest.raises(ValueError, match="another codec model.*symbol counts"):
        read_bitstream(codec, other, blob)
    y, rate = read_bitstream(codec, counts, blob)
    assert rate == 16000 and torch.equal(y, decode_indices(codec, encode_indices(codec, x), len(x)))
    # a file under the other counts decodes with them, bit-exactly, and differs from the first
    blob_other = write_bitstream(codec, other, x, 16000)
    assert blob_other != blob and torch.equal(read_bitstream(codec, other, blob_other)[0], y)
    for version, match in ((1, "version 1 is no longer read"), (2, "version 2 is no longer read"),
                           (4, "unsupported codec file version 4"), (0, "unsupported codec file version 0")):
        with pytest.raises(ValueError, match=match):
            read_bitstream(codec, counts, blob[:3] + bytes([version]) + blob[4:])
    with pytest.raises(ValueError, match=r"symbol_counts\[0\]"):
        read_bitstream(codec, [counts[0][:5], counts[1]], blob)
    with pytest.raises(ValueError, match="sample_rate"):
        write_bitstream(codec, counts, x, 500)


def test_hard_entropy_sees_what_the_soft_entropy_of_coincident_centroids_hides() -> None:
    from percloss.codec import SoftmaxQuantizer, code_entropy_bits, hard_entropy_bits

    q = SoftmaxQuantizer(8)
    with torch.no_grad():
        q.centroids[:4] = 0.25  # four coincident centroids, as in the collapsed two-module run
        q.log_alpha.fill_(math.log(1e4))  # sharp: no weight leaks to the other centroids
    codes = 0.25 + 1e-3 * torch.randn(4096, generator=torch.Generator().manual_seed(0))
    assert float(code_entropy_bits(q.assignments(codes))) == pytest.approx(2.0, abs=1e-3)  # log2(4)
    assert float(hard_entropy_bits(q.indices(codes), 8)) == 0.0
    uniform = torch.arange(4096) % 8
    assert float(hard_entropy_bits(uniform, 8)) == pytest.approx(3.0)


def test_reseeding_splits_the_busiest_cell_and_revives_merged_centroids() -> None:
    from percloss.codec import SoftmaxQuantizer, hard_entropy_bits, reseed_centroids

    g = torch.Generator().manual_seed(1)
    q = SoftmaxQuantizer(8)
    with torch.no_grad():
        q.centroids.copy_(torch.tensor([0.0, 0.0, 0.0, 0.0, 5.0, 6.0, 7.0, 8.0]))  # 3 merged, 4 dead
    codes = 0.5 * torch.randn(8192, generator=g)  # every code near 0: one cell holds them all
    assert float(hard_entropy_bits(q.indices(codes), 8)) == 0.0
    moved = reseed_centroids(q, codes, torch.Generator().manual_seed(2))
    assert sorted(moved.tolist()) == [1, 2, 3, 4, 5, 6, 7]
    # the moved centroids are codes of the busy cell: distinct, inside the data, and now in use
    c = q.centroids.detach()
    assert len(set(c.tolist())) == 8 and float(c.abs().max()) < 2.5
    assert float(hard_entropy_bits(q.indices(codes), 8)) > 1.5
    # a healthy quantiser is left alone
    before = q.centroids.detach().clone()
    assert len(reseed_centroids(q, codes, torch.Generator().manual_seed(3), min_share=1e-4)) == 0
    assert torch.equal(q.centroids.detach(), before)


@pytest.mark.parametrize("c_in, c_out, taps, padding", [(50, 1, 55, 27), (3, 2, 9, 4), (4, 1, 8, 2)])
def test_fft_convolution_is_the_direct_convolution(c_in: int, c_out: int, taps: int, padding: int) -> None:
    from percloss.codec import fft_conv1d

    torch.manual_seed(0)
    x = torch.randn(5, c_in, 512, dtype=torch.float64)
    w = torch.randn(c_out, c_in, taps, dtype=torch.float64, requires_grad=True)
    b = torch.randn(c_out, dtype=torch.float64)
    direct = torch.nn.functional.conv1d(x, w, b, padding=padding)
    fast = fft_conv1d(x, w, b, padding)
    assert fast.shape == direct.shape
    assert torch.allclose(fast.double(), direct, rtol=1e-5, atol=1e-5 * float(direct.abs().max()))


def test_the_output_convolution_trains_by_fft_and_codes_directly() -> None:
    """Training (CPU) takes the FFT path with the direct path's values and gradients; inference is the direct
    convolution exactly, so coded files do not depend on it."""
    from percloss.codec import OutputConv1d

    torch.manual_seed(0)
    conv = OutputConv1d(50, 1, 55, padding=27)
    x = torch.randn(8, 50, 512, requires_grad=True)
    conv.eval()
    assert torch.equal(conv(x), torch.nn.functional.conv1d(x, conv.weight, conv.bias, padding=27))
    conv.train()
    y_fft = conv(x)
    (g_fft,) = torch.autograd.grad(y_fft.square().sum(), conv.weight)
    y_dir = torch.nn.functional.conv1d(x, conv.weight, conv.bias, padding=27)
    (g_dir,) = torch.autograd.grad(y_dir.square().sum(), conv.weight)
    assert torch.allclose(y_fft, y_dir, atol=1e-5) and float((g_fft - g_dir).norm() / g_dir.norm()) < 1e-5
    with torch.autocast("cpu", dtype=torch.bfloat16):  # under autocast the FFT path stays float32
        assert conv(x).dtype == torch.float32


def test_a_checkpoint_can_be_saved_into_a_new_folder(tmp_path: Path) -> None:
    """(An export of a finished run into a fresh folder failed after its 24-min symbol histogram.)"""
    from percloss.codec import load_codec, save_codec

    torch.manual_seed(0)
    codec = CascadedCodec(2)
    counts = [torch.ones(32), torch.ones(32)]
    sha = save_codec(tmp_path / "a" / "b" / "m.codec", codec, counts, 32000, "A79", "untrained (seed 0)")
    loaded, loaded_counts, info = load_codec(tmp_path / "a" / "b" / "m.codec")
    assert info["sha256"] == sha and len(loaded.stages) == 2 and len(loaded_counts) == 2


# ------------------------------------------------- fast inference: the module's numbers, bit for bit

needs_onednn = pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="torch built without oneDNN")


def _module_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the networks as the ``nn.Module`` computes them, whole blocks at once (the code before the fast path)."""
    from percloss import codec as codec_module

    monkeypatch.setattr(codec_module._Inference, "_run", lambda self, fast, module, x, half: module(x))


@needs_onednn
@pytest.mark.parametrize("n, bias", [(2, True), (3, True), (33, True), (70, True), (33, False)])
def test_fast_inference_is_the_module_bit_for_bit(n: int, bias: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from percloss.codec import SUB_CHUNK, _Inference

    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)  # calls of SUB_CHUNK frames, whatever the threads
    torch.manual_seed(2)
    stage = CodecModule(bias=bias).eval()
    frames = torch.randn(n, FRAME) * 0.3
    runner = _Inference(stage)
    with torch.no_grad():
        z = runner.preactivation(frames)
        y = runner.decode(torch.tanh(z))
        assert runner.fast and runner.checked == {"encode", "decode"}  # the fast path ran, not the fallback
        assert torch.equal(z, stage.preactivation(frames))
        assert torch.equal(y, stage.decode(torch.tanh(z)))  # n = 33: a lone last frame through the fast path
    assert SUB_CHUNK == 32


@needs_onednn
def test_one_frame_alone_takes_the_module_path() -> None:
    """torch runs a one-frame batch through other kernels than oneDNN's: the fast path leaves it to the module."""
    from percloss.codec import _Inference

    torch.manual_seed(3)
    stage = CodecModule().eval()
    frame_ = torch.randn(1, FRAME) * 0.3
    runner = _Inference(stage)
    with torch.no_grad():
        assert torch.equal(runner.preactivation(frame_), stage.preactivation(frame_))
        assert torch.equal(runner.decode(torch.tanh(frame_[:, ::2])), stage.decode(torch.tanh(frame_[:, ::2])))
    assert not runner.checked  # the fast path was not used


@needs_onednn
def test_a_fast_path_that_differs_from_the_module_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """The self-check: were oneDNN's fused kernels to give other numbers (another torch), the module runs."""
    from percloss.codec import _Inference

    torch.manual_seed(4)
    stage = CodecModule().eval()
    frames = torch.randn(5, FRAME) * 0.3
    monkeypatch.setattr(_Inference, "_encode_fast", lambda self, f: stage.preactivation(f) + 1e-6)
    runner = _Inference(stage)
    with torch.no_grad():
        assert torch.equal(runner.preactivation(frames), stage.preactivation(frames))
    assert not runner.fast and runner.checked == {"encode"}


SHIPPED_32K = [name for name in ("D64", "A79") if name in __import__("percloss.shipped").shipped.shipped_models()]


@needs_onednn
@pytest.mark.parametrize("name", SHIPPED_32K)  # one module and two
def test_fast_inference_keeps_the_bitstream_and_the_decoded_samples(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Byte-identical files and identical samples against the networks run as modules (the earlier code),
    for shipped models on music; blocks of 33 frames leave a last block of one frame."""
    from percloss.codec import decode_indices, encode_indices, read_bitstream, write_bitstream
    from percloss.shipped import load_shipped_codec

    codec, counts, _ = load_shipped_codec(name)
    x = data.load_clip("beat_moh", 32000)[32000 : 2 * 32000]  # 67 frames
    blob = write_bitstream(codec, counts, x, 32000)
    y, _ = read_bitstream(codec, counts, blob)
    idx = encode_indices(codec, x, chunk=33)
    z = decode_indices(codec, idx, len(x), chunk=33)
    with monkeypatch.context() as patched:
        _module_path(patched)
        ref_blob = write_bitstream(codec, counts, x, 32000)
        ref_y, _ = read_bitstream(codec, counts, ref_blob)
        ref_idx = encode_indices(codec, x, chunk=33)
        ref_z = decode_indices(codec, ref_idx, len(x), chunk=33)
    assert blob == ref_blob
    assert torch.equal(y, ref_y)
    assert all(torch.equal(a, b) for a, b in zip(idx, ref_idx, strict=True))
    assert torch.equal(z, ref_z)


def test_unknown_precision_is_refused(small_codec: tuple[CascadedCodec, list[torch.Tensor]]) -> None:
    from percloss.codec import encode_indices

    with pytest.raises(ValueError, match="precision must be one of float32, bfloat16"):
        encode_indices(small_codec[0], torch.zeros(1000), precision="float16")


def _snr_db(reference: torch.Tensor, x: torch.Tensor) -> float:
    reference, x = reference.double(), x.double()
    return float(10 * torch.log10(reference.square().sum() / (reference - x).square().sum()))


@pytest.mark.skipif(not (torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()),
                    reason="no bf16 instructions on this CPU (or torch without oneDNN)")
@pytest.mark.skipif("D64" not in SHIPPED_32K, reason="D64 does not ship")
def test_bfloat16_stays_within_its_stated_tolerance_of_float32() -> None:
    """The opt-in bfloat16 path on music: decoded samples within 25 dB SNR of float32's (coded in bfloat16 too;
    33-35 dB measured on five clips, benchmarks/results/codec.md), 40 dB when only the decoder runs in
    bfloat16 (52 dB measured); the codec's own SNR and the file size as float32's."""
    from percloss.codec import read_bitstream, write_bitstream
    from percloss.shipped import load_shipped_codec

    codec, counts, _ = load_shipped_codec("D64")
    x = data.load_clip("piano_bach", 32000)[: 2 * 32000]
    blob32 = write_bitstream(codec, counts, x, 32000)
    blob16 = write_bitstream(codec, counts, x, 32000, precision="bfloat16")
    y32, _ = read_bitstream(codec, counts, blob32)
    y16, _ = read_bitstream(codec, counts, blob16, precision="bfloat16")
    y_mixed, _ = read_bitstream(codec, counts, blob32, precision="bfloat16")
    assert blob16 != blob32 and not torch.equal(y16, y32)  # other numbers: opt-in only
    assert _snr_db(y32, y16) >= 25.0
    assert _snr_db(y32, y_mixed) >= 40.0
    assert abs(_snr_db(x, y16) - _snr_db(x, y32)) <= 0.3
    assert abs(len(blob16) - len(blob32)) <= 0.01 * len(blob32)
