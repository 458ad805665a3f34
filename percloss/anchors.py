"""Real encoders as anchors for the neural codec: MP3 (LAME) and Opus (libopus).

- :func:`mp3`: LAME via ``lameenc`` at a constant bitrate, decoded by
  libsndfile (mpg123).
- :func:`opus`: libopus inside libsndfile (``soundfile``, Ogg Opus, VBR). Opus
  runs at 48 kHz: other rates are resampled there and back (soxr). libsndfile
  sets the bitrate through a "compression level"; it is searched so that the
  file's size hits the requested bitrate within ``tolerance``.
  :func:`opus_encode` and :func:`opus_decode` are its two halves: libopus picks
  CPU-specific code paths when it encodes (the same input gives other bytes on
  another processor), so a result meant to be reproduced elsewhere stores the
  bitstream and decodes it there.

Both return a :class:`Coded`: the decoded signal time-aligned to the input
(encoder delay removed by cross-correlation) and cut to its length, and the
encoded file's size, so the bitrate is the real one: bytes x 8 / duration.

Shape: ``(time,) -> Coded.audio (time,)``.

Notebook: ``notebooks/ch04_codec.py``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.signal as sps

from ._checks import check_integer, check_mono_array, check_sample_rate

__all__ = ["Coded", "mp3", "opus", "opus_encode", "opus_decode", "align", "ANCHORS", "MPEG1_BITRATES",
           "mp3_bitrate_for", "LADDERS"]

MAX_LAG = 4096
MP3_RATE_RANGE = (8000, 48000)  # MPEG-1/2/2.5 Layer III sample rates
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
#: How close :func:`opus` brings the file bitrate to the one asked for (a fraction of it).
OPUS_RATE_TOLERANCE = 0.03
#: The anchors the codec chapter sets its models against.
ANCHORS = ("MP3", "Opus")
#: The bitrates of MPEG-1 Layer III (kbit/s).
MPEG1_BITRATES = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
#: The rates (kbit/s) at which the held-out evaluation codes every segment with each anchor, per sample rate:
#: a model is compared with an anchor read between the two rungs that bracket its achieved rate.
LADDERS: dict[int, tuple[int, ...]] = {32000: (48, 56, 64, 80, 96, 112, 128), 44100: (64, 80, 96, 112, 128, 160)}


def mp3_bitrate_for(kbps: float) -> int:
    """The MPEG-1 Layer III bitrate nearest ``kbps`` (LAME runs at constant rate).

    >>> mp3_bitrate_for(79)
    80
    """
    return min(MPEG1_BITRATES, key=lambda b: abs(b - kbps))


@dataclass(frozen=True)
class Coded:
    """A signal after an encoder and its decoder."""

    audio: np.ndarray  # (time,) float64, aligned to the input
    n_bytes: int  # size of the encoded file
    seconds: float  # duration of the input

    @property
    def kbps(self) -> float:
        """Real bitrate, file size x 8 / duration, in kbit/s."""
        return self.n_bytes * 8 / self.seconds / 1000


def align(reference: np.ndarray, decoded: np.ndarray, max_lag: int = MAX_LAG) -> np.ndarray:
    """``decoded`` shifted by the lag in ``[0, max_lag]`` that best matches ``reference``, cut to its length."""
    max_lag = check_integer(max_lag, "max_lag", lo=0)
    n = len(reference)
    padded = np.zeros(n + max_lag)
    m = min(len(decoded), n + max_lag)
    padded[:m] = decoded[:m]
    corr = sps.correlate(padded, reference, mode="valid", method="fft")  # lags 0..max_lag
    lag = int(np.argmax(corr))
    return padded[lag : lag + n]


def _check_kbps(kbps: Any, low: float, high: float) -> float:
    if isinstance(kbps, bool) or not isinstance(kbps, (int, float)) or not low <= kbps <= high:
        raise ValueError(f"kbps must be a number in {low:g}..{high:g}, got {kbps!r}")
    return float(kbps)


def mp3(x: Any, sample_rate: int, kbps: int, quality: int = 2) -> Coded:
    """LAME at constant ``kbps`` (an MPEG bitrate, 8..320), decoded and aligned.

    MP3 codes 8 to 48 kHz; ``ValueError`` for other rates (resample first). At
    very low bitrates LAME encodes at a lower sample rate; the decoded signal
    is then resampled back to ``sample_rate`` (soxr).
    """
    import soundfile as sf

    from ._optional import needs

    with needs(("codec", "degrade"), "The MP3 anchor (LAME)"):
        import lameenc
        import soxr

    y = check_mono_array(x, "x")
    rate = check_sample_rate(sample_rate, rate_range=MP3_RATE_RANGE)
    if isinstance(kbps, bool) or not isinstance(kbps, int) or not 8 <= kbps <= 320:
        raise ValueError(f"kbps must be an integer in 8..320, got {kbps!r}")
    pcm = np.clip(np.round(y * 32767), -32768, 32767).astype("<i2")
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(kbps)
    encoder.set_in_sample_rate(rate)
    encoder.set_channels(1)
    encoder.set_quality(quality)
    blob = bytes(encoder.encode(pcm.tobytes()) + encoder.flush())
    decoded, out_rate = sf.read(io.BytesIO(blob), dtype="float64")
    if out_rate != rate:
        decoded = soxr.resample(decoded, out_rate, rate, quality="VHQ")
    return Coded(align(y, decoded), len(blob), len(y) / rate)


def _opus_bytes(y48: np.ndarray, level: float) -> bytes:
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, y48, 48000, format="OGG", subtype="OPUS", compression_level=level)
    return buffer.getvalue()


def opus_encode(x: Any, sample_rate: int, kbps: float, tolerance: float = OPUS_RATE_TOLERANCE) -> bytes:
    """The Ogg Opus file (libopus via libsndfile) of ``x`` at a file bitrate within ``tolerance`` of ``kbps``
    (8..250).

    The compression level is found by bisection on the actual file size;
    ``ValueError`` if no level within 12 steps gets that close.
    """
    from ._optional import needs

    with needs("codec", "The Opus anchor's resampling (soxr)"):
        import soxr

    y = check_mono_array(x, "x")
    rate = check_sample_rate(sample_rate)
    target = _check_kbps(kbps, 8, 250)
    seconds = len(y) / rate
    y48 = y if rate == 48000 else soxr.resample(y, rate, 48000, quality="VHQ")
    lo, hi = 0.0, 1.0  # level 0 = highest bitrate
    level = min(1.0, max(0.0, (256.0 - target) / 250.0))  # libsndfile's mapping is close to linear
    for _ in range(12):
        blob = _opus_bytes(y48, level)
        got = len(blob) * 8 / seconds / 1000
        if abs(got - target) <= tolerance * target:
            return blob
        if got > target:
            lo = level
        else:
            hi = level
        level = (lo + hi) / 2
    raise ValueError(f"kbps={target:g}: Opus could not be brought within {tolerance:.0%} of it")


def opus_decode(blob: bytes, x: Any, sample_rate: int) -> Coded:
    """Decode the Ogg Opus file ``blob`` made from ``x`` (:func:`opus_encode`): resampled to ``sample_rate``,
    aligned to ``x`` and cut to its length.

    Raises:
        ValueError: if ``blob`` is not an Ogg Opus file.
    """
    import soundfile as sf

    from ._optional import needs

    with needs("codec", "The Opus anchor's resampling (soxr)"):
        import soxr

    y = check_mono_array(x, "x")
    rate = check_sample_rate(sample_rate)
    if not isinstance(blob, (bytes, bytearray)) or not blob.startswith(b"OggS"):
        raise ValueError("blob must be the bytes of an Ogg Opus file")
    try:
        decoded, file_rate = sf.read(io.BytesIO(bytes(blob)), dtype="float64")
    except sf.LibsndfileError as error:
        raise ValueError(f"blob is not a readable Ogg Opus file: {error}") from None
    if decoded.ndim != 1 or file_rate != 48000:
        raise ValueError(f"blob must hold one channel at 48000 Hz, got shape {decoded.shape} at {file_rate} Hz")
    if rate != 48000:
        decoded = soxr.resample(decoded, 48000, rate, quality="VHQ")
    return Coded(align(y, decoded), len(blob), len(y) / rate)


def opus(x: Any, sample_rate: int, kbps: float, tolerance: float = OPUS_RATE_TOLERANCE) -> Coded:
    """Ogg Opus (libopus via libsndfile) at a file bitrate within ``tolerance`` of ``kbps`` (8..250), decoded
    and aligned: :func:`opus_decode` of :func:`opus_encode`.
    """
    return opus_decode(opus_encode(x, sample_rate, kbps, tolerance), x, sample_rate)
