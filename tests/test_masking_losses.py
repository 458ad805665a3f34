"""NMR and the masking-calibrated losses: calibration, physics, gradients, bad input."""

from __future__ import annotations

import math

import pytest
import torch

from percloss.data import load_clip
from percloss.experiments.masking_demo import noise_under_threshold, white_noise_like
from percloss.losses import (
    MaskedFilterbankLoss,
    NoiseModulationLoss,
    PriorityWeightedLoss,
    priority_weights,
)
from percloss.masking import analyse_spectrum, spectrum_db
from percloss.metrics import nmr, snr


def music(seconds: float = 1.0, rate: int = 44100) -> torch.Tensor:
    x = load_clip("piano_bach", rate).double()
    return x[rate : rate + int(seconds * rate)]


def noise(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, generator=g, dtype=torch.float64)


def test_nmr_rises_20_db_per_decade_of_noise() -> None:
    x = music()
    n = noise(len(x))
    levels = [float(nmr(x, x + a * n, 44100).mean_db) for a in (1e-4, 1e-3, 1e-2)]
    assert levels[1] - levels[0] == pytest.approx(20.0, abs=1e-6)
    assert levels[2] - levels[1] == pytest.approx(20.0, abs=1e-6)


def test_nmr_audible_fraction_grows_with_noise() -> None:
    x = music()
    n = noise(len(x))
    fractions = [float(nmr(x, x + a * n, 44100).audible_fraction) for a in (1e-5, 1e-3, 1e-1)]
    assert fractions[0] == 0.0
    assert fractions[2] == 1.0
    assert fractions[0] <= fractions[1] <= fractions[2]


def test_nmr_separates_masked_from_white_noise_at_equal_snr() -> None:
    """Noise shaped under the threshold scores far better than white noise of equal power."""
    x = music(2.0)
    shaped = noise_under_threshold(x, 44100, margin_db=6.0, seed=3)
    white = white_noise_like(shaped, seed=4)
    assert float(snr(x, x + shaped)) == pytest.approx(float(snr(x, x + white)), abs=1e-9)
    r_shaped, r_white = nmr(x, x + shaped, 44100), nmr(x, x + white, 44100)
    assert float(r_shaped.mean_db) < 0.0 < float(r_white.mean_db)
    assert float(r_shaped.audible_fraction) < 0.2 < 0.9 < float(r_white.audible_fraction)


def test_nmr_gradient_flows_to_test() -> None:
    x = music(0.1)
    y = (x + 0.01 * noise(len(x))).requires_grad_(True)
    nmr(x, y, 44100).mean_db.backward()
    assert y.grad is not None and torch.isfinite(y.grad).all() and y.grad.abs().sum() > 0


def test_priority_weights_on_real_music_are_neither_zero_nor_constant() -> None:
    x = music(2.0)
    level = spectrum_db(x)
    w = priority_weights(level, analyse_spectrum(level, 44100).threshold_db)[..., :233]
    assert 0.05 < float(w.mean()) < 5.0
    assert float(w.std()) > 0.5 * float(w.mean())
    assert float((w > 1.0).double().mean()) > 0.02  # lines far above the mask get priority


def test_priority_weight_formula() -> None:
    level = torch.tensor([[60.0, 40.0]], dtype=torch.float64)
    threshold = torch.tensor([[40.0, 40.0]], dtype=torch.float64)
    w = priority_weights(level, threshold)
    assert torch.allclose(w, torch.tensor([[math.log10(101.0), math.log10(2.0)]], dtype=torch.float64))


LOSSES = {
    "priority": lambda: PriorityWeightedLoss(16000),
    "noise_mod_max": lambda: NoiseModulationLoss(16000),
    "noise_mod_mean": lambda: NoiseModulationLoss(16000, aggregate="mean"),
    "masked_fb": lambda: MaskedFilterbankLoss(16000, n_bands=16, n_taps=33),
}


def speech(n: int = 1024) -> torch.Tensor:
    return load_clip("speech_female", 16000).double()[8000 : 8000 + n]


@pytest.mark.parametrize("name", list(LOSSES))
def test_identical_inputs_cost_nothing(name: str) -> None:
    loss = LOSSES[name]().double()
    x = speech()
    assert float(loss(x, x)) == pytest.approx(0.0, abs=1e-9)
    assert float(loss(x + 0.05 * noise(len(x)), x)) > 1e-3


