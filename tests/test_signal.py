"""peak_normalize: one function for tensors and arrays."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from percloss import data
from percloss.signal import peak_normalize


def test_tensor_and_array_give_the_same_samples_row_by_row() -> None:
    x = data.load_clip("speech_male", 16000)[:4000].double()
    rows = torch.stack([x, 0.1 * x, torch.zeros_like(x)])
    t = peak_normalize(rows, 0.5)
    a = peak_normalize(rows.numpy(), 0.5)
    assert isinstance(t, torch.Tensor) and isinstance(a, np.ndarray) and a.dtype == np.float64
    np.testing.assert_array_equal(t.numpy(), a)
    assert t[0].abs().max() == pytest.approx(0.5) and t[1].abs().max() == pytest.approx(0.5)
    assert torch.equal(t[2], torch.zeros_like(x))  # silence stays silence
    np.testing.assert_allclose(a[1], a[0], rtol=1e-12, atol=1e-15)  # a scaled copy normalises to the same row
    assert peak_normalize(x.float()).dtype == torch.float32
    assert peak_normalize(x.float().numpy()).dtype == np.float32


@pytest.mark.parametrize("bad", [np.array([1, 2]), np.array([]), np.array([0.1, np.nan]), torch.tensor([np.inf]),
                                 torch.tensor([1, 2])])
def test_bad_signals_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="x"):
        peak_normalize(bad)  # type: ignore[call-overload]


@pytest.mark.parametrize("peak", [0.0, -1.0, float("nan"), True])
def test_peak_must_be_positive(peak: object) -> None:
    with pytest.raises(ValueError, match="peak"):
        peak_normalize(np.ones(4), peak)  # type: ignore[call-overload]


def test_stft_power_db_reads_a_sine_at_its_window_gain() -> None:
    import math

    from percloss.signal import floored_db_pair, stft_power_db

    n_fft, k = 512, 32
    t = torch.arange(8192, dtype=torch.float64)
    x = torch.sin(2 * math.pi * k * t / n_fft)  # on bin k
    db = stft_power_db(torch.stack([x, 0.5 * x]), n_fft)
    assert db.shape == (2, n_fft // 2 + 1, 8192 // (n_fft // 4) + 1)
    peak = 20 * math.log10(torch.hann_window(n_fft, dtype=torch.float64).sum().item() / 2)  # |X(k)| = sum(w)/2
    assert float(db[0, k, 8].item()) == pytest.approx(peak, abs=1e-6)
    assert float((db[0, k, 8] - db[1, k, 8]).item()) == pytest.approx(20 * math.log10(2), abs=1e-9)
    ref, test = floored_db_pair(x, 1e-6 * x, n_fft, -60.0)
    top = float(stft_power_db(x, n_fft).max())
    assert float(ref.min()) == pytest.approx(top - 60.0) and float(test.max()) == pytest.approx(top - 60.0)
