"""The chapters' audio player: the embedded FLAC holds the samples at their own level."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
import soundfile as sf
import torch

from percloss.notebook import audio_tag


def test_player_embeds_the_samples_unnormalised() -> None:
    x = 0.25 * np.sin(np.arange(800) * 0.1)
    html = audio_tag(torch.from_numpy(x), 8000, width=123)
    assert 'style="width: 123px"' in html
    payload = re.search(r"data:audio/flac;base64,([A-Za-z0-9+/=]+)", html)
    assert payload is not None
    y, rate = sf.read(io.BytesIO(base64.b64decode(payload.group(1))))
    assert rate == 8000 and len(y) == 800
    np.testing.assert_allclose(y, x, atol=2 / 32767)  # a quarter of full scale stays a quarter (16-bit steps)


def test_player_rejects_samples_beyond_full_scale() -> None:
    with pytest.raises(ValueError, match="within"):
        audio_tag(np.array([0.0, 1.5, -0.2]), 8000)
    with pytest.raises(ValueError, match="finite"):
        audio_tag(np.array([0.0, np.nan]), 8000)
    with pytest.raises(ValueError, match="rate"):
        audio_tag(np.zeros(8), 8000.5)  # type: ignore[arg-type]


def test_flac_payload_is_smaller_than_wav_for_music() -> None:
    from percloss import data

    x = data.load_clip("piano_bach", 16000)[: 3 * 16000].numpy()
    html = audio_tag(x, 16000)
    payload = re.search(r"data:audio/flac;base64,([A-Za-z0-9+/=]+)", html)
    assert payload is not None
    flac = base64.b64decode(payload.group(1))
    assert len(flac) < 0.8 * 2 * len(x)  # 16-bit WAV would be 2 bytes per sample
    y, _ = sf.read(io.BytesIO(flac))
    np.testing.assert_allclose(y, x, atol=2 / 32767)


def test_listening_panel_runs_nothing_until_a_control_moves() -> None:
    import ipywidgets as widgets

    from percloss.notebook import listening_panel

    calls: list[dict[str, object]] = []
    a = widgets.Dropdown(options=["x", "y"], value="x")
    b = widgets.IntSlider(value=1, min=1, max=3)
    panel = listening_panel(lambda **kw: calls.append(kw), {"clip": a, "level": b})
    assert calls == []  # building the page executes no callback
    b.value = 3
    a.value = "y"
    assert calls == [{"clip": "x", "level": 3}, {"clip": "y", "level": 3}]
    assert a in panel.children[0].children and b in panel.children[0].children


def test_listening_panel_carries_every_version_with_its_loudness_match() -> None:
    from percloss.notebook import listening_panel_html

    t = np.arange(4000) / 8000
    quiet = 0.1 * np.sin(2 * np.pi * 440 * t)
    items = {"seg <1>": {"reference": 2 * quiet, "D64": quiet}, "seg 2": {"reference": quiet, "MP3 64": -quiet}}
    html = listening_panel_html(items, 8000, "codec")
    sources = re.findall(r'<audio preload="metadata" data-item="([^"]*)" data-system="([^"]*)" '
                         r'data-gain="([0-9.]+)" src="data:audio/flac;base64,([A-Za-z0-9+/=]+)"', html)
    assert [(i, s) for i, s, _, _ in sources] == [("seg &lt;1&gt;", "reference"), ("seg &lt;1&gt;", "D64"),
                                                    ("seg 2", "reference"), ("seg 2", "MP3 64")]
    # each version plays at its item's quietest RMS: the reference at twice D64's level gets half the gain
    assert [float(g) for _, _, g, _ in sources] == [0.5, 1.0, 1.0, 1.0]
    for (_, system, _, payload), expected in zip(sources, [2 * quiet, quiet, quiet, -quiet], strict=True):
        y, rate = sf.read(io.BytesIO(base64.b64decode(payload)))
        assert rate == 8000
        np.testing.assert_allclose(y, expected, atol=2 / 32767, err_msg=system)
    # one radio per version (first checked), and the ABX row offers every version
    assert html.count('class="pl-system"') == 3 and html.count(" checked>") == 2  # + the loudness box
    assert 'class="pl-abx"' in html and html.count('<option value="MP3 64"') == 2
    assert 'class="pl-abx"' not in listening_panel_html({"x": {"only": quiet}}, 8000, "one")
    with pytest.raises(ValueError, match="items"):
        listening_panel_html({}, 8000, "none")
    with pytest.raises(ValueError, match="within"):
        listening_panel_html({"x": {"loud": 2 * np.ones(10)}}, 8000, "bad")


def test_rerun_note_names_the_chapter_and_its_measured_time() -> None:
    from percloss.notebook import rerun_note

    note = rerun_note("notebooks/ch02_masking.py", 75.0, "quick", "cpu (2 threads)")
    assert ".venv/bin/jupytext --to ipynb notebooks/ch02_masking.py" in note
    assert "jupyter execute --inplace notebooks/ch02_masking.ipynb" in note
    assert "mode `quick` on cpu (2 threads) in **75 s**" in note
    assert "in **10.0 min**" in rerun_note("notebooks/ch01_deep_audio_prior.py", 600.0, "standard", "cpu")


def test_players_embed_wav_where_flac_frames_cannot_name_the_rate() -> None:
    """At 11025 Hz (chapter 1) an embedded FLAC cannot be seeked in Chromium: those players carry WAV."""
    from percloss.notebook import audio_data_uri

    x = 0.25 * np.sin(np.arange(4000) * 0.1)
    for rate, kind in ((11025, "wav"), (16000, "flac"), (44100, "flac")):
        uri = audio_data_uri(x, rate)
        assert uri.startswith(f"data:audio/{kind};base64,")
        y, got = sf.read(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
        assert got == rate and len(y) == len(x)
        np.testing.assert_allclose(y, x, atol=2 / 32767)
    assert 'type="audio/wav"' in audio_tag(x, 11025)
    with pytest.raises(ValueError, match="rate"):
        audio_data_uri(x, "11025")  # type: ignore[arg-type]


def test_a_claims_table_shows_every_verdict_of_the_rule_with_its_own_class(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from percloss import notebook
    from percloss.experiments.claims import VERDICTS, Claim, read_claims

    verdicts = ["reproduced: a", "not reproduced: b", "mixed: the seeds disagree on c", "not tested here (d)"]
    assert {v.split(":")[0].split(" (")[0] for v in verdicts} == set(VERDICTS)
    claims = [Claim(f"claim {i}", "w", "s", "m", "x", v) for i, v in enumerate(verdicts)]
    html = notebook.claims_html(claims, csv_path=str(tmp_path / "c.csv"))
    assert [c.verdict for c in read_claims(tmp_path / "c.csv")] == verdicts
    for cls in ("pl-yes", "pl-not", "pl-mixed", "pl-untested"):
        assert html.count(f'class="{cls}"') == 1, cls


def _decoded(html: str) -> np.ndarray:
    payload = re.search(r"data:audio/(?:flac|wav);base64,([A-Za-z0-9+/=]+)", html)
    assert payload is not None
    return sf.read(io.BytesIO(base64.b64decode(payload.group(1))))[0]


def test_audio_player_fixes_rate_and_width_and_clips_only_when_asked() -> None:
    from percloss.notebook import audio_player

    x = np.array([0.0, 1.5, -1.7, 0.5] * 200)
    with pytest.raises(ValueError, match="within"):
        audio_player(8000)(x)  # refused, as audio_tag refuses
    html = audio_player(8000, 99, clip=True)(torch.from_numpy(x))
    assert 'style="width: 99px"' in html
    np.testing.assert_allclose(_decoded(html), np.clip(x, -1, 1), atol=2 / 32767)
    with pytest.raises(ValueError, match="rate"):
        audio_player(0)


def test_begin_chapter_reads_the_mode_and_closes_with_its_wall_time(monkeypatch: pytest.MonkeyPatch) -> None:
    from percloss.notebook import begin_chapter

    monkeypatch.setenv("PERCLOSS_MODE", "quick")
    chapter = begin_chapter("notebooks/ch09_test.py")
    assert chapter.mode == "quick" and 0 <= chapter.elapsed() < 60
    chapter.start -= 125.0  # as if it had run 125 s
    note = chapter.closing_note("cpu (2 threads)")
    assert "ch09_test.ipynb" in note and "mode `quick` on cpu (2 threads) in **2.1 min**" in note
    monkeypatch.setenv("PERCLOSS_MODE", "fastest")
    with pytest.raises(ValueError, match="PERCLOSS_MODE"):
        begin_chapter("notebooks/ch09_test.py")
