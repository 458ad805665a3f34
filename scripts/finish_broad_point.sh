#!/usr/bin/env bash
# Ship a finished broad-corpus run and score it: ship-codec --collection broad (the 3 % rule on the held-out
# set), the tests on the shipped broad models (silence, DC, energy above the band), the held-out evaluation
# (runs/codec/heldout/broad/<point>/) and the repository clips (runs/codec/heldout/broad/clips/).
# Usage: bash scripts/finish_broad_point.sh POINT [POINT ...]   (one thread each step; about 15 min a point)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
for point in "$@"; do
    $PY -m percloss ship-codec "$point" --collection broad
done
$PY -m pytest -q -p no:cacheprovider tests/test_codec_silence.py
$PY scripts/eval_heldout.py --collection broad --models "$@"
$PY scripts/eval_heldout.py --collection broad --clips
