"""The book builds strictly in quick mode, embeds its audio and loads no remote script."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT, build_book

pytestmark = pytest.mark.slow

REMOTE = re.compile(r"""<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*["'](?:https?:)?//""", re.I)


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part.get("chapters", [])]
    return files


def chapter_files() -> list[str]:
    return [f for f in toc_files() if f.startswith("notebooks/")]


def test_every_toc_page_is_built(quick_book: Path) -> None:
    for name in toc_files():
        assert (quick_book / f"{name}.html").is_file(), name


@pytest.mark.parametrize("chapter", chapter_files())
def test_chapter_embeds_audio_and_records_its_run(quick_book: Path, chapter: str) -> None:
    html = (quick_book / f"{chapter}.html").read_text()
    assert len(re.findall("data:audio/(?:flac|wav);base64,", html)) >= 2
    assert "Traceback" not in html
    # every chapter states the mode, device and seed that produced it
    for word in ("quick", "device", "seed"):
        assert word in html, word


def test_no_page_loads_a_remote_script_or_stylesheet(quick_book: Path) -> None:
    pages = list(quick_book.rglob("*.html"))
    assert len(pages) >= len(toc_files())
    for page in pages:
        found = REMOTE.findall(page.read_text())
        assert not found, f"{page.relative_to(quick_book)} loads {found}"


def test_widget_javascript_is_served_locally(quick_book: Path) -> None:
    vendor = quick_book / "_static" / "vendor"
    assert (vendor / "widgets" / "embed-amd.js").stat().st_size > 1_000_000
    assert (vendor / "requirejs" / "require.js").is_file()
    assert (vendor / "mathjax" / "tex-chtml.js").is_file()


FAILING_CHAPTER = """# %% [markdown]
# # A chapter with a failing cell

# %%
raise RuntimeError("this cell fails on purpose")
"""


def test_a_failing_cell_fails_the_build(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "notebooks").mkdir(parents=True)
    shutil.copy(ROOT / "_config.yml", src / "_config.yml")
    shutil.copytree(ROOT / "book", src / "book")
    (src / "notebooks" / "bad.py").write_text(FAILING_CHAPTER)
    (src / "_toc.yml").write_text("format: jb-book\nroot: notebooks/bad\n")
    proc = build_book(src, tmp_path / "out")
    assert proc.returncode != 0
    assert "this cell fails on purpose" in proc.stdout + proc.stderr


def _point_of(name: str, points: set[str]) -> str:
    """The CSV's point key of a name on the page: ``C64`` -> ``C64_32k_1m``, ``MP3 64 @32k`` -> ``MP364_32k``."""
    if " @" in name:
        system, rest = name.split(" ", 1)
        rate, sr = rest.split(" @")
        return f"{system}{rate}_{sr}"
    (key,) = [p for p in points if p.startswith(name + "_")]
    return key


def test_codec_page_states_the_numbers_of_its_own_results_table(quick_book: Path) -> None:
    """Generated prose is bound to the run: every paired line of chapter 4 matches the CSV the build wrote."""
    import pandas as pd

    html = (quick_book / "notebooks" / "ch04_codec.html").read_text()
    rows = pd.read_csv(ROOT / "notebooks" / "codec_results.csv")
    seg = rows[rows.split == "held-out segment"]
    assert f"Over the {seg.item.nunique()} held-out segments" in html
    text = re.sub(r"<[^>]+>", "", html)
    lines = re.findall(r"(\S+(?: \S+ @\d+k)?) − (\S+(?: \S+ @\d+k)?) \(([\d.]+) vs ([\d.]+) kbit/s\): "
                       r"NMR dB ([+-][\d.]+) \[", text)
    assert len(lines) >= 3
    points = set(seg.point)
    for a, b, rate_a, rate_b, nmr_diff in lines:
        pa, pb = (seg[seg.point == _point_of(n, points)].set_index("item") for n in (a, b))
        assert f"{pa.kbps.mean():.1f}" == rate_a and f"{pb.kbps.mean():.1f}" == rate_b, (a, b)
        assert f"{(pa.nmr_db - pb.nmr_db).dropna().mean():+.2f}" == nmr_diff, (a, b)


def test_each_chapter_downloads_as_a_notebook_and_as_its_source(quick_book: Path) -> None:
    import nbformat

    for chapter in chapter_files():
        page = (quick_book / f"{chapter}.html").read_text()
        stem = chapter.rsplit("/", 1)[-1]
        assert f'href="{stem}.ipynb" download' in page and f'href="{stem}.py" download' in page
        nb = nbformat.read(quick_book / f"{chapter}.ipynb", as_version=4)
        nbformat.validate(nb)
        source = (ROOT / f"{chapter}.py").read_text()
        assert sum(c.cell_type == "code" for c in nb.cells) == source.count("# %%") - source.count("# %% [markdown]")
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")  # unexecuted
        assert (quick_book / f"{chapter}.py").read_text() == source


