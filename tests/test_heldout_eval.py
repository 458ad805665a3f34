"""The held-out evaluation's bookkeeping: rows per segment, achieved rates, anchors at a model's rate, song-level
intervals (the scores themselves are the scorers', tested elsewhere)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from percloss.codec import CascadedCodec
from percloss.experiments import heldout_eval as he


def _rows(song: str, segment: int, model: tuple[float, float], mp3: list[tuple[float, float]]) -> list[dict]:
    base = {"song": song, "group": "g", "segment": segment, "sample_rate": 32000}
    rows = [{**base, "system": "D64", "point": "D64", "target_kbps": 64.0, "kbps": model[0], "visqol": model[1]}]
    rows += [{**base, "system": "MP3", "point": f"MP3 {k:g}", "target_kbps": k, "kbps": k, "visqol": v}
             for k, v in mp3]
    return rows


def test_an_anchor_is_read_at_the_models_achieved_rate_between_its_ladder_rows() -> None:
    rows = _rows("s", 0, (72.0, 4.0), [(64.0, 4.2), (80.0, 4.6)])
    assert he.anchor_at_rate(rows, "MP3", "s", 0, 32000, 72.0, "visqol") == pytest.approx(4.4)
    assert math.isnan(he.anchor_at_rate(rows, "MP3", "s", 0, 32000, 90.0, "visqol"))  # beyond the ladder
    diffs = he.song_differences(rows, "D64", "MP3", "visqol")
    assert diffs == {"s": [pytest.approx(-0.4)]}


def test_song_intervals_resample_songs_not_segments() -> None:
    rows = []
    for song, gap in (("a", -0.5), ("b", 0.1)):
        for k in range(20):  # twenty near-identical segments per song
            rows += _rows(song, k, (64.0, 4.0 + gap + 1e-3 * k), [(56.0, 4.0), (80.0, 4.0)])
    diffs = he.song_differences(rows, "D64", "MP3", "visqol")
    interval = he.song_interval(diffs)
    # two songs: the interval spans the two song means, however many segments each has
    assert interval.low == pytest.approx(-0.5 + 0.0095, abs=1e-9) and interval.high == pytest.approx(0.1095)
    with pytest.raises(ValueError, match="no rows of system"):
        he.song_differences(rows, "C64", "MP3", "visqol")


def test_a_song_gets_every_model_and_every_anchor_rate_per_segment(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    monkeypatch.setattr(he, "score_segment", lambda x, y, rate: {m: 0.0 for m in he.MEASURES if m != "kbps"})
    monkeypatch.setattr(he, "LADDERS", {16000: (32, 64)})
    torch.manual_seed(0)
    codec = CascadedCodec(1).eval()
    counts = [torch.ones(32, dtype=torch.float64)]
    segments = {16000: [torch.randn(16000) * 0.1 for _ in range(2)]}
    rows = he.evaluate_song("s", "g", segments, {"D64": (codec, counts, 16000)})
    assert [(r["segment"], r["point"]) for r in rows] == [
        (k, p) for k in (0, 1) for p in ("D64", "MP3 32", "Opus 32", "MP3 64", "Opus 64")]
    d64 = [r for r in rows if r["system"] == "D64"]
    # 34 frames x 256 codes at log2(32) = 5 bits, plus the header: about 44 kbit/s for one second
    assert all(40 < r["kbps"] < 48 for r in d64)
    assert all(abs(r["kbps"] - r["target_kbps"]) < 0.1 * r["target_kbps"] for r in rows if r["system"] != "D64")


def _claim_rows(songs: int, c_gain: float) -> list[dict]:
    """Rows of C64, A64 and an MP3 ladder on ``songs`` songs of two segments; C64 better than A64 by
    ``c_gain`` ViSQOL and by c_gain / 10 CDPAM, MP3 always 0.5 ViSQOL above C64."""
    rows = []
    for s in range(songs):
        for k in range(2):
            base = {"song": f"s{s}", "group": f"g{s % 3}", "segment": k, "sample_rate": 32000}
            jitter = 0.01 * ((s * 7 + k) % 5)
            for system, visqol, cdpam in (("C64", 4.0 + c_gain + jitter, 0.05 - c_gain / 10),
                                          ("A64", 4.0 + jitter, 0.05)):
                rows.append({**base, "system": system, "point": system, "target_kbps": 64.0, "kbps": 66.0,
                             "visqol": visqol, "cdpam": cdpam, "nmr_db": 0.0})
            for rate in (56.0, 80.0):
                rows.append({**base, "system": "MP3", "point": f"MP3 {rate:g}", "target_kbps": rate, "kbps": rate,
                             "visqol": 4.5 + c_gain + jitter, "cdpam": 0.01, "nmr_db": -10.0})
    return rows


def test_heldout_claims_follow_the_rule_and_wait_for_enough_songs() -> None:
    from percloss.experiments import codec_claims as cc

    specs = [s for s in cc.CLAIMS if (s.a, s.b) in {("C64", "A64"), ("D64", "C64")}]
    claims = {c.claim: c for c in he.heldout_claims(_claim_rows(12, 0.3), specs)}
    c_vs_a = claims[specs[0].claim]
    assert c_vs_a.verdict.startswith("reproduced: ViSQOL, CDPAM favour C64"), c_vs_a.verdict
    assert "12 songs, 24 segments" in c_vs_a.measured
    assert claims[specs[1].claim].verdict.startswith("not tested here (D64:")  # no D64 rows
    few = he.heldout_claims(_claim_rows(5, 0.3), specs[:1])[0]
    assert few.verdict.startswith("not tested here (5 of the held-out songs evaluated so far; the rule needs 12; "
                                  "it would give: reproduced")
    mixed = he.heldout_claims([dict(r, cdpam=0.05) if r["system"] == "C64" else r for r in _claim_rows(12, 0.3)],
                              specs[:1])[0]
    assert mixed.verdict.startswith("mixed: ViSQOL favours C64; CDPAM does not")


def test_an_mp3_claim_reads_the_ladder_at_the_scaled_achieved_rate() -> None:
    rows = _claim_rows(3, 0.0)
    for r in rows:
        if r["system"] == "MP3":
            r["visqol"] = 4.0 if r["kbps"] == 56.0 else 5.0  # rises 1/24 per kbit/s
    same = he.song_differences_scaled(rows, "C64", "MP3", "visqol", 1.0)  # read at 66 kbit/s: 4.4167
    scaled = he.song_differences_scaled(rows, "C64", "MP3", "visqol", 72 / 64)  # at 74.25 kbit/s: 4.7604
    c64 = {(r["song"], r["segment"]): r["visqol"] for r in rows if r["system"] == "C64"}
    assert same["s0"][0] == pytest.approx(c64["s0", 0] - (4.0 + 10 / 24))
    assert scaled["s0"][0] == pytest.approx(c64["s0", 0] - (4.0 + 18.25 / 24))
    groups = he.group_differences(rows, "C64", "A64", "visqol")
    assert set(groups) == {"g0", "g1", "g2"} and all(n == 1 for n, _ in groups.values())


def test_a_curve_has_flattened_when_its_last_quarter_moves_less_than_the_tolerance() -> None:
    falling = [1.0 - 0.001 * i for i in range(100)]  # quarter means: steps 50-74 0.938, steps 75-99 0.913
    assert he.last_quarter_change(falling) == pytest.approx((0.913 - 0.938) / 0.938)
    flat = [1.0] * 50 + [0.5] * 50
    assert he.last_quarter_change(flat) == 0.0
    with pytest.raises(ValueError, match="at least 8"):
        he.last_quarter_change([1.0] * 7)
    assert "A64 at 7500 steps" in he.training_state("A64")


def test_one_evaluated_song_gives_means_without_intervals_and_no_verdict() -> None:
    from percloss.experiments import codec_claims as cc

    spec = next(s for s in cc.CLAIMS if (s.a, s.b) == ("C64", "A64"))
    claim = he.heldout_claims(_claim_rows(1, 0.3), [spec])[0]
    assert claim.verdict == "not tested here (1 of the held-out songs evaluated so far; the rule needs 12)"
    assert "ViSQOL a − b +0.30 (1 song, 2 segments; no interval)" in claim.measured


def test_the_mechanism_row_shows_the_audible_frames_and_never_decides() -> None:
    rows = []
    for s in range(3):
        for system, fraction in (("D64", 0.10 + 0.01 * s), ("C64", 0.20)):
            rows.append({"song": f"s{s}", "group": "g", "segment": 0, "sample_rate": 32000, "system": system,
                         "point": system, "target_kbps": 64.0, "kbps": 64.0, "audible_fraction": fraction})
    row = he.mechanism_row(rows, "D64", "C64")
    assert row.measured.startswith("a − b -0.090 [") and "(3 songs)" in row.measured
    assert row.verdict.startswith("not tested here (a diagnostic: model 1 judges")
    assert he.mechanism_row(rows, "D96", "C96").verdict.endswith("D96 or C96 has no rows)")


def test_the_per_song_and_per_group_tables_hold_the_differences_behind_the_verdicts() -> None:
    """C64 − A64 is +0.3 ViSQOL and -0.03 CDPAM on every segment (the jitter is shared), so every song's and
    every group's mean is that; a claim whose side has no rows has no column; one song out of the anchor's
    ladder is None in the song table and absent from its group's mean."""
    from percloss.experiments import codec_claims as cc

    rows = _claim_rows(4, 0.3)
    specs = [s for s in cc.CLAIMS if (s.a, s.b) in {("C64", "A64"), ("D64", "C64")}]
    assert he.claim_pairs(rows, specs) == [("C64", "A64", 1.0)]  # D64 has no rows
    table = {(r["a − b"], r["judge"]): r for r in he.song_table(rows, [("C64", "A64", 1.0), ("C64", "MP3", 1.0)])}
    visqol = table["C64 − A64", "ViSQOL"]
    assert [visqol[f"s{s}"] for s in range(4)] == [pytest.approx(0.3)] * 4
    assert table["C64 − A64", "CDPAM"]["s2"] == pytest.approx(-0.03)
    # against MP3 at C64's 66 kbit/s: 0.5 below on every segment, whatever the song
    assert table["C64 − MP3", "ViSQOL"]["s1"] == pytest.approx(-0.5)
    moved = [dict(r, kbps=90.0) if r["song"] == "s0" and r["system"] == "C64" else r for r in rows]
    song_row = next(r for r in he.song_table(moved, [("C64", "MP3", 1.0)]) if r["judge"] == "ViSQOL")
    assert song_row["s0"] is None and song_row["s3"] == pytest.approx(-0.5)
    groups = {(r["a − b"], r["judge"]): r for r in he.group_table(moved, [("C64", "MP3", 1.0)])}
    assert groups["C64 − MP3", "ViSQOL"]["g0"] == (pytest.approx(-0.5), 1)  # s3 only: s0 is out of reach
    assert groups["C64 − MP3", "ViSQOL"]["g1"] == (pytest.approx(-0.5), 1)
    assert he.song_table(rows, [("C64", "MP3", 112 / 96)])[0]["a − b"] == "C64 − MP3 (read at 1.17 × C64's rate)"


