"""Digital silence through the codec: the zero-preserving architecture (no biases, a fixed zero codeword)
codes it to the zero codeword and decodes it to exact zeros, whatever the weights; the work's architecture does
not (DC plus a hum at the frame rate: runs/codec/attempts/silence/README.md)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from percloss import data
from percloss.codec import (
    HOP,
    CascadedCodec,
    SoftmaxQuantizer,
    decode_indices,
    encode_indices,
    load_codec,
    model_id,
    read_bitstream,
    reseed_centroids,
    save_codec,
    write_bitstream,
)
from percloss.codec_training import train_codec

RATE = 32000


def _tone_silence_tone(rate: int = RATE) -> tuple[torch.Tensor, slice]:
    """0.5 s of a 440 Hz tone, 1 s of digital silence, the tone again; and the samples of the silence that
    no frame touching the tone covers (a frame reaches 512 samples from where it starts)."""
    t = torch.arange(rate // 2) / rate
    tone = 0.5 * torch.sin(2 * math.pi * 440 * t)
    x = torch.cat([tone, torch.zeros(rate), tone])
    first = math.ceil((rate // 2) / HOP) * HOP  # the first frame that starts inside the silence
    return x, slice(first, rate // 2 + rate - 512)


@pytest.mark.parametrize("n_modules", [1, 2])
def test_digital_silence_decodes_to_exact_zeros_through_a_real_bitstream(n_modules: int) -> None:
    torch.manual_seed(n_modules)
    codec = CascadedCodec(n_modules, zero_preserving=True).eval()
    with torch.no_grad():  # weights and centroids far from their initial values: the property is architectural
        for p in codec.parameters():
            p.add_(0.05 * torch.randn_like(p))
    counts = [torch.ones(32) for _ in range(n_modules)]
    x, silent = _tone_silence_tone()
    y, _ = read_bitstream(codec, counts, write_bitstream(codec, counts, x, RATE))
    assert float(y[silent].abs().max()) == 0.0
    assert float(y[: RATE // 2].abs().max()) > 0.01  # the tone is coded, not gated
    zero = [q.zero_index for q in codec.quantizers]
    assert all(z is not None for z in zero)
    indices = encode_indices(codec, torch.zeros(RATE))
    assert all(bool(torch.as_tensor(idx).eq(z).all()) for idx, z in zip(indices, zero, strict=True))


def test_the_works_architecture_does_not_decode_silence_to_silence() -> None:
    """The control: the same silence through the architecture with biases (what the fix changes)."""
    torch.manual_seed(1)
    codec = CascadedCodec(1).eval()
    y = decode_indices(codec, encode_indices(codec, torch.zeros(RATE)), RATE)
    assert float(y.abs().max()) > 1e-3


def test_the_zero_codeword_stays_zero_through_training_and_reseeding() -> None:
    song = data.codec_corpus("train", RATE)
    signals = [x[: 4 * RATE] for x in list(song.values())[:2]]
    torch.manual_seed(0)
    codec = CascadedCodec(1, zero_preserving=True)
    train_codec(codec, signals, RATE, "A", steps=6, batch=2, segment_frames=4, lr=1e-2, precision="fp32",
                target_kbps=64, progress=False)
    q = codec.quantizers[0]
    assert isinstance(q, SoftmaxQuantizer) and q.zero_index == 16
    assert float(q.codebook[16]) == 0.0
    assert float((q.codebook - torch.linspace(-1, 1, 32)).abs().max()) > 1e-4  # the other centroids moved
    # re-seeding: every centroid but the zero one is dead here (all codes near 0.9), and a centroid on top
    # of the zero codeword counts as merged with it whatever its index
    with torch.no_grad():
        q.centroids[3] = 1e-4
    moved = reseed_centroids(q, 0.9 + 0.01 * torch.randn(4096), torch.Generator().manual_seed(0))
    assert 16 not in moved.tolist() and 3 in moved.tolist()
    assert float(q.codebook[16]) == 0.0


def test_save_and_load_keep_the_architecture(tmp_path: Path) -> None:
    torch.manual_seed(0)
    codec = CascadedCodec(2, zero_preserving=True)
    counts = [torch.ones(32), torch.ones(32)]
    save_codec(tmp_path / "m.codec", codec, counts, RATE, "C64", "untrained (seed 0)")
    loaded, _, info = load_codec(tmp_path / "m.codec")
    assert loaded.zero_preserving and info["zero_preserving"] and len(loaded.stages) == 2
    assert model_id(loaded, counts) == model_id(codec, counts)
    again = CascadedCodec.for_state_dict(codec.state_dict())
    assert again.zero_preserving and len(again.stages) == 2
    assert not CascadedCodec.for_state_dict(CascadedCodec(1).state_dict()).zero_preserving


def test_a_training_state_does_not_resume_into_the_other_architecture(tmp_path: Path) -> None:
    signals = [x[: 2 * RATE] for x in list(data.codec_corpus("train", RATE).values())[:1]]
    kw = dict(steps=2, batch=1, segment_frames=2, precision="fp32", progress=False, checkpoint=tmp_path / "s.pt")
    torch.manual_seed(0)
    train_codec(CascadedCodec(1, zero_preserving=True), signals, RATE, "A", **kw)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="zero_preserving"):
        train_codec(CascadedCodec(1), signals, RATE, "A", **{**kw, "steps": 3})  # type: ignore[arg-type]
