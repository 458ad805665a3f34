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


def start_build(source: Path, output: Path, mode: str = "quick") -> subprocess.Popen[bytes]:
    """Start the strict book build of ``source`` into ``output``; its output goes to ``output/build.{out,err}``."""
    ipython_dir = output / "ipython"
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-watchdog.py").write_text(WATCHDOG.format(seconds=WATCHDOG_S))
    env = dict(os.environ, PERCLOSS_MODE=mode, TQDM_DISABLE="1", IPYTHONDIR=str(ipython_dir))
    env.setdefault("OMP_NUM_THREADS", str(available_cpus()))
    cmd = jupyter_book_command() + ["build", str(source), "--path-output", str(output), "-W", "-n", "--keep-going"]
    with (output / "build.out").open("wb") as out, (output / "build.err").open("wb") as err:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=err)


def finish_build(proc: subprocess.Popen[bytes], output: Path, mode: str = "quick"
                 ) -> subprocess.CompletedProcess[str]:
    """Wait for a :func:`start_build` process; on a timeout the test fails with the tail of its output,
    which includes the kernels' stack dumps (see ``WATCHDOG``)."""
    try:
        proc.wait(timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        out, log = ((output / f"build.{k}").read_text(errors="replace") for k in ("out", "err"))
        pytest.fail(f"book build ({mode}) timed out after {BUILD_TIMEOUT_S} s\n--- stdout tail ---\n"
                    f"{out[-4000:]}\n--- stderr tail (kernel stack dumps) ---\n{log[-12000:]}")
    out, log = ((output / f"build.{k}").read_text(errors="replace") for k in ("out", "err"))
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, log)


def build_book(source: Path, output: Path, mode: str = "quick") -> subprocess.CompletedProcess[str]:
    """Run the strict book build of ``source`` into ``output`` (returns the finished process)."""
    return finish_build(start_build(source, output, mode), output, mode)


_EARLY_BUILD: dict[str, object] = {}


@pytest.hookimpl(trylast=True)  # after -m / -k deselection: only for tests that will run
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """When tests need the quick book, start building it now and run them last: the other tests run
    while it builds (a fresh ``make test`` spends most of its time in this build)."""
    needs = [item for item in items if "quick_book" in getattr(item, "fixturenames", ())]
    if not needs or os.environ.get("PERCLOSS_BUILT_BOOK") or config.getoption("collectonly"):
        return
    items[:] = [item for item in items if item not in needs] + needs
    output = config._tmp_path_factory.mktemp("book")  # type: ignore[attr-defined]
    _EARLY_BUILD.update(proc=start_build(ROOT, output), output=output)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop an early build nobody waited for (the session stopped before the book tests)."""
    proc = _EARLY_BUILD.get("proc")
    if isinstance(proc, subprocess.Popen) and proc.poll() is None:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def quick_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML directory of the whole book built in ``quick`` mode.

    Set ``PERCLOSS_BUILT_BOOK`` to an existing ``_build/html`` to reuse a build.
    """
    reuse = os.environ.get("PERCLOSS_BUILT_BOOK")
    if reuse:
        return Path(reuse)
    if _EARLY_BUILD:  # started at collection (pytest_collection_modifyitems)
        out = _EARLY_BUILD["output"]
        assert isinstance(out, Path)
        proc = finish_build(_EARLY_BUILD["proc"], out)  # type: ignore[arg-type]
    else:
        out = tmp_path_factory.mktemp("book")
        proc = build_book(ROOT, out)
    if proc.returncode != 0:
        pytest.fail(f"book build failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}")
    return out / "_build" / "html"
