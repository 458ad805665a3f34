"""The site's MUSHRA panel and masking widget, end to end in headless Chromium, on a page made here.

The page holds the markup of :func:`percloss.notebook.mushra_panel_html` and
:func:`percloss.notebook.masking_widget_html` and the site's own scripts
(``book/static/site``), served locally: no book build needed. The built
chapters carry the same panels (tests/test_browser.py opens them).
"""

from __future__ import annotations

import functools
import http.server
import json
import math
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from test_browser import CHROMIUM_ARGS, _QuietHandler, chromium_path

from percloss import notebook
from percloss.experiments.masking_demo import interpolate_threshold, tone_threshold_grid
from percloss.listening import (
    HIDDEN_REFERENCE,
    LOW_ANCHOR,
    mushra_stimuli,
    read_results,
    stimulus_id,
)
from percloss.masking import ISO_FULL_SCALE_SINE_DB, spectrum_db

pytestmark = pytest.mark.slow

SITE = Path(__file__).resolve().parent.parent / "book" / "static" / "site"
RATE = 32000


def _stimuli() -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    t = np.arange(2 * RATE) / RATE
    items = {}
    for k, item in enumerate(("song-a", "song-b")):
        ref = 0.3 * np.sin(2 * np.pi * (440 + 110 * k) * t) + 0.05 * rng.standard_normal(len(t))
        items[item] = {"reference": ref, "S1": np.clip(ref + 0.05 * rng.standard_normal(len(t)), -1, 1),
                       "S2": 0.5 * ref}
    return mushra_stimuli(items, RATE, ["S1", "S2"])


GRID = tone_threshold_grid(100.0 * 2.0 ** np.arange(0, 8, 1.0), np.array([20.0, 50.0, 82.0]))


@pytest.fixture(scope="module")
def page_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("site")
    for name in ("listening.js", "mushra.js", "masking.js", "listening.css"):
        shutil.copyfile(SITE / name, root / name)
    body = notebook.mushra_panel_html(_stimuli(), RATE, "test-set") + notebook.masking_widget_html(GRID)
    (root / "index.html").write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">'
        '<link rel="stylesheet" href="listening.css">'
        '<script src="listening.js"></script><script src="mushra.js"></script><script src="masking.js"></script>'
        f"</head><body>{body}</body></html>")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    server.shutdown()


@pytest.fixture()
def page(page_url: str) -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = chromium_path()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        pg = browser.new_page(accept_downloads=True)
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.on("console", lambda m: m.type == "error" and errors.append(m.text))
        pg.goto(page_url, wait_until="load")
        yield pg
        browser.close()
    assert not errors, errors


MUSHRA = "document.querySelector('[data-pl-mushra]')"
SOUNDING = f"() => [...{MUSHRA}.querySelectorAll('audio')].filter(a => !a.paused).map(a => [a.dataset.system, a.currentTime])"


def _set(page: object, selector: str, value: float) -> None:
    page.evaluate("([s, v]) => { const e = document.querySelector(s); e.value = String(v); "  # type: ignore[attr-defined]
                  "e.dispatchEvent(new Event('input', {bubbles: true})); }", [selector, value])


