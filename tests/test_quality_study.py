"""The study's statistics and configuration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from percloss.experiments import quality_study as qs


def test_correlations_match_scipy_and_intervals_cover_the_estimate() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(60)
    y = 0.6 * x + 0.8 * rng.standard_normal(60)
    table = pd.DataFrame({"x": x, "y": y})
    r = qs.correlations(table, "x", "y")
    assert r["pearson"] == pytest.approx(stats.pearsonr(x, y)[0], abs=1e-12)
    assert r["spearman"] == pytest.approx(stats.spearmanr(x, y)[0], abs=1e-12)
    for name in ("pearson", "spearman"):
        assert r[f"{name}_lo"] < r[name] < r[f"{name}_hi"]
        assert r[f"{name}_hi"] - r[f"{name}_lo"] < 0.6


def test_correlations_drop_nan_rows_and_need_four_points() -> None:
    table = pd.DataFrame({"x": [1.0, 2.0, 3.0, np.nan, 5.0], "y": [2.0, 4.0, 6.1, 1.0, np.nan]})
    assert np.isnan(qs.correlations(table, "x", "y")["pearson"])
    table = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, np.nan], "y": [1.0, 2.5, 2.9, 4.2, 0.0]})
    r = qs.correlations(table, "x", "y")
    assert r["n"] == 4 and r["pearson"] > 0.9


def test_modes() -> None:
    quick = qs.StudyConfig.for_mode("quick")
    assert quick.degradations == ("noise", "bitrate", "bitdepth")  # the report's three
    standard = qs.StudyConfig.for_mode("standard")
    assert set(standard.degradations) == {"noise", "bitrate", "bitdepth", "clipping", "reverb", "mp3"}
    assert len(standard.clips) == 6
    assert qs.StudyConfig.for_mode("full").openl3_hop == 0.1
    with pytest.raises(ValueError, match="mode"):
        qs.StudyConfig.for_mode("huge")


def test_score_pair_on_identical_speech_gives_top_scores() -> None:
    clean = qs.clean_excerpt("speech_female", 2.5)
    row = qs.score_pair(clean, clean.copy(), is_speech=True)
    assert row["pesq"] == pytest.approx(4.644, abs=1e-3)
    assert row["estoi"] == pytest.approx(1.0)
    assert row["visqol"] > 4.5
    assert row["nmr_db"] < -100
    assert np.isinf(row["snr_db"])


def test_cdpam_scores_share_each_clean_embedding_and_rise_with_noise() -> None:
    pytest.importorskip("cdpam")
    clean = qs.clean_excerpt("speech_male", 1.0)
    rng = np.random.default_rng(0)
    pairs = [(clean, clean.copy())] + [(clean, clean + s * rng.standard_normal(len(clean))) for s in (0.003, 0.03)]
    scores, note = qs.cdpam_scores(pairs, 1.0)
    assert note.startswith("pretrained")
    assert scores[0] == pytest.approx(0.0, abs=1e-6) and scores[0] < scores[1] < scores[2]
    # the batched computation equals the library's pairwise distance
    from percloss.cdpam import cdpam_distance

    one = float(cdpam_distance(torch.from_numpy(clean).float(), torch.from_numpy(pairs[2][1]).float(), qs.RATE))
    assert scores[2] == pytest.approx(one, rel=1e-4)
    assert qs.StudyConfig.for_mode("standard").cdpam_seconds == 1.0  # the middle second: 8 min less on 2 cores
