"""Continue a collapsed codec for a few hundred steps, with and without the remedy, side by side.

Loads an exported ``.codec`` (e.g. the collapsed A79 of
``runs/codec/attempts/gpu-2026-11-30/``), then trains copies of it on the
codec corpus's train split with the long runs' batch shape and learning rate
(fresh Adam), once as the collapsed run was trained (rate on the soft entropy,
no re-seeding) and once with the remedy of ``percloss.codec_runs.RUN`` for
multi-module points (rate on the hard codes' entropy with a signed multiplier,
dead and merged centroids re-seeded, saturated encoder outputs penalised). Writes both
training logs and a JSON summary of each module's hard-code entropy,
centroids in use and share of saturated codes at the start and the end.

Usage: python runs/codec/attempts/tools/collapse_probe.py runs/codec/attempts/gpu-2026-11-30/A79/A79.codec --steps 200
       [--target-kbps 79] [--out runs/codec/attempts/collapse-probe] [--corpus-folder data/codec_corpus]
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time
from pathlib import Path

import torch

from percloss import data
from percloss.codec import FRAME, SATURATION_PREACTIVATION, frame, hard_entropy_bits, load_codec
from percloss.codec_runs import RUN
from percloss.codec_training import train_codec


def module_state(codec: torch.nn.Module, signals: list[torch.Tensor], seconds: float = 10.0) -> list[dict]:
    """Hard-code entropy (bits per code), centroids in use and near-coincident pairs of each module, on the
    first ``seconds`` of every training song."""
    frames = torch.cat([frame(s[: int(seconds * 32000)].unsqueeze(0)).reshape(-1, FRAME) for s in signals])
    raws = codec.raw_codes(frames)  # type: ignore[operator]
    out = []
    for quantizer, raw in zip(codec.quantizers, raws, strict=True):  # type: ignore[arg-type]
        idx = quantizer.indices(raw)
        c = quantizer.centroids.detach()
        gap = (c[:, None] - c[None, :]).abs()
        out.append({"hard_entropy_bits": round(float(hard_entropy_bits(idx, len(c))), 4),
                    "centroids_in_use": int((torch.bincount(idx.reshape(-1), minlength=len(c)) > 0).sum()),
                    "saturated_share": round(float((raw.abs() > math.tanh(SATURATION_PREACTIVATION)).double()
                                                   .mean()), 4),
                    "pairs_within_1e-3": int((gap < 1e-3).triu(1).sum())})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("codec", type=Path)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--target-kbps", type=float, default=79.0, help="total over the modules")
    parser.add_argument("--reseed-every", type=int, default=RUN.multi_module_reseed_every or 100)
    parser.add_argument("--out", type=Path, default=Path("runs/codec/attempts/collapse-probe"))
    parser.add_argument("--corpus-folder", default="data/codec_corpus")
    parser.add_argument("--remedy-only", action="store_true", help="skip the run without the remedy")
    args = parser.parse_args()
    torch.set_num_threads(1)
    codec, _, meta = load_codec(args.codec)
    rate = int(meta["sample_rate"])  # type: ignore[call-overload]
    signals = list(data.codec_corpus("train", rate, args.corpus_folder).values())
    per_module = args.target_kbps / len(codec.stages)
    args.out.mkdir(parents=True, exist_ok=True)
    summary: dict = {"codec": str(args.codec), "point": meta["name"], "steps": args.steps,
                     "batch": RUN.batch, "segment_frames": RUN.segment_frames, "lr": RUN.lr, "seed": RUN.seed,
                     "target_kbps_per_module": per_module, "device": "cpu (1 thread)",
                     "start": module_state(codec, signals), "runs": {}}
    remedy_only = args.remedy_only
    for name, kw in (("as trained (soft entropy, no re-seeding)", {}),
                     ("remedy (hard entropy, re-seeding, saturation penalty)",
                      {"rate_entropy": RUN.multi_module_rate_entropy, "reseed_every": args.reseed_every,
                       "saturation_weight": RUN.multi_module_saturation_weight,
                       "rate_control": RUN.multi_module_rate_control})):
        tag = "remedy" if kw else "baseline"
        if remedy_only and not kw:
            continue
        model = copy.deepcopy(codec)
        csv_path = args.out / f"{tag}.csv"
        csv_path.unlink(missing_ok=True)
        start = time.monotonic()
        log = train_codec(model, signals, rate, str(meta["name"])[0], steps=args.steps, batch=RUN.batch,
                          segment_frames=RUN.segment_frames, lr=RUN.lr, target_kbps=per_module, seed=RUN.seed,
                          anneal=(300.0, 300.0), log_csv=csv_path, progress=False, **kw)
        summary["runs"][tag] = {"what": name, "seconds": round(time.monotonic() - start, 1),
                                "end": module_state(model, signals),
                                "last_soft_entropy_bits": [round(h, 4) for h in log.entropy_bits[-1]],
                                "last_rate_weight": log.rate_weight[-1],
                                "centroids_reseeded": [sum(r[m] for r in log.reseeded)
                                                       for m in range(len(codec.stages))],
                                "last_distortion": log.distortion[-1]}
        print(json.dumps({tag: summary["runs"][tag]}), flush=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
