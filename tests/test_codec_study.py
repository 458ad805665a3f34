"""The codec study: schedule sharing of C and D, shipped-checkpoint verification, rows and anchors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from percloss import paths
from percloss.anchors import mp3_bitrate_for
from percloss.codec import CascadedCodec, save_codec
from percloss.codec_runs import POINTS, RUN, RunConfig, RunPoint
from percloss.experiments import codec_claims as cc
from percloss.experiments import codec_evaluation as ce
from percloss.experiments import codec_study as cs
from percloss.experiments import stats


def test_operating_points_of_the_work() -> None:
    keys = {p.key for p in cs.WORK_POINTS}
    assert len(cs.WORK_POINTS) == 10 and "D112_44k_2m" in keys and "A64_32k_1m" in keys
    assert mp3_bitrate_for(64) == 64 and mp3_bitrate_for(79) == 80 and mp3_bitrate_for(168) == 160


def test_modes_scale_up() -> None:
    q, s, f = (cs.CodecStudyConfig.for_mode(m) for m in ("quick", "standard", "full"))
    assert q.schedule.steps < s.schedule.steps < f.schedule.steps and len(f.points) == 10
    assert f.schedule.lr == 2e-4 and f.schedule.batch == 128  # the work's schedule
    assert s.schedule == RUN  # standard mode's schedule is the shipped models' one
    assert not q.use_shipped and not f.use_shipped  # quick and full train; standard loads what ships
    assert s.use_shipped and s.points == cs.shipped_points() and {"C64", "D64"} <= {p.name for p in s.points}


def test_standard_mode_never_trains(tmp_path: Path) -> None:
    config = replace(cs.CodecStudyConfig.for_mode("standard"), points=(POINTS["A168"],))
    with pytest.raises(ValueError, match="no shipped model for A168"):
        cs.obtain_model(config.points[0], config, tmp_path)


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory: pytest.TempPathFactory) -> cs.CodecStudy:
    quick = cs.CodecStudyConfig.for_mode("quick")
    config = replace(quick, points=(RunPoint("C32", "C", 16000, 32, 1), RunPoint("D32", "D", 16000, 32, 1, "C32")),
                     schedule=replace(quick.schedule, steps=4),
                     eval_items=("speech_male",), eval_seconds=1.0, listen_items=("speech_male",), listen_seconds=0.5)
    return ce.run_study(config, tmp_path_factory.mktemp("codec"), progress=False)


def test_d_is_c_fine_tuned_with_equal_steps(tiny_study: cs.CodecStudy) -> None:
    c, d = tiny_study.models["C32_16k_1m"].log, tiny_study.models["D32_16k_1m"].log
    assert c is not None and d is not None
    assert c.kind == ["C"] * 4 and d.kind == ["C"] * 3 + ["D"]
    assert c.distortion[:3] == d.distortion[:3]  # the shared part is one run


def test_rows_cover_models_and_anchors_with_real_bitrates(tiny_study: cs.CodecStudy) -> None:
    systems = sorted(r["system"] for r in tiny_study.rows)
    assert systems == ["C", "D", "MP3", "Opus"]
    for r in tiny_study.rows:
        assert r["kbps"] > 0 and 0.0 <= r["audible_fraction"] <= 1.0 and 1.0 <= r["visqol"] <= 5.0
    mp3 = next(r for r in tiny_study.rows if r["system"] == "MP3")
    assert mp3["kbps"] == pytest.approx(32, rel=0.1)
    assert set(tiny_study.listening["speech_male"]) == {"reference", "C 32 kbit/s (1 module)",
                                                        "D 32 kbit/s (1 module)", "MP3 32 kbit/s", "Opus 32 kbit/s"}


def test_finished_checkpoints_are_reused(tiny_study: cs.CodecStudy, tmp_path: Path) -> None:
    config, point = tiny_study.config, tiny_study.config.points[0]
    model = cs._train(point, config, tmp_path, progress=False)
    again = cs._train(point, config, tmp_path, progress=False)
    assert again.seconds == 0.0 and "reused" in again.source and again.sha256 == model.sha256


def test_shipped_checkpoints_are_hash_verified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERCLOSS_MODELS", str(tmp_path))
    point = POINTS["A64"]
    assert cs.shipped_checkpoint(point) is None
    sha = save_codec(tmp_path / "a.codec", CascadedCodec(1), [torch.ones(32)], 32000, point.name, "test")
    entry = {"file": "a.codec", "sha256": sha, "sample_rate": 32000, "n_modules": 1, "log": "a.csv"}
    (tmp_path / "manifest.json").write_text(json.dumps({point.name: entry}))
    assert cs.shipped_checkpoint(point) == tmp_path / "a.codec"
    assert cs.shipped_checkpoint(replace(point, n_modules=2)) is None  # another point of the same name
    (tmp_path / "manifest.json").write_text(json.dumps({point.name: {**entry, "sha256": "0" * 64}}))
    with pytest.raises(ValueError, match="SHA-256"):
        cs.shipped_checkpoint(point)
    (tmp_path / "a.codec").unlink()
    with pytest.raises(ValueError, match="missing"):
        cs.shipped_checkpoint(point)


def test_anchor_interpolation(tiny_study: cs.CodecStudy) -> None:
    mp3 = next(r for r in cs.summary(tiny_study) if r["system"] == "MP3")
    assert cs.anchor_at(tiny_study, "MP3", 16000, mp3["kbps"], "nmr_db") == pytest.approx(mp3["nmr_db"])
    assert np.isnan(cs.anchor_at(tiny_study, "MP3", 16000, mp3["kbps"] + 50, "nmr_db"))
    assert np.isnan(cs.anchor_at(tiny_study, "Opus", 44100, 32, "nmr_db"))  # no anchor at that rate
    assert cs.anchor_at(tiny_study, "MP3", 16000, mp3["kbps"], "nmr_db", split=cs.CLIP) == pytest.approx(mp3["nmr_db"])
    assert np.isnan(cs.anchor_at(tiny_study, "MP3", 16000, mp3["kbps"], "nmr_db", split=cs.SEGMENT))


def test_the_shipped_clips_are_a_group_of_their_own(tiny_study: cs.CodecStudy) -> None:
    """The chapter tables the clips beside the held-out segments: each split has its own means and intervals."""
    clips = cs.summary(tiny_study, split=cs.CLIP, intervals=True)
    assert {r["system"] for r in clips} == {"C", "D", "MP3", "Opus"} and all(r["items"] == 1 for r in clips)
    assert all(r["nmr_db_low"] <= r["nmr_db"] <= r["nmr_db_high"] for r in clips)
    assert cs.summary(tiny_study, split=cs.SEGMENT) == []  # this study has no held-out segment


def test_segments_are_consecutive_cuts_of_the_held_out_excerpt() -> None:
    items = cs.segments(("mutilated_mime",), 3, 6.0)
    assert items == ("mutilated_mime@0s", "mutilated_mime@6s", "mutilated_mime@12s")
    songs = {"mutilated_mime": torch.arange(20 * 100, dtype=torch.float32)}  # 20 s at 100 Hz
    x, split = cs.eval_signal("mutilated_mime@6s", 100, 6.0, songs)
    assert split == "held-out segment" and torch.equal(x, torch.arange(600, 1200, dtype=torch.float64))
    assert cs.eval_signal("mutilated_mime", 100, 6.0, songs)[1] == "held-out song"
    with pytest.raises(ValueError, match="mutilated_mime@18s"):
        cs.eval_signal("mutilated_mime@18s", 100, 6.0, songs)  # runs past the excerpt's end


def test_standard_evaluation_has_24_held_out_segments_in_the_shipped_excerpts() -> None:
    config = cs.CodecStudyConfig.for_mode("standard")
    held_out = [i for i in config.eval_items if "@" in i]
    assert len(held_out) == 24 and config.eval_seconds == 6.0
    assert set(config.listen_items) <= set(held_out) and len(config.listen_items) == 4
    songs = cs.data.codec_corpus("heldout", 32000)
    for item in held_out:  # every segment lies inside its excerpt, none overlaps another
        x, split = cs.eval_signal(item, 32000, 6.0, songs)
        assert split == "held-out segment" and len(x) == 6 * 32000


def test_bootstrap_interval_matches_the_normal_theory() -> None:
    values = np.random.default_rng(1).standard_normal(400)
    mean, low, high = stats.bootstrap_mean(values)
    assert low < mean < high and mean == pytest.approx(values.mean())
    # for a mean of n standard normals the 95 % interval is about ±1.96 / sqrt(n)
    assert (high - low) / 2 == pytest.approx(1.96 * values.std() / np.sqrt(len(values)), rel=0.15)
    assert stats.bootstrap_mean(np.full(5, 2.5)) == (2.5, 2.5, 2.5)
    for bad in (np.array([]), np.array([1.0, np.nan]), np.ones((2, 2))):
        with pytest.raises(ValueError, match="values"):
            stats.bootstrap_mean(bad)


def _rows(point: str, values: list[float], split: str = "held-out segment") -> list[dict[str, object]]:
    return [{"item": f"s@{6 * i}s", "split": split, "point": point, "nmr_db": v, "visqol": -v}
            for i, v in enumerate(values)]


def test_paired_difference_pairs_items_and_reads_the_direction_of_each_measure() -> None:
    rng = np.random.default_rng(0)
    base = list(rng.normal(-8, 3, 24))
    rows = _rows("a", [v - 1.0 + 0.1 * rng.standard_normal() for v in base]) + _rows("b", base)
    nmr = cc.paired_difference(rows, "a", "b", "nmr_db")
    assert nmr.items == 24 and nmr.mean == pytest.approx(-1.0, abs=0.1) and nmr.high < 0
    assert nmr.verdict == "a" and nmr.a_better == 24  # lower NMR is better
    vq = cc.paired_difference(rows, "a", "b", "visqol")  # higher ViSQOL is better: +1 here is a's win too
    assert vq.mean == pytest.approx(1.0, abs=0.1) and vq.verdict == "a"
    tie = cc.paired_difference(_rows("a", base) + _rows("b", [v + 0.01 * (-1) ** i for i, v in enumerate(base)]),
                               "a", "b", "nmr_db")
    assert tie.low < 0 < tie.high and tie.verdict == "tie"
    # unpaired items are left out; other splits are filtered
    more = rows + _rows("a", [0.0] * 30)[24:] + _rows("b", [5.0], split="shipped clip")
    assert cc.paired_difference(more, "a", "b", "nmr_db").items == 24
    with pytest.raises(ValueError, match="share no evaluation item"):
        cc.paired_difference(rows, "a", "b", "nmr_db", split="shipped clip")
    with pytest.raises(ValueError, match="measure"):
        cc.paired_difference(rows, "a", "b", "pesq")


def test_a_stored_evaluation_is_used_only_for_the_same_models_and_must_agree(
        tiny_study: cs.CodecStudy, tmp_path: Path) -> None:
    config, models = tiny_study.config, tiny_study.models
    ce.write_evaluation(tiny_study, tmp_path)
    stored = ce._stored_rows(config, models, tmp_path)
    assert stored is not None and len(stored) == len(tiny_study.rows)
    ce.check_agreement(tiny_study.rows, stored)  # the round trip through CSV is exact enough
    first = next(iter(models))
    other = {**models, first: replace(models[first], sha256="0" * 64)}
    assert ce._stored_rows(config, other, tmp_path) is None  # other weights: recompute
    assert ce._stored_rows(replace(config, eval_seconds=2.0), models, tmp_path) is None
    changed = [dict(r) for r in tiny_study.rows]
    changed[0]["nmr_db"] += 0.1
    with pytest.raises(ValueError, match="disagrees"):
        ce.check_agreement(changed, stored)
    table = tmp_path / f"{config.mode}.csv"
    table.write_text(table.read_text().replace(",", ";", 1))
    with pytest.raises(ValueError, match="SHA-256"):
        ce._stored_rows(config, models, tmp_path)


def test_locations_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PERCLOSS_RUNS / PERCLOSS_CACHE, else the checkout's runs/ and _build/; outside a checkout, an error naming
    the variable."""
    monkeypatch.delenv("PERCLOSS_RUNS", raising=False)
    monkeypatch.delenv("PERCLOSS_CACHE", raising=False)
    root = paths.repository_root()
    assert root is not None and paths.runs_dir() == root / "runs"
    assert paths.eval_dir() == root / "runs" / "codec" / "eval"
    assert paths.cache_dir() == root / "_build" / "percloss_cache" / "codec"
    monkeypatch.setenv("PERCLOSS_RUNS", str(tmp_path / "r"))
    monkeypatch.setenv("PERCLOSS_CACHE", str(tmp_path / "c"))
    assert paths.eval_dir() == tmp_path / "r" / "codec" / "eval" and paths.cache_dir() == tmp_path / "c" / "codec"
    monkeypatch.delenv("PERCLOSS_RUNS")
    monkeypatch.delenv("PERCLOSS_CACHE")
    monkeypatch.setattr(paths, "_CHECKOUT", tmp_path / "site-packages")  # an installed package: no runs/ beside it
    with pytest.raises(FileNotFoundError, match="PERCLOSS_RUNS"):
        paths.runs_dir()
    assert paths.cache_dir() == Path.home() / ".cache" / "percloss" / "codec"


