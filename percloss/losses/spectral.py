"""Spectral losses: multi-resolution STFT, log-mel L1 and the mel-weighted log-spectral loss.

Functional forms :func:`multi_resolution_stft_loss`, :func:`mel_loss` and
:func:`mel_weighted_loss`; modules :class:`MultiResolutionSTFTLoss`,
:class:`MelLoss` and :class:`MelWeightedLoss` hold their windows, mel
matrices and line weights as buffers.

Notebooks: ``notebooks/ch01_deep_audio_prior.py``, ``notebooks/ch04_codec.py``.
"""

from __future__ import annotations

import torch
from torch import nn

from .._checks import check_integer, check_positive, check_sample_rate
from ..filterbank import mel_triangles
from ..masking import calibrated_spectrum_db, check_n_fft, default_hop
from ._chunked import Window, frame_windows, window_sums
from ._contract import check_pair, check_reduction, check_working_memory, reduce, reduce_elements
from .masking import soft_level_db

__all__ = [
    "multi_resolution_stft_loss",
    "mel_loss",
    "mel_weighted_loss",
    "mel_line_weights",
    "MultiResolutionSTFTLoss",
    "MelLoss",
    "MelWeightedLoss",
]


# ------------------------------------------------------------ multi-resolution STFT


def _check_resolutions(fft_sizes: tuple[int, ...], hop_sizes: tuple[int, ...],
                       win_lengths: tuple[int, ...]) -> list[tuple[int, int, int]]:
    if not (len(fft_sizes) == len(hop_sizes) == len(win_lengths) >= 1):
        raise ValueError("fft_sizes, hop_sizes and win_lengths must be non-empty and of equal length")
    fft_sizes = tuple(check_integer(n, "fft_sizes", 2) for n in fft_sizes)
    hop_sizes = tuple(check_integer(h, "hop_sizes", 1) for h in hop_sizes)
    win_lengths = tuple(check_integer(w, "win_lengths", 1) for w in win_lengths)
    for n, h, w in zip(fft_sizes, hop_sizes, win_lengths, strict=True):
        if not (0 < h <= w <= n):
            raise ValueError(f"need 0 < hop <= win_length <= fft_size, got {h}, {w}, {n}")
    return list(zip(fft_sizes, hop_sizes, win_lengths, strict=True))


# Working memory per sample of one signal, forward + backward in float32, per STFT line and frame advanced
# (the complex spectra, magnitudes and logs of both signals with their autograd buffers:
# benchmarks/bench_memory.py). Above CHUNK_BYTES per resolution the loss runs over runs of frames.
BYTES_PER_LINE_PER_HOP = 60
CHUNK_BYTES = 256 * 2**20


def _multi_resolution_stft(input: torch.Tensor, target: torch.Tensor, resolutions: list[tuple[int, int, int]],
                           windows: list[torch.Tensor], eps: float, sc_floor: float,
                           reduction: str, chunk_frames: int | None = None) -> torch.Tensor:
    """The loss on a validated pair (no checks); each resolution over runs of frames when its spectra
    would be large."""
    lead = input.shape[:-1]
    xi, xt = input.reshape(-1, input.shape[-1]), target.reshape(-1, target.shape[-1])
    total = torch.zeros(xi.shape[0], dtype=input.dtype, device=input.device)
    for (n, hop, w), window in zip(resolutions, windows, strict=True):
        win = window.to(input.dtype)
        per_sample = BYTES_PER_LINE_PER_HOP * input.element_size() // 4 * (n // 2 + 1) / hop * xi.shape[0]
        budget = CHUNK_BYTES / len(resolutions)  # the resolutions' autograd buffers live together
        if chunk_frames is None and per_sample * xi.shape[-1] <= budget:
            mi = torch.stft(xi, n, hop, w, window=win, return_complex=True).abs().clamp_min(eps)
            mt = torch.stft(xt, n, hop, w, window=win, return_complex=True).abs().clamp_min(eps)
            denominator = torch.maximum(mt.flatten(1).norm(dim=-1), sc_floor * mi.flatten(1).norm(dim=-1))
            sc = (mt - mi).flatten(1).norm(dim=-1) / denominator
            log_l1 = (mt.log() - mi.log()).abs().flatten(1).mean(-1)
        else:
            frames = chunk_frames or max(1, int(budget / (per_sample * hop)))
            sc, log_l1 = _stft_terms_chunked(xi, xt, n, hop, w, win, eps, sc_floor, frames)
        total = total + sc + log_l1
    return reduce((total / len(resolutions)).reshape(lead), reduction)


