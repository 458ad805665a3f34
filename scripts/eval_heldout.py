"""Evaluate every shipped codec model and the MP3 / Opus ladders on the held-out set (chapter 4).

Writes ``runs/codec/heldout/rows/<song>.csv`` and ``<song>.json`` (``percloss.experiments.heldout_eval.run``);
resumes where a stopped run stopped (a song is redone when a model or its file changed). About 27 rows per
segment (seven models, two ladders at two sample rates), each scored by ViSQOL, CDPAM (middle 2 s), NMR,
SNR and LSD: roughly 4 minutes per segment on one thread; ``--songs`` splits the set between processes.

``--snapshots`` instead scores the stored training snapshots of the shipped points on the learning curves'
fixed subset (``percloss.experiments.learning_curves.run``: one segment per song, about 10 minutes per
snapshot on one thread) into ``runs/codec/heldout/curves/``.

``--collection broad`` scores the broad-corpus models (``percloss/models/broad``; ``--models`` some of them) on the
held-out set, each into ``runs/codec/heldout/broad/<point>/`` (no ladders: those rows are the codec
collection's), and on the repository's clips (``--clips``, with the ladders) into
``runs/codec/heldout/broad/clips/``.

Usage: python scripts/eval_heldout.py [--out runs/codec/heldout] [--songs SONG ...] [--threads 1] [--snapshots]
       [--collection broad [--clips CLIP ...]]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from percloss import data, paths
from percloss.experiments import heldout_eval, learning_curves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(paths.heldout_eval_dir()))
    parser.add_argument("--songs", nargs="*", default=None)
    parser.add_argument("--models", nargs="*", default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--snapshots", action="store_true", help="score the stored training snapshots instead")
    parser.add_argument("--collection", choices=("codec", "broad"), default="codec")
    parser.add_argument("--clips", nargs="*", default=None, help="with --collection broad: score these clips")
    parser.add_argument("--checkpoint", default=None,
                        help="with --collection broad and one --models POINT: score this checkpoint file (a finished "
                             "run that has not shipped) instead of the shipped model")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.collection != "codec":
        out = paths.heldout_eval_dir() / args.collection if args.out == str(paths.heldout_eval_dir()) else args.out
        if args.clips is not None:
            heldout_eval.run_clips(Path(out) / "clips", args.clips or data.list_clips(), args.collection)
        else:
            from percloss.shipped import shipped_models

            for name in args.models or sorted(shipped_models(args.collection)):
                heldout_eval.run(Path(out) / name, [name], args.songs, collection=args.collection,
                                 checkpoint=args.checkpoint)
    elif args.snapshots:
        learning_curves.run(args.out)
    else:
        heldout_eval.run(args.out, args.models, args.songs)


if __name__ == "__main__":
    main()
