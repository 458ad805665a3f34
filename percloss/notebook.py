"""Helpers the book's chapters share for showing results (needs the ``book`` extra: IPython)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

__all__ = ["audio_tag", "listening_panel"]


def audio_tag(x: torch.Tensor | np.ndarray, rate: int, width: int = 170) -> str:
    """An HTML ``<audio>`` player embedding ``x`` (mono or ``(channels, time)``, in [-1, 1]) as lossless FLAC.

    16-bit FLAC holds exactly what a 16-bit WAV would, in about half the bytes
    for music, so pages stay light. No normalisation: players keep the
    measured relative levels.

    Raises:
        ValueError: for samples outside [-1, 1] or non-finite, or a rate that is not a positive integer.
    """
    import base64
    import io

    import soundfile as sf

    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim not in (1, 2) or arr.size == 0:
        raise ValueError(f"x must be a non-empty 1-D signal or (channels, time), got shape {arr.shape}")
    if not np.isfinite(arr).all() or np.abs(arr).max() > 1.0:
        raise ValueError("x must be finite and within [-1, 1] (the player does not normalise)")
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate <= 0:
        raise ValueError(f"rate must be a positive integer, got {rate!r}")
    buffer = io.BytesIO()
    sf.write(buffer, arr.T if arr.ndim == 2 else arr, int(rate), format="FLAC", subtype="PCM_16")
    payload = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<audio controls="controls" style="width: {width}px">'
            f'<source src="data:audio/flac;base64,{payload}" type="audio/flac" />'
            "Your browser does not support the audio element.</audio>")


def listening_panel(show: Callable[..., None], controls: dict[str, Any]) -> Any:
    """Controls above an output area; ``show(**values)`` runs into the area whenever a control changes.

    Unlike ``ipywidgets.interactive_output``, nothing runs when the panel is
    created: executing a cell that captures output into an ``Output`` widget
    intermittently stalls headless notebook execution (the book build), and a
    static page cannot run the callback anyway. In Jupyter, move a control.
    """
    import ipywidgets as widgets

    out = widgets.Output()

    def update(_change: object = None) -> None:
        out.clear_output(wait=True)
        with out:
            show(**{name: control.value for name, control in controls.items()})

    for control in controls.values():
        control.observe(update, names="value")
    hint = widgets.HTML("<i>Rerun this notebook in Jupyter and move a control to listen.</i>")
    return widgets.VBox([widgets.HBox(list(controls.values())), hint, out])
