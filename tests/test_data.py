"""The clip set: files as the manifest says, resampling, excerpts, bad input."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import soundfile as sf
import torch

from percloss import data
from percloss.signal import resample_audio


def test_every_clip_matches_its_manifest() -> None:
    names = data.list_clips()
    assert set(names) == {"speech_male", "speech_female", "piano_bach", "band_sectoid", "beat_moh", "drums_hydrogen"}
    assert set(data.list_clips("speech")) | set(data.list_clips("music")) == set(names)
    for name in names:
        info = data.clip_info(name)
        path = data.clips_dir() / info["file"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == info["sha256"], name
        meta = sf.info(str(path))
        assert (meta.samplerate, meta.channels, meta.subtype) == (info["sample_rate"], 1, "PCM_16")
        assert meta.frames == info["num_samples"]
        x = data.load_clip(name)
        # peak-normalised to -1 dBFS, and real content (not silence or a constant)
        assert float(x.abs().max()) == pytest.approx(10 ** (-1 / 20), abs=2e-4)
        assert float(x.std()) > 0.02


def band_energy_db(x: np.ndarray, sr: int, lo: float, hi: float) -> float:
    f, p = scipy.signal.welch(x, sr, nperseg=1024)
    sel = (f >= lo) & (f < hi)
    return float(10 * np.log10(p[sel].sum() * (f[1] - f[0])))


def test_resampling_keeps_the_band_below_nyquist_and_removes_the_rest() -> None:
    native = data.load_clip("piano_bach").double().numpy()
    low = data.load_clip("piano_bach", 16000).double().numpy()
    assert len(low) == round(len(native) * 16000 / 44100)
    # an independent resampler agrees on the band energies below the new Nyquist
    ref = scipy.signal.resample_poly(native, 160, 441)
    for lo, hi in [(50, 500), (500, 2000), (2000, 7000)]:
        assert band_energy_db(low, 16000, lo, hi) == pytest.approx(band_energy_db(ref, 16000, lo, hi), abs=0.2)
        assert band_energy_db(low, 16000, lo, hi) == pytest.approx(band_energy_db(native, 44100, lo, hi), abs=0.5)
    # a tone above the new Nyquist does not fold back
    t = np.arange(44100) / 44100
    tone = np.sin(2 * np.pi * 12000 * t)
    down = resample_audio(tone, 44100, 16000)
    assert np.sqrt(np.mean(down[1000:-1000] ** 2)) < 1e-4  # below -77 dB re the tone


def test_excerpt_is_exact_and_defaults_to_the_manifest_offset() -> None:
    x = data.load_clip("drums_hydrogen", 11025)
    offset = data.clip_info("drums_hydrogen")["excerpt_offset_seconds"]
    start = round(offset * 11025)
    torch.testing.assert_close(data.excerpt("drums_hydrogen"), x[start : start + 8192])
    torch.testing.assert_close(data.excerpt("drums_hydrogen", 11025, 100, 1.0), x[11025:11125])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: data.load_clip("speech"), "name must be one of"),
        (lambda: data.load_clip("speech_male", 0), "sample_rate"),
        (lambda: data.load_clip("speech_male", 500), "between 1000 and 384000"),
        (lambda: data.load_clip("speech_male", 16000.5), "integer"),
        (lambda: data.excerpt("speech_male", 11025, 8192, 3.9), "runs past the end"),
        (lambda: data.excerpt("speech_male", 11025, 8192, -1.0), "offset_seconds"),
        (lambda: data.excerpt("speech_male", 11025, 0), "num_samples"),
        (lambda: data.list_clips("noise"), "kind"),
    ],
)
def test_bad_requests_get_a_clear_error(call, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        call()


def test_load_wav_reads_int16_and_stereo_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    t = np.arange(8000) / 8000
    left, right = 0.5 * np.sin(2 * np.pi * 300 * t), 0.25 * np.sin(2 * np.pi * 300 * t)
    path = tmp_path / "stereo.wav"
    sf.write(str(path), np.stack([left, right], axis=1), 8000, subtype="PCM_16")
    x, sr = data.load_wav(path)
    assert sr == 8000 and x.shape == (8000,) and x.dtype == torch.float32
    np.testing.assert_allclose(x.numpy(), (left + right) / 2, atol=1 / 32768)
    y, sr2 = data.load_wav(path, 16000)
    assert sr2 == 16000 and y.shape == (16000,)
    (tmp_path / "junk.wav").write_bytes(b"not audio")
    with pytest.raises(ValueError, match="not a readable audio file"):
        data.load_wav(tmp_path / "junk.wav")
    with pytest.raises(ValueError, match="does not name a file"):
        data.load_wav(tmp_path / "missing.wav")


def test_one_sample_rate_validator_everywhere() -> None:
    """data, codec and degrade share _checks.check_sample_rate (numpy integers in, bools out, one range)."""
    import numpy as np

    from percloss import degrade
    from percloss._checks import AUDIO_RATE_RANGE, check_sample_rate

    assert check_sample_rate(np.int64(16000)) == 16000 and check_sample_rate(16000.0) == 16000
    for bad in (True, np.bool_(True), 0, -1, 1.5, float("nan"), "16000"):
        with pytest.raises(ValueError, match="sample_rate"):
            check_sample_rate(bad)
    with pytest.raises(ValueError, match=f"between {AUDIO_RATE_RANGE[0]} and {AUDIO_RATE_RANGE[1]}"):
        resample_audio(np.zeros(10), 500, 16000)
    x = np.sin(np.arange(16000) * 0.1)
    assert np.array_equal(degrade.degrade(x, "noise", 0.01, sample_rate=np.int32(16000)),
                          degrade.degrade(x, "noise", 0.01, sample_rate=16000))


def test_the_codec_corpus_location_follows_its_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    import soundfile as sf

    from percloss import data

    sf.write(tmp_path / "a.flac", 0.1 * np.sin(np.arange(16000) * 0.05), 16000)
    (tmp_path / "manifest.json").write_text(json.dumps({"a": {"file": "a.flac", "split": "heldout"}}))
    monkeypatch.setenv("PERCLOSS_CORPUS", str(tmp_path))
    assert data.codec_corpus_dir() == tmp_path
    songs = data.codec_corpus("heldout", 8000)
    assert list(songs) == ["a"] and songs["a"].shape == (8000,)  # resampled from 16 kHz
    assert data.codec_corpus("train", 8000) == {}
