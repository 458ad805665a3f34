"""VGGish and OpenL3 audio embeddings in PyTorch, with real weight handling.

- :class:`VGGish` -- the architecture of Hershey et al. (2017) with the layout
  of the ``torchvggish`` port, so that its published state dict loads as is;
  front end :func:`vggish_examples` follows ``vggish_input`` (16 kHz, 25 ms
  periodic-Hann frames every 10 ms, 512-point FFT magnitude, 64 HTK-mel bands
  125--7500 Hz with the DC line zeroed, ``log(mel + 0.01)``, 96-frame examples).
- :class:`OpenL3` -- the audio network of Cramer et al. (2019) for
  ``mel256``/``music``/512: 1 s windows at 48 kHz, magnitude STFT (Hann, 2048,
  hop 242, centred), 256 HTK-mel bands with Slaney area normalisation,
  ``10 log10`` with the per-window maximum at 0 dB and an 80 dB floor (the kapre
  layer the original uses), batch norm, four conv blocks, max-pooled to 512.
  Weights: the official Keras ``.h5`` file (read with h5py) or a PyTorch state dict.

Weights are looked up, in order, at an explicit path, in ``$PERCLOSS_WEIGHTS``
and in the torch hub checkpoints directory; they are SHA-256 verified.
``python -m percloss weights download`` fetches them where there is internet.
Without weights, :func:`load_embedding` returns the architecture with a
seeded random initialisation and says so in :attr:`Embedding.weights`: a
*random-feature control*, never to be reported as VGGish or OpenL3.

Notebook: ``notebooks/ch03_quality_metrics.py``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ._checks import check_choice, check_sample_rate, check_signal
from .filterbank import mel_triangles
from .signal import resample_audio

__all__ = [
    "WeightSpec",
    "WEIGHTS",
    "WeightsNotFoundError",
    "weight_locations",
    "find_weights",
    "verify_weights",
    "download_weights",
    "EMBEDDING_MODELS",
    "load_vggish_pca",
    "vggish_postprocess",
    "vggish_examples",
    "vggish_examples_unchecked",
    "openl3_frames",
    "VGGish",
    "OpenL3",
    "Embedding",
    "load_embedding",
    "embedding_similarity",
]


# numpy objects that a torch.save of numpy arrays pickles (the PCA file holds numpy arrays)
_NUMPY_GLOBALS: list[Any] = [np.ndarray, np.dtype, type(np.dtype(np.float64)), type(np.dtype(np.float32))]
try:  # numpy >= 2: numpy._core; older: numpy.core
    from numpy._core.multiarray import _reconstruct as _np_reconstruct
except ImportError:  # pragma: no cover
    from numpy.core.multiarray import _reconstruct as _np_reconstruct  # type: ignore[no-redef]
_NUMPY_GLOBALS.append(_np_reconstruct)


@dataclass(frozen=True)
class WeightSpec:
    """Where a model's published weights come from and how to check them.

    ``sha256`` is the full digest, or (``prefix=True``) the leading digits that
    torch hub file names carry, checked the way torch hub checks them.
    """

    model: str
    filename: str
    url: str
    sha256: str
    prefix: bool = False
    gzipped: bool = False
    licence: str = ""


WEIGHTS: dict[str, WeightSpec] = {
    "vggish": WeightSpec(
        "vggish", "vggish-10086976.pth",
        "https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth",
        "10086976", prefix=True, licence="Apache-2.0 (TensorFlow models / torchvggish)",
    ),
    "openl3": WeightSpec(
        "openl3", "openl3_audio_mel256_music.h5",
        "https://github.com/marl/openl3/raw/models/openl3_audio_mel256_music-v0_4_0.h5.gz",
        "624ee7b1dd5ff87e18073f66fd8b2052bebb8ac70210e9c0937c0c940c63e9d6", gzipped=True,
        licence="CC BY 4.0 (marl/openl3 model weights)",
    ),
    # the PCA (whitening) parameters of torchvggish's post-processing (``vggish(postprocess=True)``)
    "vggish_pca": WeightSpec(
        "vggish_pca", "vggish_pca_params-970ea276.pth",
        "https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish_pca_params-970ea276.pth",
        "970ea276", prefix=True, licence="Apache-2.0 (TensorFlow models / torchvggish)",
    ),
}
#: The embedding networks (``WEIGHTS`` also lists VGGish's post-processing parameters).
EMBEDDING_MODELS = ("vggish", "openl3")
#: torchvggish's post-processing: PCA outputs clipped to this range, then 8-bit quantised.
VGGISH_QUANTIZE_RANGE = (-2.0, 2.0)


def load_vggish_pca(path: str | os.PathLike[str] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The verified PCA eigenvectors ``(128, 128)`` and means ``(128,)`` of VGGish's post-processing."""
    found = find_weights("vggish_pca", path)
    with torch.serialization.safe_globals(_NUMPY_GLOBALS):
        params = torch.load(found, map_location="cpu", weights_only=True)
    matrix = torch.as_tensor(np.asarray(params["pca_eigen_vectors"]), dtype=torch.float32)
    means = torch.as_tensor(np.asarray(params["pca_means"]), dtype=torch.float32).reshape(-1)
    if matrix.shape != (128, 128) or means.shape != (128,):
        raise ValueError(f"{found}: PCA parameters of shapes {tuple(matrix.shape)} and {tuple(means.shape)}, "
                         "expected (128, 128) and (128,)")
    return matrix, means


