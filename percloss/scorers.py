"""Scores computed by external tools: wide-band PESQ, ESTOI, DNSMOS and ViSQOL.

Not differentiable: each takes mono numpy arrays (or tensors, converted) and
returns floats; each tool is imported on first use. The differentiable
measures on tensors (SNR, log-spectral distance, noise-to-mask ratio) are in
:mod:`percloss.metrics`.

Notebooks: ``notebooks/ch03_quality_metrics.py``, ``notebooks/ch04_codec.py``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._checks import check_mono_array, check_sample_rate
from .signal import resample_audio

__all__ = ["pesq_wb", "estoi", "dnsmos", "visqol", "VISQOL_MIN_SAMPLES", "VISQOL_MIN_PEAK_DB", "VISQOL_MAX_PEAK"]

#: Largest reference peak :func:`visqol` accepts (full scale is 1.0; overs of a decoder pass).
VISQOL_MAX_PEAK = 2.0


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
    from ._optional import needs

    with needs("metrics", "PESQ"):
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
    from ._optional import needs

    with needs("metrics", "ESTOI"):
        from pystoi import stoi

    rate = check_sample_rate(sample_rate)
    ref, deg = _as_numpy_pair(reference, degraded)
    if len(ref) < rate // 4:
        raise ValueError(f"signals must be at least 0.25 s long for STOI, got {len(ref)} samples")
    if not np.any(ref):
        raise ValueError("reference is digitally silent: intelligibility against silence is undefined")
    return float(stoi(ref, deg, rate, extended=True))


def dnsmos(degraded: object, sample_rate: int = 16000) -> dict[str, float]:
    """Non-intrusive DNSMOS P.835 (SIG, BAK, OVRL) and P.808 MOS of speech.

    Microsoft's DNSMOS ONNX models as shipped in the ``speechmos`` package
    (pretrained; run with onnxruntime). Speech at 16 kHz, at least 1 s;
    no reference is used.
    """
    import numpy as np

    from ._optional import needs

    with needs("metrics", "DNSMOS"):
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
            them; ``reference``'s peak exceeds :data:`VISQOL_MAX_PEAK` (PCM-scaled
            audio would sit far above the absolute floor). The result is never NaN.
    """
    import numpy as np

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
    if peak > VISQOL_MAX_PEAK:
        raise ValueError(f"reference's peak is {peak:g}: ViSQOL's floor is absolute (full scale 1.0; up to "
                         f"{VISQOL_MAX_PEAK:g} accepted), so PCM-scaled audio scores wrong; divide int16 samples "
                         "by 32768")
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
        ref, deg = resample_audio(ref, rate, target), resample_audio(deg, rate, target)
    if mode not in _VISQOL:
        import logging

        from ._optional import needs

        with needs("metrics", "ViSQOL"):
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
