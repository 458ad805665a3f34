"""Chapter 3's study: embedding similarity vs PESQ, STOI and other quality metrics.

Every clip (16 kHz mono, peak-normalised) is degraded by every degradation of
:data:`percloss.degrade.DEGRADATIONS` at every level; each (clean, degraded)
pair is scored by every metric. The result is one row per pair, written to
``all_metrics.csv``; :func:`correlations` gives Pearson and Spearman
coefficients with bootstrap 95 % intervals, :func:`correlation_table` the
chapter's table of them and :func:`findings` its summary of this build.

Notebook: ``notebooks/ch03_quality_metrics.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd
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

__all__ = ["RATE", "StudyConfig", "REPORT_CORRELATIONS", "clean_excerpt", "score_pair", "run_study", "correlations",
           "cdpam_scores", "pearson", "weights_label", "embedding_labels", "metric_names", "correlation_table",
           "findings"]

#: The sample rate of every signal of chapter 3 (this study and :mod:`percloss.experiments.seminar`).
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


def clean_excerpt(name: str, seconds: float | None, *, from_offset: bool = True, normalize: bool = True
                  ) -> np.ndarray:
    """``seconds`` of clip ``name`` at 16 kHz (float64; ``None``: to the end of the clip): the clean signal of
    chapter 3.

    By default the study's: from the clip's excerpt offset (moved earlier where the excerpt would run past the
    end), peak-normalised. :func:`percloss.experiments.seminar.replicate` takes the report's: from the start
    of the clip (``from_offset=False``), as loaded (``normalize=False``).
    """
    x = data.load_clip(name, RATE).double().numpy()
    start = 0
    if from_offset:
        offset = float(data.clip_info(name).get("excerpt_offset_seconds", 0.0))
        start = int(RATE * min(offset, max(0.0, len(x) / RATE - (seconds or 0.0))))
    x = x[start:] if seconds is None else x[start : start + int(round(seconds * RATE))]
    return peak_normalize(x) if normalize else x


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

    The computation of :func:`percloss.losses.cdpam_distance`, with each distinct clean
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


def pearson(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Pearson's r of ``u`` and ``v`` along their last axis (one coefficient per row of a stack of
    resamples); NaN where either is constant.

    >>> float(pearson(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 7.0])))  # doctest: +ELLIPSIS
    0.99339...
    """
    u = u - u.mean(-1, keepdims=True)
    v = v - v.mean(-1, keepdims=True)
    den = np.sqrt((u * u).sum(-1) * (v * v).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray((u * v).sum(-1) / den)


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
    out: dict[str, float] = {"n": n}
    for name, fa, fb in (("pearson", a, b), ("spearman", _rank(a), _rank(b))):
        out[name] = float(pearson(fa, fb))
        boots = pearson(a[idx], b[idx]) if name == "pearson" else pearson(
            np.apply_along_axis(_rank, 1, a[idx]), np.apply_along_axis(_rank, 1, b[idx]))
        out[f"{name}_lo"], out[f"{name}_hi"] = (float(v) for v in np.nanpercentile(boots, [2.5, 97.5]))
    return out


def weights_label(pretrained: bool) -> str:
    """How every table of chapter 3 names an embedding's weights: ``"pretrained"`` or
    ``"random-feature control"`` (the same architecture with a fixed random initialisation)."""
    return "pretrained" if pretrained else "random-feature control"


def embedding_labels(pretrained: Mapping[str, bool]) -> dict[str, str]:
    """Each embedding's name with its weights (:func:`weights_label`), in the order of ``pretrained``:
    ``{"vggish": "vggish (random-feature control)", ...}``."""
    return {name: f"{name} ({weights_label(ok)})" for name, ok in pretrained.items()}


def metric_names(pretrained: Mapping[str, bool]) -> dict[str, str]:
    """Column -> printed name of the study's main metrics (the embeddings' framewise cosines labelled with
    their weights, :func:`embedding_labels`), in the order of the chapter's summary table."""
    label = embedding_labels(pretrained)
    return {
        "pesq": "PESQ", "estoi": "ESTOI", "visqol": "ViSQOL", "dnsmos_ovrl": "DNSMOS ovrl", "nmr_db": "NMR (dB)",
        "snr_db": "SNR (dB)", "vggish_framewise": label["vggish"] + " cos", "openl3_framewise": label["openl3"] + " cos",
        "cdpam": "CDPAM distance (pretrained)",
    }


def _ci(r: Mapping[str, float], name: str = "pearson") -> str:
    """``"0.71 [0.52, 0.85]"``: a coefficient of :func:`correlations` with its interval."""
    return f"{r[name]:.2f} [{r[name + '_lo']:.2f}, {r[name + '_hi']:.2f}]"


def _correlation_row(embedding: str, vs: str, r: Mapping[str, float], report: float) -> dict[str, Any]:
    return {"embedding": embedding, "vs": vs, "n": r["n"],
            "Pearson": f"{r['pearson']:.3f} [{r['pearson_lo']:.2f}, {r['pearson_hi']:.2f}]",
            "Spearman": f"{r['spearman']:.3f} [{r['spearman_lo']:.2f}, {r['spearman_hi']:.2f}]",
            "report (Pearson)": report}


def correlation_table(table: pd.DataFrame, pretrained: Mapping[str, bool],
                      others: Sequence[str] = ("pesq", "estoi", "visqol", "nmr_db"), n_boot: int = 2000,
                      seed: int = 0) -> pd.DataFrame:
    """Chapter 3's table of correlations with intervals: each embedding (OpenL3, VGGish; framewise and mean
    cosine) and the CDPAM distance against each of ``others``, over all rows of ``table``
    (:func:`correlations`, ``n_boot`` resamples, fixed ``seed``).

    Indexed by ``embedding, vs`` (printed names, :func:`embedding_labels` and :func:`metric_names`); columns
    ``n``, ``Pearson`` and ``Spearman`` (``"0.712 [0.52, 0.85]"``) and ``report (Pearson)``: the report's
    coefficient for the pair (:data:`REPORT_CORRELATIONS`, NaN where it gives none). CDPAM is a distance, so
    its agreement with PESQ, ESTOI and ViSQOL shows as a negative coefficient.
    """
    label, names = embedding_labels(pretrained), metric_names(pretrained)
    rows = []
    for emb in ("openl3", "vggish"):
        for variant in ("framewise", "mean"):
            for other in others:
                r = correlations(table, f"{emb}_{variant}", other, n_boot=n_boot, seed=seed)
                rows.append(_correlation_row(f"{label[emb]}, {variant}", names[other], r,
                                             REPORT_CORRELATIONS.get((emb, other), math.nan)))
    for other in others:
        r = correlations(table, "cdpam", other, n_boot=n_boot, seed=seed)
        rows.append(_correlation_row(names["cdpam"], names[other], r, math.nan))
    return pd.DataFrame(rows).set_index(["embedding", "vs"])


def findings(table: pd.DataFrame, pretrained: Mapping[str, bool], report: pd.DataFrame) -> list[str]:
    """What this build's ``table`` (:func:`run_study`'s rows) shows, as the chapter's bullet points (Markdown,
    without the leading ``-``): the range of the embedding similarities beside the report's (``report``:
    :func:`percloss.experiments.seminar.report_frame`), each embedding's correlations with PESQ, ESTOI and
    ViSQOL beside the report's, framewise against mean cosine, the established measures among themselves,
    and (where the table has both) what reverberation and clipping do to each measure.
    """
    label = embedding_labels(pretrained)

    def pear(x: str, y: str) -> dict[str, float]:
        return correlations(table, x, y)

    cos_cols = ["vggish_framewise", "openl3_framewise"]
    bullets = [
        f"*Embedding weights:* {', '.join(label.values())}. Over this build's {len(table)} pairs the framewise "
        f"cosine similarities lie between {table[cos_cols].min().min():.4f} and {table[cos_cols].max().max():.4f}. "
        f"The report's pretrained OpenL3 similarities lie between {report.openl3.min():.4f} and "
        f"{report.openl3.max():.4f} (mean {report.openl3.mean():.4f} over its {len(report)} rows), its VGGish ones "
        f"between {report.vggish.min():.4f} and {report.vggish.max():.4f}. Values near 1 for every degradation are "
        "what ReLU features give: they are non-negative, so any two embeddings point in similar directions."
    ]
    for emb in ("vggish", "openl3"):
        r = {o: pear(f"{emb}_framewise", o) for o in ("pesq", "estoi", "visqol")}
        text = (f"*{label[emb]}*, framewise cosine: Pearson with PESQ {_ci(r['pesq'])} (Spearman "
                f"{_ci(r['pesq'], 'spearman')}), with ESTOI {_ci(r['estoi'])} (Spearman "
                f"{_ci(r['estoi'], 'spearman')}), with ViSQOL {_ci(r['visqol'])}. The report, with pretrained "
                f"weights on its own {len(report)} pairs: {REPORT_CORRELATIONS[(emb, 'pesq')]:.3f} with PESQ and "
                f"{REPORT_CORRELATIONS[(emb, 'estoi')]:.3f} with STOI.")
        if not pretrained[emb]:
            text += (" With random weights these coefficients describe what the architecture and its log-mel front "
                     "end do on our pairs; they say nothing about what training adds, and they cannot confirm or "
                     "refute the report's values: that takes the pretrained weights on the same pairs.")
        bullets.append(text)
    which = []
    for emb in ("vggish", "openl3"):
        f_p, m_p = pear(f"{emb}_framewise", "pesq")["pearson"], pear(f"{emb}_mean", "pesq")["pearson"]
        f_v, m_v = pear(f"{emb}_framewise", "visqol")["pearson"], pear(f"{emb}_mean", "visqol")["pearson"]
        which.append(f"{label[emb]}: framewise {f_p:.2f} vs mean {m_p:.2f} with PESQ, {f_v:.2f} vs {m_v:.2f} "
                     "with ViSQOL")
    bullets.append("*Which cosine?* The report does not say how it turned a sequence of embeddings into one "
                   "similarity. Pearson coefficients of the two definitions: " + "; ".join(which) + ".")
    est = {o: pear("pesq", o)["pearson"] for o in ("estoi", "nmr_db", "visqol")}
    bullets.append(f"*The established measures among themselves* (Pearson): PESQ vs ESTOI {est['estoi']:.2f}, "
                   f"PESQ vs NMR {est['nmr_db']:.2f}, PESQ vs ViSQOL {est['visqol']:.2f}.")
    if {"reverb", "clipping"} <= set(table.degradation):
        rv = table[table.degradation == "reverb"].groupby("level_index")[["pesq", "estoi", "nmr_db"]].mean()
        rv_cos = table.loc[table.degradation == "reverb", cos_cols].min().min()
        neg = table[table.degradation.isin(["reverb", "clipping"])].snr_db
        bullets.append(
            f"*Reverberation and clipping* separate the measures most: under reverberation the mean PESQ goes from "
            f"{rv.pesq.iloc[0]:.2f} to {rv.pesq.iloc[-1]:.2f} and ESTOI from {rv.estoi.iloc[0]:.2f} to "
            f"{rv.estoi.iloc[-1]:.2f} (mildest to most severe level), NMR from {rv.nmr_db.iloc[0]:.1f} to "
            f"{rv.nmr_db.iloc[-1]:.1f} dB, while the embedding cosines stay at or above {rv_cos:.4f}. SNR is "
            f"negative for {(neg < 0).sum()} of the {len(neg)} reverberation and clipping pairs: each degraded "
            "signal is peak-normalised again (a signal clipped at a tenth of its peak is scaled up tenfold) and "
            "reverberation adds a tail the reference does not have, so SNR says little about these two.")
    return bullets
