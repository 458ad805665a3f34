"""Run chapter 1's deep-audio-prior fits for one loss on some clips and store them for the book.

Standard mode loads the CDPAM runs from ``runs/prior/<mode>/`` (one
``<clip>__<loss>.npz`` with its ``.json`` record each) instead of spending
their time again: CDPAM is a pretrained network of about a second per
iteration on 2 CPU cores. Same generator, noise, seed and schedule as the
chapter's other losses in that mode.

Usage: python scripts/run_prior_stored.py [--loss cdpam] [--mode standard] [--clips speech_male piano_bach]
"""

from __future__ import annotations

import argparse
import platform
from dataclasses import replace

import torch

from percloss.experiments import prior
from percloss.modes import MODES, configure_threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loss", default="cdpam", choices=sorted(prior.LOSSES))
    parser.add_argument("--mode", default="standard", choices=MODES)
    parser.add_argument("--clips", nargs="+", default=None)
    parser.add_argument("--out", default=None, help="(Default: runs/prior/<mode>)")
    args = parser.parse_args()
    configure_threads()
    config = prior.PriorConfig.for_mode(args.mode)
    clips = tuple(args.clips) if args.clips else prior.CDPAM_CLIPS.get(args.mode, config.clips)
    results = prior.run_prior_experiment(replace(config, clips=clips, losses=(args.loss,)))
    machine = f"{platform.machine()} CPU, {torch.get_num_threads()} torch threads, torch {torch.__version__}"
    out = args.out or f"runs/prior/{args.mode}"
    for path in prior.save_results(results, config, out, machine):
        print(path)


if __name__ == "__main__":
    main()
