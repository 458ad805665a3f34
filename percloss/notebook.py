"""Helpers the book's chapters share for showing results (needs the ``book`` extra: IPython)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

__all__ = ["audio_tag", "listening_panel"]


def audio_tag(x: torch.Tensor | np.ndarray, rate: int, width: int = 170) -> str:
    """An HTML ``<audio>`` player embedding ``x`` (mono, in [-1, 1]) as a WAV data URI at its own level.

    No normalisation (``normalize=False``), so players keep the measured
    relative levels; samples outside [-1, 1] raise ``ValueError``.
    """
    from IPython.display import Audio

    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    html: str = Audio(arr, rate=rate, normalize=False)._repr_html_()
    return html.replace("<audio ", f'<audio style="width: {width}px" ')


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
