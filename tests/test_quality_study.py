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


def test_pearson_is_scipys_per_row_and_nan_where_constant() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((3, 20)), rng.standard_normal((3, 20))
    r = qs.pearson(a, b)
    assert r.shape == (3,)
    for i in range(3):
        assert r[i] == pytest.approx(stats.pearsonr(a[i], b[i])[0], abs=1e-12)
    assert np.isnan(qs.pearson(np.ones(5), np.arange(5.0)))


def test_clean_excerpt_from_the_offset_or_from_the_start() -> None:
    from percloss import data

    raw = data.load_clip("piano_bach", qs.RATE).double().numpy()
    start = qs.clean_excerpt("piano_bach", 2.0, from_offset=False, normalize=False)
    assert np.array_equal(start, raw[: 2 * qs.RATE])  # the report's: the first seconds as loaded
    assert np.abs(qs.clean_excerpt("piano_bach", 2.0, from_offset=False)).max() == pytest.approx(1.0)
    assert len(qs.clean_excerpt("piano_bach", None, from_offset=False, normalize=False)) == len(raw)
    offset = float(data.clip_info("piano_bach").get("excerpt_offset_seconds", 0.0))
    study = qs.clean_excerpt("piano_bach", 2.0)
    first = int(qs.RATE * min(offset, len(raw) / qs.RATE - 2.0))
    assert len(study) == 2 * qs.RATE
    assert np.allclose(study * np.abs(raw[first : first + 2 * qs.RATE]).max(), raw[first : first + 2 * qs.RATE])


def _study_table(degradations: tuple[str, ...]) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    rows = []
    for clip, kind in (("s", "speech"), ("m", "music")):
        for d in degradations:
            for level in (1, 2, 3):
                quality = 4.0 - level + 0.1 * rng.standard_normal()
                rows.append({"clip": clip, "kind": kind, "degradation": d, "level_index": level, "pesq": quality,
                             "estoi": 0.2 * quality, "visqol": quality + 0.3 * rng.standard_normal(),
                             "nmr_db": -quality, "snr_db": 10 * quality - 25, "cdpam": -0.1 * quality,
                             "vggish_framewise": 0.9 + 0.01 * quality, "vggish_mean": rng.uniform(0.9, 1.0),
                             "openl3_framewise": 0.99 - 0.001 * level, "openl3_mean": rng.uniform(0.98, 1.0)})
    return pd.DataFrame(rows)


def test_correlation_table_holds_each_pair_and_the_reports_value() -> None:
    table = _study_table(("noise", "bitrate", "bitdepth"))
    out = qs.correlation_table(table, {"vggish": True, "openl3": False}, n_boot=200)
    assert len(out) == 2 * 2 * 4 + 4
    row = out.loc[("vggish (pretrained), framewise", "PESQ")]
    r = qs.correlations(table, "vggish_framewise", "pesq", n_boot=200)
    assert row["n"] == 18 and row["Pearson"].startswith(f"{r['pearson']:.3f} [")
    assert row["Pearson"].startswith("1.000")  # a linear function of PESQ
    assert row["report (Pearson)"] == qs.REPORT_CORRELATIONS[("vggish", "pesq")]
    assert out.loc[("openl3 (random-feature control), mean", "ESTOI"), "report (Pearson)"] == 0.670
    assert np.isnan(out.loc[("vggish (pretrained), framewise", "ViSQOL"), "report (Pearson)"])
    cdpam = out.loc[("CDPAM distance (pretrained)", "PESQ")]
    assert cdpam["Pearson"].startswith("-1.000") and np.isnan(cdpam["report (Pearson)"])


def test_findings_say_what_the_table_and_the_weights_allow() -> None:
    report = pd.DataFrame({"openl3": [0.94, 0.99], "vggish": [0.80, 0.96]})
    table = _study_table(("noise", "bitrate", "bitdepth"))
    control = qs.findings(table, {"vggish": False, "openl3": False}, report)
    assert len(control) == 5  # no reverberation and clipping here: no bullet on them
    assert control[0].startswith("*Embedding weights:* vggish (random-feature control), openl3 (random-feature "
                                 "control). Over this build's 18 pairs")
    assert "the report's pretrained OpenL3 similarities lie between 0.9400 and 0.9900 (mean 0.9650 over its 2 " \
           "rows)".lower() in control[0].lower()
    assert "With random weights" in control[1] and "With random weights" in control[2]
    assert "PESQ vs ESTOI 1.00, PESQ vs NMR -1.00" in control[4]
    pretrained = qs.findings(table, {"vggish": True, "openl3": True}, report)
    assert "With random weights" not in pretrained[1]
    every = qs.findings(_study_table(("noise", "clipping", "reverb")), {"vggish": True, "openl3": True}, report)
    assert len(every) == 6 and every[5].startswith("*Reverberation and clipping*")
    assert "SNR is negative for 8 of the 12 reverberation and clipping pairs" in every[5]
