"""MPEG-1 psychoacoustic model 1 (ISO/IEC 11172-3:1993, Annex D) on tensors.

The model turns each frame of audio into a *global masking threshold*: the
level below which added noise is inaudible in the presence of the frame's own
content. Steps, as in the standard:

1. Hann-windowed FFT (512 points, Layer I framing; 1024 points for Layer II)
   and a level calibration in dB SPL (see :func:`spectrum_db`).
2. Tonal components: local maxima at least 7 dB above their neighbours at
   distances that grow with frequency; their power is summed over three lines.
3. Non-tonal components: the remaining power of each critical band, placed at
   the band's geometric-mean line.
4. Decimation: components below the threshold in quiet are dropped, and of two
   tonal components closer than 0.5 Bark the weaker one is dropped.
5. Individual masking thresholds: masker level + masking index + the
   four-piece spreading function, on the standard's sub-sampled frequency grid.
6. Global masking threshold: power sum of the threshold in quiet and all
   individual thresholds; per subband (32) its minimum, and the signal-to-mask
   ratio as an MPEG encoder's bit allocation uses it.

Tables. For 32, 44.1 and 48 kHz the frequency grid, critical-band boundaries
and upper line are those of the standard's Tables D.1a–f and D.2a–f. Their Bark
and threshold-in-quiet columns are Zwicker's critical-band rate and Terhardt's
threshold in quiet, capped at 68 dB, rounded to the tables' precision; they are
recomputed here from those formulas (``tests/test_masking.py`` checks them
against values printed in the standard). For any other rate (16 kHz speech,
11025 Hz) the same grid rule and formulas are used, the upper line is the last
grid line below 20 kHz (and below line 250 / 500, where the standard's tonal
neighbourhoods end), and critical-band boundaries are placed where the Bark
value first reaches each integer. Those tables are *derived*, not standard.

Discrete decisions (which lines are tonal, which maskers survive) have no
gradient, so the analysis runs under :func:`torch.no_grad` and returns detached
tensors. What is differentiable: :func:`spectrum_db`, and the losses and
metrics that use a target's threshold as a constant
(:mod:`percloss.losses`, :func:`percloss.metrics.nmr`).

Shapes: input ``(..., time)``; per-frame outputs ``(..., frames, n)`` with
``frames = 1 + (time - n_fft) // hop``. No Python loop runs over frames or
maskers; frames are processed in chunks to bound memory.

Notebook: ``notebooks/ch02_masking.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from ._checks import check_choice, check_sample_rate, check_signal

__all__ = [
    "FULL_SCALE_SINE_DB",
    "ModelTables",
    "MaskingAnalysis",
    "model_tables",
    "check_n_fft",
    "zwicker_bark",
    "terhardt_threshold_in_quiet",
    "spectrum_db",
    "analyse_spectrum",
    "psychoacoustic_model1",
    "global_masking_threshold",
]

#: Level in dB SPL of a full-scale sinusoid (amplitude 1) at an FFT line centre.
#: The standard states the same calibration through its power-normalisation
#: term PN = 90.302 dB applied to its own FFT scaling.
FULL_SCALE_SINE_DB = 96.0
#: Threshold-in-quiet cap of the standard's tables, dB.
ATH_CAP_DB = 68.0
#: Floor of the level calibration, dB SPL (keeps silence finite).
LEVEL_FLOOR_DB = -200.0

# Critical-band boundaries (FFT line numbers) of Tables D.2a-f.
_STANDARD_BOUNDARIES: dict[tuple[int, int], tuple[int, ...]] = {
    (44100, 512): (1, 2, 3, 5, 6, 8, 9, 11, 13, 15, 17, 20, 23, 27, 32, 37, 45, 52, 62, 74,
                   88, 108, 132, 180, 232),
    (48000, 512): (1, 2, 3, 4, 5, 6, 7, 9, 10, 12, 14, 16, 19, 21, 25, 29, 35, 41, 50, 58,
                   68, 82, 100, 124, 164, 216),
    (32000, 512): (1, 3, 5, 7, 9, 11, 13, 15, 18, 21, 24, 27, 32, 37, 44, 52, 62, 74, 88,
                   104, 124, 148, 184, 240),
    (44100, 1024): (1, 2, 3, 5, 7, 10, 13, 16, 19, 22, 26, 30, 35, 40, 46, 54, 64, 76, 90,
                    104, 124, 148, 176, 216, 264, 360, 464),
    (48000, 1024): (1, 2, 3, 5, 7, 9, 12, 14, 17, 20, 24, 27, 32, 37, 42, 50, 58, 70, 82,
                    100, 116, 136, 164, 200, 248, 328, 432),
    (32000, 1024): (1, 3, 6, 10, 13, 17, 21, 25, 30, 35, 41, 47, 54, 64, 74, 88, 104, 124,
                    148, 176, 208, 248, 296, 368, 480),
}
N_SUBBANDS = 32


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
        standard: ``True`` when the grid and band boundaries are the standard's.
        grid_lines: FFT line of each grid point, ``(I,)``.
        frequency: Hz, ``(I,)``.
        bark: critical-band rate, ``(I,)``.
        threshold_in_quiet: dB SPL, ``(I,)``.
        band_boundaries: first FFT line of each critical band, then the upper line.
        line_to_grid: grid index of every FFT line ``0 .. n_fft/2`` (lines between
            grid points take the grid point below; outside, the nearest end).
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

    def tonal_neighbourhood(self, line: int) -> int:
        """Largest distance ``j`` (lines) of the 7 dB tonal test at ``line``; 0 = not searched."""
        return _neighbourhood(self.n_fft, line)


def _neighbourhood(n_fft: int, k: int) -> int:
    """Reach of the standard's 7 dB tonal test at line ``k`` (0: not searched)."""
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
    return 12 if k < 501 else 0


