"""MPEG-1 psychoacoustic model 1 (ISO/IEC 11172-3:1993, Annex D) on tensors.

The model turns each frame of audio into a *global masking threshold*: the
level below which added noise is inaudible in the presence of the frame's own
content. Its steps, each a function here:

1. :func:`spectrum_db` -- Hann-windowed FFT (512 points for Layer I, 1024 for
   Layer II) and a level calibration in dB SPL (see *Calibration* below);
   :func:`scalefactor_level_db` -- the subband levels from the standard's
   polyphase analysis filterbank and scalefactors.
2. :func:`tonal_maskers` -- local maxima at least 7 dB above their neighbours at
   distances that grow with frequency (lines ``2 < k < 250``, Layer I, or
   ``2 < k < 500``, Layer II); their power is summed over three lines.
3. :func:`nontonal_maskers` -- the remaining power of each critical band,
   placed at the band's geometric-mean line.
4. :func:`decimate_maskers` -- maskers below the threshold in quiet are dropped;
   then, walking the remaining tonal maskers in frequency order, of each
   masker and the next survivor closer than 0.5 Bark the weaker is dropped.
5. :func:`global_threshold` -- individual thresholds (masker level + masking
   index + the four-piece spreading function) on the standard's sub-sampled
   frequency grid, power-summed with the threshold in quiet.
6. :func:`subband_smr` -- per subband (32) the minimum threshold and the
   signal-to-mask ratio with the subband level of Annex D,
   ``L_sb = max(X_max, 20 log10(scf_max * 32768) - 10)``.

:func:`psychoacoustic_model1` runs them all; :func:`analyse_spectrum` runs steps
2-6 on a level spectrum.

Calibration. The standard's level spectrum is
``X(k) = PN + 10 log10 |1/N sum_l h(l) s(l) exp(-2 pi j k l / N)|^2`` with
``h = sqrt(8/3) * Hann``, ``PN = 90.302 dB`` and ``s`` in [-1, 1]: a full-scale
sinusoid at a line centre reads :data:`ISO_FULL_SCALE_SINE_DB` (82.52 dB); the
ISO reference encoder does the same (its ``POWERNORM`` is 90.309 dB). Every
entry point takes ``calibration``:

- ``"iso"`` (default): the standard's scaling above.
- ``"sine96"``: the same spectrum shifted so a full-scale sinusoid reads 96 dB
  (13.48 dB louder than ``"iso"``: the threshold in quiet sits 13.48 dB lower
  relative to the signal, so more quiet content is audible).
- ``"frame_max96"``: each frame shifted so its loudest line reads 96 dB (the
  per-frame normalisation of Petitcolas' MATLAB model and of the pam-nac code
  of Zhen et al.): the threshold in quiet then depends on the frame's own
  loudest line, not on the signal's level. Digital silence stays at the floor.

The threshold in quiet itself (Tables D.1) is fixed in dB SPL; the calibration
decides where a signal's level lies against it.

Tables. For 32, 44.1 and 48 kHz the frequency grid, Bark and threshold-in-quiet
columns and critical-band boundaries are the standard's printed Tables D.1a-f
and D.2a-f (:mod:`percloss.iso_tables`). For any other rate (16 kHz speech,
11025 Hz) the same grid rule is used with Zwicker's critical-band rate and
Terhardt's threshold in quiet (capped at 68 dB); the upper line is the last
grid line below 20 kHz (and below line 250 / 500, where the tonal search ends),
and critical bands start where the Bark value first reaches each integer. Those
tables are *derived*, not standard.

Maskers and table rows. Each masker takes the Bark and threshold in quiet of
the grid row whose line is nearest to the masker's line ("the index i that most
closely corresponds to the frequency of the original spectral line"); a line
exactly midway between two grid lines takes the lower row.

Discrete decisions (which lines are tonal, which maskers survive) have no
gradient, so the analysis runs under :func:`torch.no_grad` and returns detached
tensors. What is differentiable: :func:`spectrum_db`, and the losses and
metrics that use a target's threshold as a constant
(:mod:`percloss.losses.masking`, :func:`percloss.metrics.nmr`).

Shapes: input ``(..., time)``; per-frame outputs ``(..., frames, n)`` with
``frames = 1 + (time - n_fft) // hop``. No Python loop runs over single frames; the
0.5-Bark rule scans the (at most ~120) tonal candidates of all frames at once.

Memory. Frames are analysed :data:`CHUNK_ROWS` (frames times signals) at a time,
reading only the samples each chunk needs, so the working memory is bounded
whatever the length (about 100 MiB in float32) and the numbers are those of one
piece. What grows with the audio is the result: :func:`psychoacoustic_model1`
returns every per-frame tensor, about 0.5 MiB per second of 44.1 kHz audio in
float32 (n_fft 512, hop 384; 0.9 MiB in float64; 0.3 MiB at n_fft 1024, hop 1152),
1.7 GiB for an hour. :func:`model1_chunks` yields the analysis chunk by chunk,
for callers that keep only part of it (``python -m percloss threshold`` keeps
per-subband sums and reads its file in blocks: an hour of 44.1 kHz audio peaks at
about 0.55 GB, imports included; benchmarks/results/masking.md).

Notebook: ``notebooks/ch02_masking.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from . import iso_tables
from ._checks import check_choice, check_peak_value, check_real, check_sample_rate, check_signal

__all__ = [
    "PsychoacousticModel1",
    "ModelConstants",
    "CALIBRATIONS",
    "SPL_MODES",
    "POWER_NORM_DB",
    "ISO_FULL_SCALE_SINE_DB",
    "FULL_SCALE_SINE_DB",
    "CALIBRATED_PEAK_DB",
    "N_SUBBANDS",
    "ModelTables",
    "MaskingAnalysis",
    "model_tables",
    "threshold_analysis",
    "check_n_fft",
    "check_calibration",
    "check_long_signal",
    "default_hop",
    "full_scale_sine_db",
    "zwicker_bark",
    "terhardt_threshold_in_quiet",
    "spectrum_db",
    "calibrated_spectrum_db",
    "calibration_offset_db",
    "polyphase_analysis",
    "scalefactor_index",
    "scalefactor_level_db",
    "tonal_maskers",
    "nontonal_maskers",
    "decimate_maskers",
    "global_threshold",
    "spreading_db",
    "threshold_from_maskers",
    "subband_smr",
    "analyse_spectrum",
    "psychoacoustic_model1",
    "model1_chunks",
    "global_masking_threshold",
    "check_hop",
    "tensor_reader",
    "frame_count",
    "chunk_frames_for",
    "model1_stream",
]

#: The standard's power normalisation term PN of the level spectrum, dB.
POWER_NORM_DB = 90.302
#: Level in dB of a full-scale sinusoid at a line centre under the standard's
#: scaling: ``PN + 10 log10((sqrt(8/3) / 4)^2) = PN + 10 log10(1/6)``.
ISO_FULL_SCALE_SINE_DB = POWER_NORM_DB + 10.0 * math.log10(1.0 / 6.0)
#: Level of a full-scale sinusoid under each fixed calibration, dB SPL.
#: The level the ``"sine96"`` calibration gives a full-scale sinusoid and ``"frame_max96"`` each frame's
#: loudest line, dB SPL (the 96 dB of 16-bit PCM's dynamic range).
CALIBRATED_PEAK_DB = 96.0
FULL_SCALE_SINE_DB: dict[str, float] = {"iso": ISO_FULL_SCALE_SINE_DB, "sine96": CALIBRATED_PEAK_DB}
#: The calibrations every entry point accepts (see the module docstring).
CALIBRATIONS = ("iso", "sine96", "frame_max96")
#: Subband level of the SMR: Annex D's (``"scalefactor"``) or the spectrum's maximum alone.
SPL_MODES = ("scalefactor", "spectrum")
#: Threshold-in-quiet cap of the derived tables, dB.
ATH_CAP_DB = 68.0
#: Floor of the level spectrum, dB SPL (keeps silence finite).
LEVEL_FLOOR_DB = -200.0
#: Number of subbands of the polyphase filterbank.
N_SUBBANDS = 32
#: Subband samples per scalefactor (Layer I: one per 12; Layer II: three per 36).
SCALE_BLOCK = 12
#: Delay of the analysis filterbank: subband sample ``b`` is centred on input sample ``32 b - 225``.
FILTERBANK_DELAY = 225

_LAYER = {512: 1, 1024: 2}


def zwicker_bark(frequency_hz: np.ndarray) -> np.ndarray:
    """Critical-band rate in Bark, ``13 atan(0.76 f/kHz) + 3.5 atan((f / 7.5 kHz)^2)``."""
    f = np.asarray(frequency_hz, dtype=np.float64)
    return 13.0 * np.arctan(0.76e-3 * f) + 3.5 * np.arctan((f / 7500.0) ** 2)


def terhardt_threshold_in_quiet(frequency_hz: np.ndarray, cap_db: float = ATH_CAP_DB) -> np.ndarray:
    """Threshold in quiet in dB SPL (Terhardt 1979), capped at ``cap_db`` as in the tables."""
    f = np.asarray(frequency_hz, dtype=np.float64) / 1000.0
    ath = 3.64 * f**-0.8 - 6.5 * np.exp(-0.6 * (f - 3.3) ** 2) + 1e-3 * f**4
    return np.minimum(ath, cap_db)


@dataclass(frozen=True)
class ModelTables:
    """Frequency-grid tables of model 1 for one sample rate and FFT size.

    Attributes:
        sample_rate: Hz.
        n_fft: 512 (Layer I) or 1024 (Layer II).
        standard: ``True`` when the tables are the standard's printed ones.
        grid_lines: FFT line of each grid point, ``(I,)``.
        frequency: Hz, ``(I,)``.
        bark: critical-band rate, ``(I,)``.
        threshold_in_quiet: dB SPL, ``(I,)``.
        band_boundaries: first FFT line of each critical band, then the upper line.
        line_to_grid: grid row of every FFT line ``0 .. n_fft/2``: the row whose
            line is nearest (ties: the lower row; outside the grid: the nearest end).
        upper_line: the last line the model looks at.
    """

    sample_rate: int
    n_fft: int
    standard: bool
    grid_lines: np.ndarray
    frequency: np.ndarray
    bark: np.ndarray
    threshold_in_quiet: np.ndarray
    band_boundaries: np.ndarray
    line_to_grid: np.ndarray
    upper_line: int

    @property
    def n_bands(self) -> int:
        """Number of critical bands."""
        return len(self.band_boundaries) - 1

    @property
    def band_membership(self) -> np.ndarray:
        """``(n_fft/2 + 1, n_bands)`` 0/1 matrix: line ``k`` lies in critical band ``b``."""
        member = np.zeros((self.n_fft // 2 + 1, self.n_bands))
        for b in range(self.n_bands):
            member[int(self.band_boundaries[b]) : int(self.band_boundaries[b + 1]), b] = 1.0
        return member


def _neighbourhood(n_fft: int, k: int) -> int:
    """Reach of the standard's 7 dB tonal test at line ``k`` (0: not a candidate)."""
    if k <= 2:
        return 0
    if k < 63:
        return 2
    if k < 127:
        return 3
    if n_fft == 512:
        return 6 if k < 250 else 0
    if k < 255:
        return 6
    return 12 if k < 500 else 0