def test_a_verdict_states_whether_the_judges_had_flattened_where_snapshots_were_scored() -> None:
    from percloss.experiments import codec_claims as cc

    spec = [s for s in cc.CLAIMS if (s.a, s.b) == ("C64", "A64")]
    curves = [{"point": "C64", "step": step, "visqol": v, "cdpam": 0.05, "kbps": 64.0, "songs": 12}
              for step, v in ((3750, 3.9), (7500, 4.3))] + \
             [{"point": "A64", "step": 7500, "visqol": 4.0, "cdpam": 0.05, "kbps": 64.0, "songs": 12}]
    claim = he.heldout_claims(_claim_rows(12, 0.3), spec, curves=curves)[0]
    # C64 moved +0.2 ViSQOL per quarter (past the 0.1 margin); A64 has its end only and gets no judged trend
    assert "C64 by the judges not flattened (ViSQOL +0.200, CDPAM +0.000 per quarter of training since step 3750)" \
        in claim.measured
    assert "A64 by the judges" not in claim.measured
    assert claim.verdict.startswith("reproduced")  # the curves qualify a verdict, they never change it
    plain = he.heldout_claims(_claim_rows(12, 0.3), spec)[0]
    assert plain.verdict == claim.verdict and "by the judges" not in plain.measured


