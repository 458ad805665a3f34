"""Chapter 4's claims: pairing by sample rate, anchors interpolated at a model's rate, verdicts, and the reasons
a point of the work is missing (all on synthetic tables; no codec runs)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from percloss import shipped
from percloss.codec import CascadedCodec, CodecModule, count_parameters
from percloss.codec_runs import POINTS
from percloss.experiments import codec_claims as cc
from percloss.experiments import codec_evaluation as ce
from percloss.experiments import codec_study as cs
from percloss.experiments.claims import check_verdict, comparison_verdict

HIGH_RATE_MODELS = ("C96", "D96", "C112", "D112")


def _row(item: str, point: str, system: str, sample_rate: int, kbps: float, split: str = cs.SEGMENT,
         **measures: float) -> dict[str, Any]:
    return {"item": item, "split": split, "sample_rate": sample_rate, "system": system, "point": point,
            "kbps": kbps, **measures}


def test_full_mode_pairs_only_systems_at_one_sample_rate() -> None:
    points = cs.CodecStudyConfig.for_mode("full").points
    assert points == cs.WORK_POINTS and len(points) == 10
    pairs = [(c.a, c.b) for c in cc.CLAIMS] + list(cc.COMPARISONS)
    for a, b in pairs:
        sa, sb = cc.claim_pair(a, b, points)
        assert sa.sample_rate == sb.sample_rate, (a, b)
        if a in HIGH_RATE_MODELS or b in HIGH_RATE_MODELS:
            assert sa.sample_rate == sb.sample_rate == 44100, (a, b)
    partners = {b for a, b in pairs if a in HIGH_RATE_MODELS} | {a for a, b in pairs if b in HIGH_RATE_MODELS}
    assert partners >= {"A168", "C96", "C112", "MP3 112 @44k"}  # the high-bitrate set pairs among itself
    assert cc.claim_pair("D112", "MP3 112 @44k", points)[1] == cc.System("MP3 112 @44k", "MP3112_44k", 44100,
                                                                         112.0, "MP3")
    assert cc.claim_pair("D64", "MP3 64 @32k", points)[0].key == "D64_32k_1m"
    for high in HIGH_RATE_MODELS:  # the old letter-only pairing set C96 against A79 at 32 kHz
        for low in ("A64", "A79", "B79", "C64", "D64", "MP3 64 @32k", "Opus 64 @32k"):
            with pytest.raises(ValueError, match="different sample rates"):
                cc.claim_pair(high, low, points)
    with pytest.raises(KeyError):
        cc.claim_pair("D64", "MP3 64 @16k", points)  # no point at 16 kHz: no such anchor
    with pytest.raises(KeyError):
        cc.claim_pair("D64", "E64", points)


def test_paired_difference_refuses_systems_at_different_sample_rates() -> None:
    rows = [_row(f"s@{6 * i}s", "C96_44k_1m", "C", 44100, 96, nmr_db=-5.0) for i in range(3)]
    rows += [_row(f"s@{6 * i}s", "A79_32k_2m", "A", 32000, 79, nmr_db=-4.0) for i in range(3)]
    with pytest.raises(ValueError, match="different sample rates"):
        cc.paired_difference(rows, "C96_44k_1m", "A79_32k_2m", "nmr_db")
    rows += [_row(f"s@{6 * i}s", "MP3112_44k", "MP3", 44100, 112, nmr_db=-6.0) for i in range(3)]
    assert cc.paired_difference(rows, "C96_44k_1m", "MP3112_44k", "nmr_db").mean == pytest.approx(1.0)


def _ladder(item: str, sample_rate: int = 32000, system: str = "MP3", cdpam_from: float = 64.0
            ) -> list[dict[str, Any]]:
    """An anchor ladder at 48, 64 and 80 kbit/s: NMR -5, -9, -13 dB; ViSQOL 3.0, 3.4, 3.8; CDPAM from 64 up."""
    out = []
    for k in (48.0, 64.0, 80.0):
        m: dict[str, float] = {"nmr_db": -5 - (k - 48) / 4, "visqol": 3 + (k - 48) / 40}
        if k >= cdpam_from:
            m["cdpam"] = 0.5 - k / 200
        out.append(_row(item, f"{system}{k:g}_{sample_rate // 1000}k", system, sample_rate, k, **m))
    return out


def test_interpolated_difference_per_segment_at_the_models_rate() -> None:
    rows = []
    for i, (kbps, nmr) in enumerate(((56.0, -6.0), (72.0, -12.0), (90.0, -20.0))):
        item = f"s@{6 * i}s"
        rows += _ladder(item)
        rows.append(_row(item, "D64_32k_1m", "D", 32000, kbps, nmr_db=nmr, visqol=3.0, cdpam=0.1))
    rows += _ladder("s@0s", sample_rate=44100)  # another sample rate: never on the ladder
    rows += [{**r, "nmr_db": 99.0} for r in _ladder("s@0s", system="Opus")]  # another anchor
    rows.append(_row("clip", "D64_32k_1m", "D", 32000, 56.0, split=cs.CLIP, nmr_db=0.0, visqol=1.0))
    d = cc.interpolated_difference(rows, "D64_32k_1m", "MP3", "nmr_db", split=cs.SEGMENT)
    # 56 kbit/s: MP3 -7 dB (half way from 48 to 64), D64 -6: +1; 72 kbit/s: MP3 -11, D64 -12: -1; 90: off the ladder
    assert d.items == 2 and d.mean == pytest.approx(0.0) and d.a_better == 1
    assert (d.low, d.high) == pytest.approx((-1.0, 1.0)) and d.b == "MP3 at D64_32k_1m's rate"
    vq = cc.interpolated_difference(rows, "D64_32k_1m", "MP3", "visqol", split=cs.SEGMENT)
    assert vq.mean == pytest.approx(np.mean([3.0 - 3.2, 3.0 - 3.6])) and vq.verdict == "b"
    # CDPAM stored from 64 kbit/s up: at 56 kbit/s one neighbour has none, so only the 72 kbit/s segment counts
    cd = cc.interpolated_difference(rows, "D64_32k_1m", "MP3", "cdpam", split=cs.SEGMENT)
    assert cd.items == 1 and cd.mean == pytest.approx(0.1 - (0.5 - 72 / 200))
    # the claim's ratio of rates: twice a model's 28 kbit/s is 56
    half = [{**r, "kbps": r["kbps"] / 2} if r["point"] == "D64_32k_1m" else r for r in rows]
    assert cc.interpolated_difference(half, "D64_32k_1m", "MP3", "nmr_db", cs.SEGMENT, scale=2.0).mean == \
        pytest.approx(0.0)
    assert cc.interpolated_difference(rows, "D64_32k_1m", "Opus", "nmr_db", cs.SEGMENT).items == 1  # s@0s only
    with pytest.raises(ValueError, match="ladder"):
        cc.interpolated_difference(rows, "D64_32k_1m", "MP3", "nmr_db", split=cs.CLIP)  # no ladder for the clip
    with pytest.raises(ValueError, match="anchor"):
        cc.interpolated_difference(rows, "D64_32k_1m", "AAC", "nmr_db")
    with pytest.raises(ValueError, match="several sample rates"):
        cc.interpolated_difference(rows + [_row("x", "D64_32k_1m", "D", 44100, 60.0, nmr_db=0.0)], "D64_32k_1m",
                                   "MP3", "nmr_db")
    assert cc.rate_gap(70.0, 64.0, 64, 64) == pytest.approx(6 / 64)
    assert cc.rate_gap(96.0, 112.0, 96, 112) == 0.0  # at the claim's own ratio


def _study_rows(d64_kbps: float, noise: float = 0.05) -> list[dict[str, Any]]:
    """24 segments: an MP3 ladder, D64 at ``d64_kbps`` with NMR -10 dB, ViSQOL 3.45; C64 and A64 at 64."""
    rows = []
    for i in range(24):
        item = f"s@{6 * i}s"
        rows += _ladder(item)
        e = noise * (-1) ** i * (1 + i % 3)  # spread with mean 0
        rows.append(_row(item, "D64_32k_1m", "D", 32000, d64_kbps, nmr_db=-10.0 + e, visqol=3.45 - e / 10))
        rows.append(_row(item, "C64_32k_1m", "C", 32000, 64.0, nmr_db=-8.0 + e, visqol=3.3))
        rows.append(_row(item, "A64_32k_1m", "A", 32000, 50.0, nmr_db=-7.0 + e, visqol=3.2))
    return rows


def _config(mode: str = "standard") -> cs.CodecStudyConfig:
    points = tuple(POINTS[f"{m}64"] for m in "ACD")
    return replace(cs.CodecStudyConfig.for_mode(mode), points=points)


def test_an_anchor_at_another_rate_is_interpolated_at_the_models_rate_and_decides() -> None:
    mp3 = (cc.ClaimSpec("D64 as good as MP3 64", "low", "D64", "MP3 64 @32k", "as good"),)
    # D64 at 64 kbit/s: the direct comparison decides (NMR -1 dB, ViSQOL +0.05: D64 better)
    (at_rate,) = cc.codec_claims(_study_rows(64.0), _config(), claims=mp3)
    assert at_rate.verdict == "reproduced" and "interpolated" not in at_rate.measured
    # D64 at 70 kbit/s (9.4 % above MP3 64): against MP3 at 64 D64 still looks better, but against MP3
    # interpolated at 70 kbit/s (NMR -10.5 dB, ViSQOL 3.55) it is worse, and that decides
    (off,) = cc.codec_claims(_study_rows(70.0), _config(), claims=mp3)
    assert "NMR a − b -1.00" in off.measured  # the direct difference is still shown
    assert "file rates 9.4% off the claim's" in off.measured and "MP3 interpolated per segment" in off.measured
    assert "NMR a − b +0.50" in off.measured and "(24 segments)" in off.measured
    assert off.verdict == "not reproduced: the NMR, ViSQOL intervals favour MP3 64 @32k"
    # two models off the claim's rates: no ladder to interpolate a model on, so not tested
    (models,) = cc.codec_claims(_study_rows(64.0), _config(), claims=(
        cc.ClaimSpec("C64 better than A64", "low", "C64", "A64", "better"),))
    assert models.verdict.startswith("not tested here (the file rates are 28.0% off the claim's")
    check_verdict(models.verdict)
    with pytest.raises(ValueError, match="different sample rates"):  # a mis-specified claim never runs
        cc.codec_claims(_study_rows(64.0), _config(), claims=(cc.ClaimSpec("x", "y", "D64", "MP3 112 @44k",
                                                                           "as good"),))


def test_the_verdict_rule() -> None:
    assert comparison_verdict("better", {"NMR": "a", "ViSQOL": "a", "CDPAM": "a"}) == "reproduced"
    assert comparison_verdict("better", {"NMR": "a", "ViSQOL": "tie"}, "C64", "A64") == \
        "not reproduced: the ViSQOL interval does not favour C64"
    assert comparison_verdict("better", {"NMR": "b", "ViSQOL": "tie"}, "C64", "A64") == \
        "not reproduced: the NMR, ViSQOL intervals do not favour C64"
    # "as good": every available interval counts, CDPAM included; a tie is as good
    assert comparison_verdict("as good", {"NMR": "tie", "ViSQOL": "a"}) == "reproduced"
    assert comparison_verdict("as good", {"NMR": "tie", "ViSQOL": "a", "CDPAM": "b"}, "D64", "MP3 64") == \
        "not reproduced: the CDPAM interval favours MP3 64"
    assert comparison_verdict("as good", {"NMR": "b", "ViSQOL": "b"}, "D64", "MP3 64") == \
        "not reproduced: the NMR, ViSQOL intervals favour MP3 64"
    assert comparison_verdict("better", {"NMR": "a"}, untested="A79: not shipped") == \
        "not tested here (A79: not shipped)"
    for outcomes in ({"NMR": "a"}, {"NMR": "b"}, {"NMR": "tie"}):
        for kind in ("better", "as good"):
            check_verdict(comparison_verdict(kind, outcomes))
    with pytest.raises(ValueError, match="kind"):
        comparison_verdict("worse", {"NMR": "a"})
    with pytest.raises(ValueError, match="outcomes"):
        comparison_verdict("better", {})
    with pytest.raises(ValueError, match="outcomes"):
        comparison_verdict("better", {"NMR": "yes"})
    with pytest.raises(ValueError, match="reason"):
        comparison_verdict("better", {"NMR": "a"}, untested=" ")


def test_missing_systems_say_why_and_quick_mode_says_its_own_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shipped, "shipped_models", lambda: {name: {} for name in ("A64", "C64", "D64")})
    rows = _study_rows(64.0)
    claims = {c.claim.split(":")[0]: c for c in cc.codec_claims(rows, _config())}
    assert len(claims) == len(cc.CLAIMS)
    assert claims["D64 as good as B79"].verdict == f"not tested here (B79: {cs.not_shipped_reason('B79')})"
    assert claims["D64 as good as B79"].measured == "—"
    assert claims["D112 as good as MP3 112"].verdict.startswith(f"not tested here (D112: {cs.not_shipped_reason('D112')}")
    assert claims["D64 as good as C64 or better"].verdict == "reproduced"
    quick = _config("quick")
    for c in cc.codec_claims(rows, quick):  # tested or not, nothing of a quick build stands for the work
        assert c.verdict == f"not tested here ({cs.quick_reason(quick)})" and "collapsed" not in c.verdict
    assert "untrained" in cs.quick_reason(quick) and str(quick.schedule.steps) in cs.quick_reason(quick)
    # each row quotes the page's own sentence it tests: the conjecture for C against A at one rate and size,
    # the complementary losses for D against C, the aim to compete for MP3, the subjective tests otherwise
    sources = {c.claim.split(":")[0]: c.source for c in cc.codec_claims(rows, quick)}
    quoted = {key: [claim for claim, source in sources.items() if sentence in source]
              for key, sentence in cc.PAGE_SENTENCES.items()}
    assert quoted["conjecture"] == ["C64 better than A64"]
    assert quoted["complementary"] == ["D64 as good as C64 or better", "D96 as good as C96 or better"]
    assert quoted["compete"] == [c for c in sources if "MP3" in c] and len(quoted["compete"]) == 3
    assert sorted(quoted["subjective"]) == sorted(c for c in sources if " A79" in c or " B79" in c or "A168" in c)
    assert sum(len(v) for v in quoted.values()) == len(cc.CLAIMS)  # one sentence per row
    assert not any("MUSHRA" in source for source in sources.values())
    # the listening panel's missing systems, from the same reasons
    shown = ["reference", "A64", "C64", "D64", "MP3 64 kbit/s", "Opus 64 kbit/s"]
    assert cc.listening_absent(shown, _config()) == [("A79", cs.not_shipped_reason("A79")), ("B79", cs.not_shipped_reason("B79"))]
    assert cc.listening_absent(shown, quick) == [("A79", cs.quick_reason(quick)), ("B79", cs.quick_reason(quick))]
    assert cc.listening_absent([*shown, "A79", "B79"], _config()) == []


def test_every_point_of_the_work_ships_or_says_why() -> None:
    assert count_parameters(CodecModule()) == 448_832  # the autoencoder
    assert count_parameters(CascadedCodec(1)) == 448_832 + 33  # + 32 centroids and the sharpness
    standard = cs.CodecStudyConfig.for_mode("standard")
    table = cs.operating_points_table(standard)
    assert [r["point"] for r in table] == list(POINTS) and len(table) == 10
    manifest = shipped.shipped_models()
    for r in table:
        point = POINTS[r["point"]]
        assert (r["sample rate (kHz)"], r["kbit/s (target)"], r["modules"]) == (
            point.sample_rate / 1000, point.kbps, point.n_modules)
        assert r["parameters"] == count_parameters(CascadedCodec(point.n_modules))
        if r["point"] in manifest:
            entry = manifest[r["point"]]
            assert r["shipped"] == "yes" and r["parameters"] == entry["parameters"]
            assert r["held-out kbit/s (file)"] == entry["file_kbps_heldout"] and str(entry["steps"]) in r["training"]
            assert r["in this build"] == "evaluated (shipped model)"
        else:  # one place says why: the reasons dict
            assert r["shipped"] == f"no: {cs.not_shipped_reason(r['point'])}" and r["held-out kbit/s (file)"] is None
            assert r["in this build"] == f"not evaluated: {cs.not_shipped_reason(r['point'])}"
    assert set(cs.NOT_SHIPPED) <= set(POINTS)
    quick = cs.CodecStudyConfig.for_mode("quick")
    assert {r["in this build"] for r in cs.operating_points_table(quick)} == {cs.quick_reason(quick)}
    full = cs.CodecStudyConfig.for_mode("full")
    assert {r["in this build"] for r in cs.operating_points_table(full)} == {"trained and evaluated in this build"}


def test_stored_cdpam_span(tmp_path: Path) -> None:
    assert ce.cdpam_seconds(tmp_path) is None
    (tmp_path / "cdpam.json").write_text('{"cdpam_seconds": 2.0}')
    assert ce.cdpam_seconds(tmp_path) == 2.0


def test_a_run_under_way_is_named_with_its_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERCLOSS_RUNS", str(tmp_path))
    assert cs.not_shipped_reason("A168") == cs.NOT_SHIPPED["A168"]  # no run: the record's reason alone
    (tmp_path / "codec" / "A168").mkdir(parents=True)
    (tmp_path / "codec" / "A168" / "log.csv").write_text("step,kind\n" + "".join(f"{i},A\n" for i in range(1, 11)))
    assert cs.not_shipped_reason("A168") == (cs.NOT_SHIPPED["A168"] + "; a new run under the two-module schedule had "
                                            "reached step 10 of 7500 (`runs/codec/A168/`, resumable)")


def test_held_out_differences_pair_systems_and_read_anchors_at_each_models_rate() -> None:
    """Hand-computed: the MP3 ladder reads NMR -5 - (k - 48)/4 dB and ViSQOL 3 + (k - 48)/40 at k kbit/s, so A64
    at 50 kbit/s (NMR -7, ViSQOL 3.2) stands -1.5 dB and +0.15 from MP3 at 50, and D64 at 70 (-10, 3.45) +0.5 dB
    and -0.10 from MP3 at 70; pairs are a − b with how often a was better (lower NMR, higher ViSQOL)."""
    config = _config()
    lines = cc.held_out_differences(_study_rows(70.0, noise=0.0), (*config.points, *cs.WORK_POINTS), config.points)
    assert lines[0] == ("- **C64 − A64** (64.0 vs 50.0 kbit/s): NMR dB -1.00 [-1.00, -1.00], C64 better on 24/24; "
                        "ViSQOL +0.10 [+0.10, +0.10], C64 better on 24/24.")
    a64 = next(line for line in lines if line.startswith("- **A64 at its own 50.0 kbit/s**"))
    assert "NMR dB -1.50 [-1.50, -1.50] on 24 segments, ViSQOL +0.15 [+0.15, +0.15]" in a64
    assert a64.endswith("outside Opus's ladder.")  # no Opus rows at all
    d64 = next(line for line in lines if line.startswith("- **D64 at its own 70.0 kbit/s**"))
    assert "NMR -10.0 dB, ViSQOL 3.45" in d64 and "NMR dB +0.50 [+0.50, +0.50] on 24 segments" in d64
    assert "ViSQOL -0.10 [-0.10, -0.10]" in d64
    # a pair whose systems have no rows is left out
    assert not any(line.startswith("- **B79") for line in lines)
