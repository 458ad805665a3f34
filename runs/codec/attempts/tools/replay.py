"""Replay A79 from its saved full state at step 6116, recording the gradient's norm before clipping per step.

Usage (from the repository root, the state being a copy of the run's ``state.pt`` at step 6116):
  python replay.py STATE --steps 6170 --out replay.json                        # the schedule as run: fixed clip at 1
  python replay.py STATE --steps 6300 --clip-relative 3 --out adaptive.json    # plus clipping at 3 x the recent median
The state file is trained on in place. On one CPU thread the first replay reproduces the logged distortions
exactly; the second reproduces those of the run resumed with ``RunConfig.multi_module_clip_relative = 3``.
"""
import argparse
import json
from dataclasses import replace

import torch

from percloss import codec_training as ct
from percloss import data
from percloss.codec import CascadedCodec
from percloss.codec_runs import POINTS, RUN

parser = argparse.ArgumentParser()
parser.add_argument("state")
parser.add_argument("--steps", type=int, required=True)
parser.add_argument("--clip-relative", type=float, default=None)
parser.add_argument("--out", required=True)
args = parser.parse_args()
torch.set_num_threads(1)
norms: list[float] = []
clip = torch.nn.utils.clip_grad_norm_


def recording_clip(params, max_norm, *a, **k):  # the norm before clipping, as clip_grad_norm_ returns it
    norm = clip(params, max_norm, *a, **k)
    norms.append(float(norm))
    return norm


torch.nn.utils.clip_grad_norm_ = recording_clip
point = POINTS["A79"]
songs = data.codec_corpus("train", point.sample_rate, "data/codec_corpus")
torch.manual_seed(RUN.seed)
settings = replace(RUN.settings(point), clip_relative=args.clip_relative)
log = ct.train_codec(CascadedCodec(2), list(songs.values()), point.sample_rate, "A", settings, steps=args.steps,
                     checkpoint=args.state, save_every=10**9, progress=False)
first = log.steps - len(norms)
out = [{"step": first + 1 + i, "grad_norm": n, "distortion": log.distortion[first + i]} for i, n in enumerate(norms)]
with open(args.out, "w") as handle:
    json.dump(out, handle)
