"""Chapter 4's claims: the work's claims as this book reads them, the paired comparisons that test them, and the
verdicts of the two-song evaluation (:func:`codec_claims`). The held-out set's table under the book's one rule:
:func:`percloss.experiments.heldout_eval.heldout_claims`.

- :class:`ClaimSpec` and :data:`CLAIMS`: each claim with the page's sentence it tests (:data:`PAGE_SENTENCES`);
- :func:`claim_pair` / :func:`resolve_system`: a page name (``"C96"``, ``"MP3 112 @44k"``) as a system at one
  sample rate;
- :func:`paired_difference` and :func:`interpolated_difference`: ``a − b`` per evaluation item with its
  bootstrap interval, an anchor read at the model's own rate where the rates differ.

Notebook: ``notebooks/ch04_codec.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._checks import check_choice
from ..anchors import ANCHORS
from ..codec_runs import RunPoint
from .claims import Claim, comparison_verdict
from .codec_study import (
    RATE_TOLERANCE,
    SEGMENT,
    WORK_POINTS,
    CodecStudyConfig,
    quick_reason,
    why_absent,
)
from .stats import bootstrap_mean

__all__ = ["PairedDifference", "LOWER_IS_BETTER", "paired_difference", "System", "resolve_system", "claim_pair",
           "rate_gap", "interpolated_difference", "PAGE_SENTENCES", "CLAIM_SOURCE", "ClaimSpec", "CLAIMS",
           "COMPARISONS", "LISTENING_SYSTEMS", "CLAIM_MEASURES", "listening_absent", "claim_rule", "mean_rate",
           "codec_claims", "held_out_differences"]


@dataclass(frozen=True)
class PairedDifference:
    """``a − b`` on one measure over the items both systems coded: mean with its bootstrap 95 % interval,
    and on how many items ``a`` is better."""

    a: str
    b: str
    measure: str
    items: int
    mean: float
    low: float
    high: float
    a_better: int
    lower_is_better: bool

    @property
    def verdict(self) -> str:
        """``"a"`` or ``"b"`` where the interval excludes 0 (the better system), else ``"tie"``."""
        if self.low > 0 or self.high < 0:
            return "a" if (self.high < 0) == self.lower_is_better else "b"
        return "tie"


LOWER_IS_BETTER = {"nmr_db": True, "audible_fraction": True, "lsd_db": True, "visqol": False, "snr_db": False,
                   "cdpam": True}


def _check_one_rate(rows: list[dict[str, Any]], a: str, b: str) -> None:
    """``ValueError`` when the rows of ``a`` and of ``b`` (``point`` keys) carry different sample rates."""
    rates = [{r["sample_rate"] for r in rows if r["point"] == key and "sample_rate" in r} for key in (a, b)]
    if rates[0] and rates[1] and rates[0] != rates[1]:
        raise ValueError(f"{a} ({', '.join(map(str, sorted(rates[0])))} Hz) and {b} "
                         f"({', '.join(map(str, sorted(rates[1])))} Hz) are at different sample rates: "
                         "only systems at one sample rate are compared")


def paired_difference(rows: list[dict[str, Any]], a: str, b: str, measure: str, split: str | None = None,
                      seed: int = 0) -> PairedDifference:
    """Paired ``a − b`` of ``measure`` between two row keys (``point`` column, e.g. ``"C64_32k_1m"``,
    ``"MP3 64_32k"``) over the items both have, optionally only those of ``split``.

    Only systems at one sample rate are paired: rows that carry ``sample_rate`` must agree on it.

    Raises:
        ValueError: for an unknown measure, for systems at different sample rates, or when the two
            systems share no item.
    """
    measure = check_choice(measure, "measure", tuple(LOWER_IS_BETTER))
    pick = [r for r in rows if split is None or r["split"] == split]
    _check_one_rate(pick, a, b)
    va = {r["item"]: r[measure] for r in pick if r["point"] == a and measure in r}
    vb = {r["item"]: r[measure] for r in pick if r["point"] == b and measure in r}
    common = sorted(set(va) & set(vb))
    if not common:
        raise ValueError(f"{a} and {b} share no evaluation item{'' if split is None else ' in ' + split}")
    diff = np.array([va[i] - vb[i] for i in common])
    mean, low, high = bootstrap_mean(diff, seed=seed)
    lower = LOWER_IS_BETTER[measure]
    better = int((diff < 0).sum() if lower else (diff > 0).sum())
    return PairedDifference(a, b, measure, len(common), mean, low, high, better, lower)


# --- The chapter's claims: which systems a build has, how they pair, what decides ---------------------------

@dataclass(frozen=True)
class System:
    """A system of the chapter by its page name: a point of the work (``"C96"``) or an anchor at one sample
    rate (``"MP3 112 @44k"``)."""

    name: str
    key: str  # the rows' ``point``
    sample_rate: int
    kbps: float  # the nominal rate
    anchor: str | None = None  # "MP3" or "Opus" for an anchor


def resolve_system(name: str, points: tuple[RunPoint, ...] = WORK_POINTS) -> System:
    """The :class:`System` named ``name`` among ``points`` (the first point of that name), or an anchor
    ``"<MP3|Opus> <kbit/s> @<kHz>k"`` at one of their sample rates (``@32k``: 32000, ``@44k``: 44100).

    Raises:
        KeyError: no such point, or an anchor at a rate none of ``points`` has.
    """
    if " @" in name:
        head, tag = name.split(" @", 1)
        anchor, _, kbps = head.partition(" ")
        rates = {f"{p.sample_rate // 1000}k": p.sample_rate for p in points}
        if anchor not in ANCHORS or tag not in rates or not kbps:
            raise KeyError(f"{name!r}: not an anchor at a sample rate of these points ({sorted(rates)})")
        return System(name, f"{anchor}{float(kbps):g}_{tag}", rates[tag], float(kbps), anchor)
    for p in points:
        if p.name == name:
            return System(name, p.key, p.sample_rate, p.kbps)
    raise KeyError(f"{name!r}: not among the points {[p.name for p in points]}")


def claim_pair(a: str, b: str, points: tuple[RunPoint, ...] = WORK_POINTS) -> tuple[System, System]:
    """Systems ``a`` and ``b`` (:func:`resolve_system`) for a paired comparison, refused unless they share a
    sample rate.

    Raises:
        KeyError: a name that does not resolve.
        ValueError: the two systems are at different sample rates.
    """
    sa, sb = resolve_system(a, points), resolve_system(b, points)
    if sa.sample_rate != sb.sample_rate:
        raise ValueError(f"{a} ({sa.sample_rate} Hz) and {b} ({sb.sample_rate} Hz) are at different sample "
                         "rates: only systems at one sample rate are compared")
    return sa, sb


def rate_gap(rate_a: float, rate_b: float, nominal_a: float, nominal_b: float) -> float:
    """How far ``b``'s file rate is from where a claim sets it relative to ``a``'s file rate, as a fraction of
    ``b``'s: ``|rate_a · nominal_b / nominal_a − rate_b| / rate_b`` (equal nominal rates: ``|rate_a − rate_b|
    / rate_b``)."""
    return abs(rate_a * nominal_b / nominal_a - rate_b) / rate_b


def _interpolate(ladder: list[tuple[float, float | None]], x: float) -> float | None:
    """Value at ``x`` of a ladder (rate, value) sorted by rate, linear between the two neighbouring rates;
    ``None`` outside it or when a neighbour has no value."""
    if len(ladder) == 1 and ladder[0][0] == x:
        return ladder[0][1]
    for (k0, v0), (k1, v1) in zip(ladder, ladder[1:], strict=False):
        if k0 <= x <= k1:
            if v0 is None or v1 is None:
                return None
            return v0 if k1 == k0 else v0 + (v1 - v0) * (x - k0) / (k1 - k0)
    return None


def interpolated_difference(rows: list[dict[str, Any]], a: str, anchor: str, measure: str,
                            split: str | None = None, scale: float = 1.0, seed: int = 0) -> PairedDifference:
    """Paired ``a`` − ``anchor`` interpolated at ``a``'s own rate, item by item.

    On each item of ``a`` (row key, e.g. ``"D64_32k_1m"``; only ``split``'s items), the anchor's ``measure`` is
    interpolated at ``scale`` × ``a``'s file kbit/s on that item, linearly in file kbit/s between the two
    neighbouring rates of the anchor's ladder on that item (the rows of system ``anchor`` at ``a``'s sample
    rate). Items where that rate lies outside the ladder, or where a neighbour lacks ``measure``, are left out.
    ``scale`` is the ratio of the rates a claim sets (``112 / 96`` for "D96 as good as MP3 112"); 1 compares
    at ``a``'s own rate. The result's ``b`` reads ``"<anchor> at <a>'s rate"``.

    Raises:
        ValueError: unknown measure or anchor, ``a`` at several sample rates, or no item left.
    """
    measure = check_choice(measure, "measure", tuple(LOWER_IS_BETTER))
    anchor = check_choice(anchor, "anchor", ANCHORS)
    pick = [r for r in rows if split is None or r["split"] == split]
    own = [r for r in pick if r["point"] == a and measure in r]
    rates = {r["sample_rate"] for r in own}
    if len(rates) > 1:
        raise ValueError(f"{a} has rows at several sample rates {sorted(rates)}")
    ladders: dict[str, list[tuple[float, float | None]]] = {}
    for r in pick:
        if r["system"] == anchor and r["sample_rate"] in rates:
            ladders.setdefault(r["item"], []).append((float(r["kbps"]), r.get(measure)))
    diffs = []
    for r in sorted(own, key=lambda r: r["item"]):
        value = _interpolate(sorted(ladders.get(r["item"], []), key=lambda kv: kv[0]), scale * float(r["kbps"]))
        if value is not None:
            diffs.append(float(r[measure]) - float(value))
    if not diffs:
        raise ValueError(f"{a}: no item{'' if split is None else ' in ' + split} whose rate (× {scale:g}) lies "
                         f"inside {anchor}'s ladder with {measure} at both neighbours")
    diff = np.array(diffs)
    mean, low, high = bootstrap_mean(diff, seed=seed)
    lower = LOWER_IS_BETTER[measure]
    better = int((diff < 0).sum() if lower else (diff > 0).sum())
    return PairedDifference(a, f"{anchor} at {a}'s rate", measure, len(diff), mean, low, high, better, lower)


#: The sentences of the work's page (``zhen2020page``) that the claims rows test, verbatim.
PAGE_SENTENCES = {
    "conjecture": "Our conjecture is that the psychoacoustic calibration can improve the sound quality given the "
                  "same bitrate and network architecture.",
    "complementary": "The two proposed loss functions are complementary, as the first one does not explicitly "
                     "prevent an accidental reconstruction noise peak that can exceed the mask.",
    "subjective": "Our subjective tests verify that the proposed method improves the sound quality with reduced "
                  "model architectures and bitrates.",
    "compete": "Hence, our goal is to come up with a better loss function based on adequate psychoacoustics, "
               "which can make the neural audio coders compete with traditional coders.",
}
#: The page's subjective-test sentence, as the source of the rows that set a reduced architecture or rate
#: against a larger one (no scores on the page).
CLAIM_SOURCE = f"\"{PAGE_SENTENCES['subjective']}\" (no scores on its page)"
_CONJECTURE = f"its conjecture: \"{PAGE_SENTENCES['conjecture']}\""
_COMPLEMENTARY = (f"\"{PAGE_SENTENCES['complementary']}\" (that D, which adds the second, is at least as good as "
                  "C is this book's reading)")
_COMPETE = (f"its aim: \"{PAGE_SENTENCES['compete']}\"; its sample lists set MP3 beside the models. The page "
            "states no equality with MP3: the pairing is this book's reading")


@dataclass(frozen=True)
class ClaimSpec:
    """A claim of the work as this book reads it: ``a`` is ``kind`` ("better" / "as good") than ``b``;
    ``source``: the page's sentence it tests."""

    claim: str
    where: str
    a: str
    b: str
    kind: str
    source: str = CLAIM_SOURCE


