"""Losses: zero at identity, gradients, batching, silence, bad input, zounds semantics."""

from __future__ import annotations

import math

import pytest
import torch

from percloss.losses import MSELoss, MultiResolutionSTFTLoss, PerceptualLoss, perceptual_features

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def small_losses() -> dict[str, torch.nn.Module]:
    return {
        "mse": MSELoss(),
        "perceptual_cos": PerceptualLoss(8000, n_bands=12, n_taps=33, a_weighting=True),
        "perceptual_mse": PerceptualLoss(8000, n_bands=12, n_taps=33, distance="mse"),
        "mrstft": MultiResolutionSTFTLoss((64, 128), (16, 32), (64, 128)),
    }


def signals(n: int = 256, batch: tuple[int, ...] = (3,), seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(n, dtype=torch.float64) / 8000
    tone = torch.sin(2 * math.pi * 440 * t)
    x = tone + 0.3 * torch.randn(*batch, n, generator=g, dtype=torch.float64)
    y = tone + 0.3 * torch.randn(*batch, n, generator=g, dtype=torch.float64)
    return x, y


@pytest.mark.parametrize("name", list(small_losses()))
def test_identical_inputs_cost_nothing_and_different_ones_do(name: str) -> None:
    loss = small_losses()[name].double()
    x, y = signals()
    assert float(loss(x, x)) == pytest.approx(0.0, abs=1e-12)
    assert float(loss(x, y)) > 1e-3


@pytest.mark.parametrize("name", list(small_losses()))
def test_gradcheck(name: str) -> None:
    loss = small_losses()[name].double()
    x, y = signals(n=160, batch=(2,))
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: loss(v, y), (x,))


@pytest.mark.parametrize("name", list(small_losses()))
def test_batched_equals_item_by_item(name: str) -> None:
    base = small_losses()[name].double()
    base.reduction = "none"
    x, y = signals(batch=(2, 3))
    batched = base(x, y)
    assert batched.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            torch.testing.assert_close(batched[i, j], base(x[i, j], y[i, j]))
    base.reduction = "mean"
    torch.testing.assert_close(base(x, y), batched.mean())
    base.reduction = "sum"
    torch.testing.assert_close(base(x, y), batched.sum())


@pytest.mark.parametrize("name", list(small_losses()))
def test_silence_gives_finite_values_and_gradients(name: str) -> None:
    loss = small_losses()[name].double()
    silent = torch.zeros(2, 256, dtype=torch.float64, requires_grad=True)
    x, _ = signals(batch=(2,))
    for a, b in [(silent, silent.detach()), (silent, x), (x.clone().requires_grad_(True), silent.detach())]:
        value = loss(a, b)
        assert torch.isfinite(value)
        (grad,) = torch.autograd.grad(value, a, allow_unused=True)
        assert grad is None or bool(torch.isfinite(grad).all())
    assert float(loss(silent.detach(), silent.detach())) == 0.0


def test_mse_matches_torch() -> None:
    x, y = signals()
    torch.testing.assert_close(MSELoss()(x, y), torch.nn.functional.mse_loss(x, y))


def test_perceptual_cosine_is_scale_invariant_only_through_the_log() -> None:
    loss = PerceptualLoss(8000, n_bands=16, n_taps=65).double()
    x, _ = signals(batch=(1,))
    # log(1 + 10 y) is not homogeneous: a louder copy costs something, but far less than noise
    louder = float(loss(2 * x, x))
    noisy = float(loss(x + 0.5 * torch.randn_like(x), x))
    assert 0 < louder < noisy


def test_perceptual_features_follow_zounds_definition() -> None:
    taps = torch.randn(4, 17, dtype=torch.float64)
    x = torch.randn(300, dtype=torch.float64)
    conv = torch.nn.functional.conv1d(
        torch.nn.functional.pad(x.view(1, 1, -1), (8, 8)), taps.flip(-1).unsqueeze(1)
    )[0]
    expected = torch.log(1 + 10 * torch.relu(conv)) * torch.arange(1, 5, dtype=torch.float64).unsqueeze(-1)
    torch.testing.assert_close(perceptual_features(x, taps, torch.arange(1.0, 5.0, dtype=torch.float64)), expected)


def test_perceptual_loss_buffers_move_with_to() -> None:
    loss = PerceptualLoss(8000, n_bands=8, n_taps=33, a_weighting=True)
    names = {n for n, _ in loss.named_buffers()}
    assert {"filterbank.filters", "band_weights"} <= names
    loss64 = loss.to(torch.float64)
    assert loss64.filterbank.filters.dtype == torch.float64


def test_mrstft_ignores_a_tiny_error_below_its_floor_and_rejects_short_input() -> None:
    loss = MultiResolutionSTFTLoss()
    with pytest.raises(ValueError, match="at least 2048 samples"):
        loss(torch.zeros(1000), torch.zeros(1000))


@pytest.mark.parametrize("name", list(small_losses()))
def test_bad_input_is_rejected_naming_the_argument(name: str) -> None:
    loss = small_losses()[name]
    good = torch.zeros(2, 256)
    nan = good.clone()
    nan[0, 3] = float("nan")
    inf = good.clone()
    inf[1, 0] = float("inf")
    cases = [
        ((nan, good), "input contains NaN"),
        ((good, inf), "target contains NaN or Inf"),
        ((good.long(), good), "input must be a floating-point"),
        ((good, good[:, :200]), "same shape"),
        ((good, good.double()), "same dtype"),
        ((torch.zeros(()), torch.zeros(())), "at least 1 dimension"),
    ]
    for args, match in cases:
        with pytest.raises(ValueError, match=match):
            loss(*args)


