"""Codec models shipped inside the package (``percloss/models/``): list, verify, load.

``percloss/models/manifest.json`` lists each trained model (operating point,
sample rate, modules, parameters, steps, audio seen, wall time, final loss
terms, achieved file bitrate on the held-out songs, SHA-256, code commit) with
its checkpoint (:func:`percloss.codec.save_codec`) and gzipped training-log CSV
beside it (:func:`training_log`). Every load verifies the SHA-256. ``python -m percloss models`` lists them;
``encode``/``decode`` use :data:`DEFAULT_MODEL` unless told otherwise.

Two collections ship (:data:`COLLECTIONS`): ``codec``, the models trained on the codec corpus's six rock/metal
songs (``percloss/models/``, named ``A64`` ...: chapter 4's verdicts), and ``broad``, the zero-preserving models
trained on the broad training corpus (``percloss/models/broad/``, named ``broad/A64`` ...).
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

__all__ = ["DEFAULT_MODEL", "COLLECTIONS", "models_dir", "collection_dir", "split_name", "shipped_models", "load_shipped_codec", "resolve_codec", "training_log",
           "read_log_csv", "training_curve", "ship_run", "SHIP_RATE_TOLERANCE"]

#: The model ``encode``/``decode`` use by default: model D of Zhen et al. at 64 kbit/s, 32 kHz.
DEFAULT_MODEL = "D64"


def models_dir() -> Path:
    """The package's model folder (``$PERCLOSS_MODELS`` overrides it)."""
    env = os.environ.get("PERCLOSS_MODELS")
    return Path(env) if env else Path(str(resources.files("percloss") / "models"))


#: The model collections: ``codec`` (the codec corpus's, the package's folder itself) and ``broad``.
COLLECTIONS = ("codec", "broad")


def collection_dir(collection: str = "codec") -> Path:
    """The folder of a collection's models and manifest: :func:`models_dir`, or its ``broad/`` subfolder."""
    from ._checks import check_choice

    check_choice(collection, "collection", COLLECTIONS)
    return models_dir() if collection == "codec" else models_dir() / collection


def split_name(name: str) -> tuple[str, str]:
    """``"broad/A64"`` -> ``("broad", "A64")``; a name without a collection is the ``codec`` collection's."""
    head, sep, tail = name.partition("/")
    return (head, tail) if sep and head in COLLECTIONS[1:] else ("codec", name)


def shipped_models(collection: str = "codec") -> dict[str, dict[str, Any]]:
    """The collection's manifest entries by model name (empty when no model ships).

    Raises:
        ValueError: if the manifest is not JSON, or not an object of entries each naming its ``file``,
            ``sha256``, ``sample_rate`` and ``n_modules``.
    """
    manifest = collection_dir(collection) / "manifest.json"
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
    """Load shipped model ``name`` (``"D64"``, or ``"broad/D64"`` from the broad collection) after checking its
    SHA-256 against the manifest.

    Raises:
        ValueError: unknown name (the message lists the shipped ones), missing
            file or SHA-256 mismatch.
    """
    collection, point = split_name(name)
    models = shipped_models(collection)
    if point not in models:
        prefix = "" if collection == "codec" else collection + "/"
        have = ", ".join(prefix + m for m in sorted(models)) or \
            "none in this version (train them: python -m percloss train-codec)"
        raise ValueError(f"no shipped codec model {name!r}; shipped: {have}")
    entry = models[point]
    path = collection_dir(collection) / entry["file"]
    if not path.is_file():
        raise ValueError(f"shipped model {name!r}: file {path} is missing")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != entry["sha256"]:
        raise ValueError(f"shipped model {name!r}: {path} has SHA-256 {digest}, the manifest says {entry['sha256']}")
    return load_codec(path)


def resolve_codec(model: str) -> tuple[CascadedCodec, list[torch.Tensor], dict[str, object]]:
    """A codec from a checkpoint path, or a shipped model's name (``"D64"``, ``"broad/D64"``)."""
    path = Path(model)
    if split_name(model)[0] != "codec" and not path.is_file():
        return load_shipped_codec(model)
    if path.suffix or os.sep in model or path.is_file():
        return load_codec(path)
    return load_shipped_codec(model)


#: A model ships when its file bitrate on the held-out songs is within this fraction of its point's target.
SHIP_RATE_TOLERANCE = 0.03


