"""The real clip set, loaded at any sample rate.

Clips live in ``data/clips/`` (see its ``SOURCES.md``), described by
``manifest.json``. ``PERCLOSS_DATA`` points elsewhere if set (and
``PERCLOSS_CORPUS`` the codec corpus, :func:`codec_corpus_dir`); an installed
package, outside a checkout, has no clips and needs them set (the error says so).
Resampling is :func:`percloss.signal.resample_audio` (soxr ``VHQ``, a band-limited polyphase
resampler; the ``codec`` and ``metrics`` extras bring it).

Notebook: every chapter; the clips are listed in ``book/data.md``.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch

from . import paths
from ._checks import AUDIO_RATE_RANGE, check_sample_rate
from .signal import resample_audio

__all__ = ["clips_dir", "codec_corpus_dir", "codec_corpus", "heldout_dir", "heldout_manifest", "heldout_set",
           "training_corpus_manifest", "training_corpus",
           "choose_segments", "HELDOUT_SEGMENTS", "HELDOUT_SEGMENT_SECONDS", "HELDOUT_SILENCE_DB", "list_clips", "clip_info", "load_clip", "excerpt", "read_audio", "load_wav"]

MIN_RATE, MAX_RATE = AUDIO_RATE_RANGE


def clips_dir() -> Path:
    """The folder holding the clips and ``manifest.json``: ``$PERCLOSS_DATA``, else the checkout's ``data/clips``.

    Raises:
        FileNotFoundError: naming ``PERCLOSS_DATA``, when it is unset and the package is installed (not
            imported from a source checkout): the clips do not ship with the package.
    """
    return paths.checkout_folder("data/clips", "PERCLOSS_DATA", "the clips (and their manifest.json)")


def codec_corpus_dir() -> Path:
    """The codec chapter's music corpus: its manifest (the split) and the shipped excerpts;
    ``$PERCLOSS_CORPUS`` if set, else ``codec/`` beside the clips folder (``data/codec`` of a checkout;
    see ``scripts/build_codec_corpus.sh``).

    Raises:
        FileNotFoundError: naming ``PERCLOSS_CORPUS``, when neither it nor ``PERCLOSS_DATA`` is set and the
            package is installed (not imported from a source checkout).
    """
    env = os.environ.get("PERCLOSS_CORPUS")
    if env:
        return Path(env)
    if not os.environ.get("PERCLOSS_DATA"):
        return paths.checkout_folder("data/codec", "PERCLOSS_CORPUS", "the codec corpus (and its manifest.json)")
    return clips_dir().parent / "codec"


def codec_corpus(split: str, sample_rate: int, folder: str | os.PathLike[str] | None = None) -> dict[str, torch.Tensor]:
    """Songs of the codec corpus in ``split`` ("train" or "heldout") as mono float32 at ``sample_rate``.

    ``folder`` reads whole songs written by ``build_codec_corpus.py --full``
    (same names) instead of the shipped excerpts; the split is always the
    shipped manifest's, so held-out songs stay held out.
    """
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
    manifest = _manifest_file(codec_corpus_dir() / "manifest.json", "run scripts/build_codec_corpus.sh")
    source = codec_corpus_dir() if folder is None else Path(folder)
    return {name: load_wav(source / info["file"], sample_rate)[0]
            for name, info in manifest.items() if info["split"] == split}


#: The held-out evaluation set's rule, fixed before anything was scored on it: per song, this many segments
#: of this many seconds (:func:`choose_segments`), none quieter than this level relative to the song's peak.
HELDOUT_SEGMENTS = 4
HELDOUT_SEGMENT_SECONDS = 6.0
HELDOUT_SILENCE_DB = -40.0


def choose_segments(x: np.ndarray, sample_rate: int, n: int = HELDOUT_SEGMENTS,
                    seconds: float = HELDOUT_SEGMENT_SECONDS, silence_db: float = HELDOUT_SILENCE_DB) -> list[int]:
    """Start samples of the ``n`` evaluation segments of a song ``x`` (mono): evenly spaced over the middle
    80 % of the song (intro and outro left out; the whole song when it is shorter than 30 s), each moved
    later in 0.5-s steps while its RMS is more than ``-silence_db`` dB below the song's peak. Segments
    overlap only where the song is shorter than ``n * seconds``.

    Raises:
        ValueError: a song shorter than one segment, or a segment that finds no loud enough window.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or not np.isfinite(x).all():
        raise ValueError(f"x must be a finite mono signal, got shape {x.shape}")
    rate = check_sample_rate(sample_rate, rate_range=AUDIO_RATE_RANGE)
    if n < 1 or seconds <= 0:
        raise ValueError(f"n must be >= 1 and seconds > 0, got {n} and {seconds}")
    total, length = len(x), int(round(seconds * rate))
    lo, hi = (int(0.1 * total), int(0.9 * total)) if total >= 30 * rate else (0, total)
    last = hi - length
    if last < lo:
        raise ValueError(f"x is too short: {total / rate:.2f} s for a {seconds:g}-s segment")
    peak = float(np.abs(x).max())
    if peak == 0:
        raise ValueError("x is digitally silent")
    step = rate // 2
    starts = []
    for k in range(n):
        start = lo + (round(k * (last - lo) / (n - 1)) if n > 1 else 0)
        while 20 * np.log10(max(float(np.sqrt(np.mean(x[start:start + length] ** 2))), 1e-12) / peak) < silence_db:
            start += step
            if start > last:
                raise ValueError(f"segment {k}: no window of {seconds:g} s within {-silence_db:g} dB of the peak")
        starts.append(int(start))
    return starts


