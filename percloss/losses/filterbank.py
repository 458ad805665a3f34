"""Time-domain and Bark-filterbank losses: MSE and the perceptual loss of Vinyard (2018).

Functional forms :func:`mse_loss` and :func:`perceptual_loss`; modules
:class:`MSELoss` and :class:`PerceptualLoss` (the latter holds its filterbank
and band weights as buffers, so repeated calls design nothing).

Notebook: ``notebooks/ch01_deep_audio_prior.py``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .._checks import check_choice, check_integer, check_positive, check_signal
from ..filterbank import FilterBank, apply_filterbank
from ..weighting import a_weighting_band_weights
from ._chunked import Window, sample_windows, window_sums
from ._contract import check_pair, check_reduction, reduce

__all__ = [
    "perceptual_features",
    "cosine_distance",
    "mse_loss",
    "perceptual_loss",
    "MSELoss",
    "PerceptualLoss",
]

DISTANCES = ("cosine", "mse")
# Working memory of the whole-signal computation per band and sample of one signal, forward + backward of
# float32 input and target (benchmarks/bench_memory.py measured 867 MB per second of 44.1 kHz audio with
# 512 bands: 38 bytes; 40 leaves a margin). Above CHUNK_BYTES the loss runs over windows of time.
BYTES_PER_BAND_SAMPLE = 40
CHUNK_BYTES = 256 * 2**20


def perceptual_features(
    x: torch.Tensor,
    filters: torch.Tensor,
    band_weights: torch.Tensor | None = None,
    log_factor: float = 10.0,
    spectrum: torch.Tensor | None = None,
) -> torch.Tensor:
    """Filterbank -> half-wave rectification -> ``log(1 + log_factor * y)`` -> band weights.

    The feature map of Vinyard's perceptual loss (zounds ``PerceptualLoss``).

    Args:
        x: signals.
        filters: FIR taps, ``(band, taps)``, same dtype/device as ``x``.
        band_weights: optional per-band multipliers, ``(band,)``. (Default: ``None``)
        log_factor: compression factor inside the log. (Default: 10)
        spectrum: optional cached filter spectrum (see :class:`~percloss.filterbank.FilterBank`).

    Shape:
        ``(..., time) -> (..., band, time)``

    >>> h = torch.tensor([[1.0]])
    >>> perceptual_features(torch.tensor([-1.0, 0.0, 0.9]), h)
    tensor([[0.0000, 0.0000, 2.3026]])
    """
    y = apply_filterbank(x, filters, "auto", spectrum)
    features = torch.log1p(log_factor * torch.relu(y))
    if band_weights is not None:
        features = features * band_weights.unsqueeze(-1)
    return features


def mse_loss(input: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean squared error per signal (equal to ``torch.nn.functional.mse_loss`` for ``"mean"``).

    Shape:
        ``(..., time), (..., time) -> ()`` or ``(...)`` with ``reduction="none"``.

    >>> mse_loss(torch.zeros(2, 4), torch.ones(2, 4), reduction="none")
    tensor([1., 1.])
    """
    reduction = check_reduction(reduction)
    check_pair(input, target)
    return reduce((input - target).pow(2).mean(-1), reduction)


class MSELoss(nn.Module):
    """Mean squared error per signal, the baseline (equal to ``torch.nn.MSELoss`` for ``"mean"``).

    Args:
        reduction: ``"none"``, ``"mean"`` or ``"sum"``. (Default: ``"mean"``)

    Shape:
        ``(..., time), (..., time) -> ()`` or ``(...)`` with ``reduction="none"``.

    Memory: the difference and its square, two values per sample (8 bytes in float32).

    >>> MSELoss()(torch.zeros(2, 4), torch.ones(2, 4))
    tensor(1.)
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = check_reduction(reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_pair(input, target)
        return self.forward_unchecked(input, target)

    def forward_unchecked(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` on a pair the caller validated (:func:`~percloss.losses.check_pair`)."""
        return reduce((input - target).pow(2).mean(-1), self.reduction)


