"""The tone-threshold grid behind chapter 2's site widget (percloss.experiments.masking_demo)."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from percloss.experiments.masking_demo import (
    MASKING_FLOOR_DB,
    interpolate_threshold,
    tone_threshold,
    tone_threshold_grid,
)
from percloss.masking import model_tables

GRID = tone_threshold_grid(np.array([250.0, 500.0, 1000.0, 2000.0, 4000.0]), np.array([30.0, 50.0, 70.0]))


def test_grid_points_reproduce_model_1() -> None:
    for i, f in enumerate(GRID.tone_hz):
        for j, level in enumerate(GRID.tone_db):
            direct = tone_threshold(np.array([f]), np.array([level]))[0]
            np.testing.assert_allclose(interpolate_threshold(GRID, float(f), float(level)), direct, atol=0.01)
            assert GRID.masking_db[i, j].max() > level - 25  # the tone masks near itself


def test_between_levels_the_parts_blend_linearly_in_db() -> None:
    # halfway between 50 and 70 dB at 1 kHz: the tone's part is the mean of the two parts (in dB)
    part = 0.5 * (GRID.masking_db[2, 1] + GRID.masking_db[2, 2])
    expected = 10 * np.log10(10 ** (GRID.threshold_in_quiet / 10) + 10 ** (part / 10))
    np.testing.assert_allclose(interpolate_threshold(GRID, 1000.0, 60.0), expected, atol=1e-9)
    # and model 1 itself is close to that there: its spreading is linear in the masker's level (dB)
    row = int(np.argmin(np.abs(GRID.frequency - 1000.0)))
    direct = tone_threshold(np.array([1000.0]), np.array([60.0]))[0]
    assert abs(direct[row] - expected[row]) < 0.5


def test_louder_tone_raises_the_threshold_near_it_not_far_away() -> None:
    quiet, loud = interpolate_threshold(GRID, 1000.0, 40.0), interpolate_threshold(GRID, 1000.0, 70.0)
    near = np.abs(GRID.frequency - 1000.0) < 150
    far = GRID.frequency > 12000
    row = int(np.argmin(np.abs(GRID.frequency - 1000.0)))
    assert loud[row] - quiet[row] == pytest.approx(30.0, abs=1.0)  # at the tone, 30 dB louder: 30 dB higher
    assert (loud[near] - quiet[near]).min() > 15
    np.testing.assert_allclose(loud[far], GRID.threshold_in_quiet[far], atol=0.01)
    assert np.all(loud >= GRID.threshold_in_quiet - 1e-9)  # never under the threshold in quiet


def test_outside_the_grid_clamps_and_page_data_round_trips() -> None:
    np.testing.assert_allclose(interpolate_threshold(GRID, 100.0, 10.0), interpolate_threshold(GRID, 250.0, 30.0))
    data = GRID.page_data()
    stored = np.frombuffer(base64.b64decode(data["masking"]), dtype=np.uint8).reshape(GRID.masking_db.shape)
    np.testing.assert_allclose(data["floor"] + stored / 2, GRID.masking_db, atol=0.25 + 1e-9)
    assert data["frequency"] == pytest.approx(list(model_tables(44100).frequency), abs=1e-3)
    assert GRID.masking_db.min() == MASKING_FLOOR_DB


def test_bad_arguments_name_the_problem() -> None:
    with pytest.raises(ValueError, match="tone_hz must be 1-D, increasing"):
        tone_threshold_grid(np.array([1000.0, 500.0]))
    with pytest.raises(ValueError, match="tone_hz must lie in"):
        tone_threshold(np.array([30000.0]), np.array([60.0]))
    with pytest.raises(ValueError, match="tone_hz must be >"):
        interpolate_threshold(GRID, -5.0, 60.0)