def heldout_dir() -> Path:
    """The codec chapter's held-out evaluation set: ``heldout/`` beside the codec corpus (``data/heldout`` of a
    checkout; ``scripts/build_heldout_set.sh`` rebuilds it)."""
    return codec_corpus_dir().parent / "heldout"


def heldout_manifest() -> dict[str, dict[str, Any]]:
    """The held-out set's manifest: per song its group, source, licence, segment starts and the file's SHA-256."""
    return _manifest_file(heldout_dir() / "manifest.json", "run scripts/build_heldout_set.sh")


def heldout_set(sample_rate: int) -> dict[str, list[torch.Tensor]]:
    """The held-out songs' evaluation segments (:func:`choose_segments`), mono float32 at ``sample_rate``:
    ``{song: [segment, ...]}``, each segment resampled on its own (as a listener would receive it).

    Raises:
        ValueError: a file whose SHA-256 differs from its manifest entry.
    """
    import hashlib

    out = {}
    for name, info in heldout_manifest().items():
        path = heldout_dir() / info["file"]
        if hashlib.sha256(path.read_bytes()).hexdigest() != info["sha256"]:
            raise ValueError(f"{path} does not match the SHA-256 in the held-out manifest; rebuild it with "
                             "scripts/build_heldout_set.sh")
        frames, rate = read_audio(path)
        x = frames.mean(axis=1)
        length = int(round(info["segment_seconds"] * rate))
        pieces = [x[k * length:(k + 1) * length] for k in range(len(info["segment_starts_seconds"]))]
        out[name] = [torch.from_numpy(resample_audio(p, rate, sample_rate).astype(np.float32)) for p in pieces]
    return out


def training_corpus_manifest() -> dict[str, dict[str, Any]]:
    """The broad training corpus's manifest (``data/corpus/manifest.json``, shipped): per song its group, source,
    licence, whether the source is lossy or a render, its duration and its FLAC's SHA-256
    (``scripts/build_training_corpus.sh`` builds the audio, about 1 GB, into ``data/corpus/audio``)."""
    return _manifest_file(codec_corpus_dir().parent / "corpus" / "manifest.json",
                          "run scripts/build_training_corpus.sh")


def training_corpus(sample_rate: int, folder: str | os.PathLike[str] | None = None,
                    groups: tuple[str, ...] | None = None) -> dict[str, torch.Tensor]:
    """The broad training corpus's songs (or those of ``groups``) as mono float32 at ``sample_rate``, each file
    checked against its SHA-256. ``folder``: where the audio was built (Default: ``data/corpus/audio``).

    Raises:
        FileNotFoundError: the audio is not built (naming the script that builds it).
        ValueError: a file whose SHA-256 differs from the manifest's.
    """
    import hashlib

    source = Path(folder) if folder is not None else codec_corpus_dir().parent / "corpus" / "audio"
    out = {}
    for name, info in training_corpus_manifest().items():
        if groups is not None and info["group"] not in groups:
            continue
        path = source / info["file"]
        if not path.is_file():
            raise FileNotFoundError(f"{path} is not built: run scripts/build_training_corpus.sh")
        if hashlib.sha256(path.read_bytes()).hexdigest() != info["sha256"]:
            raise ValueError(f"{path} does not match the SHA-256 in the corpus manifest; rebuild it with "
                             "scripts/build_training_corpus.sh")
        out[name] = load_wav(path, sample_rate)[0]
    return out


