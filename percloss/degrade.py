"""Degradations for the quality-metrics study (chapter 3).

The TU Ilmenau report's three degradations at its three levels -- Gaussian
noise, "bitrate" (resample down and back up) and bit-depth quantisation --
plus the two real-world degradations it names as not explored, clipping and
reverberation (a simulated room, pyroomacoustics image-source method), and one
of this project's own: MP3 with a real encoder (LAME through ``lameenc``,
decoded by libsndfile/mpg123 and time-aligned).

Every function takes a mono signal ``(time,)`` (numpy float or torch tensor,
values in [-1, 1]) and returns a numpy float64 array of the same length.
:func:`degrade` runs one named degradation at one level and peak-normalises
the result, as the report did. Deterministic for a seed.

Notebook: ``notebooks/ch03_quality_metrics.py``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from scipy import signal as sps

from ._checks import check_integer, check_mono_array, check_real, check_sample_rate
from .signal import peak_normalize

__all__ = [
    "DEGRADATIONS",
    "peak_normalize",
    "add_noise",
    "bandlimit",
    "quantize",
    "clip",
    "room_impulse_response",
    "RT60_RANGE",
    "reverberate",
    "mp3",
    "degrade",
]

#: Reverberation times :func:`room_impulse_response` accepts, in seconds. Below 0.12 s the 6 x 5 x 3 m room
#: cannot be that dry (Sabine's formula asks for more than full absorption); above 1.5 s the image-source
#: count grows as RT60 to the fourth power (measured at 16 kHz: 1 s 1.3 s, 1.5 s 6.7 s, 2 s 17 s of computing).
RT60_RANGE = (0.12, 1.5)

#: Levels per degradation, mildest first: the report's three, then its future work.
DEGRADATIONS: dict[str, tuple[float, ...]] = {
    "noise": (0.002, 0.01, 0.02),  # standard deviation
    "bitrate": (2, 4, 6),  # resampling factor
    "bitdepth": (12, 8, 4),  # bits
    "clipping": (0.5, 0.2, 0.1),  # clip level as a fraction of the peak
    "reverb": (0.3, 0.6, 1.2),  # RT60 in seconds
    "mp3": (32, 16, 8),  # kbit/s
}


def _mono(x: Any, name: str = "x") -> np.ndarray:
    return check_mono_array(x, name)


def _rate(sample_rate: object) -> int:
    return check_sample_rate(sample_rate)


def add_noise(x: Any, sigma: float, seed: int = 0) -> np.ndarray:
    """Add Gaussian white noise of standard deviation ``sigma`` (seeded)."""
    y = _mono(x)
    sigma = check_real(sigma, "sigma", 0.0)
    rng = np.random.default_rng(seed)
    return y + sigma * rng.standard_normal(len(y))


def bandlimit(x: Any, factor: int) -> np.ndarray:
    """Resample down by the integer ``factor`` and back up (polyphase, Kaiser window).

    What the report calls lowering the bitrate: everything above
    ``sample_rate / (2 factor)`` is removed.
    """
    y = _mono(x)
    factor = check_integer(factor, "factor", 1)
    if factor == 1:
        return y.copy()
    down = sps.resample_poly(y, 1, factor)
    up = sps.resample_poly(down, factor, 1)
    out = np.zeros_like(y)
    n = min(len(y), len(up))
    out[:n] = up[:n]
    return out


def quantize(x: Any, bits: int) -> np.ndarray:
    """Uniform, symmetric mid-tread quantisation of [-1, 1] to ``bits`` bits: the report's quantiser.

    With ``M = 2**(bits - 1) - 1`` the step is ``1 / M``: ``clip(round(x M) / M, -1, 1)``.
    That gives the ``2**bits - 1`` levels ``k / M`` (computed as ``k * step``), ``k = -M .. M``, with 0 and full
    scale +-1 both representable (the symmetric code set, one code of a two's
    complement word unused). Source: the TU Ilmenau seminar report (Ghosh),
    Methodology 3, "Bit-Depth Compression", ``create_compressed_audio``:
    ``max_val = 2**(bits - 1) - 1``, ``step = 1.0 / max_val``,
    ``np.clip(np.round(audio / step) * step, -1.0, 1.0)``. ``bits`` must be at least
    2 (with one bit ``M = 0`` and the step is undefined).

    >>> quantize(np.array([-1.0, -0.6, 0.2, 0.6, 1.0]), 2).tolist()
    [-1.0, -1.0, 0.0, 1.0, 1.0]
    """
    y = _mono(x)
    bits = check_integer(bits, "bits", 2, 32)
    step = 1.0 / (2 ** (bits - 1) - 1)
    return np.clip(np.round(y / step) * step, -1.0, 1.0)


def clip(x: Any, fraction: float) -> np.ndarray:
    """Hard clipping at ``fraction`` of the signal's peak, ``0 < fraction <= 1``."""
    y = _mono(x)
    fraction = check_real(fraction, "fraction", 0.0, 1.0, lo_open=True)
    level = fraction * np.abs(y).max()
    return np.clip(y, -level, level)