def vggish_postprocess(embeddings: torch.Tensor, pca_matrix: torch.Tensor, pca_means: torch.Tensor) -> torch.Tensor:
    """torchvggish's post-processing of raw VGGish embeddings ``(N, 128)``: PCA with whitening, clip, 8 bits.

    ``round((clip(V (e - mu), -2, 2) + 2) * 255 / 4)``: values 0..255 as float (the AudioSet release format).
    Not differentiable (rounding); the losses use the raw embeddings.
    """
    lo, hi = VGGISH_QUANTIZE_RANGE
    pca = (embeddings - pca_means) @ pca_matrix.T
    return torch.round((pca.clamp(lo, hi) - lo) * (255.0 / (hi - lo)))


class WeightsNotFoundError(FileNotFoundError):
    """Raised when a model's weight file is not in any known location."""


def weight_locations(spec: WeightSpec) -> list[Path]:
    """Where :func:`find_weights` looks: ``$PERCLOSS_WEIGHTS``, then torch hub's checkpoints."""
    places = []
    env = os.environ.get("PERCLOSS_WEIGHTS")
    if env:
        places.append(Path(env) / spec.filename)
    places.append(Path(torch.hub.get_dir()) / "checkpoints" / spec.filename)
    return places


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_weights(path: str | os.PathLike[str], spec: WeightSpec) -> Path:
    """Check ``path`` against ``spec``'s SHA-256; raises ``ValueError`` on a mismatch."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"weights path does not name a file: {str(p)!r}")
    digest = _sha256(p)
    ok = digest.startswith(spec.sha256) if spec.prefix else digest == spec.sha256
    if not ok:
        raise ValueError(
            f"{p} does not have the SHA-256 of the published {spec.model} weights "
            f"(expected {'a digest starting with ' if spec.prefix else ''}{spec.sha256}, got {digest}); "
            "the file is corrupt, truncated or another model's"
        )
    return p


def find_weights(model: str, path: str | os.PathLike[str] | None = None) -> Path:
    """The verified weight file of ``model`` ("vggish" or "openl3").

    Raises:
        WeightsNotFoundError: naming the file, its URL and where to put it.
        ValueError: if a file is found but fails the checksum.
    """
    spec = WEIGHTS[check_choice(model, "model", tuple(WEIGHTS))]
    if path is not None:
        return verify_weights(path, spec)
    for place in weight_locations(spec):
        if place.is_file():
            return verify_weights(place, spec)
    where = " or ".join(str(p) for p in weight_locations(spec))
    raise WeightsNotFoundError(
        f"the {spec.model} weights {spec.filename!r} were not found. Download {spec.url}"
        f"{' and un-gzip it' if spec.gzipped else ''} to {where} (or set PERCLOSS_WEIGHTS to its folder), "
        "or run `python -m percloss weights download` on a machine with internet."
    )


def download_weights(model: str, directory: str | os.PathLike[str] | None = None) -> Path:
    """Fetch ``model``'s published weights into ``directory`` (Default: torch hub checkpoints), verified."""
    spec = WEIGHTS[check_choice(model, "model", tuple(WEIGHTS))]
    folder = Path(directory) if directory is not None else weight_locations(spec)[-1].parent
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / spec.filename
    tmp = target.with_suffix(target.suffix + ".part")
    with urllib.request.urlopen(spec.url, timeout=60) as response, open(tmp, "wb") as out:
        if spec.gzipped:
            with gzip.GzipFile(fileobj=response) as gz:
                shutil.copyfileobj(gz, out)
        else:
            shutil.copyfileobj(response, out)
    verify_weights(tmp, spec)
    tmp.replace(target)
    return target