def ship_run(name: str, runs: str | os.PathLike[str] | None = None, corpus_folder: str | os.PathLike[str] | None = None,
             out: str | os.PathLike[str] | None = None, collection: str = "codec") -> dict[str, Any]:
    """Ship the finished training run of point ``name`` into the package: copy the checkpoint it exported
    (``runs/<name>/<name>.codec``) and its gzipped training log into ``out`` (Default: the collection's folder,
    :func:`collection_dir`) and write its manifest entry (point, sample rate, modules, parameters, steps, audio
    seen, wall time, final loss terms, achieved file bitrate on the held-out songs, SHA-256, code commit,
    device). ``runs`` defaults to the repository's ``runs/codec`` (``runs/codec/broad`` for the ``broad``
    collection). The held-out bitrate: ``codec``, on the codec corpus's two held-out songs (``corpus_folder``:
    whole songs; Default: the shipped excerpts); ``broad``, on the 64 segments of the 16-song held-out set
    (:func:`percloss.data.heldout_set`). Returns the entry.

    Raises:
        ValueError: if ``name`` is no point, the run has not finished, or its held-out file bitrate is more
            than :data:`SHIP_RATE_TOLERANCE` from the target (the model does not ship).
    """
    import shutil
    import subprocess

    from . import data
    from ._checks import check_choice
    from .codec import count_parameters, write_bitstream
    from .codec_runs import POINTS, RUN
    from .paths import repository_root, runs_dir

    point = POINTS[check_choice(name, "name", tuple(POINTS))]
    check_choice(collection, "collection", COLLECTIONS)
    default_runs = runs_dir() / "codec" / ("" if collection == "codec" else collection)
    run = (Path(runs) if runs is not None else default_runs) / name
    checkpoint, log_csv = run / f"{name}.codec", run / "log.csv"
    if not checkpoint.is_file():
        raise ValueError(f"{checkpoint} does not exist: the run of {name} has not finished")
    codec, counts, info = load_codec(checkpoint)
    rows = read_log_csv(log_csv)
    tail = rows[-100:]
    terms = {k: sum(float(r[k]) for r in tail) / len(tail)
             for k in ("distortion", "mse", "mel_weighted", "priority", "noise_modulation") if tail[0][k] != ""}
    bits = seconds = 0.0
    per_song = {}
    songs = ({song: [x] for song, x in data.codec_corpus("heldout", point.sample_rate, corpus_folder).items()}
             if collection == "codec" else data.heldout_set(point.sample_rate))
    with torch.inference_mode():
        for song, pieces in songs.items():
            song_bits = song_seconds = 0.0
            for x in pieces:
                song_bits += len(write_bitstream(codec, counts, x, point.sample_rate)) * 8
                song_seconds += len(x) / point.sample_rate
            per_song[song] = round(song_bits / song_seconds / 1000, 2)
            bits += song_bits
            seconds += song_seconds
    kbps = bits / seconds / 1000
    if abs(kbps - point.kbps) > SHIP_RATE_TOLERANCE * point.kbps:
        raise ValueError(f"{name} does not ship: its file bitrate on the held-out songs is {kbps:.2f} kbit/s "
                         f"({per_song}), more than {SHIP_RATE_TOLERANCE:.0%} from the target {point.kbps:g}")
    folder = Path(out) if out is not None else collection_dir(collection)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(checkpoint, folder / f"{name}.codec")
    with log_csv.open("rb") as src, gzip.GzipFile(folder / f"{name}.log.csv.gz", "wb", mtime=0) as dst:
        shutil.copyfileobj(src, dst)
    root = repository_root()
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip() \
        if root is not None else ""
    record = run / "run.json"
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    manifest[name] = {
        "file": f"{name}.codec", "log": f"{name}.log.csv.gz",
        "sha256": hashlib.sha256((folder / f"{name}.codec").read_bytes()).hexdigest(),
        "model": point.model, "sample_rate": point.sample_rate, "target_kbps": point.kbps,
        "n_modules": point.n_modules, "parameters": count_parameters(codec), "steps": len(rows),
        "audio_seen_hours": round(len(rows) * RUN.seconds_per_step(point.sample_rate) / 3600, 3),
        "wall_hours": round(float(rows[-1]["wall_s"]) / 3600, 3), "trained": info["trained"],
        "final_terms_mean_last_100_steps": {k: round(v, 6) for k, v in terms.items()},
        "file_kbps_heldout": round(kbps, 2), "file_kbps_per_song": per_song,
        "heldout_corpus": ("the held-out set's 64 segments of 16 songs" if collection == "broad" else
                           "whole songs" if corpus_folder else "shipped excerpts"), "code_commit": commit,
        # runs before the record named a device trained on the CPU
        "device": str(json.loads(record.read_text()).get("device", "cpu")) if record.is_file() else "cpu",
    }
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return dict(manifest[name])
