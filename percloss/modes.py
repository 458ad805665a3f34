"""Run modes shared by every chapter: ``quick``, ``standard`` and ``full``.

The mode is read from the ``PERCLOSS_MODE`` environment variable.
"""

from __future__ import annotations

import os

import torch

MODES: tuple[str, ...] = ("quick", "standard", "full")
DEFAULT_MODE = "standard"


def current_mode() -> str:
    """Return the run mode named by ``PERCLOSS_MODE`` (Default: ``"standard"``).

    Raises:
        ValueError: if the variable is set to something other than a known mode.

    >>> import os
    >>> os.environ["PERCLOSS_MODE"] = "quick"
    >>> current_mode()
    'quick'
    >>> del os.environ["PERCLOSS_MODE"]
    """
    mode = os.environ.get("PERCLOSS_MODE", DEFAULT_MODE).strip().lower() or DEFAULT_MODE
    if mode not in MODES:
        raise ValueError(f"PERCLOSS_MODE must be one of {MODES}, got {mode!r}")
    return mode


def default_device() -> torch.device:
    """The device chapters run on: CUDA when available, else the CPU.

    ``PERCLOSS_DEVICE`` overrides the choice (e.g. ``cpu`` on a GPU machine).
    """
    name = os.environ.get("PERCLOSS_DEVICE")
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def describe_device(device: torch.device) -> str:
    """A human-readable description of ``device`` for the record on each page."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"
