"""The book's one verdict rule (percloss.experiments.claims.paired_verdict) on constructed intervals, and the
song-level cluster bootstrap (percloss.experiments.stats) against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from percloss.experiments.claims import (
    CDPAM,
    MUSIC_JUDGES,
    VISQOL,
    Claim,
    Interval,
    Judge,
    check_verdict,
    judge_outcome,
    paired_verdict,
)
from percloss.experiments.stats import cluster_bootstrap_mean

# intervals of a - b in each judge's units: ViSQOL higher is better, CDPAM lower is better
V_BETTER, V_TIE, V_WORSE, V_SLIGHTLY_WORSE = (Interval(0.3, 0.2, 0.4), Interval(0.0, -0.05, 0.05),
                                               Interval(-0.5, -0.6, -0.4), Interval(-0.05, -0.2, 0.1))
C_BETTER, C_TIE, C_WORSE, C_SLIGHTLY_WORSE = (Interval(-0.05, -0.08, -0.02), Interval(0.0, -0.004, 0.004),
                                               Interval(0.1, 0.08, 0.12), Interval(0.005, -0.002, 0.02))


@pytest.mark.parametrize("visqol, cdpam, expected", [
    (V_BETTER, C_BETTER, "reproduced"),
    (V_BETTER, C_TIE, "mixed"),
    (V_TIE, C_BETTER, "mixed"),
    (V_BETTER, C_WORSE, "mixed"),
    (V_TIE, C_TIE, "not reproduced"),
    (V_WORSE, C_WORSE, "not reproduced"),
    (V_TIE, C_WORSE, "not reproduced"),
])
def test_better_needs_every_primary_judge(visqol, cdpam, expected):
    # NMR favouring b never decides: it is a diagnostic
    intervals = {"ViSQOL": visqol, "CDPAM": cdpam, "NMR": Interval(5.0, 4.0, 6.0)}
    text = paired_verdict("better", intervals, MUSIC_JUDGES, "C64", "A64")
    assert text.split(":")[0] == expected
    assert check_verdict(text) == text


@pytest.mark.parametrize("visqol, cdpam, expected", [
    (V_TIE, C_TIE, "reproduced"),  # within both margins
    (V_BETTER, C_BETTER, "reproduced"),  # better is also as good
    (V_SLIGHTLY_WORSE, C_TIE, "mixed"),  # ViSQOL's interval reaches -0.2, beyond its 0.1 margin
    (V_TIE, C_SLIGHTLY_WORSE, "mixed"),  # CDPAM's interval reaches +0.02, beyond its 0.01 margin
    (V_WORSE, C_WORSE, "not reproduced"),
    (V_SLIGHTLY_WORSE, C_SLIGHTLY_WORSE, "not reproduced"),  # no significant difference is not equivalence
])
def test_as_good_is_non_inferiority_at_the_margins(visqol, cdpam, expected):
    text = paired_verdict("as good", {"ViSQOL": visqol, "CDPAM": cdpam}, MUSIC_JUDGES, "D64", "MP3")
    assert text.split(":")[0] == expected


def test_margin_edges_and_orientation():
    # lower bound exactly at -margin: b better by the margin is not excluded
    assert not judge_outcome(VISQOL, Interval(0.0, -0.1, 0.1)).non_inferior
    assert judge_outcome(VISQOL, Interval(0.0, -0.0999, 0.1)).non_inferior
    # CDPAM: a - b = +0.0099 at most is within the margin; the orientation flips
    assert judge_outcome(CDPAM, Interval(0.0, -0.01, 0.0099)).non_inferior
    assert not judge_outcome(CDPAM, Interval(0.0, -0.01, 0.0101)).non_inferior
    o = judge_outcome(CDPAM, Interval(0.1, 0.05, 0.2))
    assert o.b_better and not o.a_better and not o.non_inferior


def test_details_name_the_judges():
    text = paired_verdict("better", {"ViSQOL": V_BETTER, "CDPAM": C_TIE}, MUSIC_JUDGES, "C64", "A64")
    assert text == "mixed: ViSQOL favours C64; CDPAM does not"
    text = paired_verdict("better", {"ViSQOL": V_WORSE, "CDPAM": C_WORSE}, MUSIC_JUDGES, "C64", "A64")
    assert text == "not reproduced: ViSQOL, CDPAM favour A64"
    text = paired_verdict("as good", {"ViSQOL": V_WORSE, "CDPAM": C_TIE}, MUSIC_JUDGES, "D64", "MP3 64")
    assert text == "mixed: D64 is within the margin on CDPAM; not on ViSQOL (ViSQOL margin 0.1)"


def test_rule_refuses_what_it_cannot_decide():
    with pytest.raises(ValueError, match="primary judge"):
        paired_verdict("better", {"ViSQOL": V_BETTER, "NMR": V_BETTER}, MUSIC_JUDGES)
    with pytest.raises(ValueError, match="kind"):
        paired_verdict("worse", {}, MUSIC_JUDGES)
    with pytest.raises(ValueError, match="at least one"):
        paired_verdict("better", {}, ())
    assert paired_verdict("better", {}, MUSIC_JUDGES, untested="needs A168") == "not tested here (needs A168)"
    with pytest.raises(ValueError, match="low <= estimate"):
        Interval(1.0, 2.0, 3.0)
    with pytest.raises(ValueError, match="finite"):
        Interval(float("nan"), 0.0, 1.0)
    with pytest.raises(ValueError, match="margin"):
        Judge("x", True, 0.0, "none")
    with pytest.raises(ValueError, match="reason"):
        Judge("x", True, 0.1, " ")


def test_mixed_is_a_verdict_of_claims_tables():
    row = Claim("C better than A", "page", "—", "rule", "numbers", "mixed: ViSQOL favours C64; CDPAM does not")
    assert row.verdict.startswith("mixed")
    with pytest.raises(ValueError):
        check_verdict("maybe")


def test_cluster_bootstrap_resamples_songs_not_segments():
    # two songs, many nearly identical segments each: the songs disagree, so the interval must be wide
    values = np.r_[np.full(50, 1.0) + 0.001 * np.arange(50), np.full(50, -0.8) + 0.001 * np.arange(50)]
    songs = ["a"] * 50 + ["b"] * 50
    r = cluster_bootstrap_mean(values, songs)
    assert r.clusters == 2 and r.items == 100
    assert r.mean == pytest.approx((1.0245 + -0.7755) / 2)
    # with two clusters the resampled means are the three values {mean_a, mid, mean_b}
    assert r.low == pytest.approx(-0.7755) and r.high == pytest.approx(1.0245)
    # a segment bootstrap would have been far narrower and excluded 0; this one does not
    assert r.low < 0 < r.high


def test_cluster_bootstrap_weighs_songs_equally_and_matches_a_hand_percentile():
    values = [1.0, 1.0, 1.0, 1.0, 5.0, 3.0]  # song x has four segments, y one, z one
    songs = ["x", "x", "x", "x", "y", "z"]
    r = cluster_bootstrap_mean(values, songs, resamples=20000, seed=1)
    assert r.mean == pytest.approx(3.0)  # (1 + 5 + 3) / 3, not the segment mean 2.0
    # all 27 equally likely draws of 3 songs: their means' 2.5/97.5 percentiles
    draws = sorted(np.mean([a, b, c]) for a in (1, 5, 3) for b in (1, 5, 3) for c in (1, 5, 3))
    assert r.low == pytest.approx(np.percentile(np.repeat(draws, 1000), 2.5), abs=0.2)
    assert r.high == pytest.approx(np.percentile(np.repeat(draws, 1000), 97.5), abs=0.2)
    with pytest.raises(ValueError, match="two clusters"):
        cluster_bootstrap_mean([1.0, 2.0], ["x", "x"])
    with pytest.raises(ValueError, match="finite"):
        cluster_bootstrap_mean([1.0, float("nan")], ["x", "y"])
    with pytest.raises(ValueError, match="one cluster label"):
        cluster_bootstrap_mean([1.0, 2.0], ["x"])
