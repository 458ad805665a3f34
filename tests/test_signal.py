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