def _text(html: str) -> str:
    import html as _html

    return _html.unescape(re.sub(r"<[^>]+>", "", html))


@pytest.mark.parametrize("chapter", chapter_files())
def test_claims_table_on_the_page_is_the_one_the_build_wrote(quick_book: Path, chapter: str) -> None:
    """Every chapter opens its results with a generated claims table; the page shows the CSV's rows."""
    import html as _html

    from percloss.experiments.claims import read_claims

    number = re.search(r"ch(\d\d)_", chapter).group(1)  # type: ignore[union-attr]
    claims = read_claims(ROOT / "notebooks" / f"claims_ch{number}.csv")
    html = (quick_book / f"{chapter}.html").read_text()
    table = re.search(r'<table class="pl-claims">.*?</table>', html, re.S)
    assert table, "no claims table on the page"
    shown = [_html.unescape(v) for v in re.findall(r'data-verdict="([^"]*)"', table.group(0))]
    assert shown == [c.verdict for c in claims]
    text = _text(table.group(0))
    for c in claims:
        assert c.claim in text and c.measured in text


def test_prior_page_states_the_numbers_of_its_measures(quick_book: Path) -> None:
    """Chapter 1's generated lines ('`perceptual` better on k/n clips (margins a to b dB)') match its CSV."""
    import pandas as pd

    from percloss.experiments.prior_measures import CLAIMS, checkpoint_index

    records = pd.read_csv(ROOT / "notebooks" / "prior_results.csv")
    text = _text((quick_book / "notebooks" / "ch01_deep_audio_prior.html").read_text())
    checked = 0
    for claim, (key, index, sign) in CLAIMS.items():
        line = re.search(re.escape(claim) + r": ((?:\w+ better on \d+/\d+ clips \(margins [^)]*\)(?:; )?)+)", text)
        assert line, claim
        digits, unit = (2, "") if key == "estoi" else (1, " dB")
        for loss, k, n, lo, hi in re.findall(r"(\w+) better on (\d+)/(\d+) clips \(margins ([+-][\d.]+) to "
                                             r"([+-][\d.]+)" + re.escape(unit) + r"\)", line.group(1)):
            checkpoints = sorted(records.iteration.unique())
            iteration = checkpoints[checkpoint_index(index, checkpoints)]
            at = records[records.iteration == iteration].set_index(["clip", "loss"])[key].round(2)  # as tabled
            margin = sign * (at.xs(loss, level="loss") - at.xs("mse", level="loss"))
            assert (int(k), int(n)) == (int((margin > 0).sum()), len(margin)), (claim, loss)
            assert (lo, hi) == (f"{margin.min():+.{digits}f}", f"{margin.max():+.{digits}f}"), (claim, loss)
            checked += 1
    assert checked >= len(CLAIMS) * 2


def test_masking_page_states_the_numbers_of_its_results(quick_book: Path) -> None:
    """Chapter 2's generated sentences (NMR ranges, the judges' scores) match the CSV its build wrote."""
    import pandas as pd

    rows = pd.read_csv(ROOT / "notebooks" / "masking_results.csv").set_index(["clip", "noise"])
    text = _text((quick_book / "notebooks" / "ch02_masking.html").read_text())
    shaped, white = rows.xs("shaped", level="noise"), rows.xs("white", level="noise")
    assert ("the white noise is audible in" in text
            and f"with a mean NMR of {white['NMR (dB)'].min():.1f} to {white['NMR (dB)'].max():.1f} dB" in text)
    assert f"the shaped noise has a mean NMR of {shaped['NMR (dB)'].min():.1f} to {shaped['NMR (dB)'].max():.1f}" in text
    for clip in shaped.index:
        assert (f"{clip}: ViSQOL {shaped.ViSQOL[clip]:.2f} vs {white.ViSQOL[clip]:.2f}, "
                f"CDPAM {shaped.CDPAM[clip]:.3f} vs {white.CDPAM[clip]:.3f}") in text


def test_metrics_page_states_the_numbers_of_its_table(quick_book: Path) -> None:
    """Chapter 3's generated correlations and counts are those of the all_metrics.csv its build wrote."""
    import pandas as pd

    from percloss.experiments import quality_study as qs

    table = pd.read_csv(ROOT / "notebooks" / "all_metrics.csv")
    text = _text((quick_book / "notebooks" / "ch03_quality_metrics.html").read_text())
    assert f"Scored {len(table)} pairs in" in text
    for other, name in (("estoi", "ESTOI"), ("visqol", "ViSQOL")):
        r = qs.correlations(table, "pesq", other)
        assert (f"PESQ vs {name}: Pearson {r['pearson']:.3f} [{r['pearson_lo']:.2f}, {r['pearson_hi']:.2f}], "
                f"Spearman {r['spearman']:.3f}.") in text