@pytest.mark.parametrize("name", list(LOSSES))
def test_gradcheck(name: str) -> None:
    loss = LOSSES[name]().double()
    target = speech(600)
    x = (target + 0.05 * noise(600, 5)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda s: loss(s, target), (x,), atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("name", list(LOSSES))
def test_batched_equals_item_by_item(name: str) -> None:
    loss = LOSSES[name]().double()
    loss.reduction = "none"
    t = torch.stack([speech(), speech().flip(-1)])
    x = t + 0.03 * torch.stack([noise(1024, 1), noise(1024, 2)])
    both = loss(x, t)
    assert both.shape == (2,)
    for i in range(2):
        assert torch.allclose(both[i], loss(x[i], t[i]), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", list(LOSSES))
def test_silent_target_gives_finite_values_and_gradients(name: str) -> None:
    loss = LOSSES[name]().double()
    x = (0.01 * noise(1024)).requires_grad_(True)
    value = loss(x, torch.zeros(1024, dtype=torch.float64))
    value.backward()
    assert math.isfinite(float(value.detach())) and torch.isfinite(x.grad).all()  # type: ignore[arg-type]


def test_noise_modulation_of_a_silent_target_is_the_error_over_the_threshold_in_quiet() -> None:
    """A silent target leaves only the threshold in quiet as the mask: noise far below it costs nothing,
    audible noise costs more than the same noise under music (it is unmasked), and the value stays finite."""
    silence, x = torch.zeros(22050, dtype=torch.float64), music(0.5)
    loss = NoiseModulationLoss(44100).double()
    assert float(loss(silence + 1e-7 * noise(len(silence)), silence)) == 0.0
    loud_on_silence = float(loss(silence + 1e-2 * noise(len(silence)), silence))
    assert math.isfinite(loud_on_silence) and loud_on_silence > float(loss(x + 1e-2 * noise(len(x)), x))


def test_noise_modulation_ignores_masked_noise_and_punishes_audible_noise() -> None:
    x = music(0.5)
    loss = NoiseModulationLoss(44100).double()
    assert float(loss(x + 1e-6 * noise(len(x)), x)) == 0.0
    assert float(loss(x + 1e-2 * noise(len(x)), x)) > 1.0


def test_masked_filterbank_loss_prefers_masked_error() -> None:
    """Equal-energy errors: one hidden under the piano's spectrum, one white."""
    x = music(0.5, 11025).float()
    loss = MaskedFilterbankLoss(11025, n_bands=64, n_taps=128)
    hidden = 0.05 * x.roll(1)  # error shaped like the music itself
    white = noise(len(x), 7).float()
    white = white * hidden.norm() / white.norm()
    assert float(loss(x + hidden, x)) < 0.5 * float(loss(x + white, x))


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: PriorityWeightedLoss(44100, n_fft=256), "n_fft"),
        (lambda: NoiseModulationLoss(44100, aggregate="median"), "aggregate"),
        (lambda: MaskedFilterbankLoss(4000, n_bands=8, n_taps=16), "too low"),
        (lambda: PriorityWeightedLoss(44100, reduction="avg"), "reduction"),
    ],
)
def test_bad_configuration_is_rejected(make: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()  # type: ignore[operator]


@pytest.mark.parametrize("name", list(LOSSES))
def test_bad_input_is_rejected(name: str) -> None:
    loss = LOSSES[name]()
    x = torch.zeros(1024)
    with pytest.raises(ValueError, match="same shape"):
        loss(x, torch.zeros(1000))
    with pytest.raises(ValueError, match="input contains NaN"):
        loss(torch.full((1024,), float("nan")), x)
    with pytest.raises(ValueError, match="at least 512"):
        loss(torch.zeros(100), torch.zeros(100))
    with pytest.raises(ValueError, match="floating-point"):
        loss(torch.zeros(1024, dtype=torch.int32), x)


def test_nmr_rejects_bad_input() -> None:
    x = torch.zeros(1024)
    with pytest.raises(ValueError, match="same shape"):
        nmr(x, torch.zeros(2, 1024), 44100)
    with pytest.raises(ValueError, match="sample_rate"):
        nmr(x, x, -1)
    with pytest.raises(ValueError, match="test contains NaN"):
        nmr(x, torch.full((1024,), float("inf")), 44100)


def test_noise_under_threshold_is_seeded_and_rejects_stereo() -> None:
    x = music(0.5)
    a = noise_under_threshold(x, 44100, seed=1)
    assert torch.equal(a, noise_under_threshold(x, 44100, seed=1))
    assert not torch.equal(a, noise_under_threshold(x, 44100, seed=2))
    with pytest.raises(ValueError, match="mono"):
        noise_under_threshold(torch.stack([x, x]), 44100)


def test_nmr_gradcheck() -> None:
    ref = speech(600)
    test = (ref + 0.05 * noise(600, 9)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: nmr(ref, t, 16000).mean_db, (test,), atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("loss_cls", [PriorityWeightedLoss, NoiseModulationLoss])
def test_frame_max96_losses_do_not_depend_on_the_signal_level(loss_cls: type) -> None:
    # per-frame normalisation: input, target and error share the target frame's
    # offset, so scaling both signals by any factor leaves the loss unchanged
    g = torch.Generator().manual_seed(3)
    x = load_clip("piano_bach", 44100)[44100 : 44100 + 8192].double()
    y = x + 0.01 * torch.randn(x.shape, generator=g, dtype=torch.float64)
    loss = loss_cls(44100, calibration="frame_max96")
    ref = float(loss(y, x))
    assert ref > 0
    for scale in (0.1, 0.001):
        assert float(loss(scale * y, scale * x)) == pytest.approx(ref, rel=1e-6)
    # under the fixed calibrations the threshold in quiet breaks that invariance
    fixed = loss_cls(44100)
    assert float(fixed(0.001 * y, 0.001 * x)) != pytest.approx(float(fixed(y, x)), rel=1e-3)


def test_masking_losses_reject_an_unknown_calibration() -> None:
    with pytest.raises(ValueError, match="calibration"):
        PriorityWeightedLoss(44100, calibration="96")
    with pytest.raises(ValueError, match="calibration"):
        MaskedFilterbankLoss(11025, n_bands=8, n_taps=32, calibration="spl")