def test_stored_cdpam_attaches_only_to_the_same_models(tmp_path: Path) -> None:
    import hashlib
    import json
    from types import SimpleNamespace

    from percloss.experiments.codec_claims import paired_difference
    from percloss.experiments.codec_evaluation import attach_cdpam

    table = tmp_path / "cdpam.csv"
    table.write_text("item,point,kbps,cdpam\ns@0s,C64_32k_1m,64.1,0.25\ns@6s,C64_32k_1m,63.9,0.35\n"
                     "s@0s,MP364_32k,64.0,0.20\ns@6s,MP364_32k,64.0,0.20\n")
    record = {"models": {"C64_32k_1m": {"name": "C64", "sha256": "abc"}}, "wall_s": 60.0, "machine": "test",
              "table_sha256": hashlib.sha256(table.read_bytes()).hexdigest()}
    (tmp_path / "cdpam.json").write_text(json.dumps(record))
    rows = [{"item": i, "point": p, "split": "held-out segment", "nmr_db": 0.0}
            for i in ("s@0s", "s@6s", "clip") for p in ("C64_32k_1m", "MP364_32k")]
    assert attach_cdpam(rows, {"C64_32k_1m": SimpleNamespace(sha256="other")}, tmp_path) is None  # type: ignore[dict-item]
    assert not any("cdpam" in r for r in rows)
    said = attach_cdpam(rows, {"C64_32k_1m": SimpleNamespace(sha256="abc")}, tmp_path)  # type: ignore[dict-item]
    assert said is not None and "CDPAM for 4 rows" in said
    assert [r.get("cdpam") for r in rows] == [0.25, 0.20, 0.35, 0.20, None, None]
    d = paired_difference(rows, "C64_32k_1m", "MP364_32k", "cdpam")  # the clip rows have no CDPAM: left out
    assert d.items == 2 and d.mean == pytest.approx(0.10)
    table.write_text(table.read_text() + "s@12s,C64_32k_1m,64.0,0.1\n")  # edited after it was recorded
    with pytest.raises(ValueError, match="SHA-256"):
        attach_cdpam(rows, {"C64_32k_1m": SimpleNamespace(sha256="abc")}, tmp_path)  # type: ignore[dict-item]


