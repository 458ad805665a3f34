"""The codec study: schedule sharing of C and D, shipped-checkpoint verification, rows and anchors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from percloss.codec import CascadedCodec, save_codec
from percloss.experiments import codec_study as cs


def test_operating_points_of_the_work() -> None:
    keys = {p.key for p in cs.WORK_POINTS}
    assert len(cs.WORK_POINTS) == 10 and "D112_44k_2m" in keys and "A64_32k_1m" in keys
    assert cs.mp3_bitrate_for(64) == 64 and cs.mp3_bitrate_for(79) == 80 and cs.mp3_bitrate_for(168) == 160


def test_modes_scale_up() -> None:
    q, s, f = (cs.CodecStudyConfig.for_mode(m) for m in ("quick", "standard", "full"))
    assert q.steps < s.steps < f.steps and len(f.points) == 10
    assert f.lr == 2e-4 and f.batch == 128  # the work's schedule
    assert not q.use_shipped and not f.use_shipped  # quick and full train; standard loads what ships
    assert s.use_shipped and s.points == cs.shipped_points() and {"C64", "D64"} <= {p.name for p in s.points}


def test_standard_mode_never_trains(tmp_path: Path) -> None:
    config = replace(cs.CodecStudyConfig.for_mode("standard"), points=(cs.OperatingPoint("B", 32000, 79, 2),))
    with pytest.raises(ValueError, match="no shipped model for B79"):
        cs.obtain_model(config.points[0], config, tmp_path)


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory: pytest.TempPathFactory) -> cs.CodecStudy:
    config = replace(cs.CodecStudyConfig.for_mode("quick"), points=(
        cs.OperatingPoint("C", 16000, 32, 1), cs.OperatingPoint("D", 16000, 32, 1)), steps=4,
        eval_items=("speech_male",), eval_seconds=1.0, listen_items=("speech_male",), listen_seconds=0.5)
    return cs.run_study(config, tmp_path_factory.mktemp("codec"), progress=False)


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
    point = cs.OperatingPoint("A", 32000, 64, 1)
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
