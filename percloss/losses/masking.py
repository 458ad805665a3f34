"""Losses calibrated by the MPEG-1 masking threshold of the target.

- :class:`PriorityWeightedLoss` and :class:`NoiseModulationLoss` -- the two
  psychoacoustic terms of Zhen et al. (IEEE SPL 2020) on model 1's threshold.
- :class:`MaskedFilterbankLoss` -- chapter 1's Bark-filterbank loss made
  masking-aware (the "tonal and temporal masking" future work of Vinyard 2018):
  the error signal's energy in each filterbank band is compared with the
  target's masking threshold, so an error under the threshold costs little.

The threshold comes from the *target* under :func:`torch.no_grad` (it is a
constant of the loss); gradients flow through the input's spectrum. Level
calibration: every loss takes ``calibration`` (:data:`percloss.masking.CALIBRATIONS`;
default ``"iso"``, the standard's scaling, where a full-scale sinusoid reads
82.52 dB SPL; ``"sine96"`` puts it at 96 dB; ``"frame_max96"`` puts each target
frame's loudest line at 96 dB, as the code of Zhen et al. does). With
``"frame_max96"`` the input's and the error's spectra take the target frame's
offset, so all levels of one frame share one scale.

Each loss has a functional form (:func:`priority_weighted_loss`,
:func:`noise_modulation_loss`, :func:`masked_filterbank_loss`) and a module
holding its tables as buffers. Shape: ``(..., time), (..., time) -> ()``, or
``(...)`` with ``reduction="none"``.

Notebooks: ``notebooks/ch02_masking.py``, ``notebooks/ch01_deep_audio_prior.py``.
"""

from __future__ import annotations

import torch
from torch import nn

from .._checks import check_choice, check_integer, check_sample_rate
from ..filterbank import FilterBank
from ..masking import (
    ISO_FULL_SCALE_SINE_DB,
    ModelConstants,
    ModelTables,
    calibrated_spectrum_db,
    check_calibration,
    check_n_fft,
    default_hop,
    model_tables,
    threshold_analysis,
)
from ._chunked import Window, window_sums
from ._contract import check_pair, check_reduction, check_working_memory, reduce

__all__ = [
    "priority_weights",
    "soft_level_db",
    "priority_weighted_loss",
    "noise_modulation_loss",
    "masked_filterbank_loss",
    "PriorityWeightedLoss",
    "NoiseModulationLoss",
    "MaskedFilterbankLoss",
]

AGGREGATES = ("max", "mean")


def soft_level_db(level_db: torch.Tensor) -> torch.Tensor:
    """A level in dB floored softly at 0 dB: ``10 log10(10^(L/10) + 1)`` (about ``L`` well above 0 dB,
    about 0 dB well below it, smooth in between), so inaudible lines carry no gradient-dominating error.

    Shape:
        ``(...) -> (...)``

    >>> soft_level_db(torch.tensor([-60.0, 0.0, 60.0])).tolist()  # doctest: +ELLIPSIS
    [4.1...e-06, 3.010..., 60.0...]
    """
    return 10.0 * torch.log10(torch.pow(10.0, level_db / 10.0) + 1.0)


def priority_weights(target_level_db: torch.Tensor, threshold_db: torch.Tensor) -> torch.Tensor:
    """Zhen et al.'s priority weight per line, ``log10(P_x / M + 1)``.

    Both arguments are levels in dB SPL on the same scale (power spectrum and
    masking threshold from :mod:`percloss.masking`).

    Shape:
        ``(..., F, K), (..., F, K) -> (..., F, K)``
    """
    return torch.log10(torch.pow(10.0, (target_level_db - threshold_db) / 10.0) + 1.0)


# ------------------------------------------------------------------ settings


class _Settings:
    """Validated model-1 settings shared by the functional forms and the modules."""

    def __init__(self, sample_rate: object, n_fft: object, hop: object, default: str, calibration: object) -> None:
        self.calibration = check_calibration(calibration)
        self.sample_rate = check_sample_rate(sample_rate)
        self.n_fft = check_n_fft(n_fft)
        if hop is None:
            self.hop = default_hop(self.n_fft) if default == "standard" else self.n_fft // 2
        else:
            self.hop = check_integer(hop, "hop", 1)
        self.tables: ModelTables = model_tables(self.sample_rate, self.n_fft)  # validates the rate for model 1


TargetAnalysis = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


