"""percloss.listening: MUSHRA stimuli, result files, post-screening and aggregation, on files made here.

Every expected number is computed by hand from the constructed ratings (Student's t
quantiles from tables), not by the code under test.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from percloss.listening import (
    CSV_COLUMNS,
    HIDDEN_REFERENCE,
    LOW_ANCHOR,
    collect_results,
    loudness_db,
    loudness_gains,
    low_anchor,
    mushra_stimuli,
    paired_differences,
    post_screen,
    read_results,
    stimulus_id,
    system_means,
)

T975_3 = 3.182446305284263  # Student's t, 97.5 % quantile, 3 degrees of freedom
T975_1 = 12.706204736174698  # ... 1 degree of freedom
BUILD = "0123456789ab"
ITEMS = ["song-a", "song-b"]
SYSTEMS = [HIDDEN_REFERENCE, "A", "B", LOW_ANCHOR]

# listener -> item -> (reference, A, B, anchor)
SCORES = {
    "ann": {"song-a": (100, 80, 60, 20), "song-b": (95, 70, 50, 10)},
    "bob": {"song-a": (90, 60, 70, 30), "song-b": (100, 50, 40, 20)},  # 90 is not below 90: kept
    "cat": {"song-a": (85, 90, 90, 50), "song-b": (100, 95, 95, 60)},  # 1 of 2 items below 90: excluded
}


def write_json(path: Path, listener: str, scores: dict[str, tuple[int, ...]], build: str = BUILD) -> Path:
    ratings = [{"trial": k + 1, "item": item, "system": s, "score": v, "position": p + 1}
               for k, (item, values) in enumerate(scores.items()) for p, (s, v) in enumerate(zip(SYSTEMS, values, strict=True))]
    path.write_text(json.dumps({"format": "percloss-mushra/1", "build_id": build, "set": "t", "listener": listener,
                                "items": ITEMS, "systems": SYSTEMS, "ratings": ratings}))
    return path


def write_csv(path: Path, listener: str, scores: dict[str, tuple[int, ...]], build: str = BUILD,
              columns: tuple[str, ...] = CSV_COLUMNS) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for k, (item, values) in enumerate(scores.items()):
            for p, (s, v) in enumerate(zip(SYSTEMS, values, strict=True)):
                row = {"build_id": build, "set": "t", "listener": listener, "trial": k + 1, "item": item,
                       "system": s, "score": v, "position": p + 1}
                w.writerow([row[c] for c in columns])
    return path


@pytest.fixture()
def files(tmp_path: Path) -> list[Path]:
    return [write_json(tmp_path / "ann.json", "ann", SCORES["ann"]),
            write_csv(tmp_path / "bob.csv", "bob", SCORES["bob"]),
            write_json(tmp_path / "cat.json", "cat", SCORES["cat"])]


def test_read_pools_json_and_csv(files: list[Path]) -> None:
    r = read_results(files)
    assert r.build_id == BUILD and r.listeners == ("ann", "bob", "cat") and len(r.ratings) == 24
    assert {(x.listener, x.item, x.system): x.score for x in r.ratings}[("bob", "song-b", "A")] == 50


def test_post_screening_excludes_the_listener_who_misses_the_hidden_reference(files: list[Path]) -> None:
    s = post_screen(read_results(files))
    assert s.excluded == {"cat": 0.5} and s.fractions == {"ann": 0.0, "bob": 0.0, "cat": 0.5}
    assert s.kept.listeners == ("ann", "bob")
    assert "below 90" in s.rule and "more than 15 %" in s.rule


def test_post_screening_threshold_is_more_than_15_percent(tmp_path: Path) -> None:
    # 7 items, the hidden reference below 90 on one: 14.3 % is not more than 15 %; on two (28.6 %) it is
    items = [f"i{k}" for k in range(7)]
    rows = [{"item": it, "system": HIDDEN_REFERENCE, "score": 80 if k < n else 100}
            for n, who in ((1, "kept"), (2, "out")) for k, it in enumerate(items)]
    for who, chunk in (("kept", rows[:7]), ("out", rows[7:])):
        (tmp_path / f"{who}.json").write_text(json.dumps({"build_id": BUILD, "listener": who, "items": items,
                                                          "systems": [HIDDEN_REFERENCE], "ratings": chunk}))
    s = post_screen(read_results(sorted(tmp_path.glob("*.json"))))
    assert set(s.excluded) == {"out"} and s.fractions["kept"] == pytest.approx(1 / 7)
    assert s.excluded["out"] == pytest.approx(2 / 7)


def test_means_and_intervals_by_hand(files: list[Path]) -> None:
    m = system_means(post_screen(read_results(files)).kept)
    a = m["A"]  # 80, 70, 60, 50: mean 65, s = sqrt(500 / 3)
    half = T975_3 * math.sqrt(500 / 3) / 2
    assert (a.mean, a.n) == (65.0, 4)
    assert a.low == pytest.approx(65 - half, abs=1e-9) and a.high == pytest.approx(65 + half, abs=1e-9)
    assert m[HIDDEN_REFERENCE].mean == pytest.approx(385 / 4) and m[LOW_ANCHOR].mean == 20.0


def test_paired_differences_by_hand(files: list[Path]) -> None:
    d = paired_differences(post_screen(read_results(files)).kept, [("A", "B"), ("B", LOW_ANCHOR)])
    ab = d[("A", "B")]  # per listener and item: 20, 20, -10, 10 -> mean 10, s = sqrt(600 / 3)
    half = T975_3 * math.sqrt(200) / 2
    assert (ab.mean, ab.n) == (10.0, 4)
    assert (ab.low, ab.high) == (pytest.approx(10 - half), pytest.approx(10 + half))
    assert d[("B", LOW_ANCHOR)].mean == 35.0  # 40, 40, 40, 20


def test_interval_of_two_and_of_one(tmp_path: Path) -> None:
    rows = [{"item": "x", "system": HIDDEN_REFERENCE, "score": 100}, {"item": "x", "system": "A", "score": 40}]
    for who, score in (("p", 40), ("q", 60)):
        rows[1]["score"] = score
        (tmp_path / f"{who}.json").write_text(json.dumps({"build_id": BUILD, "listener": who, "items": ["x"],
                                                          "systems": [HIDDEN_REFERENCE, "A"], "ratings": rows}))
    two = system_means(read_results(sorted(tmp_path.glob("*.json"))))["A"]
    assert (two.mean, two.low, two.high) == (50.0, pytest.approx(50 - T975_1 * 10), pytest.approx(50 + T975_1 * 10))
    one = system_means(read_results([tmp_path / "p.json"]))["A"]
    assert one.mean == 40.0 and math.isnan(one.low) and math.isnan(one.high)


@pytest.mark.parametrize(("content", "suffix", "message"), [
    ("build_id,listener,item,system,score\n", ".csv", "missing column(s) set, trial, position"),
    ('{"build_id": "x", "listener": "a"}', ".json", "missing items, systems, ratings"),
    ("{not json", ".json", "not valid JSON"),
    ('{"build_id": "x", "listener": "a", "items": ["i"], "systems": ["s"], '
     '"ratings": [{"item": "i", "system": "s", "score": 120}]}', ".json", "score must lie in 0..100"),
    ('{"build_id": "x", "listener": "a", "items": ["i"], "systems": ["s"], '
     '"ratings": [{"item": "i", "system": "s", "score": "good"}]}', ".json", "score must be a number"),
    ('{"build_id": "x", "listener": "a", "items": ["i"], "systems": ["s"], '
     '"ratings": [{"item": "j", "system": "s", "score": 50}]}', ".json", "not among the file's items"),
    ('{"build_id": "x", "listener": "a", "items": ["i"], "systems": ["s"], "ratings": [{"item": "i"}]}',
     ".json", "must have item, system and score"),
    ("a,b\n", ".txt", "must end in .json or .csv"),
])
def test_malformed_files_name_the_problem(tmp_path: Path, content: str, suffix: str, message: str) -> None:
    path = tmp_path / f"bad{suffix}"
    path.write_text(content)
    with pytest.raises(ValueError, match=r"bad" + r".*" + message.replace("(", r"\(").replace(")", r"\)")):
        read_results([path])


def test_pooling_refuses_mixed_sets_and_double_ratings(tmp_path: Path) -> None:
    a = write_json(tmp_path / "a.json", "ann", SCORES["ann"])
    b = write_json(tmp_path / "b.json", "bob", SCORES["bob"], build="ffffffffffff")
    with pytest.raises(ValueError, match="different MUSHRA sets"):
        read_results([a, b])
    again = write_csv(tmp_path / "again.csv", "ann", SCORES["ann"])
    with pytest.raises(ValueError, match="rated 'reference' on 'song-a' twice"):
        read_results([a, again])
    with pytest.raises(ValueError, match="no ratings"):
        read_results([])


def test_collect_keeps_this_set_and_notes_the_others(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", "ann", SCORES["ann"])
    write_json(tmp_path / "b.json", "bob", SCORES["bob"], build="ffffffffffff")
    results, notes = collect_results(tmp_path, BUILD)
    assert results is not None and results.listeners == ("ann",)
    assert notes == [f"b.json: set 'ffffffffffff', not this page's '{BUILD}'"]
    assert collect_results(tmp_path / "absent", BUILD) == (None, [])


def test_post_screening_errors(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"build_id": BUILD, "listener": "a", "items": ["i"], "systems": ["A"],
                                "ratings": [{"item": "i", "system": "A", "score": 10}]}))
    with pytest.raises(ValueError, match="no rating of the hidden reference"):
        post_screen(read_results([path]))
    cat = write_json(tmp_path / "cat.json", "cat", SCORES["cat"])
    with pytest.raises(ValueError, match="excluded every listener"):
        post_screen(read_results([cat]))
    with pytest.raises(ValueError, match="system 'C' was not rated"):
        paired_differences(read_results([cat]), [("A", "C")])


def test_low_anchor_passes_below_and_removes_above_3_5_khz() -> None:
    rate = 32000
    t = np.arange(rate) / rate
    for f, expected_db, tol in ((1000, 0.0, 0.01), (3500, -6.02, 0.05), (5000, -55.95, 0.5), (8000, -143.0, 3.0)):
        y = low_anchor(0.5 * np.sin(2 * np.pi * f * t), rate)[4000:-4000]
        gain_db = 20 * np.log10(np.sqrt(2) * np.std(y) / 0.5)
        # |H|^2 of the digital 8th-order Butterworth (bilinear, warped at the cut-off), run twice:
        # 20 log10(1 / (1 + r^16)), r = tan(pi f / rate) / tan(pi 3500 / rate)
        r = np.tan(np.pi * f / rate) / np.tan(np.pi * 3500 / rate)
        assert gain_db == pytest.approx(-20 * np.log10(1 + r**16), abs=tol)
        assert gain_db == pytest.approx(expected_db, abs=tol)
    with pytest.raises(ValueError, match="cutoff_hz must be below the Nyquist"):
        low_anchor(np.zeros(100), 8000, 4000.0)


def test_loudness_matches_bs1770_and_gains_match_it() -> None:
    for rate in (32000, 44100, 48000):
        t = np.arange(rate) / rate
        assert loudness_db(np.sin(2 * np.pi * 997 * t), rate) == pytest.approx(-3.01, abs=0.02)
    rng = np.random.default_rng(0)
    x = 0.1 * rng.standard_normal(32000)
    gains = loudness_gains({"loud": x, "quiet": 0.25 * x, "silent": np.zeros(32000)}, 32000)
    assert gains == {"loud": pytest.approx(0.25), "quiet": pytest.approx(1.0), "silent": 1.0}
    assert loudness_db(np.zeros(10), 32000) == -math.inf


def test_stimuli_and_their_identifier() -> None:
    rate = 32000
    rng = np.random.default_rng(1)
    ref = 0.2 * rng.standard_normal(rate)
    items = {"i": {"reference": ref, "A": np.r_[0.5 * ref, np.zeros(10)], "B": ref}}
    s = mushra_stimuli(items, rate, ["A"])
    assert list(s["i"]) == [HIDDEN_REFERENCE, "A", LOW_ANCHOR] and len(s["i"]["A"]) == rate
    np.testing.assert_array_equal(s["i"][LOW_ANCHOR], np.clip(low_anchor(ref, rate), -1, 1))
    with pytest.raises(ValueError, match="item 'i' lacks 'C'"):
        mushra_stimuli(items, rate, ["A", "C"])
    ident = stimulus_id("set", s, rate)
    assert len(ident) == 12 and ident == stimulus_id("set", mushra_stimuli(items, rate, ["A"]), rate)
    changed = {"i": dict(s["i"], A=s["i"]["A"] + np.r_[1e-3, np.zeros(rate - 1)])}
    assert stimulus_id("set", changed, rate) != ident and stimulus_id("other", s, rate) != ident