def test_mushra_panel_plays_switches_loops_rates_and_exports(page: object, tmp_path: Path) -> None:
    pg = page
    stimuli = _stimuli()
    systems = [HIDDEN_REFERENCE, "S1", "S2", LOW_ANCHOR]
    panel = pg.locator("[data-pl-mushra]")  # type: ignore[attr-defined]
    assert panel.get_attribute("data-build-id") == stimulus_id("test-set", stimuli, RATE)
    trials = pg.evaluate(f"() => {MUSHRA}.plMushra.trials.map(t => [t.item, t.order])")  # type: ignore[attr-defined]
    assert sorted(t[0] for t in trials) == ["song-a", "song-b"]
    assert all(sorted(order) == sorted(systems) for _, order in trials)  # a permutation of every rated version
    assert panel.locator("tbody tr").count() == 4
    # loudness matching: the quieter S2 (half the reference) plays at gain 1, the reference at about 1/2
    gains = pg.evaluate(f"() => Object.fromEntries([...{MUSHRA}.querySelectorAll('audio')]"  # type: ignore[attr-defined]
                        ".filter(a => a.dataset.item === 'song-a').map(a => [a.dataset.system, +a.dataset.gain]))")
    assert gains["S2"] == pytest.approx(1.0) and gains["reference"] == pytest.approx(0.5, abs=0.01)

    # play the reference, then switch to stimulus B at the playback position
    panel.locator(".pl-ref").click()
    pg.wait_for_function(f"() => {MUSHRA}.dataset.playing === '1'", timeout=5000)  # type: ignore[attr-defined]
    pg.wait_for_function(f"() => {{ const a = ({SOUNDING})(); return a.length === 1 && a[0][1] > 0.35; }}",  # type: ignore[attr-defined]
                         timeout=10000)
    panel.locator("button.pl-stim").nth(1).click()
    pg.wait_for_function(f"() => {MUSHRA}.dataset.current === 'B'", timeout=5000)  # type: ignore[attr-defined]
    sounding = pg.evaluate(SOUNDING)  # type: ignore[attr-defined]
    assert len(sounding) == 1 and sounding[0][0] == trials[0][1][1] and sounding[0][1] > 0.3
    # loop 0.5 .. 0.9 s: the position stays in the region for a second of playback
    panel.locator(".pl-loop").check()
    _set(pg, ".pl-from", 0.5)
    _set(pg, ".pl-to", 0.9)
    positions = []
    for _ in range(25):
        pg.wait_for_timeout(50)  # type: ignore[attr-defined]
        positions += [pos for _, pos in pg.evaluate(SOUNDING)]  # type: ignore[attr-defined]
    assert len(positions) >= 20 and all(0.4 < p < 1.0 for p in positions[3:]), positions
    assert max(positions) - min(positions[3:]) > 0.2  # it plays (and wraps), not stuck
    panel.locator(".pl-stop").click()
    assert pg.evaluate(SOUNDING) == []  # type: ignore[attr-defined]

    # rate: the first slider with the keyboard (a real interaction), the others set; then the second trial
    wanted: dict[tuple[str, str], int] = {}
    for k, (item, order) in enumerate(trials):
        if k:
            panel.locator(".pl-next").click()
            assert panel.get_attribute("data-trial") == "2"
        sliders = panel.locator("input.pl-score")
        sliders.nth(0).focus()
        for _ in range(3):
            pg.keyboard.press("ArrowRight")  # type: ignore[attr-defined]
        wanted[(item, order[0])] = 53
        for pos in range(1, 4):
            score = 10 + 20 * pos + k
            _set(pg, f"[data-pl-mushra] tbody tr:nth-child({pos + 1}) input.pl-score", score)
            wanted[(item, order[pos])] = score
    assert "trials complete: 2 of 2" in panel.locator(".pl-progress").inner_text()
    panel.locator(".pl-listener").fill("tester 1")
    files = []
    for button in (".pl-export-json", ".pl-export-csv"):
        with pg.expect_download() as download:  # type: ignore[attr-defined]
            panel.locator(button).click()
        target = tmp_path / download.value.suggested_filename
        download.value.save_as(target)
        files.append(target)
    record = json.loads(files[0].read_text())
    assert record["build_id"] == stimulus_id("test-set", stimuli, RATE) and record["listener"] == "tester 1"
    assert record["items"] == ["song-a", "song-b"] and record["systems"] == list(stimuli["song-a"])
    for f in files:
        results = read_results([f])
        assert {(r.item, r.system): r.score for r in results.ratings} == wanted
    assert files[1].read_text().splitlines()[0] == "build_id,set,listener,trial,item,system,score,position"


def test_mushra_order_is_drawn_per_page_load(page: object) -> None:
    orders = set()
    for _ in range(4):
        orders.add(json.dumps(page.evaluate(f"() => {MUSHRA}.plMushra.trials.map(t => t.order)")))  # type: ignore[attr-defined]
        page.reload(wait_until="load")  # type: ignore[attr-defined]
    assert len(orders) > 1  # 4 loads of 2 trials x 24 orders: all equal has probability 24**-6


MASK = "document.querySelector('[data-pl-masking]')"


def test_masking_widget_threshold_matches_the_library_interpolation(page: object) -> None:
    for f, level in ((100.0, 20.0), (1000.0, 70.0), (437.0, 33.3), (5000.0, 82.0), (12800.0, 61.0)):
        page_thr = np.array(page.evaluate(f"([f, l]) => {MASK}.plMasking.threshold(f, l)", [f, level]))  # type: ignore[attr-defined]
        expected = interpolate_threshold(GRID, f, level)
        np.testing.assert_allclose(page_thr, expected, atol=0.26)  # the page's grid is stored in 0.5 dB steps