def _grid(n_fft: int, upper: int) -> np.ndarray:
    steps = [(1, 48, 1), (50, 96, 2), (100, 192 if n_fft == 1024 else upper, 4)]
    if n_fft == 1024:
        steps.append((200, upper, 8))
    lines: list[int] = []
    for start, stop, step in steps:
        lines.extend(range(start, min(stop, upper) + 1, step))
    return np.array(lines, dtype=np.int64)


def _nearest_row(grid: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """Row of ``grid`` nearest to each line; a line midway between two rows takes the lower."""
    hi = np.clip(np.searchsorted(grid, lines, side="left"), 0, len(grid) - 1)
    lo = np.clip(hi - 1, 0, len(grid) - 1)
    take_hi = np.abs(grid[hi] - lines) < np.abs(lines - grid[lo])
    return np.where(take_hi, hi, lo)


def check_n_fft(n_fft: object) -> int:
    """Validate model 1's FFT size (512 for Layer I, 1024 for Layer II) and return it."""
    if isinstance(n_fft, bool) or n_fft not in (512, 1024):
        raise ValueError(f"n_fft must be 512 (Layer I) or 1024 (Layer II), got {n_fft!r}")
    return int(n_fft)


def check_calibration(calibration: object) -> str:
    """Validate a level calibration name (:data:`CALIBRATIONS`) and return it."""
    return check_choice(calibration, "calibration", CALIBRATIONS)


def full_scale_sine_db(calibration: str = "iso") -> float:
    """Level in dB SPL of a full-scale sinusoid at a line centre under ``calibration``.

    For ``"frame_max96"`` this is 96 dB in any frame whose loudest line is the sinusoid's.

    >>> round(full_scale_sine_db("iso"), 2), full_scale_sine_db("sine96")
    (82.52, 96.0)
    """
    calibration = check_calibration(calibration)
    return FULL_SCALE_SINE_DB.get(calibration, CALIBRATED_PEAK_DB)


@lru_cache(maxsize=32)
def model_tables(sample_rate: int, n_fft: int = 512) -> ModelTables:
    """Tables of model 1 for ``sample_rate`` Hz and ``n_fft`` in {512, 1024}.

    Raises:
        ValueError: for an unsupported ``n_fft`` or a rate whose grid would be empty.
    """
    sample_rate = check_sample_rate(sample_rate)
    check_n_fft(n_fft)
    if sample_rate < 8000:
        raise ValueError(f"sample_rate {sample_rate} Hz is too low for psychoacoustic model 1 (needs >= 8000)")
    key = (_LAYER[n_fft], sample_rate)
    standard = key in iso_tables.THRESHOLD_TABLES
    if standard:
        rows = np.array(iso_tables.THRESHOLD_TABLES[key], dtype=np.float64)
        grid = rows[:, 0].astype(np.int64)
        bark, ath = rows[:, 1].copy(), rows[:, 2].copy()
        boundaries = np.array(iso_tables.BAND_BOUNDARIES[key], dtype=np.int64)
        upper = int(grid[-1])
    else:
        limit = 250 if n_fft == 512 else 500
        full = _grid(n_fft, limit - 1)
        grid = full[full * sample_rate / n_fft < 20000.0]
        if len(grid) < 2:
            raise ValueError(f"sample_rate {sample_rate} Hz is too high for psychoacoustic model 1 at n_fft={n_fft}: "
                             f"its lines are {sample_rate / n_fft:g} Hz apart, too few below 20 kHz")
        upper = int(grid[-1])
        frequency = grid * sample_rate / n_fft
        bark = zwicker_bark(frequency)
        ath = terhardt_threshold_in_quiet(frequency)
        edges = [int(grid[0])]
        for z in range(1, int(math.floor(bark[-1])) + 1):
            first = int(grid[np.argmax(bark >= z)])
            if first > edges[-1] and first < upper:
                edges.append(first)
        edges.append(upper)
        boundaries = np.array(edges, dtype=np.int64)
    line_to_grid = _nearest_row(grid, np.arange(n_fft // 2 + 1))
    return ModelTables(
        sample_rate=sample_rate,
        n_fft=n_fft,
        standard=standard,
        grid_lines=grid,
        frequency=grid * sample_rate / n_fft,
        bark=bark,
        threshold_in_quiet=ath,
        band_boundaries=boundaries,
        line_to_grid=line_to_grid,
        upper_line=upper,
    )


def default_hop(n_fft: int) -> int:
    """The standard's frame advance: 384 samples (Layer I) or 1152 (Layer II)."""
    return 384 if check_n_fft(n_fft) == 512 else 1152


def check_hop(hop: object, n_fft: int) -> int:
    """``hop`` validated as a positive number of samples; ``None`` gives :func:`default_hop` of ``n_fft``."""
    if hop is None:
        return default_hop(n_fft)
    if isinstance(hop, bool) or not isinstance(hop, (int, np.integer)) or hop < 1:
        raise ValueError(f"hop must be a positive integer number of samples, got {hop!r}")
    return int(hop)


def _iso_level_db(x: torch.Tensor, n_fft: int, hop: int, floor_db: float = LEVEL_FLOOR_DB) -> torch.Tensor:
    """The standard's level spectrum (PN = 90.302 dB, floored at ``floor_db``), ``(..., F, n_fft/2 + 1)``."""
    frames = x.unfold(-1, n_fft, hop)
    window = torch.hann_window(n_fft, periodic=True, dtype=x.dtype, device=x.device)
    window = window * (math.sqrt(8.0 / 3.0) / n_fft)
    spec = torch.fft.rfft(frames * window, dim=-1)
    power = spec.real**2 + spec.imag**2
    floor = 10.0 ** ((floor_db - POWER_NORM_DB) / 10.0)
    return POWER_NORM_DB + 10.0 * torch.log10(power.clamp_min(floor))


def calibration_offset_db(level_iso_db: torch.Tensor, calibration: str = "iso") -> torch.Tensor:
    """Offset in dB that turns the standard's level spectrum into ``calibration``'s.

    ``level_iso_db``: ``(..., F, K)`` from ``spectrum_db(..., calibration="iso")``;
    returns ``(..., F, 1)`` (detached). For ``"frame_max96"`` the offset is
    ``96 - max_k L(k)`` per frame, and 0 for frames of digital silence.
    """
    calibration = check_calibration(calibration)
    shape = (*level_iso_db.shape[:-1], 1)
    if calibration == "iso":
        return level_iso_db.new_zeros(shape)
    if calibration == "sine96":
        return level_iso_db.new_full(shape, CALIBRATED_PEAK_DB - ISO_FULL_SCALE_SINE_DB)
    peak = level_iso_db.detach().amax(-1, keepdim=True)
    silent = peak <= LEVEL_FLOOR_DB + 1e-6
    return torch.where(silent, torch.zeros_like(peak), CALIBRATED_PEAK_DB - peak)


def spectrum_db(
    x: torch.Tensor,
    n_fft: int = 512,
    hop: int | None = None,
    calibration: str = "iso",
    reference: torch.Tensor | None = None,
) -> torch.Tensor:
    """Calibrated level spectrum in dB SPL, ``(..., time) -> (..., frames, n_fft/2 + 1)``.

    ``X(k) = PN + 10 log10 |1/N sum_l h(l) x(l) exp(-2 pi j k l / N)|^2`` with
    ``h = sqrt(8/3)`` times the periodic Hann window and ``PN = 90.302 dB``, plus
    the offset of ``calibration`` (module docstring); levels are floored at
    -200 dB. Differentiable in ``x``.

    Args:
        x: signals in [-1, 1], at least ``n_fft`` samples.
        n_fft: 512 or 1024. (Default: 512)
        hop: frame advance. (Default: 384 / 1152)
        calibration: ``"iso"``, ``"sine96"`` or ``"frame_max96"``. (Default: ``"iso"``)
        reference: for ``"frame_max96"``, the signal whose frame maxima set the
            offset (e.g. a loss's target, so input and target share one scale);
            same shape as ``x``. (Default: ``x`` itself)

    >>> t = torch.arange(512, dtype=torch.float64)
    >>> sine = torch.sin(2 * torch.pi * 16 * t / 512)  # full scale, on line 16
    >>> round(float(spectrum_db(sine)[0, 16]), 2), round(float(spectrum_db(sine, calibration="sine96")[0, 16]), 2)
    (82.52, 96.0)
    """
    n_fft = check_n_fft(n_fft)
    check_signal(x, "x", min_length=n_fft)
    hop = check_hop(hop, n_fft)
    calibration = check_calibration(calibration)
    offset = None
    if calibration == "frame_max96" and reference is not None:
        check_signal(reference, "reference", min_length=n_fft)
        if reference.shape != x.shape:
            raise ValueError(f"reference must have the shape of x {tuple(x.shape)}, got {tuple(reference.shape)}")
        offset = calibrated_spectrum_db(reference.to(x.dtype), n_fft, hop, calibration)[1]
    return calibrated_spectrum_db(x, n_fft, hop, calibration, offset)[0]


def calibrated_spectrum_db(
    x: torch.Tensor, n_fft: int, hop: int, calibration: str, offset_db: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The level spectrum under ``calibration`` and the offset it applied, ``(..., F, K), (..., F, 1)``.

    ``offset_db`` (e.g. a loss target's, from an earlier call) replaces the
    offset computed from ``x`` itself. One FFT; arguments are not validated
    (:func:`spectrum_db` is the checked entry point).
    """
    if calibration == "iso":
        level = _iso_level_db(x, n_fft, hop)
        return level, level.new_zeros((*level.shape[:-1], 1))
    # floor after the offset, so that digital silence reads the same floor in every calibration
    raw = _iso_level_db(x, n_fft, hop, floor_db=LEVEL_FLOOR_DB - 300.0)
    if offset_db is None:
        offset_db = calibration_offset_db(raw.detach().clamp_min(LEVEL_FLOOR_DB), calibration)
    return (raw + offset_db).clamp_min(LEVEL_FLOOR_DB), offset_db


@lru_cache(maxsize=8)
def _analysis_matrix_np() -> np.ndarray:
    """``(512, 32)``: window times matrixing, ``W[i, s] = C[i] cos((2s + 1)(i mod 64 - 16) pi / 64)``."""
    c = np.asarray(iso_tables.ANALYSIS_WINDOW, dtype=np.float64)
    i = np.arange(512)
    s = np.arange(N_SUBBANDS)
    m = np.cos((2 * s[None, :] + 1) * ((i[:, None] % 64) - 16) * np.pi / 64)
    return c[:, None] * m


def polyphase_analysis(x: torch.Tensor, n_blocks: int | None = None) -> torch.Tensor:
    """The standard's polyphase analysis filterbank (Annex C.1.3), ``(..., time) -> (..., blocks, 32)``.

    Block ``b`` consumes input samples ``32 b .. 32 b + 31`` (the filterbank
    starts from zeros; samples past the end are zeros) and holds one sample of
    each of the 32 subbands, ``S_s(b) = sum_i C(i) M(s, i mod 64) x(32 b + 31 - i)``
    with the analysis window ``C`` of Table C.1. Its time centre is input sample
    ``32 b - 225``. A full-scale sinusoid at a subband centre gives subband
    samples of amplitude about 1.

    Computed by the flow chart (windowing, the 64 partial sums, then the
    32 x 64 matrixing: 2.5k multiply-adds a block instead of 16k), in the input's dtype.
    Memory: the result (as large as the input) and a working set of
    :data:`POLYPHASE_CHUNK_BLOCKS` blocks, whatever the length.

    Args:
        x: signals ``(..., time)``.
        n_blocks: blocks to compute. (Default: ``ceil(time / 32)``)
    """
    check_long_signal(x, "x")
    total = -(-x.shape[-1] // 32) if n_blocks is None else int(n_blocks)
    if total < 1:
        raise ValueError(f"n_blocks must be positive, got {n_blocks!r}")
    return _polyphase_blocks(tensor_reader(x), 0, total, x.dtype, x.device)


#: Subband blocks the filterbank computes at a time (its working set: this many 512-sample windows per signal).
POLYPHASE_CHUNK_BLOCKS = 2048

#: Reads samples ``[start, stop)`` of ``(..., time)`` signals, zeros outside the signal: ``(..., stop - start)``.
SampleReader = Callable[[int, int], torch.Tensor]


def tensor_reader(x: torch.Tensor) -> SampleReader:
    """A :data:`SampleReader` of ``x`` (zeros before sample 0 and past the end)."""
    length = x.shape[-1]

    def read(start: int, stop: int) -> torch.Tensor:
        lo, hi = max(start, 0), min(stop, length)
        if lo >= hi:
            return x.new_zeros((*x.shape[:-1], stop - start))
        part = x[..., lo:hi]
        if lo == start and hi == stop:
            return part
        return torch.nn.functional.pad(part, (lo - start, stop - hi))

    return read


def _polyphase_blocks(read: SampleReader, first: int, stop: int, dtype: torch.dtype,
                      device: torch.device) -> torch.Tensor:
    """Blocks ``first .. stop - 1`` of :func:`polyphase_analysis`, ``(..., stop - first, 32)``.

    The flow chart of Annex C.1.3 on all blocks at once: the 512 windowed samples
    ``Z(i) = C(i) x(32 b + 31 - i)`` summed into ``Y(i) = sum_j Z(i + 64 j)``
    (``i < 64``), then the matrixing ``S = M Y``. Input sample ``32 b + 31 - i``
    lies in the 32-sample group ``b - i // 32`` of the signal, so ``Y`` is 16
    multiply-adds of shifted (blocks, 32) views, without a 512-sample copy per block.
    """
    window, matrix = _analysis_parts(dtype, device)
    out = []
    for b0 in range(first, stop, POLYPHASE_CHUNK_BLOCKS):
        b1 = min(b0 + POLYPHASE_CHUNK_BLOCKS, stop)
        n = b1 - b0
        groups = read(32 * b0 - 480, 32 * b1)
        groups = groups.reshape(*groups.shape[:-1], n + 15, 32)  # group g holds x[32 (b0 + g) - 480 ..]
        # Y(i) for i = 32 h + p (h = 0, 1; p < 32) collects Z(i + 64 j) = C(i + 64 j) x(32 b + 31 - i - 64 j),
        # in group 15 - 2j - h at position 31 - p: the positions run backwards, which window[] absorbs
        y = groups.new_zeros((*groups.shape[:-2], n, 64))
        for h in range(2):
            yh = y[..., 32 * h : 32 * h + 32]
            for j in range(8):
                g = 15 - 2 * j - h
                yh.addcmul_(groups[..., g : g + n, :], window[h, j])
        out.append(y @ matrix)
    return out[0] if len(out) == 1 else torch.cat(out, -2)  # (..., blocks, 32)


def _analysis_parts(dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The window ``C(32 h + (31 - q) + 64 j)`` as ``(2, 8, 32)`` over (h, j, q), and the matrixing ``(64, 32)``
    with rows ``i = 32 h + p`` in the order of ``Y`` (its columns read positions ``q = 31 - p`` backwards)."""
    key = (dtype, str(device))
    if key not in _ANALYSIS:
        c = np.asarray(iso_tables.ANALYSIS_WINDOW, dtype=np.float64).reshape(8, 2, 32)  # (j, h, p): C(64j + 32h + p)
        window = c[:, :, ::-1].transpose(1, 0, 2)  # (h, j, q) with q = 31 - p
        i = np.arange(64)
        s = np.arange(N_SUBBANDS)
        matrix = np.cos((2 * s[None, :] + 1) * (i[:, None] - 16) * np.pi / 64)  # (64, 32): M(s, i)
        # y[..., 32 h + q] holds Y(32 h + 31 - q)
        order = (32 * (i // 32) + 31 - i % 32)
        _ANALYSIS[key] = (torch.as_tensor(window.copy(), dtype=dtype, device=device),
                          torch.as_tensor(matrix[order].copy(), dtype=dtype, device=device))
    return _ANALYSIS[key]


_ANALYSIS: dict[tuple[torch.dtype, str], tuple[torch.Tensor, torch.Tensor]] = {}


def scalefactor_index(peak: torch.Tensor) -> torch.Tensor:
    """Index of the smallest scalefactor of Table B.1 not below ``peak`` (0 = 2.0, 62 = 1.2e-6).

    ``peak``: largest absolute subband sample of a block, any shape; values
    above 2.0 get index 0, values below the last scalefactor index 62.
    """
    ascending = _scalefactors_ascending(peak.device)
    # the table decreases: the index is the number of entries >= peak, minus one (compared in float64)
    below = torch.searchsorted(ascending, peak.double().contiguous(), side="left")  # entries < peak
    return (len(ascending) - below - 1).clamp(0, len(ascending) - 1)


def _scalefactors_ascending(device: torch.device) -> torch.Tensor:
    key = str(device)
    if key not in _SCALEFACTORS:
        _SCALEFACTORS[key] = torch.as_tensor(iso_tables.SCALEFACTORS[::-1], dtype=torch.float64, device=device)
    return _SCALEFACTORS[key]


_SCALEFACTORS: dict[str, torch.Tensor] = {}


def _scalefactor_blocks(n_frames: int, n_fft: int, hop: int, first_frame: int = 0) -> torch.Tensor:
    """First subband block of each frame's scalefactor group, ``(F,)`` (frames ``first_frame ..``).

    The ``12`` (Layer I) or ``36`` (Layer II) blocks whose mean time centre is
    nearest to the centre of the frame's FFT window.
    """
    nb = SCALE_BLOCK * (1 if n_fft == 512 else 3)
    starts = torch.arange(first_frame, first_frame + n_frames, dtype=torch.float64) * hop
    centre = starts + n_fft / 2 + FILTERBANK_DELAY - 16 * (nb - 1)
    return torch.floor(centre / 32 + 0.5).long().clamp_min(0)


@torch.no_grad()
def scalefactor_level_db(
    x: torch.Tensor,
    n_fft: int = 512,
    hop: int | None = None,
    calibration: str = "iso",
    offset_db: torch.Tensor | None = None,
) -> torch.Tensor:
    """Annex D's scalefactor term of the subband level, ``20 log10(scf_max * 32768) - 10`` dB.

    ``scf_max`` is the largest scalefactor (Table B.1) of each subband over the
    12 (Layer I) or 36 (Layer II) subband samples aligned with each model-1
    frame; ``(..., time) -> (..., frames, 32)``, detached. The calibration's
    offset is added (per frame for ``"frame_max96"``) so the term stays on the
    spectrum's scale; ``offset_db`` passes the one :func:`calibrated_spectrum_db`
    already computed for ``x``. Frames are processed :data:`CHUNK_ROWS` at a
    time (bounded working memory; the same numbers as all at once). The
    filterbank runs in float64 for any input: a scalefactor quantises, and a
    float32 filterbank's last bits would move block maxima of quiet subbands
    across its 2 dB steps (float32 input gets float64's scalefactors).
    """
    n_fft = check_n_fft(n_fft)
    check_long_signal(x, "x", min_length=n_fft)
    hop = check_hop(hop, n_fft)
    calibration = check_calibration(calibration)
    n_frames = frame_count(x.shape[-1], n_fft, hop)
    read = tensor_reader(x)
    out = []
    for f0, f1 in _frame_spans(n_frames, chunk_frames_for(x)):
        offset = None
        if calibration != "iso":
            if offset_db is not None:
                offset = offset_db[..., f0:f1, :]
            else:
                offset = calibrated_spectrum_db(read(f0 * hop, (f1 - 1) * hop + n_fft), n_fft, hop, calibration)[1]
        out.append(_scalefactor_db_frames(read, f0, f1, n_fft, hop, offset, x.dtype, x.device))
    return out[0] if len(out) == 1 else torch.cat(out, -2)


def _scalefactor_db_frames(read: SampleReader, f0: int, f1: int, n_fft: int, hop: int, offset_db: torch.Tensor | None,
                           dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """:func:`scalefactor_level_db` of frames ``f0 .. f1 - 1``, reading only the samples they need.

    The filterbank runs in float64 whatever ``dtype``: a scalefactor is a quantiser, and the last bits of
    a float32 filterbank would move block maxima of quiet subbands across its steps."""
    nb = SCALE_BLOCK * (1 if n_fft == 512 else 3)
    first = _scalefactor_blocks(f1 - f0, n_fft, hop, f0).to(device)  # non-decreasing
    n = f1 - f0

    def read64(start: int, stop: int) -> torch.Tensor:
        return read(start, stop).double()

    # a few frames at a time: their blocks stay in cache and are reduced to maxima at once
    step = max(1, POLYPHASE_CHUNK_BLOCKS // max(nb, hop // 32))
    peaks = []
    for a in range(0, n, step):
        z = min(a + step, n)
        ba = int(first[a])
        sub = _polyphase_blocks(read64, ba, int(first[z - 1]) + nb, torch.float64, device).abs_()  # (..., blocks, 32)
        peaks.append(_group_peaks(sub, first[a:z] - ba, nb, hop, z - a))  # (..., frames, 32)
    peak = peaks[0] if len(peaks) == 1 else torch.cat(peaks, -2)
    index = scalefactor_index(peak)
    level = _scalefactor_db_table(dtype, device)[index]
    if offset_db is not None:  # the same per-frame offset as the spectrum's
        level = level + offset_db
    return level


def _group_peaks(sub: torch.Tensor, first: torch.Tensor, nb: int, hop: int, n: int) -> torch.Tensor:
    """Largest ``sub`` over blocks ``first[f] .. first[f] + nb - 1`` for each frame ``f``, ``(..., n, 32)``."""
    step = hop // 32
    if hop % 32 == 0 and int(first[-1]) == int(first[0]) + step * (n - 1):
        # equally spaced groups (the standard's hops): a strided view, no gather
        return sub[..., int(first[0]):, :].unfold(-2, nb, step)[..., :n, :, :].amax(-1)
    idx = first[:, None] + torch.arange(nb, device=sub.device)  # (F, nb)
    return sub[..., idx, :].amax(-2)


def _scalefactor_db_table(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``20 log10(scf * 32768) - 10`` for every scalefactor of Table B.1, by index."""
    key = (dtype, str(device))
    if key not in _SCALEFACTOR_DB:
        table = torch.as_tensor(iso_tables.SCALEFACTORS, dtype=dtype, device=device)
        _SCALEFACTOR_DB[key] = 20.0 * torch.log10(table * 32768.0) - 10.0
    return _SCALEFACTOR_DB[key]


_SCALEFACTOR_DB: dict[tuple[torch.dtype, str], torch.Tensor] = {}


def frame_count(length: int, n_fft: int, hop: int) -> int:
    """Frames of ``n_fft`` samples every ``hop`` in ``length`` samples (model 1's framing, no padding)."""
    return 1 + (length - n_fft) // hop


#: Samples (times signals) whose values :func:`check_long_signal` checks at a time.
CHECK_BLOCK = 1 << 22


def check_long_signal(x: object, name: str, min_length: int = 1) -> torch.Tensor:
    """:func:`percloss._checks.check_signal` in bounded memory: the same checks and messages (type,
    dtype, shape and length, then NaN/Inf over the whole signal, then its peak), the values read
    :data:`CHECK_BLOCK` samples at a time instead of through whole-signal temporaries."""
    if not isinstance(x, torch.Tensor) or x.dim() < 1 or x.shape[-1] < min_length or x.numel() <= CHECK_BLOCK:
        return check_signal(x, name, min_length=min_length)
    step = max(1, CHECK_BLOCK // max(1, x.numel() // x.shape[-1]))
    blocks = [x[..., a : a + step] for a in range(0, x.shape[-1], step)]
    for block in blocks:
        check_signal(block, name, check_peak=False)
    check_peak_value(max(float(block.detach().abs().amax()) for block in blocks), name)
    return x


#: Frames times signals model 1 analyses at a time: its working memory is bounded by this, whatever the length.
CHUNK_ROWS = 4096


def chunk_frames_for(x: torch.Tensor) -> int:
    """Frames per chunk for signals ``x`` (``(..., time)``): :data:`CHUNK_ROWS` rows over the batch."""
    batch = math.prod(x.shape[:-1])
    return max(1, CHUNK_ROWS // max(batch, 1))


def _frame_spans(n_frames: int, chunk_frames: int) -> list[tuple[int, int]]:
    """``[(f0, f1), ...]`` covering frames ``0 .. n_frames - 1``, ``chunk_frames`` at a time."""
    return [(f0, min(f0 + chunk_frames, n_frames)) for f0 in range(0, n_frames, chunk_frames)]


@dataclass
class MaskingAnalysis:
    """Everything model 1 computes for a batch of frames (all tensors detached).

    Shapes use ``F`` frames, ``K = n_fft/2 + 1`` lines, ``I`` grid points,
    ``B`` critical bands.

    Attributes:
        spectrum_db: level spectrum, ``(..., F, K)``.
        tonal: line holds a tonal masker after decimation, ``(..., F, K)``.
        tonal_db: tonal masker levels (``-inf`` elsewhere), ``(..., F, K)``.
        nontonal_db: non-tonal masker level per band (``-inf`` if dropped), ``(..., F, B)``.
        nontonal_line: line of each band's non-tonal masker, ``(B,)``.
        global_threshold_db: on the grid, ``(..., F, I)``.
        threshold_db: the global threshold on every line (its nearest grid row), ``(..., F, K)``.
        min_threshold_db: per subband, ``(..., F, 32)``.
        spectrum_max_db: largest line level per subband, ``(..., F, 32)``.
        scalefactor_db: Annex D's scalefactor term per subband, ``(..., F, 32)``
            (``None`` when the subband level is the spectrum's alone).
        spl_db: subband level used for the SMR, ``(..., F, 32)``.
        smr_db: signal-to-mask ratio, ``(..., F, 32)``.
        tables: the :class:`ModelTables` used.
        calibration: the level calibration of the spectrum.
    """

    spectrum_db: torch.Tensor
    tonal: torch.Tensor
    tonal_db: torch.Tensor
    nontonal_db: torch.Tensor
    nontonal_line: torch.Tensor
    global_threshold_db: torch.Tensor
    threshold_db: torch.Tensor
    min_threshold_db: torch.Tensor
    spectrum_max_db: torch.Tensor
    scalefactor_db: torch.Tensor | None
    spl_db: torch.Tensor
    smr_db: torch.Tensor
    tables: ModelTables
    calibration: str = "iso"


class ModelConstants(torch.nn.Module):
    """Model 1's tensors for one (sample rate, FFT size), as buffers (not saved in state dicts: they follow
    from the tables). Modules that run model 1 own one, so ``.to(device)`` and ``.double()`` move them;
    the functional forms use a per-(rate, size, dtype, device) cache of these.

    Args:
        t: the tables of :func:`model_tables`.
        dtype: floating dtype of the level-valued buffers. (Default: ``torch.float32``)
        device: where the buffers live. (Default: the CPU)
    """

    reach: torch.Tensor
    ath_grid: torch.Tensor
    line_to_grid: torch.Tensor
    ath_line: torch.Tensor
    bark_line: torch.Tensor
    member: torch.Tensor
    nt_lines: torch.Tensor
    offset: torch.Tensor
    slope: torch.Tensor
    spread: torch.Tensor
    sub_member: torch.Tensor
    sub_rows: torch.Tensor
    sub_empty: torch.Tensor

    def __init__(self, t: ModelTables, dtype: torch.dtype = torch.float32,
                 device: torch.device | str | None = None) -> None:
        super().__init__()
        self.tables = t
        self._build(dtype, device)

    def _apply(self, fn: Any, recurse: bool = True) -> ModelConstants:
        """After ``.to()``/``.double()``/...: rebuild from the tables at the new dtype and device (a float32
        table cast to float64 would differ from the float64 one in its last digits)."""
        super()._apply(fn, recurse)
        self._build(self.ath_grid.dtype, self.ath_grid.device)
        return self

    def _build(self, dtype: torch.dtype, device: torch.device | str | None) -> None:
        t = self.tables
        k_count = t.n_fft // 2 + 1
        lines = np.arange(k_count)
        reach = np.array([_neighbourhood(t.n_fft, int(k)) for k in lines])
        self._buffer("reach", torch.as_tensor(reach, device=device))
        self.max_reach = int(reach.max())
        # (j, lo, hi): the lines [lo, hi) whose reach is at least j (contiguous: the reach grows with the line)
        self.reach_runs = [(j, int(np.argmax(reach >= j)), int(len(reach) - np.argmax(reach[::-1] >= j)))
                           for j in range(1, self.max_reach + 1)]
        self._buffer("ath_grid", torch.as_tensor(t.threshold_in_quiet, dtype=dtype, device=device))
        self._buffer("line_to_grid", torch.as_tensor(t.line_to_grid, device=device))
        self._buffer("ath_line", self.ath_grid[self.line_to_grid])
        self._buffer("bark_line", torch.as_tensor(t.bark[t.line_to_grid], dtype=dtype, device=device))
        # critical-band membership (K, B) and the geometric-mean line of each band
        member = t.band_membership
        nt_lines = np.zeros(t.n_bands, dtype=np.int64)
        for b in range(t.n_bands):
            ks = np.arange(int(t.band_boundaries[b]), int(t.band_boundaries[b + 1]))
            nt_lines[b] = int(np.rint(np.exp(np.mean(np.log(ks)))))
        self._buffer("member", torch.as_tensor(member, dtype=dtype, device=device))
        self._buffer("nt_lines", torch.as_tensor(nt_lines, device=device))
        # masker slots: every line (tonal) then every band (non-tonal)
        masker_grid = np.concatenate([t.line_to_grid, t.line_to_grid[nt_lines]])
        z_masker = t.bark[masker_grid]
        dz = t.bark[None, :] - z_masker[:, None]  # (J, I)
        a = np.full(dz.shape, -np.inf)
        slope = np.zeros(dz.shape)
        p1 = (dz >= -3) & (dz < -1)
        p2 = (dz >= -1) & (dz < 0)
        p3 = (dz >= 0) & (dz < 1)
        p4 = (dz >= 1) & (dz < 8)
        a[p1], slope[p1] = 17.0 * (dz[p1] + 1.0) - 6.0, -0.4
        a[p2], slope[p2] = 6.0 * dz[p2], 0.4 * dz[p2]
        a[p3], slope[p3] = -17.0 * dz[p3], 0.0
        a[p4], slope[p4] = -17.0 * (dz[p4] - 1.0) - 17.0, 0.15 * (dz[p4] - 1.0)
        av = np.concatenate([
            -1.525 - 0.275 * z_masker[:k_count] - 4.5,
            -1.525 - 0.175 * z_masker[k_count:] - 0.5,
        ])
        self._buffer("offset", torch.as_tensor(a + av[:, None], dtype=dtype, device=device))  # (J, I), -inf outside
        self._buffer("slope", torch.as_tensor(1.0 + slope, dtype=dtype, device=device))  # (J, I)
        # slope and offset times ln(10)/10 side by side, (J, 2, I): a masker's powers are exp(X s + o)
        ln = math.log(10.0) / 10.0
        self._buffer("spread", torch.as_tensor(np.stack([ln * (1.0 + slope), ln * (a + av[:, None])], axis=1),
                                               dtype=dtype, device=device))
        # subbands: lines [s*w, (s+1)*w); grid rows inside each
        width = (t.n_fft // 2) // N_SUBBANDS
        sub_of_grid = t.grid_lines // width
        sub_member = np.zeros((len(t.grid_lines), N_SUBBANDS), dtype=bool)
        inside = sub_of_grid < N_SUBBANDS
        sub_member[np.arange(len(t.grid_lines))[inside], sub_of_grid[inside]] = True
        self._buffer("sub_member", torch.as_tensor(sub_member, device=device))
        # the grid rows of each subband as a (32, most rows) index, short subbands repeating a row of their own
        most = max(int(sub_member.sum(0).max()), 1)
        sub_rows = np.zeros((N_SUBBANDS, most), dtype=np.int64)
        for sb in range(N_SUBBANDS):
            own = np.flatnonzero(sub_member[:, sb])
            if len(own):
                sub_rows[sb] = own[np.minimum(np.arange(most), len(own) - 1)]
        self._buffer("sub_rows", torch.as_tensor(sub_rows.reshape(-1), device=device))
        self._buffer("sub_empty", torch.as_tensor(~sub_member.any(axis=0), device=device))
        self.ath_last = float(t.threshold_in_quiet[-1])
        self.sub_width = width

    def _buffer(self, name: str, value: torch.Tensor) -> None:
        self.register_buffer(name, value, persistent=False)

    def usable_for(self, x: torch.Tensor) -> bool:
        """Whether the buffers have ``x``'s floating dtype and device."""
        return self.ath_grid.dtype == x.dtype and self.ath_grid.device == x.device


_CONSTANTS: dict[tuple[int, int, torch.dtype, str], ModelConstants] = {}


def _constants(t: ModelTables, x: torch.Tensor, constants: ModelConstants | None = None) -> ModelConstants:
    """``constants`` when they fit ``x`` (dtype and device), else the cached ones for ``t`` that do."""
    if constants is not None and constants.usable_for(x):
        return constants
    key = (t.sample_rate, t.n_fft, x.dtype, str(x.device))
    if key not in _CONSTANTS:
        _CONSTANTS[key] = ModelConstants(t, x.dtype, x.device)
    return _CONSTANTS[key]


#: Highest line level the model accepts, dB SPL: summed over a frame's lines, powers above it overflow float32
#: (``_checks.MAX_AMPLITUDE`` keeps signals below about 262 dB).
MAX_LEVEL_DB = 300.0


def _check_level(level_db: object, k_count: int) -> torch.Tensor:
    if not isinstance(level_db, torch.Tensor) or level_db.dim() < 2 or level_db.shape[-1] != k_count:
        shape = tuple(level_db.shape) if isinstance(level_db, torch.Tensor) else type(level_db).__name__
        raise ValueError(f"level_db must have shape (..., frames, {k_count}), got {shape}")
    if not torch.is_floating_point(level_db) or torch.isnan(level_db).any():
        raise ValueError("level_db must be a floating-point tensor without NaN")
    top = float(level_db.amax())
    if top > MAX_LEVEL_DB:
        raise ValueError(f"level_db reaches {top:g} dB SPL: above {MAX_LEVEL_DB:g} dB the maskers' powers are not "
                         "representable (a full-scale sine reads 82.5 dB under the standard's calibration)")
    return level_db


@torch.no_grad()
def tonal_maskers(level_db: torch.Tensor, t: ModelTables, *,
                  constants: ModelConstants | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Step 2: tonal lines and their three-line levels, ``(N, K) -> (N, K) bool, (N, K) dB``.

    A line ``k`` is tonal when it is a local maximum (``X(k) > X(k-1)``,
    ``X(k) >= X(k+1)``) and exceeds ``X(k +- j)`` by at least 7 dB for every
    ``j`` from 2 to the reach of its range (2, 3, 6, or 12 for Layer II above
    line 254); candidates are ``2 < k < 250`` (Layer I) or ``2 < k < 500`` (Layer II).
    The level of a tonal line is the power sum of lines ``k-1, k, k+1``.
    """
    c = _constants(t, level_db, constants)
    return _tonal(level_db, c, torch.pow(10.0, level_db / 10.0))


def _tonal(x: torch.Tensor, c: ModelConstants, power: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`tonal_maskers` given the lines' powers ``10^(x/10)``. Each distance ``j`` is tested only on
    the lines whose reach is at least ``j`` (a contiguous run: the reach grows with the line)."""
    k_count = x.shape[-1]
    r = max(c.max_reach, 1)
    xp = torch.nn.functional.pad(x, (r, r), value=float("-inf"))

    def near(d: int, lo: int = 0, hi: int = k_count) -> torch.Tensor:  # x[..., k + d] for k in [lo, hi), -inf outside
        return xp[..., r + d + lo : r + d + hi]

    tonal = (x > near(-1)) & (x >= near(1)) & (c.reach > 0)
    # min_j (X(k) - X(k +- j)) >= 7 as X(k) - max_j X(k +- j) >= 7 (the same numbers: rounding is monotonic),
    # the maximum over j = 2 .. reach grown one distance at a time on the run of lines that reach that far
    runs = [(j, lo, hi) for j, lo, hi in c.reach_runs if j >= 2]
    peak, peak_lo = None, 0
    for n, (j, lo, hi) in enumerate(runs):
        far = torch.maximum(near(-j, lo, hi), near(j, lo, hi))
        peak = far if peak is None else torch.maximum(peak[..., lo - peak_lo :], far)
        peak_lo = lo
        end = runs[n + 1][1] if n + 1 < len(runs) else hi  # lines [lo, end) reach exactly j
        if end > lo:
            tonal[..., lo:end] &= (x[..., lo:end] - peak[..., : end - lo]) >= 7.0
    pp = torch.nn.functional.pad(power, (1, 1))
    tonal_db = 10.0 * torch.log10(pp[..., :-2] + power + pp[..., 2:])
    return tonal, tonal_db


@torch.no_grad()
def nontonal_maskers(level_db: torch.Tensor, tonal: torch.Tensor, t: ModelTables, *,
                     constants: ModelConstants | None = None) -> torch.Tensor:
    """Step 3: non-tonal level per critical band, ``(N, K) -> (N, B)`` dB (``-inf``: no power).

    The power of the band's lines that are neither tonal nor within the reach
    of a tonal line's 7 dB test; the masker sits at the band's geometric-mean
    line (:attr:`MaskingAnalysis.nontonal_line`).
    """
    c = _constants(t, level_db, constants)
    return _nontonal(tonal, c, torch.pow(10.0, level_db / 10.0))


def _nontonal(tonal: torch.Tensor, c: ModelConstants, power: torch.Tensor) -> torch.Tensor:
    """:func:`nontonal_maskers` given the lines' powers: a tonal line ``k`` claims ``k +- j`` for every
    ``j`` up to its reach; only the run of lines whose reach is at least ``j`` is shifted."""
    k_count = power.shape[-1]
    r = max(c.max_reach, 1)
    claimed = torch.nn.functional.pad(tonal, (r, r))  # claimed[..., r + k]: line k
    for j, lo, hi in c.reach_runs:
        t_run = tonal[..., lo:hi]
        claimed[..., r + lo - j : r + hi - j] |= t_run
        claimed[..., r + lo + j : r + hi + j] |= t_run
    rest = torch.where(claimed[..., r : r + k_count], torch.zeros_like(power), power)
    return 10.0 * torch.log10(rest @ c.member)


@torch.no_grad()
def decimate_maskers(
    tonal: torch.Tensor,
    tonal_db: torch.Tensor,
    nontonal_db: torch.Tensor,
    t: ModelTables,
    ath_offset_db: float = 0.0,
    *,
    constants: ModelConstants | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Step 4: drop maskers below the threshold in quiet, then apply the 0.5-Bark rule.

    The remaining tonal maskers are walked in frequency order; each is compared
    with the next surviving one, and when the two lie closer than 0.5 Bark
    (their rows' Bark values) the weaker is dropped (on equal levels, the
    higher one); the walk continues from the survivor.

    Returns:
        ``(tonal, nontonal_db)``: the surviving tonal lines ``(N, K)`` and
        non-tonal levels ``(N, B)`` with dropped maskers at ``-inf``.
    """
    c = _constants(t, tonal_db, constants)
    ath_line = c.ath_line + ath_offset_db
    tonal = tonal & (tonal_db >= ath_line)
    nontonal_db = torch.where(nontonal_db >= ath_line[c.nt_lines], nontonal_db, float("-inf"))
    counts = tonal.sum(-1)
    n_tonal = int(counts.max()) if tonal.numel() else 0
    if n_tonal < 2:
        return tonal, nontonal_db
    # compact the tonal lines of each frame in frequency order: (N, n) slots (the rest: line 0, never tonal)
    frame, line = tonal.nonzero(as_tuple=True)  # row-major: each frame's lines in frequency order
    slot = torch.arange(len(frame), device=frame.device) - (torch.cumsum(counts, 0) - counts)[frame]
    idx = torch.zeros((tonal.shape[0], n_tonal), dtype=torch.long, device=tonal.device)
    idx[frame, slot] = line
    valid = torch.zeros(idx.shape, dtype=torch.bool, device=tonal.device)
    valid[frame, slot] = True
    lev = torch.gather(tonal_db, -1, idx)
    z = c.bark_line[idx]
    keep = valid.clone()
    rows = torch.arange(idx.shape[0], device=idx.device)
    cur = torch.zeros(idx.shape[0], dtype=torch.long, device=idx.device)  # slot of the current survivor
    for p in range(1, n_tonal):
        cand = valid[:, p]
        close = cand & ((z[:, p] - z[rows, cur]) < 0.5)
        stronger = lev[:, p] > lev[rows, cur]
        drop_cur = close & stronger
        drop_cand = close & ~stronger
        keep[rows[drop_cur], cur[drop_cur]] = False
        keep[:, p] &= ~drop_cand
        cur = torch.where(cand & ~drop_cand, torch.full_like(cur, p), cur)
    dropped = valid & ~keep
    tonal = tonal & ~torch.zeros_like(tonal).scatter_(-1, idx, dropped)
    return tonal, nontonal_db


@torch.no_grad()
def global_threshold(
    tonal_db: torch.Tensor,
    nontonal_db: torch.Tensor,
    t: ModelTables,
    ath_offset_db: float = 0.0,
    chunk_frames: int = 512,
    *,
    constants: ModelConstants | None = None,
) -> torch.Tensor:
    """Step 5: global masking threshold on the grid, ``(N, K), (N, B) -> (N, I)`` dB.

    ``LT_g(i) = 10 log10(10^(LT_q(i)/10) + sum_j 10^(LT_tm(j, i)/10) + sum_j 10^(LT_nm(j, i)/10))``
    with ``LT(j, i) = X(j) + av(z(j)) + vf(z(i) - z(j), X(j))`` over maskers within
    ``-3 <= dz < 8`` Bark; ``tonal_db``/``nontonal_db`` hold ``-inf`` where no masker is.
    """
    c = _constants(t, tonal_db, constants)
    maskers = torch.cat([tonal_db, nontonal_db], dim=-1)  # (N, J)
    ath_pow = torch.pow(10.0, (c.ath_grid + ath_offset_db) / 10.0)
    out = maskers.new_empty((maskers.shape[0], len(t.grid_lines)))
    for start in range(0, maskers.shape[0], chunk_frames):
        m = maskers[start : start + chunk_frames]
        total = out[start : start + chunk_frames]
        total.copy_(ath_pow.expand(m.shape[0], -1))
        # every (frame, masker) pair once, in frame order: individual thresholds X (1 + b) + av + a as powers
        frame, slot = torch.isfinite(m).nonzero(as_tuple=True)
        level = m[frame, slot][:, None]
        for p0 in range(0, len(frame), _PAIRS):  # blocks of pairs that stay in cache
            p1 = p0 + _PAIRS
            # 10^(LT/10) = exp(X (1 + b) ln10/10 + (av + a) ln10/10), both factors tabulated per (masker slot, row)
            spread = c.spread.index_select(0, slot[p0:p1])  # (pairs, 2, I)
            lt = torch.addcmul(spread[:, 1], spread[:, 0], level[p0:p1]).exp_()
            total.index_add_(0, frame[p0:p1], lt)
        torch.log10(total, out=total).mul_(10.0)
    return out


#: (frame, masker) pairs of :func:`global_threshold` computed at a time (about 0.9 MB of float32 per 2048).
_PAIRS = 2048


def spreading_db(dz: torch.Tensor, level_db: torch.Tensor) -> torch.Tensor:
    """The four-piece spreading function ``vf(dz, X)`` of Annex D in dB (``-inf`` outside ``-3 <= dz < 8``).

    ``17 (dz + 1) - (0.4 X + 6)`` for ``-3 <= dz < -1``; ``(0.4 X + 6) dz`` for
    ``-1 <= dz < 0``; ``-17 dz`` for ``0 <= dz < 1``; ``-(dz - 1)(17 - 0.15 X) - 17``
    for ``1 <= dz < 8``; ``dz`` in Bark, ``X`` the masker level in dB (broadcast).
    """
    level_db = torch.as_tensor(level_db, dtype=dz.dtype, device=dz.device)
    out = torch.full(torch.broadcast_shapes(dz.shape, level_db.shape), float("-inf"), dtype=dz.dtype, device=dz.device)
    out = torch.where((dz >= -3) & (dz < -1), 17.0 * (dz + 1.0) - (0.4 * level_db + 6.0), out)
    out = torch.where((dz >= -1) & (dz < 0), (0.4 * level_db + 6.0) * dz, out)
    out = torch.where((dz >= 0) & (dz < 1), -17.0 * dz, out)
    return torch.where((dz >= 1) & (dz < 8), -(dz - 1.0) * (17.0 - 0.15 * level_db) - 17.0, out)


@torch.no_grad()
def threshold_from_maskers(
    masker_row: torch.Tensor,
    masker_db: torch.Tensor,
    masker_tonal: torch.Tensor,
    t: ModelTables,
    ath_offset_db: float = 0.0,
) -> torch.Tensor:
    """Global threshold on the grid from an explicit list of maskers, ``(N, M) -> (N, I)`` dB.

    The same sum as :func:`global_threshold` for maskers given by their grid
    row (``-1`` or a level of ``-inf``: no masker), level and kind
    (``masker_tonal``: masking index ``-1.525 - 0.275 z - 4.5`` dB, else
    ``-1.525 - 0.175 z - 0.5`` dB). Useful to check the spreading and summation
    against another implementation's maskers.
    """
    bark = torch.as_tensor(t.bark, dtype=masker_db.dtype, device=masker_db.device)
    ath = torch.as_tensor(t.threshold_in_quiet, dtype=masker_db.dtype, device=masker_db.device) + ath_offset_db
    valid = (masker_row >= 0) & torch.isfinite(masker_db)
    z = bark[masker_row.clamp_min(0)]
    av = torch.where(masker_tonal, -1.525 - 0.275 * z - 4.5, -1.525 - 0.175 * z - 0.5)
    dz = bark[None, None, :] - z[..., None]  # (N, M, I)
    lt = masker_db[..., None] + av[..., None] + spreading_db(dz, masker_db[..., None])
    lt = torch.where(valid[..., None], lt, float("-inf"))
    return 10.0 * torch.log10(torch.pow(10.0, ath / 10.0) + torch.pow(10.0, lt / 10.0).sum(-2))


@torch.no_grad()
def subband_smr(
    level_db: torch.Tensor,
    global_db: torch.Tensor,
    t: ModelTables,
    scalefactor_db: torch.Tensor | None = None,
    ath_offset_db: float = 0.0,
    *,
    constants: ModelConstants | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Step 6: per subband the minimum threshold, the levels and the SMR.

    ``LT_min(n)`` is the minimum of the global threshold over the grid rows in
    subband ``n`` (lines ``[n w, (n + 1) w)``, ``w = n_fft / 64``); subbands above the
    last row take the threshold in quiet of the last row. ``L_sb(n) =
    max(X_max(n), scalefactor term)``, or ``X_max(n)`` when ``scalefactor_db`` is ``None``.

    Returns:
        ``(min_threshold_db, spectrum_max_db, spl_db, smr_db)``, each ``(N, 32)``.
    """
    c = _constants(t, global_db, constants)
    min_thr = global_db[..., c.sub_rows].reshape(*global_db.shape[:-1], N_SUBBANDS, -1).amin(-1)
    min_thr = torch.where(c.sub_empty, torch.full_like(min_thr, c.ath_last + ath_offset_db), min_thr)
    x_max = level_db[..., : N_SUBBANDS * c.sub_width].reshape(*level_db.shape[:-1], N_SUBBANDS, c.sub_width)
    x_max = x_max.amax(-1)
    spl = x_max if scalefactor_db is None else torch.maximum(x_max, scalefactor_db.to(x_max.dtype))
    return min_thr, x_max, spl, spl - min_thr


@torch.no_grad()
def analyse_spectrum(
    level_db: torch.Tensor,
    sample_rate: int,
    n_fft: int = 512,
    ath_offset_db: float = 0.0,
    chunk_frames: int = 512,
    scalefactor_db: torch.Tensor | None = None,
    calibration: str = "iso",
    *,
    constants: ModelConstants | None = None,
) -> MaskingAnalysis:
    """Run steps 2-6 of model 1 on level spectra ``(..., F, n_fft/2 + 1)`` from :func:`spectrum_db`.

    Args:
        level_db: calibrated level spectra in dB SPL.
        sample_rate: Hz.
        n_fft: 512 or 1024.
        ath_offset_db: added to the threshold in quiet (the standard uses -12 dB
            at bit rates of 96 kbit/s and above). (Default: ``0.0``)
        chunk_frames: frames per chunk of the masker x grid computation.
        scalefactor_db: the subband levels of :func:`scalefactor_level_db`,
            ``(..., F, 32)``; without them the SMR uses the spectrum's maximum alone.
        calibration: the calibration ``level_db`` was computed with (recorded in
            the result). (Default: ``"iso"``)
        constants: a module's :class:`ModelConstants` for this rate and size. (Default: a cache)
    """
    n_fft = check_n_fft(n_fft)
    t = model_tables(sample_rate, n_fft)
    calibration = check_calibration(calibration)
    if not math.isfinite(ath_offset_db):
        raise ValueError(f"ath_offset_db must be finite, got {ath_offset_db!r}")
    _check_level(level_db, n_fft // 2 + 1)
    return threshold_analysis(level_db, t, ath_offset_db, chunk_frames, scalefactor_db, calibration,
                              constants=constants)


def threshold_analysis(
    level_db: torch.Tensor,
    t: ModelTables,
    ath_offset_db: float = 0.0,
    chunk_frames: int = 512,
    scalefactor_db: torch.Tensor | None = None,
    calibration: str = "iso",
    *,
    constants: ModelConstants | None = None,
) -> MaskingAnalysis:
    """:func:`analyse_spectrum` with the tables ``t`` of :func:`model_tables` and without validating
    ``level_db`` (its NaN check is a device-to-host synchronisation): for losses whose public entry
    validated their signals already. ``constants``: a module's own :class:`ModelConstants` for ``t``
    (used when they match ``level_db``'s dtype and device; Default: a cache).

    Frames (of all signals together) are analysed :data:`CHUNK_ROWS` at a time into the result's
    tensors, so the working memory beyond the result is bounded."""
    k_count = t.n_fft // 2 + 1
    x = level_db.detach()
    lead = x.shape[:-1]
    x = x.reshape(-1, k_count)
    scf = None
    if scalefactor_db is not None:
        if tuple(scalefactor_db.shape) != (*lead, N_SUBBANDS):
            raise ValueError(
                f"scalefactor_db must have shape {(*lead, N_SUBBANDS)}, got {tuple(scalefactor_db.shape)}"
            )
        scf = scalefactor_db.detach().reshape(-1, N_SUBBANDS)
    c = _constants(t, x, constants)
    rows = x.shape[0]
    parts: dict[str, torch.Tensor] = {}
    for r0, r1 in _frame_spans(rows, CHUNK_ROWS) or [(0, 0)]:
        part = _threshold_rows(x[r0:r1], None if scf is None else scf[r0:r1], t, c, ath_offset_db, chunk_frames)
        if r1 - r0 == rows:
            parts = part
            break
        for name, v in part.items():
            if name not in parts:
                parts[name] = v.new_empty((rows, v.shape[-1]))
            parts[name][r0:r1] = v

    def back(v: torch.Tensor) -> torch.Tensor:
        return v.reshape(*lead, v.shape[-1])

    return MaskingAnalysis(
        spectrum_db=level_db.detach(),
        tonal=back(parts["tonal"]),
        tonal_db=back(parts["tonal_db"]),
        nontonal_db=back(parts["nontonal_db"]),
        nontonal_line=c.nt_lines,
        global_threshold_db=back(parts["global_db"]),
        threshold_db=back(parts["threshold_db"]),
        min_threshold_db=back(parts["min_thr"]),
        spectrum_max_db=back(parts["x_max"]),
        scalefactor_db=None if scf is None else back(scf),
        spl_db=back(parts["spl"]),
        smr_db=back(parts["smr"]),
        tables=t,
        calibration=calibration,
    )


def _threshold_rows(x: torch.Tensor, scf: torch.Tensor | None, t: ModelTables, c: ModelConstants,
                    ath_offset_db: float, chunk_frames: int) -> dict[str, torch.Tensor]:
    """Steps 2-6 on level spectra ``(N, K)``: the per-frame tensors of :class:`MaskingAnalysis` by name."""
    power = torch.pow(10.0, x / 10.0)
    tonal, tonal_db = _tonal(x, c, power)
    nontonal_db = _nontonal(tonal, c, power)
    del power
    tonal, nontonal_db = decimate_maskers(tonal, tonal_db, nontonal_db, t, ath_offset_db, constants=c)
    tonal_db = torch.where(tonal, tonal_db, float("-inf"))
    global_db = global_threshold(tonal_db, nontonal_db, t, ath_offset_db, chunk_frames, constants=c)
    min_thr, x_max, spl, smr = subband_smr(x, global_db, t, scf, ath_offset_db, constants=c)
    return {"tonal": tonal, "tonal_db": tonal_db, "nontonal_db": nontonal_db, "global_db": global_db,
            "threshold_db": global_db[..., c.line_to_grid], "min_thr": min_thr, "x_max": x_max, "spl": spl,
            "smr": smr}


def psychoacoustic_model1(
    x: torch.Tensor,
    sample_rate: int,
    n_fft: int = 512,
    hop: int | None = None,
    ath_offset_db: float = 0.0,
    calibration: str = "iso",
    spl: str = "scalefactor",
) -> MaskingAnalysis:
    """Model 1 of ISO/IEC 11172-3 on signals ``(..., time)`` scaled to [-1, 1].

    Args:
        x: signals, float32 or float64, any device, at least ``n_fft`` samples.
        sample_rate: Hz.
        n_fft: 512 (Layer I) or 1024 (Layer II). (Default: ``512``)
        hop: frame advance in samples. (Default: 384 for 512, 1152 for 1024)
        ath_offset_db: offset of the threshold in quiet. (Default: ``0.0``)
        calibration: level calibration, ``"iso"``, ``"sine96"`` or
            ``"frame_max96"`` (module docstring). (Default: ``"iso"``)
        spl: subband level of the SMR: ``"scalefactor"`` (Annex D, with the
            polyphase filterbank's scalefactors) or ``"spectrum"`` (the largest
            line level alone). (Default: ``"scalefactor"``)

    Returns:
        a :class:`MaskingAnalysis` (detached tensors).

    Memory: the result, about 0.5 MiB per second of 44.1 kHz float32 audio
    (module docstring), and a bounded working set (:data:`CHUNK_ROWS` frames at
    a time, about 100 MiB in float32). For long audio, :func:`model1_chunks`
    keeps only one chunk's analysis at a time.

    Example:
        >>> import torch
        >>> t = torch.arange(4096) / 44100
        >>> tone = 0.5 * torch.sin(2 * torch.pi * 1000 * t)
        >>> a = psychoacoustic_model1(tone, 44100)
        >>> a.global_threshold_db.shape
        torch.Size([10, 106])
        >>> bool(a.tonal[0, 12])  # 1 kHz sits on line 11.6: the peak is line 12
        True
    """
    return _model1(x, *_model1_settings(sample_rate, n_fft, hop, ath_offset_db, calibration, spl))


def _model1_settings(sample_rate: object, n_fft: object, hop: object, ath_offset_db: object, calibration: object,
                     spl: object) -> tuple[int, int, int, float, str, str]:
    """The checked settings of :func:`psychoacoustic_model1`, in its argument order (``hop`` resolved)."""
    rate = check_sample_rate(sample_rate)
    n = check_n_fft(n_fft)
    return (rate, n, check_hop(hop, n), check_real(ath_offset_db, "ath_offset_db"), check_calibration(calibration),
            check_choice(spl, "spl", SPL_MODES))


def _model1(x: torch.Tensor, sample_rate: int, n_fft: int, hop: int, ath_offset_db: float, calibration: str,
            spl: str, constants: ModelConstants | None = None) -> MaskingAnalysis:
    """Model 1 on ``x`` under checked settings (:func:`_model1_settings`), chunk by chunk into one result."""
    check_long_signal(x, "x", min_length=n_fft)
    n_frames = frame_count(x.shape[-1], n_fft, hop)
    stream = model1_stream(tensor_reader(x), x.shape[-1], x.dtype, x.device, sample_rate, n_fft, hop,
                            ath_offset_db, calibration, spl, chunk_frames_for(x), constants)
    return _collect(stream, n_frames)


#: The per-frame tensors of :class:`MaskingAnalysis`, ``(..., F, n)``.
_FRAME_FIELDS = ("spectrum_db", "tonal", "tonal_db", "nontonal_db", "global_threshold_db", "threshold_db",
                 "min_threshold_db", "spectrum_max_db", "scalefactor_db", "spl_db", "smr_db")


def _collect(stream: Iterator[tuple[int, MaskingAnalysis]], n_frames: int) -> MaskingAnalysis:
    """One :class:`MaskingAnalysis` of ``n_frames`` frames from consecutive chunks (copied into place)."""
    result: MaskingAnalysis | None = None
    for f0, a in stream:
        f1 = f0 + a.global_threshold_db.shape[-2]
        if result is None:
            if f0 == 0 and f1 == n_frames:
                return a
            fields = {name: getattr(a, name) for name in _FRAME_FIELDS}
            grown: dict[str, Any] = {name: None if v is None else v.new_empty((*v.shape[:-2], n_frames, v.shape[-1]))
                                     for name, v in fields.items()}
            result = MaskingAnalysis(**grown, nontonal_line=a.nontonal_line, tables=a.tables,
                                     calibration=a.calibration)
        for name in _FRAME_FIELDS:
            v = getattr(a, name)
            if v is not None:
                getattr(result, name)[..., f0:f1, :] = v
    assert result is not None, "model 1 analysed no frames"
    return result


def model1_stream(read: SampleReader, length: int, dtype: torch.dtype, device: torch.device, sample_rate: int,
                   n_fft: int, hop: int, ath_offset_db: float, calibration: str, spl: str, chunk_frames: int,
                   constants: ModelConstants | None = None) -> Iterator[tuple[int, MaskingAnalysis]]:
    """Model 1 on the signal ``read`` gives (``length`` samples), ``chunk_frames`` frames at a time:
    ``(first frame, analysis of the chunk)``. Each chunk reads only the samples its frames and their
    scalefactor blocks need, so the numbers equal the unchunked ones."""
    for f0, f1 in _frame_spans(frame_count(length, n_fft, hop), chunk_frames):
        with torch.no_grad():
            segment = read(f0 * hop, (f1 - 1) * hop + n_fft).to(dtype)
            level, offset = calibrated_spectrum_db(segment, n_fft, hop, calibration)
            scf = None
            if spl == "scalefactor":
                scf = _scalefactor_db_frames(read, f0, f1, n_fft, hop, None if calibration == "iso" else offset,
                                             dtype, device)
        yield f0, analyse_spectrum(level, sample_rate, n_fft, ath_offset_db, scalefactor_db=scf,
                                   calibration=calibration, constants=constants)


def model1_chunks(
    x: torch.Tensor,
    sample_rate: int,
    n_fft: int = 512,
    hop: int | None = None,
    ath_offset_db: float = 0.0,
    calibration: str = "iso",
    spl: str = "scalefactor",
    chunk_frames: int | None = None,
) -> Iterator[tuple[int, MaskingAnalysis]]:
    """:func:`psychoacoustic_model1` chunk by chunk, for audio of any length in bounded memory.

    Yields ``(first_frame, analysis)`` for consecutive runs of ``chunk_frames``
    frames; each ``analysis`` is the :class:`MaskingAnalysis` of frames
    ``first_frame ..`` and equals (to float rounding) that slice of
    :func:`psychoacoustic_model1`'s result. Keep what you need of each chunk
    (e.g. per-subband sums): the working memory stays that of one chunk.

    Args as :func:`psychoacoustic_model1`, and:
        chunk_frames: frames per chunk. (Default: :data:`CHUNK_ROWS` over the number of signals)

    >>> x = torch.sin(torch.arange(44100) * 0.1)
    >>> [(f0, a.smr_db.shape[0]) for f0, a in model1_chunks(x, 44100, chunk_frames=50)]
    [(0, 50), (50, 50), (100, 14)]
    """
    settings = _model1_settings(sample_rate, n_fft, hop, ath_offset_db, calibration, spl)
    check_long_signal(x, "x", min_length=settings[1])
    if chunk_frames is None:
        chunk_frames = chunk_frames_for(x)
    elif isinstance(chunk_frames, bool) or not isinstance(chunk_frames, (int, np.integer)) or chunk_frames < 1:
        raise ValueError(f"chunk_frames must be a positive integer, got {chunk_frames!r}")
    return model1_stream(tensor_reader(x), x.shape[-1], x.dtype, x.device, *settings, int(chunk_frames))


class PsychoacousticModel1(torch.nn.Module):
    """Model 1 as a module: the settings are checked once, at construction; ``forward(x)`` analyses ``(..., time)``.

    The model's tensors are buffers of its :class:`ModelConstants` (``.to(device)`` and ``.double()`` move
    them; an input of another dtype or device falls back to the functional form's cache).

    Args as :func:`psychoacoustic_model1` (``sample_rate``, ``n_fft``, ``hop``,
    ``ath_offset_db``, ``calibration``, ``spl``); invalid settings raise
    ``ValueError`` here, at construction, not at the first call.

    Shape:
        - x: ``(..., time)``, float32 or float64, at least ``n_fft`` samples.
        - output: a :class:`MaskingAnalysis` of ``(..., frames, ...)`` tensors (detached).

    Example:
        >>> model = PsychoacousticModel1(44100)
        >>> model(torch.zeros(2, 4096)).global_threshold_db.shape
        torch.Size([2, 10, 106])
    """

    def __init__(self, sample_rate: int, n_fft: int = 512, hop: int | None = None, ath_offset_db: float = 0.0,
                 calibration: str = "iso", spl: str = "scalefactor") -> None:
        super().__init__()
        (self.sample_rate, self.n_fft, self.hop, self.ath_offset_db, self.calibration,
         self.spl) = _model1_settings(sample_rate, n_fft, hop, ath_offset_db, calibration, spl)
        self.constants = ModelConstants(model_tables(self.sample_rate, self.n_fft))

    def forward(self, x: torch.Tensor) -> MaskingAnalysis:
        return _model1(x, self.sample_rate, self.n_fft, self.hop, self.ath_offset_db, self.calibration, self.spl,
                       self.constants)

    def extra_repr(self) -> str:
        return (f"sample_rate={self.sample_rate}, n_fft={self.n_fft}, hop={self.hop}, "
                f"calibration={self.calibration!r}, spl={self.spl!r}")


def global_masking_threshold(
    x: torch.Tensor,
    sample_rate: int,
    n_fft: int = 512,
    hop: int | None = None,
    where: str = "lines",
    calibration: str = "iso",
) -> torch.Tensor:
    """Global masking threshold in dB SPL, on every FFT line or on the grid.

    Returns ``(..., frames, n_fft/2 + 1)`` for ``where="lines"`` or
    ``(..., frames, I)`` for ``where="grid"``; detached. ``calibration`` as in
    :func:`spectrum_db`.
    """
    check_choice(where, "where", ("lines", "grid"))
    a = psychoacoustic_model1(x, sample_rate, n_fft, hop, calibration=calibration, spl="spectrum")
    return a.threshold_db if where == "lines" else a.global_threshold_db