def test_bad_parameters_are_rejected() -> None:
    with pytest.raises(ValueError, match="distance"):
        PerceptualLoss(8000, n_bands=4, n_taps=9, distance="l1")
    with pytest.raises(ValueError, match="reduction"):
        MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="hop"):
        MultiResolutionSTFTLoss((64,), (128,), (64,))


@pytest.mark.parametrize("device", DEVICES)
def test_cpu_and_device_agree(device: str) -> None:
    loss = PerceptualLoss(8000, n_bands=12, n_taps=33)
    x, y = signals()
    expected = loss.double()(x, y)
    got = loss.to(device)(x.to(device), y.to(device))
    torch.testing.assert_close(got.cpu(), expected)


def _clip(name: str, rate: int, n: int) -> torch.Tensor:
    from percloss import data

    x = data.load_clip(name, rate)
    return x[rate // 2 : rate // 2 + n].clone()


@pytest.mark.parametrize("clip", ["speech_male", "piano_bach"])
def test_perceptual_float32_matches_float64_at_small_errors(clip: str) -> None:
    """1 - cos of millions of features is far below float32's rounding of the norms (was 0.0 in float32)."""
    loss32 = PerceptualLoss(16000)
    loss64 = PerceptualLoss(16000).double()
    x = _clip(clip, 16000, 8192)
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(x.shape, generator=g) * x.pow(2).mean().sqrt()
    for rel in (1e-3, 1e-2):
        y32 = (x + rel * noise).requires_grad_(True)
        y64 = (x + rel * noise).double().requires_grad_(True)
        v32, v64 = loss32(y32, x), loss64(y64, x.double())
        (g32,) = torch.autograd.grad(v32, y32)
        (g64,) = torch.autograd.grad(v64, y64)
        print(f"{clip} noise {rel:g}: float32 {v32.item():.6e}, float64 {v64.item():.6e}")
        assert v64.item() > 0
        assert v32.item() == pytest.approx(v64.item(), rel=0.01)
        assert float(g32.norm()) > 0
        cos = torch.nn.functional.cosine_similarity(g32.double(), g64, dim=0)
        print(f"  cosine of the float32 and float64 gradients: {float(cos):.9f}")
        assert float(cos) > 0.99
        assert float(g32.double().norm() / g64.norm()) == pytest.approx(1.0, rel=0.05)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_perceptual_cosine_of_quiet_signals(dtype: torch.dtype) -> None:
    """Identical quiet signals cost 0 at any level; different quiet ones cost what they cost louder.

    Far below full scale ``log(1 + 10 y)`` is linear, so the cosine distance is
    scale-invariant there: the loss at 1e-4 equals the loss at 1e-8 and 1e-20.
    """
    loss = PerceptualLoss(8000, n_bands=12, n_taps=33, a_weighting=True).to(dtype)
    ref64 = PerceptualLoss(8000, n_bands=12, n_taps=33, a_weighting=True).double()
    x, y = signals(batch=(2,))
    expected = ref64(1e-4 * x, 1e-4 * y)
    assert 1e-3 < float(expected) < 1
    for level in (1e-4, 1e-6, 1e-8, 1e-12, 1e-20):
        a, b = (level * x).to(dtype), (level * y).to(dtype)
        assert float(loss(a, a)) <= 1e-7, level
        got = loss(a, b)
        assert torch.isfinite(got) and float(got) >= 0
        assert float(got) == pytest.approx(float(expected), rel=1e-3), level


def test_perceptual_cosine_silence_is_defined() -> None:
    """Both silent: 0. One silent: 1 (cosine distance to the zero vector, cos := 0), either way round."""
    loss = PerceptualLoss(8000, n_bands=12, n_taps=33, reduction="none")
    x, _ = signals(batch=(2,))
    x = x.float()
    silent = torch.zeros_like(x)
    assert loss(silent, silent).tolist() == [0.0, 0.0]
    assert loss(silent, x).tolist() == [1.0, 1.0]
    assert loss(x, silent).tolist() == [1.0, 1.0]
    mixed = torch.stack([x[0], silent[1]])
    assert loss(mixed, mixed).tolist() == [0.0, 0.0]
    assert loss(mixed, torch.stack([x[0], x[1]]))[1].item() == 1.0


def test_mrstft_silent_target_in_a_batch_stays_bounded() -> None:
    """A silent target used to give ||S_i|| / (eps sqrt(bins)) ~ 2e5 and swamp the batch mean."""
    x = _clip("speech_male", 16000, 16000)
    g = torch.Generator().manual_seed(0)
    target = torch.stack([x, torch.zeros_like(x)])
    noisy = target + 1e-3 * torch.randn(target.shape, generator=g)
    loss = MultiResolutionSTFTLoss(reduction="none")
    per_item = loss(noisy, target)
    alone = loss(noisy[:1], target[:1])
    print(f"speech alone {float(alone):.4f}, [speech, silence] {per_item.tolist()}")
    assert bool(torch.isfinite(per_item).all())
    assert float(per_item[0]) == pytest.approx(float(alone), rel=1e-5)  # the speech item is untouched
    # the silent item: spectral convergence at most 1 + 1 / sc_floor = 11, plus a log-magnitude
    # term bounded by log(max|S_i| / eps) < log(10 / 1e-7) ~ 18.4
    assert 0 < float(per_item[1]) < 11 + 18.5
    assert float(MultiResolutionSTFTLoss()(noisy, target)) < 15
    assert float(loss(target, target).abs().max()) == 0.0
    # within 20 dB of the target the spectral convergence is the usual one (sc_floor=0)
    original = MultiResolutionSTFTLoss(reduction="none", sc_floor=0.0)
    assert float(original(noisy[:1], target[:1])) == float(alone)
    assert float(original(noisy, target)[1]) > 1e4  # what it was without the floor
