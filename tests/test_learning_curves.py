"""Learning curves judged by ViSQOL and CDPAM: the snapshots read from git history, the per-step means over
the songs every step covers, and the flattening rule (constructed values; the scorers are tested elsewhere)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch

from percloss.codec import CascadedCodec
from percloss.experiments import learning_curves as lc


def _point(point: str, step: int, visqol: float, cdpam: float, songs: int = 16) -> dict:
    return {"point": point, "step": step, "visqol": visqol, "cdpam": cdpam, "kbps": 64.0, "songs": songs}


def test_a_curve_has_flattened_when_every_judge_moves_less_than_its_margin_per_quarter() -> None:
    # from step 3750 to 7500 is two quarters: ViSQOL +0.15 is +0.075 per quarter (< 0.1), CDPAM −0.018 is −0.009
    flat = lc.judge_trend([_point("A79", 3750, 4.00, 0.050), _point("A79", 7500, 4.15, 0.032)], "A79")
    assert flat.flattened is True
    assert "ViSQOL +0.075, CDPAM -0.009 per quarter of training since step 3750" in flat.text
    assert "A79 judged at steps 3750/7500 (ViSQOL 4.000 → 4.150; CDPAM 0.050 → 0.032; 16 songs)" in flat.text
    # the same ViSQOL change over one quarter is past the margin
    moving = lc.judge_trend([_point("A79", 5625, 4.00, 0.050), _point("A79", 7500, 4.15, 0.049)], "A79")
    assert moving.flattened is False and moving.short.startswith("A79 by the judges not flattened")
    # CDPAM alone past its margin is enough to say not flattened
    cdpam = lc.judge_trend([_point("A79", 5625, 4.00, 0.050), _point("A79", 7500, 4.01, 0.030)], "A79")
    assert cdpam.flattened is False


def test_the_rule_uses_the_last_snapshot_a_quarter_or_more_before_the_end() -> None:
    # the step-7000 snapshot is inside the last quarter: the step-5000 one is the start of the change
    points = [_point("B79", 5000, 3.5, 0.10), _point("B79", 7000, 3.9, 0.09), _point("B79", 7500, 3.6, 0.09)]
    trend = lc.judge_trend(points, "B79")
    assert "since step 5000" in trend.text and "B79 judged at steps 5000/7000/7500" in trend.text
    assert "ViSQOL +0.075" in trend.text  # (3.6 − 3.5) / (2500 / 1875)
    late = lc.judge_trend([_point("B79", 7000, 3.9, 0.09), _point("B79", 7500, 3.9, 0.09)], "B79")
    assert late.flattened is None and "no snapshot a quarter or more before step 7500" in late.text
    with pytest.raises(ValueError, match="'C64' has no learning-curve rows"):
        lc.judge_trend(points, "C64")


def test_curve_points_average_the_songs_every_step_covers_and_end_at_the_shipped_rows() -> None:
    curve = [{"song": s, "system": "A79", "step": 3866, "segment": 1, "visqol": v, "cdpam": 0.1, "kbps": 80.0}
             for s, v in (("a", 3.0), ("b", 4.0), ("c", 5.0))]
    held = [{"song": s, "system": "A79", "segment": seg, "visqol": v, "cdpam": 0.05, "kbps": 78.0}
            for s, v in (("a", 3.5), ("b", 4.5)) for seg in (0, 1)]
    held += [{"song": "a", "system": "C64", "segment": 1, "visqol": 4.2, "cdpam": 0.04, "kbps": 60.0},
             {"song": "a", "system": "MP3", "segment": 1, "visqol": 4.6, "cdpam": 0.02, "kbps": 64.0}]
    points = lc.curve_points(curve, held, {"A79": 7500, "C64": 7500})
    a79 = [p for p in points if p["point"] == "A79"]
    # song c has no shipped row: the means are over a and b at both steps
    assert [(p["step"], p["songs"], p["visqol"]) for p in a79] == [(3866, 2, 3.5), (7500, 2, 4.0)]
    assert [(p["point"], p["step"]) for p in points if p["point"] != "A79"] == [("C64", 7500)]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_a_snapshot_is_read_from_the_commit_that_stored_it(tmp_path: Path) -> None:
    codec = CascadedCodec(1)
    state = {"codec": codec.state_dict(), "config": {"n_modules": 1, "sample_rate": 32000},
             "log": {"distortion": [0.3, 0.2, 0.1]}}
    target = tmp_path / "runs/codec/A79/snapshot.pt"
    target.parent.mkdir(parents=True)
    torch.save(state, target)
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "snapshot")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    target.unlink()  # the working tree no longer has it: git history does
    loaded, digest = lc.snapshot_state(lc.Snapshot("A79", 3, commit), tmp_path)
    restored, rate = lc.snapshot_codec(loaded)
    assert rate == 32000 and len(digest) == 64 and not restored.training
    for name, value in codec.state_dict().items():
        assert torch.equal(restored.state_dict()[name], value), name
    with pytest.raises(ValueError, match="holds 3 steps, not 4"):
        lc.snapshot_state(lc.Snapshot("A79", 4, commit), tmp_path)
    with pytest.raises(ValueError, match="git fetch --unshallow"):
        lc.snapshot_state(lc.Snapshot("B79", 3, commit), tmp_path)


def test_stored_curves_are_checked_against_their_records(tmp_path: Path) -> None:
    folder = tmp_path / "curves"
    folder.mkdir()
    table = folder / "A79-3866.csv"
    table.write_text(",".join(lc.CURVE_COLUMNS) + "\n" + "s,g,1,A79,3866,32000,80,4.0,0.05,-8,0.3,20,6\n")
    import hashlib

    (folder / "A79-3866.json").write_text(json.dumps({"csv_sha256": hashlib.sha256(table.read_bytes()).hexdigest()}))
    rows = lc.read_curves(tmp_path)
    assert rows[0]["step"] == 3866.0 and rows[0]["visqol"] == 4.0 and rows[0]["system"] == "A79"
    table.write_text(table.read_text().replace("4.0", "4.5"))
    with pytest.raises(ValueError, match="does not match the SHA-256"):
        lc.read_curves(tmp_path)


def test_the_kept_snapshots_are_the_shipped_points_own_runs() -> None:
    from percloss.shipped import shipped_models, training_log

    shipped = shipped_models()
    for snap in lc.SNAPSHOTS:
        assert snap.point in shipped and 0 < snap.step < int(shipped[snap.point]["steps"])
        try:
            state, _ = lc.snapshot_state(snap)
        except ValueError as error:  # a shallow clone has no history to read them from
            pytest.skip(str(error))
        # the snapshot's log is the first steps of the shipped model's log: the same run
        logged = [float(r["distortion"]) for r in training_log(snap.point)[: snap.step]]
        assert logged == pytest.approx([float(v) for v in state["log"]["distortion"]], rel=1e-5, abs=1e-9)


def test_a_snapshot_codes_each_songs_segment_into_a_real_file(monkeypatch: pytest.MonkeyPatch) -> None:
    from percloss.experiments import heldout_eval as he

    seen = []
    monkeypatch.setattr(he, "score_segment", lambda x, y, rate: seen.append((x, y)) or {"visqol": 4.0})
    torch.manual_seed(0)
    codec = CascadedCodec(1).eval()
    counts = [torch.ones(32, dtype=torch.float64)]
    segments = {"s1": torch.randn(16000) * 0.1, "s2": torch.randn(16000) * 0.1}
    rows = lc.evaluate_snapshot("A79", 3866, codec, counts, 16000, segments, {"s1": "g1", "s2": "g2"})
    assert [(r["song"], r["group"], r["step"], r["segment"]) for r in rows] == [
        ("s1", "g1", 3866, lc.CURVE_SEGMENT), ("s2", "g2", 3866, lc.CURVE_SEGMENT)]
    # 34 frames x 256 codes at log2(32) = 5 bits, plus the header: about 44 kbit/s for one second
    assert all(40 < r["kbps"] < 48 for r in rows)
    assert all(y.shape == x.shape and not torch.equal(x, y) for x, y in seen)


def test_a_kept_quarter_snapshot_is_read_from_the_working_tree(tmp_path: Path) -> None:
    codec = CascadedCodec(1)
    for step in (2, 4):
        target = tmp_path / "runs/codec/broad/A64" / f"step-{step}.pt"
        target.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"codec": codec.state_dict(), "config": {"n_modules": 1, "sample_rate": 32000},
                    "log": {"distortion": [0.1] * step}}, target)
    (tmp_path / "runs/codec/broad/A64/snapshot.pt").write_bytes(b"not a kept step")
    kept = lc.kept_snapshots("runs/codec/broad", tmp_path)
    assert kept == [lc.Snapshot("A64", 2, None, "runs/codec/broad"), lc.Snapshot("A64", 4, None, "runs/codec/broad")]
    state, _ = lc.snapshot_state(kept[1], tmp_path)
    assert len(state["log"]["distortion"]) == 4
    with pytest.raises(ValueError, match="step-6.pt does not exist"):
        lc.snapshot_state(lc.Snapshot("A64", 6, None, "runs/codec/broad"), tmp_path)
