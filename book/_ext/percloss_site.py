"""Sphinx extension for the percloss book: the listening, MUSHRA and masking panels' scripts, chapter downloads, no remote scripts.

sphinx-thebe (a default extension of jupyter-book 1.x) registers its
configuration script twice, which raises a JavaScript error on every page, and
it points at a CDN. The book does not use thebe, so its scripts are dropped.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def _is_thebe(script: Any) -> bool:
    filename = str(getattr(script, "filename", script) or "")
    body = str(getattr(script, "attributes", {}).get("body", ""))
    return "thebe" in filename or "THEBE_JS_URL" in body


def _drop_thebe(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    scripts = context.get("script_files")
    if scripts:
        context["script_files"] = [s for s in scripts if not _is_thebe(s)]


def _chapter_downloads(app: Sphinx, exception: Exception | None) -> None:
    """Put each chapter next to its page as a notebook to run (``.ipynb``, unexecuted, from the jupytext
    source) and as that source (``.py``), for the links each chapter ends with."""
    if exception is not None or app.builder.format != "html":
        return
    import shutil
    from pathlib import Path

    import jupytext

    source, out = Path(app.srcdir) / "notebooks", Path(app.outdir) / "notebooks"
    for chapter in sorted(source.glob("ch*.py")):
        out.mkdir(parents=True, exist_ok=True)
        jupytext.write(jupytext.read(chapter), out / f"{chapter.stem}.ipynb")
        shutil.copyfile(chapter, out / chapter.name)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("build-finished", _chapter_downloads)
    app.connect("html-page-context", _drop_thebe, priority=900)
    # the kernel-free listening panels (percloss.notebook.listening_panel_html)
    app.add_js_file("site/listening.js")
    app.add_js_file("site/mushra.js")  # after listening.js, whose switching it uses
    app.add_js_file("site/masking.js")
    app.add_css_file("site/listening.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
