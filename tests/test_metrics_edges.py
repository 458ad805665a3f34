"""Edge cases of the objective measures: silence, very quiet signals, too-short input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from percloss import data
from percloss.metrics import snr
from percloss.scorers import visqol

# the shortest input visqol-python scores, in samples at its own rate (measured by bisection)
MIN_SAMPLES = {"audio": 46080, "speech": 10240}


def _speech(rate: int, seconds: float) -> np.ndarray:
    return data.load_clip("speech_male", rate)[: int(rate * seconds)].double().numpy()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_snr_of_silence(dtype: torch.dtype) -> None:
    """Identical signals, silence included, have no noise: +inf. A silent reference has no signal: -inf."""
    silent = torch.zeros(3, 1000, dtype=dtype)
    x = torch.from_numpy(_speech(16000, 1000 / 16000)).to(dtype)
    assert snr(silent, silent).tolist() == [math.inf] * 3
    assert float(snr(x, x)) == math.inf
    assert float(snr(silent[0], x)) == -math.inf
    # mixed batch: each row keeps its own value
    ref = torch.stack([x, torch.zeros_like(x), torch.zeros_like(x)])
    test = torch.stack([x + 0.1 * x, torch.zeros_like(x), x])
    out = snr(ref, test)
    assert float(out[0]) == pytest.approx(20.0, abs=1e-4)
    assert out[1:].tolist() == [math.inf, -math.inf]


def test_snr_of_very_quiet_signals_does_not_underflow() -> None:
    """The squares of 1e-25 underflow float32; the ratio must not (was 0/0 = NaN)."""
    x = torch.from_numpy(_speech(16000, 0.5)).float()
    expected = float(snr(x.double(), 1.1 * x.double()))
    assert expected == pytest.approx(20.0, abs=1e-6)
    for level in (1e-10, 1e-25, 1e-40):
        got = float(snr(level * x, level * 1.1 * x))
        assert got == pytest.approx(expected, abs=0.01), level


@pytest.mark.parametrize("mode", ["speech", "audio"])
def test_visqol_rejects_a_silent_or_inaudible_reference(mode: str) -> None:
    """Was 5.0 (audio mode 4.73, the top of its scale) against noisy speech, and NaN against silence."""
    x = _speech(16000, 1.5)
    noisy = x + 0.05 * np.random.default_rng(0).standard_normal(len(x))
    silent = np.zeros_like(x)
    with pytest.raises(ValueError, match="reference is silent"):
        visqol(silent, noisy, 16000, mode)
    with pytest.raises(ValueError, match="reference is silent"):
        visqol(silent, silent, 16000, mode)
    # speech at a peak of -60 dBFS lies wholly under ViSQOL's -45 dB floor (scored 4.9 before)
    with pytest.raises(ValueError, match=r"reference is too quiet.*-60\.0 dBFS"):
        visqol(x / np.abs(x).max() * 1e-3, noisy, 16000, mode)
    with pytest.raises(ValueError, match="degraded is silent"):
        visqol(x, silent, 16000, mode)


@pytest.mark.parametrize(("mode", "rate", "seconds"), [("speech", 16000, "0.64"), ("audio", 48000, "0.96"),
                                                       ("audio", 16000, "0.96")])
def test_visqol_states_its_minimum_length(mode: str, rate: int, seconds: str) -> None:
    """0.1 s raised IndexError (speech mode); the stated minimum is exactly what ViSQOL scores."""
    target = 48000 if mode == "audio" else 16000
    shortest = math.ceil(MIN_SAMPLES[mode] * rate / target)
    assert shortest / rate == pytest.approx(float(seconds))
    x = _speech(rate, 1.0)
    noisy = x + 0.05 * np.random.default_rng(1).standard_normal(len(x))
    for n in (int(0.1 * rate), shortest - 1):
        with pytest.raises(ValueError, match=rf"at least {seconds} s .*\({shortest} samples at {rate} Hz\)"):
            visqol(x[:n], noisy[:n], rate, mode)
    score = visqol(x[:shortest], noisy[:shortest], rate, mode)
    assert 1.0 <= score < 4.5


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_gets_a_clear_error_everywhere(dtype: torch.dtype) -> None:
    """Half-precision audio is refused with the dtype named (no cryptic FFT error, no silent rounding)."""
    from percloss.codec_training import CodecLoss
    from percloss.losses import (
        MaskedFilterbankLoss,
        MultiResolutionSTFTLoss,
        NoiseModulationLoss,
        PerceptualLoss,
        PriorityWeightedLoss,
    )
    from percloss.masking import psychoacoustic_model1, spectrum_db
    from percloss.metrics import log_spectral_distance, nmr, snr

    x = (0.1 * torch.sin(torch.arange(8192) * 0.05)).to(dtype)
    y = (x.float() + 0.01).to(dtype)
    calls = {
        "PerceptualLoss": lambda: PerceptualLoss(16000)(y, x),
        "MultiResolutionSTFTLoss": lambda: MultiResolutionSTFTLoss()(y, x),
        "PriorityWeightedLoss": lambda: PriorityWeightedLoss(32000)(y, x),
        "NoiseModulationLoss": lambda: NoiseModulationLoss(32000)(y, x),
        "MaskedFilterbankLoss": lambda: MaskedFilterbankLoss(16000)(y, x),
        "CodecLoss": lambda: CodecLoss("D", 32000)(y, x),
        "spectrum_db": lambda: spectrum_db(x),
        "psychoacoustic_model1": lambda: psychoacoustic_model1(x, 32000),
        "nmr": lambda: nmr(x, y, 32000),
        "snr": lambda: snr(x, y),
        "log_spectral_distance": lambda: log_spectral_distance(x, y, 32000),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match="half precision"):
            call()
            pytest.fail(f"{name} accepted {dtype}")
