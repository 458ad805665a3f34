"""The masking chapter's experiment: noise under the threshold vs white noise.

Two noises with the same energy are added to a real music clip: one shaped to
lie ``margin_db`` under the clip's MPEG-1 global masking threshold in every
frame and line, one white. SNR and MSE cannot tell them apart; NMR can.

Notebook: ``notebooks/ch02_masking.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .. import data
from .._checks import check_choice, check_sample_rate, check_signal
from ..masking import ISO_FULL_SCALE_SINE_DB, analyse_spectrum, model_tables, spectrum_db
from ..metrics import nmr, snr
from ..modes import MODES, current_mode
from ..signal import middle

__all__ = ["MaskingConfig", "noise_under_threshold", "white_noise_like", "masked_vs_white", "independent_judges"]


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
    from ..cdpam import cdpam_distance
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
