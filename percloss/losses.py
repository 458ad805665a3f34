"""Losses with ``forward(input, target)``: MSE, multi-resolution STFT, and the
Bark-filterbank perceptual loss of Vinyard (2018).

Every loss takes ``(..., time)`` tensors of equal shape and dtype and a
``reduction`` of ``"none"``, ``"mean"`` or ``"sum"`` as in torch; with
``"none"`` it returns one value per signal, shape ``(...)``.

Notebook: ``notebooks/ch01_deep_audio_prior.py``.
"""

from __future__ import annotations

import torch
from torch import nn

from ._checks import check_choice, check_positive, check_same_shape, check_signal
from .filterbank import FilterBank, apply_filterbank
from .weighting import a_weighting_band_weights

__all__ = [
    "perceptual_features",
    "cosine_distance",
    "MSELoss",
    "PerceptualLoss",
    "MultiResolutionSTFTLoss",
    "reduce",
]

REDUCTIONS = ("none", "mean", "sum")


def reduce(per_signal: torch.Tensor, reduction: str) -> torch.Tensor:
    """Apply a torch-style ``reduction`` to per-signal losses of shape ``(...)``."""
    if reduction == "mean":
        return per_signal.mean()
    if reduction == "sum":
        return per_signal.sum()
    return per_signal


def _check_pair(input: torch.Tensor, target: torch.Tensor, min_length: int = 1) -> None:
    check_signal(input, "input", min_length=min_length)
    check_signal(target, "target", min_length=min_length)
    check_same_shape(input, target, "input", "target")


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


class MSELoss(nn.Module):
    """Mean squared error per signal, the baseline (equal to ``torch.nn.MSELoss`` for ``"mean"``).

    Shape:
        ``(..., time), (..., time) -> ()`` or ``(...)`` with ``reduction="none"``.

    >>> MSELoss()(torch.zeros(2, 4), torch.ones(2, 4))
    tensor(1.)
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = check_choice(reduction, "reduction", REDUCTIONS)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_pair(input, target)
        return reduce((input - target).pow(2).mean(-1), self.reduction)


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

    Shape:
        ``(..., time), (..., time) -> ()`` or ``(...)`` with ``reduction="none"``.

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
    ) -> None:
        super().__init__()
        self.filterbank = FilterBank(sample_rate, n_bands, n_taps, f_min, f_max, scale)
        self.distance = check_choice(distance, "distance", ("cosine", "mse"))
        self.reduction = check_choice(reduction, "reduction", REDUCTIONS)
        self.log_factor = check_positive(log_factor, "log_factor")
        weights = (
            a_weighting_band_weights(self.filterbank.center_frequencies)
            if a_weighting
            else torch.ones(n_bands, dtype=torch.float64)
        )
        self.register_buffer("band_weights", weights.float())

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The (weighted) feature map, ``(..., time) -> (..., band, time)``."""
        check_signal(x, "x")
        y = self.filterbank(x)
        return torch.log1p(self.log_factor * torch.relu(y)) * self.band_weights.to(y.dtype).unsqueeze(-1)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_pair(input, target)
        fi = self.features(input).flatten(-2)
        ft = self.features(target).flatten(-2)
        if self.distance == "mse":
            return reduce((fi - ft).pow(2).mean(-1), self.reduction)
        return reduce(cosine_distance(fi, ft), self.reduction)


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


