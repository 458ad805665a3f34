"""The held-out evaluation's bookkeeping: rows per segment, achieved rates, anchors at a model's rate, song-level
intervals (the scores themselves are the scorers', tested elsewhere)."""

from __future__ import annotations

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
    monkeypatch.setattr(he, "_score", lambda x, y, rate: {m: 0.0 for m in he.MEASURES if m != "kbps"})
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
