"""Build the codec chapter's music corpus from the Debian Fret's on Fire song packs.

Run through ``scripts/build_codec_corpus.sh`` (it installs the packages). Each
song's full band mix is ``song.ogg + guitar.ogg`` (the game ships the guitar as
a separate stem), mixed to mono. The split is by song, so training and
evaluation never share a recording:

- held out: Sectoid "Escape from chaosland" (also the source of the shipped
  ``band_sectoid`` clip) and Muldjord "Mutilated mime";
- training: the other six songs.

Written to ``data/codec/`` (shipped, so the book needs no apt step): a fixed
excerpt of every song, peak-normalised to -1 dBFS, 44.1 kHz 16-bit FLAC, and
``manifest.json`` with split, offsets, licence and SHA-256. With ``--full DIR``
the whole songs are also written there (about 190 MB as FLAC; for ``full`` mode).

``--split train --full DIR`` writes only the training songs' whole mixes to
DIR (nothing to ``--out``), e.g. on a machine that has only the training
songs' stems under ``--root``.

Usage: python scripts/build_codec_corpus.py [--out data/codec] [--full data/codec_corpus]
       [--split all|train|heldout] [--root /usr/share/games/fretsonfire/data/songs]
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import soundfile as sf

PEAK = 10 ** (-1 / 20)  # -1 dBFS
ROOT = Path("/usr/share/games/fretsonfire/data/songs")
SECTOID = ("sectoid", "Sectoid", "MIT", "fretsonfire-songs-sectoid")
MULDJORD = ("muldjord", "Muldjord (El Senator)", "CC-BY-SA-3.0", "fretsonfire-songs-muldjord")

# (pack, folder, title, split, excerpt offset s, excerpt length s); a held-out excerpt is 12 evaluation
# segments of 6 s (percloss.experiments.codec_study)
SONGS = [
    (SECTOID, "Metal madness", "Metal madness", "train", 40.0, 20.0),
    (SECTOID, "Feelings", "Feelings", "train", 40.0, 20.0),
    (SECTOID, "War of freedom", "War of freedom", "train", 40.0, 20.0),
    (MULDJORD, "chaos_god", "Chaos god", "train", 40.0, 20.0),
    (MULDJORD, "internal_degeneration", "Internal degeneration", "train", 40.0, 20.0),
    (MULDJORD, "armygeddon", "Armygeddon", "train", 40.0, 20.0),
    (SECTOID, "Escape from chaosland", "Escape from chaosland", "heldout", 60.0, 72.0),
    (MULDJORD, "mutilated_mime", "Mutilated mime", "heldout", 60.0, 72.0),
]


def band_mix(pack: str, folder: str, root: Path = ROOT) -> tuple[np.ndarray, int]:
    """Mono sum of a song's backing track and guitar stem."""
    parts = []
    rate = 0
    for stem in ("song.ogg", "guitar.ogg"):
        x, rate = sf.read(str(root / pack / folder / stem), dtype="float64", always_2d=True)
        parts.append(x.mean(axis=1))
    n = min(len(p) for p in parts)
    return parts[0][:n] + parts[1][:n], int(rate)


def slug(title: str) -> str:
    return title.lower().replace(" ", "_")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/codec"))
    parser.add_argument("--full", type=Path, default=None, help="also write whole songs here")
    parser.add_argument("--split", choices=("all", "train", "heldout"), default="all",
                        help="only this split's whole songs (needs --full; writes nothing to --out)")
    parser.add_argument("--root", type=Path, default=ROOT, help="the Fret's on Fire songs folder")
    args = parser.parse_args()
    if args.split != "all":
        if args.full is None:
            parser.error("--split needs --full")
        args.full.mkdir(parents=True, exist_ok=True)
        for (pack, *_), folder, title, split, *_ in SONGS:
            if split == args.split:
                mix, rate = band_mix(pack, folder, args.root)
                sf.write(str(args.full / f"{slug(title)}.flac"), mix * (PEAK / np.abs(mix).max()), rate,
                         subtype="PCM_16", format="FLAC")
                print(f"{slug(title)}: {split}, {len(mix) / rate:.0f} s")
        return
    args.out.mkdir(parents=True, exist_ok=True)
    manifest = {}
    for (pack, artist, licence, package), folder, title, split, offset, seconds in SONGS:
        mix, rate = band_mix(pack, folder, args.root)
        name = slug(title)
        start, stop = int(offset * rate), int((offset + seconds) * rate)
        part = mix[start:stop]
        part = part * (PEAK / np.abs(part).max())
        path = args.out / f"{name}.flac"
        sf.write(str(path), part, rate, subtype="PCM_16", format="FLAC")
        manifest[name] = {
            "file": path.name, "title": title, "artist": artist, "split": split, "sample_rate": rate,
            "offset_seconds": offset, "seconds": seconds, "song_seconds": round(len(mix) / rate, 2),
            "source": f"Debian {package}: {pack}/{folder}/song.ogg + guitar.ogg", "licence": licence,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        }
        if args.full is not None:
            args.full.mkdir(parents=True, exist_ok=True)
            sf.write(str(args.full / f"{name}.flac"), mix * (PEAK / np.abs(mix).max()), rate, subtype="PCM_16",
                     format="FLAC")
        print(f"{name}: {split}, {seconds:.0f} s from {offset:.0f} s of {len(mix) / rate:.0f} s")
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
