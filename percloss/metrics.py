"""Objective measures: SNR, log-spectral distance, noise-to-mask ratio, PESQ and STOI.

Notebooks: ``notebooks/ch01_deep_audio_prior.py``, ``notebooks/ch02_masking.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ._checks import check_mono_array, check_same_shape, check_sample_rate, check_signal

__all__ = ["snr", "log_spectral_distance", "nmr", "NMRResult", "pesq_wb", "estoi", "dnsmos", "visqol"]


def snr(reference: torch.Tensor, test: torch.Tensor) -> torch.Tensor:
    """Signal-to-noise ratio in dB, ``10 log10(sum ref^2 / sum (test - ref)^2)``.

    ``+inf`` when ``test`` equals ``reference``, silence included (no noise);
    ``-inf`` when ``reference`` is silent and ``test`` is not (no signal).
    Both are scaled by their common peak before squaring, so the value does
    not underflow or overflow for very quiet or very loud signals.

    Shape:
        ``(..., time), (..., time) -> (...)``

    >>> x = torch.ones(100, dtype=torch.float64)
    >>> round(float(snr(x, x + 0.1)), 6)
    20.0
    >>> snr(torch.zeros(4), torch.zeros(4)), snr(torch.zeros(4), torch.ones(4))
    (tensor(inf), tensor(-inf))
    """
    check_signal(reference, "reference")
    check_signal(test, "test")
    check_same_shape(reference, test, "reference", "test")
    error = test - reference
    # SNR is scale-invariant: divide by the common peak (detached) to keep the squares in range
    peak = torch.maximum(reference.detach().abs().amax(-1, keepdim=True), error.detach().abs().amax(-1, keepdim=True))
    scale = torch.where(peak > 0, peak, torch.ones_like(peak))
    signal = (reference / scale).pow(2).sum(-1)
    noise = (error / scale).pow(2).sum(-1)
    exact = noise == 0
    ratio = 10 * torch.log10(signal.masked_fill(exact, 1.0) / noise.masked_fill(exact, 1.0))
    return torch.where(exact, torch.full_like(ratio, torch.inf), ratio)


def log_spectral_distance(
    reference: torch.Tensor,
    test: torch.Tensor,
    sample_rate: int,
    bands: Sequence[tuple[float, float | None]] = ((0.0, None),),
    n_fft: int = 512,
    floor_db: float = -80.0,
) -> torch.Tensor:
    """Log-spectral distance in dB within frequency bands.

    Power spectrograms (Hann, ``n_fft``, hop ``n_fft // 4``) in dB, floored at
    ``floor_db`` below the reference's largest bin; per band, the root mean
    square dB difference over the band's bins, averaged over frames.

    Args:
        reference, test: signals of equal shape.
        sample_rate: in Hz.
        bands: ``(low, high)`` pairs in Hz; ``high=None`` means Nyquist. (Default: whole band)
        n_fft: FFT size. (Default: 512)
        floor_db: dynamic-range floor. (Default: -80)

    Shape:
        ``(..., time), (..., time) -> (..., len(bands))``

    >>> x = torch.sin(torch.arange(4096) * 0.3)
    >>> log_spectral_distance(x, x, 8000)
    tensor([0.])
    """
    rate = check_sample_rate(sample_rate)
    check_signal(reference, "reference", min_length=n_fft)
    check_signal(test, "test", min_length=n_fft)
    check_same_shape(reference, test, "reference", "test")
    freqs = torch.fft.rfftfreq(n_fft, 1 / rate)
    masks = []
    for low, high in bands:
        top = rate / 2 if high is None else high
        if not 0 <= low < top <= rate / 2:
            raise ValueError(f"bands must hold (low, high) with 0 <= low < high <= {rate / 2}, got {(low, high)}")
        masks.append((freqs >= low) & (freqs <= top))
    window = torch.hann_window(n_fft, dtype=reference.dtype, device=reference.device)

    def power_db(x: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(x.reshape(-1, x.shape[-1]), n_fft, n_fft // 4, window=window, return_complex=True)
        return 10 * torch.log10(spec.abs().pow(2) + 1e-20)

    ref_db, test_db = power_db(reference), power_db(test)
    floor = ref_db.amax(dim=(-2, -1), keepdim=True) + floor_db
    diff2 = (ref_db.maximum(floor) - test_db.maximum(floor)).pow(2)  # (batch, bin, frame)
    out = torch.stack([diff2[:, m.to(diff2.device)].mean(-2).sqrt().mean(-1) for m in masks], dim=-1)
    return out.reshape(*reference.shape[:-1], len(masks))


@dataclass
class NMRResult:
    """Noise-to-mask ratio of a test signal against its reference.

    Attributes:
        band_db: NMR per frame and critical band, ``(..., F, B)``.
        frame_db: per frame, dB of the mean ratio over bands, ``(..., F)``.
        mean_db: dB of the mean ratio over frames and bands ("total NMR"), ``(...)``.
        audible_fraction: fraction of frames with a band above 0 dB, ``(...)``.
    """

    band_db: torch.Tensor
    frame_db: torch.Tensor
    mean_db: torch.Tensor
    audible_fraction: torch.Tensor


def nmr(
    reference: torch.Tensor,
    test: torch.Tensor,
    sample_rate: int,
    n_fft: int = 512,
    hop: int | None = None,
    calibration: str = "iso",
) -> NMRResult:
    """Noise-to-mask ratio (Brandenburg 1987) with MPEG-1 model 1 as the mask.

    The noise ``test - reference`` and the reference's global masking threshold
    are compared per critical band of model 1: ``sum_k P_noise(k) / sum_k M(k)``
    over the band's lines, in each frame. Both use one level calibration
    (:func:`percloss.masking.spectrum_db`; default ``"iso"``, the standard's:
    a full-scale sinusoid reads 82.52 dB SPL; with ``"frame_max96"`` the noise
    takes the reference frame's offset), so NMR is relative to a playback
    level; 0 dB means noise just at the threshold.
    Identical signals give about -300 dB (the level floor). Differentiable in ``test``.

    Args:
        reference, test: signals ``(..., time)`` of equal shape, at least ``n_fft`` samples.
        sample_rate: Hz (>= 8000).
        n_fft: 512 or 1024. (Default: 512)
        hop: frame advance. (Default: the standard's)
        calibration: ``"iso"``, ``"sine96"`` or ``"frame_max96"``. (Default: ``"iso"``)

    >>> x = 0.5 * torch.sin(torch.arange(8192) * 0.2)
    >>> r = nmr(x, x + 1e-4 * torch.sin(torch.arange(8192) * 0.21), 44100)
    >>> bool(r.mean_db < 0), float(r.audible_fraction)
    (True, 0.0)
    """
    from .masking import (
        _check_hop,
        analyse_spectrum,
        calibrated_spectrum_db,
        check_calibration,
        check_n_fft,
    )

    rate = check_sample_rate(sample_rate)
    n_fft = check_n_fft(n_fft)
    hop = _check_hop(hop, n_fft)
    calibration = check_calibration(calibration)
    check_signal(reference, "reference", min_length=n_fft)
    check_signal(test, "test", min_length=n_fft)
    check_same_shape(reference, test, "reference", "test")
    with torch.no_grad():
        level, offset = calibrated_spectrum_db(reference, n_fft, hop, calibration)
        analysis = analyse_spectrum(level, rate, n_fft)
    t = analysis.tables
    # the noise on the reference's scale (its frames' offsets under "frame_max96")
    noise_db = calibrated_spectrum_db(test - reference, n_fft, hop, calibration, offset)[0]
    noise_power = torch.pow(10.0, noise_db / 10.0)
    mask_power = torch.pow(10.0, analysis.threshold_db / 10.0)
    member = torch.as_tensor(t.band_membership, dtype=reference.dtype, device=reference.device)
    ratio = (noise_power @ member) / (mask_power @ member)
    return NMRResult(
        band_db=10 * torch.log10(ratio),
        frame_db=10 * torch.log10(ratio.mean(-1)),
        mean_db=10 * torch.log10(ratio.mean(dim=(-2, -1))),
        audible_fraction=(ratio.amax(-1) > 1.0).to(reference.dtype).mean(-1),
    )


def _as_numpy_pair(reference: object, degraded: object) -> tuple[Any, Any]:
    ref, deg = check_mono_array(reference, "reference"), check_mono_array(degraded, "degraded")
    if len(ref) != len(deg):
        raise ValueError(f"reference and degraded must have the same length, got {len(ref)} and {len(deg)}")
    return ref, deg


def pesq_wb(reference: object, degraded: object, sample_rate: int = 16000) -> float:
    """Wide-band PESQ (ITU-T P.862.2) MOS-LQO, 1.04 .. 4.64, via the ``pesq`` package.

    Args:
        reference, degraded: mono speech ``(time,)`` at 16 kHz, equal lengths.
        sample_rate: must be 16000 (wide-band PESQ is defined at 16 kHz).

    Raises:
        ValueError: wrong rate, shapes or lengths, or a signal PESQ cannot
            analyse (e.g. silence: "no utterances detected").
    """
    from pesq import pesq
    from pesq.cypesq import PesqError

    if sample_rate != 16000:
        raise ValueError(f"sample_rate must be 16000 for wide-band PESQ, got {sample_rate!r}; resample first")
    ref, deg = _as_numpy_pair(reference, degraded)
    try:
        return float(pesq(16000, ref, deg, "wb"))
    except PesqError as err:
        raise ValueError(f"PESQ cannot score these signals: {err}") from None


def estoi(reference: object, degraded: object, sample_rate: int) -> float:
    """Extended STOI (Jensen and Taal 2016) in [0, 1] via ``pystoi``; resamples to 10 kHz internally."""
    from pystoi import stoi

    rate = check_sample_rate(sample_rate)
    ref, deg = _as_numpy_pair(reference, degraded)
    if len(ref) < rate // 4:
        raise ValueError(f"signals must be at least 0.25 s long for STOI, got {len(ref)} samples")
    return float(stoi(ref, deg, rate, extended=True))


def dnsmos(degraded: object, sample_rate: int = 16000) -> dict[str, float]:
    """Non-intrusive DNSMOS P.835 (SIG, BAK, OVRL) and P.808 MOS of speech.

    Microsoft's DNSMOS ONNX models as shipped in the ``speechmos`` package
    (pretrained; run with onnxruntime). Speech at 16 kHz, at least 1 s;
    no reference is used.
    """
    import numpy as np
    from speechmos import dnsmos as _dnsmos

    if sample_rate != 16000:
        raise ValueError(f"sample_rate must be 16000 for DNSMOS, got {sample_rate!r}; resample first")
    x = check_mono_array(degraded, "degraded")
    if len(x) < 16000:
        raise ValueError(f"degraded must be at least 1 s (16000 samples) for DNSMOS, got {len(x)}")
    peak = float(np.abs(x).max())
    if peak > 1.0:
        raise ValueError(f"degraded must lie in [-1, 1] for DNSMOS, peak is {peak:.3f}")
    out = _dnsmos.run(x, 16000)
    return {"ovrl": float(out["ovrl_mos"]), "sig": float(out["sig_mos"]), "bak": float(out["bak_mos"]),
            "p808": float(out["p808_mos"])}


_VISQOL: dict[str, Any] = {}
# Shortest input ViSQOL scores, in samples at its own rate: 45 frames of 1024
# samples (audio, 48 kHz) and 40 frames of 256 samples (speech, 16 kHz);
# shorter inputs fail inside visqol-python (IndexError or a patch-size error).
VISQOL_MIN_SAMPLES = {"audio": 46080, "speech": 10240}
# ViSQOL floors its gammatone spectrogram at -45 dB (full scale = 1): a
# reference whose peak lies below it is all floor and scores near the top.
VISQOL_MIN_PEAK_DB = -45.0


def visqol(reference: object, degraded: object, sample_rate: int, mode: str = "audio") -> float:
    """ViSQOL v3 MOS-LQO via ``visqol-python`` (its bundled, pretrained mapping models).

    ``mode="audio"`` expects 48 kHz (other rates are resampled, soxr);
    ``mode="speech"`` expects 16 kHz (likewise). Equal lengths required.

    ViSQOL scales ``degraded`` to the level of ``reference`` and compares
    gammatone spectrograms floored at -45 dB (absolute, full scale = 1), so:

    Raises:
        ValueError: ``reference`` is silent or so quiet that its peak is below
            -45 dBFS (it would lie wholly under ViSQOL's floor and score near
            the top, 5.0, whatever ``degraded`` is; scale both signals by the
            same gain, ViSQOL ignores their relative level anyway);
            ``degraded`` is silent (it cannot be scaled to the reference's
            level; visqol-python returns NaN); the signals are shorter than
            0.96 s (audio) or 0.64 s (speech); or visqol-python cannot score
            them. The result is never NaN.
    """
    import numpy as np

    from .data import resample

    rate = check_sample_rate(sample_rate)
    if mode not in ("audio", "speech"):
        raise ValueError(f"mode must be 'audio' or 'speech', got {mode!r}")
    ref, deg = _as_numpy_pair(reference, degraded)
    target = 48000 if mode == "audio" else 16000
    shortest = math.ceil(VISQOL_MIN_SAMPLES[mode] * rate / target)
    if len(ref) < shortest:
        raise ValueError(
            f"reference and degraded must be at least {VISQOL_MIN_SAMPLES[mode] / target:g} s long for ViSQOL "
            f"{mode} mode ({shortest} samples at {rate} Hz), got {len(ref)} samples"
        )
    peak = float(np.abs(ref).max())
    if peak == 0:
        raise ValueError("reference is silent: ViSQOL has no meaningful score against a silent reference")
    peak_db = 20 * math.log10(peak)
    if peak_db < VISQOL_MIN_PEAK_DB:
        raise ValueError(
            f"reference is too quiet for ViSQOL: its peak, {peak_db:.1f} dBFS, is below ViSQOL's "
            f"{VISQOL_MIN_PEAK_DB:g} dB spectrogram floor, so any degraded signal would score near the top; "
            "scale both signals by the same gain"
        )
    if not np.any(deg):
        raise ValueError("degraded is silent: ViSQOL scales it to the reference's level, which silence has none of")
    if rate != target:
        ref, deg = resample(ref, rate, target), resample(deg, rate, target)
    if mode not in _VISQOL:
        import logging

        from visqol.api import VisqolApi

        logging.getLogger("visqol").setLevel(logging.ERROR)
        api = VisqolApi()
        if mode == "speech":
            api.create(mode="speech", use_lattice_model=False)
        else:
            api.create(mode="audio")
        _VISQOL[mode] = api
    try:
        score = float(_VISQOL[mode].measure_from_arrays(ref, deg, target).moslqo)
    except IndexError as err:  # visqol-python's own failure on signals it cannot analyse
        raise ValueError(f"ViSQOL cannot score these signals: {err!r}") from None
    if not math.isfinite(score):
        raise ValueError(f"ViSQOL returned {score} for these signals")
    return score
