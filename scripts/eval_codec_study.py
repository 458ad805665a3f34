"""Evaluate the shipped codec models on the codec chapter's standard evaluation set and store the rows.

Codes every evaluation item (24 held-out segments of 6 s and the shipped clips)
with every shipped model and the MP3/Opus ladders, measures them, and writes
``runs/codec/eval/standard.csv`` with ``standard.json`` (the models' SHA-256,
the items, the settings, the table's SHA-256, wall time and machine). The
chapter's standard mode loads these rows instead of spending this run's time
again, and recodes its listening items to check that they agree row for row.

``--update`` evaluates only the models that are new or changed since the
stored evaluation (by SHA-256) and the anchor rows it lacks, and keeps the rest
(``codec_study.update_evaluation``).

Usage: python scripts/eval_codec_study.py [--out runs/codec/eval] [--update]
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from percloss.experiments import codec_study as cs
from percloss.modes import configure_threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=None, help="folder (Default: $PERCLOSS_RUNS/codec/eval, the repository's runs/codec/eval)")
    parser.add_argument("--update", action="store_true", help="evaluate only new or changed models")
    args = parser.parse_args()
    configure_threads()
    config = cs.CodecStudyConfig.for_mode("standard")
    machine = f"{platform.machine()} CPU, {torch.get_num_threads()} torch threads, torch {torch.__version__}"
    start = time.perf_counter()
    if args.update:
        table, evaluated = cs.update_evaluation(config, args.out, machine=machine)
        print(f"evaluated {', '.join(evaluated) or 'nothing new'} in {(time.perf_counter() - start) / 60:.1f} min "
              f"-> {table}")
        return
    study = cs.run_study(config, progress=False, stored=None)
    wall = time.perf_counter() - start
    table = cs.write_evaluation(study, args.out, wall, machine)
    print(f"{len(study.rows)} rows in {wall / 60:.1f} min -> {table}")


if __name__ == "__main__":
    main()