def _features(x: torch.Tensor, filterbank: FilterBank, band_weights: torch.Tensor, log_factor: float) -> torch.Tensor:
    y = filterbank.apply_unchecked(x)
    return torch.log1p(log_factor * torch.relu(y)) * band_weights.to(y.dtype).unsqueeze(-1)


def _perceptual(input: torch.Tensor, target: torch.Tensor, filterbank: FilterBank, band_weights: torch.Tensor,
                log_factor: float, distance: str, reduction: str, chunk_size: int | None = None) -> torch.Tensor:
    """The loss on a validated pair (no checks); over windows of time when the whole maps would be large."""
    time, bands = input.shape[-1], filterbank.filters.shape[0]
    n_signals = max(1, input.numel() // max(time, 1))
    if chunk_size is None:
        size = BYTES_PER_BAND_SAMPLE * input.element_size() // 4 * bands * n_signals
        if size * time <= CHUNK_BYTES:
            fi = _features(input, filterbank, band_weights, log_factor).flatten(-2)
            ft = _features(target, filterbank, band_weights, log_factor).flatten(-2)
            if distance == "mse":
                return reduce((fi - ft).pow(2).mean(-1), reduction)
            return reduce(cosine_distance(fi, ft), reduction)
        chunk_size = max(4 * filterbank.filters.shape[-1], CHUNK_BYTES // size)
    return reduce(_perceptual_chunked(input, target, filterbank, band_weights, log_factor, distance, chunk_size),
                  reduction)


def _perceptual_chunked(input: torch.Tensor, target: torch.Tensor, filterbank: FilterBank,
                        band_weights: torch.Tensor, log_factor: float, distance: str, chunk: int) -> torch.Tensor:
    """Per-signal loss from sums over windows of ``chunk`` samples (``percloss.losses._chunked``): the
    features are local to the filters' length, so each window is filtered with that much context."""
    lead, time = input.shape[:-1], input.shape[-1]
    a, b = input.reshape(-1, time), target.reshape(-1, time)

    def stat(w: Window, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        fa = _features(x, filterbank, band_weights, log_factor)[..., w.keep_start : w.keep_stop].flatten(1)
        fb = _features(y, filterbank, band_weights, log_factor)[..., w.keep_start : w.keep_stop].flatten(1)
        fa, fb = fa.double(), fb.double()
        return torch.stack([fa.pow(2).sum(-1), fb.pow(2).sum(-1), (fa - fb).pow(2).sum(-1)], -1)

    sums = window_sums(stat, sample_windows(time, chunk, filterbank.filters.shape[-1]), a, b)
    if distance == "mse":
        per_signal = sums[:, 2] / (time * filterbank.filters.shape[0])
    else:
        per_signal = _cosine_from_sums(sums[:, 0], sums[:, 1], sums[:, 2])
    return per_signal.to(input.dtype).reshape(lead)


def _cosine_from_sums(aa: torch.Tensor, bb: torch.Tensor, dd: torch.Tensor) -> torch.Tensor:
    """``1 - cos(a, b)`` from ``||a||^2``, ``||b||^2`` and ``||a - b||^2`` (float64), as
    ``(||a - b||^2 - (||a|| - ||b||)^2) / (2 ||a|| ||b||)``: no cancellation of ``1 - cos`` itself.
    Zero vectors as in :func:`cosine_distance`."""
    both = (aa > 0) & (bb > 0)
    one = torch.ones_like(aa)
    na, nb = torch.where(both, aa, one).sqrt(), torch.where(both, bb, one).sqrt()
    distance = ((dd - (na - nb).pow(2)) / (2 * na * nb)).clamp(0.0, 2.0)
    neither = (aa == 0) & (bb == 0)
    return torch.where(both, distance, torch.where(neither, torch.zeros_like(aa), one))


def _band_weights(filterbank: FilterBank, a_weighting: object) -> torch.Tensor:
    if not isinstance(a_weighting, (bool, np.bool_)):
        raise ValueError(f"a_weighting must be True or False, got {a_weighting!r}")
    n_bands = filterbank.filters.shape[0]
    weights = (
        a_weighting_band_weights(filterbank.center_frequencies)
        if a_weighting
        else torch.ones(n_bands, dtype=torch.float64)
    )
    return weights.float()


def perceptual_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    sample_rate: int,
    n_bands: int = 512,
    n_taps: int = 512,
    f_min: float = 1.0,
    f_max: float | None = None,
    scale: str = "bark",
    a_weighting: bool = False,
    distance: str = "cosine",
    log_factor: float = 10.0,
    reduction: str = "mean",
    chunk_size: int | None = None,
) -> torch.Tensor:
    """Functional :class:`PerceptualLoss` (arguments as there); designs the filterbank on every call.

    Shape:
        ``(..., time), (..., time) -> ()`` or ``(...)`` with ``reduction="none"``.

    >>> x = torch.sin(torch.arange(2048) * 0.2)
    >>> float(perceptual_loss(x, x, 11025, n_bands=32, n_taps=64))
    0.0
    """
    distance = check_choice(distance, "distance", DISTANCES)
    reduction = check_reduction(reduction)
    log_factor = check_positive(log_factor, "log_factor")
    chunk_size = _check_chunk_size(chunk_size)
    filterbank = FilterBank(sample_rate, n_bands, n_taps, f_min, f_max, scale)
    check_pair(input, target)
    filterbank = filterbank.to(device=input.device, dtype=input.dtype)
    weights = _band_weights(filterbank, a_weighting).to(input.device)
    return _perceptual(input, target, filterbank, weights, log_factor, distance, reduction, chunk_size)


def _check_chunk_size(chunk_size: object) -> int | None:
    return None if chunk_size is None else check_integer(chunk_size, "chunk_size", lo=1)


class PerceptualLoss(nn.Module):
    """The Bark-filterbank perceptual loss of Vinyard (2018), zounds ``PerceptualLoss``.

    Both signals go through :func:`perceptual_features` (``n_bands`` Gaussian
    FIR bands on ``scale``, ReLU, ``log(1 + 10 y)``, optional A-weighting of the
    bands). ``distance="cosine"`` returns ``1 - cos`` of the two feature maps,
    each flattened over bands and time per signal (zounds returns ``-cos``; the
    offset makes identical inputs cost 0 and changes no gradient), computed
    by :func:`cosine_distance`: accurate in float32 even for tiny errors,
    exactly 0 for identical inputs at any level, 0 for two silent inputs and
    1 when exactly one of the two is silent.
    ``distance="mse"`` returns the mean squared feature difference. zounds
    filters with stride ``lap`` and zero padding of one filter length on each
    side; here the stride is 1 and the output keeps the input's length.
    Functional form: :func:`perceptual_loss`.

    Args:
        sample_rate: sample rate in Hz.
        n_bands: number of bands. (Default: 512)
        n_taps: filter length. (Default: 512)
        f_min: lowest centre frequency in Hz. (Default: 1.0)
        f_max: highest centre frequency in Hz. (Default: Nyquist)
        scale: ``"bark"``, ``"mel"`` or ``"erb"``. (Default: ``"bark"``)
        a_weighting: weight bands as zounds' ``AWeighting``
            (:func:`~percloss.weighting.a_weighting_band_weights`). (Default: ``False``)
        distance: ``"cosine"`` or ``"mse"``. (Default: ``"cosine"``)
        log_factor: compression factor. (Default: 10)
        reduction: ``"none"``, ``"mean"`` or ``"sum"``. (Default: ``"mean"``)
        chunk_size: samples per window of the windowed computation (below). (Default: ``None``,
            whole signals while their maps take at most 256 MB, else windows that size)

    Shape:
        ``(..., time), (..., time) -> ()`` or ``(...)`` with ``reduction="none"``.

    Memory: computed on whole signals, the feature maps of both signals and
    their autograd buffers take about 40 bytes per band and sample (867 MB per
    second of 44.1 kHz audio at 512 bands). Longer inputs run over windows of
    time (the features are local to ``n_taps``), summing the cosine's norms and
    difference in float64 and recomputing each window in backward: peak memory
    stays near 256 MB at any length (``benchmarks/results/memory.md``) for
    about 1.5 times the compute; value and gradient agree with the whole-signal
    computation to rounding.

    >>> loss = PerceptualLoss(11025, n_bands=32, n_taps=64)
    >>> x = torch.sin(torch.arange(2048) * 0.2)
    >>> float(loss(x, x))
    0.0
    """

    band_weights: torch.Tensor

    def __init__(
        self,
        sample_rate: int,
        n_bands: int = 512,
        n_taps: int = 512,
        f_min: float = 1.0,
        f_max: float | None = None,
        scale: str = "bark",
        a_weighting: bool = False,
        distance: str = "cosine",
        log_factor: float = 10.0,
        reduction: str = "mean",
        chunk_size: int | None = None,
    ) -> None:
        super().__init__()
        self.filterbank = FilterBank(sample_rate, n_bands, n_taps, f_min, f_max, scale)
        self.chunk_size = _check_chunk_size(chunk_size)
        self.distance = check_choice(distance, "distance", DISTANCES)
        self.reduction = check_reduction(reduction)
        self.log_factor = check_positive(log_factor, "log_factor")
        self.register_buffer("band_weights", _band_weights(self.filterbank, a_weighting))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The (weighted) feature map.

        Shape:
            ``(..., time) -> (..., band, time)``
        """
        check_signal(x, "x")
        return _features(x, self.filterbank, self.band_weights, self.log_factor)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_pair(input, target)
        return self.forward_unchecked(input, target)

    def forward_unchecked(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` on a pair the caller validated (:func:`~percloss.losses.check_pair`)."""
        return _perceptual(input, target, self.filterbank, self.band_weights, self.log_factor, self.distance,
                           self.reduction, self.chunk_size)


def _unit(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``x / ||x||`` along the last axis and a mask of all-zero rows (whose unit vector is 0).

    ``x`` is first divided by its largest magnitude (detached: the result does
    not depend on it), so the norm neither underflows for quiet signals nor
    overflows for loud ones.
    """
    peak = x.detach().abs().amax(-1, keepdim=True)
    zero = peak == 0
    scaled = x / torch.where(zero, torch.ones_like(peak), peak)
    norm = torch.linalg.vector_norm(scaled, dim=-1, keepdim=True)  # in [1, sqrt(n)] unless zero
    return scaled / torch.where(zero, torch.ones_like(norm), norm), zero.squeeze(-1)


def cosine_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``1 - cos(a, b)`` along the last axis, accurate when the two are nearly parallel.

    Computed as ``||a/||a|| - b/||b|| ||^2 / 2`` (equal to ``1 - cos`` in exact
    arithmetic): the difference of the unit vectors is formed element by
    element, so the result keeps its relative accuracy when ``1 - cos`` is far
    below the rounding error of the norms (``1 - dot / (||a|| ||b||)`` in
    float32 gives 0 there). Any scale works, from ``1e-30`` to ``1e30``.
    Zero vectors: ``cos(0, 0) := 1`` (distance 0) and ``cos(0, b) := 0``
    (distance 1) for ``b != 0``. The result lies in ``[0, 2]``.

    Shape:
        ``(..., n), (..., n) -> (...)``

    >>> cosine_distance(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0]))
    tensor(1.)
    >>> cosine_distance(torch.zeros(3), torch.zeros(3))
    tensor(0.)
    """
    ua, zero_a = _unit(a)
    ub, zero_b = _unit(b)
    distance = (ua - ub).pow(2).sum(-1) / 2
    # exactly one of the two is zero: its unit vector is 0, the sum above is 1/2
    one_zero = zero_a ^ zero_b
    return torch.where(one_zero, torch.ones_like(distance), distance)
