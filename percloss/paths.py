"""Where the project's stored results and caches live: the repository's folders, or the environment's.

- ``PERCLOSS_RUNS`` -- stored runs and evaluations (:func:`runs_dir`). Default:
  the repository's ``runs/`` when the package is imported from a source
  checkout that has one; otherwise unset is an error naming the variable.
- ``PERCLOSS_CACHE`` -- models trained and files coded by the chapters
  (:func:`cache_dir`). Default: the repository's ``_build/percloss_cache``,
  else ``~/.cache/percloss``.
- ``PERCLOSS_DATA`` and ``PERCLOSS_CORPUS`` -- the clips and the codec corpus
  (:func:`percloss.data.clips_dir`, :func:`percloss.data.codec_corpus_dir`):
  the repository's ``data/clips`` and ``data/codec`` by default, through
  :func:`checkout_folder`, which names the variable when there is no checkout.

An installed package (``pip install percloss``) has no checkout around it: the
codec models ship inside it (:func:`percloss.shipped.models_dir`), and every
other location is either set by its variable or refused with an error naming it,
never a folder of ``site-packages``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["repository_root", "checkout_folder", "runs_dir", "eval_dir", "prior_runs_dir", "cache_dir",
           "listening_dir", "heldout_eval_dir", "benchmark_results_dir", "golden_dir", "shown_path"]

#: The source checkout this package was imported from (holds ``runs/``), or ``None`` for an installed package.
_CHECKOUT = Path(__file__).resolve().parents[1]


def repository_root() -> Path | None:
    """The repository the package runs from (the folder above ``percloss/`` that holds ``runs/``), or ``None``."""
    return _CHECKOUT if (_CHECKOUT / "runs").is_dir() and (_CHECKOUT / "percloss").is_dir() else None


def checkout_folder(relative: str, variable: str, what: str) -> Path:
    """``$variable`` if set, else ``relative`` in the repository the package runs from.

    Raises:
        FileNotFoundError: naming ``variable`` and ``what`` should be in it, when it is unset and the package
            is not imported from a source checkout (an installed package: its folder holds no ``relative``).
    """
    env = os.environ.get(variable)
    if env:
        return Path(env)
    root = repository_root()
    if root is None:
        raise FileNotFoundError(f"{what} ship with the repository, not with the installed package ({_CHECKOUT} "
                                f"holds no {relative}/): set {variable} to the folder that holds them (the "
                                f"repository's {relative}/)")
    return root / relative


def runs_dir() -> Path:
    """The stored runs: ``$PERCLOSS_RUNS``, else the repository's ``runs/`` next to the package.

    Raises:
        FileNotFoundError: naming ``PERCLOSS_RUNS``, when it is unset and the
            package is not imported from a source checkout with a ``runs/`` folder.
    """
    env = os.environ.get("PERCLOSS_RUNS")
    if env:
        return Path(env)
    root = repository_root()
    if root is None:
        raise FileNotFoundError(f"no runs/ folder next to the package ({_CHECKOUT}); set PERCLOSS_RUNS to the "
                                "folder holding the stored runs (the repository's runs/)")
    return root / "runs"


def eval_dir() -> Path:
    """Stored evaluations of the shipped models (``python -m percloss eval-codec``): ``runs_dir()/codec/eval``."""
    return runs_dir() / "codec" / "eval"


def cache_dir() -> Path:
    """Where the codec chapter (``codec_evaluation.run_study``) trains and codes: ``$PERCLOSS_CACHE/codec``, else the repository's
    ``_build/percloss_cache/codec``, else ``~/.cache/percloss/codec``."""
    env = os.environ.get("PERCLOSS_CACHE")
    if env:
        return Path(env) / "codec"
    root = repository_root()
    base = root / "_build" / "percloss_cache" if root is not None else Path.home() / ".cache" / "percloss"
    return base / "codec"


def prior_runs_dir(mode: str) -> Path:
    """Chapter 1's stored deep-audio-prior runs of ``mode``: ``runs_dir()/prior/<mode>``."""
    return runs_dir() / "prior" / mode


def listening_dir() -> Path:
    """Listeners' exported MUSHRA and ABX results that the chapters pool: ``runs_dir()/listening``."""
    return runs_dir() / "listening"


def heldout_eval_dir() -> Path:
    """The held-out set's evaluation rows (``scripts/eval_heldout.py``): ``runs_dir()/codec/heldout``."""
    return runs_dir() / "codec" / "heldout"


def benchmark_results_dir() -> Path:
    """The benchmarks' result files the chapters quote: ``benchmarks/results`` of the checkout
    (``$PERCLOSS_BENCHMARKS`` if set)."""
    return checkout_folder("benchmarks/results", "PERCLOSS_BENCHMARKS", "the benchmark results")


def golden_dir() -> Path:
    """The golden reference outputs (ISO dist10's model 1) the tests and chapter 2 compare with:
    ``data/golden`` of the checkout (``$PERCLOSS_GOLDEN`` if set)."""
    return checkout_folder("data/golden", "PERCLOSS_GOLDEN", "the golden reference files")


def shown_path(path: Path) -> Path:
    """``path`` relative to the repository when inside it (for messages and pages), else as is."""
    root = repository_root()
    return path.relative_to(root) if root is not None and path.is_relative_to(root) else path
