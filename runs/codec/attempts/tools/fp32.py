"""A79 from its saved state at step 6116 in fp32 (with the schedule's relative clipping) to step 7000:
does it pass the steps where the bf16 runs diverged (6150; 6878 under relative clipping)?"""
import csv, torch
from dataclasses import replace
from percloss import data
from percloss.codec import CascadedCodec
from percloss.codec_runs import POINTS, RUN
from percloss import codec_training as ct
torch.set_num_threads(2)
import os
if not os.path.exists("/tmp/fp32/state.pt"):
  payload = torch.load("/tmp/states/A79-1796035784.pt", map_location="cpu", weights_only=True)
  del payload["config"]["precision"]  # fp32 is the default, left out of the key
  torch.save(payload, "/tmp/fp32/state.pt")
point = POINTS["A79"]
songs = data.codec_corpus("train", point.sample_rate, "data/codec_corpus")
torch.manual_seed(RUN.seed)
codec = CascadedCodec(2)
settings = replace(RUN.settings(point), precision="fp32", steps=7000)
ct.train_codec(codec, list(songs.values()), point.sample_rate, "A", settings, checkpoint="/tmp/fp32/state.pt",
               save_every=25, log_csv="/tmp/fp32/log.csv", progress=False)
