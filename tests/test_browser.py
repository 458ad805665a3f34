"""Open every page of the built book in a real headless Chromium.

Each page must load with no console error and no request leaving the machine;
every ``<audio>`` element must report a duration after loading its metadata.
Screenshots are written next to the built site (``<build>/screenshots``).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
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
    "--autoplay-policy=no-user-gesture-required",
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


PANEL = "document.querySelector('[data-pl-listen]')"
SOUNDING = f"""() => [...{PANEL}.querySelectorAll('audio')].filter(a => !a.paused)
  .map(a => [a.dataset.system, a.currentTime])"""


@pytest.mark.parametrize("page_name", ["ch01_deep_audio_prior", "ch02_masking", "ch03_quality_metrics", "ch04_codec"])
def test_listening_panel_switches_without_losing_the_position_and_scores_abx(quick_book: Path, site: str,
                                                                             page_name: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = chromium_path()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page(accept_downloads=True)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{site}/notebooks/{page_name}.html", wait_until="load")
        panel = page.locator("[data-pl-listen]").first
        radios = panel.locator("input.pl-system")
        assert radios.count() >= 3  # the reference and at least two other versions
        duration = page.evaluate(f"() => {PANEL}.querySelector('audio').duration")
        panel.locator(".pl-play").click()
        page.wait_for_function(f"() => {PANEL}.dataset.playing === '1'", timeout=5000)
        # switch once the position is past `lo`, but well before the end: chapter 1's 0.74 s clips loop, and
        # a fixed wait on a loaded machine can catch playback before it has moved, or after it has wrapped
        lo = min(0.3, 0.25 * duration)
        page.wait_for_function(f"() => {{ const a = ({SOUNDING})(); "
                               f"return a.length === 1 && a[0][1] > {lo + 0.02} && a[0][1] < {lo + 0.25}; }}",
                               timeout=20000)
        other = radios.nth(1)
        value = other.get_attribute("value")
        other.check()
        page.wait_for_function(f"() => {PANEL}.dataset.current === {json.dumps(value)}", timeout=5000)
        sounding = page.evaluate(SOUNDING)
        assert len(sounding) == 1 and sounding[0][0] == value  # one source at a time: the chosen one
        assert sounding[0][1] > lo  # it took over where the previous one was, not from 0
        panel.locator(".pl-stop").click()
        assert page.evaluate(SOUNDING) == []
        abx = panel.locator(".pl-abx")
        abx.locator(".pl-new").click()
        abx.locator("button[data-play='X']").click()
        page.wait_for_function(f"() => {PANEL}.dataset.current === 'X'", timeout=5000)
        abx.locator("button[data-answer='A']").click()
        abx.locator("button[data-answer='B']").click()
        assert re.fullmatch(r"[0-2]/2", abx.locator(".pl-score").inner_text())
        assert abx.locator(".pl-log tbody tr").count() == 2
        with page.expect_download() as download:
            abx.locator(".pl-export").click()
        lines = Path(download.value.path()).read_text().splitlines()
        assert lines[0] == "trial,item,A,B,X,answer,correct" and len(lines) == 3
        assert [line.split(",")[5] for line in lines[1:]] == ['"A"', '"B"']
        browser.close()
    assert not errors, errors


def test_mushra_panel_on_chapter_4_rates_and_exports(quick_book: Path, site: str, tmp_path: Path) -> None:
    """Chapter 4's MUSHRA set in the built page: the hidden reference and the anchor among the rated
    versions, playback, a rating, and an export that percloss.listening reads back."""
    from percloss.listening import HIDDEN_REFERENCE, LOW_ANCHOR, read_results

    sync_api = pytest.importorskip("playwright.sync_api")
    executable = chromium_path()
    mushra = "document.querySelector('[data-pl-mushra]')"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page(accept_downloads=True)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{site}/notebooks/ch04_codec.html", wait_until="load")
        panel = page.locator("[data-pl-mushra]")
        assert panel.count() == 1
        build_id = panel.get_attribute("data-build-id")
        assert build_id is not None and re.fullmatch(r"[0-9a-f]{12}", build_id)
        systems = json.loads(panel.get_attribute("data-systems") or "[]")
        assert HIDDEN_REFERENCE in systems and LOW_ANCHOR in systems and len(systems) >= 4
        order = page.evaluate(f"() => {mushra}.plMushra.trials[0].order")
        assert sorted(order) == sorted(systems) and panel.locator("input.pl-score").count() == len(systems)
        panel.locator(".pl-ref").click()
        page.wait_for_function(f"() => {mushra}.dataset.playing === '1'", timeout=5000)
        panel.locator("button.pl-stim").nth(2).click()
        page.wait_for_function(f"() => {mushra}.dataset.current === 'C'", timeout=5000)
        panel.locator(".pl-stop").click()
        slider = panel.locator("input.pl-score").nth(2)
        slider.focus()
        page.keyboard.press("End")  # 100
        with page.expect_download() as download:
            panel.locator(".pl-export-json").click()
        target = tmp_path / download.value.suggested_filename
        download.value.save_as(target)
        browser.close()
    assert not errors, errors
    results = read_results([target])
    assert results.build_id == build_id
    assert [(r.system, r.score) for r in results.ratings] == [(order[2], 100.0)]


def test_masking_widget_on_chapter_2_drives_web_audio(quick_book: Path, site: str) -> None:
    """Chapter 2's widget in the built page: play, then the tone frequency and the noise level change the
    audio graph's parameters, the plotted threshold and the model's verdict."""
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = chromium_path()
    widget = "document.querySelector('[data-pl-masking]')"
    params = f"() => [{widget}.plMasking.osc.frequency.value, {widget}.plMasking.noiseGain.gain.value]"

    def move(page: object, cls: str, value: float) -> None:
        page.evaluate(f"() => {{ const e = {widget}.querySelector('{cls}'); e.value = '{value}'; "  # type: ignore[attr-defined]
                      "e.dispatchEvent(new Event('input', {bubbles: true})); }")

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{site}/notebooks/ch02_masking.html", wait_until="load")
        w = page.locator("[data-pl-masking]")
        from percloss.masking import ISO_FULL_SCALE_SINE_DB

        assert f"{ISO_FULL_SCALE_SINE_DB:.2f} dB SPL" in w.locator(".pl-calibration").inner_text()
        w.locator(".pl-play").click()
        page.wait_for_function(f"() => {widget}.dataset.playing === '1'", timeout=5000)
        assert page.evaluate(params) == [pytest.approx(1000.0, rel=1e-4), pytest.approx(10 ** 1.5, rel=1e-4)]
        d0, t0 = w.locator("path.pl-thr").get_attribute("d"), w.get_attribute("data-threshold-at-tone")
        move(page, ".pl-freq", 3.3)
        move(page, ".pl-noise", 10)
        assert page.evaluate(params) == [pytest.approx(10 ** 3.3, rel=1e-3), pytest.approx(10 ** 0.5, rel=1e-4)]
        assert w.locator("path.pl-thr").get_attribute("d") != d0 and w.get_attribute("data-threshold-at-tone") != t0
        assert w.get_attribute("data-verdict") == "masked"  # 10 dB per line, 1 Bark wide, under a 70 dB tone
        move(page, ".pl-noise", 80)
        assert w.get_attribute("data-verdict") == "audible"
        browser.close()
    assert not errors, errors
