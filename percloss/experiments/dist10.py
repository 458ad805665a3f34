"""Model 1 against the ISO reference encoder: the dist10 golden outputs and how far this library stands from them.

``data/golden/`` (:func:`percloss.paths.golden_dir`) holds, per case (two shipped clips at 32 and 44.1 kHz,
Layers I and II, 6 frames each), the input samples and the per-step outputs of dist10's psychoacoustic
model 1 with its departures from Annex D switched off (S1-S5, ``data/golden/README.md``). Chapter 2 shows
:func:`agreement` of every case; ``tests/test_masking_golden.py`` bounds it and checks each step.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..masking import psychoacoustic_model1
from ..paths import golden_dir

__all__ = ["cases", "load_case", "case_signal", "Dist10Agreement", "agreement"]


def cases(folder: str | os.PathLike[str] | None = None) -> list[str]:
    """The golden cases' names (``band_sectoid_32000_l1``, ...) in ``folder`` (Default: :func:`golden_dir`)."""
    root = Path(folder) if folder is not None else golden_dir()
    return sorted(p.stem.removeprefix("dist10_") for p in root.glob("dist10_*.npz"))


def load_case(case: str, folder: str | os.PathLike[str] | None = None) -> dict[str, np.ndarray]:
    """Every array stored for golden ``case``.

    Raises:
        ValueError: if there is no such case.
    """
    path = (Path(folder) if folder is not None else golden_dir()) / f"dist10_{case}.npz"
    if not path.is_file():
        raise ValueError(f"no golden case {case!r} in {path.parent} (cases: {', '.join(cases(path.parent))})")
    with np.load(path) as stored:
        return {k: stored[k] for k in stored.files}


def case_signal(golden: dict[str, np.ndarray]) -> torch.Tensor:
    """A case's input, the 16-bit samples dist10 read, as float64 in [-1, 1)."""
    return torch.as_tensor(golden["samples"].astype(np.float64) / 32768.0)


@dataclass(frozen=True)
class Dist10Agreement:
    """The whole model on one case's samples against dist10's outputs (absolute differences, dB)."""

    case: str
    frames: int
    spectrum_diff_db: np.ndarray  # level spectrum, lines where dist10's is above -100 dB
    threshold_diff_db: np.ndarray  # (frames, grid points) global masking threshold
    smr_diff_db: np.ndarray  # (frames, 32) signal-to-mask ratio per subband
    same_tonal_frames: int  # frames whose tonal maskers are dist10's, line for line

    def row(self) -> dict[str, float | int | str]:
        """The case as chapter 2 tabulates it."""
        return {"case": self.case, "frames": self.frames,
                "spectrum max |diff| (dB)": float(self.spectrum_diff_db.max()),
                "threshold median |diff| (dB)": float(np.median(self.threshold_diff_db)),
                "threshold max |diff| (dB)": float(self.threshold_diff_db.max()),
                "grid points within 0.01 dB (%)": 100 * float((self.threshold_diff_db <= 0.01).mean()),
                "frames with dist10's tonal maskers": f"{self.same_tonal_frames}/{self.frames}"}


def agreement(case: str, folder: str | os.PathLike[str] | None = None) -> Dist10Agreement:
    """Run :func:`percloss.masking.psychoacoustic_model1` on ``case``'s samples and compare every frame
    dist10 wrote with it."""
    golden = load_case(case, folder)
    n, f = int(golden["n_fft"]), int(golden["frames"])
    ours = psychoacoustic_model1(case_signal(golden), int(golden["sample_rate"]), n)
    spectrum = np.abs(ours.spectrum_db[:f, : n // 2].numpy() - golden["spectrum_db"])[golden["spectrum_db"] > -100]
    same = sum(sorted(torch.nonzero(ours.tonal[m]).flatten().tolist())
               == sorted(golden["tonal_lines"][m][golden["tonal_lines"][m] >= 0].tolist()) for m in range(f))
    return Dist10Agreement(case, f, spectrum, np.abs(ours.global_threshold_db[:f].numpy() - golden["global_threshold_db"]),
                           np.abs(ours.smr_db[:f].numpy() - golden["smr_db"]), same)
