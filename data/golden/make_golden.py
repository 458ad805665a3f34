"""Write the dist10 golden reference files of data/golden/ (see README.md there).

Called by ``build_dist10_golden.sh``, which builds the driver binaries; run by
hand only with the same arguments::

    python data/golden/make_golden.py --build BUILD --tables TABLES --commit SHA \
        [--mirror PATH] [--tarball-sha256 HEX] [--ablation]

``BUILD`` holds the binaries ``d10_golden``, ``d10_native`` and ``d10_shipped``
(and, with ``--ablation``, ``d10_noS1``, ``d10_noS3``, ``d10_noS4``);
``TABLES`` is dist10's ``lsf/encoder/tables`` directory.

Writes ``dist10_<clip>_<rate>_l<layer>.npz`` (8 files) and ``iso_tables.npz``
next to this script, runs sanity checks, and with ``--ablation`` prints how
many frames each switch changes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from percloss.data import load_clip  # noqa: E402

CLIPS = ("band_sectoid", "piano_bach")
RATES = {44100: 0, 32000: 2}  # sample rate -> dist10 sampling_frequency index
LAYERS = (1, 2)
FRAMES = 6
SEGMENT_START_S = 1.0
GOLDEN_BIT_RATE = 64  # < 96: threshold in quiet without the -12 dB offset (S5)
NATIVE_BIT_RATE = 192  # >= 96: dist10 lowers the threshold in quiet by 12 dB
SWITCHES = (
    "S1 PN=90.302 dB (dist10: 90.3090); "
    "S2 line->table row = nearest grid line, ties to the lower row (dist10 make_map: next row up); "
    "S3 tonal candidates from line 3 (dist10: line 2); "
    "S4 non-tonal masker at rint(exp(mean(log k))) over the band's lines, -DMI_OPTION collision shift only "
    "(dist10: (int)(sqrt(lo*(hi-1))+0.5) and Mike Li's centre++); "
    "S5 threshold(bit_rate=64): no -12 dB on the threshold in quiet. "
    "Both builds without LONDON/MAKE_SENSE (spike = max line per subband). "
    "native_*: all switches off, bit_rate=192. "
    "shipped_*: tonal.c as shipped (LONDON, MAKE_SENSE, MI_OPTION defined), no switches, bit_rate=192."
)


def geometry(layer: int) -> tuple[int, int, int]:
    """(n_fft, hop, blocks per frame)."""
    return (512, 384, 12) if layer == 1 else (1024, 1152, 36)


# ------------------------------------------------------------------ driver I/O


def run_driver(
    binary: Path,
    tables: Path,
    layer: int,
    sfreq: int,
    frames: int,
    bit_rate: int,
    nearest_map: bool,
    samples: np.ndarray,
) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".raw") as f:
        f.write(samples.astype("=i2").tobytes())
        f.flush()
        out = subprocess.run(
            [
                str(binary),
                str(tables),
                str(layer),
                str(sfreq),
                str(frames),
                str(bit_rate),
                "1" if nearest_map else "0",
                f.name,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    return parse_run(out.stdout)


def _nums(tokens: list[str], kind=float) -> list:
    n = int(tokens[0])
    vals = tokens[1:]
    return [kind(v) for v in vals], n


def parse_run(text: str) -> dict:
    run: dict = {"grid": [], "frames": []}
    frame: dict | None = None
    for line in text.splitlines():
        tag, *tok = line.split()
        if tag == "config":
            keys = (
                "layer",
                "sfreq",
                "nframes",
                "bit_rate",
                "nearest_map",
                "sub_size",
                "crit_band",
                "nsamp",
            )
            run.update(dict(zip(keys, map(int, tok), strict=True)))
        elif tag == "cbound":
            run["cbound"] = np.array(tok[1:], dtype=np.int64)
        elif tag == "grid":
            run["grid"].append((int(tok[1]), float(tok[2]), float(tok[3])))
        elif tag == "map":
            run["map"] = np.array(tok[1:], dtype=np.int64)
        elif tag == "frame":
            frame = {"start": int(tok[1]), "b0": int(tok[2])}
            run["frames"].append(frame)
        elif tag in ("subband", "scale", "spectrum", "spike", "global", "ltmin", "smr"):
            vals, n = _nums(tok)
            assert len(vals) == n, tag
            frame[tag] = np.array(vals)
        elif tag == "tone_type":
            frame[tag] = np.array(tok[1:], dtype=np.int64)
        elif tag == "scf":
            vals, n = _nums(tok, int)
            frame[tag] = np.array(vals, dtype=np.int64)
        elif tag in (
            "tonal_labelled",
            "noise_labelled",
            "tonal_after_noise_label",
            "tonal",
            "nontonal",
        ):
            n = int(tok[0])
            width = 3 if tag in ("tonal", "nontonal") else 2
            rows = np.array(tok[1:], dtype=float).reshape(n, width) if n else np.zeros((0, width))
            entry = {"lines": rows[:, 0].astype(np.int64), "db": rows[:, 1]}
            if width == 3:
                entry["row"] = rows[:, 2].astype(np.int64)
            frame[tag] = entry
        else:
            raise ValueError(f"unknown record {tag!r}")
    run["grid"] = np.array(run["grid"])
    return run


def parse_tables(text: str) -> dict:
    tables: dict = {}
    cur = None
    for line in text.splitlines():
        tag, *tok = line.split()
        if tag == "table":
            lay, freq, sub_size, crit_band = map(int, tok)
            cur = tables[(lay, freq)] = {"sub_size": sub_size, "crit_band": crit_band, "grid": []}
        elif tag == "cbound":
            cur["cbound"] = np.array(tok[1:], dtype=np.int64)
        elif tag == "grid":
            cur["grid"].append((int(tok[1]), float(tok[2]), float(tok[3])))
        elif tag in ("enwindow", "multiple"):
            tables[tag] = np.array(tok[1:], dtype=float)
    return tables


# ------------------------------------------------------------------ inputs


def segment(clip: str, rate: int, layer: int) -> np.ndarray:
    n_fft, hop, _ = geometry(layer)
    length = (FRAMES + 1) * hop + n_fft + 1024
    x = load_clip(clip, rate).numpy().astype(np.float64)
    start = int(round(SEGMENT_START_S * rate))
    seg = x[start : start + length]
    assert len(seg) == length
    return np.clip(np.round(seg * 32768), -32768, 32767).astype(np.int16)


def pad(lists: list[np.ndarray], fill, dtype) -> np.ndarray:
    width = max([len(v) for v in lists] + [1])
    out = np.full((len(lists), width), fill, dtype=dtype)
    for i, v in enumerate(lists):
        out[i, : len(v)] = v
    return out


def masker_arrays(run: dict, prefix: str) -> dict:
    fr = run["frames"]
    d = {}
    for key, name in (("tonal", "tonal"), ("nontonal", "nontonal")):
        d[f"{prefix}{name}_lines"] = pad([f[key]["lines"] for f in fr], -1, np.int64)
        d[f"{prefix}{name}_db"] = pad([f[key]["db"] for f in fr], -np.inf, np.float64)
        d[f"{prefix}{name}_row"] = pad([f[key]["row"] for f in fr], -1, np.int64)
    for key, name in (
        ("tonal_labelled", "labelled_tonal"),
        ("noise_labelled", "labelled_nontonal"),
    ):
        d[f"{prefix}{name}_lines"] = pad([f[key]["lines"] for f in fr], -1, np.int64)
        d[f"{prefix}{name}_db"] = pad([f[key]["db"] for f in fr], -np.inf, np.float64)
    d[f"{prefix}spike_db"] = np.array([f["spike"] for f in fr])
    d[f"{prefix}global_threshold_db"] = np.array([f["global"] for f in fr])
    d[f"{prefix}min_threshold_db"] = np.array([f["ltmin"] for f in fr])
    d[f"{prefix}smr_db"] = np.array([f["smr"] for f in fr])
    d[f"{prefix}line_row"] = run["map"]
    return d


def geometric_centres(cbound: np.ndarray) -> np.ndarray:
    """S4: rint(exp(mean(log k))) over k = cbound[i] .. cbound[i+1]-1, for the crit_band-1 bands dist10 uses."""
    return np.array(
        [
            np.rint(np.exp(np.mean(np.log(np.arange(lo, hi, dtype=np.float64)))))
            for lo, hi in zip(cbound[:-1], cbound[1:], strict=True)
        ],
        dtype=np.int64,
    )


def collision_flags(run: dict) -> tuple[np.ndarray, int, int]:
    """Per frame: did Iwadare's collision shift (-DMI_OPTION) move any band's non-tonal masker?

    Also checks that the driver's noise list is what S4 + that shift predict.
    dist10's code reads ``if (centre is TONE) if (centre+1 is TONE) centre++;
    else centre--;`` (the else binds to the inner if), so in practice the
    masker moves one line down; it can land on the previous band's masker,
    which then takes this band's sum (the linked list collapses the two).
    """
    centres = geometric_centres(run["cbound"])
    flags, shifts, merges = [], 0, 0
    for f in run["frames"]:
        tone = set(f["tone_type"].tolist())
        expect: list[int] = []
        moved = 0
        for c in centres:
            c = int(c)
            if c in tone:
                c = c + 1 if c + 1 in tone else c - 1
                moved += 1
            if not expect or expect[-1] != c:
                expect.append(c)
            else:
                merges += 1
        assert f["noise_labelled"]["lines"].tolist() == expect, (
            f["noise_labelled"]["lines"],
            expect,
        )
        flags.append(moved > 0)
        shifts += moved
    return np.array(flags), shifts, merges


# ------------------------------------------------------------------ files


def write_case(args, clip: str, rate: int, layer: int, tables_dump: dict) -> dict:
    sfreq = RATES[rate]
    n_fft, hop, nb = geometry(layer)
    x = segment(clip, rate, layer)
    golden = run_driver(
        args.build / "d10_golden", args.tables, layer, sfreq, FRAMES, GOLDEN_BIT_RATE, True, x
    )
    native = run_driver(
        args.build / "d10_native", args.tables, layer, sfreq, FRAMES, NATIVE_BIT_RATE, False, x
    )
    shipped = run_driver(
        args.build / "d10_shipped", args.tables, layer, sfreq, FRAMES, NATIVE_BIT_RATE, False, x
    )
    fr = golden["frames"]
    b0 = np.array([f["b0"] for f in fr])
    expect_b0 = np.floor(
        (np.arange(FRAMES) * hop + n_fft // 2 + 225 - 16 * (nb - 1)) / 32 + 0.5
    ).astype(int)
    assert (b0 == expect_b0).all()
    nparts = nb // 12
    scf_parts = np.array([f["scf"].reshape(nparts, 32) for f in fr])
    collision, nshifts, nmerges = collision_flags(golden)
    tab = tables_dump[(layer, sfreq)]
    assert np.array_equal(np.array(tab["grid"]), golden["grid"]) and np.array_equal(
        tab["cbound"], golden["cbound"]
    )
    data = {
        "samples": x,
        "sample_rate": np.int64(rate),
        "layer": np.int64(layer),
        "n_fft": np.int64(n_fft),
        "hop": np.int64(hop),
        "frames": np.int64(FRAMES),
        "frame_start": np.array([f["start"] for f in fr]),
        "b0": b0,
        "blocks_per_frame": np.int64(nb),
        "clip": np.str_(clip),
        "segment_start": np.int64(round(SEGMENT_START_S * rate)),
        "spectrum_db": np.array([f["spectrum"] for f in fr]),
        "subband_samples": np.array([f["subband"].reshape(nb, 32) for f in fr]),
        "scalefactor_index": scf_parts.min(axis=1),
        "scalefactor_index_parts": scf_parts,
        "scale": np.array([f["scale"] for f in fr]),
        "collision_shift": collision,
        "grid_lines": golden["grid"][:, 0].astype(np.int64),
        "grid_bark": golden["grid"][:, 1],
        "grid_hear": golden["grid"][:, 2],
        "cbound": golden["cbound"],
        "bit_rate": np.int64(GOLDEN_BIT_RATE),
        "native_bit_rate": np.int64(NATIVE_BIT_RATE),
        "dist10_commit": np.str_(args.commit),
        "dist10_tarball_sha256": np.str_(args.tarball_sha256),
        "dist10_mirror": np.str_(args.mirror),
        "switches": np.str_(SWITCHES),
    }
    data.update(masker_arrays(golden, ""))
    data.update(masker_arrays(native, "native_"))
    data.update(masker_arrays(shipped, "shipped_"))
    check_maps(data)
    # native spectrum differs from the golden one only by PN (S1)
    nat_spec = np.array([f["spectrum"] for f in native["frames"]])
    assert np.allclose(nat_spec - data["spectrum_db"], 90.3090 - 90.302, atol=1e-9, rtol=0)
    path = HERE / f"dist10_{clip}_{rate}_l{layer}.npz"
    np.savez_compressed(path, **data)
    print(
        f"wrote {path.name}: {path.stat().st_size / 1024:.1f} kB, collision frames {int(collision.sum())}/{FRAMES} "
        f"({nshifts} band shifts, {nmerges} onto the previous band's masker)"
    )
    return {"x": x, "golden": golden, "native": native, "data": data}


def check_maps(d: dict) -> None:
    """S2 map (golden) and make_map's map (native), recomputed here from the grid."""
    lines = d["grid_lines"]
    k = np.arange(int(d["n_fft"]) // 2)
    dist = np.abs(k[:, None] - lines[None, :])
    nearest = np.argmin(dist, axis=1) + 1  # argmin takes the first (lower) row on a tie
    assert np.array_equal(d["line_row"], nearest)
    # make_map writes row i on lines line[i-1] .. line[i] (line[0] = 0) for i = 1, 2, ..., so each
    # row overwrites the shared end point: row i covers [line[i-1], line[i]), the last row also its
    # own line, and lines above the last grid line keep row 0 (bark 0, threshold in quiet 0)
    make_map = np.minimum(np.searchsorted(lines, k, side="right") + 1, len(lines))
    make_map[k > lines[-1]] = 0
    assert np.array_equal(d["native_line_row"], make_map)
    assert np.array_equal(d["shipped_line_row"], make_map)


def write_tables(args, dump: dict) -> None:
    names = {1: "l1", 2: "l2"}
    rates = {0: 44100, 1: 48000, 2: 32000}
    out: dict = {}
    for (lay, freq), t in ((k, v) for k, v in dump.items() if isinstance(k, tuple)):
        g = np.array(t["grid"])
        key = f"{names[lay]}_{rates[freq]}"
        out[f"{key}_line"] = g[:, 0].astype(np.int64)
        out[f"{key}_bark"] = g[:, 1]
        out[f"{key}_hear"] = g[:, 2]
        out[f"{key}_cbound"] = t["cbound"]
        check_table_file(args.tables, lay, freq, g, t["cbound"])
    out["enwindow"] = dump["enwindow"]
    out["scalefactors"] = dump["multiple"][:63]
    assert dump["multiple"][63] == 1e-20 and len(dump["enwindow"]) == 512
    out["dist10_commit"] = np.str_(args.commit)
    out["dist10_tarball_sha256"] = np.str_(args.tarball_sha256)
    path = HERE / "iso_tables.npz"
    np.savez_compressed(path, **out)
    print(f"wrote {path.name}: {path.stat().st_size / 1024:.1f} kB")


def check_table_file(
    tables: Path, lay: int, freq: int, grid: np.ndarray, cbound: np.ndarray
) -> None:
    """Cross-check dist10's reading of a table against a plain parse of the file."""
    rows = (tables / f"{lay}th{freq}").read_text().split("\n")
    n = int(rows[0])
    parsed = np.array([[float(v) for v in r.split()[1:4]] for r in rows[1:n]])
    assert np.array_equal(parsed, grid), (lay, freq)
    rows = (tables / f"{lay}cb{freq}").read_text().split("\n")
    n = int(rows[0])
    assert np.array_equal(np.array([int(r.split()[1]) for r in rows[1 : n + 1]]), cbound)


# ------------------------------------------------------------------ checks


def sanity(args, cases: list[dict]) -> None:
    print("\n== sanity checks ==")
    # 1. full-scale sine at a line centre
    for layer in LAYERS:
        n_fft, hop, _ = geometry(layer)
        k0 = 12 if layer == 1 else 24  # ~1034 Hz at 44.1 kHz
        n = (FRAMES - 1) * hop + n_fft + 4096
        x = np.clip(
            np.round(np.sin(2 * np.pi * k0 * np.arange(n) / n_fft) * 32768), -32768, 32767
        ).astype(np.int16)
        run = run_driver(
            args.build / "d10_golden", args.tables, layer, 0, 1, GOLDEN_BIT_RATE, True, x
        )
        f = run["frames"][0]
        expect = 90.302 + 10 * np.log10(1 / 6)  # Hann window gain: |X|^2 = A^2 / 6 at a line centre
        print(
            f"sine layer {layer}: line {k0} at {k0 * 44100 / n_fft:.1f} Hz: X = {f['spectrum'][k0]:.4f} dB "
            f"(expected {expect:.4f}); argmax line {int(np.argmax(f['spectrum']))}; tonal maskers "
            f"{f['tonal']['lines'].tolist()} at {np.round(f['tonal']['db'], 3).tolist()} dB"
        )
        assert abs(f["spectrum"][k0] - expect) < 1e-3
    # 2. counts, thresholds, SMR ranges
    for c in cases:
        d = c["data"]
        name = f"{d['clip']} {int(d['sample_rate'])} L{int(d['layer'])}"
        nt = (d["tonal_lines"] >= 0).sum(axis=1)
        nn = (d["nontonal_lines"] >= 0).sum(axis=1)
        lt = (d["labelled_tonal_lines"] >= 0).sum(axis=1)
        above = (d["global_threshold_db"] >= d["grid_hear"][None, :] - 1e-9).all()
        nabove = (d["native_global_threshold_db"] >= d["grid_hear"][None, :] - 12 - 1e-9).all()
        smr = d["smr_db"]
        out = int(((smr < -30) | (smr > 40)).sum())
        print(
            f"{name:24s} tonal labelled {lt.tolist()} kept {nt.tolist()} | non-tonal kept {nn.tolist()} | "
            f"LTg>=LTq {above} (native >= LTq-12: {nabove}) | SMR [{smr.min():.1f}, {smr.max():.1f}], "
            f"median {np.median(smr):.1f}, outside [-30, 40]: {out}/{smr.size} | "
            f"collision frames {int(d['collision_shift'].sum())}"
        )
        ntn = (d["native_tonal_lines"] >= 0).sum(axis=1)
        nnn = (d["native_nontonal_lines"] >= 0).sum(axis=1)
        same = sum(
            np.array_equal(a, b)
            for a, b in zip(d["native_tonal_lines"], d["native_nontonal_lines"], strict=True)
        )
        print(
            f"{'':24s} native: tonal kept {ntn.tolist()} non-tonal kept {nnn.tolist()}; frames whose native "
            f"tonal list IS the non-tonal list: {same}; native labelled lists holding line 2: "
            f"{int((d['native_labelled_tonal_lines'] == 2).any(axis=1).sum())}"
        )
        assert above and nabove
        assert not (d["labelled_tonal_lines"] == 2).any()
    recompute(cases)
    smr = np.concatenate([c["data"]["smr_db"].ravel() for c in cases])
    spike_hi = np.concatenate(
        [(c["data"]["spike_db"] > c["data"]["min_threshold_db"]).ravel() for c in cases]
    )
    inside = (smr >= -30) & (smr <= 40)
    print(
        f"SMR over all {smr.size} values: [{smr.min():.1f}, {smr.max():.1f}], 1/50/99 % "
        f"{np.percentile(smr, 1):.1f}/{np.percentile(smr, 50):.1f}/{np.percentile(smr, 99):.1f}; in [-30, 40]: "
        f"{int(inside.sum())}; where the largest line exceeds LTmin: {int(spike_hi.sum())} values, "
        f"in [-30, 40]: {int(inside[spike_hi].sum())}"
    )
    ncoll = sum(int(c["data"]["collision_shift"].sum()) for c in cases)
    print(f"collision shift (S4) in {ncoll}/{len(cases) * FRAMES} frames")


def recompute(cases: list[dict]) -> None:
    """Recompute filterbank, scalefactors, global threshold and SMR from the stored arrays with
    the formulas of the standard (numpy, independent of the C code) and compare."""
    tables = np.load(HERE / "iso_tables.npz")
    win, mult = tables["enwindow"], tables["scalefactors"]
    i, k = np.arange(32)[:, None], np.arange(64)[None, :]
    # dist10 rounds the matrixing coefficients to 9 decimals (create_ana_filter)
    matrix = np.round(np.cos((2 * i + 1) * (16 - k) * np.pi / 64) * 1e9) / 1e9
    err = {"subband": 0.0, "threshold": 0.0, "smr": 0.0}
    scf_bad = 0
    for c in cases:
        d = c["data"]
        x = d["samples"].astype(np.float64) / 32768
        nb = int(d["blocks_per_frame"])
        bark, hear = d["grid_bark"], d["grid_hear"]
        for m in range(FRAMES):
            # block b: X[n] = x[32 b + 31 - n], n = 0..511 (zeros outside the segment)
            blocks = int(d["b0"][m]) + np.arange(nb)
            idx = 32 * blocks[:, None] + 31 - np.arange(512)[None, :]
            xb = np.where((idx >= 0) & (idx < len(x)), x[np.clip(idx, 0, len(x) - 1)], 0.0)
            sub = (xb * win).reshape(nb, 8, 64).sum(axis=1) @ matrix.T
            err["subband"] = max(err["subband"], np.abs(sub - d["subband_samples"][m]).max())
            peak = np.abs(d["subband_samples"][m]).reshape(nb // 12, 12, 32).max(axis=1)
            scf = np.array(
                [[max([j for j in range(63) if v <= mult[j]], default=0) for v in r] for r in peak]
            )
            scf_bad += int((scf != d["scalefactor_index_parts"][m]).sum())
            # global threshold from the stored maskers (Annex D masking functions)
            total = 10 ** (hear / 10)
            for kind, av in (
                ("tonal", lambda z: -1.525 - 0.275 * z - 4.5),
                ("nontonal", lambda z: -1.525 - 0.175 * z - 0.5),
            ):
                for line, lev, row in zip(
                    d[f"{kind}_lines"][m], d[f"{kind}_db"][m], d[f"{kind}_row"][m], strict=True
                ):
                    if line < 0:
                        continue
                    zj = bark[row - 1]
                    dz = bark - zj
                    vf = np.select(
                        [
                            (dz >= -3) & (dz < -1),
                            (dz >= -1) & (dz < 0),
                            (dz >= 0) & (dz < 1),
                            (dz >= 1) & (dz < 8),
                        ],
                        [
                            17 * (dz + 1) - (0.4 * lev + 6),
                            (0.4 * lev + 6) * dz,
                            -17 * dz,
                            -(dz - 1) * (17 - 0.15 * lev) - 17,
                        ],
                        np.nan,
                    )
                    inside = ~np.isnan(vf)
                    total[inside] += 10 ** ((lev + av(zj) + vf[inside]) / 10)
            err["threshold"] = max(
                err["threshold"], np.abs(10 * np.log10(total) - d["global_threshold_db"][m]).max()
            )
            smr = (
                np.maximum(d["spike_db"][m], 20 * np.log10(d["scale"][m] * 32768) - 10)
                - d["min_threshold_db"][m]
            )
            err["smr"] = max(err["smr"], np.abs(smr - d["smr_db"][m]).max())
    print(
        f"numpy recomputation, max abs error: subband samples {err['subband']:.1e}, global threshold "
        f"{err['threshold']:.1e} dB, SMR {err['smr']:.1e} dB; scalefactor index mismatches {scf_bad}"
    )
    assert err["subband"] < 1e-12 and err["threshold"] < 1e-9 and err["smr"] < 1e-9 and scf_bad == 0


def frame_diffs(a: dict, b: dict) -> dict:
    """Per-frame booleans: where two driver runs differ."""
    out = {"maskers": [], "levels": [], "threshold": [], "smr": [], "any": []}
    for fa, fb in zip(a["frames"], b["frames"], strict=True):
        ml = any(not np.array_equal(fa[k]["lines"], fb[k]["lines"]) for k in ("tonal", "nontonal"))
        lv = ml or any(
            not np.allclose(fa[k]["db"], fb[k]["db"], atol=1e-9, rtol=0)
            for k in ("tonal", "nontonal")
        )
        th = not np.allclose(fa["global"], fb["global"], atol=1e-9, rtol=0)
        sm = not np.allclose(fa["smr"], fb["smr"], atol=1e-9, rtol=0)
        for k, v in (
            ("maskers", ml),
            ("levels", lv),
            ("threshold", th),
            ("smr", sm),
            ("any", ml or lv or th or sm),
        ):
            out[k].append(v)
    return {k: np.array(v) for k, v in out.items()}


def annexd_tonal(spec: np.ndarray, layer: int) -> list[int]:
    """Tonal lines by Annex D's rule on the unmodified spectrum (for the report only)."""
    hi = 250 if layer == 1 else 500
    out = []
    for k in range(3, hi):
        if not (spec[k] > spec[k - 1] and spec[k] >= spec[k + 1]):
            continue
        if k < 63:
            js = [2]
        elif k < 127:
            js = [2, 3]
        elif k < 255:
            js = range(2, 7)
        else:
            js = range(2, 13)
        if all(spec[k] - spec[k + j] >= 7 and spec[k] - spec[k - j] >= 7 for j in js):
            out.append(k)
    return out


def ablation(args, cases: list[dict]) -> None:
    print(
        f"\n== ablation: frames (of {len(cases) * FRAMES}) that change when one switch is turned off =="
    )
    variants = {
        "S1 off": ("d10_noS1", GOLDEN_BIT_RATE, True),
        "S2 off": ("d10_golden", GOLDEN_BIT_RATE, False),
        "S3 off": ("d10_noS3", GOLDEN_BIT_RATE, True),
        "S4 off": ("d10_noS4", GOLDEN_BIT_RATE, True),
        "S5 off": ("d10_golden", NATIVE_BIT_RATE, True),
        "all off (native)": ("d10_native", NATIVE_BIT_RATE, False),
        "shipped (tonal.c as shipped: LONDON+MAKE_SENSE+MI_OPTION)": (
            "d10_shipped",
            NATIVE_BIT_RATE,
            False,
        ),
    }
    for label, (binary, br, s2) in variants.items():
        tot = {k: 0 for k in ("maskers", "levels", "threshold", "smr", "any")}
        max_dsmr = 0.0
        per_case = []
        for c in cases:
            d = c["data"]
            run = run_driver(
                args.build / binary,
                args.tables,
                int(d["layer"]),
                RATES[int(d["sample_rate"])],
                FRAMES,
                br,
                s2,
                c["x"],
            )
            diff = frame_diffs(c["golden"], run)
            for k in tot:
                tot[k] += int(diff[k].sum())
            per_case.append(int(diff["any"].sum()))
            max_dsmr = max(
                max_dsmr,
                max(
                    np.abs(f["smr"] - g["smr"]).max()
                    for f, g in zip(run["frames"], c["golden"]["frames"], strict=True)
                ),
            )
        print(
            f"{label:60s} any {tot['any']:2d} | masker lines {tot['maskers']:2d} | masker levels {tot['levels']:2d} "
            f"| threshold {tot['threshold']:2d} | smr {tot['smr']:2d} | max|dSMR| {max_dsmr:.3f} dB "
            f"| per case {per_case}"
        )
    # how far dist10's sequential tonal labelling is from Annex D's rule on the same spectrum
    ndiff, nframes, extra, missing = 0, 0, 0, 0
    for c in cases:
        layer = int(c["data"]["layer"])
        for f in c["golden"]["frames"]:
            ref = set(annexd_tonal(f["spectrum"], layer))
            got = set(f["tonal_labelled"]["lines"].tolist())
            nframes += 1
            ndiff += ref != got
            extra += len(got - ref)
            missing += len(ref - got)
    print(
        f"\ntonal_label vs Annex D rule on the same spectrum: {ndiff}/{nframes} frames differ "
        f"({extra} lines only in dist10, {missing} only in the rule)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", type=Path, required=True)
    ap.add_argument("--tables", type=Path, required=True)
    ap.add_argument("--commit", required=True)
    ap.add_argument("--mirror", default="/work/.mirror/joncampbell123+iso-dist10/repo")
    ap.add_argument("--tarball-sha256", default="")
    ap.add_argument("--ablation", action="store_true")
    args = ap.parse_args()

    dump = parse_tables(
        subprocess.run(
            [str(args.build / "d10_golden"), str(args.tables), "tables"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    write_tables(args, dump)
    cases = [
        write_case(args, clip, rate, layer, dump)
        for clip in CLIPS
        for rate in RATES
        for layer in LAYERS
    ]
    sanity(args, cases)
    if args.ablation:
        ablation(args, cases)


if __name__ == "__main__":
    main()
