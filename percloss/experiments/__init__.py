"""The code each chapter runs: configurations, training loops and result records.

Chapters stay readable by calling these; the same code is importable and tested.
It needs the ``book`` extra (``pip install 'percloss[book]'``): pandas for its
tables, and the scorers, degradations, embeddings and codec of the other extras.
"""

from importlib.util import find_spec as _find_spec

from .._optional import MissingExtraError as _MissingExtraError

if _find_spec("pandas") is None:
    raise _MissingExtraError("percloss.experiments (the chapters' code) needs the 'book' extra: "
                             "pip install 'percloss[book]' (No module named 'pandas')", name="pandas")