def test_masking_widget_controls_drive_the_audio_graph_and_the_plot(page: object) -> None:
    pg = page
    w = pg.locator("[data-pl-masking]")  # type: ignore[attr-defined]
    params = f"() => {{ const g = {MASK}.plMasking; return [g.osc.frequency.value, g.toneGain.gain.value, " \
             "g.noiseGain.gain.value, g.band().lo, g.band().hi, g.ctx.state]; }"
    w.locator(".pl-play").click()
    pg.wait_for_function(f"() => {MASK}.dataset.playing === '1'", timeout=5000)  # type: ignore[attr-defined]
    f0, tone, noise, lo, hi, state = pg.evaluate(params)  # type: ignore[attr-defined]
    assert state == "running"
    assert f0 == pytest.approx(1000.0, rel=1e-4)
    assert tone == pytest.approx(10 ** ((70 - ISO_FULL_SCALE_SINE_DB) / 20), rel=1e-4)
    assert noise == pytest.approx(10 ** (30 / 20), rel=1e-4)
    assert 850 < lo < 950 and 1050 < hi < 1150  # half a Bark either side of 1 kHz
    path0, thr0 = w.locator("path.pl-thr").get_attribute("d"), float(w.get_attribute("data-threshold-at-tone"))
    row = int(np.argmin(np.abs(GRID.frequency - 1000.0)))
    assert thr0 == pytest.approx(interpolate_threshold(GRID, 1000.0, 70.0)[row], abs=0.3)

    _set(pg, ".pl-freq", 3.5)
    _set(pg, ".pl-level", 82)
    f1, tone1, _, lo1, hi1, _ = pg.evaluate(params)  # type: ignore[attr-defined]
    assert f1 == pytest.approx(10 ** 3.5, rel=1e-3) and lo1 < f1 < hi1 and lo1 > lo
    assert tone1 == pytest.approx(10 ** ((82 - ISO_FULL_SCALE_SINE_DB) / 20), rel=1e-4)
    assert w.locator("path.pl-thr").get_attribute("d") != path0
    thr1 = float(w.get_attribute("data-threshold-at-tone"))
    nearest = int(np.argmin(np.abs(GRID.frequency - 10 ** 3.5)))
    assert thr1 == pytest.approx(interpolate_threshold(GRID, 10 ** 3.5, 82.0)[nearest], abs=0.3)

    # the noise under the tone's threshold is masked, above it audible: the verdict follows the model
    _set(pg, ".pl-noise", 0)
    assert w.get_attribute("data-verdict") == "masked"
    _set(pg, ".pl-noise", 90)
    assert w.get_attribute("data-verdict") == "audible"
    assert pg.evaluate(params)[2] == pytest.approx(10 ** (90 / 20), rel=1e-4)  # type: ignore[attr-defined]
    w.locator(".pl-tone-on").uncheck()
    assert pg.evaluate(params)[1] == 0  # type: ignore[attr-defined]
    w.locator(".pl-noise-kind").select_option("white")
    assert pg.evaluate(params)[3:5] == [0, GRID.sample_rate / 2]  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["band", "white"])
def test_masking_widget_noise_is_calibrated_per_line(page: object, kind: str) -> None:
    """The page's noise at 0 dB gain reads 0 dB SPL per line in its band on the chapter's scale, and
    nothing outside it (band: half a Bark either side of a 10 kHz tone, about 26 lines)."""
    pg = page
    _set(pg, ".pl-freq", 4.0)
    pg.locator("[data-pl-masking] .pl-noise-kind").select_option(kind)  # type: ignore[attr-defined]
    pg.locator("[data-pl-masking] .pl-play").click()  # type: ignore[attr-defined]
    pg.wait_for_function(f"() => {MASK}.dataset.playing === '1'", timeout=5000)  # type: ignore[attr-defined]
    lo, hi, rate = pg.evaluate(f"() => [{MASK}.plMasking.band().lo, {MASK}.plMasking.band().hi, "  # type: ignore[attr-defined]
                               f"{MASK}.plMasking.ctx.sampleRate]")
    samples = pg.evaluate(f"() => Array.from({MASK}.plMasking.band().buffer.getChannelData(0))")  # type: ignore[attr-defined]
    x = torch.tensor(samples, dtype=torch.float64)
    level = 10 * torch.log10(torch.pow(10.0, spectrum_db(x, 512, 256) / 10).mean(0))  # mean power per line
    lines = np.arange(257) * rate / 512
    inside = (lines > lo + 2 * rate / 512) & (lines < hi - 2 * rate / 512)
    outside = (lines < lo - 4 * rate / 512) | (lines > hi + 4 * rate / 512)
    assert inside.sum() >= (20 if kind == "band" else 250)
    assert float(level[torch.from_numpy(inside)].mean()) == pytest.approx(0.0, abs=0.5)
    if kind == "band":
        assert float(level[torch.from_numpy(outside)].max()) < -30  # the Hann window's leakage only
    assert math.isclose(rate, GRID.sample_rate)