# Working memory of the level spectra per line and frame advanced, per sample of one signal, forward +
# backward in float32 (benchmarks/bench_memory.py, slope from 1 to 10 minutes of 44.1 kHz audio at n_fft
# 512, hop 256: 1.6 MB per second, 37 bytes per sample, for the priority-weighted loss; 1.1 MB, 26 bytes,
# for the noise-modulation loss; 45 leaves a margin).
LEVEL_BYTES_PER_LINE_PER_HOP = 45


def _check_memory(input: torch.Tensor, s: _Settings, what: str) -> None:
    """Refuse, before allocating, an input whose level-spectrum estimate exceeds the available memory (the
    masked filterbank loss's windowed computation adds none that grows with the input)."""
    check_working_memory(input, LEVEL_BYTES_PER_LINE_PER_HOP * (s.n_fft // 2 + 1) / s.hop, what)


def _target(target: torch.Tensor, s: _Settings, constants: ModelConstants | None = None) -> TargetAnalysis:
    """The target's level spectrum, its threshold on every line and its calibration offset."""
    with torch.no_grad():
        level, offset = calibrated_spectrum_db(target, s.n_fft, s.hop, s.calibration)
        threshold = threshold_analysis(level, s.tables, constants=constants).threshold_db
    return level, threshold, offset


def _level(x: torch.Tensor, offset_db: torch.Tensor, s: _Settings) -> torch.Tensor:
    """``x``'s level spectrum on the target's scale (``offset_db`` from :func:`_target`)."""
    return calibrated_spectrum_db(x, s.n_fft, s.hop, s.calibration, offset_db)[0]


class _MaskingLoss(nn.Module):
    """What the three modules share: model 1's settings (validated by the subclass, in the order of its
    arguments), the reduction, model 1's constants as a submodule, and a :meth:`forward` that checks the
    pair and the memory before :meth:`forward_unchecked`. ``filterbank``, when given, is registered before
    the constants, so that the submodules keep their order (``named_modules``, ``state_dict``)."""

    def __init__(self, settings: _Settings, reduction: str, filterbank: FilterBank | None = None) -> None:
        super().__init__()
        self._settings = settings
        self.sample_rate, self.n_fft, self.hop = settings.sample_rate, settings.n_fft, settings.hop
        self.calibration = settings.calibration
        self.reduction = check_reduction(reduction)
        if filterbank is not None:
            self.filterbank = filterbank
        self.model1 = ModelConstants(settings.tables)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_pair(input, target, self.n_fft)
        _check_memory(input, self._settings, type(self).__name__)
        return self.forward_unchecked(input, target)

    def forward_unchecked(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class _ZhenLoss(_MaskingLoss):
    """The two terms of Zhen et al.: the target's analysis (:meth:`analyse_target`) can be computed once
    and passed to :meth:`forward_unchecked` of both; lines above :attr:`upper_line` are ignored."""

    def __init__(self, settings: _Settings, reduction: str) -> None:
        super().__init__(settings, reduction)
        self.upper_line = settings.tables.upper_line

    def forward_unchecked(self, input: torch.Tensor, target: torch.Tensor,
                          analysis: TargetAnalysis | None = None) -> torch.Tensor:
        """:meth:`forward` on a pair the caller validated (:func:`~percloss.losses.check_pair`);
        ``analysis``: :meth:`analyse_target` of ``target`` under the same settings, when the caller has it."""
        if analysis is None:
            analysis = self.analyse_target(target)
        return self._loss(input, target, analysis)

    def _loss(self, input: torch.Tensor, target: torch.Tensor, analysis: TargetAnalysis) -> torch.Tensor:
        raise NotImplementedError

    def analyse_target(self, target: torch.Tensor) -> TargetAnalysis:
        """The target's level spectrum, threshold and calibration offset (no gradient), for reuse."""
        return _target(target, self._settings, self.model1)


# ------------------------------------------------------------- priority-weighted


def _priority_weighted(input: torch.Tensor, target: torch.Tensor, s: _Settings, reduction: str,
                       analysis: TargetAnalysis | None = None) -> torch.Tensor:
    """The loss on a validated pair (no checks); ``analysis``: the target's, when the caller has it."""
    upper = s.tables.upper_line
    level_tg, threshold, offset = _target(target, s) if analysis is None else analysis
    weights = priority_weights(level_tg, threshold)[..., : upper + 1]
    soft_in = soft_level_db(_level(input, offset, s))
    soft_tg = soft_level_db(level_tg)
    err = ((soft_in - soft_tg)[..., : upper + 1] / 10.0).pow(2)
    return reduce((weights * err).mean(dim=(-2, -1)), reduction)


def priority_weighted_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    sample_rate: int,
    n_fft: int = 512,
    hop: int | None = None,
    reduction: str = "mean",
    calibration: str = "iso",
) -> torch.Tensor:
    """Functional :class:`PriorityWeightedLoss` (arguments as there).

    Shape:
        ``(..., time), (..., time) -> ()`` or ``(...)`` with ``reduction="none"``;
        ``time >= n_fft``.

    >>> x = 0.1 * torch.sin(torch.arange(2048) * 0.3)
    >>> float(priority_weighted_loss(x, x, 44100))
    0.0
    """
    s = _Settings(sample_rate, n_fft, hop, "standard", calibration)
    reduction = check_reduction(reduction)
    check_pair(input, target, s.n_fft)
    _check_memory(input, s, "priority_weighted_loss")
    return _priority_weighted(input, target, s, reduction)


class PriorityWeightedLoss(_ZhenLoss):
    """Per-line squared log-spectral error weighted by ``log10(P_x / M + 1)``.

    ``mean_{frames, lines} w_f * ((L_in - L_tg) / 10)^2`` with levels ``L``
    in dB SPL floored softly at 0 dB SPL (``10 log10(10^(L/10) + 1)``; the
    threshold in quiet is above -5 dB everywhere, so the floor only removes
    the infinite slope of the log at silence). Lines above the model's upper
    line (about 20 kHz, or the derived limit) are ignored.
    Functional form: :func:`priority_weighted_loss`.

    Args:
        sample_rate: Hz.
        n_fft: 512 or 1024. (Default: 512)
        hop: frame advance. (Default: the standard's, 384 / 1152)
        reduction: ``"none"``, ``"mean"`` or ``"sum"``. (Default: ``"mean"``)
        calibration: level calibration of model 1. (Default: ``"iso"``)

    Shape:
        ``(..., time), (..., time) -> ()`` or ``(...)`` with ``reduction="none"``;
        ``time >= n_fft``.

    Memory: the level spectra of both signals, the weights and their autograd
    buffers take about 37 bytes per sample at ``n_fft`` 512, hop 256 (1.6 MB
    per second of 44.1 kHz audio; ``benchmarks/results/memory.md``); an input
    whose estimate exceeds the memory available is refused before allocating.

    >>> loss = PriorityWeightedLoss(44100)
    >>> x = 0.1 * torch.sin(torch.arange(2048) * 0.3)
    >>> float(loss(x, x))
    0.0
    """

    def __init__(
        self,
        sample_rate: int,
        n_fft: int = 512,
        hop: int | None = None,
        reduction: str = "mean",
        calibration: str = "iso",
    ) -> None:
        super().__init__(_Settings(sample_rate, n_fft, hop, "standard", calibration), reduction)

    def _loss(self, input: torch.Tensor, target: torch.Tensor, analysis: TargetAnalysis) -> torch.Tensor:
        return _priority_weighted(input, target, self._settings, self.reduction, analysis)


# ------------------------------------------------------------- noise modulation


def _noise_modulation(input: torch.Tensor, target: torch.Tensor, s: _Settings, aggregate: str,
                      reduction: str, analysis: TargetAnalysis | None = None) -> torch.Tensor:
    """The loss on a validated pair (no checks); ``analysis``: the target's, when the caller has it."""
    _, threshold, offset = _target(target, s) if analysis is None else analysis
    level_err = _level(input - target, offset, s)
    ratio = torch.pow(10.0, (level_err - threshold) / 10.0)[..., : s.tables.upper_line + 1]
    excess = torch.relu(ratio - 1.0)
    per_frame = excess.amax(-1) if aggregate == "max" else excess.mean(-1)
    return reduce(per_frame.mean(-1), reduction)


def noise_modulation_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    sample_rate: int,
    n_fft: int = 512,
    hop: int | None = None,
    aggregate: str = "max",
    reduction: str = "mean",
    calibration: str = "iso",
) -> torch.Tensor:
    """Functional :class:`NoiseModulationLoss` (arguments as there).

    Shape:
        ``(..., time), (..., time) -> ()`` or ``(...)`` with ``reduction="none"``;
        ``time >= n_fft``.

    >>> x = 0.1 * torch.sin(torch.arange(2048) * 0.3)
    >>> float(noise_modulation_loss(x, x, 44100))
    0.0
    """
    s = _Settings(sample_rate, n_fft, hop, "standard", calibration)
    aggregate = check_choice(aggregate, "aggregate", AGGREGATES)
    reduction = check_reduction(reduction)
    check_pair(input, target, s.n_fft)
    _check_memory(input, s, "noise_modulation_loss")
    return _noise_modulation(input, target, s, aggregate, reduction)


class NoiseModulationLoss(_ZhenLoss):
    """Error power above the target's mask, ``relu(P_err / M - 1)`` per line.

    ``aggregate="max"`` takes the largest value over lines in each frame (the
    form of Zhen et al.), ``"mean"`` the mean over lines; then the mean over
    frames. Zero when the error is everywhere under the threshold.
    Functional form: :func:`noise_modulation_loss`.

    Args:
        sample_rate: Hz.
        n_fft: 512 or 1024. (Default: 512)
        hop: frame advance. (Default: the standard's)
        aggregate: ``"max"`` or ``"mean"`` over lines. (Default: ``"max"``)
        reduction: ``"none"``, ``"mean"`` or ``"sum"``. (Default: ``"mean"``)
        calibration: level calibration of model 1. (Default: ``"iso"``)

    Shape:
        ``(..., time), (..., time) -> ()`` or ``(...)`` with ``reduction="none"``;
        ``time >= n_fft``.

    A silent target leaves only the threshold in quiet as the mask: audible error
    on silence then costs far more than the same error under music (it is
    unmasked), and error below the threshold in quiet costs nothing.

    Memory: the level spectra of both signals and their autograd buffers take
    about 26 bytes per sample at ``n_fft`` 512, hop 256 (1.1 MB per second of
    44.1 kHz audio; ``benchmarks/results/memory.md``); an input whose estimate
    exceeds the memory available is refused before allocating.

    >>> loss = NoiseModulationLoss(44100)
    >>> x = 0.1 * torch.sin(torch.arange(2048) * 0.3)
    >>> float(loss(x + 1e-6 * torch.randn(2048), x))  # -120 dBFS noise is inaudible
    0.0
    """

    def __init__(
        self,
        sample_rate: int,
        n_fft: int = 512,
        hop: int | None = None,
        aggregate: str = "max",
        reduction: str = "mean",
        calibration: str = "iso",
    ) -> None:
        settings = _Settings(sample_rate, n_fft, hop, "standard", calibration)
        aggregate = check_choice(aggregate, "aggregate", AGGREGATES)  # checked before the reduction, as always
        super().__init__(settings, reduction)
        self.aggregate = aggregate

    def _loss(self, input: torch.Tensor, target: torch.Tensor, analysis: TargetAnalysis) -> torch.Tensor:
        return _noise_modulation(input, target, self._settings, self.aggregate, self.reduction, analysis)


# ------------------------------------------------------------ masked filterbank


def _band_tables(filterbank: FilterBank, n_fft: int, sample_rate: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each band's centre line and its line-to-band power factor ``N sum(h_b^2) / 3``."""
    centres = filterbank.center_frequencies.double()
    lines = torch.clamp(torch.round(centres * n_fft / sample_rate), 0, n_fft // 2)
    factor = n_fft * filterbank.filters.double().pow(2).sum(-1) / 3.0
    return lines.long(), factor.float()


# Working memory of the whole-signal filterbank error per band and sample, forward + backward in float32
# (the filtered error, its square and the framed, windowed energy; benchmarks/bench_memory.py). Above
# CHUNK_BYTES the loss runs over runs of frames.
BYTES_PER_BAND_SAMPLE = 40
CHUNK_BYTES = 256 * 2**20


def _masked_filterbank(input: torch.Tensor, target: torch.Tensor, s: _Settings, filterbank: FilterBank,
                       band_to_line: torch.Tensor, line_to_band_factor: torch.Tensor, frame_window: torch.Tensor,
                       reduction: str, constants: ModelConstants | None = None,
                       chunk_frames: int | None = None) -> torch.Tensor:
    """The loss on a validated pair (no checks); over runs of frames when the whole maps would be large."""
    with torch.no_grad():
        level, offset = calibrated_spectrum_db(target, s.n_fft, s.hop, s.calibration)  # offset (..., F, 1)
        threshold_db = threshold_analysis(level, s.tables, constants=constants).threshold_db
        # mask per band and frame, as band power (full-scale sine = 1)
        full_scale = ISO_FULL_SCALE_SINE_DB + offset
        mask = torch.pow(10.0, (threshold_db[..., band_to_line] - full_scale) / 10.0)
        mask = mask * line_to_band_factor.to(mask.dtype)
    window = frame_window.to(input.dtype) / frame_window.to(input.dtype).sum()
    error = input - target
    time, bands, taps = input.shape[-1], filterbank.filters.shape[0], filterbank.filters.shape[-1]
    n_signals = max(1, input.numel() // max(time, 1))
    size = BYTES_PER_BAND_SAMPLE * input.element_size() // 4 * bands * n_signals
    if chunk_frames is None and size * time <= CHUNK_BYTES:
        y = filterbank.apply_unchecked(error)  # (..., band, time)
        frames = (y * y).unfold(-1, s.n_fft, s.hop)  # (..., band, F, n_fft)
        energy = 2.0 * (frames * window).sum(-1)  # (..., band, F)
        per_signal = torch.log1p(energy / mask.transpose(-1, -2)).mean(dim=(-2, -1))
        return reduce(per_signal, reduction)
    if chunk_frames is None:
        chunk_frames = max(1, (CHUNK_BYTES // size) // s.hop)
    lead = input.shape[:-1]
    flat_mask = mask.reshape(-1, *mask.shape[-2:]).transpose(-1, -2)  # (signal, band, F)
    n_frames = flat_mask.shape[-1]
    windows = []
    for index, first in enumerate(range(0, n_frames, chunk_frames)):
        last = min(first + chunk_frames, n_frames)
        begin, end = first * s.hop, (last - 1) * s.hop + s.n_fft  # the samples these frames cover
        start, stop = max(0, begin - taps), min(time, end + taps)  # with the filters' reach
        windows.append(Window(start, stop, begin - start, end - start, index))
    firsts = list(range(0, n_frames, chunk_frames))

    def stat(w: Window, e: torch.Tensor) -> torch.Tensor:
        y = filterbank.apply_unchecked(e)[..., w.keep_start : w.keep_stop]
        energy = 2.0 * ((y * y).unfold(-1, s.n_fft, s.hop) * window).sum(-1)  # (signal, band, frames)
        first = firsts[w.position]
        ratio = energy / flat_mask[..., first : first + energy.shape[-1]]
        return torch.log1p(ratio).double().sum(dim=(-2, -1)).unsqueeze(-1)

    sums = window_sums(stat, windows, error.reshape(-1, time))
    per_signal = (sums[:, 0] / (bands * n_frames)).to(input.dtype).reshape(lead)
    return reduce(per_signal, reduction)


def masked_filterbank_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    sample_rate: int,
    n_bands: int = 512,
    n_taps: int = 512,
    f_min: float = 1.0,
    f_max: float | None = None,
    scale: str = "bark",
    n_fft: int = 512,
    hop: int | None = None,
    reduction: str = "mean",
    calibration: str = "iso",
    chunk_frames: int | None = None,
) -> torch.Tensor:
    """Functional :class:`MaskedFilterbankLoss` (arguments as there); designs the filterbank on every call.

    Shape:
        ``(..., time), (..., time) -> ()`` or ``(...)`` with ``reduction="none"``;
        ``time >= n_fft``.

    >>> x = 0.1 * torch.sin(torch.arange(4096) * 0.3)
    >>> float(masked_filterbank_loss(x, x, 11025, n_bands=32, n_taps=64))
    0.0
    """
    s = _Settings(sample_rate, n_fft, hop, "half", calibration)
    reduction = check_reduction(reduction)
    filterbank = FilterBank(sample_rate, n_bands, n_taps, f_min, f_max, scale)
    check_pair(input, target, s.n_fft)
    _check_memory(input, s, "masked_filterbank_loss")
    lines, factor = _band_tables(filterbank, s.n_fft, s.sample_rate)
    window = torch.hann_window(s.n_fft, periodic=True)
    filterbank = filterbank.to(device=input.device, dtype=input.dtype)
    chunk_frames = None if chunk_frames is None else check_integer(chunk_frames, "chunk_frames", lo=1)
    return _masked_filterbank(input, target, s, filterbank, lines.to(input.device), factor.to(input.device),
                              window.to(input.device), reduction, chunk_frames=chunk_frames)


class MaskedFilterbankLoss(_MaskingLoss):
    """Noise-to-mask ratio of the error in Bark-filterbank bands, ``mean log(1 + E/M)``.

    The error ``input - target`` goes through chapter 1's filterbank; its
    energy per band and frame (Hann-weighted mean of the squared output over
    model 1's frames) is compared with the target's global masking threshold
    at the band's centre line, converted from a per-line level to a band level
    by the band's noise bandwidth. ``log(1 + r)`` grows like ``r`` while the
    error is masked (``r < 1``) and only logarithmically once it is audible.

    Calibration: a sinusoid of amplitude ``A`` at a band centre gives band
    level ``A^2``; the threshold (dB SPL under ``calibration``) is converted
    with the level a full-scale sinusoid reads in that frame (82.52 dB for
    ``"iso"``), matching :func:`~percloss.masking.spectrum_db`;
    white noise of variance ``s^2`` gives line power ``6 s^2 / N`` and band power
    ``2 s^2 sum(h_b^2)``, hence the conversion factor ``N sum(h_b^2) / 3``.
    Functional form: :func:`masked_filterbank_loss`.

    Args:
        sample_rate: Hz (model 1 needs at least 8 kHz).
        n_bands, n_taps, f_min, f_max, scale: the filterbank, as in
            :class:`~percloss.losses.PerceptualLoss`. (Default: 512 bands, 512 taps, Bark)
        n_fft: model 1 FFT size, 512 or 1024. (Default: 512)
        hop: frame advance. (Default: ``n_fft // 2``, denser than the standard's)
        reduction: ``"none"``, ``"mean"`` or ``"sum"``. (Default: ``"mean"``)
        calibration: level calibration of model 1. (Default: ``"iso"``)
        chunk_frames: model-1 frames per window of the windowed computation (below). (Default: ``None``,
            whole signals while the filtered error takes at most 256 MB, else windows that size)

    Shape:
        ``(..., time), (..., time) -> ()`` or ``(...)`` with ``reduction="none"``;
        ``time >= n_fft``.

    Memory: on whole signals the filtered error, its square and its framed
    energy with their autograd buffers take about 40 bytes per band and sample
    (about 900 MB per second of 44.1 kHz audio at 512 bands). Longer inputs run
    over runs of frames, each filtered with the filters' reach as context, the
    sum of ``log(1 + E/M)`` accumulated in float64 and each run recomputed in
    backward: peak memory stays near 256 MB plus model 1's analysis of the
    target (``benchmarks/results/memory.md``); value and gradient agree with
    the whole-signal computation to rounding.

    >>> loss = MaskedFilterbankLoss(11025, n_bands=32, n_taps=64)
    >>> x = 0.1 * torch.sin(torch.arange(4096) * 0.3)
    >>> float(loss(x, x))
    0.0
    """

    band_to_line: torch.Tensor
    line_to_band_factor: torch.Tensor
    frame_window: torch.Tensor

    def __init__(
        self,
        sample_rate: int,
        n_bands: int = 512,
        n_taps: int = 512,
        f_min: float = 1.0,
        f_max: float | None = None,
        scale: str = "bark",
        n_fft: int = 512,
        hop: int | None = None,
        reduction: str = "mean",
        calibration: str = "iso",
        chunk_frames: int | None = None,
    ) -> None:
        settings = _Settings(sample_rate, n_fft, hop, "half", calibration)
        chunk_frames = None if chunk_frames is None else check_integer(chunk_frames, "chunk_frames", lo=1)
        reduction = check_reduction(reduction)  # before the filterbank's arguments, as always
        super().__init__(settings, reduction, FilterBank(sample_rate, n_bands, n_taps, f_min, f_max, scale))
        self.chunk_frames = chunk_frames
        lines, factor = _band_tables(self.filterbank, self.n_fft, self.sample_rate)
        self.register_buffer("band_to_line", lines)
        self.register_buffer("line_to_band_factor", factor)
        self.register_buffer("frame_window", torch.hann_window(self.n_fft, periodic=True))

    def forward_unchecked(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` on a pair the caller validated (:func:`~percloss.losses.check_pair`)."""
        return _masked_filterbank(input, target, self._settings, self.filterbank, self.band_to_line,
                                  self.line_to_band_factor, self.frame_window, self.reduction, self.model1,
                                  self.chunk_frames)
