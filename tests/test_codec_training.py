"""Codec losses and training: the loss falls, the rate controller moves the right way."""

from __future__ import annotations

import pytest
import torch

from percloss import data
from percloss.codec import CascadedCodec
from percloss.codec_training import CodecLoss, MelLoss, bits_per_code, train_codec


@pytest.fixture(scope="module")
def music() -> list[torch.Tensor]:
    return [data.load_clip("piano_bach", 44100)[: 3 * 44100], data.load_clip("drums_hydrogen", 44100)[: 3 * 44100]]


def test_bits_per_code() -> None:
    # 256 codes per 480 samples at 44.1 kHz = 23520 codes/s; 96 kbit/s -> 4.08 bits per code
    assert bits_per_code(96, 44100) == pytest.approx(96000 / 23520)


@pytest.mark.parametrize("kind", ["A", "C", "D"])
def test_losses_are_zero_at_identity_and_differentiable(kind: str) -> None:
    loss = CodecLoss(kind, 44100)
    x = data.load_clip("piano_bach", 44100)[44100:48000]
    assert float(loss(x, x)) == pytest.approx(0.0, abs=1e-6)
    y = (x + 0.05 * torch.randn(len(x))).requires_grad_(True)
    value = loss(y, x)
    value.backward()
    assert float(value.detach()) > 0 and y.grad is not None and torch.isfinite(y.grad).all()


def test_mel_loss_grows_with_distortion() -> None:
    loss = MelLoss(16000)
    x = data.load_clip("speech_male", 16000)[:16000]
    g = torch.Generator().manual_seed(0)
    n = torch.randn(16000, generator=g)
    assert float(loss(x + 0.001 * n, x)) < float(loss(x + 0.01 * n, x)) < float(loss(x + 0.1 * n, x))


@pytest.mark.parametrize("kind", ["A", "C"])
def test_training_lowers_the_distortion(music: list[torch.Tensor], kind: str) -> None:
    torch.manual_seed(0)
    codec = CascadedCodec(1)
    log = train_codec(codec, music, 44100, kind, steps=20, batch=2, segment_frames=4, progress=False)
    first, last = log.distortion[0], sum(log.distortion[-5:]) / 5
    assert last < 0.8 * first
    assert not codec.training


def test_model_d_trains_with_finite_values(music: list[torch.Tensor]) -> None:
    torch.manual_seed(0)
    log = train_codec(CascadedCodec(1), music, 44100, "D", steps=5, batch=2, segment_frames=2, progress=False)
    assert all(torch.isfinite(torch.tensor(log.distortion)))


def test_rate_controller_direction(music: list[torch.Tensor]) -> None:
    torch.manual_seed(0)
    low = train_codec(CascadedCodec(1), music, 44100, "A", steps=3, batch=2, segment_frames=2,
                      target_kbps=10, progress=False)  # ~0.4 bits/code: far below the entropy
    high = train_codec(CascadedCodec(1), music, 44100, "A", steps=3, batch=2, segment_frames=2,
                       target_kbps=118, progress=False)  # ~5 bits/code: above it
    assert low.rate_weight[-1][0] > 0.01 > high.rate_weight[-1][0]


def test_bad_arguments(music: list[torch.Tensor]) -> None:
    with pytest.raises(ValueError, match="kind"):
        CodecLoss("B", 44100)
    with pytest.raises(ValueError, match=r"signals\[0\]"):
        train_codec(CascadedCodec(1), [torch.zeros(100)], 44100, steps=1, progress=False)