def _stft_terms_chunked(xi: torch.Tensor, xt: torch.Tensor, n: int, hop: int, w: int, win: torch.Tensor,
                        eps: float, sc_floor: float, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Spectral convergence and log-magnitude L1 of one resolution from sums over runs of ``frames`` frames
    (``percloss.losses._chunked``); the signals are padded as ``torch.stft(center=True)`` pads them."""

    def pad(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.pad(x.unsqueeze(1), (n // 2, n // 2), mode="reflect").squeeze(1)

    pi, pt = pad(xi), pad(xt)
    n_frames = 1 + (pi.shape[-1] - n) // hop

    def stat(_: Window, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        mi = torch.stft(a, n, hop, w, window=win, center=False, return_complex=True).abs().clamp_min(eps)
        mt = torch.stft(b, n, hop, w, window=win, center=False, return_complex=True).abs().clamp_min(eps)
        mi, mt = mi.flatten(1).double(), mt.flatten(1).double()
        return torch.stack([(mt - mi).pow(2).sum(-1), mt.pow(2).sum(-1), mi.pow(2).sum(-1),
                            (mt.log() - mi.log()).abs().sum(-1)], -1)

    sums = window_sums(stat, frame_windows(n_frames, frames, n, hop), pi, pt)
    denominator = torch.maximum(sums[:, 1].sqrt(), sc_floor * sums[:, 2].sqrt())
    sc = sums[:, 0].sqrt() / denominator
    log_l1 = sums[:, 3] / (n_frames * (n // 2 + 1))
    return sc.to(xi.dtype), log_l1.to(xi.dtype)


def multi_resolution_stft_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    fft_sizes: tuple[int, ...] = (512, 1024, 2048),
    hop_sizes: tuple[int, ...] = (128, 256, 512),
    win_lengths: tuple[int, ...] = (512, 1024, 2048),
    eps: float = 1e-7,
    reduction: str = "mean",
    sc_floor: float = 0.1,
    chunk_frames: int | None = None,
) -> torch.Tensor:
    """Functional :class:`MultiResolutionSTFTLoss` (arguments as there).

    Shape:
        ``(..., time), (..., time) -> ()`` or ``(...)`` with ``reduction="none"``;
        ``time`` must be at least the largest FFT size.

    >>> x = torch.sin(torch.arange(4096) * 0.1)
    >>> float(multi_resolution_stft_loss(x, x))
    0.0
    """
    resolutions = _check_resolutions(fft_sizes, hop_sizes, win_lengths)
    eps = check_positive(eps, "eps")
    reduction = check_reduction(reduction)
    sc_floor = check_positive(sc_floor, "sc_floor", allow_zero=True)
    check_pair(input, target, min_length=max(n for n, _, _ in resolutions))
    chunk_frames = None if chunk_frames is None else check_integer(chunk_frames, "chunk_frames", 1)
    windows = [torch.hann_window(w, device=input.device) for _, _, w in resolutions]
    return _multi_resolution_stft(input, target, resolutions, windows, eps, sc_floor, reduction, chunk_frames)


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
    Functional form: :func:`multi_resolution_stft_loss`.

    Args:
        fft_sizes: FFT sizes. (Default: ``(512, 1024, 2048)``)
        hop_sizes: hops. (Default: ``(128, 256, 512)``)
        win_lengths: Hann window lengths. (Default: ``(512, 1024, 2048)``)
        eps: magnitude floor. (Default: ``1e-7``)
        reduction: ``"none"``, ``"mean"`` or ``"sum"``. (Default: ``"mean"``)
        sc_floor: relative floor of the spectral-convergence denominator,
            ``0`` for the unbounded original. (Default: ``0.1``)
        chunk_frames: frames per window of the windowed computation (below). (Default: ``None``,
            whole signals while a resolution's spectra take at most 256 MB, else windows that size)

    Shape:
        ``(..., time), (..., time) -> ()`` or ``(...)`` with ``reduction="none"``;
        ``time`` must be at least the largest FFT size.

    Memory: on whole signals each resolution's spectra, magnitudes and logs of
    both signals with their autograd buffers take about
    ``60 (fft_size / 2 + 1) / hop`` bytes per sample (about 360 bytes, 16 MB per
    second of 44.1 kHz audio, with the defaults). A resolution whose share
    would exceed a third of 256 MB runs over runs of frames, its four sums accumulated in
    float64 and each run recomputed in backward, so memory stays bounded at
    any length (``benchmarks/results/memory.md``); value and gradient agree with
    the whole-signal computation to rounding.

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
        chunk_frames: int | None = None,
    ) -> None:
        super().__init__()
        self.resolutions = _check_resolutions(fft_sizes, hop_sizes, win_lengths)
        self.chunk_frames = None if chunk_frames is None else check_integer(chunk_frames, "chunk_frames", 1)
        self.eps = check_positive(eps, "eps")
        self.reduction = check_reduction(reduction)
        self.sc_floor = check_positive(sc_floor, "sc_floor", allow_zero=True)
        for i, (_, _, w) in enumerate(self.resolutions):
            self.register_buffer(f"window{i}", torch.hann_window(w))

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_pair(input, target, min_length=max(n for n, _, _ in self.resolutions))
        return self.forward_unchecked(input, target)

    def forward_unchecked(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` on a pair the caller validated (:func:`~percloss.losses.check_pair`)."""
        windows = [getattr(self, f"window{i}") for i in range(len(self.resolutions))]
        return _multi_resolution_stft(input, target, self.resolutions, windows, self.eps, self.sc_floor,
                                      self.reduction, self.chunk_frames)


# ------------------------------------------------------------------- log-mel L1

# Working memory per sample of one signal and resolution, forward + backward in float32 (STFT at hop
# fft_size / 4, mel projection, logs; benchmarks/bench_memory.py, slope from 1 to 10 minutes of 44.1 kHz
# audio: 7.2 MB per second with the three default resolutions, 55 bytes per sample each; 65 leaves a
# margin). The losses below refuse, before allocating, an input whose estimate exceeds the available memory.
MEL_BYTES_PER_SAMPLE = 65
# Model 1's level spectra of both signals per line and frame advanced (1.2 MB per second of 44.1 kHz audio
# at n_fft 512, hop 256, from 1 to 10 minutes: 27 bytes per sample; 35 leaves a margin).
LEVEL_BYTES_PER_LINE_PER_HOP = 35


def _mel_matrices(sample_rate: int, fft_sizes: tuple[int, ...], n_mels: object) -> list[torch.Tensor]:
    n_mels = check_integer(n_mels, "n_mels", 1)
    # as librosa does: the loss runs with a warning, its empty bands contribute nothing
    return [torch.from_numpy(mel_triangles(n, sample_rate, n_mels, on_empty="warn")).float() for n in fft_sizes]


def _check_fft_sizes(fft_sizes: tuple[int, ...]) -> tuple[int, ...]:
    if isinstance(fft_sizes, (str, bytes)) or not hasattr(fft_sizes, "__iter__"):
        raise ValueError(f"fft_sizes must be a non-empty tuple of integers >= 2, got {fft_sizes!r}")
    sizes = tuple(fft_sizes)
    if not sizes:
        raise ValueError(f"fft_sizes must be a non-empty tuple of integers >= 2, got {fft_sizes!r}")
    return tuple(check_integer(n, "fft_sizes", 2) for n in sizes)


def _mel(input: torch.Tensor, target: torch.Tensor, fft_sizes: tuple[int, ...], mels: list[torch.Tensor],
         windows: list[torch.Tensor], reduction: str) -> torch.Tensor:
    """The loss on a validated pair (no checks)."""
    lead = input.shape[:-1]
    total = input.new_zeros(() if reduction != "none" else lead)
    for n, mel_n, win_n in zip(fft_sizes, mels, windows, strict=True):
        mel, win = mel_n.to(input.dtype), win_n.to(input.dtype)

        def logmel(x: torch.Tensor, n: int = n, mel: torch.Tensor = mel, win: torch.Tensor = win) -> torch.Tensor:
            spec = torch.stft(x.reshape(-1, x.shape[-1]), n, n // 4, window=win, return_complex=True).abs()
            return torch.log(spec.transpose(-1, -2) @ mel + 1e-5)

        total = total + reduce_elements((logmel(input) - logmel(target)).abs(), lead, reduction)
    return total / len(fft_sizes)


def mel_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    sample_rate: int,
    fft_sizes: tuple[int, ...] = (256, 512, 1024),
    n_mels: int = 64,
    reduction: str = "mean",
) -> torch.Tensor:
    """Functional :class:`MelLoss` (arguments as there).

    Shape:
        ``(..., time), (..., time) -> ()`` or ``(...)`` with ``reduction="none"``;
        ``time`` must exceed half the largest FFT size.

    >>> x = torch.sin(torch.arange(2048) * 0.1)
    >>> float(mel_loss(x, x, 16000))
    0.0
    """
    rate = check_sample_rate(sample_rate)
    fft_sizes = _check_fft_sizes(fft_sizes)
    reduction = check_reduction(reduction)
    check_pair(input, target, min_length=max(fft_sizes) // 2 + 1)
    check_working_memory(input, MEL_BYTES_PER_SAMPLE * len(fft_sizes), "MelLoss")
    mels = [m.to(input.device) for m in _mel_matrices(rate, fft_sizes, n_mels)]
    windows = [torch.hann_window(n, device=input.device) for n in fft_sizes]
    return _mel(input, target, fft_sizes, mels, windows, reduction)


class MelLoss(nn.Module):
    """Mean L1 distance of ``log(mel + 1e-5)`` spectrograms at several FFT sizes (hop = size / 4).

    Magnitude STFT (centred, Hann), ``n_mels`` HTK-mel triangles from 0 Hz to
    Nyquist (:func:`~percloss.filterbank.mel_triangles`), averaged over the
    FFT sizes. Functional form: :func:`mel_loss`.

    Args:
        sample_rate: Hz.
        fft_sizes: FFT sizes. (Default: ``(256, 512, 1024)``)
        n_mels: mel bands. (Default: 64)
        reduction: ``"none"``, ``"mean"`` or ``"sum"``. (Default: ``"mean"``)

    Shape:
        ``(..., time), (..., time) -> ()`` or ``(...)`` with ``reduction="none"``;
        ``time`` must exceed half the largest FFT size (the STFT's reflection padding).

    Memory: the spectra, mel projections and logs of both signals with their
    autograd buffers take about 55 bytes per sample and resolution in float32
    (7.2 MB per second of 44.1 kHz audio with the three default resolutions;
    ``benchmarks/results/memory.md``); an input whose estimate exceeds the
    memory available is refused before allocating (a ``ValueError`` naming it).

    >>> x = torch.sin(torch.arange(2048) * 0.1)
    >>> float(MelLoss(16000)(x, x))
    0.0
    """

    def __init__(self, sample_rate: int, fft_sizes: tuple[int, ...] = (256, 512, 1024), n_mels: int = 64,
                 reduction: str = "mean") -> None:
        super().__init__()
        self.sample_rate = check_sample_rate(sample_rate)
        self.fft_sizes = _check_fft_sizes(fft_sizes)
        self.reduction = check_reduction(reduction)
        for n, mel in zip(self.fft_sizes, _mel_matrices(self.sample_rate, self.fft_sizes, n_mels), strict=True):
            self.register_buffer(f"mel{n}", mel)
            self.register_buffer(f"win{n}", torch.hann_window(n))

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_pair(input, target, min_length=max(self.fft_sizes) // 2 + 1)  # the STFT's reflection padding
        check_working_memory(input, MEL_BYTES_PER_SAMPLE * len(self.fft_sizes), "MelLoss")
        return self.forward_unchecked(input, target)

    def forward_unchecked(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` on a pair the caller validated (:func:`~percloss.losses.check_pair`)."""
        mels = [getattr(self, f"mel{n}") for n in self.fft_sizes]
        windows = [getattr(self, f"win{n}") for n in self.fft_sizes]
        return _mel(input, target, self.fft_sizes, mels, windows, self.reduction)


# ------------------------------------------------------------ mel-weighted levels


def mel_line_weights(n_fft: int, sample_rate: int, n_mels: int = 64) -> torch.Tensor:
    """Weight of each rFFT line under the mel scale, ``(n_fft/2 + 1,)``, mean 1.

    Each HTK-mel triangle is scaled to unit area and the triangles are summed:
    a line's weight is inversely proportional to the width of the mel bands it
    belongs to, so every mel band carries the same total weight.

    Shape:
        ``() -> (n_fft / 2 + 1,)``
    """
    n_mels = check_integer(n_mels, "n_mels", 1)
    tri = torch.from_numpy(mel_triangles(n_fft, sample_rate, n_mels, slaney_norm=True, on_empty="ignore"))
    tri = tri / tri.sum(0, keepdim=True).clamp_min(1e-12)
    w = tri.sum(1)
    return (w / w.mean()).float()


def _mel_weighted(input: torch.Tensor, target: torch.Tensor, weights: torch.Tensor, n_fft: int,
                  reduction: str) -> torch.Tensor:
    """The loss on a validated pair (no checks)."""
    hop = default_hop(n_fft)

    def soft(x: torch.Tensor) -> torch.Tensor:  # spectrum_db(x, n_fft), floored softly at 0 dB
        return soft_level_db(calibrated_spectrum_db(x, n_fft, hop, "iso")[0])

    with torch.no_grad():
        level_tg = soft(target)
    err = ((soft(input) - level_tg) / 10.0).pow(2)
    return reduce_elements(weights.to(err.dtype) * err, input.shape[:-1], reduction)


def mel_weighted_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    sample_rate: int,
    n_fft: int = 512,
    n_mels: int = 64,
    reduction: str = "mean",
) -> torch.Tensor:
    """Functional :class:`MelWeightedLoss` (arguments as there).

    Shape:
        ``(..., time), (..., time) -> ()`` or ``(...)`` with ``reduction="none"``;
        ``time >= n_fft``.

    >>> x = 0.1 * torch.sin(torch.arange(2048) * 0.1)
    >>> float(mel_weighted_loss(x, x, 16000))
    0.0
    """
    rate = check_sample_rate(sample_rate)
    n_fft = check_n_fft(n_fft)
    reduction = check_reduction(reduction)
    check_pair(input, target, min_length=n_fft)
    check_working_memory(input, LEVEL_BYTES_PER_LINE_PER_HOP * (n_fft // 2 + 1) / default_hop(n_fft),
                         "MelWeightedLoss")
    weights = mel_line_weights(n_fft, rate, n_mels).to(input.device)
    return _mel_weighted(input, target, weights, n_fft, reduction)


class MelWeightedLoss(nn.Module):
    """Model B's term: ``mean_{frames, lines} w_f ((L_in - L_tg) / 10)^2``, ``w`` from :func:`mel_line_weights`.

    Levels ``L`` are :func:`percloss.masking.spectrum_db` (512-point Hann, dB SPL
    in the standard's ``"iso"`` calibration: a full-scale sinusoid reads 82.52 dB) floored softly at 0 dB as in
    :class:`~percloss.losses.PriorityWeightedLoss`, so the two terms
    are on one scale and differ only in their weights. Functional form:
    :func:`mel_weighted_loss`.

    Args:
        sample_rate: Hz.
        n_fft: 512 or 1024. (Default: 512)
        n_mels: mel bands of the weighting. (Default: 64)
        reduction: ``"none"``, ``"mean"`` or ``"sum"``. (Default: ``"mean"``)

    Shape:
        ``(..., time), (..., time) -> ()`` or ``(...)`` with ``reduction="none"``;
        ``time >= n_fft``.

    Memory: model 1's level spectra of both signals with their autograd
    buffers take about 27 bytes per sample at ``n_fft`` 512 (1.2 MB per second
    of 44.1 kHz audio; ``benchmarks/results/memory.md``); an input whose
    estimate exceeds the memory available is refused before allocating.

    >>> x = 0.1 * torch.sin(torch.arange(2048) * 0.1)
    >>> float(MelWeightedLoss(16000)(x, x))
    0.0
    """

    weights: torch.Tensor

    def __init__(self, sample_rate: int, n_fft: int = 512, n_mels: int = 64, reduction: str = "mean") -> None:
        super().__init__()
        self.sample_rate = check_sample_rate(sample_rate)
        self.n_fft = check_n_fft(n_fft)
        self.reduction = check_reduction(reduction)
        self.register_buffer("weights", mel_line_weights(self.n_fft, self.sample_rate, n_mels))

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_pair(input, target, min_length=self.n_fft)
        check_working_memory(input, LEVEL_BYTES_PER_LINE_PER_HOP * (self.n_fft // 2 + 1) / default_hop(self.n_fft),
                             "MelWeightedLoss")
        return self.forward_unchecked(input, target)

    def forward_unchecked(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` on a pair the caller validated (:func:`~percloss.losses.check_pair`)."""
        return _mel_weighted(input, target, self.weights, self.n_fft, self.reduction)
