"""The codec chapter's held-out evaluation set: its segment rule, and the shipped set against its manifest."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from percloss import data


def test_segments_are_evenly_spaced_over_the_middle_of_a_long_song() -> None:
    rate = 8000
    x = np.random.default_rng(0).standard_normal(100 * rate) * 0.1  # 100 s of noise
    starts = data.choose_segments(x, rate)
    step = 74 * rate / 3  # the first starts at 10 % of the song, the last ends at 90 %
    assert starts == [10 * rate, 10 * rate + round(step), 10 * rate + round(2 * step), 84 * rate]
    assert starts[-1] + 6 * rate == 90 * rate  # the last ends where the outro's 10 % begins


def test_a_silent_stretch_moves_a_segment_later_by_half_seconds() -> None:
    rate = 8000
    x = np.random.default_rng(1).standard_normal(100 * rate) * 0.1
    x[10 * rate : 20 * rate] = 1e-6  # 10 s of near silence (-114 dB) where the first segment starts
    first = data.choose_segments(x, rate)[0]
    # 6 s windows starting 0.5 s apart: the first one within 40 dB of the peak is the first with enough signal
    rms_db = lambda s: 20 * np.log10(np.sqrt(np.mean(x[s : s + 6 * rate] ** 2)) / np.abs(x).max())  # noqa: E731
    assert first == 14 * rate + rate // 2 and rms_db(first) >= -40  # 14.0 s still holds only the silence
    assert rms_db(first - rate // 2) < -40


def test_short_songs_give_overlapping_segments_and_too_short_ones_are_refused() -> None:
    rate = 8000
    x = np.random.default_rng(2).standard_normal(9 * rate)
    starts = data.choose_segments(x, rate)
    assert starts == [0, rate, 2 * rate, 3 * rate] and len(set(starts)) == 4
    with pytest.raises(ValueError, match="too short"):
        data.choose_segments(x[: 5 * rate], rate)
    with pytest.raises(ValueError, match="silent"):
        data.choose_segments(np.zeros(10 * rate), rate)
    with pytest.raises(ValueError, match="finite mono"):
        data.choose_segments(np.full(10 * rate, np.nan), rate)


def test_the_shipped_set_matches_its_manifest_and_is_never_trained_on() -> None:
    manifest = data.heldout_manifest()
    assert len(manifest) >= 12
    groups = {info["group"] for info in manifest.values()}
    assert len(groups - {"rock (Fret's on Fire)", "metal (Fret's on Fire)"}) >= 4  # four other sources at least
    size = 0
    for name, info in manifest.items():
        path = data.heldout_dir() / info["file"]
        size += path.stat().st_size
        assert hashlib.sha256(path.read_bytes()).hexdigest() == info["sha256"], name
        assert info["licence"] and info["source"] and info["group"], name
        assert len(info["segment_starts_seconds"]) >= 4 and info["segment_seconds"] == 6.0
    assert size < 25e6
    corpus = {k: v for k, v in __import__("json").loads((data.codec_corpus_dir() / "manifest.json").read_text())
              .items()}
    trained = {info["title"].lower() for info in corpus.values() if info["split"] == "train"}
    assert not trained & {info["title"].lower() for info in manifest.values()}
    sources = (data.heldout_dir() / "SOURCES.md").read_text()
    for info in manifest.values():
        assert info["licence"] in sources


def test_the_set_loads_as_segments_at_a_models_rate() -> None:
    songs = data.heldout_set(32000)
    assert len(songs) == len(data.heldout_manifest())
    for name, segments in songs.items():
        assert len(segments) >= 4, name
        assert all(s.shape == (6 * 32000,) and s.dtype.is_floating_point for s in segments), name
        assert all(float(s.abs().max()) > 10 ** (-40 / 20) * 0.5 for s in segments), name
