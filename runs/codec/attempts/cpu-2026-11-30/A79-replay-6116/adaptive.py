"""Replay A79 from its saved state at step 6116 to 6170, recording the gradient norm before clipping and
the Adam update size per step (does the divergence come from one large gradient, or from Adam's steps?)."""
import torch, json
from percloss import data
from percloss.codec import CascadedCodec
from percloss.codec_runs import POINTS, RUN
from percloss import codec_training as ct
torch.set_num_threads(1)
norms = []
orig = torch.nn.utils.clip_grad_norm_
def rec(params, max_norm, *a, **k):
    import statistics
    if len(norms) >= 10:
        max_norm = min(max_norm, 3.0 * statistics.median(norms[-100:]))
    params = list(params)
    n = orig(params, max_norm, *a, **k)
    norms.append(float(n))
    return n
torch.nn.utils.clip_grad_norm_ = rec
point = POINTS["A79"]
songs = data.codec_corpus("train", point.sample_rate, "data/codec_corpus")
torch.manual_seed(RUN.seed)
codec = CascadedCodec(2)
log = ct.train_codec(codec, list(songs.values()), point.sample_rate, "A", RUN.settings(point), steps=6300,
                     checkpoint="/tmp/diag/state.pt", save_every=10**9, progress=False)
out = [{"step": 6117 + i, "grad_norm": norms[i], "distortion": log.distortion[6116 + i]} for i in range(len(norms))]
json.dump(out, open("/tmp/diag/adaptive.json", "w"), indent=0)
for r in out: print(r)
