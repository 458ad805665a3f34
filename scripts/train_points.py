"""Train several codec operating points at once, one process each, on one device.

Each point runs ``python -m percloss train-codec --point P`` in its own
process (resumable as usual; all processes share one state folder and one
snapshot folder). A D point starts as soon as its C point has written the
state it is fine-tuned from. Every process stops at the common deadline and
saves; a point that finished exports its ``.codec``. Meant for a GPU, where
one process per point keeps the device busy with these small models.

Usage: python scripts/train_points.py A64 A79 B79 --device cuda --minutes 30
       [--corpus codec|broad] [--corpus-folder DIR] [--state-dir DIR] [--snapshot-dir runs/codec] [--logs DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from percloss.codec_runs import POINTS, shared_state_path, state_dir

FAIL_FAST_SECONDS = 120.0  # a process that dies this early is a setup error: stop everything


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("points", nargs="+", choices=sorted(POINTS))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--minutes", type=float, required=True, help="wall-time budget of the whole call")
    parser.add_argument("--corpus", choices=("codec", "broad"), default="codec")
    parser.add_argument("--corpus-folder", default=None, help="as train-codec's (Default: that corpus's own)")
    parser.add_argument("--state-dir", default=None)
    parser.add_argument("--snapshot-dir", default="runs/codec")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads per process (Default: 1)")
    parser.add_argument("--report-every", type=int, default=500,
                        help="steps between progress lines; each report reloads the state, so keep it large on a GPU")
    parser.add_argument("--logs", default="runs/codec/logs", help="one output file per process")
    args = parser.parse_args()
    deadline = time.monotonic() + args.minutes * 60
    states = state_dir(args.state_dir)
    logs = Path(args.logs)
    logs.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    running: dict[str, tuple[subprocess.Popen[bytes], float]] = {}
    waiting = [p for p in args.points if POINTS[p].init_from is not None and not (states / p / "state.pt").is_file()
               and not (Path(args.snapshot_dir) / p / "snapshot.pt").is_file()]

    def launch(name: str) -> None:
        hours = (deadline - time.monotonic()) / 3600
        cmd = [sys.executable, "-m", "percloss", "train-codec", "--point", name, "--hours", f"{hours:.5f}",
               "--device", args.device, "--threads", str(args.threads), "--corpus", args.corpus,
               "--snapshot-dir", args.snapshot_dir,
               "--report-every", str(args.report_every)]
        if args.state_dir is not None:
            cmd += ["--state-dir", args.state_dir]
        if args.corpus_folder is not None:
            cmd += ["--corpus-folder", args.corpus_folder]
        out = (logs / f"{name}.txt").open("ab")
        running[name] = (subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env), time.monotonic())
        print(f"[{time.strftime('%H:%M:%S')}] started {name} ({hours * 60:.1f} min left)", flush=True)

    for name in args.points:
        if name not in waiting:
            launch(name)
    failed = False
    while running or waiting:
        time.sleep(2.0)
        for name in list(waiting):
            source = POINTS[name].init_from
            if shared_state_path(states, str(source)).is_file() and deadline - time.monotonic() > 30:
                waiting.remove(name)
                launch(name)
        for name, (proc, started) in list(running.items()):
            code = proc.poll()
            if code is None:
                continue
            del running[name]
            print(f"[{time.strftime('%H:%M:%S')}] {name} exited with {code}", flush=True)
            if code != 0:
                failed = True
                if time.monotonic() - started < FAIL_FAST_SECONDS:
                    print(f"{name} failed at once: stopping every process (see {logs / (name + '.txt')})", flush=True)
                    print((logs / f"{name}.txt").read_text()[-3000:], flush=True)
                    for other, _ in running.values():
                        other.terminate()
                    for other, _ in running.values():
                        other.wait()
                    return 1
        if waiting and time.monotonic() > deadline:
            print(f"deadline reached; never started: {', '.join(waiting)}", flush=True)
            waiting.clear()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
