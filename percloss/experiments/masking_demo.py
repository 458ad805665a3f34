"""The masking chapter's experiment: noise under the threshold vs white noise.

Two noises with the same energy are added to a real music clip: one shaped to
lie ``margin_db`` under the clip's MPEG-1 global masking threshold in every
frame and line, one white. SNR and MSE cannot tell them apart; NMR can.

Notebook: ``notebooks/ch02_masking.py``.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .. import data
from .._checks import check_choice, check_real, check_sample_rate, check_signal
from ..masking import (
    ISO_FULL_SCALE_SINE_DB,
    analyse_spectrum,
    model_tables,
    psychoacoustic_model1,
    spectrum_db,
)
from ..metrics import nmr, snr
from ..modes import MODES, current_mode
from ..signal import middle
from .claims import MUSIC_JUDGES, Claim, Interval, paired_verdict, verdict

__all__ = ["masking_claims", "MaskingConfig", "noise_under_threshold", "white_noise_like", "masked_vs_white", "independent_judges",
           "ToneThresholdGrid", "tone_threshold", "tone_threshold_grid", "interpolate_threshold"]


@dataclass(frozen=True)
class MaskingConfig:
    """Clips, excerpt length and noise margin of the chapter in one mode."""

    clips: tuple[str, ...]
    seconds: float
    margin_db: float = 6.0
    sample_rate: int = 44100
    seed: int = 0
    mode: str = "custom"

    @classmethod
    def for_mode(cls, mode: str | None = None) -> MaskingConfig:
        """``quick``: one clip, 2 s; ``standard`` and ``full``: every music clip, 8 s."""
        mode = current_mode() if mode is None else check_choice(mode, "mode", MODES)
        if mode == "quick":
            return cls(("piano_bach",), 2.0, mode=mode)
        return cls(tuple(data.list_clips("music")), 8.0, mode=mode)


def upper_line(sample_rate: int, n_fft: int) -> int:
    """Highest FFT line model 1 looks at."""
    return model_tables(sample_rate, n_fft).upper_line


def noise_under_threshold(
    x: torch.Tensor,
    sample_rate: int,
    margin_db: float = 6.0,
    seed: int = 0,
    n_fft: int = 512,
) -> torch.Tensor:
    """Noise whose short-time spectrum sits ``margin_db`` under ``x``'s masking threshold.

    Random-phase STFT (Hann, ``n_fft``, hop ``n_fft/2``) with the magnitude of
    the threshold in each frame and line, less ``margin_db``; inverted by
    overlap-add. Re-analysis of a random-phase STFT loses a little level, so
    the result lies somewhat further under the threshold than asked; measure
    it with :func:`percloss.metrics.nmr`.

    Shape:
        ``(time,) -> (time,)``
    """
    check_signal(x, "x", min_length=n_fft)
    if x.dim() != 1:
        raise ValueError(f"x must be one mono signal of shape (time,), got {tuple(x.shape)}")
    rate = check_sample_rate(sample_rate)
    hop = n_fft // 2
    window = torch.hann_window(n_fft, periodic=True, dtype=x.dtype, device=x.device)
    padded = torch.nn.functional.pad(x, (n_fft // 2, n_fft // 2))  # frame f centred on sample f * hop
    with torch.no_grad():
        threshold = analyse_spectrum(spectrum_db(padded, n_fft, hop), rate, n_fft).threshold_db
    # the quietest of three neighbouring frames: overlap-add spreads each
    # frame's noise over its neighbours, which must not be unmasked by it
    pad = torch.nn.functional.pad(threshold.T[None], (1, 1), mode="replicate")[0].T
    threshold = torch.minimum(torch.minimum(pad[:-2], pad[1:-1]), pad[2:])
    # likewise across neighbouring lines (the Hann window's main lobe)
    pad = torch.nn.functional.pad(threshold[None], (1, 1), mode="replicate")[0]
    threshold = torch.minimum(torch.minimum(pad[..., :-2], pad[..., 1:-1]), pad[..., 2:])
    magnitude = (window.sum() / 2) * torch.pow(10.0, (threshold - margin_db - ISO_FULL_SCALE_SINE_DB) / 20.0)
    # no noise at DC or above the model's upper line (about 20 kHz)
    lines = torch.arange(magnitude.shape[-1], device=x.device)
    magnitude = torch.where((lines == 0) | (lines > upper_line(rate, n_fft)), 0.0, magnitude)
    g = torch.Generator(device="cpu").manual_seed(seed)
    phase = 2 * np.pi * torch.rand(magnitude.shape, generator=g, dtype=x.dtype).to(x.device)
    spec = torch.polar(magnitude, phase).T  # (lines, frames)
    return torch.istft(spec, n_fft, hop, window=window, center=True, length=len(x))


def white_noise_like(noise: torch.Tensor, seed: int = 1) -> torch.Tensor:
    """Gaussian white noise with exactly the energy of ``noise``."""
    check_signal(noise, "noise")
    g = torch.Generator(device="cpu").manual_seed(seed)
    w = torch.randn(noise.shape, generator=g, dtype=noise.dtype).to(noise.device)
    return w * (noise.norm() / w.norm())


def masked_vs_white(x: torch.Tensor, sample_rate: int, margin_db: float = 6.0, seed: int = 0) -> dict[str, object]:
    """Add both noises to ``x``; return the signals and SNR, MSE, NMR for each."""
    shaped = noise_under_threshold(x, sample_rate, margin_db, seed)
    white = white_noise_like(shaped, seed + 1)
    out: dict[str, object] = {"shaped_noise": shaped, "white_noise": white}
    for name, n in (("shaped", shaped), ("white", white)):
        y = x + n
        r = nmr(x, y, sample_rate)
        out[name] = y
        out[f"{name}_metrics"] = {
            "SNR (dB)": float(snr(x, y)),
            "MSE": float((y - x).pow(2).mean()),
            "NMR (dB)": float(r.mean_db),
            "frames with audible noise (%)": 100 * float(r.audible_fraction),
            "peak |y|": float(y.abs().max()),
        }
    return out


def independent_judges(x: torch.Tensor, mixes: dict[str, torch.Tensor], sample_rate: int,
                       visqol_seconds: float = 4.0, cdpam_seconds: float = 2.0) -> dict[str, dict[str, float]]:
    """Two judges that do not use model 1: ViSQOL v3 (audio mode) and CDPAM, for ``x`` against each mix.

    ``mixes`` maps a name (e.g. ``"shaped"``, ``"white"``) to a signal of
    ``x``'s length. ViSQOL scores the middle ``visqol_seconds``, CDPAM (about
    1 s of CPU per second of audio) the middle ``cdpam_seconds`` (0 skips it).
    Higher ViSQOL is better (about 4.73 for identical signals); lower CDPAM is
    better (0 for identical signals).

    Returns:
        ``{name: {"visqol": ..., "cdpam": ...}}``.
    """
    from ..losses import cdpam_distance
    from ..scorers import visqol

    check_signal(x, "x")
    out: dict[str, dict[str, float]] = {}

    for name, y in mixes.items():
        if y.shape != x.shape:
            raise ValueError(f"mixes[{name!r}] must have x's shape {tuple(x.shape)}, got {tuple(y.shape)}")
        n_visqol, n_cdpam = int(visqol_seconds * sample_rate), int(cdpam_seconds * sample_rate)
        scores = {"visqol": visqol(middle(x, n_visqol).numpy(), middle(y, n_visqol).numpy(), sample_rate)}
        if cdpam_seconds > 0:
            with torch.no_grad():
                scores["cdpam"] = float(cdpam_distance(middle(x, n_cdpam).float(), middle(y, n_cdpam).float(),
                                                       sample_rate))
        out[name] = scores
    return out


#: The tone's part of a threshold is stored down to this level (dB SPL); below it, the threshold in quiet rules.
MASKING_FLOOR_DB = -40.0


def tone_threshold(tone_hz: np.ndarray, tone_db: np.ndarray, sample_rate: int = 44100, n_fft: int = 512) -> np.ndarray:
    """Model 1's global masking threshold of steady sine tones (chapter 2's ``"iso"`` calibration).

    Each tone (frequency ``tone_hz`` in Hz, level ``tone_db`` in dB SPL: a
    full-scale sine reads :data:`~percloss.masking.ISO_FULL_SCALE_SINE_DB`) is
    analysed over three frames; the threshold is their mean in dB, on the
    model's frequency grid (:func:`~percloss.masking.model_tables`).

    Shape:
        ``(T,), (T,) -> (T, I)``, ``I`` grid rows (106 at 44.1 kHz, ``n_fft`` 512).
    """
    f = np.atleast_1d(np.asarray(tone_hz, dtype=np.float64))
    level = np.atleast_1d(np.asarray(tone_db, dtype=np.float64))
    if f.shape != level.shape or f.ndim != 1:
        raise ValueError(f"tone_hz and tone_db must be 1-D of the same length, got {f.shape} and {level.shape}")
    if not (np.all(f > 0) and np.all(f < sample_rate / 2)):
        raise ValueError(f"tone_hz must lie in (0, {sample_rate / 2:g}) Hz, got {f.min():g}..{f.max():g}")
    t = torch.arange(n_fft + 2 * (3 * n_fft // 4), dtype=torch.float64) / sample_rate
    amp = torch.from_numpy(10 ** ((level - ISO_FULL_SCALE_SINE_DB) / 20))[:, None]
    x = amp * torch.sin(2 * math.pi * torch.from_numpy(f)[:, None] * t)
    return psychoacoustic_model1(x, sample_rate, n_fft).global_threshold_db.mean(-2).numpy()


@dataclass(frozen=True)
class ToneThresholdGrid:
    """Model 1's threshold of a tone, precomputed over tone frequency x tone level for the site's widget.

    Attributes:
        tone_hz: tone frequencies, Hz, increasing, ``(F,)``. tone_db: tone levels, dB SPL, increasing, ``(L,)``.
        frequency, bark, threshold_in_quiet: the model's grid rows (Hz, Bark, dB SPL), ``(I,)``.
        masking_db: the tone's part of the global threshold, ``10 log10(10^(M/10) - 10^(Q/10))`` for
            threshold ``M`` and threshold in quiet ``Q``, floored at :data:`MASKING_FLOOR_DB`; ``(F, L, I)``.
        sample_rate, n_fft: of the model.
    """

    tone_hz: np.ndarray
    tone_db: np.ndarray
    frequency: np.ndarray
    bark: np.ndarray
    threshold_in_quiet: np.ndarray
    masking_db: np.ndarray
    sample_rate: int
    n_fft: int

    def page_data(self) -> dict[str, Any]:
        """The grid for the page (JSON): ``masking`` packs ``masking_db`` in 0.5 dB steps from the floor
        as base64 bytes, in ``(F, L, I)`` order (about 76 kB for the default grid)."""
        q = np.clip(np.round((self.masking_db - MASKING_FLOOR_DB) * 2), 0, 255).astype(np.uint8)
        return {"tone_hz": [round(float(v), 3) for v in self.tone_hz], "tone_db": self.tone_db.tolist(),
                "frequency": [round(float(v), 3) for v in self.frequency], "bark": self.bark.tolist(),
                "quiet": [round(float(v), 3) for v in self.threshold_in_quiet], "floor": MASKING_FLOOR_DB,
                "masking": base64.b64encode(q.tobytes()).decode("ascii"), "sample_rate": self.sample_rate,
                "n_fft": self.n_fft, "full_scale_sine_db": ISO_FULL_SCALE_SINE_DB}


def tone_threshold_grid(tone_hz: np.ndarray | None = None, tone_db: np.ndarray | None = None,
                        sample_rate: int = 44100, n_fft: int = 512) -> ToneThresholdGrid:
    """Model 1's threshold of a tone on a grid of frequencies and levels (:func:`tone_threshold`).

    Args:
        tone_hz: Hz. (Default: sixth octaves from 100 Hz to 16 kHz, the chapter widget's range)
        tone_db: dB SPL. (Default: 20 to 80 dB in 6 dB steps, and 82 dB; between them model 1's
            threshold moves almost linearly with the level in dB)
    """
    f = 100.0 * 2.0 ** (np.arange(45) / 6) if tone_hz is None else np.asarray(tone_hz, dtype=np.float64)
    level = np.r_[np.arange(20.0, 81.0, 6.0), 82.0] if tone_db is None else np.asarray(tone_db, dtype=np.float64)
    for name, v in (("tone_hz", f), ("tone_db", level)):
        if v.ndim != 1 or len(v) < 2 or not np.all(np.diff(v) > 0):
            raise ValueError(f"{name} must be 1-D, increasing, with at least two values, got {v!r}")
    tables = model_tables(sample_rate, n_fft)
    ff, ll = np.meshgrid(f, level, indexing="ij")
    threshold = tone_threshold(ff.ravel(), ll.ravel(), sample_rate, n_fft).reshape(len(f), len(level), -1)
    quiet = np.asarray(tables.threshold_in_quiet, dtype=np.float64)
    excess = np.power(10.0, threshold / 10) - np.power(10.0, quiet / 10)
    masking = np.maximum(10 * np.log10(np.maximum(excess, 1e-30)), MASKING_FLOOR_DB)
    return ToneThresholdGrid(f, level, np.asarray(tables.frequency, dtype=np.float64),
                             np.asarray(tables.bark, dtype=np.float64), quiet, masking, sample_rate, n_fft)


def _bracket(grid: np.ndarray, value: float) -> tuple[int, float]:
    """Index ``i`` and weight ``w`` with ``value = (1 - w) grid[i] + w grid[i + 1]``, clamped to the ends."""
    i = int(np.clip(np.searchsorted(grid, value) - 1, 0, len(grid) - 2))
    return i, float(np.clip((value - grid[i]) / (grid[i + 1] - grid[i]), 0.0, 1.0))


def interpolate_threshold(grid: ToneThresholdGrid, tone_hz: float, tone_db: float) -> np.ndarray:
    """The threshold of a tone between the grid's points, as the site's widget computes it (``masking.js``).

    The tone's parts (``masking_db``) of the four neighbouring grid tones are
    blended bilinearly in log frequency and level (in dB, clamped to the
    grid's ends) and power-added to the threshold in quiet. Model 1 places a
    masker on an FFT line and a grid row, so its threshold moves in steps as
    a tone glides; the blend smooths them (chapter 2 measures the difference).

    Shape:
        ``() -> (I,)``: dB SPL on the grid rows.
    """
    i, wf = _bracket(np.log(grid.tone_hz), math.log(check_real(tone_hz, "tone_hz", 0.0, lo_open=True)))
    j, wl = _bracket(grid.tone_db, check_real(tone_db, "tone_db"))
    m = grid.masking_db
    part = ((1 - wf) * ((1 - wl) * m[i, j] + wl * m[i, j + 1]) + wf * ((1 - wl) * m[i + 1, j] + wl * m[i + 1, j + 1]))
    return 10 * np.log10(np.power(10.0, grid.threshold_in_quiet / 10) + np.power(10.0, part / 10))


def masking_claims(results: dict[str, dict[str, Any]], judges: dict[str, dict[str, dict[str, float]]],
                   margin_db: float) -> list[Claim]:
    """Chapter 2's claims table: the work's two masking premises and the premise of a plain error measure,
    from each clip's :func:`masked_vs_white` ``results`` and :func:`independent_judges` ``judges`` (clip ->
    ``"shaped"``/``"white"`` -> ``"visqol"``/``"cdpam"``). "Error under the threshold matters less" is
    judged by the book's rule (:func:`~percloss.experiments.claims.paired_verdict`, "better"): each judge's
    range of shaped − white over the clips is its interval. Inaudibility needs listeners, and equal SNR
    holds by construction, so those rows are not tested here.

    Raises:
        RuntimeError: if the two mixes of a clip do not have equal SNR (they are built with equal error energy).
    """
    metric = {kind: {name: r[f"{kind}_metrics"] for name, r in results.items()} for kind in ("shaped", "white")}
    snr_gap = max(abs(metric["shaped"][n]["SNR (dB)"] - metric["white"][n]["SNR (dB)"]) for n in results)
    if not snr_gap < 1e-6:
        raise RuntimeError(f"the shaped and white mixes should have equal SNR by construction; they differ by "
                           f"{snr_gap:g} dB")
    intervals = {}
    for judge, key in (("ViSQOL", "visqol"), ("CDPAM", "cdpam")):
        gaps = [j["shaped"][key] - j["white"][key] for j in judges.values()]
        intervals[judge] = Interval(float(np.mean(gaps)), min(gaps), max(gaps))
    per_clip = "; ".join(f"{name}: ViSQOL {j['shaped']['visqol']:.2f} vs {j['white']['visqol']:.2f}, "
                         f"CDPAM {j['shaped']['cdpam']:.3f} vs {j['white']['cdpam']:.3f}" for name, j in judges.items())
    shaped_nmr = [m["NMR (dB)"] for m in metric["shaped"].values()]
    nmr_gap = [metric["white"][n]["NMR (dB)"] - metric["shaped"][n]["NMR (dB)"] for n in results]
    visqol = [j["shaped"]["visqol"] for j in judges.values()]
    cdpam = [j["shaped"]["cdpam"] for j in judges.values()]
    return [
        Claim("A sound component under the global masking threshold is inaudible",
              "page, the paragraph on its figure (\"the sound component under the curve is inaudible\")", "—",
              f"noise {margin_db:g} dB under each clip's threshold: model-1 NMR (circular), ViSQOL and CDPAM "
              "of the mix (0 = identical for CDPAM, ≈4.73 for ViSQOL)",
              f"NMR {min(shaped_nmr):.1f} to {max(shaped_nmr):.1f} dB; ViSQOL {min(visqol):.2f}–{max(visqol):.2f}; "
              f"CDPAM {min(cdpam):.3f}–{max(cdpam):.3f}",
              verdict(None, "inaudibility needs listeners; the ABX panel below is that test")),
        Claim("At equal error energy, error under the threshold matters less than error above it "
              "(\"why bother trying to reduce the error that's inaudible\")",
              "page, the paragraph beginning \"We think the cost function can be better defined\"", "—",
              "shaped vs white noise of equal energy, judged by the book's rule (`claims.paired_verdict`, "
              "\"better\"): each judge's range of shaped − white over the clips must favour the shaped mix (ViSQOL "
              "higher, CDPAM lower on every clip); both judges: reproduced, one: mixed, none: not reproduced",
              per_clip, paired_verdict("better", intervals, MUSIC_JUDGES, "shaped", "white")),
        Claim("A plain error measure weighs every frequency band the same (it cannot tell the two noises apart)",
              "page, the paragraph beginning \"In this project\" (\"every frequency subband is equally important\")",
              "—", "SNR of the two mixes per clip; holds when equal",
              f"largest SNR difference {snr_gap:.1e} dB; NMR differs by {min(nmr_gap):.1f}–{max(nmr_gap):.1f} dB",
              verdict(None, "a demonstration, not a test: the two mixes are built with equal error energy, so their "
                            "SNR is equal by construction")),
    ]
