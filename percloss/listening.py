"""MUSHRA listening tests (ITU-R BS.1534-3): stimuli for the site's panel, and the listeners' results.

The book's MUSHRA panel (``book/static/site/mushra.js``, markup from
:func:`percloss.notebook.mushra_panel_html`) plays, per trial, an open
reference and, in random order, the systems under test, the hidden reference
and the low anchor (the reference low-passed at 3.5 kHz), at matched loudness;
each listener rates them 0-100 and exports a result file (JSON or CSV). This
module makes the anchor, the loudness gains and the set's identifier, reads
any number of exported files, applies the recommendation's post-screening and
gives per-system means and paired differences with 95 % intervals.

Notebook: ``notebooks/ch04_codec.py`` (section *A MUSHRA test*).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._checks import AUDIO_RATE_RANGE, check_mono_array, check_real, check_sample_rate

__all__ = ["HIDDEN_REFERENCE", "LOW_ANCHOR", "SCALE", "CSV_COLUMNS", "low_anchor", "loudness_db",
           "loudness_gains", "mushra_stimuli", "stimulus_id", "Rating", "MushraResults", "read_results", "collect_results",
           "Screening", "post_screen", "Interval", "system_means", "paired_differences"]

#: Name of the hidden reference among a trial's rated systems (the open reference is not rated).
HIDDEN_REFERENCE = "reference"
#: Name of the low anchor: the reference low-passed at 3.5 kHz (BS.1534-3).
LOW_ANCHOR = "anchor 3.5 kHz"
#: The continuous quality scale's five labelled ranges, ``(label, lower, upper)`` in points.
SCALE = (("Bad", 0, 20), ("Poor", 20, 40), ("Fair", 40, 60), ("Good", 60, 80), ("Excellent", 80, 100))
#: Columns of an exported CSV, one row per rated stimulus (the JSON holds the same in ``ratings``).
CSV_COLUMNS = ("build_id", "set", "listener", "trial", "item", "system", "score", "position")


def low_anchor(x: np.ndarray, sample_rate: int, cutoff_hz: float = 3500.0) -> np.ndarray:
    """The low anchor of BS.1534-3: ``x`` low-passed at ``cutoff_hz``.

    An 8th-order Butterworth low-pass run forwards and backwards (zero
    phase: -6 dB at the cut-off, 96 dB per octave above it); the anchor stays
    time-aligned with the reference, so versions switch without a jump.

    Args:
        x: mono signal in [-1, 1]. sample_rate: Hz.
        cutoff_hz: Hz, below the Nyquist frequency. (Default: ``3500.0``, the recommendation's)

    Shape:
        ``(time,) -> (time,)``

    >>> t = np.arange(32000) / 32000
    >>> y = low_anchor(np.sin(2 * np.pi * 8000 * t) + np.sin(2 * np.pi * 500 * t), 32000)
    >>> bool(np.abs(y[4000:-4000] - np.sin(2 * np.pi * 500 * t[4000:-4000])).max() < 1e-3)
    True
    """
    from scipy.signal import butter, sosfiltfilt

    x = check_mono_array(x, "x")
    rate = check_sample_rate(sample_rate, rate_range=AUDIO_RATE_RANGE)
    cutoff = check_real(cutoff_hz, "cutoff_hz", 0.0, lo_open=True)
    if cutoff >= rate / 2:
        raise ValueError(f"cutoff_hz must be below the Nyquist frequency {rate / 2:g} Hz, got {cutoff_hz!r}")
    sos = butter(8, cutoff, fs=rate, output="sos")
    return np.asarray(sosfiltfilt(sos, x), dtype=np.float64)


def _biquad_k_weighting(rate: int) -> np.ndarray:
    """The two stages of the BS.1770 K-weighting at ``rate`` as second-order sections ``(2, 6)``: the
    head's high shelf (+4 dB above about 1.7 kHz) and the high-pass at 38 Hz, from their analogue
    prototypes (at 48 kHz, the recommendation's printed coefficients)."""
    k = math.tan(math.pi * 1681.974450955533 / rate)
    q, vh = 0.7071752369554196, 10 ** (3.999843853973347 / 20)
    vb = vh ** 0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = [(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0,
             1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    k, q = math.tan(math.pi * 38.13547087602444 / rate), 0.5003270373238773
    a0 = 1 + k / q + k * k
    highpass = [1.0, -2.0, 1.0, 1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    return np.asarray([shelf, highpass])


def loudness_db(x: np.ndarray, sample_rate: int) -> float:
    """Loudness of a mono signal in LKFS (ITU-R BS.1770: K-weighted mean square, -0.691 dB; no gating).

    A 1 kHz sine of amplitude 1 reads -3.01 LKFS. Digital silence reads ``-inf``.

    Shape:
        ``(time,) -> ()``
    """
    from scipy.signal import sosfilt

    x = check_mono_array(x, "x")
    rate = check_sample_rate(sample_rate, rate_range=AUDIO_RATE_RANGE)
    power = float(np.mean(np.square(sosfilt(_biquad_k_weighting(rate), x))))
    return -0.691 + 10 * math.log10(power) if power > 0 else -math.inf


def loudness_gains(versions: Mapping[str, np.ndarray], sample_rate: int) -> dict[str, float]:
    """Playback gains (linear, at most 1) that bring every version to the loudness of the quietest one.

    Silent versions get gain 1. The files keep their levels; the panel applies the gains on playback.
    """
    if not versions:
        raise ValueError("versions must hold at least one signal")
    level = {name: loudness_db(x, sample_rate) for name, x in versions.items()}
    finite = [v for v in level.values() if math.isfinite(v)]
    floor = min(finite, default=0.0)
    return {name: 10 ** ((floor - v) / 20) if math.isfinite(v) else 1.0 for name, v in level.items()}


def mushra_stimuli(items: Mapping[str, Mapping[str, np.ndarray]], sample_rate: int,
                   systems: Iterable[str]) -> dict[str, dict[str, np.ndarray]]:
    """A MUSHRA set: for every item, :data:`HIDDEN_REFERENCE`, the ``systems`` under test (cut to the
    reference's length) and :data:`LOW_ANCHOR` (:func:`low_anchor` of the reference).

    Raises:
        ValueError: for an item without the reference or one of ``systems``.
    """
    chosen = list(systems)
    out = {}
    for item, versions in items.items():
        absent = [s for s in (HIDDEN_REFERENCE, *chosen) if s not in versions]
        if absent:
            raise ValueError(f"item {item!r} lacks {', '.join(map(repr, absent))} (has {', '.join(versions)})")
        ref = check_mono_array(np.asarray(versions[HIDDEN_REFERENCE], dtype=np.float64), f"{item}/reference")
        out[item] = {HIDDEN_REFERENCE: ref, **{s: np.asarray(versions[s], dtype=np.float64)[: len(ref)]
                                               for s in chosen},
                     LOW_ANCHOR: np.clip(low_anchor(ref, sample_rate), -1.0, 1.0)}
    return out


def stimulus_id(set_name: str, items: Mapping[str, Mapping[str, np.ndarray]], sample_rate: int) -> str:
    """A 12-hex-digit identifier of a MUSHRA set: SHA-256 over its name, rate, items, systems and the
    16-bit samples each listener hears. The page writes it into every result file (``build_id``), and
    only files with the same identifier are pooled: the same stimuli give the same identifier in every build."""
    h = hashlib.sha256(f"{set_name}\n{int(sample_rate)}\n".encode())
    for item in sorted(items):
        for system in sorted(items[item]):
            pcm = np.round(np.clip(check_mono_array(items[item][system], f"{item}/{system}"), -1, 1) * 32767)
            h.update(f"{item}\n{system}\n".encode())
            h.update(pcm.astype("<i2").tobytes())
    return h.hexdigest()[:12]


@dataclass(frozen=True)
class Rating:
    """One score: ``listener`` rated ``system`` on ``item`` at ``score`` (0-100); ``source`` is the file."""

    listener: str
    item: str
    system: str
    score: float
    source: str


@dataclass(frozen=True)
class MushraResults:
    """Ratings pooled from result files of one MUSHRA set (one ``build_id``)."""

    build_id: str
    ratings: tuple[Rating, ...]

    @property
    def listeners(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.listener for r in self.ratings))

    @property
    def systems(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.system for r in self.ratings))

    @property
    def items(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.item for r in self.ratings))


def _score(value: object, where: str) -> float:
    try:
        score = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{where}: score must be a number, got {value!r}") from None
    if not (0.0 <= score <= 100.0):
        raise ValueError(f"{where}: score must lie in 0..100, got {value!r}")
    return score


def _read_one(path: Path) -> tuple[str, list[Rating]]:
    """``(build_id, ratings)`` of one exported file (``.json`` or ``.csv``)."""
    name = str(path)
    if path.suffix.lower() == ".json":
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValueError(f"{name}: not valid JSON ({err})") from None
        missing = [k for k in ("build_id", "listener", "items", "systems", "ratings") if not isinstance(record, dict)
                   or k not in record]
        if missing:
            raise ValueError(f"{name}: not a MUSHRA result file, missing {', '.join(missing)}")
        rows = record["ratings"]
        if not isinstance(rows, list):
            raise ValueError(f"{name}: 'ratings' must be a list of {{item, system, score}}")
        items, systems, listener = set(record["items"]), set(record["systems"]), str(record["listener"])
        out = []
        for i, row in enumerate(rows):
            where = f"{name}, rating {i + 1}"
            if not isinstance(row, dict) or not {"item", "system", "score"} <= set(row):
                raise ValueError(f"{where}: must have item, system and score, got {row!r}")
            if row["item"] not in items or row["system"] not in systems:
                raise ValueError(f"{where}: item {row['item']!r} or system {row['system']!r} is not among the "
                                 "file's items and systems")
            out.append(Rating(listener, str(row["item"]), str(row["system"]), _score(row["score"], where), name))
        return str(record["build_id"]), out
    if path.suffix.lower() != ".csv":
        raise ValueError(f"{name}: a result file must end in .json or .csv")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        absent = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if absent:
            raise ValueError(f"{name}: missing column(s) {', '.join(absent)} (expected {', '.join(CSV_COLUMNS)})")
        rows = list(reader)
    ids = {row["build_id"] for row in rows}
    if len(ids) > 1:
        raise ValueError(f"{name}: rows from several builds {sorted(ids)}")
    out = [Rating(row["listener"], row["item"], row["system"], _score(row["score"], f"{name}, row {i + 2}"), name)
           for i, row in enumerate(rows)]
    return (ids.pop() if ids else ""), out


def read_results(paths: Iterable[str | Path]) -> MushraResults:
    """Pool exported result files (any number, JSON or CSV) of one MUSHRA set.

    Raises:
        ValueError: for a malformed file (naming it and what is wrong), no ratings at all, files of
            different sets (``build_id``), or a listener who rated the same item and system twice.
    """
    ratings: list[Rating] = []
    ids: dict[str, list[str]] = {}
    for p in paths:
        build_id, rows = _read_one(Path(p))
        if rows:
            ids.setdefault(build_id, []).append(str(p))
        ratings += rows
    if not ratings:
        raise ValueError("no ratings in the result files given")
    if len(ids) > 1:
        raise ValueError("result files of different MUSHRA sets cannot be pooled: "
                         + "; ".join(f"build {b}: {', '.join(f)}" for b, f in ids.items()))
    seen: dict[tuple[str, str, str], str] = {}
    for r in ratings:
        key = (r.listener, r.item, r.system)
        if key in seen:
            raise ValueError(f"listener {r.listener!r} rated {r.system!r} on {r.item!r} twice ({seen[key]}, {r.source})")
        seen[key] = r.source
    return MushraResults(next(iter(ids)), tuple(ratings))


def collect_results(folder: str | Path, build_id: str) -> tuple[MushraResults | None, list[str]]:
    """The result files (``*.json``, ``*.csv``) in ``folder`` of the set ``build_id``, pooled.

    Returns:
        ``(results or None when there are none, notes on the files left out: other sets)``.
    """
    folder = Path(folder)
    files = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".json", ".csv")) if folder.is_dir() else []
    mine, notes = [], []
    for p in files:
        other, _ = _read_one(p)
        if other == build_id:
            mine.append(p)
        else:
            notes.append(f"{p.name}: set {other!r}, not this page's {build_id!r}")
    return (read_results(mine) if mine else None), notes


