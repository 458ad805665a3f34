"""What the shipped models make of digital silence, and where it comes from (issue: silence becomes DC plus a hum).

Usage: python runs/codec/attempts/tools/silence_probe.py  (one thread, about a minute)
"""
import numpy as np, torch
from percloss.shipped import load_shipped_codec, shipped_models
from percloss.codec import write_bitstream, read_bitstream, encode_indices, frame, HOP, FRAME
torch.set_num_threads(1)
def db(v): return 20*np.log10(max(float(v), 1e-12))
for name in sorted(shipped_models()):
    codec, counts, info = load_shipped_codec(name)
    rate = int(info["sample_rate"])
    x = torch.zeros(rate * 2)
    y, _ = read_bitstream(codec, counts, write_bitstream(codec, counts, x, rate))
    y = y.double().numpy()
    mid = y[rate // 2: rate // 2 + 480 * 40]
    dc = mid.mean()
    per = mid.reshape(40, 480) - dc
    periodic = per.mean(0)  # the part that repeats every hop
    rest = per - periodic
    idx = encode_indices(codec, x)
    uniq = [len(torch.unique(i, dim=0)) for i in idx]
    # the decoder's output for the silence codes vs the codes of a tiny noise
    q = codec.quantizers[0]
    with torch.no_grad():
        pre = codec.stages[0].preactivation(frame(x)[:1])
        codes0 = torch.tanh(pre)
    print(f"{name}: DC {dc:+.4f} ({db(abs(dc)):.0f} dBFS), hop-periodic RMS {db(np.sqrt((periodic**2).mean())):.0f} dBFS, "
          f"rest {db(np.sqrt((rest**2).mean())):.0f} dBFS; distinct code frames for silence per module {uniq}; "
          f"encoder output for a zero frame: tanh(pre) in [{float(codes0.min()):+.2f}, {float(codes0.max()):+.2f}], "
          f"mean |.| {float(codes0.abs().mean()):.2f}")
print("--- decoder side")
for name in sorted(shipped_models()):
    codec, counts, info = load_shipped_codec(name)
    q = codec.quantizers[0]
    c = q.centroids.detach()
    zero_c = c[torch.argmin(c.abs())]
    with torch.no_grad():
        out_zero = codec.stages[0].decode(torch.full((1, 256), float(zero_c)))
        out_true0 = codec.stages[0].decode(torch.zeros(1, 256))
        pre = codec.stages[0].preactivation(torch.zeros(1, FRAME))
        idx = q.indices(torch.tanh(pre))
        out_sil = codec.stages[0].decode(c[idx])
    nb = sum(1 for n, p in codec.stages[0].named_parameters() if n.endswith("bias"))
    print(f"{name}: decode(nearest-zero centroid {float(zero_c):+.3f}) mean {float(out_zero.mean()):+.4f} rms {float(out_zero.pow(2).mean().sqrt()):.4f}; "
          f"decode(0) mean {float(out_true0.mean()):+.4f}; decode(silence codes) mean {float(out_sil.mean()):+.4f} rms {float(out_sil.pow(2).mean().sqrt()):.4f}; bias tensors {nb}")
