"""Build the broad training corpus for the codec (``data/corpus/``): about 4.6 h of music from six sources,
disjoint from the held-out set (``data/heldout``) by recording.

Run through ``scripts/build_training_corpus.sh`` (it installs the Debian packages). Every song is mixed to
mono at 44.1 kHz (soxr from 48 kHz sources), peak-normalised to -1 dBFS and written as a 16-bit FLAC to
``--audio`` (not shipped: about 1 GB); ``data/corpus/manifest.json`` (shipped) records each song's group,
source, licence, lossy source or render, duration and the FLAC's SHA-256, so ``percloss.data.training_corpus``
can check what it loads. The selection rule, fixed here: every song of each source that lasts at least 60 s,
except the held-out songs, anything the package derives from them (Warzone 2100's ``*_enhanced`` and ``menu``
tracks) and the book's own clips; the Hydrogen demo songs other than the held-out one and the book's clip,
rendered (renders are labelled; about 2 % of the corpus).

Usage: python scripts/build_training_corpus.py --work DIR [--audio data/corpus/audio] [--out data/corpus]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_clips import HYDROGEN_SONG, render_drums  # noqa: E402
from build_codec_corpus import ROOT as FOF_ROOT  # noqa: E402
from build_codec_corpus import SONGS as FOF_SONGS  # noqa: E402
from build_codec_corpus import band_mix  # noqa: E402
from build_heldout_set import (  # noqa: E402
    HYDROGEN_JAZZY,
    RATE,
    SINGULARITY,
    WESNOTH,
    mono_44k,
    slug,
)

from percloss.signal import resample_audio  # noqa: E402

PEAK = 10 ** (-1 / 20)
MIN_SECONDS = 60.0
HELDOUT = Path(__file__).resolve().parent.parent / "data" / "heldout" / "manifest.json"
WARZONE_ALBUMS = Path("/usr/share/games/warzone2100/music/albums")
HYDROGEN_DEMOS = HYDROGEN_SONG.parent

# (group, artist, package, licence, lossy source, render)
FOF = {"sectoid": ("band mix (Fret's on Fire)", "Sectoid", "Debian fretsonfire-songs-sectoid", "MIT"),
       "muldjord": ("band mix (Fret's on Fire)", "Muldjord (El Senator)", "Debian fretsonfire-songs-muldjord",
                    "CC-BY-SA-3.0")}
WESNOTH_INFO = ("orchestral (Wesnoth)", "The Battle for Wesnoth composers", "Debian wesnoth-1.16-music", "GPL-2+")
SINGULARITY_INFO = ("ambient electronic (Singularity)", "Max McCracken", "Debian singularity-music", "CC-BY-SA-3.0")
WARZONE_INFO = ("electronic (Warzone 2100)", "LupusMechanicus", "Debian warzone2100-music",
                "CC-BY-SA-3.0 or GPL-2+")
HYDROGEN_INFO = ("drums (Hydrogen render)", "Hydrogen demo songs", "Debian hydrogen + hydrogen-data", "GPL-2+")


def heldout_sources() -> set[str]:
    """The source paths of the held-out songs (the corpus may not touch them)."""
    manifest = json.loads(HELDOUT.read_text())
    return {info["source"].split(": ", 1)[1] for info in manifest.values()}


def candidates() -> list[tuple[str, tuple[str, str, str, str], str, bool, str, Path | None]]:
    """``(name, (group, artist, package, licence), lossy, render, where, path)`` by the rule above."""
    held = heldout_sources()
    out = []
    for (pack, _artist, _licence, _package), folder, title, split, *_ in FOF_SONGS:
        if split == "train":
            out.append((slug(f"{pack} {title}"), FOF[pack], "Ogg Vorbis", False,
                        f"{pack}/{folder}/song.ogg + guitar.ogg", None))
    for info, folder, pattern, lossy in ((WESNOTH_INFO, WESNOTH, "*.ogg", "Ogg Vorbis"),
                                         (SINGULARITY_INFO, SINGULARITY, "*.ogg", "Ogg Vorbis"),
                                         (WARZONE_INFO, WARZONE_ALBUMS / "legacy_soundtrack", "*.opus", "Opus"),
                                         (WARZONE_INFO, WARZONE_ALBUMS / "aftermath_soundtrack", "*.opus", "Opus")):
        for path in sorted(folder.glob(pattern)):
            if str(path) in held or "enhanced" in path.stem or path.stem.startswith("menu"):
                continue
            if sf.info(str(path)).duration < MIN_SECONDS:
                continue
            album = "" if folder.name == "music" else folder.name.removesuffix("_soundtrack")
            out.append((slug(f"{info[0].split(' (')[1].rstrip(')')} {album} {path.stem}").replace("__", "_"), info,
                        lossy, False, str(path), path))
    for song in sorted(HYDROGEN_DEMOS.glob("*.h2song")):
        if song in (HYDROGEN_JAZZY, HYDROGEN_SONG):  # held out; the book's drums_hydrogen clip
            continue
        out.append((slug(f"hydrogen {song.stem}"), HYDROGEN_INFO, "", True, str(song), song))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--audio", type=Path, default=Path("data/corpus/audio"))
    parser.add_argument("--out", type=Path, default=Path("data/corpus"))
    args = parser.parse_args()
    for folder in (args.work, args.audio, args.out):
        folder.mkdir(parents=True, exist_ok=True)
    manifest = {}
    for name, (group, artist, package, licence), lossy, render, where, path in candidates():
        if path is None:  # a Fret's on Fire band mix
            pack, folder = where.split("/")[:2]
            mix, rate = band_mix(pack, folder, FOF_ROOT)
            assert rate == RATE
        elif render:
            x, rate = render_drums(args.work, path)
            mix = resample_audio(x, rate, RATE) if rate != RATE else x
        else:
            mix = mono_44k(path)
        mix = mix * (PEAK / np.abs(mix).max())
        target = args.audio / f"{name}.flac"
        sf.write(str(target), mix, RATE, subtype="PCM_16", format="FLAC")
        manifest[name] = {"file": target.name, "group": group, "artist": artist, "source": f"{package}: {where}",
                          "licence": licence, "lossy_source": lossy, "render": render, "sample_rate": RATE,
                          "seconds": round(len(mix) / RATE, 2),
                          "sha256": hashlib.sha256(target.read_bytes()).hexdigest()}
        print(f"{name}: {group}, {len(mix) / RATE:.0f} s", flush=True)
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    hours = sum(v["seconds"] for v in manifest.values()) / 3600
    print(f"{len(manifest)} songs, {hours:.2f} h")


if __name__ == "__main__":
    main()
