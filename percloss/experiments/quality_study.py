"""Chapter 3's study: embedding similarity vs PESQ, STOI and other quality metrics.

Every clip (16 kHz mono, peak-normalised) is degraded by every degradation of
:data:`percloss.degrade.DEGRADATIONS` at every level; each (clean, degraded)
pair is scored by every metric. The result is one row per pair, written to
``all_metrics.csv``; :func:`correlations` gives Pearson and Spearman
coefficients with bootstrap 95 % intervals.

Notebook: ``notebooks/ch03_quality_metrics.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from .. import data
from .._checks import check_choice
from .._optional import tqdm
from ..degrade import DEGRADATIONS, degrade, peak_normalize
from ..embeddings import Embedding, embedding_similarity, load_embedding
from ..metrics import nmr, snr
from ..modes import MODES, current_mode
from ..scorers import dnsmos, estoi, pesq_wb, visqol
from ..signal import middle

__all__ = ["StudyConfig", "REPORT_CORRELATIONS", "clean_excerpt", "score_pair", "run_study", "correlations", "cdpam_scores"]

RATE = 16000

#: Pearson correlations published in the TU Ilmenau report (speech + music, 3 degradations x 3 levels).
REPORT_CORRELATIONS: dict[tuple[str, str], float] = {
    ("openl3", "pesq"): 0.586,
    ("openl3", "estoi"): 0.670,
    ("vggish", "pesq"): 0.746,
    ("vggish", "estoi"): 0.298,
}


@dataclass(frozen=True)
class StudyConfig:
    """Clips, excerpt length, degradations and embedding settings of one run."""

    clips: tuple[str, ...]
    seconds: float
    degradations: tuple[str, ...]
    openl3_hop: float = 1.0
    cdpam_seconds: float = 1.0  # CDPAM on the middle seconds of each pair (≈1 s of CPU per second); 0 skips it
    seed: int = 0
    workers: int = 2
    mode: str = "custom"
    levels: dict[str, tuple[float, ...]] = field(default_factory=lambda: dict(DEGRADATIONS))

    @classmethod
    def for_mode(cls, mode: str | None = None) -> StudyConfig:
        """``quick``: 2 clips, 2.5 s, the report's 3 degradations, in this process; ``standard``: every clip,
        4 s, all 6 degradations, OpenL3 every 1 s, CDPAM on the middle 1 s; ``full``: 8 s, OpenL3 every 0.1 s,
        CDPAM on all 8 s."""
        mode = current_mode() if mode is None else check_choice(mode, "mode", MODES)
        report = ("noise", "bitrate", "bitdepth")
        if mode == "quick":
            return cls(("speech_male", "piano_bach"), 2.5, report, workers=1, mode=mode)
        every = tuple(DEGRADATIONS)
        if mode == "standard":
            return cls(tuple(data.list_clips()), 4.0, every, mode=mode)
        return cls(tuple(data.list_clips()), 8.0, every, openl3_hop=0.1, cdpam_seconds=8.0, mode=mode)


def clean_excerpt(name: str, seconds: float) -> np.ndarray:
    """``seconds`` of clip ``name`` at 16 kHz from its excerpt offset, peak-normalised (float64): the study's
    clean signal."""
    x = data.load_clip(name, RATE).double().numpy()
    info = data.clip_info(name)
    start = int(RATE * min(float(info.get("excerpt_offset_seconds", 0.0)), max(0.0, len(x) / RATE - seconds)))
    return peak_normalize(x[start : start + int(seconds * RATE)])


def score_pair(clean: np.ndarray, degraded: np.ndarray, is_speech: bool) -> dict[str, float]:
    """The classical metrics of one pair (everything except the embeddings).

    PESQ is NaN where its voice-activity detector finds no utterance in the
    reference or the degraded signal ("No utterances detected").
    """
    c, d = torch.from_numpy(clean), torch.from_numpy(degraded)
    r = nmr(c, d, RATE)
    try:
        pesq = pesq_wb(clean, degraded)
    except ValueError:  # PESQ's voice-activity detector finds no speech (music, heavy reverb)
        pesq = math.nan
    row = {
        "snr_db": float(snr(c, d)),
        "pesq": pesq,
        "estoi": estoi(clean, degraded, RATE),
        "nmr_db": float(r.mean_db),
        "nmr_audible": float(r.audible_fraction),
        "visqol": visqol(clean, degraded, RATE, mode="speech" if is_speech else "audio"),
        "dnsmos_ovrl": dnsmos(degraded * 0.99)["ovrl"] if is_speech else math.nan,
    }
    return row


def _score_job(job: tuple[str, str, str, float, int, float, int]) -> dict[str, Any]:
    clip, kind, degradation, level, level_index, seconds, seed = job
    torch.set_num_threads(1)
    clean = clean_excerpt(clip, seconds)
    degraded = degrade(clean, degradation, level, RATE, seed=seed)
    row: dict[str, Any] = {"clip": clip, "kind": kind, "degradation": degradation, "level": level,
                           "level_index": level_index}
    row.update(score_pair(clean, degraded, kind == "speech"))
    return row


def run_study(config: StudyConfig, embedders: Sequence[Embedding] | None = None,
              progress: bool = True) -> tuple[list[dict[str, Any]], list[Embedding]]:
    """Score every (clip, degradation, level); returns the rows and the embedders used.

    Classical metrics run in ``config.workers`` processes; embeddings and the
    pretrained CDPAM distance (column ``cdpam``, NaN without the ``cdpam``
    extra) in this process (batched per clip).
    """
    if embedders is None:
        embedders = [load_embedding("vggish", seed=config.seed),
                     load_embedding("openl3", seed=config.seed, hop_seconds=config.openl3_hop)]
    jobs = []
    for clip in config.clips:
        kind = data.clip_info(clip)["kind"]
        for degradation in config.degradations:
            for i, level in enumerate(config.levels[degradation], start=1):
                jobs.append((clip, kind, degradation, level, i, config.seconds, config.seed))
    if config.workers > 1:
        import multiprocessing

        with ProcessPoolExecutor(config.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            rows = list(tqdm(pool.map(_score_job, jobs), total=len(jobs), desc="metrics", disable=not progress))
    else:
        rows = [_score_job(j) for j in tqdm(jobs, desc="metrics", disable=not progress)]
    cache: dict[tuple[str, str], torch.Tensor] = {}
    cleans = {clip: clean_excerpt(clip, config.seconds) for clip in config.clips}  # one array per clip: shared embeddings
    pairs = []
    for row in tqdm(rows, desc="embeddings", disable=not progress):
        clean = cleans[row["clip"]]
        degraded = degrade(clean, row["degradation"], row["level"], RATE, seed=config.seed)
        pairs.append((clean, degraded))
        for e in embedders:
            key = (e.name, row["clip"])
            if key not in cache:
                cache[key] = e.embed(torch.from_numpy(clean), RATE)
            sims = embedding_similarity(cache[key], e.embed(torch.from_numpy(degraded), RATE))
            row[f"{e.name}_framewise"] = sims["framewise"]
            row[f"{e.name}_mean"] = sims["mean"]
    scores, _ = cdpam_scores(pairs, config.cdpam_seconds)
    for row, value in zip(rows, scores, strict=True):
        row["cdpam"] = value
    return rows, list(embedders)


def cdpam_scores(pairs: list[tuple[np.ndarray, np.ndarray]], seconds: float) -> tuple[list[float], str]:
    """CDPAM distance of each (clean, degraded) pair on their middle ``seconds`` s; NaN if unavailable.

    The computation of :func:`percloss.cdpam.cdpam_distance`, with each distinct clean
    segment embedded once instead of once per pair (the encoder is the expensive part).
    """
    from ..cdpam import acoustic_embedding, load_cdpam

    nan = [math.nan] * len(pairs)
    if seconds <= 0:
        return nan, "not computed (cdpam_seconds=0)"
    try:
        model = load_cdpam()
    except (ImportError, ValueError) as err:
        return nan, f"not available: {err}"
    head = cast(nn.Module, model.model_dist)
    length = min(len(pairs[0][0]), int(round(seconds * RATE)))

    def segment(x: np.ndarray) -> np.ndarray:
        return np.asarray(middle(x, length), dtype=np.float32)

    groups: dict[int, list[int]] = {}  # pairs sharing a clean signal, by its identity
    for i, (clean, _) in enumerate(pairs):
        groups.setdefault(id(clean), []).append(i)
    out = [math.nan] * len(pairs)
    with torch.no_grad():
        for members in groups.values():
            reference = acoustic_embedding(model, torch.from_numpy(segment(pairs[members[0]][0])[None]), RATE)
            degraded = torch.from_numpy(np.stack([segment(pairs[i][1]) for i in members]))
            dist = head(reference.expand(len(members), -1), acoustic_embedding(model, degraded, RATE))
            for i, value in zip(members, dist.reshape(-1).tolist(), strict=True):
                out[i] = float(value)
    return out, f"pretrained (cdpam wheel), on the middle {length / RATE:g} s of each pair"


def _rank(x: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(x)


def correlations(table: Any, x: str, y: str, n_boot: int = 2000, seed: int = 0) -> dict[str, float]:
    """Pearson and Spearman correlation of columns ``x`` and ``y`` (rows with NaN dropped),
    with percentile-bootstrap 95 % intervals over rows."""
    sub = table[[x, y]].dropna()
    a, b = sub[x].to_numpy(float), sub[y].to_numpy(float)
    n = len(a)
    if n < 4:
        return {"n": n, "pearson": math.nan, "pearson_lo": math.nan, "pearson_hi": math.nan,
                "spearman": math.nan, "spearman_lo": math.nan, "spearman_hi": math.nan}
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))

    def pearson(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        u = u - u.mean(-1, keepdims=True)
        v = v - v.mean(-1, keepdims=True)
        den = np.sqrt((u * u).sum(-1) * (v * v).sum(-1))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray((u * v).sum(-1) / den)

    out: dict[str, float] = {"n": n}
    for name, fa, fb in (("pearson", a, b), ("spearman", _rank(a), _rank(b))):
        out[name] = float(pearson(fa, fb))
        boots = pearson(a[idx], b[idx]) if name == "pearson" else pearson(
            np.apply_along_axis(_rank, 1, a[idx]), np.apply_along_axis(_rank, 1, b[idx]))
        out[f"{name}_lo"], out[f"{name}_hi"] = (float(v) for v in np.nanpercentile(boots, [2.5, 97.5]))
    return out