@dataclass(frozen=True)
class Screening:
    """Post-screening's outcome: the ``kept`` ratings, the ``excluded`` listeners with the fraction of
    their items whose hidden reference they rated below the limit, every listener's ``fractions``, and the
    ``rule`` applied, in words."""

    kept: MushraResults
    excluded: dict[str, float]
    fractions: dict[str, float]
    rule: str


def post_screen(results: MushraResults, min_reference: float = 90.0, max_fraction: float = 0.15) -> Screening:
    """BS.1534-3 post-screening: exclude a listener who rated the hidden reference below ``min_reference``
    on more than ``max_fraction`` of the items they rated.

    Raises:
        ValueError: when a listener has no rating of the hidden reference (the panel always includes it),
            or every listener is excluded.
    """
    rule = (f"a listener is excluded who rated the hidden reference below {min_reference:g} on more than "
            f"{100 * max_fraction:g} % of the items they rated (ITU-R BS.1534-3, post-screening)")
    fractions: dict[str, float] = {}
    for listener in results.listeners:
        ref = [r.score for r in results.ratings if r.listener == listener and r.system == HIDDEN_REFERENCE]
        if not ref:
            raise ValueError(f"listener {listener!r} has no rating of the hidden reference {HIDDEN_REFERENCE!r}")
        fractions[listener] = sum(s < min_reference for s in ref) / len(ref)
    excluded = {k: v for k, v in fractions.items() if v > max_fraction}
    kept = tuple(r for r in results.ratings if r.listener not in excluded)
    if not kept:
        raise ValueError(f"post-screening excluded every listener ({rule})")
    return Screening(MushraResults(results.build_id, kept), excluded, fractions, rule)


