"""The TU Ilmenau seminar report's study, like for like (chapter 3).

S. Ghosh, "Implementation of a Neural Network-Based Perceptual Loss for Audio",
seminar project report, TU Ilmenau (``book/references.bib``: ``ilmenau_embeddings``).
The report degrades "a collection of speech and music audio files" (its results
table holds one speech and one music file: this book reads it as one of each,
16 kHz mono) by Gaussian noise, "bitrate" reduction (resample down and back up) and bit-depth
"compression", each at three levels, and scores every (clean, degraded) pair
with the cosine similarity of OpenL3 and VGGish embeddings, wide-band PESQ
and STOI; it publishes the 18 rows and four Pearson coefficients.

- :data:`REPORT_TABLE` -- the report's 18 rows, transcribed;
- :func:`report_correlations` -- its four Pearson coefficients recomputed from them;
- :func:`replicate` -- our 18 rows on the same design (our clips, our metrics);
- :func:`correlations` -- the same four coefficients on our rows, with bootstrap intervals;

The report's claims, one by one, and the chapter's tables of the two are in
:mod:`percloss.experiments.seminar_claims`.

Notebook: ``notebooks/ch03_quality_metrics.py``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch

from .. import data
from ..degrade import degrade
from ..embeddings import Embedding, embedding_similarity, load_embedding
from . import quality_study as qs
from .quality_study import RATE, clean_excerpt, pearson, weights_label

__all__ = [
    "RATE",
    "LEVELS",
    "REPORT_DEGRADATIONS",
    "ReportRow",
    "REPORT_TABLE",
    "PAIRS",
    "REPORT_PUBLISHED_CORRELATIONS",
    "report_frame",
    "REPORT_TRENDS",
    "trends",
    "compression_trends",
    "trend_matches",
    "lowest_at_extreme_compression",
    "retained",
    "steps_agree",
    "kind_correlation",
    "ordering_support",
    "keeps_most",
    "music_keeps_more",
    "bitrate_tracking",
    "strong_kind_correlations",
    "report_correlations",
    "replicate_clips",
    "replicate",
    "correlations",
]

#: The report's level names, mildest first.
LEVELS: tuple[str, ...] = ("Low", "High", "Extreme")
#: The report's degradation names -> (``percloss.degrade`` kind, its three settings: Low, High, Extreme).
#: Settings from the report's table in Methodology 3 ("Quality / Noise / Bitrate / Compression").
REPORT_DEGRADATIONS: dict[str, tuple[str, tuple[float, float, float]]] = {
    "Noise": ("noise", (0.002, 0.01, 0.02)),  # standard deviation of the added Gaussian noise
    "Bitrate": ("bitrate", (2, 4, 6)),  # resampling factor, down and back up
    "Compression": ("bitdepth", (12, 8, 4)),  # bits of the uniform quantiser
}


class ReportRow(NamedTuple):
    """One row of the report's results table. ``stoi`` is what the report calls STOI;
    its code computes it with ``pystoi.stoi(..., extended=True)``, i.e. ESTOI."""

    kind: str
    degradation: str
    level: str
    openl3: float
    vggish: float
    pesq: float
    stoi: float


#: The report's results table, all 18 rows in its order, its values as printed (Results,
#: "1. Quantitative Results", columns "File & Degradation | OpenL3 | VGGish | PESQ | STOI";
#: OpenL3 and VGGish are cosine similarities of clean and degraded embeddings).
REPORT_TABLE: tuple[ReportRow, ...] = (
    ReportRow("speech", "Noise", "Low", 0.9919, 0.9073, 2.47, 0.999),
    ReportRow("speech", "Noise", "High", 0.9846, 0.8818, 1.20, 0.988),
    ReportRow("speech", "Noise", "Extreme", 0.9782, 0.8593, 1.07, 0.963),
    ReportRow("speech", "Bitrate", "Low", 0.9915, 0.9585, 3.66, 0.995),
    ReportRow("speech", "Bitrate", "High", 0.9831, 0.9296, 2.74, 0.905),
    ReportRow("speech", "Bitrate", "Extreme", 0.9784, 0.9118, 2.09, 0.840),
    ReportRow("speech", "Compression", "Low", 0.9858, 0.9516, 4.07, 1.000),
    ReportRow("speech", "Compression", "High", 0.9886, 0.9463, 2.52, 0.999),
    ReportRow("speech", "Compression", "Extreme", 0.9420, 0.8071, 1.04, 0.861),
    ReportRow("music", "Noise", "Low", 0.9904, 0.9612, 3.30, 0.951),
    ReportRow("music", "Noise", "High", 0.9847, 0.9425, 1.75, 0.912),
    ReportRow("music", "Noise", "Extreme", 0.9816, 0.9319, 1.35, 0.883),
    ReportRow("music", "Bitrate", "Low", 0.9899, 0.9504, 3.30, 0.998),
    ReportRow("music", "Bitrate", "High", 0.9810, 0.9402, 2.28, 0.886),
    ReportRow("music", "Bitrate", "Extreme", 0.9763, 0.9393, 1.75, 0.810),
    ReportRow("music", "Compression", "Low", 0.9832, 0.9563, 3.94, 0.993),
    ReportRow("music", "Compression", "High", 0.9893, 0.9644, 3.21, 0.947),
    ReportRow("music", "Compression", "Extreme", 0.9470, 0.8965, 1.31, 0.816),
)

#: The four (embedding, metric) pairs of the report's correlation table, in its order.
PAIRS: tuple[tuple[str, str], ...] = (("openl3", "pesq"), ("openl3", "stoi"), ("vggish", "pesq"), ("vggish", "stoi"))

#: The coefficients as the report prints them (Conclusion, "Metric Pair | Correlation Coefficient"),
#: keyed by this module's column names (the report's STOI is ESTOI, the study's ``estoi``). Recomputed from
#: REPORT_TABLE the VGGish ones come out 0.745 and 0.299: the printed table is rounded.
REPORT_PUBLISHED_CORRELATIONS: dict[tuple[str, str], float] = {
    (emb, other): qs.REPORT_CORRELATIONS[(emb, "estoi" if other == "stoi" else other)] for emb, other in PAIRS
}

KEYS = ["kind", "degradation", "level"]
SCORES = ["openl3", "vggish", "pesq", "stoi"]


def report_frame() -> pd.DataFrame:
    """:data:`REPORT_TABLE` as a DataFrame (columns ``kind, degradation, level, openl3, vggish,
    pesq, stoi``, plus ``setting``: the level's numeric parameter)."""
    df = pd.DataFrame(REPORT_TABLE, columns=list(ReportRow._fields))
    df["setting"] = [REPORT_DEGRADATIONS[d][1][LEVELS.index(lv)] for d, lv in zip(df.degradation, df.level,
                                                                                  strict=True)]
    return df


#: The report's "Summary Table: Metric Trends": (metric, kind) -> its printed range "Low → Extreme".
REPORT_TRENDS: dict[tuple[str, str], tuple[float, float]] = {
    ("openl3", "speech"): (0.99, 0.94), ("openl3", "music"): (0.99, 0.95),
    ("vggish", "speech"): (0.91, 0.81), ("vggish", "music"): (0.96, 0.90),
    ("pesq", "speech"): (4.07, 1.04), ("pesq", "music"): (3.94, 1.31),
    ("stoi", "speech"): (1.00, 0.86), ("stoi", "music"): (0.99, 0.82),
}


def trends(df: pd.DataFrame, metrics: Sequence[str] = ("openl3", "vggish", "pesq", "stoi")) -> pd.DataFrame:
    """Each metric's range per kind, highest → lowest over the kind's rows (how the report's trends
    table reads: 12 of its 16 printed numbers are the highest and lowest of its 9 rows per kind,
    rounded to two decimals).

    Returns columns ``metric, kind, highest, lowest``.
    """
    out = [{"metric": m, "kind": kind, "highest": float(g[m].max()), "lowest": float(g[m].min())}
           for m in metrics for kind, g in df.groupby("kind", sort=False)]
    return pd.DataFrame(out)


def compression_trends(df: pd.DataFrame, metrics: Sequence[str] = ("openl3", "vggish", "pesq", "stoi")
                       ) -> pd.DataFrame:
    """The other reading of the report's trends table: each metric's value at Compression Low → Compression
    Extreme per kind (14 of its 16 printed numbers, against 12 for :func:`trends`' highest → lowest).

    Returns columns ``metric, kind, highest, lowest`` (the Low and the Extreme value), like :func:`trends`.
    """
    out = []
    for m in metrics:
        for kind, g in df[df.degradation == "Compression"].groupby("kind", sort=False):
            out.append({"metric": m, "kind": kind, "highest": float(g[g.level == LEVELS[0]][m].iloc[0]),
                        "lowest": float(g[g.level == LEVELS[-1]][m].iloc[0])})
    return pd.DataFrame(out)


def trend_matches(reading: pd.DataFrame) -> int:
    """How many of the report's 16 printed trend numbers (:data:`REPORT_TRENDS`) a reading (:func:`trends` or
    :func:`compression_trends` of :func:`report_frame`) gives when rounded to two decimals.

    >>> trend_matches(trends(report_frame())), trend_matches(compression_trends(report_frame()))
    (12, 14)
    """
    r = reading.set_index(["metric", "kind"])
    return sum(int(round(float(r.loc[key].highest), 2) == high) + int(round(float(r.loc[key].lowest), 2) == low)
               for key, (high, low) in REPORT_TRENDS.items())


def lowest_at_extreme_compression(df: pd.DataFrame, col: str, kind: str) -> tuple[bool, str]:
    """Whether ``col``'s value at Compression Extreme is the lowest of ``kind``'s rows, and the text that shows
    it ("0.94 (lowest: 0.94, Compression Extreme)")."""
    sub = df[df.kind == kind].reset_index(drop=True)
    target = float(sub[(sub.degradation == "Compression") & (sub.level == LEVELS[-1])][col].iloc[0])
    low = sub.loc[sub[col].idxmin()]
    return bool(target <= sub[col].min()), f"{target:.4g} (lowest: {low[col]:.4g}, {low.degradation} {low.level})"


def retained(df: pd.DataFrame, col: str, kind: str, degradation: str) -> float:
    """The fraction of its Low value ``col`` keeps at Extreme in one (kind, degradation) series."""
    g = df[(df.kind == kind) & (df.degradation == degradation)].set_index("level")[col]
    return float(g[LEVELS[-1]] / g[LEVELS[0]])


def steps_agree(df: pd.DataFrame, col: str, reference: str, kind: str, degradation: str) -> bool:
    """Whether ``col`` moves the same way as ``reference`` at each step Low → High → Extreme of one series."""
    g = df[(df.kind == kind) & (df.degradation == degradation)].set_index("level").loc[list(LEVELS)]
    a, b = np.sign(np.diff(g[col].to_numpy(float))), np.sign(np.diff(g[reference].to_numpy(float)))
    return bool(np.array_equal(a, b))


def kind_correlation(df: pd.DataFrame, x: str, y: str, kind: str) -> float:
    """Pearson r of ``x`` and ``y`` over ``kind``'s rows (the report's per-kind heatmaps)."""
    sub = df[df.kind == kind]
    return float(pearson(sub[x].to_numpy(float), sub[y].to_numpy(float)))


def ordering_support(df: pd.DataFrame, strongest: tuple[str, str], weakest: tuple[str, str],
                     n_boot: int = 2000, seed: int = 0) -> float:
    """The fraction of bootstrap resamples of ``df``'s rows in which the Pearson r of ``strongest`` is the
    largest of :data:`PAIRS` and that of ``weakest`` the smallest (the report's "VGGish–PESQ strongest,
    VGGish–STOI weakest"); resamples where a coefficient is undefined count as not supporting it."""
    rng = np.random.default_rng(seed)
    values = {c: df[c].to_numpy(float) for c in {c for pair in PAIRS for c in pair}}
    n, hits = len(df), 0
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = {p: float(pearson(values[p[0]][idx], values[p[1]][idx])) for p in PAIRS}
        if any(not math.isfinite(v) for v in r.values()):
            continue
        hits += int(max(r, key=lambda p: r[p]) == strongest and min(r, key=lambda p: r[p]) == weakest)
    return hits / n_boot


def keeps_most(df: pd.DataFrame, kind: str, named: Sequence[str], degradation: str = "Noise"
               ) -> tuple[bool, dict[str, float]]:
    """Whether every metric in ``named`` keeps more of its Low value at Extreme (:func:`retained`) than every
    other of :data:`SCORES` in one series ("OpenL3 and STOI remaining relatively high even at extreme noise"),
    and each metric's kept fraction."""
    kept = {c: retained(df, c, kind, degradation) for c in SCORES}
    rest = [c for c in SCORES if c not in named]
    return min(kept[c] for c in named) > max(kept[c] for c in rest), kept


def music_keeps_more(df: pd.DataFrame, embeddings: Sequence[str] = ("openl3", "vggish")
                     ) -> tuple[bool, dict[str, list[str]]]:
    """Whether, for each embedding, music keeps more of its Low value at Extreme than speech under at least one
    degradation ("the drop is sometimes less pronounced than for speech"), and those degradations."""
    more = {e: [d for d in REPORT_DEGRADATIONS if retained(df, e, "music", d) > retained(df, e, "speech", d)]
            for e in embeddings}
    return all(more.values()), more


def bitrate_tracking(df: pd.DataFrame, kind: str, references: Sequence[str],
                     embeddings: Sequence[str] = ("openl3", "vggish")) -> tuple[bool, dict[tuple[str, str], bool]]:
    """Whether each embedding moves the same way as each reference measure at both steps of ``kind``'s Bitrate
    series (:func:`steps_agree`), and each pair's answer."""
    pairs = {(e, r): steps_agree(df, e, r, kind, "Bitrate") for e in embeddings for r in references}
    return all(pairs.values()), pairs


def strong_kind_correlations(df: pd.DataFrame, pairs: Sequence[tuple[str, str]] = (("openl3", "stoi"),
                                                                                  ("vggish", "pesq")),
                             strong: float = 0.7) -> tuple[bool, dict[tuple[str, str, str], float]]:
    """Whether every pair's per-kind Pearson r (:func:`kind_correlation`, speech and music) is at least
    ``strong`` (the report's heatmaps: "strong correlations are observed, e.g. OpenL3 similarity with STOI, and
    VGGish similarity with PESQ"), and the coefficients."""
    r = {(x, y, k): kind_correlation(df, x, y, k) for x, y in pairs for k in ("speech", "music")}
    return all(v >= strong for v in r.values()), r


def report_correlations() -> dict[tuple[str, str], float]:
    """The report's four Pearson coefficients recomputed from :data:`REPORT_TABLE` (all 18 rows,
    speech and music pooled), keyed like :data:`PAIRS`.

    >>> {k: round(v, 3) for k, v in report_correlations().items()}  # doctest: +NORMALIZE_WHITESPACE
    {('openl3', 'pesq'): 0.586, ('openl3', 'stoi'): 0.67, ('vggish', 'pesq'): 0.745, ('vggish', 'stoi'): 0.299}
    """
    df = report_frame()
    return {(x, y): float(pearson(df[x].to_numpy(float), df[y].to_numpy(float))) for x, y in PAIRS}


def replicate_clips() -> tuple[str, str]:
    """The clips :func:`replicate` uses: the first speech and the first music clip of :mod:`percloss.data`."""
    return data.list_clips("speech")[0], data.list_clips("music")[0]


def _estoi(clean: np.ndarray, degraded: np.ndarray, seed: int) -> float:
    """ESTOI with NumPy's global generator seeded for the call (and restored afterwards).

    pystoi's ESTOI adds noise of machine-epsilon size from ``np.random`` when it normalises
    rows and columns; where a band is exactly silent (4-bit quantisation zeroes the quiet
    parts) that noise moves the score in the third decimal from call to call.
    """
    from ..scorers import estoi

    state = np.random.get_state()  # noqa: NPY002 (pystoi draws from the legacy global generator)
    np.random.seed(seed)  # noqa: NPY002 (pystoi draws from the legacy global generator)
    try:
        return estoi(clean, degraded, RATE)
    finally:
        np.random.set_state(state)  # noqa: NPY002 (pystoi draws from the legacy global generator)


def _score(clean: np.ndarray, degraded: np.ndarray, is_speech: bool, extras: bool, seed: int) -> dict[str, float]:
    """PESQ (NaN where its voice-activity detector finds no utterance) and ESTOI (seeded, see
    :func:`_estoi`); with ``extras`` also SNR, NMR and ViSQOL, as :func:`quality_study.score_pair`
    computes them (less DNSMOS, which is no part of the report's design and the slowest of them)."""
    from ..metrics import nmr, snr
    from ..scorers import pesq_wb, visqol

    try:
        pesq = pesq_wb(clean, degraded)
    except ValueError:  # no utterance detected (music, heavy degradation)
        pesq = math.nan
    row = {"pesq": pesq, "stoi": _estoi(clean, degraded, seed)}
    if extras:
        c, d = torch.from_numpy(clean), torch.from_numpy(degraded)
        r = nmr(c, d, RATE)
        row.update({
            "snr_db": float(snr(c, d)),
            "nmr_db": float(r.mean_db),
            "nmr_audible": float(r.audible_fraction),
            "visqol": visqol(clean, degraded, RATE, mode="speech" if is_speech else "audio"),
        })
    return row


def replicate(
    seconds: float | None = 4.0,
    *,
    clips: Sequence[str] | None = None,
    embedders: Sequence[Embedding] | None = None,
    openl3_hop: float = 1.0,
    cdpam_seconds: float = 0.5,
    extras: bool = True,
    normalize_clean: bool = False,
    seed: int = 0,
) -> pd.DataFrame:
    """Our 18 rows on the report's design: 2 clips x 3 degradations x 3 levels, in its row order.

    Each clip (16 kHz mono; the first ``seconds`` s, ``None`` for the whole clip) is degraded by
    :func:`percloss.degrade.degrade` at the report's settings (noise sigma 0.002/0.01/0.02;
    resampling by 2/4/6 and back; 12/8/4 bits with the report's quantiser), and every degraded
    signal is peak-normalised afterwards, as the report's code does (``librosa.util.normalize``
    of the degraded signal). The clean file is used as loaded, as in the report's code; with
    ``normalize_clean`` (a variant, not the report's design) it is peak-normalised once before
    degrading, so that sigma is relative to full scale.

    Columns: the report's ``kind, degradation, level, openl3, vggish, pesq, stoi`` (``openl3``
    and ``vggish`` the framewise cosine similarity, ``stoi`` ESTOI as the report's code computes
    it) plus ``clip, setting, openl3_mean, vggish_mean`` (cosine of the time-averaged embeddings),
    ``openl3_weights, vggish_weights`` (``"pretrained"`` or ``"random-feature control"``), and
    with ``extras`` ``snr_db, nmr_db, nmr_audible, visqol`` (as :func:`quality_study.score_pair`
    computes them) and ``cdpam`` (distance on the middle ``cdpam_seconds`` of each pair, lower is
    better; NaN where the ``cdpam`` package is missing). ``df.attrs`` records clips, seconds,
    weights, the CDPAM note and timings.

    The defaults keep a run within about 2 minutes on 2 CPU cores: OpenL3 at the report's 0.1 s
    hop costs about 25 s per 4-s signal on one core, CDPAM about 2 s per second of audio.

    Args:
        seconds: excerpt length from the start of each clip. (Default: 4 s)
        clips: (speech, music) clip names. (Default: :func:`replicate_clips`)
        embedders: embedding models; ``None`` loads VGGish and OpenL3 (pretrained where the
            weights are installed, else the labelled random-feature control); ``[]`` skips them.
        openl3_hop: OpenL3 window hop in s (the report used openl3's default, 0.1 s). (Default: 1 s)
        cdpam_seconds: CDPAM on the middle ``cdpam_seconds`` of each pair; 0 skips it. (Default: 0.5 s)
        extras: also score SNR, NMR, ViSQOL and CDPAM. (Default: True)
        normalize_clean: peak-normalise the clean excerpt first (a variant). (Default: False, as the report)
        seed: noise seed, seed of NumPy's generator around each ESTOI call (pystoi draws from it),
            and seed of a random-feature control.
    """
    t0 = time.perf_counter()
    names = tuple(clips) if clips is not None else replicate_clips()
    if len(names) != 2 or [data.clip_info(n)["kind"] for n in names] != ["speech", "music"]:
        raise ValueError(f"clips must be one speech and one music clip, in that order, got {names!r}")
    if embedders is None:
        embedders = [load_embedding("openl3", seed=seed, hop_seconds=openl3_hop), load_embedding("vggish", seed=seed)]
    timings = {"metrics": 0.0, "embeddings": 0.0, "cdpam": 0.0}
    rows: list[dict[str, Any]] = []
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    for name in names:
        kind = data.clip_info(name)["kind"]
        clean = clean_excerpt(name, seconds, from_offset=False, normalize=normalize_clean)
        t = time.perf_counter()
        reference = {e.name: e.embed(torch.from_numpy(clean), RATE) for e in embedders}
        timings["embeddings"] += time.perf_counter() - t
        for degradation, (ours, settings) in REPORT_DEGRADATIONS.items():
            for level, setting in zip(LEVELS, settings, strict=True):
                degraded = degrade(clean, ours, setting, RATE, seed=seed)
                pairs.append((clean, degraded))
                row: dict[str, Any] = {"kind": kind, "degradation": degradation, "level": level, "clip": name,
                                       "setting": setting}
                t = time.perf_counter()
                row.update(_score(clean, degraded, kind == "speech", extras, seed))
                timings["metrics"] += time.perf_counter() - t
                t = time.perf_counter()
                for e in embedders:
                    sims = embedding_similarity(reference[e.name], e.embed(torch.from_numpy(degraded), RATE))
                    row[e.name], row[f"{e.name}_mean"] = sims["framewise"], sims["mean"]
                    row[f"{e.name}_weights"] = weights_label(e.pretrained)
                timings["embeddings"] += time.perf_counter() - t
                rows.append(row)
    t = time.perf_counter()
    if extras:
        cdpam, cdpam_note = qs.cdpam_scores(pairs, cdpam_seconds)
    else:
        cdpam, cdpam_note = [math.nan] * len(pairs), "not computed (extras=False)"
    timings["cdpam"] = time.perf_counter() - t
    df = pd.DataFrame(rows)
    df["cdpam"] = cdpam
    for model in ("openl3", "vggish"):
        if model not in df:
            df[model], df[f"{model}_mean"], df[f"{model}_weights"] = math.nan, math.nan, "not computed"
    first = KEYS + SCORES + ["clip", "setting"]
    df = df[first + [c for c in df.columns if c not in first]]
    timings["total"] = time.perf_counter() - t0
    df.attrs.update({
        "clips": names,
        "seconds": seconds,
        "openl3_hop": openl3_hop,
        "weights": {e.name: e.weights for e in embedders},
        "cdpam": cdpam_note,
        "normalize_clean": normalize_clean,
        "seed": seed,
        "timings_s": timings,
    })
    return df


def correlations(df: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """The report's four Pearson coefficients (:data:`PAIRS`) on ``df``, with percentile-bootstrap
    95 % intervals over rows (:func:`quality_study.correlations`, ``n_boot`` resamples, fixed ``seed``).

    Columns: ``x, y, n, pearson, pearson_lo, pearson_hi, spearman, spearman_lo, spearman_hi,
    report`` (the published value) and ``report_recomputed`` (from :data:`REPORT_TABLE`).
    """
    recomputed = report_correlations()
    out = []
    for x, y in PAIRS:
        r = qs.correlations(df, x, y, n_boot=n_boot, seed=seed)
        out.append({"x": x, "y": y, **r, "report": REPORT_PUBLISHED_CORRELATIONS[(x, y)],
                    "report_recomputed": recomputed[(x, y)]})
    return pd.DataFrame(out)
