"""Differentiable objective measures on tensors: SNR, log-spectral distance, noise-to-mask ratio.

The scores of external tools (PESQ, ESTOI, DNSMOS, ViSQOL) are in :mod:`percloss.scorers`.

Notebooks: ``notebooks/ch01_deep_audio_prior.py``, ``notebooks/ch02_masking.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch

from ._checks import check_integer, check_same_shape, check_sample_rate, check_signal
from .signal import floored_db_pair

__all__ = ["snr", "log_spectral_distance", "nmr", "nmr_ratios", "NMRResult"]


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
    n_fft = check_integer(n_fft, "n_fft", 2)
    check_signal(reference, "reference", min_length=n_fft)
    check_signal(test, "test", min_length=n_fft)
    check_same_shape(reference, test, "reference", "test")
    freqs = torch.fft.rfftfreq(n_fft, 1 / rate)
    masks = []
    for low, high in bands:
        top = rate / 2 if high is None else high
        if not 0 <= low < top <= rate / 2:
            raise ValueError(f"bands must hold (low, high) with 0 <= low < high <= {rate / 2}, got {(low, high)}")
        mask = (freqs >= low) & (freqs <= top)
        if not bool(mask.any()):
            raise ValueError(f"bands: {(low, high)} holds no FFT line (lines every {rate / n_fft:g} Hz at "
                             f"n_fft={n_fft}); widen the band or raise n_fft")
        masks.append(mask)
    # The distance compares dB spectra floored under the reference's peak, so it does not depend on the level:
    # both signals are scaled by the reference's peak and analysed in float64, where quiet float32 input (1e-8
    # full scale) would otherwise sink into the spectrogram's 1e-20 offset.
    ref, tst = reference.reshape(-1, reference.shape[-1]).double(), test.reshape(-1, test.shape[-1]).double()
    peak = ref.abs().amax(dim=-1, keepdim=True)
    scale = torch.where(peak > 0, 1.0 / peak, torch.ones_like(peak))
    ref_db, test_db = floored_db_pair(ref * scale, tst * scale, n_fft, floor_db)
    diff2 = (ref_db - test_db).pow(2)  # (batch, bin, frame)
    out = torch.stack([diff2[:, m.to(diff2.device)].mean(-2).sqrt().mean(-1) for m in masks], dim=-1)
    return out.reshape(*reference.shape[:-1], len(masks)).to(reference.dtype)


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
    Identical signals give about -200 dB (the level floor, ``masking.LEVEL_FLOOR_DB``). Differentiable in ``test``.

    Args:
        reference, test: signals ``(..., time)`` of equal shape, at least ``n_fft`` samples.
        sample_rate: Hz (>= 8000).
        n_fft: 512 or 1024. (Default: 512)
        hop: frame advance. (Default: the standard's)
        calibration: ``"iso"``, ``"sine96"`` or ``"frame_max96"``. (Default: ``"iso"``)

    Memory: frames are analysed :data:`percloss.masking.CHUNK_ROWS` at a time and the inputs are
    checked in blocks, so without gradients the working memory beside the inputs is about 100 MiB in
    float32 plus the per-band ratios and the result (``band_db``: 4 bytes per band and frame, about
    11 KiB per second of 44.1 kHz audio; an hour takes about 270 MiB in all). With gradients autograd
    keeps each chunk's noise spectrum for the backward pass (about 0.4 MiB per second of 44.1 kHz
    float32 audio).

    >>> x = 0.5 * torch.sin(torch.arange(8192) * 0.2)
    >>> r = nmr(x, x + 1e-4 * torch.sin(torch.arange(8192) * 0.21), 44100)
    >>> bool(r.mean_db < 0), float(r.audible_fraction)
    (True, 0.0)
    """
    from .masking import (
        check_calibration,
        check_hop,
        check_long_signal,
        check_n_fft,
        chunk_frames_for,
        tensor_reader,
    )

    rate = check_sample_rate(sample_rate)
    n_fft = check_n_fft(n_fft)
    hop = check_hop(hop, n_fft)
    calibration = check_calibration(calibration)
    check_long_signal(reference, "reference", min_length=n_fft)
    check_long_signal(test, "test", min_length=n_fft)
    check_same_shape(reference, test, "reference", "test")
    chunks = nmr_ratios(tensor_reader(reference), tensor_reader(test), reference.shape[-1], reference.dtype,
                         rate, n_fft, hop, calibration, chunk_frames_for(reference))
    ratio = torch.cat([r for _, r in chunks], dim=-2)  # (..., F, B)
    return NMRResult(
        band_db=10 * torch.log10(ratio),
        frame_db=10 * torch.log10(ratio.mean(-1)),
        mean_db=10 * torch.log10(ratio.mean(dim=(-2, -1))),
        audible_fraction=(ratio.amax(-1) > 1.0).to(reference.dtype).mean(-1),
    )


def nmr_ratios(
    read_reference: Callable[[int, int], torch.Tensor],
    read_test: Callable[[int, int], torch.Tensor],
    length: int,
    dtype: torch.dtype,
    sample_rate: int,
    n_fft: int,
    hop: int,
    calibration: str,
    chunk_frames: int,
) -> Iterator[tuple[int, torch.Tensor]]:
    """Noise-to-mask power ratios per frame and band, ``chunk_frames`` frames at a time:
    ``(first frame, (..., frames, B))``. The readers give samples ``[start, stop)`` of the two signals
    (:data:`percloss.masking.SampleReader`); settings are checked by the caller."""
    from .masking import analyse_spectrum, calibrated_spectrum_db, frame_count, model_tables

    t = model_tables(sample_rate, n_fft)
    member = None
    n_frames = frame_count(length, n_fft, hop)
    for f0 in range(0, n_frames, chunk_frames):
        f1 = min(f0 + chunk_frames, n_frames)
        start, stop = f0 * hop, (f1 - 1) * hop + n_fft
        reference, test = read_reference(start, stop).to(dtype), read_test(start, stop).to(dtype)
        if member is None:
            member = torch.as_tensor(t.band_membership, dtype=dtype, device=reference.device)
        with torch.no_grad():
            level, offset = calibrated_spectrum_db(reference, n_fft, hop, calibration)
            mask_power = torch.pow(10.0, analyse_spectrum(level, sample_rate, n_fft).threshold_db / 10.0) @ member
            del level
        # the noise on the reference's scale (its frames' offsets under "frame_max96")
        noise_db = calibrated_spectrum_db(test - reference, n_fft, hop, calibration, offset)[0]
        yield f0, (torch.pow(10.0, noise_db / 10.0) @ member) / mask_power