_LOW = "the page's 'Low Bitrates, 32 kHz' samples (pairing: this book's reading)"
_HIGH = "the page's 'High Bitrates, 44.1 kHz' samples (pairing: this book's reading)"
#: The claims table's rows, each with the page's sentence it tests (:data:`PAGE_SENTENCES`). The page lists
#: two sample sets; which systems are set against which is this book's reading of the sets.
CLAIMS = (
    ClaimSpec("C64 better than A64: same rate and architecture", _LOW, "C64", "A64", "better", _CONJECTURE),
    ClaimSpec("D64 as good as C64 or better: the noise-modulation term", _LOW, "D64", "C64", "as good",
              _COMPLEMENTARY),
    ClaimSpec("C64 as good as A79: half the parameters, lower rate", _LOW, "C64", "A79", "as good"),
    ClaimSpec("D64 as good as A79: half the parameters, lower rate", _LOW, "D64", "A79", "as good"),
    ClaimSpec("D64 as good as B79: half the parameters, lower rate", _LOW, "D64", "B79", "as good"),
    ClaimSpec("D64 as good as MP3 64", _LOW, "D64", "MP3 64 @32k", "as good", _COMPETE),
    ClaimSpec("C96 as good as A168: half the parameters, lower rate", _HIGH, "C96", "A168", "as good"),
    ClaimSpec("C112 as good as A168: same parameters, lower rate", _HIGH, "C112", "A168", "as good"),
    ClaimSpec("D96 as good as C96 or better", _HIGH, "D96", "C96", "as good", _COMPLEMENTARY),
    ClaimSpec("D96 as good as MP3 112: lower rate", _HIGH, "D96", "MP3 112 @44k", "as good", _COMPETE),
    ClaimSpec("D112 as good as MP3 112", _HIGH, "D112", "MP3 112 @44k", "as good", _COMPETE),
)


