"""Claims tables: a source's claims, what a build measured, and a verdict.

Every chapter opens its results with one of these tables, built from the run
and written next to the chapter as CSV so that tests can check the page
against it. A verdict is one of :data:`VERDICTS`, optionally followed by a
detail (``"reproduced for PESQ, STOI"``); *not tested here* always carries its
reason (``"not tested here (needs listeners)"``).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

__all__ = ["VERDICTS", "COMPARISON_KINDS", "Claim", "verdict", "comparison_verdict", "check_verdict", "claims_frame",
           "write_claims", "read_claims"]

VERDICTS = ("reproduced", "not reproduced", "not tested here")


def check_verdict(text: str) -> str:
    """``text`` if it is a valid verdict, else ``ValueError``.

    A valid verdict starts with one of :data:`VERDICTS` ("not reproduced" and
    "not tested here" are matched before "reproduced"); "not tested here" must
    give its reason after it.
    """
    if not isinstance(text, str):
        raise ValueError(f"verdict must be a string, got {type(text).__name__}")
    for head in ("not tested here", "not reproduced", "reproduced"):
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
    ``verdict`` of :class:`percloss.experiments.codec_study.PairedDifference`). Every available interval
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
