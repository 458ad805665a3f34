"""Build the codec chapter's held-out evaluation set (``data/heldout/``): 16 songs never trained on.

Run through ``scripts/build_heldout_set.sh`` (it installs the Debian packages). Songs come from seven
sources of different character; the songs of each source are chosen by a rule written here before any
scoring (the first songs by name of at least 120 s; the two Fret's on Fire songs are the corpus's held-out
songs), and each song's four 6-s evaluation segments by :func:`percloss.data.choose_segments`. A song is
mixed to mono at 44.1 kHz (soxr from 48 kHz sources), peak-normalised to -1 dBFS as a whole, and its
segments are stored back to back as one 16-bit FLAC; ``manifest.json`` records group, source, licence,
whether the source is lossy or a render, the segment starts and the SHA-256. The build is deterministic:
rerunning it rewrites the same bytes (the manifest's hashes are checked by ``percloss.data.heldout_set``).

Usage: python scripts/build_heldout_set.py --work DIR [--out data/heldout]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_clips import read_audio, render_drums, sdist_member  # noqa: E402
from build_codec_corpus import ROOT as FOF_ROOT  # noqa: E402
from build_codec_corpus import band_mix  # noqa: E402

from percloss.data import HELDOUT_SEGMENT_SECONDS, choose_segments  # noqa: E402
from percloss.signal import resample_audio  # noqa: E402

RATE = 44100
PEAK = 10 ** (-1 / 20)  # -1 dBFS
MIN_SONG_SECONDS = 120.0
WESNOTH = Path("/usr/share/games/wesnoth/1.16/data/core/music")
SINGULARITY = Path("/usr/share/games/singularity/music")
WARZONE = Path("/usr/share/games/warzone2100/music/albums/original_soundtrack")
HYDROGEN_JAZZY = Path("/usr/share/hydrogen/data/demo_songs/GM_kit_Jazzy.h2song")


@dataclass(frozen=True)
class Source:
    group: str  # the genre / kind the chapter reports per group
    artist: str
    package: str  # where it comes from on these machines
    licence: str
    lossy: str  # "" or the source's lossy format
    render: bool  # synthesised from samples, not a recording


FOF_SECTOID = Source("rock (Fret's on Fire)", "Sectoid", "Debian fretsonfire-songs-sectoid", "MIT", "Ogg Vorbis",
                     False)
FOF_MULDJORD = Source("metal (Fret's on Fire)", "Muldjord (El Senator)", "Debian fretsonfire-songs-muldjord",
                      "CC-BY-SA-3.0", "Ogg Vorbis", False)
WESNOTH_SRC = Source("orchestral (Wesnoth)", "The Battle for Wesnoth composers", "Debian wesnoth-1.16-music",
                     "GPL-2+", "Ogg Vorbis", False)
SINGULARITY_SRC = Source("ambient electronic (Singularity)", "Max McCracken", "Debian singularity-music",
                         "CC-BY-SA-3.0", "Ogg Vorbis", False)
WARZONE_SRC = Source("electronic (Warzone 2100)", "Martin Severn (Warzone 2100 original soundtrack, 1999)",
                     "Debian warzone2100-music", "GPL-2+", "Opus", False)
VOCADITO = Source("singing (vocadito stems)", "vocadito dataset (Bittner et al.)",
                  "PyPI sdist basic-pitch==0.4.0: tests/resources", "CC-BY-4.0", "", False)
HYDROGEN = Source("drums (Hydrogen render)", "Hydrogen GM kit demo songs", "Debian hydrogen + hydrogen-data",
                  "GPL-2+", "", True)


def first_long_songs(folder: Path, pattern: str, count: int) -> list[Path]:
    """The rule for a game soundtrack: the first ``count`` files by name lasting at least 120 s."""
    songs = [p for p in sorted(folder.glob(pattern)) if sf.info(str(p)).duration >= MIN_SONG_SECONDS]
    if len(songs) < count:
        raise RuntimeError(f"{folder}: only {len(songs)} songs of at least {MIN_SONG_SECONDS:g} s")
    return songs[:count]


def mono_44k(path: Path) -> np.ndarray:
    x, rate = read_audio(path)
    return resample_audio(x, rate, RATE) if rate != RATE else x


def slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")


def songs(work: Path) -> list[tuple[str, str, Source, str, np.ndarray]]:
    """``(name, title, source, where, mono mix at 44.1 kHz)`` for every held-out song."""
    out = []
    for source, pack, folder, title in ((FOF_SECTOID, "sectoid", "Escape from chaosland", "Escape from chaosland"),
                                        (FOF_MULDJORD, "muldjord", "mutilated_mime", "Mutilated mime")):
        mix, rate = band_mix(pack, folder, FOF_ROOT)
        assert rate == RATE
        out.append((slug(title), title, source, f"{pack}/{folder}/song.ogg + guitar.ogg", mix))
    for source, folder, pattern, count in ((WESNOTH_SRC, WESNOTH, "*.ogg", 4),
                                           (SINGULARITY_SRC, SINGULARITY, "*.ogg", 4),
                                           (WARZONE_SRC, WARZONE, "*.opus", 3)):
        for path in first_long_songs(folder, pattern, count):
            name = slug(f"{source.group.split(' (')[1].rstrip(')')} {path.stem}")
            out.append((name, path.stem, source, str(path), mono_44k(path)))
    for stem in ("vocadito_10", "vocadito_14"):
        x, rate = read_audio(sdist_member(work, "basic-pitch", f"tests/resources/{stem}.wav"))
        out.append((stem, stem.replace("_", " "), VOCADITO, f"tests/resources/{stem}.wav",
                    resample_audio(x, rate, RATE) if rate != RATE else x))
    x, rate = render_drums(work, HYDROGEN_JAZZY)
    out.append(("hydrogen_gm_kit_jazzy", "GM kit Jazzy (render)", HYDROGEN, str(HYDROGEN_JAZZY),
                resample_audio(x, rate, RATE) if rate != RATE else x))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="a scratch folder (downloads, renders)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "data" / "heldout")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    manifest = {}
    length = int(round(HELDOUT_SEGMENT_SECONDS * RATE))
    for name, title, source, where, mix in songs(args.work):
        mix = mix * (PEAK / np.abs(mix).max())
        starts = choose_segments(mix, RATE)
        stored = np.concatenate([mix[s:s + length] for s in starts])
        path = args.out / f"{name}.flac"
        sf.write(str(path), stored, RATE, subtype="PCM_16", format="FLAC")
        manifest[name] = {
            "file": path.name, "title": title, "artist": source.artist, "group": source.group,
            "source": f"{source.package}: {where}", "licence": source.licence,
            "lossy_source": source.lossy, "render": source.render, "sample_rate": RATE,
            "song_seconds": round(len(mix) / RATE, 2), "segment_seconds": HELDOUT_SEGMENT_SECONDS,
            "segment_starts_seconds": [round(s / RATE, 3) for s in starts],
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        }
        print(f"{name}: {source.group}, {len(mix) / RATE:.0f} s, segments at "
              f"{', '.join(f'{s / RATE:.1f}' for s in starts)} s")
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
