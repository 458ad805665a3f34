"""Model 1, NMR and the CLI's ``threshold``/``nmr`` on long audio: chunked = unchunked, bounded memory.

The long inputs tile real music (band_sectoid then piano_bach). Chunk boundaries
fall mid-signal at odd frame counts, so a frame whose FFT window or scalefactor
blocks straddle a boundary is compared against the same frame analysed in one
piece. Peak memory is measured in child processes (``ru_maxrss``) on a few
minutes of audio: the growth of the peak over the imports and the input must
stay within the result's own size plus a fixed working set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import percloss.masking as m
from percloss.data import load_clip
from percloss.masking import model1_chunks, polyphase_analysis, psychoacoustic_model1
from percloss.metrics import nmr

RATE = 44100
FIELDS = m._FRAME_FIELDS


@pytest.fixture(scope="module")
def music() -> torch.Tensor:
    clip = torch.cat([load_clip("band_sectoid"), load_clip("piano_bach")])  # 16 s
    return clip.repeat(2)[: 24 * RATE].contiguous()  # 24 s: 2755 frames at hop 384


def same(a: m.MaskingAnalysis, b: m.MaskingAnalysis, lo: int = 0) -> None:
    """``b`` equals frames ``lo ..`` of ``a`` (float rounding allowed; decisions exactly)."""
    for name in FIELDS:
        va, vb = getattr(a, name), getattr(b, name)
        if va is None:
            assert vb is None, name
            continue
        va = va[..., lo : lo + vb.shape[-2], :]
        assert va.shape == vb.shape, name
        if va.dtype == torch.bool:
            assert torch.equal(va, vb), name
        else:
            torch.testing.assert_close(vb, va, rtol=0, atol=1e-9 if va.dtype == torch.float64 else 1e-4,
                                       equal_nan=False, msg=name)


@pytest.mark.parametrize("n_fft, calibration, dtype", [(512, "iso", torch.float32), (1024, "frame_max96", torch.float64),
                                                       (512, "sine96", torch.float64)])
def test_chunks_give_the_unchunked_analysis(music: torch.Tensor, monkeypatch: pytest.MonkeyPatch, n_fft: int,
                                            calibration: str, dtype: torch.dtype) -> None:
    x = music.to(dtype)
    n_frames = m.frame_count(len(x), n_fft, m.default_hop(n_fft))
    whole = next(model1_chunks(x, RATE, n_fft, calibration=calibration, chunk_frames=n_frames))[1]
    assert whole.smr_db.shape[0] == n_frames
    # odd chunk sizes: boundaries inside scalefactor groups and overlapping FFT windows
    parts = list(model1_chunks(x, RATE, n_fft, calibration=calibration, chunk_frames=397))
    assert [f0 for f0, _ in parts] == list(range(0, n_frames, 397))
    for f0, part in parts:
        same(whole, part, f0)
    # the one-call form assembles its chunks in place
    monkeypatch.setattr(m, "CHUNK_ROWS", 613)
    same(whole, psychoacoustic_model1(x, RATE, n_fft, calibration=calibration))


def test_batched_signals_chunk_alike(music: torch.Tensor, monkeypatch: pytest.MonkeyPatch) -> None:
    x = torch.stack([music[: 12 * RATE], 0.25 * music[12 * RATE :]]).double()
    whole = psychoacoustic_model1(x, RATE, spl="scalefactor")
    monkeypatch.setattr(m, "CHUNK_ROWS", 301)  # 150 frames of each signal per chunk
    same(whole, psychoacoustic_model1(x, RATE))
    for i in range(2):
        same(whole.__class__(**{**vars(whole), **{f: getattr(whole, f)[i] for f in FIELDS}}),
             psychoacoustic_model1(x[i], RATE))


def test_polyphase_chunks_match_the_direct_formula(music: torch.Tensor, monkeypatch: pytest.MonkeyPatch) -> None:
    x = music[: 3 * RATE].double()
    monkeypatch.setattr(m, "POLYPHASE_CHUNK_BLOCKS", 333)
    got = polyphase_analysis(x)
    # S_s(b) = sum_i C(i) M(s, i mod 64) x(32 b + 31 - i), zeros before the start and past the end
    c = np.asarray(m.iso_tables.ANALYSIS_WINDOW)
    i, s = np.arange(512), np.arange(32)
    w = c[:, None] * np.cos((2 * s[None, :] + 1) * ((i[:, None] % 64) - 16) * np.pi / 64)
    xp = np.concatenate([np.zeros(512), x.numpy(), np.zeros(512)])
    blocks = -(-len(x) // 32)
    for b in (0, 1, 332, 333, 334, 1000, blocks - 1):
        window = xp[512 + 32 * b + 31 - i]
        np.testing.assert_allclose(got[b].numpy(), window @ w, rtol=0, atol=1e-12)
    assert got.shape == (blocks, 32)


def test_nmr_in_chunks_keeps_values_and_gradient(music: torch.Tensor, monkeypatch: pytest.MonkeyPatch) -> None:
    ref = music[: 12 * RATE].double()
    noise = 1e-3 * torch.randn(len(ref), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    results = []
    for rows in (100_000, 257):  # one chunk, then 257 frames per chunk
        monkeypatch.setattr(m, "CHUNK_ROWS", rows)
        test = (ref + noise).requires_grad_(True)
        r = nmr(ref, test, RATE, calibration="frame_max96")
        r.mean_db.backward()
        assert test.grad is not None
        results.append((r, test.grad))
    (a, ga), (b, gb) = results
    for name in ("band_db", "frame_db", "mean_db", "audible_fraction"):
        torch.testing.assert_close(getattr(b, name), getattr(a, name), rtol=0, atol=1e-10)
    torch.testing.assert_close(gb, ga, rtol=1e-9, atol=0)
    assert a.band_db.shape[0] == m.frame_count(len(ref), 512, 384)


@pytest.mark.parametrize("bad, message", [
    (lambda x: x.clone().index_fill_(-1, torch.tensor([150_000]), float("nan")), "contains NaN or Inf"),
    (lambda x: x.clone().index_fill_(-1, torch.tensor([150_001]), float("inf")), "contains NaN or Inf"),
    (lambda x: x * 1e12, "peak is"),
    (lambda x: x.half(), "half precision"),
    (lambda x: x[..., :300], "at least 512 samples"),
])
def test_long_signals_are_checked_in_blocks_with_the_same_messages(music: torch.Tensor, monkeypatch: pytest.MonkeyPatch,
                                                                   bad: object, message: str) -> None:
    from percloss._checks import check_signal

    x = bad(music[: 4 * RATE].double())  # type: ignore[operator]
    with pytest.raises(ValueError) as whole:
        check_signal(x, "x", min_length=512)
    monkeypatch.setattr(m, "CHECK_BLOCK", 10_000)
    with pytest.raises(ValueError) as blocks:
        m.check_long_signal(x, "x", min_length=512)
    assert message in str(blocks.value) and str(blocks.value) == str(whole.value)
    with pytest.raises(ValueError, match=message.split()[0]):
        psychoacoustic_model1(x, RATE)
    assert m.check_long_signal(music, "x", min_length=512) is music


def test_chunk_frames_is_checked(music: torch.Tensor) -> None:
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="chunk_frames"):
            next(model1_chunks(music, RATE, chunk_frames=bad))  # type: ignore[arg-type]


PROBE = r"""
import json, resource, sys, torch
torch.set_num_threads(1)
from percloss.data import load_clip
from percloss.masking import psychoacoustic_model1
from percloss.metrics import nmr
entry, seconds = sys.argv[1], float(sys.argv[2])
clip = torch.cat([load_clip("band_sectoid"), load_clip("piano_bach")])
n = int(seconds * 44100)
x = clip.repeat(n // len(clip) + 1)[:n].clone()
y = torch.randn(n).mul_(1e-3).add_(x)  # no temporaries: the peak before the call is the inputs'
psychoacoustic_model1(x[:44100], 44100); nmr(x[:44100], y[:44100], 44100)  # tables, code paths
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
if entry == "model1":
    out = vars(psychoacoustic_model1(x, 44100))
else:
    out = vars(nmr(x, y, 44100))
size = sum(v.numel() * v.element_size() for v in out.values() if isinstance(v, torch.Tensor)) / 2**20
print(json.dumps({"growth": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base, "result": size}))
"""

#: Working memory allowed beside the result, MiB (measured: about 70 for model 1, 65 for NMR, float32).
WORKING_MIB = 160


@pytest.mark.parametrize("entry", ["model1", "nmr"])
def test_peak_memory_on_five_minutes_is_the_result_plus_a_bounded_working_set(entry: str) -> None:
    # before chunking: the polyphase filterbank alone copied 2 kB per 32 samples (850 MiB for 5 min),
    # the spectra several times the result
    proc = subprocess.run([sys.executable, "-c", PROBE, entry, "300"], capture_output=True, text=True,
                          env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=600)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["growth"] <= r["result"] + WORKING_MIB, r


CLI_PROBE = r"""
import resource, sys
import contextlib, io
import soundfile, torch
import percloss.cli, percloss.masking, percloss.metrics
from percloss.cli import main
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
with contextlib.redirect_stdout(io.StringIO()) as out:
    status = main(sys.argv[1:])
growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
print(status, growth)
print(out.getvalue())
"""


@pytest.fixture(scope="module")
def long_wavs(tmp_path_factory: pytest.TempPathFactory, music: torch.Tensor) -> tuple[Path, Path, int]:
    folder = tmp_path_factory.mktemp("long")
    seconds = 180
    x = music.numpy()
    reps = np.tile(x, -(-seconds * RATE // len(x)))[: seconds * RATE]
    noise = 1e-3 * np.random.default_rng(0).standard_normal(len(reps))
    ref, test = folder / "ref.wav", folder / "test.wav"
    sf.write(str(ref), reps, RATE, subtype="PCM_16")
    sf.write(str(test), reps + noise, RATE, subtype="PCM_16")
    return ref, test, len(reps)


@pytest.mark.parametrize("verb", ["threshold", "nmr"])
def test_cli_on_three_minutes_stays_within_a_bounded_working_set(long_wavs: tuple[Path, Path, int], verb: str) -> None:
    # before: the file was read whole and analysed in float64 at once (1 GiB for the filterbank alone)
    ref, test, n = long_wavs
    argv = ["threshold", str(ref)] if verb == "threshold" else ["nmr", str(ref), str(test)]
    proc = subprocess.run([sys.executable, "-c", CLI_PROBE, *argv], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr
    status, growth = proc.stdout.splitlines()[0].split()
    assert status == "0"
    assert float(growth) <= WORKING_MIB, growth
    assert f"{n / RATE:.2f} s" in proc.stdout


def test_cli_reads_in_blocks_what_load_wav_reads_whole(long_wavs: tuple[Path, Path, int],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from percloss.cli import main
    from percloss.data import load_wav

    ref, test, _ = long_wavs
    x, rate = load_wav(ref)
    a = psychoacoustic_model1(x[: 30 * RATE].double(), rate)
    short = ref.parent / "short.wav"
    sf.write(str(short), sf.read(str(ref), frames=30 * RATE)[0], RATE, subtype="PCM_16")
    assert main(["threshold", str(short)]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.strip()[:2].strip().isdigit()]
    smr = np.array([float(r[-1]) for r in rows])
    np.testing.assert_allclose(smr, a.smr_db.mean(0).numpy(), atol=0.051)  # printed to 0.1 dB
    y, _ = load_wav(test)
    r = nmr(x.double(), y.double(), rate)
    assert main(["nmr", str(ref), str(test)]) == 0
    out = capsys.readouterr().out
    assert f"NMR (mean over frames and bands): {float(r.mean_db):.2f} dB" in out
    assert f"frames with audible noise (a band above 0 dB): {100 * float(r.audible_fraction):.1f} %" in out
