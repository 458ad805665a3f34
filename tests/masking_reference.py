"""A plain, per-frame numpy reading of ISO/IEC 11172-3 Annex D, model 1.

Independent of :mod:`percloss.masking`'s batched code: one frame at a time,
Python loops over lines and maskers, float64. It shares only the tables
(checked separately against the standard's printed values). The subband level
of the SMR is the spectrum's maximum (``spl="spectrum"``); the scalefactor term
has its own loop reference, :func:`scalefactor_term`. The independent golden
reference built from the ISO encoder is in ``data/golden/``.
"""

from __future__ import annotations

import numpy as np

from percloss.masking import ModelTables


def level_spectrum(frame: np.ndarray) -> np.ndarray:
    """Annex D's ``X(k) = 90.302 + 10 log10 |1/N sum h s e|^2``, ``h = sqrt(8/3) Hann``, floored at -200 dB."""
    n = len(frame)
    h = np.sqrt(8 / 3) * 0.5 * (1 - np.cos(2 * np.pi * np.arange(n) / n))
    x = np.zeros(n // 2 + 1)
    for k in range(n // 2 + 1):  # the DFT written out, not an FFT
        e = np.exp(-2j * np.pi * k * np.arange(n) / n)
        x[k] = abs(np.sum(h * frame * e) / n) ** 2
    return np.maximum(90.302 + 10 * np.log10(np.maximum(x, 1e-300)), -200.0)


def scalefactor_term(signal: np.ndarray, first_block: int, n_blocks: int) -> np.ndarray:
    """``20 log10(scf_max 32768) - 10`` per subband over blocks ``first_block ..``, by the flow chart.

    Annex C.1.3's analysis: shift 32 new samples into a 512-sample FIFO (newest
    at index 0), window by C, partial sums Y, matrixing. Scalefactors: the
    smallest entry of Table B.1 not below the block's largest magnitude.
    """
    from percloss.iso_tables import ANALYSIS_WINDOW, SCALEFACTORS

    c = np.asarray(ANALYSIS_WINDOW)
    fifo = np.zeros(512)
    peak = np.zeros(32)
    padded = np.concatenate([signal, np.zeros(32 * (first_block + n_blocks) + 32)])
    for b in range(first_block + n_blocks):
        fifo[32:] = fifo[:-32].copy()
        fifo[:32] = padded[32 * b : 32 * b + 32][::-1]
        z = c * fifo
        y = np.array([sum(z[i + 64 * j] for j in range(8)) for i in range(64)])
        s = np.array([sum(np.cos((2 * sb + 1) * (i - 16) * np.pi / 64) * y[i] for i in range(64)) for sb in range(32)])
        if b >= first_block:
            peak = np.maximum(peak, np.abs(s))
    out = np.zeros(32)
    for sb in range(32):
        index = 0
        for j in range(len(SCALEFACTORS) - 1, -1, -1):
            if peak[sb] <= SCALEFACTORS[j]:
                index = j
                break
        out[sb] = 20 * np.log10(SCALEFACTORS[index] * 32768) - 10
    return out


def reach(n_fft: int, k: int) -> list[int]:
    if 2 < k < 63:
        return [2]
    if 63 <= k < 127:
        return [2, 3]
    if n_fft == 512:
        return list(range(2, 7)) if 127 <= k < 250 else []
    if 127 <= k < 255:
        return list(range(2, 7))
    if 255 <= k < 500:
        return list(range(2, 13))
    return []


def spreading(dz: float, level: float) -> float | None:
    if -3 <= dz < -1:
        return 17 * (dz + 1) - (0.4 * level + 6)
    if -1 <= dz < 0:
        return (0.4 * level + 6) * dz
    if 0 <= dz < 1:
        return -17 * dz
    if 1 <= dz < 8:
        return -(dz - 1) * (17 - 0.15 * level) - 17
    return None


def analyse_frame(frame: np.ndarray, t: ModelTables) -> dict[str, np.ndarray]:
    n_fft = t.n_fft
    x = level_spectrum(frame)
    kk = len(x)

    def grid_index(k: int) -> int:  # nearest row; midway: the lower row
        best = 0
        for i, line in enumerate(t.grid_lines):
            if abs(line - k) < abs(t.grid_lines[best] - k):
                best = i
        return best

    # tonal components
    tonal = {}
    for k in range(kk):
        js = reach(n_fft, k)
        if not js:
            continue
        left = x[k - 1] if k - 1 >= 0 else -np.inf
        right = x[k + 1] if k + 1 < kk else -np.inf
        if not (x[k] > left and x[k] >= right):
            continue
        is_tonal = True
        for j in js:
            for kn in (k - j, k + j):
                other = x[kn] if 0 <= kn < kk else -np.inf
                if x[k] - other < 7:
                    is_tonal = False
        if is_tonal:
            p = 10 ** (x[k] / 10)
            if k - 1 >= 0:
                p += 10 ** (x[k - 1] / 10)
            if k + 1 < kk:
                p += 10 ** (x[k + 1] / 10)
            tonal[k] = 10 * np.log10(p)
    # lines claimed by tonal components
    claimed = set()
    for k in tonal:
        width = max(reach(n_fft, k))
        for d in range(-width, width + 1):
            claimed.add(k + d)
    # non-tonal components
    nontonal = {}
    for b in range(len(t.band_boundaries) - 1):
        lo, hi = int(t.band_boundaries[b]), int(t.band_boundaries[b + 1])
        total = sum(10 ** (x[k] / 10) for k in range(lo, hi) if k not in claimed)
        line = int(np.rint(np.exp(np.mean(np.log(np.arange(lo, hi))))))
        nontonal[b] = (line, 10 * np.log10(total) if total > 0 else -np.inf)
    # decimation against the threshold in quiet
    tonal = {k: v for k, v in tonal.items() if v >= t.threshold_in_quiet[grid_index(k)]}
    nontonal = {
        b: (line, v) for b, (line, v) in nontonal.items() if v >= t.threshold_in_quiet[grid_index(line)]
    }
    # 0.5 Bark: walk the list, comparing each masker with the next survivor
    survivors: list[int] = []
    for k in sorted(tonal):
        if survivors and t.bark[grid_index(k)] - t.bark[grid_index(survivors[-1])] < 0.5:
            if tonal[k] > tonal[survivors[-1]]:
                survivors[-1] = k
            continue
        survivors.append(k)
    tonal = {k: tonal[k] for k in survivors}
    # individual and global thresholds
    maskers = [(grid_index(k), v, "tonal") for k, v in tonal.items()]
    maskers += [(grid_index(line), v, "noise") for line, v in nontonal.values()]
    global_db = np.zeros(len(t.grid_lines))
    for i in range(len(t.grid_lines)):
        total = 10 ** (t.threshold_in_quiet[i] / 10)
        for j, level, kind in maskers:
            vf = spreading(t.bark[i] - t.bark[j], level)
            if vf is None:
                continue
            if kind == "tonal":
                av = -1.525 - 0.275 * t.bark[j] - 4.5
            else:
                av = -1.525 - 0.175 * t.bark[j] - 0.5
            total += 10 ** ((level + av + vf) / 10)
        global_db[i] = 10 * np.log10(total)
    # subbands
    width = (n_fft // 2) // 32
    min_thr = np.zeros(32)
    spl = np.zeros(32)
    for s in range(32):
        inside = [i for i, line in enumerate(t.grid_lines) if s * width <= line < (s + 1) * width]
        min_thr[s] = min(global_db[i] for i in inside) if inside else t.threshold_in_quiet[-1]
        spl[s] = x[s * width : (s + 1) * width].max()
    tonal_lines = np.zeros(kk, dtype=bool)
    tonal_lines[list(tonal)] = True
    return {
        "spectrum_db": x,
        "tonal": tonal_lines,
        "global_threshold_db": global_db,
        "min_threshold_db": min_thr,
        "smr_db": spl - min_thr,
    }


def analyse(signal: np.ndarray, t: ModelTables, hop: int) -> dict[str, np.ndarray]:
    """Run :func:`analyse_frame` on every frame of a 1-D signal."""
    starts = range(0, len(signal) - t.n_fft + 1, hop)
    frames = [analyse_frame(signal[s : s + t.n_fft], t) for s in starts]
    return {key: np.stack([f[key] for f in frames]) for key in frames[0]}
