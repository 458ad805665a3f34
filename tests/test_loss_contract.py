"""The one contract of every loss (percloss.losses): pair checks, reduction, Shape blocks, functional forms."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

import percloss.losses as losses
from percloss.codec_training import CodecLoss

RATE = 16000
N = 4096


def _modules() -> dict[str, Callable[[], nn.Module]]:
    return {
        "MSELoss": lambda: losses.MSELoss(),
        "PerceptualLoss": lambda: losses.PerceptualLoss(RATE, n_bands=8, n_taps=33),
        "MultiResolutionSTFTLoss": lambda: losses.MultiResolutionSTFTLoss((256, 512), (64, 128), (256, 512)),
        "MelLoss": lambda: losses.MelLoss(RATE),
        "MelWeightedLoss": lambda: losses.MelWeightedLoss(RATE),
        "PriorityWeightedLoss": lambda: losses.PriorityWeightedLoss(RATE),
        "NoiseModulationLoss": lambda: losses.NoiseModulationLoss(RATE),
        "MaskedFilterbankLoss": lambda: losses.MaskedFilterbankLoss(RATE, n_bands=8, n_taps=33),
        "EmbeddingDistanceLoss": lambda: losses.EmbeddingDistanceLoss(RATE),
        "CDPAMLoss": lambda: losses.CDPAMLoss(RATE),
        "CodecLoss_D": lambda: CodecLoss("D", RATE),
    }


@pytest.fixture
def isolated_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No pretrained weights: EmbeddingDistanceLoss builds its random-feature control without any file."""
    monkeypatch.setenv("PERCLOSS_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    (tmp_path / "weights").mkdir()


def _pair(n: int = N) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    t = torch.arange(n) / RATE
    target = 0.3 * torch.sin(2 * torch.pi * 440 * t) + 0.05 * torch.randn(n, generator=g)
    return target + 0.02 * torch.randn(n, generator=g), target


@pytest.mark.parametrize("name", list(_modules()))
def test_every_loss_refuses_mismatched_lengths_broadcasting_and_nan(name: str, isolated_weights: None) -> None:
    loss = _modules()[name]()
    x, y = _pair()
    with pytest.raises(ValueError, match=r"input and target must have the same shape|target and input must"):
        loss(x, y[:-100])
    with pytest.raises(ValueError, match="same shape"):
        loss(torch.stack([x, x]), y)  # (2, T) against (T,): refused, not broadcast
    with pytest.raises(ValueError, match="same shape"):
        loss(x, torch.stack([y, y]))
    nan = x.clone()
    nan[10] = float("nan")
    with pytest.raises(ValueError, match="input contains NaN"):
        loss(nan, y)
    with pytest.raises(ValueError, match="target contains NaN"):
        loss(x, nan)


def _public_loss_classes() -> dict[str, type]:
    classes = {name: getattr(losses, name) for name in losses.__all__}
    out = {n: c for n, c in classes.items() if inspect.isclass(c) and issubclass(c, nn.Module)}
    out["CodecLoss"] = CodecLoss
    return out


def _public_loss_functions() -> dict[str, Callable[..., torch.Tensor]]:
    names = [n for n in losses.__all__ if n.endswith("_loss")]
    return {n: getattr(losses, n) for n in names}


def test_the_package_exports_every_loss_class_and_its_functional_form() -> None:
    classes = set(_public_loss_classes())
    assert {"MSELoss", "PerceptualLoss", "MultiResolutionSTFTLoss", "MelLoss", "MelWeightedLoss",
            "PriorityWeightedLoss", "NoiseModulationLoss", "MaskedFilterbankLoss", "EmbeddingDistanceLoss",
            "CDPAMLoss", "CodecLoss"} <= classes
    assert set(_public_loss_functions()) == {
        "mse_loss", "perceptual_loss", "multi_resolution_stft_loss", "mel_loss", "mel_weighted_loss",
        "priority_weighted_loss", "noise_modulation_loss", "masked_filterbank_loss", "embedding_distance_loss"}


@pytest.mark.parametrize("name", [*_public_loss_classes(), *_public_loss_functions()])
def test_every_public_loss_documents_its_shapes(name: str) -> None:
    obj = {**_public_loss_classes(), **_public_loss_functions()}[name]
    doc = inspect.getdoc(obj) or ""
    assert "\nShape:\n" in doc, f"{name}'s docstring has no Shape: block"
    if inspect.isclass(obj) and name != "CDPAMLoss":  # CDPAM takes (time,) or (batch, time) only
        assert "reduction" in doc


@pytest.mark.parametrize("name", ["MSELoss", "PerceptualLoss", "MultiResolutionSTFTLoss", "MelLoss",
                                  "MelWeightedLoss", "PriorityWeightedLoss", "NoiseModulationLoss",
                                  "MaskedFilterbankLoss", "CodecLoss_A", "CodecLoss_B", "CodecLoss_D"])
def test_reduction_none_and_sum_agree_with_mean(name: str) -> None:
    """``"none"`` gives one value per signal; its sum is ``"sum"`` and ``"mean"`` is ``sum / N``."""
    makers: dict[str, Callable[[str], nn.Module]] = {
        "MSELoss": lambda r: losses.MSELoss(reduction=r),
        "PerceptualLoss": lambda r: losses.PerceptualLoss(RATE, n_bands=8, n_taps=33, reduction=r),
        "MultiResolutionSTFTLoss": lambda r: losses.MultiResolutionSTFTLoss((256,), (64,), (256,), reduction=r),
        "MelLoss": lambda r: losses.MelLoss(RATE, reduction=r),
        "MelWeightedLoss": lambda r: losses.MelWeightedLoss(RATE, reduction=r),
        "PriorityWeightedLoss": lambda r: losses.PriorityWeightedLoss(RATE, reduction=r),
        "NoiseModulationLoss": lambda r: losses.NoiseModulationLoss(RATE, reduction=r),
        "MaskedFilterbankLoss": lambda r: losses.MaskedFilterbankLoss(RATE, n_bands=8, n_taps=33, reduction=r),
        "CodecLoss_A": lambda r: CodecLoss("A", RATE, reduction=r),
        "CodecLoss_B": lambda r: CodecLoss("B", RATE, reduction=r),
        "CodecLoss_D": lambda r: CodecLoss("D", RATE, reduction=r),
    }
    make = makers[name]
    x, y = _pair(2048)
    g = torch.Generator().manual_seed(3)
    inputs = torch.stack([x, y + 0.1 * torch.randn(2048, generator=g), y, x.flip(-1)]).double().reshape(2, 2, -1)
    targets = torch.stack([y, y, y, y]).double().reshape(2, 2, -1)
    none = make("none").double()(inputs, targets)
    assert none.shape == (2, 2)
    for i in range(2):
        for j in range(2):  # one signal alone gives its own entry
            torch.testing.assert_close(make("mean").double()(inputs[i, j], targets[i, j]), none[i, j])
    mean = make("mean").double()(inputs, targets)
    total = make("sum").double()(inputs, targets)
    torch.testing.assert_close(total, none.sum())
    torch.testing.assert_close(mean * none.numel(), total)
    if name.startswith("CodecLoss"):
        components = make("none").double().components(inputs, targets)
        assert all(v.shape == (2, 2) for v in components.values())


@pytest.mark.parametrize("name", ["mse_loss", "perceptual_loss", "multi_resolution_stft_loss", "mel_loss",
                                  "mel_weighted_loss", "priority_weighted_loss", "noise_modulation_loss",
                                  "masked_filterbank_loss"])
def test_functional_forms_equal_their_modules(name: str) -> None:
    x, y = _pair()
    xs, ys = torch.stack([x, y.flip(-1)]), torch.stack([y, y])
    pairs: dict[str, tuple[Callable[..., torch.Tensor], nn.Module, dict[str, object]]] = {
        "mse_loss": (losses.mse_loss, losses.MSELoss(), {}),
        "perceptual_loss": (losses.perceptual_loss, losses.PerceptualLoss(RATE, n_bands=8, n_taps=33),
                            {"sample_rate": RATE, "n_bands": 8, "n_taps": 33}),
        "multi_resolution_stft_loss": (losses.multi_resolution_stft_loss, losses.MultiResolutionSTFTLoss(), {}),
        "mel_loss": (losses.mel_loss, losses.MelLoss(RATE), {"sample_rate": RATE}),
        "mel_weighted_loss": (losses.mel_weighted_loss, losses.MelWeightedLoss(RATE), {"sample_rate": RATE}),
        "priority_weighted_loss": (losses.priority_weighted_loss, losses.PriorityWeightedLoss(RATE),
                                   {"sample_rate": RATE}),
        "noise_modulation_loss": (losses.noise_modulation_loss, losses.NoiseModulationLoss(RATE),
                                  {"sample_rate": RATE}),
        "masked_filterbank_loss": (losses.masked_filterbank_loss,
                                   losses.MaskedFilterbankLoss(RATE, n_bands=8, n_taps=33),
                                   {"sample_rate": RATE, "n_bands": 8, "n_taps": 33}),
    }
    function, module, kwargs = pairs[name]
    torch.testing.assert_close(function(xs, ys, **kwargs), module(xs, ys))
    module.reduction = "none"
    torch.testing.assert_close(function(xs, ys, **kwargs, reduction="none"), module(xs, ys))
    with pytest.raises(ValueError, match="reduction"):
        function(xs, ys, **kwargs, reduction="avg")
    with pytest.raises(ValueError, match="same shape"):
        function(xs, y, **kwargs)


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: losses.MelLoss(RATE, n_mels=0), "n_mels"),  # gave NaN
        (lambda: losses.MelLoss(RATE, n_mels=True), "n_mels"),  # was one band
        (lambda: losses.MelWeightedLoss(RATE, n_mels=0), "n_mels"),
        (lambda: losses.MelLoss(RATE, fft_sizes=(256.0, 512)), "fft_sizes"),
        (lambda: losses.MultiResolutionSTFTLoss((256, True), (64, 128), (256, 512)), "fft_sizes"),
        (lambda: losses.MultiResolutionSTFTLoss((256, 512), (64.5, 128), (256, 512)), "hop_sizes"),
        (lambda: losses.PriorityWeightedLoss(RATE, hop=True), "hop"),  # was a hop of 1 sample
        (lambda: losses.NoiseModulationLoss(RATE, hop=2.7), "hop"),  # was 2
        (lambda: losses.MaskedFilterbankLoss(RATE, n_bands=8, n_taps=33, hop="384"), "hop"),
        (lambda: losses.PerceptualLoss(RATE, n_bands=8, n_taps=33, a_weighting="no"), "a_weighting"),  # weighted
        (lambda: CodecLoss("D", RATE, mse_weight=float("nan")), "mse_weight"),  # NaN loss
        (lambda: CodecLoss("C", RATE, priority_weight=True), "priority_weight"),
        (lambda: CodecLoss("D", RATE, noise_weight=-1.0), "noise_modulation_weight"),
    ],
)
def test_settings_that_gave_silent_wrong_results_are_refused(make: Callable[[], nn.Module], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def test_numpy_scalars_are_accepted_as_settings() -> None:
    import numpy as np

    x = torch.sin(torch.arange(N) * 0.05)
    y = x + 0.01 * torch.cos(torch.arange(N) * 0.3)
    plain = losses.MultiResolutionSTFTLoss((256, 512), (64, 128), (256, 512), eps=1e-7)(y, x)
    numpy = losses.MultiResolutionSTFTLoss((np.int64(256), 512), (np.int64(64), 128), (256, 512),
                                           eps=np.float32(1e-7))(y, x)
    assert float(numpy) == pytest.approx(float(plain), rel=1e-6)
    assert float(losses.MelLoss(RATE, fft_sizes=(np.int64(512),), n_mels=np.int32(40))(y, x)) == pytest.approx(
        float(losses.MelLoss(RATE, fft_sizes=(512,), n_mels=40)(y, x)))


def test_codec_loss_d_analyses_the_target_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both masking terms of model D share one model-1 analysis of the target, with unchanged values."""
    import percloss.losses.masking as lm

    torch.manual_seed(0)
    x = 0.1 * torch.randn(2, N)
    y = x + 0.01 * torch.randn(2, N)
    separate = {"priority": float(losses.PriorityWeightedLoss(RATE)(y, x)),
                "noise_modulation": 0.01 * float(losses.NoiseModulationLoss(RATE)(y, x))}
    calls = []
    original = lm._target
    monkeypatch.setattr(lm, "_target", lambda *a: calls.append(1) or original(*a))
    terms = CodecLoss("D", RATE).components(y, x)
    assert len(calls) == 1
    for name, value in separate.items():
        assert float(terms[name]) == pytest.approx(value, rel=1e-6)


def test_spectral_helpers_check_their_input() -> None:
    from percloss.signal import floored_db_pair, stft_power_db

    x = torch.randn(1024)
    with pytest.raises(ValueError, match="x contains NaN"):
        stft_power_db(torch.full((1024,), float("nan")), 256)
    with pytest.raises(ValueError, match="half precision"):
        stft_power_db(x.half(), 256)
    with pytest.raises(ValueError, match="same shape"):
        floored_db_pair(x, x[:1000], 256, -80.0)
    with pytest.raises(ValueError, match="floor_db"):
        floored_db_pair(x, x, 256, 10.0)