def test_update_evaluation_codes_only_new_or_changed_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Adding a model evaluates that model (and anchor rows not stored yet) and keeps every other stored row;
    a model that changed is re-evaluated; one no longer shipped loses its rows."""
    import dataclasses
    import json

    a, b, c = (RunPoint(f"{m}64", m, 32000, 64, 1) for m in "ACD")
    config = cs.CodecStudyConfig((a, b), RunConfig(steps=8, batch=2, segment_frames=4, lr=1e-3),
                                 ("s@0s", "s@6s"), 2.0, (), 2.0, anchor_kbps=(48,), mode="standard")
    sha = {a.key: "a1", b.key: "b1", c.key: "c1"}

    def fake_model(p: RunPoint, *args: object, **kw: object) -> cs.TrainedModel:
        return cs.TrainedModel(p, None, [], "fake", sha[p.key], None, 0.0)  # type: ignore[arg-type]

    calls: list[tuple[str, str]] = []

    def fake_evaluate(cfg: cs.CodecStudyConfig, models: dict, items: tuple, done: frozenset = frozenset(),
                      opus_streams: dict | None = None) -> tuple[list, dict]:
        rows = []
        for item in items:
            for p in cfg.points:
                for point, modules in ((p.key, 1), ("MP3_48_32k", 0), (f"Opus{p.kbps:g}_32k", 0)):
                    if (item, point) in done or any(r["item"] == item and r["point"] == point for r in rows):
                        continue
                    calls.append((item, point))
                    value = float(len(calls)) if modules else 1.0
                    rows.append({"item": item, "split": cs.SEGMENT, "sample_rate": 32000, "target_kbps": 64.0,
                                 "system": point[0], "point": point, "modules": modules,
                                 **{k: value for k in cs.MEASURES}})
        return rows, {}

    monkeypatch.setattr(cs, "obtain_model", fake_model)
    monkeypatch.setattr(cs, "evaluate", fake_evaluate)
    rows, _ = fake_evaluate(config, {}, config.eval_items)
    study = cs.CodecStudy(config, {p.key: fake_model(p) for p in config.points}, rows)
    ce.write_evaluation(study, tmp_path)
    first = {(r["item"], r["point"]): r["nmr_db"] for r in rows}
    calls.clear()

    grown = dataclasses.replace(config, points=(a, b, c))  # a new model: only its rows are coded
    table, evaluated = ce.update_evaluation(grown, tmp_path)
    assert evaluated == ["D64"] and set(calls) == {("s@0s", c.key), ("s@6s", c.key)}
    stored = ce._stored_rows(grown, {p.key: fake_model(p) for p in grown.points}, tmp_path)
    assert stored is not None and len(stored) == len(rows) + 2
    assert all(first[(r["item"], r["point"])] == r["nmr_db"] for r in stored if (r["item"], r["point"]) in first)

    calls.clear()
    sha[b.key] = "b2"  # C64 changed and D64 left the shipped set
    table, evaluated = ce.update_evaluation(config, tmp_path)
    assert evaluated == ["C64"] and set(calls) == {("s@0s", b.key), ("s@6s", b.key)}
    record = json.loads((tmp_path / "standard.json").read_text())
    assert record["models"] == {"A64": "a1", "C64": "b2"} and [u["points"] for u in record["updates"]] == [
        ["D64"], ["C64"]]
    stored = ce._stored_rows(config, {p.key: fake_model(p) for p in config.points}, tmp_path)
    assert stored is not None and not any(r["point"] == c.key for r in stored)
    with pytest.raises(ValueError, match="other items"):
        ce.update_evaluation(dataclasses.replace(config, eval_items=("s@0s",)), tmp_path)


def _spread() -> dict:
    path = paths.eval_dir() / "spread.json"
    return json.loads(path.read_text())


def test_agreement_tolerances_are_set_from_the_measured_cross_processor_spread() -> None:
    """runs/codec/eval/spread.json (scripts/eval_codec_spread.py) measured the neural rows on another processor
    and other kernel paths: each tolerance is 10-50x the largest spread; the anchors' rows did not move."""
    spread = _spread()
    comparisons = [*spread["vs_stored"].values(), *spread["between_paths"].values()]
    assert len(spread["paths"]) >= 3 and len(comparisons) >= 6
    for measure, (atol, rtol) in ce.NEURAL_TOLERANCE.items():
        worst_abs = max(c["neural"][measure]["abs"] for c in comparisons)
        worst_rel = max(c["neural"][measure]["rel"] for c in comparisons)
        allowed = atol if atol > 0 else rtol
        worst = worst_abs if atol > 0 else worst_rel
        assert worst > 0, f"{measure}: no spread measured, so no tolerance can be derived from it"
        assert 10 * worst <= allowed <= 50 * worst, (measure, worst, allowed)
    for c in comparisons:
        for anchor in ("MP3", "Opus"):
            for measure in cs.MEASURES:
                atol, rtol = ce.EXACT_TOLERANCE
                w = c[anchor][measure]
                assert w["abs"] <= atol or w["rel"] <= rtol, (anchor, measure, w)


