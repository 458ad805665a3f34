"""Shipped codec models vs MP3 (LAME) on excerpts of the held-out songs: bitrate, NMR, audible frames, ViSQOL, SNR.

Usage: python scripts/eval_codec_heldout.py D64,C64 [SECONDS] (whole songs from data/codec_corpus, from 60 s)
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from percloss import data
from percloss.anchors import mp3
from percloss.codec import read_bitstream, write_bitstream
from percloss.metrics import nmr, snr
from percloss.scorers import visqol
from percloss.shipped import load_shipped_codec


def main() -> None:
    names = sys.argv[1].split(",")
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
    rate = 32000
    for song, full in data.codec_corpus("heldout", rate, "data/codec_corpus").items():
        x = full[60 * rate : int((60 + seconds) * rate)]
        systems: dict[str, tuple[torch.Tensor, float]] = {}
        for name in names:
            codec, counts, _ = load_shipped_codec(name)
            blob = write_bitstream(codec, counts, x, rate)
            y, _ = read_bitstream(codec, counts, blob)
            systems[name] = (y.clamp(-1, 1), len(blob) * 8 / seconds / 1000)
        coded = mp3(x.numpy(), rate, 64)
        systems["MP3 64"] = (torch.as_tensor(np.asarray(coded.audio, dtype=np.float32)), coded.kbps)
        for name, (y, kbps) in systems.items():
            y = y[: len(x)]
            r = nmr(x.double(), y.double(), rate)
            score = visqol(x.numpy(), y.numpy(), rate)
            print(f"{song} {seconds:g} s from 60 s | {name}: {kbps:.1f} kbit/s, NMR {float(r.mean_db):.2f} dB, "
                  f"audible frames {100 * float(r.audible_fraction):.1f} %, ViSQOL {score:.2f}, "
                  f"SNR {float(snr(x.double(), y.double())):.2f} dB", flush=True)


if __name__ == "__main__":
    main()
