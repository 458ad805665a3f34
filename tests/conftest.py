"""Shared fixtures: the book built once per session in quick mode."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, NoReturn

import pytest
import torch

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


def _book_build(source: Path, output: Path, mode: str, threads: int) -> tuple[list[str], dict[str, str]]:
    """The command and environment of a strict book build of ``source`` into ``output``, its kernels armed with
    the watchdog (``WATCHDOG``) and given ``threads`` torch threads unless ``OMP_NUM_THREADS`` is set."""
    ipython_dir = output / "ipython"
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-watchdog.py").write_text(WATCHDOG.format(seconds=WATCHDOG_S))
    env = dict(os.environ, PERCLOSS_MODE=mode, TQDM_DISABLE="1", IPYTHONDIR=str(ipython_dir))
    env.setdefault("OMP_NUM_THREADS", str(threads))
    cmd = jupyter_book_command() + ["build", str(source), "--path-output", str(output), "-W", "-n", "--keep-going"]
    return cmd, env


def _fail_timeout(mode: str, out: str, log: str) -> NoReturn:
    pytest.fail(f"book build ({mode}) timed out after {BUILD_TIMEOUT_S} s\n--- stdout tail ---\n"
                f"{out[-4000:]}\n--- stderr tail (kernel stack dumps) ---\n{log[-12000:]}")


def build_book(source: Path, output: Path, mode: str = "quick") -> subprocess.CompletedProcess[str]:
    """Run the strict book build of ``source`` into ``output`` (returns the process).

    On a timeout the test fails with the tail of the build's output, which
    includes the kernels' stack dumps (see ``WATCHDOG``).
    """
    cmd, env = _book_build(source, output, mode, available_cpus())
    try:
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired as err:
        out = err.stdout.decode(errors="replace") if isinstance(err.stdout, bytes) else (err.stdout or "")
        log = err.stderr.decode(errors="replace") if isinstance(err.stderr, bytes) else (err.stderr or "")
        _fail_timeout(mode, out, log)


class BackgroundBuild:
    """The quick book built in a subprocess while the other tests run (:func:`pytest_collection_modifyitems`
    starts it and puts the book's tests last); its output goes to files, so no pipe fills up."""

    def __init__(self, output: Path, mode: str = "quick") -> None:
        # half the CPUs: the other tests run beside it on the other half
        n = available_cpus()
        self.test_threads = max(1, n // 2)
        cmd, env = _book_build(ROOT, output, mode, max(1, n - n // 2))
        self.output, self.mode, self.started = output, mode, time.monotonic()
        self.stdout, self.stderr = (output / "build.out").open("w"), (output / "build.err").open("w")
        # each side on its own CPUs: thread pools that ignore OMP_NUM_THREADS (numba's, onnxruntime's) then
        # cannot spread over the other side's CPUs
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        self.all_cpus = set(cpus) if len(cpus) >= 2 else set()  # empty: not pinned
        build_cpus = set(cpus[len(cpus) // 2 :])
        pin = (lambda: os.sched_setaffinity(0, build_cpus)) if self.all_cpus else None
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.stdout, stderr=self.stderr, text=True,
                                     preexec_fn=pin)
        if self.all_cpus:
            os.sched_setaffinity(0, set(cpus[: len(cpus) // 2]))
        self.ended: float | None = None  # when the build finished (monotonic), stamped by a watcher thread
        self.waited = 0.0  # how long the book's tests waited for it
        self.owns_threads = False  # whether the tests' thread count is held down for the build (and restored after)
        threading.Thread(target=self._watch, daemon=True).start()

    def hold_threads(self) -> None:
        """Size the tests' torch pool to their half, also through ``OMP_NUM_THREADS`` so that code under test
        that sizes the pool itself (``modes.configure_threads``, e.g. in the CLI) keeps to it; unless the caller
        set ``OMP_NUM_THREADS``."""
        if not os.environ.get("OMP_NUM_THREADS"):
            os.environ["OMP_NUM_THREADS"] = str(self.test_threads)
            torch.set_num_threads(self.test_threads)
            self.owns_threads = True

    def release(self) -> None:
        """Give the tests every CPU back once the build has finished (call from the main thread: OpenMP keeps
        the thread count per calling thread)."""
        if self.all_cpus:
            os.sched_setaffinity(0, self.all_cpus)
            self.all_cpus = set()
        if self.owns_threads:
            os.environ.pop("OMP_NUM_THREADS", None)
            torch.set_num_threads(available_cpus())
            self.owns_threads = False

    def _watch(self) -> None:
        self.proc.wait()
        self.ended = time.monotonic()

    def summary(self) -> str:
        """How long the build took and how long the tests waited for it (printed after the run)."""
        built = "did not finish" if self.ended is None else f"built in {self.ended - self.started:.0f} s"
        chapters = ""
        cache = self.output / "_build" / ".jupyter_cache" / "global.db"
        if cache.is_file():
            import json
            import sqlite3

            with contextlib.closing(sqlite3.connect(cache)) as db:
                rows = db.execute("select uri, data from nbcache").fetchall()
            chapters = " (" + ", ".join(f"{Path(uri).stem} {json.loads(data).get('execution_seconds', 0):.0f} s"
                                        for uri, data in rows) + ")"
        return (f"quick book ({self.mode} mode, background): {built}{chapters}; its tests waited "
                f"{self.waited:.0f} s for it")

    def _tails(self) -> tuple[str, str]:
        self.stdout.close()
        self.stderr.close()
        return (self.output / "build.out").read_text()[-6000:], (self.output / "build.err").read_text()[-12000:]

    def wait(self) -> Path:
        """The HTML folder once the build has finished; fails the test on a failed or timed-out build."""
        waiting = time.monotonic()
        try:
            code = self.proc.wait(timeout=max(1.0, BUILD_TIMEOUT_S - (time.monotonic() - self.started)))
            self.waited += time.monotonic() - waiting
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            _fail_timeout(self.mode, *self._tails())
        if code != 0:
            out, log = self._tails()
            pytest.fail(f"book build failed:\n{out}\n{log[-6000:]}")
        return self.output / "_build" / "html"

    def stop(self) -> None:
        self.summary_text = self.summary()  # before its folder (and the execution cache it reads) goes
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.stdout.close()
        self.stderr.close()
        shutil.rmtree(self.output, ignore_errors=True)


_BACKGROUND: dict[str, BackgroundBuild] = {}


@pytest.hookimpl(trylast=True)  # after -k / -m have deselected: no build for a run without the book's tests
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the quick book's build as soon as the tests are collected, in the background, and run the tests
    that read it last, so the build overlaps everything else (unless ``PERCLOSS_BUILT_BOOK`` names a build)."""
    book = {item.nodeid for item in items if "quick_book" in getattr(item, "fixturenames", ())}
    if not book or config.option.collectonly:
        return
    items[:] = [i for i in items if i.nodeid not in book] + [i for i in items if i.nodeid in book]
    if not os.environ.get("PERCLOSS_BUILT_BOOK"):
        _BACKGROUND["quick"] = BackgroundBuild(Path(tempfile.mkdtemp(prefix="percloss-book-")))
        _BACKGROUND["quick"].hold_threads()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Once the background build has finished, the tests get the CPUs it had."""
    build = _BACKGROUND.get("quick")
    if build is not None and build.ended is not None:
        build.release()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for build in _BACKGROUND.values():
        terminalreporter.write_line(getattr(build, "summary_text", None) or build.summary())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for build in _BACKGROUND.values():
        build.stop()


@pytest.fixture(scope="session")
def quick_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML directory of the whole book built in ``quick`` mode (the background build, when one runs).

    Set ``PERCLOSS_BUILT_BOOK`` to an existing ``_build/html`` to reuse a build.
    """
    reuse = os.environ.get("PERCLOSS_BUILT_BOOK")
    if reuse:
        return Path(reuse)
    if "quick" in _BACKGROUND:
        return _BACKGROUND["quick"].wait()
    out = tmp_path_factory.mktemp("book")
    proc = build_book(ROOT, out)
    if proc.returncode != 0:
        pytest.fail(f"book build failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}")
    return out / "_build" / "html"