def _stored_standard() -> tuple[cs.CodecStudyConfig, list[dict]]:
    config = cs.CodecStudyConfig.for_mode("standard")
    return config, ce.stored_evaluation(config)[1]


def test_the_agreement_check_passes_a_cross_machine_difference_and_fails_a_real_change() -> None:
    config, stored = _stored_standard()
    live = [dict(r) for r in stored if r["item"] in config.listen_items]
    assert live and {r["system"] for r in live} >= {"A", "C", "D", "MP3", "Opus"}
    measured = _spread()["vs_stored"]["default"]["neural"]
    moved = [dict(r) for r in live]
    for i, r in enumerate(moved):  # every neural value moved by the largest cross-processor difference measured
        if r["modules"] > 0:
            for k in cs.MEASURES:
                r[k] = r[k] + (-1) ** i * (measured[k]["abs"] if ce.NEURAL_TOLERANCE[k][0] > 0 else
                                            measured[k]["rel"] * abs(r[k]))
    ce.check_agreement(moved, stored)
    real_changes = [  # (system, measure, how much): another model or a changed measure moves rows this far
        ("C", "visqol", -0.01), ("D", "kbps", 0.01 * 64), ("A", "snr_db", 0.05), ("C", "nmr_db", -0.05),
        ("D", "audible_fraction", 0.05), ("A", "lsd_db", 0.02), ("MP3", "snr_db", 1e-4), ("Opus", "kbps", 0.008),
    ]
    for system, measure, delta in real_changes:
        changed = [dict(r) for r in live]
        row = next(r for r in changed if r["system"] == system)
        row[measure] += delta
        with pytest.raises(ValueError) as caught:
            ce.check_agreement(changed, stored)
        text = str(caught.value)
        assert f"{row['item']}, {row['point']}, {measure}" in text, text  # names the row and the measure
        assert "stored vs" in text and ce.REBUILD_COMMAND in text  # both values and the command


