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
