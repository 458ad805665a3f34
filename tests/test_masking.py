"""Psychoacoustic model 1: tables vs the standard, batched vs a per-frame numpy
reference on real clips, and properties from psychoacoustics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from masking_reference import analyse as reference_analyse
from masking_reference import scalefactor_term

from percloss import iso_tables
from percloss.data import load_clip
from percloss.masking import (
    ISO_FULL_SCALE_SINE_DB,
    analyse_spectrum,
    decimate_maskers,
    global_masking_threshold,
    model_tables,
    nontonal_maskers,
    polyphase_analysis,
    psychoacoustic_model1,
    scalefactor_level_db,
    spectrum_db,
    tonal_maskers,
)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

# Rows (line, Bark, threshold in quiet dB) printed in ISO/IEC 11172-3 Tables
# D.1b (44.1 kHz, Layer I), D.1c (48 kHz, Layer I), D.1e (44.1 kHz, Layer II).
STANDARD_ROWS = {
    (44100, 512): [(1, 0.850, 25.87), (2, 1.694, 14.85), (12, 8.723, 3.25), (39, 16.260, -4.98),
                   (48, 17.447, -2.82), (50, 17.680, -2.06), (96, 21.457, 5.35),
                   (100, 21.677, 6.15), (184, 24.070, 63.49), (188, 24.125, 68.00),
                   (232, 24.574, 68.00)],
    (48000, 512): [(1, 0.925, 24.17), (35, 16.124, -4.98), (96, 21.906, 7.19),
                   (168, 24.054, 61.94), (172, 24.114, 68.00), (216, 24.597, 68.00)],
    (44100, 1024): [(1, 0.425, 45.05), (3, 1.273, 18.70), (45, 12.900, 0.02),
                    (192, 21.457, 5.35), (200, 21.677, 6.15), (368, 24.070, 63.49),
                    (464, 24.574, 68.00)],
}
STANDARD_SIZES = {(44100, 512): 106, (48000, 512): 102, (32000, 512): 108,
                  (44100, 1024): 130, (48000, 1024): 126, (32000, 1024): 132}


@pytest.mark.parametrize("key", list(STANDARD_ROWS))
def test_tables_reproduce_the_standard(key: tuple[int, int]) -> None:
    t = model_tables(*key)
    assert t.standard
    for line, bark, ath in STANDARD_ROWS[key]:
        i = int(np.flatnonzero(t.grid_lines == line)[0])
        assert t.bark[i] == bark  # the printed value, not a recomputation
        assert t.threshold_in_quiet[i] == ath


@pytest.mark.parametrize("key", list(STANDARD_SIZES))
def test_tables_are_the_printed_columns_and_follow_the_grid_rule(key: tuple[int, int]) -> None:
    rate, n_fft = key
    t = model_tables(rate, n_fft)
    rows = np.array(iso_tables.THRESHOLD_TABLES[(1 if n_fft == 512 else 2, rate)])
    assert np.array_equal(t.grid_lines, rows[:, 0].astype(int))
    assert np.array_equal(t.bark, rows[:, 1]) and np.array_equal(t.threshold_in_quiet, rows[:, 2])
    # the grid of Annex D: every line to 48, then every 2nd to 96, 4th (, 8th for Layer II)
    steps = np.diff(t.grid_lines)
    assert set(steps[t.grid_lines[:-1] < 48]) == {1}
    assert set(steps[(t.grid_lines[:-1] >= 50) & (t.grid_lines[:-1] < 96)]) == {2}
    # the printed Bark values are Zwicker's formula rounded to 3 decimals, up to 0.001
    assert np.abs(t.bark - np.round(13 * np.arctan(0.76e-3 * t.frequency)
                                    + 3.5 * np.arctan((t.frequency / 7500) ** 2), 3)).max() <= 0.0011


def test_maskers_take_the_nearest_grid_row_and_the_lower_one_on_a_tie() -> None:
    t = model_tables(44100, 512)  # grid: every 2nd line from 50 to 96, every 4th from 100
    row = {int(line): i for i, line in enumerate(t.grid_lines)}
    assert t.line_to_grid[96] == row[96]
    assert t.line_to_grid[97] == row[96]
    assert t.line_to_grid[98] == row[96]  # midway between 96 and 100: the lower row
    assert t.line_to_grid[99] == row[100]
    assert t.line_to_grid[49] == row[48]  # midway between 48 and 50
    assert t.line_to_grid[0] == 0 and t.line_to_grid[256] == len(t.grid_lines) - 1


@pytest.mark.parametrize("key", list(STANDARD_SIZES))
def test_table_sizes_match_the_standard(key: tuple[int, int]) -> None:
    assert len(model_tables(*key).grid_lines) == STANDARD_SIZES[key]


def test_other_rates_get_derived_tables_that_stay_below_nyquist() -> None:
    for rate in (16000, 11025, 22050):
        t = model_tables(rate)
        assert not t.standard
        assert t.frequency[-1] < min(20000, rate / 2)
        assert np.all(np.diff(t.band_boundaries) > 0)
        assert np.all(np.diff(t.bark) > 0)


def clip_excerpt(name: str, rate: int, seconds: float, offset: float) -> torch.Tensor:
    x = load_clip(name, rate).double()
    start = int(offset * rate)
    return x[start : start + int(seconds * rate)]


REAL_CASES = [
    ("piano_bach", 44100, 512), ("band_sectoid", 44100, 512), ("band_sectoid", 48000, 512),
    ("piano_bach", 32000, 512), ("drums_hydrogen", 44100, 1024), ("speech_female", 16000, 512),
]


@pytest.mark.parametrize("name,rate,n_fft", REAL_CASES)
def test_batched_model_matches_per_frame_reference_on_real_clips(name: str, rate: int, n_fft: int) -> None:
    x = clip_excerpt(name, rate, seconds=0.25, offset=1.0)
    t = model_tables(rate, n_fft)
    hop = 384 if n_fft == 512 else 1152
    ref = reference_analyse(x.numpy(), t, hop)
    got = psychoacoustic_model1(x, rate, n_fft, spl="spectrum")
    assert got.tonal.shape == ref["tonal"].shape
    # FFT vs the DFT written out: equal to 1e-6 dB down to 140 dB below full scale
    # (below that both sums' rounding, ~1e-16 of the frame's peak power, shows)
    loud = ref["spectrum_db"] > -60
    np.testing.assert_allclose(got.spectrum_db.numpy()[loud], ref["spectrum_db"][loud], atol=1e-6)
    np.testing.assert_allclose(got.spectrum_db.numpy(), ref["spectrum_db"], atol=1e-3)
    assert np.array_equal(got.tonal.numpy(), ref["tonal"])
    np.testing.assert_allclose(got.global_threshold_db.numpy(), ref["global_threshold_db"], atol=0.01)
    np.testing.assert_allclose(got.min_threshold_db.numpy(), ref["min_threshold_db"], atol=0.01)
    np.testing.assert_allclose(got.smr_db.numpy(), ref["smr_db"], atol=0.01)
    assert got.tonal.any(), "a real music/speech excerpt has tonal maskers"


def test_float32_agrees_with_float64() -> None:
    x = clip_excerpt("piano_bach", 44100, seconds=1.0, offset=1.0)
    g64 = global_masking_threshold(x, 44100, where="grid")
    g32 = global_masking_threshold(x.float(), 44100, where="grid").double()
    close = (g64 - g32).abs() < 0.01
    # float32 can flip a 7 dB tonal decision sitting exactly on the edge; allow 0.5 %
    assert close.double().mean() > 0.995


def test_batched_equals_item_by_item() -> None:
    a = clip_excerpt("piano_bach", 44100, 0.2, 1.0)
    b = clip_excerpt("band_sectoid", 44100, 0.2, 2.0)
    both = global_masking_threshold(torch.stack([a, b]).reshape(2, 1, -1), 44100)
    assert torch.equal(both[0, 0], global_masking_threshold(a, 44100))
    assert torch.equal(both[1, 0], global_masking_threshold(b, 44100))


def tone(freq: float, amplitude: float, rate: int = 44100, n: int = 4096) -> torch.Tensor:
    t = torch.arange(n, dtype=torch.float64) / rate
    return amplitude * torch.sin(2 * math.pi * freq * t)


def test_full_scale_sine_reads_the_calibrations_level() -> None:
    line = 40
    x = tone(line * 44100 / 512, 1.0)
    # Annex D: PN + 10 log10 |1/N sum sqrt(8/3) hann s e|^2 = 90.302 + 10 log10(1/6)
    assert float(spectrum_db(x)[..., line].max()) == pytest.approx(82.5205, abs=1e-4)
    assert ISO_FULL_SCALE_SINE_DB == pytest.approx(90.302 - 7.78151, abs=1e-5)
    assert float(spectrum_db(x, calibration="sine96")[..., line].max()) == pytest.approx(96.0, abs=1e-9)
    # frame_max96: any level reads 96 dB at the frame's loudest line
    for amplitude in (1.0, 1e-3):
        level = spectrum_db(amplitude * x, calibration="frame_max96")
        assert torch.allclose(level.amax(-1), torch.full_like(level.amax(-1), 96.0))


def test_calibrations_shift_the_signal_against_the_threshold_in_quiet() -> None:
    x = clip_excerpt("piano_bach", 44100, 0.3, 1.0) * 0.1
    iso = spectrum_db(x)
    assert torch.allclose(spectrum_db(x, calibration="sine96") - iso, torch.full_like(iso, 96 - ISO_FULL_SCALE_SINE_DB))
    # the threshold in quiet stays where it is, so a louder calibration masks less of it
    a_iso = psychoacoustic_model1(x, 44100)
    a_96 = psychoacoustic_model1(x, 44100, calibration="sine96")
    assert a_96.calibration == "sine96"
    assert float((a_96.smr_db - a_iso.smr_db).mean()) > 3.0
    # silence stays silent under the per-frame normalisation
    silent = spectrum_db(torch.zeros(2048, dtype=torch.float64), calibration="frame_max96")
    assert float(silent.max()) == -200.0
    # a loss's input shares its target's offset
    y = 0.5 * x
    shared = spectrum_db(y, calibration="frame_max96", reference=x)
    assert torch.allclose(shared - spectrum_db(x, calibration="frame_max96"), torch.full_like(shared, 20 * math.log10(0.5)))


@pytest.mark.parametrize("device", DEVICES)
def test_silence_gives_the_threshold_in_quiet(device: str) -> None:
    for rate in (32000, 44100, 48000, 16000):
        t = model_tables(rate)
        g = global_masking_threshold(torch.zeros(2048, device=device, dtype=torch.float64), rate, where="grid")
        np.testing.assert_allclose(g.cpu().numpy(), np.broadcast_to(t.threshold_in_quiet, g.shape), atol=1e-9)


def test_tone_threshold_peaks_at_the_tone_and_spreads_asymmetrically() -> None:
    t = model_tables(44100)
    line = 28  # 2.4 kHz, a grid point
    x = tone(line * 44100 / 512, 0.5)
    a = psychoacoustic_model1(x, 44100)
    g = a.global_threshold_db[2].numpy()
    i0 = int(np.flatnonzero(t.grid_lines == line)[0])
    excess = g - t.threshold_in_quiet
    assert abs(int(np.argmax(g)) - i0) <= 1
    z = t.bark - t.bark[i0]
    below = (z > -2.5) & (z < -0.5)
    above = (z > 1.5) & (z < 6)
    slope_below = np.polyfit(z[below], g[below], 1)[0]
    slope_above = np.polyfit(z[above], g[above], 1)[0]
    level = float(a.tonal_db[2, line])
    assert slope_below > 15  # rises steeply towards the masker (17 dB/Bark - level terms)
    # above the masker the spreading function falls at (17 - 0.15 X) dB/Bark
    assert slope_above == pytest.approx(-(17 - 0.15 * level), abs=0.3)
    assert abs(slope_above) < slope_below
    assert excess[i0] > 40


def test_louder_maskers_spread_further_upwards() -> None:
    t = model_tables(44100)
    line = 28
    i0 = int(np.flatnonzero(t.grid_lines == line)[0])
    z = t.bark - t.bark[i0]
    above = (z > 1.5) & (z < 3.5)  # where both thresholds lie well above the threshold in quiet

    def slope(amplitude: float) -> float:
        g = global_masking_threshold(tone(line * 44100 / 512, amplitude), 44100, where="grid")[2].numpy()
        return float(np.polyfit(z[above], g[above], 1)[0])

    assert slope(1.0) > slope(0.1) + 2.5  # 0.15 dB/Bark per dB of masker level: 3 dB/Bark for 20 dB


def test_doubling_the_signal_raises_the_threshold_by_6_db() -> None:
    x = clip_excerpt("piano_bach", 44100, 0.5, 1.0) * 0.25
    g1 = global_masking_threshold(x, 44100, where="grid")
    g2 = global_masking_threshold(2 * x, 44100, where="grid")
    ath = torch.as_tensor(model_tables(44100).threshold_in_quiet)
    masked = g1 > ath + 20  # well above the threshold in quiet, where masking rules
    assert masked.sum() > 100
    rise = (g2 - g1)[masked]
    # the spreading function depends on masker level (0.4 X, 0.15 X terms), so the
    # rise is 6.02 dB plus that level dependence; its median sits near 6.02 dB
    assert float(rise.median()) == pytest.approx(20 * math.log10(2), abs=0.6)
    assert float(rise.min()) > 3.0


def test_white_noise_gives_a_threshold_smoother_than_the_noise() -> None:
    # Model 1 places one non-tonal masker per critical band, so its threshold
    # ripples at the band grid; it must still be much smoother than the
    # noise's own line spectrum, across frequency and from frame to frame.
    g = torch.Generator().manual_seed(0)
    x = 0.05 * torch.randn(44100, generator=g, dtype=torch.float64)
    a = psychoacoustic_model1(x, 44100)
    t = model_tables(44100)
    thr = a.global_threshold_db
    spec = a.spectrum_db[..., torch.as_tensor(t.grid_lines)]
    mid = torch.as_tensor((t.frequency > 500) & (t.frequency < 12000))
    across_thr = thr[:, mid].diff(dim=-1).std(-1).mean()
    across_spec = spec[:, mid].diff(dim=-1).std(-1).mean()
    assert across_thr < 0.75 * across_spec
    over_time_thr = (thr - thr.mean(0)).std(0)[mid].mean()
    over_time_spec = (spec - spec.mean(0)).std(0)[mid].mean()
    assert over_time_thr < 0.6 * over_time_spec
    assert float(a.tonal.double().sum(-1).mean()) < 6  # few chance peaks pass the 7 dB test


def test_tone_in_noise_is_found_as_the_tonal_component() -> None:
    g = torch.Generator().manual_seed(1)
    line = 60
    x = tone(line * 44100 / 512, 0.3, n=8192) + 0.003 * torch.randn(8192, generator=g, dtype=torch.float64)
    a = psychoacoustic_model1(x, 44100)
    assert bool(a.tonal[..., line].all())
    # chance peaks of the noise may pass the 7 dB test, but far below the tone
    others = torch.where(a.tonal, a.tonal_db, torch.full_like(a.tonal_db, -1e9))
    others[..., line] = -1e9
    assert bool((a.tonal_db[..., line] > others.amax(-1) + 30).all())


def test_the_half_bark_rule_walks_the_list_of_survivors() -> None:
    # three tonal maskers A < B < C, each within 0.5 Bark of the next but A and
    # C further apart; levels fall A > B > C. Annex D's sliding comparison drops
    # B (against A), then compares A with C: C stays. Dropping any masker that
    # has a stronger one within 0.5 Bark would also drop C (because of B).
    rate, n_fft = 44100, 512
    t = model_tables(rate, n_fft)
    lines = (52, 56, 60)
    z = t.bark[t.line_to_grid[list(lines)]]
    assert z[1] - z[0] < 0.5 and z[2] - z[1] < 0.5 and z[2] - z[0] >= 0.5
    n = torch.arange(4096, dtype=torch.float64)
    x = sum(10 ** ((level - ISO_FULL_SCALE_SINE_DB) / 20) * torch.cos(2 * math.pi * k * n / n_fft)
            for k, level in zip(lines, (80.0, 70.0, 60.0), strict=True))
    level = spectrum_db(x, n_fft)
    tonal, tonal_db = tonal_maskers(level, t)
    assert bool(tonal[:, list(lines)].all()), "all three are tonal before decimation"
    kept, _ = decimate_maskers(tonal, tonal_db, nontonal_maskers(level, tonal, t), t)
    assert kept[:, 52].all() and not kept[:, 56].any() and kept[:, 60].all()


@pytest.mark.parametrize("n_fft,first,last", [(512, 3, 249), (1024, 3, 499)])
def test_tonal_search_covers_the_standards_range_only(n_fft: int, first: int, last: int) -> None:
    t = model_tables(48000, n_fft)
    # a flat spectrum with an isolated 40 dB peak on one line: tonal inside the range only
    for k, expected in ((first - 1, False), (first, True), (last, True), (last + 1, False)):
        level = torch.zeros(1, n_fft // 2 + 1, dtype=torch.float64)
        level[0, k] = 40.0
        tonal, _ = tonal_maskers(level, t)
        assert bool(tonal[0, k]) is expected, (n_fft, k)


@pytest.mark.parametrize("name,rate,n_fft", [("band_sectoid", 44100, 512), ("piano_bach", 32000, 1024)])
def test_scalefactor_term_matches_the_flow_chart_reference(name: str, rate: int, n_fft: int) -> None:
    x = clip_excerpt(name, rate, seconds=0.12, offset=1.0)
    got = scalefactor_level_db(x, n_fft)
    hop, nb = (384, 12) if n_fft == 512 else (1152, 36)
    for m in range(got.shape[0]):
        first = int(np.floor((m * hop + n_fft / 2 + 225 - 16 * (nb - 1)) / 32 + 0.5))
        np.testing.assert_allclose(got[m].numpy(), scalefactor_term(x.numpy(), first, nb), atol=1e-9)


def test_subband_level_is_the_larger_of_spectrum_and_scalefactor_term() -> None:
    x = clip_excerpt("band_sectoid", 44100, seconds=0.5, offset=1.0)
    a = psychoacoustic_model1(x, 44100)
    b = psychoacoustic_model1(x, 44100, spl="spectrum")
    assert a.scalefactor_db is not None and b.scalefactor_db is None
    assert torch.equal(a.spl_db, torch.maximum(a.spectrum_max_db, a.scalefactor_db))
    assert torch.equal(a.min_threshold_db, b.min_threshold_db)
    # on real music the scalefactor term is the larger one in most subbands
    gain = a.smr_db - b.smr_db
    assert float((gain > 0).double().mean()) > 0.5 and float(gain.min()) >= 0.0


def test_polyphase_filterbank_puts_a_subband_centre_tone_in_its_subband() -> None:
    n = torch.arange(32 * 64, dtype=torch.float64)
    for sb in (0, 5, 20):
        x = torch.cos(2 * math.pi * (sb + 0.5) / 64 * n)  # full scale at the subband's centre
        s = polyphase_analysis(x)[20:]  # after the filter's 512-sample start-up
        energy = s.pow(2).sum(0)
        assert int(energy.argmax()) == sb
        assert float(energy[sb] / energy.sum()) > 0.999
        # critically sampled, the subband signal's samples reach 0.71 .. 1 of the amplitude
        assert 0.70 < float(s[:, sb].abs().max()) < 1.01


def test_spectrum_is_differentiable() -> None:
    g = torch.Generator().manual_seed(2)
    x = torch.randn(600, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s: spectrum_db(s), (x,))


def test_threshold_is_detached() -> None:
    x = torch.randn(1024, dtype=torch.float64, requires_grad=True)
    assert not global_masking_threshold(x, 44100).requires_grad


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"x": torch.full((1024,), float("nan"))}, "x contains NaN"),
        ({"x": torch.zeros(100)}, "at least 512 samples"),
        ({"x": torch.zeros(1024, dtype=torch.int16)}, "floating-point"),
        ({"x": torch.zeros(1024), "sample_rate": 0}, "sample_rate"),
        ({"x": torch.zeros(1024), "sample_rate": 4000}, "too low"),
        ({"x": torch.zeros(2048), "n_fft": 256}, "n_fft"),
        ({"x": torch.zeros(2048), "hop": 0}, "hop"),
        ({"x": torch.zeros(2048), "calibration": "spl96"}, "calibration"),
        ({"x": torch.zeros(2048), "spl": "max"}, "spl"),
        ({"x": torch.zeros(2048), "ath_offset_db": float("nan")}, "ath_offset_db"),
        ({"x": torch.zeros(2048), "ath_offset_db": True}, "ath_offset_db"),
    ],
)
def test_bad_input_gets_a_clear_error(kwargs: dict[str, object], match: str) -> None:
    args = {"x": torch.zeros(1024), "sample_rate": 44100} | kwargs
    with pytest.raises(ValueError, match=match):
        psychoacoustic_model1(**args)  # type: ignore[arg-type]


def test_analyse_spectrum_rejects_wrong_line_count() -> None:
    with pytest.raises(ValueError, match="level_db"):
        analyse_spectrum(torch.zeros(3, 100), 44100)


def test_the_module_form_is_the_function_with_settings_checked_once() -> None:
    from percloss.masking import PsychoacousticModel1

    x = load_clip("piano_bach", 44100)[:8192].double()
    model = PsychoacousticModel1(44100, calibration="sine96", spl="spectrum")
    a, b = model(x), psychoacoustic_model1(x, 44100, calibration="sine96", spl="spectrum")
    assert torch.equal(a.smr_db, b.smr_db) and torch.equal(a.threshold_db, b.threshold_db)
    with pytest.raises(ValueError, match="calibration"):
        PsychoacousticModel1(44100, calibration="dbfs")
    with pytest.raises(ValueError, match="n_fft"):
        PsychoacousticModel1(44100, n_fft=2048)
    with pytest.raises(ValueError, match="sample_rate"):
        PsychoacousticModel1(True)  # type: ignore[arg-type]


def test_model_1_modules_own_their_tables_as_buffers() -> None:
    """The module's tensors are buffers: .double() converts them and the module then uses its own (no cache)."""
    import percloss.masking as m
    from percloss.losses import NoiseModulationLoss, PriorityWeightedLoss

    x = load_clip("piano_bach", 44100)[:8192]
    model = m.PsychoacousticModel1(44100)
    names = {n for n, _ in model.named_buffers()}
    assert {"constants.ath_grid", "constants.offset", "constants.member", "constants.reach"} <= names
    assert model.state_dict() == {}  # derived from the tables, not saved
    model.double()
    assert model.constants.offset.dtype == torch.float64
    used = []
    original = m._constants
    m._constants = lambda t, v, c=None: used.append(c is not None and c.usable_for(v)) or original(t, v, c)
    try:
        a = model(x.double())
    finally:
        m._constants = original
    assert used and all(used)  # every step took the module's own buffers
    b = m.psychoacoustic_model1(x.double(), 44100)
    assert torch.equal(a.threshold_db, b.threshold_db) and torch.equal(a.smr_db, b.smr_db)
    for loss in (PriorityWeightedLoss(44100), NoiseModulationLoss(44100)):
        assert loss.double().model1.ath_grid.dtype == torch.float64