def test_the_build_decodes_the_stored_opus_bitstreams_of_its_listening_rows() -> None:
    """Every listening Opus row has its bitstream stored (SHA-256 in the record); decoding one reproduces the
    stored row to the last digits, on any processor (libopus's encoder is what differs between processors)."""
    from percloss import data

    config, stored = _stored_standard()
    record = ce.stored_evaluation(config)[0]
    keys = {(r["item"], r["point"]) for r in stored if r["system"] == "Opus" and r["item"] in config.listen_items}
    streams = ce._read_opus(paths.eval_dir(), "standard", record, keys)
    assert set(streams) == keys and len(keys) == len(config.listen_items) * 10
    index = {(r["item"], r["point"]): r for r in stored}
    songs = data.codec_corpus("heldout", 32000)
    for key, blob in streams.items():
        seconds = config.eval_seconds
        assert len(blob) * 8 / seconds / 1000 == pytest.approx(index[key]["kbps"], rel=1e-12)
    key = min(k for k in keys if k[1].endswith("_32k"))
    x, _ = cs.eval_signal(key[0], 32000, config.eval_seconds, songs)
    coded = cs._opus_coded(x, 32000, index[key]["target_kbps"], key, True, streams)
    row = cs._measures(x, torch.from_numpy(coded.audio), 32000)
    for k, v in row.items():
        assert v == pytest.approx(index[key][k], rel=1e-9, abs=1e-12), k


