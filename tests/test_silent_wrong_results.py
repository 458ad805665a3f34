"""Inputs that once gave a silent wrong result: each now gets a correct result or a clear ValueError."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from percloss import anchors, data
from percloss.filterbank import mel_triangles
from percloss.metrics import log_spectral_distance
from percloss.signal import middle, resample_audio


@pytest.fixture(scope="module")
def speech() -> torch.Tensor:
    x, _ = data.load_wav(data.clips_dir() / "speech_male.wav")
    return x.double()[:16000]


def test_resample_refuses_anything_but_mono() -> None:
    stereo = np.random.default_rng(0).standard_normal((2, 1000))
    with pytest.raises(ValueError, match=r"x must be mono with shape \(time,\)"):
        resample_audio(stereo, 16000, 8000)  # once: resampled along the wrong axis, returned (1, 1000)
    assert resample_audio(stereo[0], 16000, 8000).shape == (500,)


def test_mp3_refuses_rates_lame_does_not_code() -> None:
    x = np.sin(np.arange(96000) * 0.05) * 0.5
    for rate in (96000, 192000):  # once: decoded at 48 kHz, returned misaligned (correlation 0.38 / 0.11)
        with pytest.raises(ValueError, match="sample_rate must be between 8000 and 48000 Hz"):
            anchors.mp3(x, rate, 128)


def test_middle_and_align_refuse_negative_lengths() -> None:
    with pytest.raises(ValueError, match="length"):
        middle(np.arange(10), -2)  # once: an empty array
    with pytest.raises(ValueError, match="max_lag"):
        anchors.align(np.ones(10), np.ones(10), max_lag=-1)


def test_log_spectral_distance_does_not_depend_on_level_or_dtype(speech: torch.Tensor) -> None:
    """A pair's LSD is the same at any level (it compares dB spectra floored under the reference's peak), in
    float32 as in float64: once 13.5 dB at 1e-8 and 9e-5 dB at 1e-12 for a pair at 16.5 dB at unit scale."""
    noisy = speech + 0.05 * torch.randn(len(speech), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    unit = float(log_spectral_distance(speech, noisy, 16000)[0])
    for scale in (1e-4, 1e-8, 1e-12):
        for dtype in (torch.float64, torch.float32):
            got = log_spectral_distance((speech * scale).to(dtype), (noisy * scale).to(dtype), 16000)
            assert got.dtype == dtype and float(got[0]) == pytest.approx(unit, rel=1e-3), (scale, dtype)


def test_log_spectral_distance_refuses_a_band_without_fft_lines(speech: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="bands.*holds no FFT line"):  # 31.25 Hz lines: 100-110 Hz holds none
        log_spectral_distance(speech, speech, 16000, bands=((100.0, 110.0),))


def test_estoi_refuses_a_silent_reference(speech: torch.Tensor) -> None:
    from percloss.scorers import estoi

    silence = np.zeros(len(speech))
    with pytest.raises(ValueError, match="reference is digitally silent"):
        estoi(silence, speech.numpy(), 16000)
    with pytest.raises(ValueError, match="reference is digitally silent"):
        estoi(silence, silence, 16000)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_fft": 0}, "n_fft"), ({"n_fft": 1}, "n_fft"), ({"sample_rate": 0}, "sample_rate"),
        ({"n_mels": 0}, "n_mels"), ({"n_mels": True}, "n_mels"), ({"f_min": 5000.0, "f_max": 1000.0}, "f_min"),
        ({"f_max": 9000.0}, "f_max"), ({"f_min": -1.0}, "f_min"), ({"n_mels": 200}, "empty"),
    ],
)
def test_mel_triangles_validate_their_arguments(kwargs: dict, match: str) -> None:
    args = {"n_fft": 256, "sample_rate": 16000, "n_mels": 40, **kwargs}
    with pytest.raises(ValueError, match=match):
        mel_triangles(**args)


def test_mel_loss_with_more_bands_than_lines_warns_as_librosa_does() -> None:
    from percloss.losses import MelLoss

    with pytest.warns(UserWarning, match=r"\d+ of the n_mels=1000 mel triangles are empty at n_fft=256"):
        MelLoss(16000, fft_sizes=(256,), n_mels=1000)  # once: ran with most triangles empty, no word


def test_cdpam_refuses_pcm_scaled_audio(speech: torch.Tensor) -> None:
    """CDPAM assumes [-1, 1]: int16-scaled audio once gave 0.0066 for a pair that scores 0.68 in range."""
    pytest.importorskip("cdpam")
    from percloss.losses import cdpam_distance

    x = speech.float()[:22050]
    with pytest.raises(ValueError, match=r"test's peak is [0-9.]+: CDPAM takes audio at full scale"):
        cdpam_distance(x, x * 32767, 16000)
    with pytest.raises(ValueError, match="reference's peak"):
        cdpam_distance(x * 7, x, 16000)


def test_amplitudes_whose_power_overflows_are_refused(speech: torch.Tensor) -> None:
    """1e30 full scale once gave NaN or Inf from the losses, model 1 and NMR; now a ValueError naming the argument."""
    from percloss.losses import MelLoss, MultiResolutionSTFTLoss, PerceptualLoss
    from percloss.masking import psychoacoustic_model1
    from percloss.metrics import nmr

    x = speech.float()[:8192]
    huge = x * 1e30
    calls = [
        (lambda: MultiResolutionSTFTLoss()(huge, x), "input's peak"),
        (lambda: MelLoss(16000, fft_sizes=(512, 1024))(x, huge), "target's peak"),
        (lambda: PerceptualLoss(16000, n_bands=64, n_taps=64)(huge, x), "input's peak"),
        (lambda: psychoacoustic_model1(huge, 16000), "peak"),
        (lambda: nmr(x.double(), huge.double(), 16000), "test's peak"),
    ]
    for call, match in calls:
        with pytest.raises(ValueError, match=match + ".*not representable"):
            call()
    assert torch.isfinite(MultiResolutionSTFTLoss()(x * 1e6, x))  # loud but representable: a number


def test_model_1_refuses_levels_whose_power_overflows() -> None:
    """A flat 1e6 dB spectrum once got the threshold in quiet (every masker lost to overflow)."""
    from percloss.masking import analyse_spectrum

    with pytest.raises(ValueError, match="level_db reaches 1e\\+06 dB SPL"):
        analyse_spectrum(torch.full((1, 257), 1e6, dtype=torch.float64), 44100, 512)
    loud = analyse_spectrum(torch.full((1, 257), 250.0, dtype=torch.float64), 44100, 512)
    assert float(loud.global_threshold_db.min()) > 200  # loud but representable: masked far above quiet


def test_visqol_refuses_pcm_scaled_audio(speech: torch.Tensor) -> None:
    """ViSQOL's spectrogram floor is absolute (-45 dB re full scale 1.0): int16-scaled audio sits far above it."""
    from percloss.scorers import visqol

    x = speech.numpy()
    with pytest.raises(ValueError, match=r"reference's peak is [0-9.]+: ViSQOL's floor is absolute"):
        visqol(x * 32767, x * 32767, 16000, "speech")


def test_pesq_and_estoi_are_right_on_pcm_scaled_audio() -> None:
    """PESQ aligns levels and ESTOI normalises its frames, so int16-scaled floats (the mistake CDPAM and
    ViSQOL refuse) give the full-scale scores: a correct result, not a silent wrong one."""
    from percloss import scorers

    x = data.load_clip("speech_male", 16000).numpy()[:48000].astype(np.float64)
    y = x + 0.01 * np.random.default_rng(0).standard_normal(len(x))
    full = scorers.pesq_wb(x, y), scorers.estoi(x, y, 16000)
    assert 1.0 < full[0] < 4.0 and 0.5 < full[1] < 1.0  # a degradation the measures see
    for scale in (32767.0, 1e-3):
        scaled = scorers.pesq_wb(scale * x, scale * y), scorers.estoi(scale * x, scale * y, 16000)
        assert scaled[0] == pytest.approx(full[0], abs=1e-6)
        assert scaled[1] == pytest.approx(full[1], abs=1e-9)