@lru_cache(maxsize=16)
def _rir(sample_rate: int, rt60: float) -> np.ndarray:
    from ._optional import needs

    with needs("degrade", "The reverb degradation (pyroomacoustics)"):
        import pyroomacoustics as pra

    dims = [6.0, 5.0, 3.0]
    absorption, max_order = pra.inverse_sabine(rt60, dims)
    room = pra.ShoeBox(dims, fs=sample_rate, materials=pra.Material(absorption), max_order=max_order)
    room.add_source([1.5, 2.0, 1.6])
    room.add_microphone([4.2, 3.1, 1.5])
    room.compute_rir()
    rir = np.asarray(room.rir[0][0], dtype=np.float64)
    rir = rir[int(np.argmax(np.abs(rir))) :]
    rir.setflags(write=False)
    return rir / np.abs(rir).max()


def room_impulse_response(sample_rate: int, rt60: float) -> np.ndarray:
    """Impulse response of a 6 x 5 x 3 m shoebox room with reverberation time ``rt60`` (s, within :data:`RT60_RANGE`).

    Image-source method of pyroomacoustics (absorption and reflection order from
    Sabine's formula); source at (1.5, 2.0, 1.6) m, microphone at (4.2, 3.1, 1.5) m.
    Starts at the direct path (its delay removed), peak 1.
    """
    rate = _rate(sample_rate)
    rt60 = check_real(rt60, "rt60", *RT60_RANGE)
    return _rir(rate, rt60).copy()


def reverberate(x: Any, sample_rate: int, rt60: float) -> np.ndarray:
    """Convolve with :func:`room_impulse_response`, aligned on the direct path, same length."""
    y = _mono(x)
    rir = room_impulse_response(sample_rate, rt60)
    return sps.fftconvolve(y, rir)[: len(y)]


def mp3(x: Any, sample_rate: int, bitrate_kbps: int, quality: int = 2) -> np.ndarray:
    """Encode with LAME at constant ``bitrate_kbps``, decode, align to ``x`` and trim to its length.

    See :func:`percloss.anchors.mp3` (which also reports the file size).
    """
    from .anchors import mp3 as encode_mp3

    y = _mono(x)
    _rate(sample_rate)
    bitrate_kbps = check_integer(bitrate_kbps, "bitrate_kbps", 8, 320)
    return encode_mp3(y, sample_rate, bitrate_kbps, quality).audio


def degrade(x: Any, kind: str, level: float, sample_rate: int = 16000, seed: int = 0,
            normalize: bool = True) -> np.ndarray:
    """Apply degradation ``kind`` (a key of :data:`DEGRADATIONS`) at ``level``.

    With ``normalize`` (the report's procedure) the result is peak-normalised to 1.

    >>> x = np.sin(np.arange(16000) * 0.05)
    >>> y = degrade(x, "bitdepth", 4)
    >>> len(np.unique(y)), float(np.abs(y).max())  # 2**4 - 1 levels, see quantize
    (15, 1.0)
    """
    if kind not in DEGRADATIONS:
        raise ValueError(f"kind must be one of {tuple(DEGRADATIONS)}, got {kind!r}")
    _rate(sample_rate)
    value = check_real(level, "level")
    if kind in ("bitrate", "bitdepth", "mp3"):  # integer settings: 4.0 is 4, 2.7 is an error (not 2)
        if value != int(value):
            raise ValueError(f"level of {kind!r} must be a whole number, got {level!r}")
        value = int(value)
    if kind == "noise":
        y = add_noise(x, value, seed)
    elif kind == "bitrate":
        y = bandlimit(x, int(value))
    elif kind == "bitdepth":
        y = quantize(x, int(value))
    elif kind == "clipping":
        y = clip(x, value)
    elif kind == "reverb":
        y = reverberate(x, sample_rate, value)
    else:
        y = mp3(x, sample_rate, int(value))
    return peak_normalize(y) if normalize else y
