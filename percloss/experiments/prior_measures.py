"""Objective measures and claim checks for the deep-audio-prior experiment.

Notebook: ``notebooks/ch01_deep_audio_prior.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from .._checks import check_same_shape, check_signal
from ..losses import PerceptualLoss
from ..metrics import log_spectral_distance, snr
from ..signal import peak_normalize

if TYPE_CHECKING:
    from .prior import PriorResult

__all__ = ["spectral_excess", "objective_measures", "claims_table", "claims_summary"]

LSD_BANDS: tuple[tuple[float, float | None], ...] = ((0, 500), (500, 2000), (2000, None))


def spectral_excess(
    reference: torch.Tensor, test: torch.Tensor, n_fft: int = 512, floor_db: float = -60.0
) -> torch.Tensor:
    """Mean amount (dB) by which ``test``'s spectrogram rises above ``reference``'s.

    Both log-magnitude spectrograms (Hann, ``n_fft``, hop ``n_fft // 4``) are
    floored at ``floor_db`` below the reference's largest bin; the result is the
    mean over time-frequency bins of ``max(0, test_dB - reference_dB)``: energy
    the reference does not have, such as added noise. Zero when ``test`` equals
    ``reference``.

    Shape:
        ``(..., time), (..., time) -> (...)``

    >>> x = torch.sin(torch.arange(4096) * 0.3)
    >>> float(spectral_excess(x, x))
    0.0
    """
    check_signal(reference, "reference", min_length=n_fft)
    check_signal(test, "test", min_length=n_fft)
    check_same_shape(reference, test, "reference", "test")
    window = torch.hann_window(n_fft, dtype=reference.dtype, device=reference.device)

    def db(x: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(x.reshape(-1, x.shape[-1]), n_fft, n_fft // 4, window=window, return_complex=True)
        return 20 * torch.log10(spec.abs() + 1e-12)

    ref_db, test_db = db(reference), db(test)
    floor = ref_db.amax(dim=(-2, -1), keepdim=True) + floor_db
    excess = (test_db.maximum(floor) - ref_db.maximum(floor)).clamp_min(0)
    return excess.mean(dim=(-2, -1)).reshape(reference.shape[:-1])


_FEATURES: dict[int, PerceptualLoss] = {}


def objective_measures(target: torch.Tensor, output: torch.Tensor, sample_rate: int) -> dict[str, float]:
    """Measures of how close ``output`` is to ``target`` (1-D, same length).

    - ``si_snr_db``: SNR after the least-squares gain (scale-invariant SNR), dB;
    - ``lsd_low_db``, ``lsd_mid_db``, ``lsd_high_db``: log-spectral distance
      below 500 Hz, 500-2000 Hz and above 2000 Hz, dB;
    - ``excess_db``: :func:`spectral_excess` (added noise), dB;
    - ``bark_error``: mean absolute difference of the A-weighted perceptual
      features of chapter 1 (the Bark-band error).

    All but SI-SNR use ``output`` peak-normalised to the target's peak.
    """
    check_signal(target, "target", min_length=512)
    check_signal(output, "output", min_length=512)
    if target.dim() != 1 or output.shape != target.shape:
        raise ValueError(
            f"target and output must be 1-D of equal length, got {tuple(target.shape)} and {tuple(output.shape)}"
        )
    target = target.detach().double().cpu()
    output = output.detach().double().cpu()
    gain = (output @ target) / (output @ output).clamp_min(1e-12)
    measures = {"si_snr_db": float(snr(target, gain * output))}
    normed = peak_normalize(output, float(target.abs().max()))
    lsd = log_spectral_distance(target, normed, sample_rate, bands=LSD_BANDS)
    for key, value in zip(("lsd_low_db", "lsd_mid_db", "lsd_high_db"), lsd, strict=True):
        measures[key] = float(value)
    measures["excess_db"] = float(spectral_excess(target, normed))
    if sample_rate not in _FEATURES:
        _FEATURES[sample_rate] = PerceptualLoss(sample_rate, a_weighting=True)
    loss = _FEATURES[sample_rate]
    with torch.no_grad():
        f_t = loss.features(target.float().unsqueeze(0))
        f_o = loss.features(normed.float().unsqueeze(0))
    measures["bark_error"] = float((f_t - f_o).abs().mean())
    return measures


# claim -> (measure, checkpoint index, sign): sign -1 means lower is better.
CLAIMS: dict[str, tuple[str, int, int]] = {
    "crisper mids (LSD 0.5-2 kHz, last)": ("lsd_mid_db", -1, -1),
    "crisper highs (LSD > 2 kHz, last)": ("lsd_high_db", -1, -1),
    "less noise (spectral excess, last)": ("excess_db", -1, -1),
    "sooner (LSD 0.5-2 kHz, first)": ("lsd_mid_db", 0, -1),
}


def claims_table(
    results: Sequence[PriorResult], challenger: str = "perceptual", baseline: str = "mse"
) -> Any:
    """A ``pandas.DataFrame``: one row per (clip, claim), the measure for every
    loss, and whether ``challenger`` beats ``baseline`` on it."""
    import pandas as pd

    by_key = {(r.clip, r.loss): r for r in results}
    losses = list(dict.fromkeys(r.loss for r in results))
    if challenger not in losses or baseline not in losses:
        raise ValueError(f"results must contain losses {challenger!r} and {baseline!r}, got {losses}")
    rows = []
    for clip in dict.fromkeys(r.clip for r in results):
        for claim, (key, index, sign) in CLAIMS.items():
            values = {loss: by_key[clip, loss].measures[index][key] for loss in losses}
            margin = sign * (values[challenger] - values[baseline])
            rows.append({"clip": clip, "claim": claim, **{k: round(v, 2) for k, v in values.items()},
                         f"{challenger} better by": round(margin, 2), "holds": bool(margin > 0)})
    return pd.DataFrame(rows)


def claims_summary(table: Any, mode: str) -> str:
    """One markdown line per claim: on how many clips it holds, in which mode."""
    lines = [f"In `{mode}` mode:"]
    for claim, group in table.groupby("claim", sort=False):
        held = list(group.loc[group.holds, "clip"])
        lines.append(f"- **{claim}**: holds on {len(held)} of {len(group)} clips"
                     + (f" ({', '.join(held)})" if held else ""))
    return "\n".join(lines)
