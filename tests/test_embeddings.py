"""Embeddings: front ends against the packages' own, weight lookup, checksums,
Keras weight import, the random-feature control, similarity definitions."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from percloss import data, embeddings
from percloss.embeddings import (
    OpenL3,
    VGGish,
    WeightsNotFoundError,
    embedding_similarity,
    find_weights,
    load_embedding,
    openl3_frames,
    vggish_examples,
)


def test_vggish_front_end_matches_vggish_input_on_real_speech() -> None:
    vggish_input = pytest.importorskip("torchvggish.vggish_input")
    x = data.load_clip("speech_female", 16000).double()
    ref = vggish_input.waveform_to_examples(x.numpy(), 16000, return_tensor=False)
    got = vggish_examples(x)[:, 0].numpy()
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, atol=1e-9)


def test_openl3_front_end_matches_a_librosa_reading_on_real_music() -> None:
    librosa = pytest.importorskip("librosa")
    x = data.load_clip("piano_bach", 48000).double()[48000:144000]
    got = openl3_frames(x, 48000, hop_seconds=1.0)[:, 0].numpy()
    padded = np.pad(x.numpy(), (24000, 24000))
    window = padded[48000:96000]  # second window, centred on t = 1 s... of the padded signal
    mel = librosa.feature.melspectrogram(y=window, sr=48000, n_fft=2048, hop_length=242, power=1.0, n_mels=256,
                                         htk=True, norm="slaney", center=True, pad_mode="constant", fmin=0.0,
                                         fmax=24000.0)
    db = 10 * np.log10(np.maximum(mel, 1e-10))
    db = np.maximum(db - db.max(), -80.0)
    assert got.shape[1:] == (256, 199)
    np.testing.assert_allclose(got[1], db, atol=1e-6)


def test_network_shapes_and_parameter_counts() -> None:
    assert sum(p.numel() for p in VGGish().parameters()) == 72_141_184
    assert sum(p.numel() for p in OpenL3().parameters()) == 4_687_042
    assert OpenL3().eval()(torch.randn(2, 1, 256, 199)).shape == (2, 512)
    assert VGGish()(torch.randn(2, 1, 96, 64)).shape == (2, 128)
    with pytest.raises(ValueError, match="96, 64"):
        VGGish()(torch.randn(2, 1, 64, 96))


@pytest.fixture
def isolated_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PERCLOSS_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    (tmp_path / "weights").mkdir()
    return tmp_path / "weights"


def test_missing_weights_message_names_file_url_and_place(isolated_weights: Path) -> None:
    with pytest.raises(WeightsNotFoundError) as err:
        find_weights("openl3")
    message = str(err.value)
    assert "openl3_audio_mel256_music.h5" in message
    assert "https://github.com/marl/openl3/raw/models/" in message
    assert str(isolated_weights) in message
    assert "python -m percloss weights download" in message


def test_without_weights_the_control_is_labelled_random(isolated_weights: Path) -> None:
    e = load_embedding("vggish")
    assert not e.pretrained and e.weights.startswith("random-feature control")
    with pytest.raises(WeightsNotFoundError):
        load_embedding("vggish", allow_random=False)


def test_state_dict_is_found_verified_and_loaded(isolated_weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(5)
    source = VGGish()
    path = isolated_weights / embeddings.WEIGHTS["vggish"].filename
    torch.save(source.state_dict(), path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    spec = dataclasses.replace(embeddings.WEIGHTS["vggish"], sha256=digest[:8])
    monkeypatch.setitem(embeddings.WEIGHTS, "vggish", spec)
    e = load_embedding("vggish")
    assert e.pretrained and e.weights.startswith(str(path)) and e.pca is None
    assert "post-processing was not found" in e.weights  # no PCA file here: said, not silent
    x = torch.randn(1, 1, 96, 64)
    assert torch.equal(e.network(x), source.eval()(x))


def test_checksum_failure_is_a_clear_error(isolated_weights: Path) -> None:
    path = isolated_weights / embeddings.WEIGHTS["vggish"].filename
    torch.save(VGGish().state_dict(), path)  # not the published file
    with pytest.raises(ValueError, match="does not have the SHA-256"):
        load_embedding("vggish")
    truncated = isolated_weights / "cut.pth"
    truncated.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match="SHA-256"):
        find_weights("vggish", truncated)


def write_keras_h5(path: Path, model: OpenL3, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    kernels = []
    convs = [m for m in model.blocks if isinstance(m, torch.nn.Conv2d)] + [model.embedding]
    norms = [model.input_norm] + [m for m in model.blocks if isinstance(m, torch.nn.BatchNorm2d)]
    with h5py.File(path, "w") as f:
        g = f.create_group("model_weights")
        names = []
        # Keras order: input batch norm, then conv/bn pairs, then the embedding conv
        order: list[tuple[str, int]] = [("bn", 0)]
        for i in range(len(convs) - 1):
            order += [("conv", i), ("bn", i + 1)]
        order.append(("conv", len(convs) - 1))
        for kind, i in order:
            name = f"{'conv2d' if kind == 'conv' else 'batch_normalization'}_{i + 1}"
            names.append(name.encode())
            layer = g.create_group(name)
            if kind == "conv":
                c = convs[i]
                k = rng.standard_normal((3, 3, c.in_channels, c.out_channels)).astype(np.float32)
                kernels.append(k)
                arrays = {"kernel:0": k, "bias:0": rng.standard_normal(c.out_channels).astype(np.float32)}
            else:
                n = norms[i].num_features
                arrays = {w: rng.random(n).astype(np.float32) + 0.5 for w in
                          ("gamma:0", "beta:0", "moving_mean:0", "moving_variance:0")}
            wnames = []
            for w, a in arrays.items():
                layer.create_dataset(f"{name}/{w}", data=a)
                wnames.append(f"{name}/{w}".encode())
            layer.attrs["weight_names"] = wnames
        g.attrs["layer_names"] = names
    return kernels


def test_keras_h5_weights_are_imported(tmp_path: Path) -> None:
    model = OpenL3()
    kernels = write_keras_h5(tmp_path / "openl3.h5", model, seed=0)
    model.load_keras_h5(tmp_path / "openl3.h5")
    first = model.blocks[0]
    assert isinstance(first, torch.nn.Conv2d)
    assert torch.equal(first.weight, torch.from_numpy(kernels[0]).permute(3, 2, 0, 1))
    assert torch.equal(model.embedding.weight, torch.from_numpy(kernels[-1]).permute(3, 2, 0, 1))
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        f.create_group("model_weights").attrs["layer_names"] = []
    with pytest.raises(ValueError, match="not an OpenL3"):
        OpenL3().load_keras_h5(tmp_path / "bad.h5")


def test_similarity_definitions() -> None:
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    b = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    s = embedding_similarity(a, b)
    assert s["framewise"] == pytest.approx(0.5)
    assert s["mean"] == pytest.approx(1 / np.sqrt(2))
    assert embedding_similarity(torch.zeros(3, 4), torch.zeros(3, 4))["framewise"] == 1.0
    with pytest.raises(ValueError, match="equal shape"):
        embedding_similarity(a, b[:1])


def test_front_ends_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="at least"):
        vggish_examples(torch.zeros(1000, dtype=torch.float64))
    with pytest.raises(ValueError, match="mono"):
        openl3_frames(torch.zeros(2, 48000))
    with pytest.raises(ValueError, match="NaN"):
        vggish_examples(torch.full((20000,), float("nan")))


def test_resample_differentiable_keeps_a_tone_and_is_differentiable() -> None:
    from percloss.signal import resample_differentiable

    n = 11025
    t = torch.arange(n, dtype=torch.float64) / 11025
    y = resample_differentiable(torch.sin(2 * torch.pi * 440 * t), 11025, 16000)
    t16 = torch.arange(16000, dtype=torch.float64) / 16000
    assert torch.allclose(y, torch.sin(2 * torch.pi * 440 * t16), atol=1e-9)
    x = torch.randn(64, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s: resample_differentiable(s, 441, 640), (x,))


def test_embedding_distance_loss(isolated_weights: Path) -> None:
    from percloss.losses import EmbeddingDistanceLoss

    loss = EmbeddingDistanceLoss(11025)
    assert loss.weights.startswith("random-feature control")
    target = data.excerpt("speech_male", 11025, 8192)
    assert float(loss(target, target)) == pytest.approx(0.0, abs=1e-6)
    x = (0.3 * torch.randn(8192)).requires_grad_(True)
    value = loss(x, target)
    value.backward()
    assert float(value.detach()) > 1e-4
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="same shape"):
        loss(x[:100], target)


def test_embedding_distance_loss_float32_keeps_small_differences(isolated_weights: Path) -> None:
    """``1 - cos`` of nearly equal embeddings rounded to 0 in float32 (as PerceptualLoss's did)."""
    from percloss.losses import EmbeddingDistanceLoss

    torch.manual_seed(0)
    loss = EmbeddingDistanceLoss(16000)
    x = data.load_clip("speech_female", 16000)[:16000]
    g = torch.Generator().manual_seed(1)
    y = x + 3e-5 * x.abs().max() * torch.randn(x.shape, generator=g)
    d32 = float(loss(y, x))
    with torch.no_grad():  # the same float32 embeddings, their cosine formed in float64
        ei, et = loss._embed(y).double(), loss._embed(x).double()
    d64 = float((1 - torch.nn.functional.cosine_similarity(ei, et, dim=-1)).mean())
    assert d64 > 0 and d32 == pytest.approx(d64, rel=0.05)
    assert float(loss(x, x)) == 0.0


def test_vggish_postprocessing_matches_torchvggish(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PCA + whitening + clip + 8 bits, as torchvggish's ``Postprocessor`` does (its own code, fed the test's PCA)."""
    import dataclasses
    import hashlib

    tv = pytest.importorskip("torchvggish.torchvggish")
    from percloss import embeddings as em

    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((128, 128)).astype(np.float32) * 0.3
    means = rng.standard_normal(128).astype(np.float32)
    raw = torch.from_numpy(rng.standard_normal((5, 128)).astype(np.float32) * 2)
    reference = object.__new__(tv.Postprocessor)  # its __init__ downloads the published parameters
    reference._pca_matrix = torch.as_tensor(matrix).float()
    reference._pca_means = torch.as_tensor(means.reshape(-1, 1)).float()
    expected = reference.postprocess(raw)
    ours = em.vggish_postprocess(raw, torch.from_numpy(matrix), torch.from_numpy(means))
    assert torch.equal(ours, expected) and 0 <= float(ours.min()) and float(ours.max()) <= 255
    assert len(torch.unique(ours)) > 50  # quantised to 8 bits, not collapsed

    # a PCA file as torchvggish publishes it (numpy arrays), loaded with weights_only after its checksum
    path = tmp_path / "vggish_pca_params-970ea276.pth"
    torch.save({"pca_eigen_vectors": matrix, "pca_means": means}, path)
    with pytest.raises(ValueError, match="SHA-256"):
        em.load_vggish_pca(path)  # not the published file
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setitem(em.WEIGHTS, "vggish_pca", dataclasses.replace(em.WEIGHTS["vggish_pca"], sha256=digest))
    m, mu = em.load_vggish_pca(path)
    assert torch.equal(m, torch.from_numpy(matrix)) and torch.equal(mu, torch.from_numpy(means))


def test_random_control_is_never_postprocessed_or_called_pretrained() -> None:
    from percloss.embeddings import load_embedding

    e = load_embedding("vggish")
    if e.pretrained:
        pytest.skip("pretrained VGGish weights are installed here")
    assert e.pca is None and e.weights.startswith("random-feature control")
    with pytest.raises(ValueError, match="model"):
        load_embedding("vggish_pca")  # the PCA parameters are not a network