#: The chapter's paired comparisons (a, b) beside the claims (each pair at one sample rate: :func:`claim_pair`).
COMPARISONS = (("C64", "A64"), ("D64", "C64"), ("D64", "A64"), ("C64", "A79"), ("D64", "A79"), ("D64", "B79"),
               ("C64", "MP3 64 @32k"), ("D64", "MP3 64 @32k"), ("D64", "Opus 64 @32k"),
               ("D96", "C96"), ("C96", "A168"), ("D96", "MP3 96 @44k"), ("D96", "MP3 112 @44k"),
               ("C112", "A168"), ("D112", "C112"), ("D112", "MP3 112 @44k"))
#: The systems the chapter's listening panel is meant to hold (the work's low-bitrate set and Opus 64).
LISTENING_SYSTEMS = ("A64", "A79", "B79", "C64", "D64", "MP3 64", "Opus 64")
#: Measures of a claim's verdict (each where stored for both systems), with their labels and units.
CLAIM_MEASURES = (("nmr_db", "NMR", " dB"), ("visqol", "ViSQOL", ""), ("cdpam", "CDPAM", ""))


def listening_absent(shown: Any, config: CodecStudyConfig) -> list[tuple[str, str]]:
    """The :data:`LISTENING_SYSTEMS` not among the panel's version names ``shown`` (``"A64"``, ``"MP3 64
    kbit/s"``), each with :func:`why_absent`'s reason."""
    names = list(shown)
    return [(s, why_absent(s, config)) for s in LISTENING_SYSTEMS
            if not any(v == s or v.startswith(s + " ") for v in names)]


