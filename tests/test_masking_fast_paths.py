"""Model 1's faster paths against their definitions: the scalefactor lookup, the filterbank's precision,
the spreading sum over (frame, masker) pairs, the tonal test as a running maximum, the decimation's
compaction. Real music throughout (band_sectoid then piano_bach)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import percloss.masking as m
from percloss import iso_tables
from percloss.data import load_clip

RATE = 44100


@pytest.fixture(scope="module")
def music() -> torch.Tensor:
    return torch.cat([load_clip("band_sectoid"), load_clip("piano_bach")])[: 12 * RATE].contiguous()


def test_scalefactor_index_is_the_count_of_entries_not_below_the_peak() -> None:
    table = np.asarray(iso_tables.SCALEFACTORS)
    peaks = np.concatenate([table, np.nextafter(table, 0), np.nextafter(table, 3), [0.0, 1e-12, 2.5, 1e30]])
    got = m.scalefactor_index(torch.as_tensor(peaks)).numpy()
    expected = np.clip((table[None, :] >= peaks[:, None]).sum(-1) - 1, 0, len(table) - 1)
    assert np.array_equal(got, expected)
    # float32 peaks are compared in float64, as before
    p32 = torch.as_tensor(peaks[:63], dtype=torch.float32)
    expected32 = np.clip((table[None, :] >= p32.double().numpy()[:, None]).sum(-1) - 1, 0, len(table) - 1)
    assert np.array_equal(m.scalefactor_index(p32).numpy(), expected32)


@pytest.mark.parametrize("n_fft", [512, 1024])
def test_float32_gets_float64s_scalefactors(music: torch.Tensor, n_fft: int) -> None:
    # the filterbank runs in float64: a float32 one moved about 1 in 10 000 block maxima of quiet subbands
    # across a scalefactor step (2 dB)
    a = m.scalefactor_level_db(music.double(), n_fft)
    b = m.scalefactor_level_db(music.float(), n_fft)
    torch.testing.assert_close(b.double(), a, rtol=0, atol=1e-4)


def test_global_threshold_equals_the_explicit_masker_sum(music: torch.Tensor) -> None:
    t = m.model_tables(RATE, 512)
    a = m.psychoacoustic_model1(music[: 2 * RATE].double(), RATE, spl="spectrum")
    k_count = a.tonal_db.shape[-1]
    rows = np.concatenate([t.line_to_grid, t.line_to_grid[a.nontonal_line.numpy()]])
    levels = torch.cat([a.tonal_db, a.nontonal_db], -1)  # (F, K + B), -inf: no masker
    kind = torch.zeros(levels.shape, dtype=torch.bool)
    kind[:, :k_count] = True
    row = torch.as_tensor(rows).expand(levels.shape[0], -1)
    expected = m.threshold_from_maskers(row, levels, kind, t)  # spreading_db's four pieces, all pairs at once
    torch.testing.assert_close(a.global_threshold_db, expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize("n_fft", [512, 1024])
def test_tonal_test_is_the_definition(music: torch.Tensor, n_fft: int) -> None:
    t = m.model_tables(RATE, n_fft)
    level = m.spectrum_db(music[: 3 * RATE].double(), n_fft).reshape(-1, n_fft // 2 + 1)
    tonal, _ = m.tonal_maskers(level, t)
    x = level.numpy()
    expected = np.zeros(x.shape, dtype=bool)
    for k in range(x.shape[1]):
        reach = m._neighbourhood(n_fft, k)
        if reach == 0:
            continue
        ok = (x[:, k] > x[:, k - 1]) & (x[:, k] >= x[:, k + 1])
        for j in range(2, reach + 1):
            left = x[:, k - j]
            right = x[:, k + j] if k + j < x.shape[1] else np.full(len(x), -np.inf)
            ok &= (x[:, k] - left >= 7.0) & (x[:, k] - right >= 7.0)
        expected[:, k] = ok
    assert expected.sum() > 100
    assert np.array_equal(tonal.numpy(), expected)


def test_decimation_on_frames_with_and_without_tonal_lines(music: torch.Tensor) -> None:
    t = m.model_tables(RATE, 512)
    level = m.spectrum_db(music[: 2 * RATE].double(), 512)
    level = torch.cat([level, torch.full((3, 257), -200.0, dtype=torch.float64)])  # frames without maskers
    tonal, tonal_db = m.tonal_maskers(level, t)
    nontonal = m.nontonal_maskers(level, tonal, t)
    kept, _ = m.decimate_maskers(tonal, tonal_db, nontonal, t)
    z = t.bark[t.line_to_grid]
    ath = t.threshold_in_quiet[t.line_to_grid]
    for f in range(level.shape[0]):  # the walk of the docstring, frame by frame
        lines = [k for k in np.flatnonzero(tonal[f].numpy()) if tonal_db[f, k] >= ath[k]]
        keep = set(lines)
        cur = None
        for k in lines:
            if cur is not None and z[k] - z[cur] < 0.5:
                if tonal_db[f, k] > tonal_db[f, cur]:
                    keep.discard(cur)
                else:
                    keep.discard(k)
                    continue
            cur = k
        assert sorted(np.flatnonzero(kept[f].numpy()).tolist()) == sorted(keep), f
    assert not kept[-3:].any()
