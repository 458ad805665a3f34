"""Run chapter 1's deep-audio-prior fits and store them for the book.

Standard mode loads every run from ``runs/prior/<mode>/`` (one
``<clip>__<loss>.npz`` with its ``.json`` record each) instead of spending
their time again, and recomputes one of them to check the rest
(``prior.obtain_results``): the five main losses on every clip took about ten
minutes on 2 CPU cores, longer than a build on a loaded machine may give a
cell, and CDPAM is a pretrained network of about a second per iteration. Same
generator, noise, seed and schedule as the chapter in that mode.

Usage: python scripts/run_prior_stored.py [--loss all|cdpam|mse|...] [--mode standard] [--seed K] [--clips speech_male ...]
(``--loss all``: the main losses, ``prior.MAIN_LOSSES``, on every clip of the mode; ``cdpam``: on
``prior.CDPAM_CLIPS``)

``--spread`` measures what the build's check of the stored runs may require
(``prior.check_stored_runs``): it refits in one process per kernel path (this
CPU's defaults, oneDNN held to SSE4.1 and to AVX, torch's own kernels without
SIMD) the first iterations of every loss on every clip, and the whole schedule
of ``speech_male`` under MSE and the 2018 loss, then writes how far the paths
part (relative loss differences per iteration; SNR between the outputs at each
checkpoint, beside the SNR between seeds 0 and 1) to
``runs/prior/<mode>/spread.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from percloss import data, paths
from percloss.experiments import prior
from percloss.modes import MODES, configure_threads, kernel_path_environment, machine_description

PATHS = ("default", "ONEDNN_MAX_CPU_ISA=SSE41", "ONEDNN_MAX_CPU_ISA=AVX", "ATEN_CPU_CAPABILITY=default")
PREFIX = 6  # iterations refitted per loss and clip
FULL = ("mse", "perceptual")  # losses fitted over the whole schedule on speech_male


def spread_run(mode: str, out: str, seeds: int) -> None:
    """One kernel path: the first PREFIX loss values of every loss on every clip; whole fits of FULL (``seeds``
    seeds)."""
    config = prior.PriorConfig.for_mode(mode)
    curves = {}
    for clip in config.clips:
        target = prior.peak_normalize(data.excerpt(clip, config.sample_rate, config.num_samples), prior.TARGET_PEAK)
        for loss in prior.MAIN_LOSSES:
            curve, _, _ = prior.fit_prior(target, prior.make_loss(loss, config.sample_rate), iterations=PREFIX,
                                          checkpoint_every=PREFIX, seed=config.seed, lr=config.lr,
                                          betas=config.betas, progress=False)
            curves[f"{clip}__{loss}"] = curve
    fits = {}
    for seed in range(config.seed, config.seed + seeds):
        for r in prior.run_prior_experiment(replace(config, clips=("speech_male",), losses=FULL, seed=seed),
                                            progress=False):
            fits[f"{r.loss}__seed{seed}"] = np.stack(r.audio)
    np.savez(out, machine=np.array(machine_description()), **{f"curve:{k}": v for k, v in curves.items()},
             **{f"fit:{k}": v for k, v in fits.items()})


def _snr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(a.astype(np.float64) ** 2) / np.sum((a.astype(np.float64) - b) ** 2)))


def spread(mode: str, target: Path) -> None:
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for path in PATHS:
            env = kernel_path_environment(path)
            out = Path(tmp) / f"run{len(runs)}.npz"
            seeds = "2" if path == "default" else "1"  # the seeds' spread is measured on one path
            subprocess.run([sys.executable, __file__, "--mode", mode, "--spread-run", str(out), "--spread-seeds",
                            seeds], env=env, check=True)
            with np.load(out) as z:
                runs[path] = {k: z[k] for k in z.files}
            print(path, str(runs[path]["machine"]), flush=True)
    base = runs["default"]
    curves = sorted(k.removeprefix("curve:") for k in base if k.startswith("curve:"))
    per_iteration = {}
    for key in curves:
        rel = np.max([np.abs(r[f"curve:{key}"] - base[f"curve:{key}"]) / np.abs(base[f"curve:{key}"])
                      for p, r in runs.items() if p != "default"], axis=0)
        per_iteration[key] = [float(f"{v:.3g}") for v in rel]
    config = prior.PriorConfig.for_mode(mode)
    fits = {}
    for loss in FULL:
        seed0 = base[f"fit:{loss}__seed{config.seed}"]
        fits[loss] = {
            "checkpoints": list(range(config.checkpoint_every, config.iterations + 1, config.checkpoint_every)),
            "snr_db_between_paths": {p: [round(_snr(seed0[i], r[f"fit:{loss}__seed{config.seed}"][i]), 2)
                                         for i in range(len(seed0))] for p, r in runs.items() if p != "default"},
            "snr_db_between_seeds": [round(_snr(seed0[i], base[f"fit:{loss}__seed{config.seed + 1}"][i]), 2)
                                     for i in range(len(seed0))],
        }
    result = {"machine": {p: str(r["machine"]) for p, r in runs.items()}, "paths": list(PATHS),
              "prefix_rel_max_over_paths": per_iteration, "whole_fits_speech_male": fits}
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=1) + "\n")
    print(target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loss", default="all", choices=["all", *sorted(prior.LOSSES)])
    parser.add_argument("--mode", default="standard", choices=MODES)
    parser.add_argument("--clips", nargs="+", default=None)
    parser.add_argument("--seed", type=int, default=None, help="generator and noise seed (Default: the mode's)")
    parser.add_argument("--out", default=None, help="(Default: runs/prior/<mode>, or runs/prior/<mode>/seed<k> with --seed)")
    parser.add_argument("--spread", action="store_true", help="measure the kernel paths' spread (see above)")
    parser.add_argument("--spread-run", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--spread-seeds", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    configure_threads()
    if args.spread_run:
        spread_run(args.mode, args.spread_run, args.spread_seeds)
        return
    if args.spread:
        spread(args.mode, Path(args.out or paths.prior_runs_dir(args.mode)) / "spread.json")
        return
    config = prior.PriorConfig.for_mode(args.mode)
    if args.seed is not None:
        config = replace(config, seed=args.seed)
    losses = prior.MAIN_LOSSES if args.loss == "all" else (args.loss,)
    default_clips = prior.CDPAM_CLIPS.get(args.mode, config.clips) if args.loss == "cdpam" else config.clips
    clips = tuple(args.clips) if args.clips else default_clips
    results = prior.run_prior_experiment(replace(config, clips=clips, losses=losses))
    machine = machine_description()
    out = args.out or paths.prior_runs_dir(args.mode) / (f"seed{args.seed}" if args.seed is not None else "")
    for path in prior.save_results(results, config, out, machine):
        print(path)


if __name__ == "__main__":
    main()
