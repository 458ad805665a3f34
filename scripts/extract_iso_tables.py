"""Write ``percloss/iso_tables.py`` from the tables of the ISO reference encoder.

The ISO/IEC 11172-3 reference software ("dist10") ships the standard's printed
tables as text files: Tables D.1a-f (frequency grid, critical-band rate and
threshold in quiet of psychoacoustic model 1), D.2a-f (critical-band
boundaries), C.1 (the analysis window of the polyphase filterbank) and B.1
(the scalefactors). This script reads them from a dist10 source tree and writes
them as Python literals, so the library carries the printed values exactly.

Usage::

    python scripts/extract_iso_tables.py DIST10_DIR [--commit SHA]

``DIST10_DIR`` is the extracted ``dist10`` folder (the tables are read from
``lsf/encoder/tables`` and the scalefactor table from ``lsf/encoder/common.c``).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

RATES = {0: 44100, 1: 48000, 2: 32000}
OUT = Path(__file__).resolve().parents[1] / "percloss" / "iso_tables.py"


def read_threshold_table(path: Path) -> list[tuple[int, float, float]]:
    rows = path.read_text().split("\n")
    count = int(rows[0].split()[0])
    out = []
    for i, row in enumerate(r for r in rows[1:] if r.strip()):
        idx, line, bark, hear = row.split()
        assert int(idx) == i + 1, (path, row)
        out.append((int(line), float(bark), float(hear)))
    assert len(out) == count - 1, (path, len(out), count)
    return out


def read_boundaries(path: Path) -> list[int]:
    rows = [r for r in path.read_text().split("\n") if r.strip()]
    count = int(rows[0].split()[0])
    out = []
    for i, row in enumerate(rows[1:]):
        idx, line = row.split()
        assert int(idx) == i, (path, row)
        out.append(int(line))
    assert len(out) == count, (path, len(out), count)
    return out


def read_window(path: Path) -> list[float]:
    values = {int(i): float(v) for i, v in re.findall(r"C\[\s*(\d+)\]\s*=\s*([-+0-9.eE]+)", path.read_text())}
    assert sorted(values) == list(range(512)), "analysis window must have 512 coefficients"
    return [values[i] for i in range(512)]


def read_scalefactors(path: Path) -> list[float]:
    text = path.read_text()
    body = text[text.index("multiple[64]") :]
    body = body[body.index("{") + 1 : body.index("}")]
    values = [float(v) for v in re.findall(r"[0-9.]+(?:E-?\d+)?", body)]
    assert len(values) == 64, len(values)
    return values[:63]  # the 64th entry (1e-20) is a sentinel, not a scalefactor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dist10", type=Path)
    parser.add_argument("--commit", default="unknown", help="commit of the dist10 snapshot, for the record")
    args = parser.parse_args()
    tables = args.dist10 / "lsf" / "encoder" / "tables"
    lines = [
        '"""Printed tables of ISO/IEC 11172-3 (generated; do not edit).',
        "",
        "Written by ``scripts/extract_iso_tables.py`` from the table files of the ISO",
        f"reference encoder dist10 (snapshot commit {args.commit}):",
        "",
        "- ``THRESHOLD_TABLES[(layer, rate)]``: Tables D.1a-f, rows ``(line, bark, hear)``:",
        "  FFT line of each grid point, critical-band rate (Bark) and threshold in quiet (dB).",
        "- ``BAND_BOUNDARIES[(layer, rate)]``: Tables D.2a-f, critical-band boundaries (FFT lines).",
        "- ``ANALYSIS_WINDOW``: Table C.1, the 512 coefficients C[i] of the analysis window.",
        "- ``SCALEFACTORS``: Table B.1, the 63 Layer I/II scalefactors (index 0 = 2.0).",
        '"""',
        "",
        "# fmt: off",
        "THRESHOLD_TABLES: dict[tuple[int, int], tuple[tuple[int, float, float], ...]] = {",
    ]
    for layer in (1, 2):
        for idx, rate in RATES.items():
            rows = read_threshold_table(tables / f"{layer}th{idx}")
            lines.append(f"    ({layer}, {rate}): (")
            for line, bark, hear in rows:
                lines.append(f"        ({line}, {bark!r}, {hear!r}),")
            lines.append("    ),")
    lines.append("}")
    lines.append("BAND_BOUNDARIES: dict[tuple[int, int], tuple[int, ...]] = {")
    for layer in (1, 2):
        for idx, rate in RATES.items():
            bounds = read_boundaries(tables / f"{layer}cb{idx}")
            lines.append(f"    ({layer}, {rate}): {tuple(bounds)!r},")
    lines.append("}")
    window = read_window(tables / "enwindow")
    lines.append("ANALYSIS_WINDOW: tuple[float, ...] = (")
    for i in range(0, 512, 4):
        lines.append("    " + " ".join(f"{v!r}," for v in window[i : i + 4]))
    lines.append(")")
    scf = read_scalefactors(args.dist10 / "lsf" / "encoder" / "common.c")
    lines.append("SCALEFACTORS: tuple[float, ...] = (")
    for i in range(0, 63, 3):
        lines.append("    " + " ".join(f"{v!r}," for v in scf[i : i + 3]))
    lines.append(")")
    lines.append("# fmt: on")
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