# ----------------------------------------------------------------- front ends


def _vggish_mel_matrix(n_lines: int, rate: int, n_mels: int = 64, low: float = 125.0,
                       high: float = 7500.0) -> np.ndarray:
    """VGGish's mel matrix (``mel_features.spectrogram_to_mel_matrix``): HTK-mel triangles linear in mel,
    125--7500 Hz, the DC line zeroed."""
    weights = mel_triangles(2 * (n_lines - 1), rate, n_mels, f_min=low, f_max=high, space="mel")
    weights[0, :] = 0.0
    return weights


def vggish_examples(x: torch.Tensor, sample_rate: int = 16000) -> torch.Tensor:
    """VGGish log-mel examples, ``(time,) at 16 kHz -> (examples, 1, 96, 64)``.

    Other rates are resampled to 16 kHz first (soxr; ``vggish_input`` uses resampy).
    Needs at least 0.975 s (one example).
    """
    rate = check_sample_rate(sample_rate)
    check_signal(x, "x")
    if x.dim() != 1:
        raise ValueError(f"x must be mono with shape (time,), got {tuple(x.shape)}")
    if rate != 16000:
        x = torch.from_numpy(resample_audio(x.detach().cpu().double().numpy(), rate, 16000)).to(x)
    n_needed = 400 + 95 * 160
    if x.shape[-1] < n_needed:
        raise ValueError(f"x must hold at least {n_needed} samples at 16 kHz (0.975 s), got {x.shape[-1]}")
    return vggish_examples_unchecked(x)


def vggish_examples_unchecked(x: torch.Tensor) -> torch.Tensor:
    """:func:`vggish_examples` of a validated mono signal at 16 kHz of at least 0.975 s (no checks: for
    losses that validated their pair once already)."""
    frames = x.unfold(-1, 400, 160)
    window = 0.5 - 0.5 * torch.cos(2 * torch.pi * torch.arange(400, dtype=x.dtype, device=x.device) / 400)
    magnitude = torch.fft.rfft(frames * window, n=512).abs()
    mel = magnitude @ torch.as_tensor(_vggish_mel_matrix(257, 16000), dtype=x.dtype, device=x.device)
    log_mel = torch.log(mel + 0.01)
    examples = log_mel.unfold(0, 96, 96).transpose(1, 2)  # (examples, 96, 64)
    return examples.unsqueeze(1)


def openl3_frames(x: torch.Tensor, sample_rate: int = 48000, hop_seconds: float = 0.1) -> torch.Tensor:
    """OpenL3 ``mel256`` inputs, ``(time,) -> (windows, 1, 256, 199)``.

    The signal is resampled to 48 kHz, padded with 0.5 s of zeros on both
    sides (windows centred on their time stamps) and cut into 1 s windows every
    ``hop_seconds``; each window becomes a log-mel patch (see the module notes).
    """
    rate = check_sample_rate(sample_rate)
    check_signal(x, "x")
    if x.dim() != 1:
        raise ValueError(f"x must be mono with shape (time,), got {tuple(x.shape)}")
    if not 0 < hop_seconds <= 10:
        raise ValueError(f"hop_seconds must be in (0, 10], got {hop_seconds!r}")
    if rate != 48000:
        x = torch.from_numpy(resample_audio(x.detach().cpu().double().numpy(), rate, 48000)).to(x)
    x = torch.nn.functional.pad(x, (24000, 24000))
    windows = x.unfold(-1, 48000, max(1, int(round(hop_seconds * 48000))))  # (W, 48000)
    window = torch.hann_window(2048, periodic=True, dtype=x.dtype, device=x.device)
    spec = torch.stft(windows, 2048, 242, window=window, center=True, pad_mode="constant",
                      return_complex=True).abs()  # (W, 1025, 199)
    mel = torch.as_tensor(mel_triangles(2048, 48000, 256, slaney_norm=True, on_empty="ignore"),  # as OpenL3: 2 empty
                          dtype=x.dtype, device=x.device)
    melspec = torch.einsum("wft,fm->wmt", spec, mel)
    db = 10.0 * torch.log10(melspec.clamp_min(1e-10))
    db = db - db.amax(dim=(-2, -1), keepdim=True)
    return db.clamp_min(-80.0).unsqueeze(1)