class MultiResolutionSTFTLoss(nn.Module):
    """Spectral convergence + log-magnitude L1 at several STFT resolutions.

    For each resolution, ``||S_t| - |S_i||_F / ||S_t||_F + mean|log|S_t| - log|S_i||``
    (Yamamoto et al. 2020, as in auraloss), averaged over resolutions.
    Magnitudes are floored at ``eps`` so silence gives finite values.

    The spectral-convergence denominator is ``max(||S_t||_F, sc_floor ||S_i||_F)``:
    the usual ``||S_t||_F`` unless the input is more than ``1 / sc_floor``
    times louder than the target (20 dB with the default), so the term is at
    most ``1 + 1 / sc_floor`` (11). Without the floor a silent (or nearly
    silent) target in a batch gives ``||S_i|| / (eps sqrt(bins))``, some 1e5
    to 1e7, and dominates the batch mean. A silent target against a non-silent
    input therefore costs about ``1 / sc_floor`` plus its log-magnitude term
    (bounded by ``log(max|S_i| / eps)``); identical inputs cost 0.

    Args:
        fft_sizes: FFT sizes. (Default: ``(512, 1024, 2048)``)
        hop_sizes: hops. (Default: ``(128, 256, 512)``)
        win_lengths: Hann window lengths. (Default: ``(512, 1024, 2048)``)
        eps: magnitude floor. (Default: ``1e-7``)
        reduction: ``"none"``, ``"mean"`` or ``"sum"``. (Default: ``"mean"``)
        sc_floor: relative floor of the spectral-convergence denominator,
            ``0`` for the unbounded original. (Default: ``0.1``)

    Shape:
        ``(..., time), (..., time) -> ()`` or ``(...)`` with ``reduction="none"``;
        ``time`` must be at least the largest FFT size.

    >>> loss = MultiResolutionSTFTLoss()
    >>> x = torch.sin(torch.arange(4096) * 0.1)
    >>> float(loss(x, x))
    0.0
    """

    def __init__(
        self,
        fft_sizes: tuple[int, ...] = (512, 1024, 2048),
        hop_sizes: tuple[int, ...] = (128, 256, 512),
        win_lengths: tuple[int, ...] = (512, 1024, 2048),
        eps: float = 1e-7,
        reduction: str = "mean",
        sc_floor: float = 0.1,
    ) -> None:
        super().__init__()
        if not (len(fft_sizes) == len(hop_sizes) == len(win_lengths) >= 1):
            raise ValueError("fft_sizes, hop_sizes and win_lengths must be non-empty and of equal length")
        for n, h, w in zip(fft_sizes, hop_sizes, win_lengths, strict=True):
            if not (0 < h <= w <= n):
                raise ValueError(f"need 0 < hop <= win_length <= fft_size, got {h}, {w}, {n}")
        self.resolutions = list(zip(fft_sizes, hop_sizes, win_lengths, strict=True))
        self.eps = check_positive(eps, "eps")
        self.reduction = check_choice(reduction, "reduction", REDUCTIONS)
        self.sc_floor = check_positive(sc_floor, "sc_floor", allow_zero=True)
        for i, (_, _, w) in enumerate(self.resolutions):
            self.register_buffer(f"window{i}", torch.hann_window(w))

    def _magnitude(self, x: torch.Tensor, i: int) -> torch.Tensor:
        n, hop, w = self.resolutions[i]
        window = getattr(self, f"window{i}").to(x.dtype)
        spec = torch.stft(x, n, hop, w, window=window, return_complex=True)
        return spec.abs().clamp_min(self.eps)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        longest = max(n for n, _, _ in self.resolutions)
        _check_pair(input, target, min_length=longest)
        lead = input.shape[:-1]
        xi, xt = input.reshape(-1, input.shape[-1]), target.reshape(-1, target.shape[-1])
        total = torch.zeros(xi.shape[0], dtype=input.dtype, device=input.device)
        for i in range(len(self.resolutions)):
            mi, mt = self._magnitude(xi, i), self._magnitude(xt, i)
            denominator = torch.maximum(mt.flatten(1).norm(dim=-1), self.sc_floor * mi.flatten(1).norm(dim=-1))
            sc = (mt - mi).flatten(1).norm(dim=-1) / denominator
            log_l1 = (mt.log() - mi.log()).abs().flatten(1).mean(-1)
            total = total + sc + log_l1
        return reduce((total / len(self.resolutions)).reshape(lead), self.reduction)