def claim_rule(kind: str) -> str:
    """The measure-and-rule cell of a claim of ``kind``."""
    holds = "every interval favours a" if kind == "better" else "no interval favours b"
    return (f"paired a − b over the held-out segments, percentile-bootstrap 95 % intervals of NMR, ViSQOL and "
            f"CDPAM (where stored for both); holds when {holds}. Where the file rates are more than "
            f"{RATE_TOLERANCE * 100:g} % off the claim's, an anchor b is interpolated per segment at a's rate and "
            "decides")


def _fmt(d: PairedDifference) -> str:
    digits = 3 if d.measure == "cdpam" else 2
    return f"{d.mean:+.{digits}f} [{d.low:+.{digits}f}, {d.high:+.{digits}f}]"


def _has(rows: list[dict[str, Any]], key: str, measure: str, split: str) -> bool:
    return any(r["point"] == key and r["split"] == split and measure in r for r in rows)


def mean_rate(rows: list[dict[str, Any]], key: str, split: str = SEGMENT) -> float:
    """Mean file kbit/s of row key ``key`` over ``split``'s items."""
    return float(np.mean([r["kbps"] for r in rows if r["point"] == key and r["split"] == split]))


def _claim(spec: ClaimSpec, rows: list[dict[str, Any]], config: CodecStudyConfig, split: str) -> Claim:
    sa, sb = claim_pair(spec.a, spec.b, (*config.points, *WORK_POINTS))  # a cross-rate pair raises
    rule = claim_rule(spec.kind)
    present = {r["point"] for r in rows if r["split"] == split}
    missing = [s for s in (sa, sb) if s.key not in present]
    if missing:
        why = quick_reason(config) if config.mode == "quick" else "; ".join(
            f"{s.name}: {why_absent(s.name, config)}" for s in missing)
        return Claim(spec.claim, spec.where, spec.source, rule, "—",
                     comparison_verdict(spec.kind, {}, untested=why))
    ra, rb = mean_rate(rows, sa.key, split), mean_rate(rows, sb.key, split)
    direct = {label: (paired_difference(rows, sa.key, sb.key, m, split), unit) for m, label, unit in CLAIM_MEASURES
              if _has(rows, sa.key, m, split) and _has(rows, sb.key, m, split)}
    n = direct["NMR"][0].items
    parts = [f"{sa.name} {ra:.1f} / {sb.name} {rb:.1f} kbit/s (file, mean over {n} segments)"]
    parts += [f"{label} a − b {_fmt(d)}{unit}" for label, (d, unit) in direct.items()]
    outcomes = {label: d.verdict for label, (d, _) in direct.items()}
    untested = None
    gap = rate_gap(ra, rb, sa.kbps, sb.kbps)
    if gap > RATE_TOLERANCE:
        at = f"{sb.kbps:g}/{sa.kbps:g} × {sa.name}'s" if sb.kbps != sa.kbps else f"{sa.name}'s"
        if sb.anchor is not None:
            interpolated = {}
            for m, label, unit in CLAIM_MEASURES:
                try:
                    d = interpolated_difference(rows, sa.key, sb.anchor, m, split, scale=sb.kbps / sa.kbps)
                except ValueError:
                    continue
                interpolated[label] = (d, unit)
            lost = [label for _, label, _ in CLAIM_MEASURES if label in direct and label not in interpolated]
            parts.append(f"file rates {gap:.1%} off the claim's: the verdict is on {sb.anchor} interpolated per "
                         f"segment at {at} file rate: " + ", ".join(
                             f"{label} a − b {_fmt(d)}{unit} ({d.items} segments)"
                             for label, (d, unit) in interpolated.items())
                         + (f" ({', '.join(lost)}: no stored scores at both neighbouring rates)" if lost else ""))
            outcomes = {label: d.verdict for label, (d, _) in interpolated.items()}
            if not outcomes:
                untested = f"{sa.name}'s file rate lies outside {sb.anchor}'s ladder"
        else:
            untested = (f"the file rates are {gap:.1%} off the claim's, and a model has no ladder to be "
                        "interpolated on")
    if config.mode == "quick":
        untested = quick_reason(config)
    return Claim(spec.claim, spec.where, spec.source, rule, "; ".join(parts),
                 comparison_verdict(spec.kind, outcomes, sa.name, sb.name, untested=untested))


