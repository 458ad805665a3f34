"""Open every page of the built book in a real headless Chromium.

Each page must load with no console error and no request leaving the machine;
every ``<audio>`` element must report a duration after loading its metadata.
Screenshots are written next to the built site (``<build>/screenshots``).
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

AUDIO_DURATIONS = """async () => Promise.all([...document.querySelectorAll('audio')].map(a =>
  new Promise(resolve => {
    if (a.readyState >= 1) { resolve(a.duration); return; }
    a.addEventListener('loadedmetadata', () => resolve(a.duration), {once: true});
    a.addEventListener('error', () => resolve(-1), {once: true});
    a.load();
  })))"""


def chromium_path() -> str:
    path = os.environ.get("PERCLOSS_CHROMIUM") or shutil.which("chromium")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing on CI: .ci/run must install it")
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site(quick_book: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(quick_book))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def pages(root: Path) -> list[str]:
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*.html")
        if not p.relative_to(root).parts[0].startswith("_")
    )


def test_every_page_in_chromium(quick_book: Path, site: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = chromium_path()
    shots = quick_book.parent / "screenshots"
    shots.mkdir(exist_ok=True)
    failures: list[str] = []
    audio_seen = 0
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        for name in pages(quick_book):
            page = browser.new_page()
            problems: list[str] = []
            page.on("console", lambda m, pr=problems: m.type == "error" and pr.append(m.text))
            page.on("pageerror", lambda e, pr=problems: pr.append(f"page error: {e}"))
            page.on("response", lambda r, pr=problems: r.status >= 400 and pr.append(f"HTTP {r.status}: {r.url}"))
            page.on(
                "request",
                lambda r, pr=problems: (
                    not r.url.startswith((site, "data:", "blob:", "about:"))
                    and pr.append(f"remote request: {r.url}")
                ),
            )
            page.goto(f"{site}/{name}", wait_until="load")
            page.wait_for_timeout(300)
            durations = page.evaluate(AUDIO_DURATIONS)
            audio_seen += len(durations)
            bad = [d for d in durations if not d or d <= 0]
            if bad:
                problems.append(f"{len(bad)} of {len(durations)} audio elements have no duration")
            page.screenshot(path=str(shots / (name.replace("/", "__") + ".png")), full_page=False)
            failures += [f"{name}: {msg}" for msg in problems]
            page.close()
        browser.close()
    assert not failures, "\n".join(failures)
    assert audio_seen >= 2