def test_opus_bitstreams_round_trip_and_are_checked(tiny_study: cs.CodecStudy, tmp_path: Path) -> None:
    config = tiny_study.config
    assert len(tiny_study.opus_streams) == 1  # the listening item's Opus row
    ce.write_evaluation(tiny_study, tmp_path)
    record = json.loads((tmp_path / f"{config.mode}.json").read_text())
    assert "torch thread" in record["machine"] and len(record["opus_bitstreams"]) == 1  # "1 torch thread(s)"
    keys = set(tiny_study.opus_streams)
    assert ce._read_opus(tmp_path, config.mode, record, keys) == tiny_study.opus_streams
    (name,) = record["opus_bitstreams"]
    path = tmp_path / f"opus-{config.mode}" / name
    path.write_bytes(path.read_bytes()[:-1] + b"\0")
    with pytest.raises(ValueError, match="SHA-256"):
        ce._read_opus(tmp_path, config.mode, record, keys)
    path.unlink()
    with pytest.raises(ValueError, match="missing"):
        ce._read_opus(tmp_path, config.mode, record, keys)
    key = next(iter(keys))
    x = torch.zeros(16000, dtype=torch.float64)
    with pytest.raises(ValueError, match="another setting"):  # a bitstream made for 32 kbit/s offered as 64
        cs._opus_coded(x, 16000, 64, key, True, dict(tiny_study.opus_streams))


