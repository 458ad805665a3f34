"""Codec models shipped inside the package (``percloss/models/``): list, verify, load.

``percloss/models/manifest.json`` lists each trained model (operating point,
sample rate, modules, parameters, steps, audio seen, wall time, final loss
terms, achieved file bitrate on the held-out songs, SHA-256, code commit) with
its checkpoint (:func:`percloss.codec.save_codec`) and gzipped training-log CSV
beside it (:func:`training_log`). Every load verifies the SHA-256. ``python -m percloss models`` lists them;
``encode``/``decode`` use :data:`DEFAULT_MODEL` unless told otherwise.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .codec import CascadedCodec, load_codec
from .codec_training import TrainLog

__all__ = ["DEFAULT_MODEL", "models_dir", "shipped_models", "load_shipped_codec", "resolve_codec", "training_log",
           "read_log_csv", "training_curve"]

#: The model ``encode``/``decode`` use by default: model D of Zhen et al. at 64 kbit/s, 32 kHz.
DEFAULT_MODEL = "D64"


def models_dir() -> Path:
    """The package's model folder (``$PERCLOSS_MODELS`` overrides it)."""
    env = os.environ.get("PERCLOSS_MODELS")
    return Path(env) if env else Path(str(resources.files("percloss") / "models"))


def shipped_models() -> dict[str, dict[str, Any]]:
    """The manifest's entries by model name (empty when no model ships).

    Raises:
        ValueError: if the manifest is not JSON, or not an object of entries each naming its ``file``,
            ``sha256``, ``sample_rate`` and ``n_modules``.
    """
    manifest = models_dir() / "manifest.json"
    if not manifest.is_file():
        return {}
    try:
        entries = json.loads(manifest.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"the model manifest {manifest} is not valid JSON: {err}") from None
    needed = ("file", "sha256", "sample_rate", "n_modules")
    if not isinstance(entries, dict) or not all(
            isinstance(e, dict) and all(k in e for k in needed) for e in entries.values()):
        raise ValueError(f"the model manifest {manifest} must map each model name to an entry with "
                         f"{', '.join(needed)}")
    return entries


def training_log(name: str) -> list[dict[str, str]]:
    """Shipped model ``name``'s training log, one dict per row (:data:`percloss.codec_training.LOG_COLUMNS`)."""
    models = shipped_models()
    if name not in models:
        raise ValueError(f"no shipped codec model {name!r}; shipped: {', '.join(sorted(models))}")
    return read_log_csv(models_dir() / models[name]["log"])


def read_log_csv(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """A training-log CSV (:data:`percloss.codec_training.LOG_COLUMNS`; gzipped when it ends in ``.gz``)."""
    path = Path(path)
    with (gzip.open(path, "rt", newline="") if path.suffix == ".gz" else path.open(newline="")) as handle:
        return list(csv.DictReader(handle))


def training_curve(log: str | os.PathLike[str] | TrainLog, n_modules: int) -> dict[str, np.ndarray]:
    """A codec's training curve from its log (a training-log CSV or a :class:`~percloss.codec_training.TrainLog`):
    ``step``, ``distortion`` (its own loss) and ``H1``, ``H2``, ... the bits per code of each module that the
    rate controller followed (the soft entropy for one module, the hard codes' for more).

    Raises:
        ValueError: if the log has no steps.
    """
    column = "hard_entropy_bits" if n_modules > 1 else "entropy_bits"
    if isinstance(log, TrainLog):
        step = np.arange(1, log.steps + 1)
        distortion = np.asarray(log.distortion, dtype=float)
        entropy = np.asarray(getattr(log, column), dtype=float)
    else:
        rows = read_log_csv(log)
        step = np.array([int(r["step"]) for r in rows])
        distortion = np.array([float(r["distortion"]) for r in rows])
        entropy = np.array([[float(v) for v in r[column].split(";")] for r in rows])
    if len(step) == 0:
        raise ValueError(f"the training log {log if not isinstance(log, TrainLog) else '(TrainLog)'} has no steps")
    return {"step": step, "distortion": distortion, **{f"H{i + 1}": entropy[:, i] for i in range(entropy.shape[1])}}


def load_shipped_codec(name: str) -> tuple[CascadedCodec, list[torch.Tensor], dict[str, object]]:
    """Load shipped model ``name`` after checking its SHA-256 against the manifest.

    Raises:
        ValueError: unknown name (the message lists the shipped ones), missing
            file or SHA-256 mismatch.
    """
    models = shipped_models()
    if name not in models:
        have = ", ".join(sorted(models)) or "none in this version (train them: python -m percloss train-codec)"
        raise ValueError(f"no shipped codec model {name!r}; shipped: {have}")
    entry = models[name]
    path = models_dir() / entry["file"]
    if not path.is_file():
        raise ValueError(f"shipped model {name!r}: file {path} is missing")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != entry["sha256"]:
        raise ValueError(f"shipped model {name!r}: {path} has SHA-256 {digest}, the manifest says {entry['sha256']}")
    return load_codec(path)


def resolve_codec(model: str) -> tuple[CascadedCodec, list[torch.Tensor], dict[str, object]]:
    """A codec from a checkpoint path, or a shipped model's name."""
    path = Path(model)
    if path.suffix or os.sep in model or path.is_file():
        return load_codec(path)
    return load_shipped_codec(model)
