"""The seminar report's claims checked on the like-for-like replication, and the chapter's tables of the two.

- :func:`report_claims` -- each of the report's claims: its table's numbers, ours (:func:`percloss.experiments.
  seminar.replicate`), and a verdict;
- :func:`side_by_side`, :func:`correlation_side`, :func:`trend_table` -- the chapter's tables of the two.

Notebook: ``notebooks/ch03_quality_metrics.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .claims import Claim
from .seminar import (
    KEYS,
    REPORT_DEGRADATIONS,
    REPORT_TRENDS,
    bitrate_tracking,
    compression_trends,
    correlations,
    keeps_most,
    lowest_at_extreme_compression,
    music_keeps_more,
    ordering_support,
    report_correlations,
    report_frame,
    strong_kind_correlations,
    trends,
)

__all__ = ["SCORE_NAMES", "embedding_weights", "side_labels", "side_by_side", "correlation_side", "trend_table",
           "trend_mismatches", "CONTROL", "report_claims"]


#: The report's four scores as the chapter prints them.
SCORE_NAMES: dict[str, str] = {"openl3": "OpenL3 cos", "vggish": "VGGish cos", "pesq": "PESQ", "stoi": "STOI (ESTOI)"}


def embedding_weights(ours: pd.DataFrame) -> dict[str, str]:
    """The weights :func:`replicate` ran each embedding with: ``{"openl3": "pretrained", "vggish": ...}``
    (``"pretrained"``, ``"random-feature control"`` or ``"not computed"``)."""
    return {m: str(ours[f"{m}_weights"].iloc[0]) for m in ("openl3", "vggish")}


def side_labels(weights: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Each of :data:`SCORE_NAMES`' columns -> the labels of the report's values and ours: the embeddings'
    say which weights (the report's are pretrained; ours, ``weights``: :func:`embedding_weights`)."""
    return {col: ("report (pretrained)", f"ours ({weights[col]})") if col in weights else ("report", "ours")
            for col in SCORE_NAMES}


def side_by_side(ours: pd.DataFrame) -> pd.DataFrame:
    """The report's 18 rows and :func:`replicate`'s, score by score (columns ``(score, "report ...")`` and
    ``(score, "ours ...")``, :func:`side_labels`), then the scores the report did not compute (ViSQOL, NMR,
    CDPAM); indexed by ``kind, degradation, level``.

    Raises:
        ValueError: where ``ours`` does not hold the report's rows in its order.
    """
    report = report_frame()
    if not (ours[KEYS].to_numpy() == report[KEYS].to_numpy()).all():
        raise ValueError("ours must hold the report's 18 rows in its order (replicate's)")
    labels = side_labels(embedding_weights(ours))
    side = {}
    for col, name in SCORE_NAMES.items():
        rep_label, our_label = labels[col]
        side[(name, rep_label)] = report[col].to_numpy()
        side[(name, our_label)] = ours[col].to_numpy()
    for col, name in {"visqol": "ViSQOL", "nmr_db": "NMR (dB)", "cdpam": "CDPAM distance"}.items():
        side[("ours only", name)] = ours[col].to_numpy()
    return pd.DataFrame(side, index=pd.MultiIndex.from_frame(report[KEYS]))


def correlation_side(corr: pd.DataFrame, weights: dict[str, str]) -> pd.DataFrame:
    """The report's four coefficients, printed and recomputed from its table, beside ours with intervals
    (``corr``: :func:`correlations` of our rows; ``weights``: :func:`embedding_weights`), one row per pair."""
    return pd.DataFrame([{
        "pair": f"{'OpenL3' if r.x == 'openl3' else 'VGGish'} cos vs {'PESQ' if r.y == 'pesq' else 'STOI'}",
        "report, printed (pretrained)": f"{r.report:.3f}",
        "report, recomputed from its table": f"{r.report_recomputed:.3f}",
        "ours: embedding weights": weights[str(r.x)],
        "ours, Pearson [95 % CI]": f"{r.pearson:.3f} [{r.pearson_lo:.2f}, {r.pearson_hi:.2f}]",
        "ours, Spearman [95 % CI]": f"{r.spearman:.3f} [{r.spearman_lo:.2f}, {r.spearman_hi:.2f}]",
    } for r in corr.itertuples()]).set_index("pair")


