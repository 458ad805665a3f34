"""Intervals that resample the unit of independence: songs (clips, seeds), not cuts of one song.

:func:`cluster_bootstrap_mean` gives the mean of paired differences with a
percentile-bootstrap interval that draws whole clusters (the songs, each with
all its segments) with replacement: segments of one song are correlated, and
resampling them as if independent gives intervals far too narrow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["ClusterMean", "cluster_bootstrap_mean", "bootstrap_mean"]


@dataclass(frozen=True)
class ClusterMean:
    """A mean over clusters with its bootstrap interval.

    Attributes:
        mean: mean over clusters of each cluster's mean (every cluster weighs the same).
        low, high: percentile-bootstrap interval of ``mean`` at ``level``.
        clusters: number of clusters (e.g. songs); ``items``: number of values (e.g. segments).
        cluster_means: each cluster's mean, in the order of first appearance.
    """

    mean: float
    low: float
    high: float
    clusters: int
    items: int
    level: float
    cluster_means: tuple[float, ...]


def cluster_bootstrap_mean(values: Sequence[float] | np.ndarray, clusters: Sequence[object],
                           resamples: int = 4000, level: float = 0.95, seed: int = 0) -> ClusterMean:
    """Mean of per-cluster means of ``values`` and its cluster-bootstrap ``level`` interval.

    Each resample draws as many clusters as there are, with replacement, and
    averages their means; the interval is the percentiles of those averages.
    With one value per cluster this is the ordinary percentile bootstrap. With
    fewer than two clusters there is no interval: ``ValueError``.

    >>> r = cluster_bootstrap_mean([1.0, 1.2, 3.0, 3.2], ["s1", "s1", "s2", "s2"])
    >>> r.mean, r.clusters, r.items, r.cluster_means
    (2.1, 2, 4, (1.1, 3.1))

    Raises:
        ValueError: lengths differ, a value is not finite, fewer than two clusters, or ``level`` outside (0, 1).
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or len(x) != len(clusters):
        raise ValueError(f"values must be 1-D with one cluster label each, got {x.shape} and {len(clusters)} labels")
    if not np.isfinite(x).all():
        raise ValueError("values must be finite")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    order: dict[object, list[int]] = {}
    for i, c in enumerate(clusters):
        order.setdefault(c, []).append(i)
    if len(order) < 2:
        raise ValueError(f"an interval over clusters needs at least two clusters, got {len(order)}")
    means = np.array([x[idx].mean() for idx in order.values()])
    rng = np.random.default_rng(seed)
    draws = means[rng.integers(0, len(means), size=(resamples, len(means)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return ClusterMean(float(means.mean()), float(low), float(high), len(means), len(x), level,
                       tuple(round(float(m), 12) for m in means))


def bootstrap_mean(values: np.ndarray, resamples: int = 2000, level: float = 0.95, seed: int = 0
                   ) -> tuple[float, float, float]:
    """Mean of ``values`` (1-D, finite) and its percentile-bootstrap ``level`` interval over the values.

    Returns:
        ``(mean, low, high)``.

    Raises:
        ValueError: if ``values`` is empty or holds a non-finite value.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or len(values) == 0 or not np.isfinite(values).all():
        raise ValueError(f"values must be a non-empty 1-D array of finite numbers, got {values!r}")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(values.mean()), float(low), float(high)
