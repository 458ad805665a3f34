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
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

__all__ = ["VERDICTS", "Claim", "verdict", "check_verdict", "claims_frame", "write_claims", "read_claims"]

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
