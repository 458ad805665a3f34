"""Optional dependencies: each package outside the core install belongs to an extra, and a missing one
raises an :class:`ImportError` that names the extra to install.

``pip install percloss`` brings torch, numpy, scipy and soundfile: every loss of
:mod:`percloss.losses`, model 1 (:mod:`percloss.masking`), :mod:`percloss.metrics`,
the filterbanks and the CLI's ``threshold`` and ``nmr``. The rest is imported
where it is used, inside :func:`needs`::

    with needs("metrics", "PESQ"):
        from pesq import pesq

so that ``import percloss.scorers`` works without PESQ and calling
:func:`percloss.scorers.pesq_wb` says ``PESQ needs the 'metrics' extra: pip
install 'percloss[metrics]'``. :data:`EXTRAS` lists which packages each extra
brings (``pyproject.toml`` is the source; a test checks that both agree).
Progress bars (:func:`tqdm`) are drawn when tqdm is installed (the ``codec``
extra brings it) and simply left out when it is not.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any, TypeVar

__all__ = ["EXTRAS", "MissingExtraError", "needs", "require", "tqdm"]

T = TypeVar("T")

#: The import names each extra brings (beside the core: torch, numpy, scipy, soundfile).
EXTRAS: dict[str, tuple[str, ...]] = {
    # PESQ, ESTOI, DNSMOS (speechmos: ONNX models run by onnxruntime, features by librosa), ViSQOL;
    # soxr resamples for ViSQOL
    "metrics": ("pesq", "pystoi", "speechmos", "onnxruntime", "librosa", "visqol", "soxr"),
    # the range coder of the neural codec, resampling and progress of encode/decode and training,
    # the MP3 anchor (LAME); the Opus anchor runs through soundfile (libsndfile), a core dependency
    "codec": ("constriction", "soxr", "tqdm", "lameenc"),
    # percloss.degrade: simulated room reverberation, MP3 through LAME
    "degrade": ("pyroomacoustics", "lameenc", "soxr"),
    # percloss.embeddings: OpenL3's official Keras weights (.h5)
    "embeddings": ("h5py",),
    # percloss.cdpam: the pretrained CDPAM network and weights
    "cdpam": ("cdpam", "resampy", "librosa"),
}


class MissingExtraError(ImportError):
    """An optional package is missing; the message names the extra that brings it."""


def _message(extra: str | tuple[str, ...], what: str, err: ImportError) -> str:
    extras = (extra,) if isinstance(extra, str) else tuple(extra)
    installs = " or ".join(f"pip install 'percloss[{e}]'" for e in extras)
    named = " or the ".join(repr(e) for e in extras)
    return f"{what} needs the {named} extra{'s' if len(extras) > 1 else ''}: {installs} ({err})"


@contextmanager
def needs(extra: str | tuple[str, ...], what: str) -> Iterator[None]:
    """Imports inside the block that fail raise :class:`MissingExtraError` naming ``extra``.

    ``what`` is the feature that needs them, as the user knows it ("PESQ",
    "the codec's range coder"). ``extra`` may be a tuple when several extras
    bring the package (the message names each).

    >>> import sys
    >>> with needs("metrics", "PESQ"):
    ...     import math  # present: nothing happens
    >>> try:
    ...     with needs("metrics", "PESQ"):
    ...         import percloss_no_such_package  # noqa: F401
    ... except ImportError as err:
    ...     print(str(err).split(" (")[0])
    PESQ needs the 'metrics' extra: pip install 'percloss[metrics]'
    """
    try:
        yield
    except MissingExtraError:
        raise
    except ImportError as err:
        raise MissingExtraError(_message(extra, what, err), name=err.name) from err


def require(module: str, extra: str | tuple[str, ...], what: str | None = None) -> ModuleType:
    """Import ``module``, or raise :class:`MissingExtraError` naming ``extra``."""
    with needs(extra, what or module):
        return importlib.import_module(module)


def tqdm(iterable: Iterable[T], *, disable: bool = False, **kwargs: Any) -> Iterable[T]:
    """``tqdm.auto.tqdm(iterable, disable=disable, **kwargs)`` when tqdm is installed, else ``iterable``
    itself: a progress bar is a convenience, so nothing fails without tqdm.

    >>> list(tqdm(range(3), disable=True))
    [0, 1, 2]
    """
    if disable:
        return iterable
    try:
        from tqdm.auto import tqdm as bar
    except ImportError:
        return iterable
    return bar(iterable, disable=disable, **kwargs)
