"""Helpers the book's chapters share for showing results (needs the ``book`` extra: IPython)."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["audio_tag"]


def audio_tag(x: torch.Tensor | np.ndarray, rate: int, width: int = 170) -> str:
    """An HTML ``<audio>`` player embedding ``x`` (mono, in [-1, 1]) as a WAV data URI at its own level.

    No normalisation (``normalize=False``), so players keep the measured
    relative levels; samples outside [-1, 1] raise ``ValueError``.
    """
    from IPython.display import Audio

    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    html: str = Audio(arr, rate=rate, normalize=False)._repr_html_()
    return html.replace("<audio ", f'<audio style="width: {width}px" ')
