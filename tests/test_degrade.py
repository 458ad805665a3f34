"""Degradations: properties from signal processing, determinism, bad input;
PESQ and STOI wrappers on real speech."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from percloss import data
from percloss.degrade import (
    DEGRADATIONS,
    add_noise,
    bandlimit,
    clip,
    degrade,
    mp3,
    peak_normalize,
    quantize,
    reverberate,
    room_impulse_response,
)
from percloss.scorers import estoi, pesq_wb

RATE = 16000


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return peak_normalize(data.load_clip("speech_male", RATE).double().numpy())


def test_noise_sigma_is_measured_back(speech: np.ndarray) -> None:
    for sigma in DEGRADATIONS["noise"]:
        residual = add_noise(speech, sigma, seed=3) - speech
        assert residual.std() == pytest.approx(sigma, rel=0.02)
        assert abs(residual.mean()) < 4 * sigma / np.sqrt(len(speech))


def test_degradations_are_deterministic_for_a_seed(speech: np.ndarray) -> None:
    assert np.array_equal(degrade(speech, "noise", 0.01, seed=1), degrade(speech, "noise", 0.01, seed=1))
    assert not np.array_equal(degrade(speech, "noise", 0.01, seed=1), degrade(speech, "noise", 0.01, seed=2))
    assert np.array_equal(degrade(speech, "mp3", 16), degrade(speech, "mp3", 16))


def band_energy(x: np.ndarray, low_hz: float) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / RATE)
    return float(spec[f > low_hz].sum() / spec.sum())


@pytest.mark.parametrize("factor", DEGRADATIONS["bitrate"])
def test_bandlimit_removes_content_above_the_new_nyquist(speech: np.ndarray, factor: int) -> None:
    y = bandlimit(speech, factor)
    assert len(y) == len(speech)
    nyquist = RATE / 2 / factor
    assert band_energy(y, 1.1 * nyquist) < 1e-5
    assert band_energy(speech, 1.1 * nyquist) > 1e-3  # there was something to remove
    below = np.fft.rfftfreq(len(y), 1 / RATE) < 0.8 * nyquist
    ratio = np.abs(np.fft.rfft(y))[below].sum() / np.abs(np.fft.rfft(speech))[below].sum()
    assert ratio == pytest.approx(1.0, abs=0.02)  # and the passband is kept


@pytest.mark.parametrize("bits", DEGRADATIONS["bitdepth"])
def test_quantize_leaves_at_most_2_to_the_bits_minus_1_levels(speech: np.ndarray, bits: int) -> None:
    step = 1.0 / (2 ** (bits - 1) - 1)  # the report's step (create_compressed_audio)
    y = quantize(speech, bits)
    assert len(np.unique(y)) <= 2**bits - 1
    assert np.abs(y - speech).max() <= step / 2 * (1 + 1e-9)  # half a step, nothing clipped inside [-1, 1]
    codes = y / step
    assert np.allclose(codes, np.round(codes), atol=1e-9)  # every output is a multiple of the step
    assert len(np.unique(degrade(speech, "bitdepth", bits))) <= 2**bits - 1


@pytest.mark.parametrize(
    "bits,levels",
    [(2, [-1.0, 0.0, 1.0]), (3, [-1.0, -2 / 3, -1 / 3, 0.0, 1 / 3, 2 / 3, 1.0])],
)
def test_quantize_follows_the_reports_symmetric_step(bits: int, levels: list[float]) -> None:
    # step 1 / (2**(bits-1) - 1): 2**bits - 1 levels, symmetric, +-1 representable
    # (the old step 2**-(bits-1) gave {-1, -0.5, 0, 0.5} for 2 bits: no +1)
    x = np.linspace(-1.0, 1.0, 20001)
    out = np.unique(quantize(x, bits))
    assert len(out) == len(levels) == 2**bits - 1
    assert np.allclose(out, levels, rtol=0, atol=1e-12)
    assert quantize(np.array([1.0, -1.0]), bits).tolist() == [1.0, -1.0]
    assert quantize(np.array([1.7, -3.0]), bits).tolist() == [1.0, -1.0]  # clipped to full scale
    step = 1.0 / (2 ** (bits - 1) - 1)
    # thresholds half-way between levels: just below rounds down, just above rounds up
    assert quantize(np.array([step / 2 - 1e-9, step / 2 + 1e-9]), bits).tolist() == pytest.approx([0.0, step])


def test_quantize_matches_the_reports_code_on_real_speech(speech: np.ndarray) -> None:
    for bits in (4, 8, 12, 16):
        max_val = 2 ** (bits - 1) - 1
        step = 1.0 / max_val
        expected = np.clip(np.round(speech / step) * step, -1.0, 1.0)
        assert np.array_equal(quantize(speech, bits), expected)


@pytest.mark.parametrize("fraction", DEGRADATIONS["clipping"])
def test_clipping_caps_the_peak(speech: np.ndarray, fraction: float) -> None:
    y = clip(speech, fraction)
    assert np.abs(y).max() == pytest.approx(fraction * np.abs(speech).max())
    small = np.abs(speech) < fraction * np.abs(speech).max()
    assert np.array_equal(y[small], speech[small])


def test_reverberation_follows_its_rt60() -> None:
    for rt60 in DEGRADATIONS["reverb"][:2]:
        h = room_impulse_response(RATE, rt60)
        energy = np.cumsum(h[::-1] ** 2)[::-1]  # Schroeder backward integration
        decay_db = 10 * np.log10(energy / energy[0])
        t = np.arange(len(h)) / RATE
        fit = (decay_db < -5) & (decay_db > -25)  # T20, extrapolated to 60 dB
        slope = np.polyfit(t[fit], decay_db[fit], 1)[0]
        assert -60 / slope == pytest.approx(rt60, rel=0.35)
        assert np.argmax(np.abs(h)) == 0  # aligned on the direct path


def test_reverberation_keeps_length_and_alignment(speech: np.ndarray) -> None:
    y = reverberate(speech, RATE, 0.3)
    assert len(y) == len(speech)
    lag = np.argmax(np.correlate(y[:8000], speech[:8000], mode="full")) - 7999
    assert abs(lag) <= 2


@pytest.mark.parametrize("kbps", DEGRADATIONS["mp3"])
def test_mp3_is_decodable_aligned_and_of_the_right_length(speech: np.ndarray, kbps: int) -> None:
    y = mp3(speech, RATE, kbps)
    assert len(y) == len(speech)
    seg = slice(8000, 24000)
    corr = [np.dot(np.roll(y, s)[seg], speech[seg]) for s in range(-3, 4)]
    assert int(np.argmax(corr)) == 3  # best alignment at lag 0
    err = np.sum((y - speech) ** 2) / np.sum(speech**2)
    assert err < (0.1 if kbps >= 16 else 0.6)


def test_more_degradation_gives_lower_pesq_and_stoi_on_real_speech(speech: np.ndarray) -> None:
    for kind in ("noise", "bitrate", "bitdepth", "clipping", "mp3"):
        scores = [(pesq_wb(speech, degrade(speech, kind, lvl)), estoi(speech, degrade(speech, kind, lvl), RATE))
                  for lvl in DEGRADATIONS[kind]]
        pesqs, stois = zip(*scores, strict=True)
        assert list(pesqs) == sorted(pesqs, reverse=True), (kind, pesqs)
        assert list(stois) == sorted(stois, reverse=True), (kind, stois)


def test_identical_signals_get_the_top_scores(speech: np.ndarray) -> None:
    assert pesq_wb(speech, speech) == pytest.approx(4.644, abs=1e-3)
    assert estoi(speech, speech, RATE) == pytest.approx(1.0, abs=1e-9)
    assert estoi(torch.from_numpy(speech), torch.from_numpy(speech), RATE) == pytest.approx(1.0, abs=1e-9)


def test_metric_wrappers_reject_bad_input(speech: np.ndarray) -> None:
    with pytest.raises(ValueError, match="16000"):
        pesq_wb(speech, speech, 8000)
    with pytest.raises(ValueError, match="same length"):
        pesq_wb(speech, speech[:-10])
    with pytest.raises(ValueError, match="same length"):
        estoi(speech, speech[:-10], RATE)
    with pytest.raises(ValueError, match="cannot score"):
        pesq_wb(np.zeros(RATE), np.zeros(RATE))
    with pytest.raises(ValueError, match="mono"):
        estoi(np.stack([speech, speech]), np.stack([speech, speech]), RATE)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda x: degrade(x, "wow", 1), "kind"),
        (lambda x: add_noise(x, -0.1), "sigma"),
        (lambda x: bandlimit(x, 0), "factor"),
        (lambda x: quantize(x, 0), "bits"),
        (lambda x: quantize(x, 1), "bits"),  # the report's step 1 / (2**0 - 1) is undefined
        (lambda x: quantize(x, 2.0), "bits"),
        (lambda x: clip(x, 1.5), "fraction"),
        (lambda x: reverberate(x, RATE, 10.0), "rt60"),
        (lambda x: reverberate(x, RATE, 0.05), "rt60"),  # drier than the room can be
        (lambda x: add_noise(x, True), "sigma"),  # bool is not a number
        (lambda x: clip(x, np.nan), "fraction"),
        (lambda x: bandlimit(x, True), "factor"),
        (lambda x: degrade(x, "bitrate", 2.7), "whole number"),  # not silently 2
        (lambda x: degrade(x, "noise", True), "level"),
        (lambda x: mp3(x, RATE, 3), "bitrate_kbps"),
        (lambda x: degrade(np.stack([x, x]), "noise", 0.1), "mono"),
        (lambda x: degrade(np.full(10, np.nan), "noise", 0.1), "NaN"),
        (lambda x: degrade(x.astype(np.int16), "noise", 0.1), "floating-point"),
        (lambda x: degrade(x, "noise", 0.1, sample_rate=0), "sample_rate"),
    ],
)
def test_bad_parameters_get_a_clear_error(speech: np.ndarray, call: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call(speech)  # type: ignore[operator]


def test_numpy_scalars_are_numbers(speech: np.ndarray) -> None:
    """Levels read from arrays or tables (numpy scalars) work like Python numbers."""
    np.testing.assert_array_equal(add_noise(speech, np.float32(0.25), seed=1), add_noise(speech, 0.25, seed=1))
    np.testing.assert_array_equal(quantize(speech, np.int64(4)), quantize(speech, 4))
    np.testing.assert_array_equal(bandlimit(speech, np.int32(2)), bandlimit(speech, 2))
    np.testing.assert_array_equal(clip(speech, np.float32(0.5)), clip(speech, 0.5))
    np.testing.assert_array_equal(degrade(speech, "bitdepth", np.float64(8.0)), degrade(speech, "bitdepth", 8))


def test_reverberation_over_its_whole_documented_range() -> None:
    from percloss.degrade import RT60_RANGE

    for rt60 in RT60_RANGE:
        h = room_impulse_response(RATE, rt60)
        assert np.isfinite(h).all() and np.abs(h).max() == pytest.approx(1.0)
