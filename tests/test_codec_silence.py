"""Digital silence through the codec: the zero-preserving architecture (no biases, a fixed zero codeword)
codes it to the zero codeword and decodes it to exact zeros, whatever the weights; the work's architecture does
not (DC plus a hum at the frame rate: runs/codec/attempts/silence/README.md). And the shipped broad-corpus
models against the bounds of :mod:`percloss.experiments.codec_defects` (silence, DC, energy above the band)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
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
from percloss.experiments.codec_defects import (
    MAX_ADDED_BAND_DB,
    MAX_DC,
    SILENCE_DBFS,
    added_band_energy_db,
    band_limited,
    defect_rows,
    file_coder,
    silence_response,
)
from percloss.shipped import load_shipped_codec, shipped_models

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


def test_the_defect_measures_find_a_known_dc_hum_and_out_of_band_tone() -> None:
    """A stand-in decoder that adds DC 0.01 and a 480-periodic hum of RMS 1e-3 (-60 dBFS); a signal whose energy
    above the band is a tone 30 dB (amplitude) below an in-band one: -30 - 10 log10(1 + 10^-3) dB of the whole."""
    hum = torch.sin(2 * math.pi * torch.arange(480) / 480) * 1e-3 * math.sqrt(2)

    def code(x: torch.Tensor) -> torch.Tensor:
        return x + 0.01 + hum.repeat(x.shape[-1] // 480 + 1)[: x.shape[-1]]

    found = silence_response(code, RATE)
    assert found["dc"] == pytest.approx(0.01, abs=1e-9)
    assert found["periodic_dbfs"] == pytest.approx(-60.0, abs=0.01)
    assert found["rms_dbfs"] == pytest.approx(10 * math.log10(1e-4 + 1e-6), abs=0.01)
    t = torch.arange(RATE).double() / RATE
    x = (torch.sin(2 * math.pi * 1000 * t) + 10 ** (-30 / 20) * torch.sin(2 * math.pi * 10000 * t)).numpy()
    assert added_band_energy_db(x, RATE) == pytest.approx(-30 - 10 * math.log10(1 + 1e-3), abs=1e-6)
    assert added_band_energy_db(band_limited(x, RATE), RATE) < -250  # round-off only
    rows = defect_rows(lambda s: s + 0.002, RATE, [("tone", x)])
    assert rows[0]["added_dc"] == pytest.approx(0.002, abs=1e-6)
    assert rows[0]["dc"] == pytest.approx(0.002 + float(np.mean(x)), abs=1e-6)
    with pytest.raises(ValueError, match="silent"):
        added_band_energy_db(np.zeros(100), RATE)


# ------------------------------------------------- the shipped broad-corpus models (bounds: codec_defects)

BROAD = sorted(shipped_models("broad"))


def _coder(name: str) -> tuple[Callable[[torch.Tensor], torch.Tensor], int]:
    codec, counts, info = load_shipped_codec(f"broad/{name}")
    rate = int(info["sample_rate"])  # type: ignore[call-overload]
    return file_coder(codec, counts, rate), rate


@pytest.mark.parametrize("name", BROAD)
def test_a_shipped_broad_model_decodes_digital_silence_below_minus_80_dbfs(name: str) -> None:
    code, rate = _coder(name)
    found = silence_response(code, rate)
    assert found["rms_dbfs"] < SILENCE_DBFS and found["periodic_dbfs"] < SILENCE_DBFS, found


@pytest.mark.parametrize("name", BROAD)
def test_a_shipped_broad_model_adds_no_dc_and_little_energy_above_the_inputs_band(name: str) -> None:
    code, rate = _coder(name)
    clips = [(c, data.load_clip(c, rate).numpy()[: 6 * rate]) for c in data.list_clips()]
    rows = defect_rows(code, rate, clips)
    for row in rows:
        assert abs(row["dc"]) < MAX_DC, row
        assert row["added_band_db"] < MAX_ADDED_BAND_DB, row


def test_dc_rejection_removes_an_offset_and_passes_the_audio_band() -> None:
    from percloss.signal import dc_reject

    rate = 16000
    t = torch.arange(4 * rate, dtype=torch.float64) / rate
    offset = dc_reject(torch.full((4 * rate,), 0.02, dtype=torch.float64), rate, 3.0)
    assert float(offset[-rate:].abs().max()) < 1e-8  # decayed: time constant 1 / (2 pi 3 Hz) = 53 ms
    for hz, low, high in ((20.0, -0.1, 0.0), (3.0, -3.1, -2.9), (1000.0, -1e-4, 1e-4)):
        y = dc_reject(torch.sin(2 * math.pi * hz * t), rate, 3.0)[2 * rate :]
        gain = 20 * math.log10(float(y.pow(2).mean().sqrt()) / math.sqrt(0.5))
        assert low < gain < high, (hz, gain)
    with pytest.raises(ValueError, match="cutoff_hz"):
        dc_reject(t, rate, 0.0)


def test_a_codec_that_rejects_dc_decodes_its_files_through_the_high_pass(tmp_path: Path) -> None:
    from percloss.signal import dc_reject

    torch.manual_seed(0)
    codec = CascadedCodec(1, zero_preserving=True).eval()
    counts = [torch.ones(32)]
    x = 0.3 * torch.sin(2 * math.pi * 440 * torch.arange(RATE) / RATE) + 0.05  # a tone on an offset
    plain, _ = read_bitstream(codec, counts, write_bitstream(codec, counts, x, RATE))
    codec.set_dc_reject(3.0)
    assert codec.dc_reject_hz == 3.0
    blob = write_bitstream(codec, counts, x, RATE)
    y, _ = read_bitstream(codec, counts, blob)
    torch.testing.assert_close(y, dc_reject(plain, RATE, 3.0))
    assert float((y - plain).abs().max()) > 1e-4  # the filter did something to the decoded samples
    save_codec(tmp_path / "m.codec", codec, counts, RATE, "C64", "test")
    loaded, _, info = load_codec(tmp_path / "m.codec")
    assert info["dc_reject_hz"] == 3.0 and loaded.dc_reject_hz == 3.0
    assert torch.equal(read_bitstream(loaded, counts, blob)[0], y)
    codec.set_dc_reject(None)  # another model: a file of the one decodes only with the one
    with pytest.raises(ValueError, match="another codec model"):
        read_bitstream(codec, counts, blob)
    with pytest.raises(ValueError, match="cutoff_hz"):
        codec.set_dc_reject(50.0)