@dataclass(frozen=True)
class Interval:
    """A mean with its 95 % confidence interval ``[low, high]`` over ``n`` values (NaN bounds when n < 2)."""

    mean: float
    low: float
    high: float
    n: int


def _t_interval(values: list[float]) -> Interval:
    from scipy.stats import t

    v = np.asarray(values, dtype=np.float64)
    mean = float(v.mean())
    if len(v) < 2:
        return Interval(mean, math.nan, math.nan, len(v))
    half = float(t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return Interval(mean, mean - half, mean + half, len(v))


def system_means(results: MushraResults) -> dict[str, Interval]:
    """Per system, the mean score over every listener and item with its 95 % interval
    (Student's t on all ratings, as BS.1534-3 computes it)."""
    return {s: _t_interval([r.score for r in results.ratings if r.system == s]) for s in results.systems}


def paired_differences(results: MushraResults, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Interval]:
    """For each ``(a, b)``, the mean of ``score(a) - score(b)`` over the (listener, item) pairs that rated
    both, with its 95 % interval (Student's t on the paired differences).

    Raises:
        ValueError: for a system that no listener rated, or a pair no (listener, item) rated both of.
    """
    score = {(r.listener, r.item, r.system): r.score for r in results.ratings}
    out = {}
    for a, b in pairs:
        for s in (a, b):
            if s not in results.systems:
                raise ValueError(f"system {s!r} was not rated (rated: {', '.join(results.systems)})")
        diffs = [v - score[(li, it, b)] for (li, it, s), v in score.items() if s == a and (li, it, b) in score]
        if not diffs:
            raise ValueError(f"no listener rated both {a!r} and {b!r} on the same item")
        out[(a, b)] = _t_interval(diffs)
    return out
