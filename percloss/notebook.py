"""Helpers the book's chapters share for showing results (needs the ``book`` extra: IPython)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import torch

from ._checks import AUDIO_RATE_RANGE, check_sample_rate

__all__ = ["audio_tag", "audio_player", "audio_data_uri", "flac_data_uri", "listening_panel", "listening_panel_html",
           "mushra_panel_html", "masking_widget_html", "rerun_note", "claims_html", "Chapter", "begin_chapter"]

#: Figure settings every chapter uses.
FIGURE_STYLE: dict[str, Any] = {"figure.dpi": 90, "figure.figsize": (9, 3.2), "axes.grid": True}


@dataclass
class Chapter:
    """One execution of a chapter: its source, run mode and start time (:func:`begin_chapter`)."""

    source: str  # relative to the repository root: ``notebooks/ch01_....py``
    mode: str
    start: float = field(default_factory=time.perf_counter)

    def elapsed(self) -> float:
        """Wall seconds since the chapter began."""
        return time.perf_counter() - self.start

    def closing_note(self, device: str) -> str:
        """:func:`rerun_note` for this chapter, with its wall time so far."""
        return rerun_note(self.source, self.elapsed(), self.mode, device)


def begin_chapter(source: str) -> Chapter:
    """The prologue of every chapter: the figure style, torch threads sized to this machine
    (:func:`percloss.modes.configure_threads`), the run mode (``$PERCLOSS_MODE``) and the start of its clock."""
    import matplotlib.pyplot as plt

    from .modes import configure_threads, current_mode

    plt.rcParams.update(FIGURE_STYLE)  # type: ignore[arg-type]
    configure_threads()
    return Chapter(source, current_mode())



def _checked_audio(x: torch.Tensor | np.ndarray, rate: int) -> np.ndarray:
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim not in (1, 2) or arr.size == 0:
        raise ValueError(f"x must be a non-empty 1-D signal or (channels, time), got shape {arr.shape}")
    if not np.isfinite(arr).all() or np.abs(arr).max() > 1.0:
        raise ValueError("x must be finite and within [-1, 1] (the player does not normalise)")
    check_sample_rate(rate, "rate", rate_range=AUDIO_RATE_RANGE)
    return arr


#: Sample rates a FLAC frame header names directly (8 to 192 kHz). At others (11025 Hz, chapter 1's) every
#: frame points back to the stream header, and Chromium then fails to seek in the embedded file (a media
#: error on the first jump, e.g. when a listening panel switches versions at the playback position), so
#: those are embedded as WAV (tests/test_browser.py clicks through it).
FLAC_HEADER_RATES = frozenset({8000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000, 176400, 192000})


def audio_data_uri(x: torch.Tensor | np.ndarray, rate: int) -> str:
    """``x`` as a ``data:`` URI of 16-bit audio: FLAC at the rates of :data:`FLAC_HEADER_RATES`, WAV at others.

    Raises:
        ValueError: for samples outside [-1, 1] or non-finite, or a rate that is not a positive integer.
    """
    arr = _checked_audio(x, rate)
    if int(rate) in FLAC_HEADER_RATES:
        return flac_data_uri(arr, rate)
    import base64
    import io

    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, arr.T if arr.ndim == 2 else arr, int(rate), format="WAV", subtype="PCM_16")
    return "data:audio/wav;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def flac_data_uri(x: torch.Tensor | np.ndarray, rate: int) -> str:
    """``x`` (mono or ``(channels, time)``, in [-1, 1]) as a ``data:audio/flac`` URI of 16-bit FLAC.

    Raises:
        ValueError: for samples outside [-1, 1] or non-finite, or a rate that is not a positive integer.
    """
    import base64
    import io

    import soundfile as sf

    arr = _checked_audio(x, rate)
    buffer = io.BytesIO()
    sf.write(buffer, arr.T if arr.ndim == 2 else arr, int(rate), format="FLAC", subtype="PCM_16")
    return "data:audio/flac;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def audio_tag(x: torch.Tensor | np.ndarray, rate: int, width: int = 170) -> str:
    """An HTML ``<audio>`` player embedding ``x`` (mono or ``(channels, time)``, in [-1, 1]) losslessly
    (:func:`audio_data_uri`: FLAC, or WAV at rates FLAC frames do not name).

    16-bit FLAC holds exactly what a 16-bit WAV would, in about half the bytes
    for music, so pages stay light. No normalisation: players keep the
    measured relative levels.

    Raises:
        ValueError: for samples outside [-1, 1] or non-finite, or a rate that is not a positive integer.
    """
    uri = audio_data_uri(x, rate)
    kind = uri[len("data:"): uri.index(";")]
    return (f'<audio controls="controls" style="width: {width}px">'
            f'<source src="{uri}" type="{kind}" />'
            "Your browser does not support the audio element.</audio>")


def audio_player(rate: int, width: int = 170, clip: bool = False) -> Callable[[torch.Tensor | np.ndarray], str]:
    """:func:`audio_tag` at one ``rate`` and ``width``: a chapter's ``audio_tag = audio_player(SR)``.
    ``clip``: clip samples to [-1, 1] first (a decoder's output may overshoot full scale) instead of refusing them."""
    check_sample_rate(rate, "rate", rate_range=AUDIO_RATE_RANGE)
    if not clip:
        return partial(audio_tag, rate=rate, width=width)

    def clipped(x: torch.Tensor | np.ndarray) -> str:
        return audio_tag(np.clip(np.asarray(x), -1.0, 1.0), rate, width)

    return clipped


def listening_panel_html(items: dict[str, dict[str, np.ndarray]], rate: int, name: str, abx: bool = True,
                         choice: str = "version", match_loudness: bool = True, loop: bool = False) -> str:
    """A listening panel for the static site (``book/static/site/listening.js``, no kernel needed).

    ``items`` maps an item (e.g. a clip) to its versions (e.g. ``"reference"``,
    ``"D64"``), each a mono signal in [-1, 1] at ``rate``. The reader picks an
    item and a version; switching versions keeps the playback position. With
    *match loudness* on, each version of an item plays at the RMS level of the
    item's quietest version (a simple loudness match; the files themselves keep
    their measured levels). With ``abx``, an ABX test: X is A or B at random,
    the answers and the score stay in the page and export as CSV.
    ``match_loudness`` sets the initial state of the match (off where the
    levels are the point, e.g. a noise heard alone and mixed in). ``loop``
    repeats each version until *stop* (for sounds shorter than a second or two).

    Raises:
        ValueError: for an empty ``items``, an item without versions, or bad audio.
    """
    import html as _html

    if not items or any(not versions for versions in items.values()):
        raise ValueError("items must map at least one item to at least one version")
    esc = _html.escape
    systems = list(dict.fromkeys(v for versions in items.values() for v in versions))
    audio, options = [], []
    for item, versions in items.items():
        options.append(f'<option value="{esc(item)}">{esc(item)}</option>')
        rms = {v: float(np.sqrt(np.mean(np.square(_checked_audio(x, rate))))) for v, x in versions.items()}
        floor = min((r for r in rms.values() if r > 0), default=1.0)
        for version, x in versions.items():
            gain = floor / rms[version] if rms[version] > 0 else 1.0
            audio.append(f'<audio preload="metadata"{" loop" if loop else ""} data-item="{esc(item)}" '
                         f'data-system="{esc(version)}" '
                         f'data-gain="{gain:.4f}" src="{audio_data_uri(x, rate)}"></audio>')
    radios = "".join(
        f'<label><input type="radio" class="pl-system" name="{esc(name)}-system" value="{esc(v)}"'
        f'{" checked" if i == 0 else ""}> {esc(v)}</label>' for i, v in enumerate(systems))
    parts = [f'<div class="pl-listen" data-pl-listen data-name="{esc(name)}">',
             '<div class="pl-controls">',
             f'<label>item <select class="pl-item">{"".join(options)}</select></label>',
             f'<span>{esc(choice)}: {radios}</span>',
             '<button type="button" class="pl-play">play</button>',
             '<button type="button" class="pl-stop">stop</button>',
             f'<label><input type="checkbox" class="pl-match"{" checked" if match_loudness else ""}> '
             "match loudness</label>",
             '<span class="pl-now"></span></div>',
             f'<div class="pl-sources" hidden>{"".join(audio)}</div>']
    if abx and len(systems) >= 2:
        def select(cls: str, default: str) -> str:
            opts = "".join(f'<option value="{esc(v)}"{" selected" if v == default else ""}>{esc(v)}</option>'
                           for v in systems)
            return f'<select class="{cls}">{opts}</select>'
        parts += ['<div class="pl-abx"><strong>ABX</strong>',
                  f'<label>A {select("pl-a", systems[0])}</label><label>B {select("pl-b", systems[1])}</label>',
                  '<button type="button" class="pl-new">new trial</button>',
                  '<button type="button" data-play="A">A</button><button type="button" data-play="B">B</button>',
                  '<button type="button" data-play="X">X</button>',
                  '<button type="button" data-answer="A">X is A</button>',
                  '<button type="button" data-answer="B">X is B</button>',
                  'score <span class="pl-score">0/0</span>',
                  '<button type="button" class="pl-export">export answers (CSV)</button>',
                  '<table class="pl-log"><thead><tr><th>trial</th><th>item</th><th>A</th><th>B</th>'
                  '<th>answer</th><th></th></tr></thead><tbody></tbody></table></div>']
    parts.append("</div>")
    return "".join(parts)


def mushra_panel_html(items: dict[str, dict[str, np.ndarray]], rate: int, name: str) -> str:
    """A MUSHRA panel for the static site (``book/static/site/mushra.js``; ITU-R BS.1534-3 design).

    ``items`` maps each item (a trial) to its versions, mono in [-1, 1] at
    ``rate``, every item with the same versions, among them
    :data:`percloss.listening.HIDDEN_REFERENCE` (played as the open reference
    and, among the rated stimuli, as the hidden one) and usually the low
    anchor (:func:`percloss.listening.mushra_stimuli` adds it). In the page,
    each trial lists the versions in a random order; each plays at the
    loudness of the item's quietest version (:func:`percloss.listening.loudness_gains`).
    The results export with the set's identifier (:func:`percloss.listening.stimulus_id`).

    Raises:
        ValueError: for no items, items with different versions, no reference, or bad audio.
    """
    import html as _html
    import json

    from .listening import HIDDEN_REFERENCE, SCALE, loudness_gains, stimulus_id

    if not items:
        raise ValueError("items must hold at least one item")
    systems = list(next(iter(items.values())))
    if any(sorted(v) != sorted(systems) for v in items.values()) or HIDDEN_REFERENCE not in systems:
        raise ValueError(f"every item must have the same versions, {HIDDEN_REFERENCE!r} among them; got "
                         + "; ".join(f"{k}: {', '.join(v)}" for k, v in items.items()))
    esc = _html.escape
    seconds = min(len(x) for versions in items.values() for x in versions.values()) / rate
    audio = []
    for item, versions in items.items():
        gains = loudness_gains({k: _checked_audio(x, rate) for k, x in versions.items()}, rate)
        audio += [f'<audio preload="auto" data-item="{esc(item)}" data-system="{esc(v)}" data-gain="{gains[v]:.4f}" '
                  f'src="{audio_data_uri(x, rate)}"></audio>' for v, x in versions.items()]
    scale = "".join(f'<span title="{lo}-{hi}">{esc(label)}</span>' for label, lo, hi in SCALE)
    rng = f'min="0" max="{seconds:.2f}" step="0.1"'
    return "".join([
        f'<div class="pl-listen pl-mushra" data-pl-mushra data-set="{esc(name)}" '
        f'data-build-id="{stimulus_id(name, items, rate)}" data-reference="{esc(HIDDEN_REFERENCE)}" '
        f'data-items="{esc(json.dumps(list(items)))}" data-systems="{esc(json.dumps(systems))}">',
        '<div class="pl-controls"><label>listener <input type="text" class="pl-listener" size="12" '
        'placeholder="name or code"></label>',
        '<button type="button" class="pl-prev">previous trial</button><span class="pl-trial"></span>',
        '<button type="button" class="pl-next">next trial</button></div>',
        '<div class="pl-controls"><button type="button" class="pl-ref">reference</button>',
        '<button type="button" class="pl-stop">stop</button>',
        '<label><input type="checkbox" class="pl-loop"> loop</label>',
        f'<label>from <input type="range" class="pl-from" {rng} value="0"></label><span class="pl-from-v"></span>',
        f'<label>to <input type="range" class="pl-to" {rng} value="{seconds:.2f}"></label><span class="pl-to-v"></span>',
        '<span class="pl-now"></span></div>',
        '<table class="pl-mushra-grid"><thead><tr><th>play</th>'
        f'<th><div class="pl-scale">{scale}</div></th><th>score</th></tr></thead><tbody></tbody></table>',
        '<div class="pl-controls"><span class="pl-progress"></span>',
        '<button type="button" class="pl-export-json">export results (JSON)</button>',
        '<button type="button" class="pl-export-csv">export results (CSV)</button></div>',
        f'<div class="pl-sources" hidden>{"".join(audio)}</div></div>'])


def masking_widget_html(grid: Any, name: str = "masking") -> str:
    """Chapter 2's tone-and-noise widget for the static site (``book/static/site/masking.js``, no kernel).

    The page synthesises a sine tone and a noise (one critical band around the
    tone, or white) with Web Audio, on the chapter's ``"iso"`` scale, and
    draws the tone's threshold from ``grid``, a
    :class:`percloss.experiments.masking_demo.ToneThresholdGrid`, interpolated
    as :func:`~percloss.experiments.masking_demo.interpolate_threshold` does.
    The controls have the notebook widget's ranges.
    """
    import html as _html
    import json

    from .masking import ISO_FULL_SCALE_SINE_DB, POWER_NORM_DB

    data = dict(grid.page_data(), power_norm_db=POWER_NORM_DB)
    esc = _html.escape
    return "".join([
        f'<div class="pl-listen pl-masking" data-pl-masking data-name="{esc(name)}" '
        f'data-grid="{esc(json.dumps(data, separators=(",", ":")))}">',
        '<div class="pl-controls">',
        '<label>tone <input type="range" class="pl-freq" min="2" max="4.2" step="0.01" value="3"></label>',
        '<label>tone level <input type="range" class="pl-level" min="20" max="82" step="1" value="70"></label>',
        '<label>noise level <input type="range" class="pl-noise" min="0" max="90" step="1" value="30"></label>',
        '<label>noise <select class="pl-noise-kind"><option value="band" selected>one critical band at the tone'
        '</option><option value="white">white</option></select></label>',
        '<label><input type="checkbox" class="pl-tone-on" checked> tone on</label>',
        '<button type="button" class="pl-play">play</button><button type="button" class="pl-stop">stop</button>',
        '</div><div class="pl-readout"><span class="pl-values"></span><br><strong class="pl-verdict"></strong> '
        '<span class="pl-clip"></span></div>',
        '<svg class="pl-plot" viewBox="0 0 520 220" width="520" height="220" role="img" '
        'aria-label="threshold of the tone, noise level and threshold in quiet, dB SPL over frequency"></svg>',
        '<div class="pl-legend"><span class="pl-key-thr">threshold of the tone (model 1)</span> '
        '<span class="pl-key-noise">noise level per line</span> <span class="pl-key-tone">tone</span> '
        '<span class="pl-key-quiet">threshold in quiet</span></div>',
        f'<p class="pl-calibration">Levels in dB SPL on the standard\'s scale (calibration <code>"iso"</code>, as in '
        f'this chapter): a full-scale sine reads {ISO_FULL_SCALE_SINE_DB:.2f} dB SPL, and the noise level is per line '
        f'of a {grid.n_fft}-point FFT at {grid.sample_rate / 1000:g} kHz. They are sound pressure levels only if '
        'your playback makes a full-scale sine that loud: the calibration is an assumption about the playback '
        'level. Start with the volume low.</p></div>'])


def listening_panel(show: Callable[..., None], controls: dict[str, Any]) -> Any:
    """Controls above an output area; ``show(**values)`` runs into the area whenever a control changes.

    Unlike ``ipywidgets.interactive_output``, nothing runs when the panel is
    created: executing a cell that captures output into an ``Output`` widget
    intermittently stalls headless notebook execution (the book build), and a
    static page cannot run the callback anyway. In Jupyter, move a control.
    """
    from ._optional import needs

    with needs("book", "The notebook's control panels (ipywidgets)"):
        import ipywidgets as widgets

    out = widgets.Output()

    def update(_change: object = None) -> None:
        out.clear_output(wait=True)
        with out:
            show(**{name: control.value for name, control in controls.items()})

    for control in controls.values():
        control.observe(update, names="value")
    hint = widgets.HTML("<i>Rerun this notebook in Jupyter and move a control to listen.</i>")
    return widgets.VBox([widgets.HBox(list(controls.values())), hint, out])


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def rerun_note(chapter: str, seconds: float, mode: str, device: str) -> str:
    """Markdown closing a chapter: how to run it yourself, and how long this page took to execute.

    Args:
        chapter: the chapter's source, relative to the repository root (``notebooks/ch01_....py``).
        seconds: wall time of this execution of the chapter.
        mode: the mode it ran in; device: where (e.g. ``"cpu (2 threads)"``).
    """
    stem = chapter.rsplit("/", 1)[-1].removesuffix(".py")
    nb, py = f"{stem}.ipynb", f"{stem}.py"
    return (
        f'**Run it yourself.** Download this chapter as a notebook, <a href="{nb}" download>{nb}</a> '
        f'(unexecuted), or as its source, <a href="{py}" download>{py}</a> (a jupytext percent script). '
        "From a clone of the repository:\n\n"
        "```bash\n"
        "make venv                                   # the environment the book builds with\n"
        f".venv/bin/jupytext --to ipynb {chapter}   # the paired notebook\n"
        f"PERCLOSS_MODE=quick .venv/bin/jupyter execute --inplace {chapter.removesuffix('.py')}.ipynb\n"
        "PERCLOSS_MODE=standard make book            # every chapter, into _build/html\n"
        "```\n\n"
        "Run the notebook in JupyterLab (`.venv/bin/pip install jupyterlab`) for the live widgets. "
        "`quick` checks the pipeline in minutes with tiny settings; `standard` gives this book's results; "
        "`full` follows the sources' schedules (hours on a CPU; a GPU is used when present). "
        f"This page ran in mode `{mode}` on {device} in **{_duration(seconds)}** (its execution time in this "
        "build; `book/status.md` lists every chapter's)."
    )


_VERDICT_CLASS = (("not tested here", "pl-untested"), ("not reproduced", "pl-not"), ("mixed", "pl-mixed"),
                  ("reproduced", "pl-yes"))


def claims_html(claims: Any, csv_path: str | None = None) -> str:
    """A claims table (a sequence of :class:`percloss.experiments.claims.Claim`) as HTML.

    The rows carry ``data-verdict`` (reproduced / not reproduced / not tested
    here) so that the page can be checked against the CSV; with ``csv_path``
    the table is also written there (:func:`percloss.experiments.claims.write_claims`).
    """
    import html as _html

    from .experiments.claims import COLUMNS, Claim, write_claims

    rows = list(claims)
    if not rows or not all(isinstance(c, Claim) for c in rows):
        raise ValueError("claims must be a non-empty sequence of Claim")
    if csv_path is not None:
        write_claims(rows, csv_path)
    heads = {"claim": "claim of the source", "where": "where", "source": "the source says",
             "measure": "measure and rule here", "measured": "this build", "verdict": "verdict"}
    body = []
    for c in rows:
        kind = next(cls for head, cls in _VERDICT_CLASS if c.verdict.startswith(head))
        cells = "".join(f"<td>{_html.escape(getattr(c, k))}</td>" for k in COLUMNS)
        body.append(f'<tr class="{kind}" data-verdict="{_html.escape(c.verdict)}">{cells}</tr>')
    return ('<table class="pl-claims"><thead><tr>' + "".join(f"<th>{heads[k]}</th>" for k in COLUMNS)
            + "</tr></thead><tbody>" + "".join(body) + "</tbody></table>")