def trend_table(ours: pd.DataFrame) -> pd.DataFrame:
    """The report's trends table (:data:`REPORT_TRENDS`) beside both readings of it (:func:`trends`,
    :func:`compression_trends`) on the report's table and on ours, one row per (metric, kind)."""
    report = report_frame()
    rep_trends, ours_trends = (trends(d).set_index(["metric", "kind"]) for d in (report, ours))
    rep_compression, ours_compression = (compression_trends(d).set_index(["metric", "kind"]) for d in (report, ours))
    weights = embedding_weights(ours)
    rows = []
    for (metric, kind), (high, low) in REPORT_TRENDS.items():
        r, o = rep_trends.loc[(metric, kind)], ours_trends.loc[(metric, kind)]
        rc, oc = rep_compression.loc[(metric, kind)], ours_compression.loc[(metric, kind)]
        rows.append({"metric": SCORE_NAMES[metric], "kind": kind, "report, printed": f"{high:.2f} → {low:.2f}",
                     "report's table, highest → lowest": f"{r.highest:.2f} → {r.lowest:.2f}",
                     "report's table, Compression Low → Extreme": f"{rc.highest:.2f} → {rc.lowest:.2f}",
                     "ours, highest → lowest": f"{o.highest:.2f} → {o.lowest:.2f}",
                     "ours, Compression Low → Extreme": f"{oc.highest:.2f} → {oc.lowest:.2f}",
                     "ours: weights": weights.get(metric, "")})
    return pd.DataFrame(rows).set_index(["metric", "kind"])


def trend_mismatches(reading: pd.DataFrame) -> list[tuple[str, str]]:
    """The (metric, kind) rows of :data:`REPORT_TRENDS` whose printed range a reading (:func:`trends` or
    :func:`compression_trends`) misses at either end, rounded to two decimals like :func:`trend_matches`.

    >>> trend_mismatches(compression_trends(report_frame()))
    [('openl3', 'music'), ('vggish', 'speech')]
    """
    r = reading.set_index(["metric", "kind"])
    return [key for key, printed in REPORT_TRENDS.items()
            if (round(float(r.loc[key].highest), 2), round(float(r.loc[key].lowest), 2)) != printed]


#: The verdict of a claim about the pretrained embeddings where this build has only the random-feature control.
CONTROL = "not tested here (random-feature control)"
_FALLS = "per (kind, degradation) series, Low → Extreme; holds when no series rises"


def _rising(df: pd.DataFrame, col: str) -> list[str]:
    """The (kind, degradation) series in which ``col`` does not fall (or stay) from Low to Extreme."""
    bad = []
    for (kind, deg), g in df.groupby(["kind", "degradation"], sort=False):
        v = g[col].to_numpy()
        if np.any(np.diff(v) > 0):
            bad.append(f"{kind} {deg} ({' → '.join(f'{x:.4g}' for x in v)})")
    return bad


def _describe_falls(df: pd.DataFrame, cols: Sequence[str]) -> str:
    n = df.groupby(["kind", "degradation"]).ngroups
    parts = []
    for col in cols:
        bad = _rising(df, col)
        parts.append(f"{SCORE_NAMES[col]}: falls in {n - len(bad)} of {n} series"
                     + (f"; not in {', '.join(bad)}" if bad else ""))
    return "; ".join(parts)


def _holds(ok: bool) -> str:
    return "holds" if ok else "does not hold"


def _tested(ok: bool, testable: bool) -> str:
    return ("reproduced" if ok else "not reproduced") if testable else CONTROL


def _yes(ok: bool) -> str:
    return "yes" if ok else "no"


