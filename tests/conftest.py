"""Shared fixtures: the book built once per session in quick mode."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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


def build_book(source: Path, output: Path, mode: str = "quick") -> subprocess.CompletedProcess[str]:
    """Run the strict book build of ``source`` into ``output`` (returns the process)."""
    env = dict(os.environ, PERCLOSS_MODE=mode, TQDM_DISABLE="1")
    cmd = jupyter_book_command() + [
        "build",
        str(source),
        "--path-output",
        str(output),
        "-W",
        "-n",
        "--keep-going",
    ]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3000)


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