def test_a_written_table_reads_back_with_its_text_and_numbers_and_its_record(tmp_path: Path) -> None:
    import json

    rows = [{"song": "s", "group": "g", "system": "D64", "point": "D64", "segment": 1, "kbps": 63.5}]
    he.write_table(tmp_path / "s.csv", ("song", "group", "system", "point", "segment", "kbps"), rows, {"song": "s"})
    record = json.loads((tmp_path / "s.json").read_text())
    assert record["song"] == "s" and record["rows"] == 1 and len(record["csv_sha256"]) == 64
    assert he.read_tables(tmp_path, ("song", "segment", "kbps")) == [{"song": "s", "segment": 1.0, "kbps": 63.5}]
    (tmp_path / "s.csv").write_text((tmp_path / "s.csv").read_text().replace("63.5", "64.5"))
    with pytest.raises(ValueError, match="does not match the SHA-256"):
        he.read_tables(tmp_path, ("song",))


def test_a_broad_collection_is_scored_without_ladders_and_compared_with_the_codec_rows_anchors(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``run(collection="broad")`` codes each segment with the broad models only (system ``broad/A64``, point
    ``A64``); :func:`anchor_comparison` reads MP3 from the codec collection's rows at the broad model's rate."""
    from percloss import data, shipped
    from percloss.codec import save_codec

    monkeypatch.setattr(he, "score_segment", lambda x, y, rate: {m: 1.0 for m in he.MEASURES if m != "kbps"})
    monkeypatch.setenv("PERCLOSS_MODELS", str(tmp_path / "m"))
    torch.manual_seed(0)
    codec = CascadedCodec(1, zero_preserving=True)
    sha = save_codec(tmp_path / "m" / "broad" / "A64.codec", codec, [torch.ones(32)], 16000, "A64", "untrained")
    (tmp_path / "m" / "broad" / "manifest.json").write_text(json.dumps(
        {"A64": {"file": "A64.codec", "sha256": sha, "sample_rate": 16000, "n_modules": 1}}))
    assert list(shipped.shipped_models("broad")) == ["A64"]
    segments = {f"s{i}": [0.1 * torch.randn(16000) for _ in range(2)] for i in range(3)}
    monkeypatch.setattr(data, "heldout_manifest", lambda: {s: {"group": "g", "sha256": "x"} for s in segments})
    monkeypatch.setattr(data, "heldout_set", lambda rate: segments)
    he.run(tmp_path / "broad" / "A64", collection="broad", progress=False)
    rows = he.read_rows(tmp_path / "broad" / "A64")
    assert he.read_collection_rows(tmp_path / "broad") == rows
    assert {(r["system"], r["point"], r["target_kbps"]) for r in rows} == {("broad/A64", "A64", 64.0)}
    assert len(rows) == 6
    he.run(tmp_path / "broad" / "A64", collection="broad", progress=False)  # recorded: nothing is redone
    assert he.read_rows(tmp_path / "broad" / "A64") == rows
    # a finished run that has not shipped is scored from its file, under the same system name
    unshipped = tmp_path / "run" / "A64.codec"
    save_codec(unshipped, codec, [torch.ones(32)], 16000, "A64", "untrained")
    he.run(tmp_path / "unshipped", ["A64"], collection="broad", progress=False, checkpoint=unshipped)
    assert {r["system"] for r in he.read_rows(tmp_path / "unshipped")} == {"broad/A64"}
    with pytest.raises(ValueError, match="checkpoint needs"):
        he.run(tmp_path / "x", None, collection="broad", progress=False, checkpoint=unshipped)
    anchors = [{**r, "system": "MP3", "point": f"MP3 {k}", "kbps": float(k), "visqol": v, "cdpam": 0.0}
               for r in rows for k, v in ((32, 3.0), (64, 5.0))]
    out = he.anchor_comparison(rows + anchors, "broad/A64", ("MP3",))
    assert out["songs"] == 3 and out["visqol"] == 1.0 and 40 < out["kbps"] < 48
    expected = 1.0 - (3.0 + 2.0 * (out["kbps"] - 32) / 32)  # MP3 interpolated at the achieved rate
    assert out["visqol_vs_MP3"].estimate == pytest.approx(expected, abs=0.05)


def test_the_collection_table_sets_a_broad_model_against_the_anchors_and_its_codec_corpus_namesake() -> None:
    rows = []
    for song, gap in (("a", 0.2), ("b", 0.4)):
        for k in range(2):
            base = {"song": song, "group": "g", "segment": k, "sample_rate": 32000, "cdpam": 0.1}
            rows.append({**base, "system": "broad/D64", "point": "D64", "target_kbps": 64.0, "kbps": 64.0,
                         "visqol": 4.0})
            rows.append({**base, "system": "D64", "point": "D64", "target_kbps": 64.0, "kbps": 60.0,
                         "visqol": 4.0 - gap})
            rows += [{**base, "system": "MP3", "point": f"MP3 {r}", "target_kbps": float(r), "kbps": float(r),
                      "visqol": 4.5} for r in (56, 80)]
    (row,) = he.collection_table(rows, ["broad/D64"])
    assert row["ViSQOL − MP3"] == "-0.50 [-0.50, -0.50]"
    assert row["ViSQOL − D64"] == "+0.30 [+0.20, +0.40]"
    assert row["ViSQOL − Opus"] == "—" and row["songs"] == "2" and row["kbit/s"] == "64.0"


def test_clips_keep_the_ladders_once_and_each_model_in_its_own_folder(monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    """run_clips: the ladders at the anchor rates go to ``anchors/`` once; each shipped model to its own folder,
    so shipping another model adds its rows without recoding the ladders."""
    from percloss import data
    from percloss.codec import save_codec

    scored: list[int] = []

    def score(x: torch.Tensor, y: torch.Tensor, rate: int) -> dict[str, float]:
        scored.append(rate)
        return {m: 0.0 for m in he.MEASURES if m != "kbps"}

    monkeypatch.setattr(he, "score_segment", score)
    monkeypatch.setattr(he, "LADDERS", {16000: (32, 64)})
    monkeypatch.setenv("PERCLOSS_MODELS", str(tmp_path / "m"))
    clip = torch.randn(16000) * 0.1
    monkeypatch.setattr(data, "load_clip", lambda name, rate=None: clip)
    monkeypatch.setattr(data, "clip_info", lambda name: {"sha256": "c", "kind": "speech"})
    manifest: dict[str, dict] = {}

    def ship(name: str) -> None:
        torch.manual_seed(len(manifest))
        codec = CascadedCodec(1, zero_preserving=True)
        sha = save_codec(tmp_path / "m" / "broad" / f"{name}.codec", codec, [torch.ones(32)], 16000, name, "t")
        manifest[name] = {"file": f"{name}.codec", "sha256": sha, "sample_rate": 16000, "n_modules": 1}
        (tmp_path / "m" / "broad" / "manifest.json").write_text(json.dumps(manifest))

    ship("A64")
    he.run_clips(tmp_path / "clips", ["one"], anchor_rates=(16000,), progress=False)
    assert len(scored) == 5  # four ladder rows (MP3, Opus at 32 and 64) and the model
    ship("C64")
    he.run_clips(tmp_path / "clips", ["one"], anchor_rates=(16000,), progress=False)
    assert len(scored) == 6  # only C64 is new
    models = he.read_collection_rows(tmp_path / "clips")
    assert sorted(r["system"] for r in models) == ["broad/A64", "broad/C64"]
    assert sorted(r["point"] for r in he.read_rows(tmp_path / "clips" / "anchors")) == [
        "MP3 32", "MP3 64", "Opus 32", "Opus 64"]