def _grid(n_fft: int, upper: int) -> np.ndarray:
    steps = [(1, 48, 1), (50, 96, 2), (100, 192 if n_fft == 1024 else upper, 4)]
    if n_fft == 1024:
        steps.append((200, upper, 8))
    lines: list[int] = []
    for start, stop, step in steps:
        lines.extend(range(start, min(stop, upper) + 1, step))
    return np.array(lines, dtype=np.int64)


def check_n_fft(n_fft: object) -> int:
    """Validate model 1's FFT size (512 for Layer I, 1024 for Layer II) and return it."""
    if n_fft not in (512, 1024):
        raise ValueError(f"n_fft must be 512 (Layer I) or 1024 (Layer II), got {n_fft!r}")
    return int(n_fft)


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
    key = (sample_rate, n_fft)
    standard = key in _STANDARD_BOUNDARIES
    if standard:
        upper = _STANDARD_BOUNDARIES[key][-1]
        grid = _grid(n_fft, upper)
    else:
        limit = 250 if n_fft == 512 else 500
        full = _grid(n_fft, limit - 1)
        freqs = full * sample_rate / n_fft
        grid = full[freqs < 20000.0]
        upper = int(grid[-1])
    frequency = grid * sample_rate / n_fft
    bark = zwicker_bark(frequency)
    ath = terhardt_threshold_in_quiet(frequency)
    if standard:
        bark = np.round(bark, 3)
        ath = np.round(ath, 2)
        boundaries = np.array(_STANDARD_BOUNDARIES[key], dtype=np.int64)
    else:
        edges = [int(grid[0])]
        for z in range(1, int(math.floor(bark[-1])) + 1):
            first = int(grid[np.argmax(bark >= z)])
            if first > edges[-1] and first < upper:
                edges.append(first)
        edges.append(upper)
        boundaries = np.array(edges, dtype=np.int64)
    lines = np.arange(n_fft // 2 + 1)
    line_to_grid = np.clip(np.searchsorted(grid, lines, side="right") - 1, 0, len(grid) - 1)
    return ModelTables(
        sample_rate=sample_rate,
        n_fft=n_fft,
        standard=standard,
        grid_lines=grid,
        frequency=frequency,
        bark=bark,
        threshold_in_quiet=ath,
        band_boundaries=boundaries,
        line_to_grid=line_to_grid,
        upper_line=upper,
    )


def default_hop(n_fft: int) -> int:
    """The standard's frame advance: 384 samples (Layer I) or 1152 (Layer II)."""
    return 384 if n_fft == 512 else 1152


def spectrum_db(x: torch.Tensor, n_fft: int = 512, hop: int | None = None) -> torch.Tensor:
    """Calibrated level spectrum in dB SPL, ``(..., time) -> (..., frames, n_fft/2 + 1)``.

    ``L(k) = 96 dB + 20 log10(|sum_n h(n) x(n) e^{-2 pi j k n / N}| / (sum_n h(n) / 2))``
    with ``h`` the periodic Hann window, so a full-scale sinusoid (amplitude 1)
    at a line centre reads 96 dB. Powers are floored at -200 dB. Differentiable.
    """
    check_signal(x, "x", min_length=n_fft)
    hop = default_hop(n_fft) if hop is None else hop
    if not isinstance(hop, int) or hop < 1:
        raise ValueError(f"hop must be a positive integer number of samples, got {hop!r}")
    frames = x.unfold(-1, n_fft, hop)
    window = torch.hann_window(n_fft, periodic=True, dtype=x.dtype, device=x.device)
    spec = torch.fft.rfft(frames * window, dim=-1)
    scale = float(window.sum()) / 2.0
    power = (spec.real**2 + spec.imag**2) / scale**2
    floor = 10.0 ** ((LEVEL_FLOOR_DB - FULL_SCALE_SINE_DB) / 10.0)
    return FULL_SCALE_SINE_DB + 10.0 * torch.log10(power.clamp_min(floor))


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
        threshold_db: the global threshold on every line, ``(..., F, K)``.
        min_threshold_db: per subband, ``(..., F, 32)``.
        spl_db: subband sound-pressure level (max line level), ``(..., F, 32)``.
        smr_db: signal-to-mask ratio, ``(..., F, 32)``.
        tables: the :class:`ModelTables` used.
    """

    spectrum_db: torch.Tensor
    tonal: torch.Tensor
    tonal_db: torch.Tensor
    nontonal_db: torch.Tensor
    nontonal_line: torch.Tensor
    global_threshold_db: torch.Tensor
    threshold_db: torch.Tensor
    min_threshold_db: torch.Tensor
    spl_db: torch.Tensor
    smr_db: torch.Tensor
    tables: ModelTables


def _db_sum(levels_db: torch.Tensor, dim: int) -> torch.Tensor:
    return 10.0 * torch.log10(torch.sum(torch.pow(10.0, levels_db / 10.0), dim=dim))


class _Constants:
    """Per-(tables, dtype, device) tensors reused by every call."""

    def __init__(self, t: ModelTables, dtype: torch.dtype, device: torch.device) -> None:
        k_count = t.n_fft // 2 + 1
        lines = np.arange(k_count)
        reach = np.array([_neighbourhood(t.n_fft, int(k)) for k in lines])
        self.reach = torch.as_tensor(reach, device=device)
        self.max_reach = int(reach.max())
        self.ath_grid = torch.as_tensor(t.threshold_in_quiet, dtype=dtype, device=device)
        self.line_to_grid = torch.as_tensor(t.line_to_grid, device=device)
        self.ath_line = self.ath_grid[self.line_to_grid]
        bark_line = t.bark[t.line_to_grid]
        self.bark_line = torch.as_tensor(bark_line, dtype=dtype, device=device)
        # critical-band membership (K, B) and non-tonal lines
        b_count = t.n_bands
        member = np.zeros((k_count, b_count))
        nt_lines = np.zeros(b_count, dtype=np.int64)
        for b in range(b_count):
            lo, hi = int(t.band_boundaries[b]), int(t.band_boundaries[b + 1])
            member[lo:hi, b] = 1.0
            ks = np.arange(lo, hi)
            nt_lines[b] = int(np.rint(np.exp(np.mean(np.log(ks)))))
        self.member = torch.as_tensor(member, dtype=dtype, device=device)
        self.nt_lines = torch.as_tensor(nt_lines, device=device)
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
        self.offset = torch.as_tensor(a + av[:, None], dtype=dtype, device=device)  # (J, I), -inf outside
        self.slope = torch.as_tensor(1.0 + slope, dtype=dtype, device=device)  # (J, I)
        # subbands: lines [s*w, (s+1)*w); grid points inside each
        width = (t.n_fft // 2) // N_SUBBANDS
        sub_of_grid = t.grid_lines // width
        sub_member = np.zeros((len(t.grid_lines), N_SUBBANDS), dtype=bool)
        sub_member[np.arange(len(t.grid_lines)), np.minimum(sub_of_grid, N_SUBBANDS - 1)] = True
        self.sub_member = torch.as_tensor(sub_member, device=device)
        self.sub_empty = torch.as_tensor(~sub_member.any(axis=0), device=device)
        self.sub_width = width


_CONSTANTS: dict[tuple[int, int, torch.dtype, str], _Constants] = {}


def _constants(t: ModelTables, dtype: torch.dtype, device: torch.device) -> _Constants:
    key = (t.sample_rate, t.n_fft, dtype, str(device))
    if key not in _CONSTANTS:
        _CONSTANTS[key] = _Constants(t, dtype, device)
    return _CONSTANTS[key]


@torch.no_grad()
def analyse_spectrum(
    level_db: torch.Tensor,
    sample_rate: int,
    n_fft: int = 512,
    ath_offset_db: float = 0.0,
    chunk_frames: int = 512,
) -> MaskingAnalysis:
    """Run model 1 on level spectra ``(..., F, n_fft/2 + 1)`` from :func:`spectrum_db`.

    Args:
        level_db: calibrated level spectra in dB SPL.
        sample_rate: Hz.
        n_fft: 512 or 1024.
        ath_offset_db: added to the threshold in quiet (the standard uses -12 dB
            at bit rates of 96 kbit/s and above). (Default: ``0.0``)
        chunk_frames: frames per chunk of the masker x grid computation.
    """
    t = model_tables(sample_rate, n_fft)
    k_count = n_fft // 2 + 1
    if not isinstance(level_db, torch.Tensor) or level_db.dim() < 2 or level_db.shape[-1] != k_count:
        shape = tuple(level_db.shape) if isinstance(level_db, torch.Tensor) else type(level_db).__name__
        raise ValueError(f"level_db must have shape (..., frames, {k_count}), got {shape}")
    if not torch.is_floating_point(level_db) or torch.isnan(level_db).any():
        raise ValueError("level_db must be a floating-point tensor without NaN")
    c = _constants(t, level_db.dtype, level_db.device)
    x = level_db.detach()
    lead = x.shape[:-1]
    x = x.reshape(-1, k_count)
    ninf = float("-inf")

    # tonal components: local maxima passing the 7 dB test at every distance in reach
    r = max(c.max_reach, 1)
    xp = torch.nn.functional.pad(x, (r, r), value=ninf)

    def near(d: int) -> torch.Tensor:  # x[..., k + d], -inf outside
        return xp[:, r + d : r + d + k_count]

    tonal = (x > near(-1)) & (x >= near(1)) & (c.reach > 0)
    for j in range(2, c.max_reach + 1):
        ok = torch.minimum(x - near(-j), x - near(j)) >= 7.0
        tonal &= ok | (c.reach < j)
    power = torch.pow(10.0, x / 10.0)
    pp = torch.nn.functional.pad(power, (1, 1))
    tonal_db = 10.0 * torch.log10(pp[:, :-2] + power + pp[:, 2:])
    # non-tonal: power of each critical band outside the tonal neighbourhoods
    reach = torch.where(tonal, c.reach, torch.zeros_like(c.reach)).to(x.dtype)
    rp = torch.nn.functional.pad(reach, (r, r))
    claimed = tonal.clone()
    for j in range(1, c.max_reach + 1):
        claimed |= (rp[:, r - j : r - j + k_count] >= j) | (rp[:, r + j : r + j + k_count] >= j)
    rest = torch.where(claimed, torch.zeros_like(power), power)
    nontonal_db = 10.0 * torch.log10(rest @ c.member)

    # decimation 1: below the threshold in quiet
    ath_line = c.ath_line + ath_offset_db
    tonal &= tonal_db >= ath_line
    nontonal_db = torch.where(nontonal_db >= ath_line[c.nt_lines], nontonal_db, ninf)
    # decimation 2: of two tonal maskers closer than 0.5 Bark keep the stronger
    # (on equal levels the lower line); tonal lines compacted per frame
    n_tonal = int(tonal.sum(-1).max()) if tonal.numel() else 0
    if n_tonal > 1:
        idx = torch.argsort(tonal.to(torch.int8), dim=-1, descending=True, stable=True)[:, :n_tonal]
        ok_t = torch.gather(tonal, 1, idx)
        lev = torch.gather(tonal_db, 1, idx)
        z = c.bark_line[idx]
        pair = ok_t[:, :, None] & ok_t[:, None, :] & ((z[:, :, None] - z[:, None, :]).abs() < 0.5)
        stronger = (lev[:, None, :] > lev[:, :, None]) | (
            (lev[:, None, :] == lev[:, :, None]) & (idx[:, None, :] < idx[:, :, None])
        )
        drop = (pair & stronger).any(-1) & ok_t
        dropped = torch.zeros_like(tonal).scatter_(1, idx, drop)
        tonal &= ~dropped
    tonal_db = torch.where(tonal, tonal_db, ninf)

    # individual and global thresholds, frames in chunks, valid maskers compacted
    maskers = torch.cat([tonal_db, nontonal_db], dim=-1)  # (N, J)
    ath_pow = torch.pow(10.0, (c.ath_grid + ath_offset_db) / 10.0)
    out = []
    for start in range(0, maskers.shape[0], chunk_frames):
        m = maskers[start : start + chunk_frames]
        valid = torch.isfinite(m)
        count = int(valid.sum(-1).max()) if m.numel() else 0
        total = ath_pow.expand(m.shape[0], -1).clone()
        if count > 0:
            order = torch.argsort(valid.to(torch.int8), dim=-1, descending=True, stable=True)[:, :count]
            lv = torch.gather(m, 1, order)  # (n, count)
            # individual thresholds X (1 + b) + av + a, as powers; slots without a
            # masker hold -inf and contribute exp(-inf) = 0 (the slope is >= 0.6)
            lt = c.slope[order]  # (n, count, I)
            lt.mul_(lv[..., None]).add_(c.offset[order]).mul_(math.log(10.0) / 10.0).exp_()
            total = total + lt.sum(1)
        out.append(10.0 * torch.log10(total))
    global_db = torch.cat(out, 0) if out else maskers.new_zeros((0, len(t.grid_lines)))
    threshold_db = global_db[..., c.line_to_grid]

    # subbands: minimum threshold, level and SMR
    big = torch.finfo(global_db.dtype).max
    masked = torch.where(c.sub_member, global_db[..., :, None], torch.full_like(global_db[..., :, None], big))
    min_thr = masked.amin(dim=-2)
    last = global_db[..., -1:].expand_as(min_thr)
    min_thr = torch.where(c.sub_empty, last, min_thr)
    spl = x[..., : N_SUBBANDS * c.sub_width].reshape(-1, N_SUBBANDS, c.sub_width).amax(-1)
    smr = spl - min_thr

    def back(v: torch.Tensor) -> torch.Tensor:
        return v.reshape(*lead, v.shape[-1])

    return MaskingAnalysis(
        spectrum_db=level_db.detach(),
        tonal=back(tonal),
        tonal_db=back(tonal_db),
        nontonal_db=back(nontonal_db),
        nontonal_line=c.nt_lines,
        global_threshold_db=back(global_db),
        threshold_db=back(threshold_db),
        min_threshold_db=back(min_thr),
        spl_db=back(spl),
        smr_db=back(smr),
        tables=t,
    )


def psychoacoustic_model1(
    x: torch.Tensor,
    sample_rate: int,
    n_fft: int = 512,
    hop: int | None = None,
    ath_offset_db: float = 0.0,
) -> MaskingAnalysis:
    """Model 1 of ISO/IEC 11172-3 on signals ``(..., time)`` scaled to [-1, 1].

    Args:
        x: signals, float32 or float64, any device, at least ``n_fft`` samples.
        sample_rate: Hz.
        n_fft: 512 (Layer I) or 1024 (Layer II). (Default: ``512``)
        hop: frame advance in samples. (Default: 384 for 512, 1152 for 1024)
        ath_offset_db: offset of the threshold in quiet. (Default: ``0.0``)

    Returns:
        a :class:`MaskingAnalysis` (detached tensors).

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
    check_sample_rate(sample_rate)
    check_n_fft(n_fft)
    check_signal(x, "x", min_length=n_fft)
    if not math.isfinite(ath_offset_db):
        raise ValueError(f"ath_offset_db must be finite, got {ath_offset_db!r}")
    with torch.no_grad():
        level = spectrum_db(x, n_fft, hop)
    return analyse_spectrum(level, sample_rate, n_fft, ath_offset_db)


def global_masking_threshold(
    x: torch.Tensor,
    sample_rate: int,
    n_fft: int = 512,
    hop: int | None = None,
    where: str = "lines",
) -> torch.Tensor:
    """Global masking threshold in dB SPL, on every FFT line or on the grid.

    Returns ``(..., frames, n_fft/2 + 1)`` for ``where="lines"`` or
    ``(..., frames, I)`` for ``where="grid"``; detached.
    """
    check_choice(where, "where", ("lines", "grid"))
    a = psychoacoustic_model1(x, sample_rate, n_fft, hop)
    return a.threshold_db if where == "lines" else a.global_threshold_db