def report_claims(ours: pd.DataFrame, corr: pd.DataFrame | None = None) -> list[Claim]:
    """The report's claims, one by one: what its own table says, what ours (:func:`replicate`) says, the rule
    that decides, and the verdict (chapter 3's claims table).

    Each claim about the embeddings is *not tested here* unless both ran with pretrained weights
    (:func:`embedding_weights`): a random-feature control speaks to the architecture only. The rules:

    1. PESQ and STOI fall from Low to Extreme in every (kind, degradation) series;
    2. so do the OpenL3 and VGGish similarities;
    3. per kind, Compression Extreme gives every metric its lowest value (:func:`lowest_at_extreme_compression`);
    4. under Noise, OpenL3 and STOI (speech), OpenL3 and VGGish (music) keep more of their Low value at Extreme
       than every other metric (:func:`keeps_most`);
    5. music keeps more than speech under at least one degradation, for each embedding (:func:`music_keeps_more`);
    6. under Bitrate the embeddings move like PESQ and STOI (speech), PESQ (music) at both steps
       (:func:`bitrate_tracking`);
    7. the per-kind correlations OpenL3–STOI and VGGish–PESQ are all at least 0.7 (:func:`strong_kind_correlations`);
    8. music's mean STOI is lower than speech's;
    9. the printed coefficients follow from the printed table within 0.0015;
    10. every printed coefficient lies inside our 95 % interval (``corr``: :func:`correlations` of ``ours``,
        computed when not given);
    11. VGGish–PESQ strongest and VGGish–STOI weakest in at least 95 % of bootstrap resamples of our rows
        (:func:`ordering_support`; not reproduced at 5 % or less, mixed between);
    12. agreement with listeners: not tested here (no listener ratings).
    """
    report = report_frame()
    corr = correlations(ours) if corr is None else corr
    weights = embedding_weights(ours)
    pre = {m: w == "pretrained" for m, w in weights.items()}
    testable = all(pre.values())
    claims: list[Claim] = []
    # the classical measures fall with severity
    ok = not any(_rising(ours, c) for c in ("pesq", "stoi"))
    claims.append(Claim("PESQ and STOI decline with increasing degradation (Low → Extreme)",
                        "Results, 2. Visualizations (a); Comparative Analysis",
                        _describe_falls(report, ["pesq", "stoi"]), _FALLS, _describe_falls(ours, ["pesq", "stoi"]),
                        "reproduced" if ok else "not reproduced"))
    # the embedding similarities fall with severity
    emb_cols = ["openl3", "vggish"]
    ok = not any(_rising(ours, c) for c in emb_cols)
    claims.append(Claim("OpenL3 and VGGish similarities decrease as degradation increases",
                        "Comparative Analysis, speech and music observations", _describe_falls(report, emb_cols),
                        _FALLS, _describe_falls(ours, emb_cols) + f" [{', '.join(f'{m}: {w}' for m, w in weights.items())}]",
                        _tested(ok, testable)))
    # severe compression gives the lowest scores (speech; and music, in the report's music analysis)
    bits = REPORT_DEGRADATIONS["Compression"][1][-1]
    for kind, where in (("speech", "Comparative Analysis, 1. Speech, Analysis"),
                        ("music", "Comparative Analysis, 2. Music, Analysis")):
        rep = {c: lowest_at_extreme_compression(report, c, kind) for c in SCORE_NAMES}
        our = {c: lowest_at_extreme_compression(ours, c, kind) for c in SCORE_NAMES}
        tested = [c for c in SCORE_NAMES if c not in pre or pre[c]]
        held = [SCORE_NAMES[c] for c in tested if our[c][0]]
        failed = [SCORE_NAMES[c] for c in tested if not our[c][0]]
        verdict = (f"reproduced for {', '.join(held)}" if not failed else
                   f"not reproduced: holds for {', '.join(held) or 'none'}, not for {', '.join(failed)}")
        if len(tested) < len(SCORE_NAMES):
            verdict += "; not tested here for the embeddings (random-feature control)"
        claims.append(Claim(f"{kind.capitalize()}: severe ({bits:g}-bit) compression leads to the lowest scores "
                            "across all metrics", where,
                            "; ".join(f"{SCORE_NAMES[c]} {_yes(v[0])}: {v[1]}" for c, v in rep.items()),
                            f"each metric's value at Compression Extreme against its lowest {kind} value",
                            "; ".join(f"{SCORE_NAMES[c]} {_yes(v[0])}: {v[1]}" for c, v in our.items()), verdict))
    # under extreme noise some metrics keep more of their value than the others
    for kind, high, where in (("speech", ("openl3", "stoi"), "Comparative Analysis, 1. Speech, Analysis (Noise)"),
                              ("music", ("openl3", "vggish"), "Comparative Analysis, 2. Music, Analysis (Noise)")):
        (rep_ok, rep_kept), (our_ok, our_kept) = keeps_most(report, kind, high), keeps_most(ours, kind, high)
        claims.append(Claim(f"{kind.capitalize()}, noise: {' and '.join(SCORE_NAMES[c] for c in high)} remain "
                            "relatively high even at extreme noise", where,
                            "kept at Extreme (of Low): "
                            + ", ".join(f"{SCORE_NAMES[c]} {v:.1%}" for c, v in rep_kept.items())
                            + f" ({_holds(rep_ok)} in its table)",
                            "the fraction of its Low value each metric keeps at Noise Extreme; holds when both named "
                            "metrics keep more than every other (this book's reading of \"relatively\")",
                            ", ".join(f"{SCORE_NAMES[c]} {v:.1%}" for c, v in our_kept.items()),
                            _tested(our_ok, testable)))
    # the embeddings drop less for music, "sometimes"
    (rep_ok, rep_more), (our_ok, our_more) = music_keeps_more(report), music_keeps_more(ours)
    claims.append(Claim("OpenL3 and VGGish scores for music also decrease, though the drop is sometimes less "
                        "pronounced than for speech", "Comparative Analysis, 2. Music, Observations",
                        "; ".join(f"{SCORE_NAMES[e]}: music keeps more under {', '.join(d) or 'none'}"
                                  for e, d in rep_more.items()) + f" ({_holds(rep_ok)} in its table)",
                        "per degradation, the fraction of its Low value each embedding keeps at Extreme, music "
                        "against speech; holds when, for each embedding, music keeps more under at least one "
                        "degradation",
                        "; ".join(f"{SCORE_NAMES[e]}: music keeps more under {', '.join(d) or 'none'}"
                                  for e, d in our_more.items()), _tested(our_ok, testable)))
    # under bitrate reduction the embeddings track the classical measures
    for kind, refs, where in (("speech", ("pesq", "stoi"), "Comparative Analysis, 1. Speech, Analysis (Bitrate)"),
                              ("music", ("pesq",), "Comparative Analysis, 2. Music, Analysis (Bitrate)")):
        (rep_ok, rep_pairs), (our_ok, our_pairs) = (bitrate_tracking(report, kind, refs),
                                                    bitrate_tracking(ours, kind, refs))
        claims.append(Claim(f"{kind.capitalize()}, bitrate: OpenL3 and VGGish closely track "
                            f"{' and '.join(SCORE_NAMES[r] for r in refs)}", where,
                            ", ".join(f"{SCORE_NAMES[e]} with {SCORE_NAMES[r]} {_yes(v)}"
                                      for (e, r), v in rep_pairs.items()) + f" ({_holds(rep_ok)} in its table)",
                            "the Bitrate series Low → High → Extreme: each embedding moves the same way as each "
                            "named measure at both steps (this book's reading of \"closely tracking\": three points "
                            "allow no more)",
                            ", ".join(f"{SCORE_NAMES[e]} with {SCORE_NAMES[r]} {_yes(v)}"
                                      for (e, r), v in our_pairs.items()), _tested(our_ok, testable)))
    # the heatmaps: strong per-kind correlations
    (rep_ok, rep_r), (our_ok, our_r) = strong_kind_correlations(report), strong_kind_correlations(ours)
    claims.append(Claim("Strong correlations in the per-kind heatmaps, e.g. OpenL3 with STOI and VGGish with PESQ",
                        "Results, 2. Visualizations (c)",
                        ", ".join(f"{SCORE_NAMES[x]}–{SCORE_NAMES[y]} {k} {v:.2f}" for (x, y, k), v in rep_r.items())
                        + f" ({_holds(rep_ok)} in its table)",
                        "Pearson r over each kind's nine rows; holds when all four are at least 0.7 (the usual "
                        "lower bound of a strong correlation)",
                        ", ".join(f"{SCORE_NAMES[x]}–{SCORE_NAMES[y]} {k} {v:.2f}" for (x, y, k), v in our_r.items()),
                        _tested(our_ok, testable)))
    # STOI lower for music
    rep_m, our_m = report.groupby("kind").stoi.mean(), ours.groupby("kind").stoi.mean()
    claims.append(Claim("STOI values for music are generally lower than for speech",
                        "Comparative Analysis, 2. Music, Perceptual Metrics",
                        f"mean STOI speech {rep_m['speech']:.3f}, music {rep_m['music']:.3f}",
                        "mean STOI over all pairs; holds when music's is lower",
                        f"mean STOI speech {our_m['speech']:.3f}, music {our_m['music']:.3f}",
                        "reproduced" if our_m["music"] < our_m["speech"] else "not reproduced"))
    # the printed coefficients follow from the printed table
    gap = max(abs(r.report - r.report_recomputed) for r in corr.itertuples())
    printed = ", ".join(f"{r.report:.3f}" for r in corr.itertuples())
    claims.append(Claim(f"Pearson coefficients {printed} (OpenL3–PESQ, OpenL3–STOI, VGGish–PESQ, VGGish–STOI), "
                        "computed from its table", "Conclusion; correlation table", printed,
                        "the coefficients recomputed from the report's printed table; holds within 0.0015 (rounding)",
                        "recomputed: " + ", ".join(f"{r.report_recomputed:.3f}" for r in corr.itertuples())
                        + f" (largest difference {gap:.4f})",
                        "reproduced (arithmetic)" if gap < 0.0015 else "not reproduced"))
    # the same coefficients on new clips
    control = "" if testable else "random-feature control, not VGGish/OpenL3: "
    inside = [bool(r.pearson_lo <= r.report <= r.pearson_hi) for r in corr.itertuples()]
    ours_txt = control + ", ".join(f"{r.pearson:.3f} [{r.pearson_lo:.2f}, {r.pearson_hi:.2f}]"
                                   for r in corr.itertuples())
    verdict = CONTROL if not testable else "reproduced" if all(inside) else (
        f"not reproduced: the report's value lies outside our interval for {len(inside) - sum(inside)} "
        f"of {len(inside)} pairs")
    claims.append(Claim("Strong correlation between the neural similarities and PESQ/STOI (the four coefficients)",
                        "Comparative Insights, Correlation; Conclusion", printed,
                        "Pearson r on this build's table with 95 % intervals; holds when every reported value lies "
                        "inside our interval", ours_txt, verdict))
    # the ordering the conclusion names
    strongest, weakest = ("vggish", "pesq"), ("vggish", "stoi")
    support = ordering_support(ours, strongest, weakest)
    rep_r2 = report_correlations()
    rep_order = max(rep_r2, key=rep_r2.__getitem__) == strongest and min(rep_r2, key=rep_r2.__getitem__) == weakest
    claims.append(Claim("VGGish–PESQ is the strongest of the four correlations and VGGish–STOI the weakest",
                        "Conclusion; correlation table", f"its printed coefficients put them so: {_yes(rep_order)}",
                        "the share of 2000 bootstrap resamples of the 18 rows in which the order holds; reproduced "
                        "at 95 % or more, not reproduced at 5 % or less, mixed between",
                        control + f"the order holds in {support:.1%} of resamples",
                        CONTROL if not testable else "reproduced" if support >= 0.95
                        else "not reproduced" if support <= 0.05 else "mixed"))
    # what needs listeners
    claims.append(Claim("Neural metrics perform comparably to PESQ and STOI, discriminate better for music and "
                        "generalise to non-speech audio", "Comparative Insights, Benchmarking and Generalization",
                        "no listener ratings in the report", "agreement with listener ratings",
                        "no listener ratings here", "not tested here (needs subjective scores)"))
    return claims