def codec_claims(rows: list[dict[str, Any]], config: CodecStudyConfig, split: str = SEGMENT,
                 claims: tuple[ClaimSpec, ...] = CLAIMS) -> list[Claim]:
    """The claims table of a build: one :class:`~percloss.experiments.claims.Claim` per :data:`CLAIMS` entry.

    Each pair goes through :func:`claim_pair` (so systems at different sample rates are refused); a claim
    whose systems have no rows is *not tested here* with :func:`why_absent`'s reason; otherwise the paired
    differences over ``split``'s items (NMR, ViSQOL, and CDPAM where stored for both) decide by
    :func:`~percloss.experiments.claims.comparison_verdict`, except where the two file rates are more than
    :data:`RATE_TOLERANCE` off the rates the claim sets: then an anchor is interpolated per item at the
    model's own rate (:func:`interpolated_difference`) and that decides; two models are not tested. In quick
    mode no claim is tested (the numbers are still shown).
    """
    return [_claim(spec, rows, config, split) for spec in claims]


def held_out_differences(rows: list[dict[str, Any]], points: tuple[RunPoint, ...], models: tuple[RunPoint, ...],
                         split: str = SEGMENT) -> list[str]:
    """Markdown bullets of the paired differences over ``split``'s items: each of :data:`COMPARISONS` whose
    two systems have rows (NMR, ViSQOL, SNR and, where stored, CDPAM, with 95 % intervals and how often a
    was better), then each of ``models`` at its own file rate against each anchor read at that rate
    (interpolated per item on the anchor's ladder). ``points``: where the comparisons' names are looked up."""
    present = {r["point"] for r in rows if r["split"] == split}
    lines = []
    for a, b in COMPARISONS:
        sa, sb = claim_pair(a, b, points)  # refuses two systems at different sample rates
        if sa.key not in present or sb.key not in present:
            continue
        parts = []
        for col, name in (("nmr_db", "NMR dB"), ("visqol", "ViSQOL"), ("snr_db", "SNR dB"), ("cdpam", "CDPAM")):
            if _has(rows, sa.key, col, split) and _has(rows, sb.key, col, split):
                d = paired_difference(rows, sa.key, sb.key, col, split=split)
                parts.append(f"{name} {_fmt(d)}, {a} better on {d.a_better}/{d.items}")
        lines.append(f"- **{a} − {b}** ({mean_rate(rows, sa.key, split):.1f} vs {mean_rate(rows, sb.key, split):.1f} "
                     "kbit/s): " + "; ".join(parts) + ".")
    for point in models:
        own = [r for r in rows if r["point"] == point.key and r["split"] == split]
        parts = []
        for anchor in ANCHORS:
            found = []
            for col, name in (("nmr_db", "NMR dB"), ("visqol", "ViSQOL"), ("cdpam", "CDPAM")):
                try:
                    d = interpolated_difference(rows, point.key, anchor, col, split=split)
                except ValueError:  # outside the anchor's ladder, or no stored scores at both neighbours
                    continue
                found.append(f"{name} {_fmt(d)} on {d.items} segments")
            parts.append(f"− {anchor} at the same rate (interpolated per segment): " + ", ".join(found) if found
                         else f"outside {anchor}'s ladder")
        lines.append(f"- **{point.name} at its own {np.mean([r['kbps'] for r in own]):.1f} kbit/s** (file, mean over "
                     f"the held-out segments): NMR {np.mean([r['nmr_db'] for r in own]):+.1f} dB, ViSQOL "
                     f"{np.mean([r['visqol'] for r in own]):.2f}; " + "; ".join(parts) + ".")
    return lines