@functools.lru_cache(maxsize=8)
def _manifest_file(path: Path, rebuild: str) -> dict[str, dict[str, Any]]:
    if not path.is_file():
        raise FileNotFoundError(f"no manifest at {path} ({rebuild})")
    manifest: dict[str, dict[str, Any]] = json.loads(path.read_text())
    return manifest


def _manifest(folder: Path) -> dict[str, dict[str, Any]]:
    return _manifest_file(folder / "manifest.json", "set PERCLOSS_DATA or run scripts/build_clips.sh")


def list_clips(kind: str | None = None) -> list[str]:
    """Names of the clips, optionally only those of ``kind`` (``"speech"`` or ``"music"``).

    >>> list_clips("speech")
    ['speech_male', 'speech_female']
    """
    names = [n for n, info in _manifest(clips_dir()).items() if kind is None or info["kind"] == kind]
    if kind is not None and not names:
        raise ValueError(f"kind must be 'speech' or 'music', got {kind!r}")
    return names


def clip_info(name: str) -> dict[str, Any]:
    """The manifest entry of clip ``name``: rate, length, source, licence, offsets, hash."""
    manifest = _manifest(clips_dir())
    if name not in manifest:
        raise ValueError(f"name must be one of {sorted(manifest)}, got {name!r}")
    return dict(manifest[name])


def read_audio(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Read an audio file as it is: ``((time, channels) float64 in [-1, 1], sample rate)``.

    Raises:
        ValueError: no such file, not a readable audio file, or no samples.
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"path does not name a file: {str(p)!r}")
    try:
        x, rate = sf.read(str(p), dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise ValueError(f"path {str(p)!r} is not a readable audio file: {err}") from None
    if x.shape[0] == 0:
        raise ValueError(f"path {str(p)!r} holds no samples")
    return x, int(rate)


def load_wav(path: str | os.PathLike[str], sample_rate: int | None = None) -> tuple[torch.Tensor, int]:
    """Read an audio file as mono float32 in [-1, 1]; stereo is averaged to mono.

    Args:
        path: any file libsndfile reads (WAV, FLAC, Ogg; int or float samples).
        sample_rate: resample to this rate (Hz); ``None`` keeps the file's rate.

    Returns:
        ``(signal, sample_rate)``, ``signal`` of shape ``(time,)``.
    """
    x, rate = read_audio(path)
    mono = x.mean(axis=1)
    if sample_rate is not None:
        mono = resample_audio(mono, int(rate), check_sample_rate(sample_rate, rate_range=AUDIO_RATE_RANGE))
        rate = sample_rate
    return torch.from_numpy(mono.astype(np.float32)), int(rate)


def load_clip(name: str, sample_rate: int | None = None) -> torch.Tensor:
    """The whole clip ``name`` as float32 mono, at ``sample_rate`` (Default: native rate).

    Shape:
        ``() -> (time,)``

    >>> x = load_clip("speech_male", 8000)
    >>> x.shape, x.dtype
    (torch.Size([32000]), torch.float32)
    """
    info = clip_info(name)
    x, _ = load_wav(clips_dir() / info["file"], sample_rate)
    return x


def excerpt(
    name: str, sample_rate: int = 11025, num_samples: int = 8192, offset_seconds: float | None = None
) -> torch.Tensor:
    """A fixed excerpt of ``num_samples`` samples of clip ``name`` at ``sample_rate``.

    Args:
        name: clip name (see :func:`list_clips`).
        sample_rate: rate of the excerpt in Hz. (Default: 11025, as in Vinyard 2018)
        num_samples: length of the excerpt. (Default: 8192)
        offset_seconds: start within the clip; ``None`` uses the clip's
            ``excerpt_offset_seconds`` (its most energetic window). (Default: ``None``)

    Shape:
        ``() -> (num_samples,)``

    >>> excerpt("piano_bach").shape
    torch.Size([8192])
    """
    info = clip_info(name)
    rate = check_sample_rate(sample_rate, rate_range=AUDIO_RATE_RANGE)
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")
    offset = info["excerpt_offset_seconds"] if offset_seconds is None else offset_seconds
    if not isinstance(offset, (int, float)) or not np.isfinite(offset) or offset < 0:
        raise ValueError(f"offset_seconds must be a non-negative number, got {offset_seconds!r}")
    x = load_clip(name, rate)
    start = int(round(offset * rate))
    if start + num_samples > x.shape[0]:
        raise ValueError(
            f"offset_seconds={offset} with num_samples={num_samples} runs past the end of {name!r} "
            f"({x.shape[0]} samples at {rate} Hz)"
        )
    return x[start : start + num_samples].clone()
