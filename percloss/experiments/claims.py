"""Claims tables: a source's claims, what a build measured, and a verdict.

Every chapter opens its results with one of these tables, built from the run
and written next to the chapter as CSV so that tests can check the page
against it. A verdict is one of :data:`VERDICTS`, optionally followed by a
detail (``"reproduced for PESQ, STOI"``); *not tested here* always carries its
reason (``"not tested here (needs listeners)"``).

Paired claims ("a is better than b", "a is as good as b") are decided by one
rule for the whole book, :func:`paired_verdict`: a few *primary judges*
(:class:`Judge`), chosen in code before the data and independent of what the
systems were trained on, each with a non-inferiority margin fixed with its
reasoning; the interval of each judge's ``a − b`` (songs or seeds resampled,
:mod:`percloss.experiments.stats`) decides per judge; *mixed* where the
judges disagree. Other measures (NMR, SNR, LSD) stay on the page as
diagnostics that never decide.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

__all__ = ["VERDICTS", "COMPARISON_KINDS", "Claim", "verdict", "comparison_verdict", "check_verdict", "claims_frame",
           "write_claims", "read_claims", "Judge", "Interval", "JudgeOutcome", "judge_outcome", "paired_verdict",
           "VISQOL", "CDPAM", "MUSIC_JUDGES", "SEED_OUTCOMES", "seed_outcome", "seeds_verdict"]

VERDICTS = ("reproduced", "not reproduced", "mixed", "not tested here")


def check_verdict(text: str) -> str:
    """``text`` if it is a valid verdict, else ``ValueError``.

    A valid verdict starts with one of :data:`VERDICTS` ("not reproduced" and
    "not tested here" are matched before "reproduced"); "not tested here" must
    give its reason after it.
    """
    if not isinstance(text, str):
        raise ValueError(f"verdict must be a string, got {type(text).__name__}")
    for head in ("not tested here", "not reproduced", "mixed", "reproduced"):
        if text.startswith(head):
            rest = text[len(head):].strip(" :;,")
            if head == "not tested here" and not rest.strip("()"):
                raise ValueError(f"verdict {text!r}: 'not tested here' must say why, e.g. 'not tested here (...)'")
            return text
    raise ValueError(f"verdict must start with one of {VERDICTS}, got {text!r}")


def verdict(holds: bool | None, why_untested: str = "", detail: str = "") -> str:
    """The verdict text: ``holds`` True -> reproduced, False -> not reproduced, None -> not tested here (why).

    >>> verdict(True), verdict(False, detail="on 2 of 6 clips"), verdict(None, "needs listeners")
    ('reproduced', 'not reproduced: on 2 of 6 clips', 'not tested here (needs listeners)')
    """
    if holds is None:
        return check_verdict(f"not tested here ({why_untested})" if why_untested else "not tested here")
    head = "reproduced" if holds else "not reproduced"
    return f"{head}: {detail}" if detail else head


#: The two kinds of paired claim :func:`comparison_verdict` decides: "a is better than b", "a is as good as b".
COMPARISON_KINDS = ("better", "as good")
_OUTCOMES = ("a", "b", "tie")


def comparison_verdict(kind: str, outcomes: Mapping[str, str], a: str = "a", b: str = "b",
                       untested: str | None = None) -> str:
    """The verdict of a paired claim "``a`` is better than / as good as ``b``" from its intervals.

    ``outcomes`` maps each measure with an interval (e.g. ``{"NMR": "a", "ViSQOL": "tie"}``) to the system
    its 95 % interval of ``a − b`` favours: ``"a"``, ``"b"``, or ``"tie"`` where the interval holds 0 (the
    ``verdict`` of :class:`percloss.experiments.codec_claims.PairedDifference`). Every available interval
    counts:

    - ``"better"``: reproduced when every interval favours ``a``;
    - ``"as good"``: reproduced when no interval favours ``b``.

    A failed claim names the measures that decided it. With ``untested`` (the reason), the claim is *not
    tested here* whatever the outcomes.

    >>> comparison_verdict("better", {"NMR": "a", "ViSQOL": "tie"}, "C64", "A64")
    'not reproduced: the ViSQOL interval does not favour C64'
    >>> comparison_verdict("as good", {"NMR": "tie", "ViSQOL": "a"}, "D64", "MP3 64")
    'reproduced'
    >>> comparison_verdict("as good", {"NMR": "b"}, untested="quick mode: untrained models")
    'not tested here (quick mode: untrained models)'

    Raises:
        ValueError: unknown ``kind`` or outcome, or no outcome at all (when the claim is tested).
    """
    if kind not in COMPARISON_KINDS:
        raise ValueError(f"kind must be one of {COMPARISON_KINDS}, got {kind!r}")
    if untested is not None:
        if not untested.strip():
            raise ValueError("untested must give the reason the claim is not tested")
        return verdict(None, untested)
    if not outcomes:
        raise ValueError("outcomes must hold at least one measure's interval")
    bad = {m: o for m, o in outcomes.items() if o not in _OUTCOMES}
    if bad:
        raise ValueError(f"outcomes must be one of {_OUTCOMES}, got {bad}")
    if kind == "better":
        failing = [m for m, o in outcomes.items() if o != "a"]
        what = f"not favour {a}"
    else:
        failing = [m for m, o in outcomes.items() if o == "b"]
        what = f"favour{'s' if len(failing) == 1 else ''} {b}"
    if not failing:
        return verdict(True)
    names = ", ".join(failing)
    if kind == "better":
        what = f"{'does' if len(failing) == 1 else 'do'} {what}"
    return verdict(False, detail=f"the {names} interval{'s' if len(failing) > 1 else ''} {what}")


@dataclass(frozen=True)
class Judge:
    """A primary judge of paired claims: a measure independent of what the systems were trained on.

    Attributes:
        name: as printed (``"ViSQOL"``).
        higher_is_better: the direction of the measure.
        margin: the non-inferiority margin in the measure's units: ``a`` is *as good as* ``b`` when the
            interval of ``a − b`` excludes ``b`` being better by ``margin`` or more.
        reason: why this margin, printed beside the verdicts.
    """

    name: str
    higher_is_better: bool
    margin: float
    reason: str

    def __post_init__(self) -> None:
        if not self.name.strip() or not self.reason.strip():
            raise ValueError("a Judge needs a name and the reason for its margin")
        if not (isinstance(self.margin, (int, float)) and self.margin > 0 and self.margin < float("inf")):
            raise ValueError(f"Judge {self.name!r}: margin must be a positive number, got {self.margin!r}")


#: ViSQOL v3 (audio mode), MOS-LQO on 1..5: higher is better.
VISQOL = Judge("ViSQOL", True, 0.1,
               "a tenth of one grade of the five-grade MOS scale ViSQOL maps to, fixed before the evaluation it "
               "judges; over three thousand times the largest difference between two CPUs' kernel paths on the "
               "codec chapter's items (3e-5, runs/codec/eval/spread.json), so rounding never decides")
#: CDPAM (Manocha et al. 2021), a learnt perceptual distance: lower is better.
CDPAM = Judge("CDPAM", False, 0.01,
              "about a quarter of the mean distance CDPAM puts between the reference and MP3 at 64-112 kbit/s on "
              "the codec chapter's held-out music (0.039-0.045, runs/codec/eval/cdpam.csv, measured before this "
              "rule): a difference under a quarter of what a good lossy coder costs is not a loss of quality")
#: The primary judges for music (chapter 4): both must agree for "better"; "as good" is non-inferiority on both.
MUSIC_JUDGES = (VISQOL, CDPAM)


@dataclass(frozen=True)
class Interval:
    """An estimate of ``a − b`` on one measure, with its interval (``low <= estimate <= high``)."""

    estimate: float
    low: float
    high: float

    def __post_init__(self) -> None:
        values = (self.estimate, self.low, self.high)
        if not all(isinstance(v, (int, float)) and v == v and abs(v) < float("inf") for v in values):
            raise ValueError(f"Interval values must be finite numbers, got {values}")
        if not self.low <= self.estimate <= self.high:
            raise ValueError(f"Interval needs low <= estimate <= high, got {values}")


@dataclass(frozen=True)
class JudgeOutcome:
    """What one judge's interval of ``a − b`` says: ``a`` better (the whole interval favours ``a``),
    ``a`` non-inferior (``b`` is not better by the margin or more), ``b`` better (the whole interval
    favours ``b``)."""

    judge: str
    a_better: bool
    non_inferior: bool
    b_better: bool


def judge_outcome(judge: Judge, interval: Interval) -> JudgeOutcome:
    """One judge's reading of the interval of ``a − b`` in its units (oriented by ``higher_is_better``).

    >>> judge_outcome(VISQOL, Interval(0.05, -0.05, 0.15))
    JudgeOutcome(judge='ViSQOL', a_better=False, non_inferior=True, b_better=False)
    >>> judge_outcome(CDPAM, Interval(-0.03, -0.05, -0.01))
    JudgeOutcome(judge='CDPAM', a_better=True, non_inferior=True, b_better=False)
    """
    sign = 1.0 if judge.higher_is_better else -1.0
    low, high = sorted((sign * interval.low, sign * interval.high))  # in "a better" units
    return JudgeOutcome(judge.name, a_better=low > 0, non_inferior=low > -judge.margin, b_better=high < 0)


def paired_verdict(kind: str, intervals: Mapping[str, Interval], judges: Sequence[Judge], a: str = "a",
                   b: str = "b", untested: str | None = None) -> str:
    """The book's one verdict rule for "``a`` is better than / as good as ``b``".

    ``intervals`` maps each judge's name to the interval of ``a − b`` (other keys, the diagnostics, are
    ignored: they never decide). Per judge (:func:`judge_outcome`):

    - ``"better"``: *reproduced* when every judge's interval favours ``a``; *not reproduced* when none does;
      *mixed* when some do and some do not;
    - ``"as good"`` (non-inferiority at each judge's margin): *reproduced* when ``a`` is non-inferior on
      every judge; *not reproduced* when on none; *mixed* otherwise.

    With ``untested`` (the reason), *not tested here*.

    >>> iv = {"ViSQOL": Interval(0.3, 0.2, 0.4), "CDPAM": Interval(0.02, -0.01, 0.05), "NMR": Interval(3, 2, 4)}
    >>> paired_verdict("better", iv, MUSIC_JUDGES, "C64", "A64")
    'mixed: ViSQOL favours C64; CDPAM does not'
    >>> paired_verdict("as good", iv, MUSIC_JUDGES, "C64", "A64")
    'mixed: C64 is within the margin on ViSQOL; not on CDPAM (CDPAM margin 0.01)'

    Raises:
        ValueError: unknown ``kind``, no judges, or a judge without an interval (when the claim is tested).
    """
    if kind not in COMPARISON_KINDS:
        raise ValueError(f"kind must be one of {COMPARISON_KINDS}, got {kind!r}")
    if untested is not None:
        if not untested.strip():
            raise ValueError("untested must give the reason the claim is not tested")
        return verdict(None, untested)
    if not judges:
        raise ValueError("judges must hold at least one primary judge")
    missing = [j.name for j in judges if j.name not in intervals]
    if missing:
        raise ValueError(f"no interval for the primary judge(s) {missing}")
    outcomes = [judge_outcome(j, intervals[j.name]) for j in judges]
    if kind == "better":
        yes = [o.judge for o in outcomes if o.a_better]
        no = [o.judge for o in outcomes if not o.a_better]
        if not no:
            return f"reproduced: {', '.join(yes)} favour{'s' if len(yes) == 1 else ''} {a}"
        worse = [o.judge for o in outcomes if o.b_better]
        if not yes:
            detail = (f"{', '.join(worse)} favour{'s' if len(worse) == 1 else ''} {b}" if worse
                      else f"no judge's interval favours {a}")
            return f"not reproduced: {detail}"
        return f"mixed: {', '.join(yes)} favour{'s' if len(yes) == 1 else ''} {a}; {', '.join(no)} " \
               f"do{'es' if len(no) == 1 else ''} not"
    within = [o.judge for o in outcomes if o.non_inferior]
    outside = [j for j, o in zip(judges, outcomes, strict=True) if not o.non_inferior]
    margins = ", ".join(f"{j.name} margin {j.margin:g}" for j in outside)
    if not outside:
        return f"reproduced: {a} within the margin{'s' if len(within) > 1 else ''} of {b} on {', '.join(within)}"
    if not within:
        return f"not reproduced: {b} better by the margin or more is not excluded ({margins})"
    names = ", ".join(j.name for j in outside)
    return f"mixed: {a} is within the margin on {', '.join(within)}; not on {names} ({margins})"


#: What one unit of a seed-replicated claim (chapter 1: a clip and a measure) shows over the seeds.
SEED_OUTCOMES = ("holds", "fails", "open")


def seed_outcome(per_seed: Sequence[bool]) -> str:
    """``"holds"`` when a claim's condition (its margin included) holds on every seed, ``"fails"`` when it
    holds on none, ``"open"`` when the seeds disagree.

    >>> seed_outcome([True, True, True]), seed_outcome([False, False]), seed_outcome([True, False, True])
    ('holds', 'fails', 'open')
    """
    values = [bool(v) for v in per_seed]
    if not values:
        raise ValueError("per_seed must hold at least one seed's result")
    return "holds" if all(values) else "fails" if not any(values) else "open"


def seeds_verdict(outcomes: Mapping[str, str], need: str = "all", untested: str | None = None) -> str:
    """The book's rule for claims judged over seeds (chapter 1): the verdict from each unit's
    :func:`seed_outcome`.

    - ``need="all"`` (a claim about every unit, e.g. both speech clips): *reproduced* when every unit holds;
      *not reproduced* when some unit fails; *mixed* otherwise (no unit fails, the seeds leave some open).
    - ``need="majority"`` ("in general"): *reproduced* when more than half the units hold; *not reproduced*
      when more than half could not hold even if every open unit did (``holds + open <= n / 2``); *mixed*
      otherwise: the open units decide.

    >>> seeds_verdict({"speech_male": "holds", "speech_female": "open"})
    'mixed: holds on speech_male; the seeds disagree on speech_female'
    >>> seeds_verdict({"a": "holds", "b": "holds", "c": "fails"}, need="majority")
    'reproduced: holds on 2 of 3 (a, b); fails on c'
    """
    if need not in ("all", "majority"):
        raise ValueError(f"need must be 'all' or 'majority', got {need!r}")
    if untested is not None:
        if not untested.strip():
            raise ValueError("untested must give the reason the claim is not tested")
        return verdict(None, untested)
    if not outcomes:
        raise ValueError("outcomes must hold at least one unit")
    bad = {k: v for k, v in outcomes.items() if v not in SEED_OUTCOMES}
    if bad:
        raise ValueError(f"outcomes must be one of {SEED_OUTCOMES}, got {bad}")
    by = {o: [k for k, v in outcomes.items() if v == o] for o in SEED_OUTCOMES}
    n, held, failed, open_ = len(outcomes), by["holds"], by["fails"], by["open"]
    parts = []
    if held:
        parts.append(f"holds on {len(held)} of {n} ({', '.join(held)})" if need == "majority"
                     else f"holds on {', '.join(held)}")
    if failed:
        parts.append(f"fails on {', '.join(failed)}")
    if open_:
        parts.append(f"the seeds disagree on {', '.join(open_)}")
    detail = "; ".join(parts)
    if need == "all":
        head = "reproduced" if len(held) == n else "not reproduced" if failed else "mixed"
    else:
        head = ("reproduced" if 2 * len(held) > n else "not reproduced" if 2 * (len(held) + len(open_)) <= n
                else "mixed")
    return f"{head}: {detail}"


@dataclass(frozen=True)
class Claim:
    """One row of a claims table.

    Attributes:
        claim: the source's claim, paraphrased short.
        where: where it is in the source (section, figure, table).
        source: the source's own number or wording for it ("—" where it gives none).
        measure: what this build measures for it, and the rule that decides.
        measured: what this build measured (numbers, intervals).
        verdict: see :func:`check_verdict`.
    """

    claim: str
    where: str
    source: str
    measure: str
    measured: str
    verdict: str

    def __post_init__(self) -> None:
        check_verdict(self.verdict)
        for f in fields(self):
            if not isinstance(getattr(self, f.name), str) or not getattr(self, f.name).strip():
                raise ValueError(f"Claim.{f.name} must be a non-empty string, got {getattr(self, f.name)!r}")


COLUMNS = [f.name for f in fields(Claim)]


def claims_frame(claims: Sequence[Claim]) -> Any:
    """A ``pandas.DataFrame`` with one row per claim and the columns of :class:`Claim`."""
    import pandas as pd

    if not claims:
        raise ValueError("claims must hold at least one Claim")
    return pd.DataFrame([asdict(c) for c in claims], columns=COLUMNS)


def write_claims(claims: Sequence[Claim], path: str | os.PathLike[str]) -> Path:
    """Write ``claims`` as CSV (header: the fields of :class:`Claim`) and return the path."""
    if not claims:
        raise ValueError("claims must hold at least one Claim")
    out = Path(path)
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(asdict(c) for c in claims)
    return out


def read_claims(path: str | os.PathLike[str]) -> list[Claim]:
    """The claims a :func:`write_claims` file holds (each verdict checked again)."""
    with Path(path).open(newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != COLUMNS:
            raise ValueError(f"{path}: expected the columns {COLUMNS}, got {reader.fieldnames}")
        return [Claim(**row) for row in reader]