# ------------------------------------------------------------------ networks


class VGGish(nn.Module):
    """VGGish (128-d per 0.96 s example); module layout of ``torchvggish`` (its state dict loads).

    Shape:
        ``(examples, 1, 96, 64) -> (examples, 128)``
    """

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for v in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M"):
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                assert isinstance(v, int)
                layers += [nn.Conv2d(channels, v, 3, padding=1), nn.ReLU(inplace=True)]
                channels = v
        self.features = nn.Sequential(*layers)
        self.embeddings = nn.Sequential(
            nn.Linear(512 * 4 * 6, 4096), nn.ReLU(True),
            nn.Linear(4096, 4096), nn.ReLU(True),
            nn.Linear(4096, 128), nn.ReLU(True),
        )

    def forward(self, examples: torch.Tensor) -> torch.Tensor:
        if examples.dim() != 4 or tuple(examples.shape[1:]) != (1, 96, 64):
            raise ValueError(f"examples must have shape (N, 1, 96, 64), got {tuple(examples.shape)}")
        y = self.features(examples)
        y = y.permute(0, 2, 3, 1).contiguous().flatten(1)  # TensorFlow's (H, W, C) order
        return self.embeddings(y)


class OpenL3(nn.Module):
    """OpenL3 audio network, ``mel256`` input, 512-d output.

    Batch-norm epsilon 1e-3 (Keras). Shape: ``(windows, 1, 256, 199) -> (windows, 512)``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.input_norm = nn.BatchNorm2d(1, eps=1e-3)
        blocks: list[nn.Module] = []
        channels = 1
        for i, width in enumerate((64, 64, 128, 128, 256, 256, 512)):
            blocks += [nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width, eps=1e-3), nn.ReLU()]
            channels = width
            if i in (1, 3, 5):
                blocks.append(nn.MaxPool2d(2, 2))
        self.blocks = nn.Sequential(*blocks)
        self.embedding = nn.Conv2d(512, 512, 3, padding=1)
        self.pool = nn.MaxPool2d((32, 24))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        if frames.dim() != 4 or tuple(frames.shape[1:]) != (1, 256, 199):
            raise ValueError(f"frames must have shape (N, 1, 256, 199), got {tuple(frames.shape)}")
        return self.pool(self.embedding(self.blocks(self.input_norm(frames)))).flatten(1)

    def load_keras_h5(self, path: str | os.PathLike[str]) -> None:
        """Copy weights from the official Keras ``.h5`` file (layers in file order)."""
        from ._optional import needs

        with needs("embeddings", "OpenL3's Keras weights (.h5, read with h5py)"):
            import h5py

        convs = [m for m in self.blocks if isinstance(m, nn.Conv2d)] + [self.embedding]
        norms = [self.input_norm] + [m for m in self.blocks if isinstance(m, nn.BatchNorm2d)]
        with h5py.File(path, "r") as f:
            group = f["model_weights"] if "model_weights" in f else f
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs["layer_names"]]
            conv_w, norm_w = [], []
            for name in names:
                layer = group[name]
                weight_names = [w.decode() if isinstance(w, bytes) else str(w) for w in layer.attrs["weight_names"]]
                arrays = {w.split("/")[-1].split(":")[0]: np.asarray(layer[w]) for w in weight_names}
                if "kernel" in arrays and arrays["kernel"].ndim == 4:
                    conv_w.append(arrays)
                elif "gamma" in arrays:
                    norm_w.append(arrays)
        if len(conv_w) != len(convs) or len(norm_w) != len(norms):
            raise ValueError(
                f"{path} is not an OpenL3 mel256 audio model: found {len(conv_w)} convolutions and "
                f"{len(norm_w)} batch norms, expected {len(convs)} and {len(norms)}"
            )
        with torch.no_grad():
            for conv, arrays in zip(convs, conv_w, strict=True):
                kernel = torch.from_numpy(arrays["kernel"]).permute(3, 2, 0, 1)
                if kernel.shape != conv.weight.shape:
                    raise ValueError(f"{path}: kernel shape {tuple(kernel.shape)} != {tuple(conv.weight.shape)}")
                conv.weight.copy_(kernel)
                conv.bias.copy_(torch.from_numpy(arrays["bias"]))  # type: ignore[union-attr]
            for norm, arrays in zip(norms, norm_w, strict=True):
                norm.weight.copy_(torch.from_numpy(arrays["gamma"]))
                norm.bias.copy_(torch.from_numpy(arrays["beta"]))
                norm.running_mean.copy_(torch.from_numpy(arrays["moving_mean"]))  # type: ignore[union-attr]
                norm.running_var.copy_(torch.from_numpy(arrays["moving_variance"]))  # type: ignore[union-attr]


@dataclass
class Embedding:
    """A ready embedding model: ``embed(x, sample_rate) -> (frames, dim)``.

    ``weights`` says what the parameters are: a verified file path, or
    ``"random-feature control (seed N)"``.
    """

    name: str
    network: nn.Module
    weights: str
    hop_seconds: float = 0.1
    pca: tuple[torch.Tensor, torch.Tensor] | None = None  # VGGish post-processing (eigenvectors, means)

    @property
    def pretrained(self) -> bool:
        return not self.weights.startswith("random")

    @torch.no_grad()
    def embed(self, x: torch.Tensor, sample_rate: int) -> torch.Tensor:
        device = next(self.network.parameters()).device
        x = x.to(device=device, dtype=torch.float32)
        if self.name == "vggish":
            out = self.network(vggish_examples(x, sample_rate))
            return out if self.pca is None else vggish_postprocess(out, *(t.to(device) for t in self.pca))
        return self.network(openl3_frames(x, sample_rate, self.hop_seconds))


def load_embedding(model: str, weights: str | os.PathLike[str] | None = None, *, allow_random: bool = True,
                   seed: int = 0, hop_seconds: float = 0.1, device: str | torch.device = "cpu",
                   postprocess: bool = True) -> Embedding:
    """VGGish or OpenL3 with its published weights, or a labelled random-feature control.

    Args:
        model: ``"vggish"`` or ``"openl3"``.
        weights: explicit weight file; ``None`` searches :func:`weight_locations`.
        allow_random: without weights, return the seeded random control instead of raising.
        seed: seed of the random control.
        hop_seconds: OpenL3 window hop. (Default: 0.1 s, the package's default)
        postprocess: pretrained VGGish embeddings go through torchvggish's default
            post-processing (:func:`vggish_postprocess`) when its PCA file is found;
            the label in ``weights`` says whether it was applied.
    """
    check_choice(model, "model", EMBEDDING_MODELS)
    network: nn.Module = VGGish() if model == "vggish" else OpenL3()
    try:
        path = find_weights(model, weights)
    except WeightsNotFoundError:
        if not allow_random or weights is not None:
            raise
        torch.manual_seed(seed)
        network = VGGish() if model == "vggish" else OpenL3()
        label = f"random-feature control (seed {seed}; no pretrained {model} weights found)"
        return Embedding(model, network.eval().to(device), label, hop_seconds)
    if model == "openl3" and path.suffix == ".h5":
        assert isinstance(network, OpenL3)
        network.load_keras_h5(path)
    else:
        network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    label, pca = str(path), None
    if model == "vggish" and postprocess:
        try:
            pca = load_vggish_pca()
            label += " + torchvggish's PCA and 8-bit post-processing"
        except WeightsNotFoundError:
            label += " (raw embeddings: the PCA file of torchvggish's post-processing was not found)"
    return Embedding(model, network.eval().to(device), label, hop_seconds, pca)


def embedding_similarity(reference: torch.Tensor, degraded: torch.Tensor) -> dict[str, float]:
    """Cosine similarity of two embedding sequences ``(frames, dim)`` of equal shape.

    ``"framewise"``: the mean over aligned frames of the per-frame cosine;
    ``"mean"``: the cosine of the time-averaged embeddings. An all-zero frame
    (a dead ReLU output) has cosine 1 with another all-zero frame and 0 otherwise.
    """
    if reference.shape != degraded.shape or reference.dim() != 2:
        raise ValueError(f"reference and degraded must be (frames, dim) of equal shape, got "
                         f"{tuple(reference.shape)} and {tuple(degraded.shape)}")

    def cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        na, nb = a.norm(dim=-1), b.norm(dim=-1)
        both_zero = (na == 0) & (nb == 0)
        value = (a * b).sum(-1) / (na * nb).clamp_min(1e-30)
        return torch.where(both_zero, torch.ones_like(value), value)

    r, d = reference.double(), degraded.double()
    return {"framewise": float(cos(r, d).mean()), "mean": float(cos(r.mean(0), d.mean(0)))}
