"""MP3 and Opus anchors: real file bitrates, alignment, quality rising with rate, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from percloss import anchors, data


def snr_db(ref: np.ndarray, test: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref**2) / np.sum((test - ref) ** 2)))


@pytest.fixture(scope="module")
def music() -> np.ndarray:
    x, _ = data.load_wav(data.codec_corpus_dir() / "mutilated_mime.flac", 32000)
    return x[: 4 * 32000].double().numpy()


def test_align_undoes_a_delay() -> None:
    g = np.random.default_rng(0)
    x = g.standard_normal(5000)
    delayed = np.concatenate([np.zeros(321), x, np.zeros(50)])
    np.testing.assert_array_equal(anchors.align(x, delayed), x)


@pytest.mark.parametrize("codec", ["mp3", "opus"])
def test_file_bitrate_matches_the_request_and_quality_rises_with_rate(music: np.ndarray, codec: str) -> None:
    encode = getattr(anchors, codec)
    low, high = encode(music, 32000, 32), encode(music, 32000, 96)
    for coded, kbps in ((low, 32), (high, 96)):
        assert coded.audio.shape == music.shape
        assert coded.kbps == pytest.approx(kbps, rel=0.04)
    # aligned output: a misaligned decode of music would give SNR near or below 0 dB
    assert snr_db(music, low.audio) > 3.0
    assert snr_db(music, high.audio) > snr_db(music, low.audio) + 3.0


def test_opus_at_a_native_rate_needs_no_resampling() -> None:
    x, _ = data.load_wav(data.clips_dir() / "speech_male.wav")
    coded = anchors.opus(x.double().numpy(), 16000, 24)
    assert coded.kbps == pytest.approx(24, rel=0.04)
    assert snr_db(x.double().numpy(), coded.audio) > 3.0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda x: anchors.mp3(np.stack([x, x]), 32000, 64), "x must be mono"),
        (lambda x: anchors.mp3(x, 32000, 65.5), "kbps"),
        (lambda x: anchors.opus(x, 32000, 4), "kbps"),
        (lambda x: anchors.opus(np.where(np.arange(len(x)) == 3, np.nan, x), 32000, 64), "NaN"),
        (lambda x: anchors.opus(x, 0, 64), "sample_rate"),
    ],
)
def test_bad_input(music: np.ndarray, call: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call(music)  # type: ignore[operator]


def test_an_opus_bitstream_decodes_to_the_same_signal_every_time(music: np.ndarray) -> None:
    """opus = opus_decode(opus_encode(...)); the stored bitstream, decoded again, gives the same samples and rate,
    and a damaged or foreign file is refused with a clear error."""
    blob = anchors.opus_encode(music, 32000, 48)
    first, again = anchors.opus_decode(blob, music, 32000), anchors.opus_decode(blob, music, 32000)
    np.testing.assert_array_equal(first.audio, again.audio)
    assert first.n_bytes == len(blob) and first.kbps == pytest.approx(48, rel=0.03)
    np.testing.assert_array_equal(anchors.opus(music, 32000, 48).audio, first.audio)  # same encoder, same machine
    with pytest.raises(ValueError, match="Ogg Opus"):
        anchors.opus_decode(b"RIFF" + blob[4:], music, 32000)
    with pytest.raises(ValueError, match="readable Ogg Opus"):
        anchors.opus_decode(blob[:200], music, 32000)