def test_full_mode_trains_two_module_points_with_the_one_schedule(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Full mode trains through the one trainer (codec_runs.train_point) with the one schedule's settings
    (RunConfig.settings): a two-module point gets the hard-entropy signed rate control, the saturation
    penalty and relative clipping without which the two-module runs collapsed; a one-module point gets the
    one-module rate control (hard entropy, multiplicative) and neither the penalty nor the clipping."""
    from percloss import codec_runs

    config = cs.CodecStudyConfig.for_mode("full")
    assert config.schedule == RunConfig.for_mode("full")
    two = next(p for p in config.points if p.n_modules == 2)
    one = next(p for p in config.points if p.n_modules == 1)
    s2, s1 = config.schedule.settings(two), config.schedule.settings(one)
    assert (s2.rate_entropy, s2.rate_control) == (RUN.multi_module_rate_entropy, RUN.multi_module_rate_control)
    assert s2.saturation_weight == RUN.multi_module_saturation_weight > 0
    assert s2.clip_relative == RUN.multi_module_clip_relative is not None
    assert (s1.rate_entropy, s1.rate_control) == (RUN.one_module_rate_entropy, RUN.one_module_rate_control)
    assert (s1.rate_entropy, s1.rate_control, s1.saturation_weight, s1.clip_relative) == (
        "hard", "multiplicative", 0.0, None)
    for s, p in ((s1, one), (s2, two)):
        assert (s.steps, s.batch, s.lr, s.seed) == (20000, 128, 2e-4, config.seed)
        assert s.target_kbps == pytest.approx(p.kbps / p.n_modules)
    seen = []

    def capture(codec, signals, rate, kind, settings=None, **kw):
        seen.append(settings)
        raise RuntimeError("stop")

    monkeypatch.setattr(codec_runs, "train_codec", capture)
    monkeypatch.setattr(codec_runs.data, "codec_corpus", lambda split, rate, folder=None: {"s": torch.zeros(32000)})
    for point, settings in ((two, s2), (one, s1)):
        with pytest.raises(RuntimeError, match="stop"):
            cs._train(point, config, tmp_path, progress=False)
        assert seen[-1] == settings


def test_one_trainer_path() -> None:
    """The study, the command line and the launcher train through codec_runs.train_point and nothing else:
    no other module calls train_codec, and none keeps a second point type or stop-signal handler."""
    import ast

    root = Path(cs.__file__).resolve().parents[2]
    callers, handlers = set(), set()
    for path in [*(root / "percloss").rglob("*.py"), *(root / "scripts").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name == "train_codec":
                    callers.add(path.name)
                if name == "signal" and isinstance(node.func, ast.Attribute):
                    handlers.add(path.name)
    assert callers == {"codec_runs.py"}
    assert handlers == {"codec_training.py"}  # stop_requests, the one stop-signal context manager
    assert not hasattr(cs, "OperatingPoint") and not hasattr(cs, "training_settings")
    assert all(isinstance(p, RunPoint) for p in cs.WORK_POINTS + cs.QUICK_POINTS)


def test_means_and_cdpam_tables_format_each_systems_mean_and_interval() -> None:
    """Constant measures give the constant as mean and both interval ends; CDPAM only where stored."""
    config = replace(cs.CodecStudyConfig.for_mode("standard"), points=(POINTS["D64"],))
    rows = []
    for i in range(4):
        base = {"item": f"s@{6 * i}s", "split": cs.SEGMENT, "sample_rate": 32000, "target_kbps": 64.0}
        rows.append({**base, "system": "D", "point": "D64_32k_1m", "modules": 1, "kbps": 66.0, "snr_db": 10.0,
                     "lsd_db": 5.0, "nmr_db": -3.0, "audible_fraction": 0.25, "visqol": 3.5, "cdpam": 0.125})
        rows.append({**base, "system": "MP3", "point": "MP364_32k", "modules": 0, "kbps": 64.0 + i, "snr_db": 12.0,
                     "lsd_db": 4.0, "nmr_db": -9.0, "audible_fraction": 0.0, "visqol": 4.5})
    study = cs.CodecStudy(config, {}, rows)
    table = {r["system"]: r for r in cs.means_table(study, cs.SEGMENT)}
    assert table["D"]["ViSQOL"] == "3.50 [3.50, 3.50]" and table["D"]["audible frames"] == "0.250 [0.250, 0.250]"
    assert table["D"]["items"] == 4 and table["MP3"]["kbit/s (file)"].startswith("65.50 [")
    assert cs.means_table(study, cs.CLIP) == []
    assert cs.cdpam_table(study) == [{"point": "D64_32k_1m", "kbit/s (file)": 66.0, "segments": 4,
                                      "CDPAM [95 %]": "0.125 [0.125, 0.125]"}]
