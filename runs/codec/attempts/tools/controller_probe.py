"""The first steps of a two-module point from scratch under one rate-control variant (CPU, 1 thread).

Usage: python runs/codec/attempts/tools/controller_probe.py VARIANT [--point A79] [--steps 400] [--out DIR]

VARIANT: ``signed`` (the schedule of ``percloss.codec_runs.RUN``: hard-entropy
signed controller, re-seeding, saturation penalty), ``multiplicative``
(the same, with the one-module models' multiplicative controller on the soft
entropy), or either with ``-no-reseed``. Writes ``DIR/<point>-<variant>.csv`` (the training log) for side-by-side reading.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from percloss import data
from percloss.codec import CascadedCodec
from percloss.codec_runs import POINTS, RUN
from percloss.codec_training import train_codec

VARIANTS = {"signed": {}, "multiplicative": {"rate_control": "multiplicative", "rate_entropy": "soft"},
            "signed-no-reseed": {"reseed_every": None},
            "multiplicative-no-reseed": {"rate_control": "multiplicative", "rate_entropy": "soft", "reseed_every": None}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variant", choices=sorted(VARIANTS))
    parser.add_argument("--point", default="A79", choices=sorted(POINTS))
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--out", type=Path, default=Path("runs/codec/attempts/cpu-2026-11-30"))
    parser.add_argument("--corpus-folder", default="data/codec_corpus")
    args = parser.parse_args()
    torch.set_num_threads(1)
    point = POINTS[args.point]
    settings = replace(RUN.settings(point), steps=args.steps, **VARIANTS[args.variant])
    signals = list(data.codec_corpus("train", point.sample_rate, args.corpus_folder).values())
    torch.manual_seed(RUN.seed)
    codec = CascadedCodec(point.n_modules)
    csv_path = args.out / f"{args.point}-{args.variant}.csv"
    csv_path.unlink(missing_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    train_codec(codec, signals, point.sample_rate, point.model, settings, log_csv=csv_path, save_every=50,
                progress=False)


if __name__ == "__main__":
    main()
