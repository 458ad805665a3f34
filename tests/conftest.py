"""Shared fixtures: the book built once per session in quick mode."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from percloss.modes import available_cpus, configure_threads

configure_threads()

ROOT = Path(__file__).resolve().parent.parent
# helpers that live next to the tests (e.g. masking_reference) import by name
sys.path.insert(0, str(Path(__file__).resolve().parent))


def jupyter_book_command() -> list[str]:
    exe = Path(sys.executable).with_name("jupyter-book")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("jupyter-book")
    if found is None:
        pytest.skip("jupyter-book is not installed (pip install -e '.[book]')")
    return [found]


# Armed in every chapter kernel: if a cell runs for more than WATCHDOG_S seconds,
# the kernel prints every thread's stack to its stderr (repeating), so a hung
# build shows where it hangs instead of only timing out.
WATCHDOG = """import faulthandler, sys
faulthandler.dump_traceback_later({seconds}, repeat=True, file=sys.__stderr__)
"""
WATCHDOG_S = 300
BUILD_TIMEOUT_S = 1800


def build_book(source: Path, output: Path, mode: str = "quick") -> subprocess.CompletedProcess[str]:
    """Run the strict book build of ``source`` into ``output`` (returns the process).

    On a timeout the test fails with the tail of the build's output, which
    includes the kernels' stack dumps (see ``WATCHDOG``).
    """
    ipython_dir = output / "ipython"
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-watchdog.py").write_text(WATCHDOG.format(seconds=WATCHDOG_S))
    env = dict(os.environ, PERCLOSS_MODE=mode, TQDM_DISABLE="1", IPYTHONDIR=str(ipython_dir))
    env.setdefault("OMP_NUM_THREADS", str(available_cpus()))
    cmd = jupyter_book_command() + [
        "build",
        str(source),
        "--path-output",
        str(output),
        "-W",
        "-n",
        "--keep-going",
    ]
    try:
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired as err:
        out = err.stdout.decode(errors="replace") if isinstance(err.stdout, bytes) else (err.stdout or "")
        log = err.stderr.decode(errors="replace") if isinstance(err.stderr, bytes) else (err.stderr or "")
        pytest.fail(f"book build ({mode}) timed out after {BUILD_TIMEOUT_S} s\n--- stdout tail ---\n"
                    f"{out[-4000:]}\n--- stderr tail (kernel stack dumps) ---\n{log[-12000:]}")


@pytest.fixture(scope="session")
def quick_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML directory of the whole book built in ``quick`` mode.

    Set ``PERCLOSS_BUILT_BOOK`` to an existing ``_build/html`` to reuse a build.
    """
    reuse = os.environ.get("PERCLOSS_BUILT_BOOK")
    if reuse:
        return Path(reuse)
    out = tmp_path_factory.mktemp("book")
    proc = build_book(ROOT, out)
    if proc.returncode != 0:
        pytest.fail(f"book build failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}")
    return out / "_build" / "html"
