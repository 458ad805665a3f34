"""The deep-audio-prior experiment: generator, fitting loop, measures, claims."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from percloss import data
from percloss.experiments import prior
from percloss.experiments.prior_measures import objective_measures, spectral_excess
from percloss.signal import peak_normalize


def test_generator_matches_the_2018_architecture() -> None:
    g = prior.UpsamplingGenerator()
    kernels = [conv.kernel_size[0] for conv in g.convs]
    assert kernels == [3, 15, 25, 25, 25, 25, 25]
    assert all(conv.bias is None for conv in g.convs)
    widths = [(conv.in_channels, conv.out_channels) for conv in g.convs]
    assert widths[0] == (128, 32) and widths[-1] == (32, 1)
    expected = 128 * 32 * 3 + 32 * 32 * (15 + 25 * 4) + 32 * 25
    assert sum(p.numel() for p in g.parameters()) == expected
    assert g(torch.randn(3, 128)).shape == (3, 8192)


def test_generator_rejects_a_wrong_latent() -> None:
    with pytest.raises(ValueError, match="z must have shape"):
        prior.UpsamplingGenerator()(torch.randn(2, 64))


def _target() -> torch.Tensor:
    # a test signal, not music: two decaying partials
    t = torch.arange(8192) / 11025
    return 0.5 * torch.sin(2 * math.pi * 220 * t) * torch.exp(-3 * t) + 0.2 * torch.sin(2 * math.pi * 1760 * t)


def test_fit_is_deterministic_and_mse_decreases() -> None:
    target = _target()
    kwargs = dict(iterations=12, checkpoint_every=6, progress=False, device=torch.device("cpu"), lr=1e-3)
    curve1, ckpt1, out1 = prior.fit_prior(target, prior.make_loss("mse", 11025), **kwargs)
    curve2, _, out2 = prior.fit_prior(target, prior.make_loss("mse", 11025), **kwargs)
    assert ckpt1 == [6, 12]
    assert (curve1 == curve2).all()
    torch.testing.assert_close(out1[-1], out2[-1], rtol=0, atol=0)
    assert curve1[-1] < curve1[0]


def test_fit_rejects_a_wrong_target() -> None:
    with pytest.raises(ValueError, match="target"):
        prior.fit_prior(torch.zeros(4096), prior.make_loss("mse", 11025), iterations=1, checkpoint_every=1)
    with pytest.raises(ValueError, match="target"):
        bad = _target().clone()
        bad[3] = float("nan")
        prior.fit_prior(bad, prior.make_loss("mse", 11025), iterations=1, checkpoint_every=1)


def test_unknown_loss_and_mode_are_rejected() -> None:
    with pytest.raises(ValueError, match="name"):
        prior.make_loss("l1", 11025)
    with pytest.raises(ValueError, match="mode"):
        prior.PriorConfig.for_mode("fast")


def test_modes_follow_the_work_in_full() -> None:
    full = prior.PriorConfig.for_mode("full")
    assert (full.iterations, full.checkpoint_every, full.lr, full.betas) == (1000, 250, 1e-4, (0.0, 0.9))
    quick = prior.PriorConfig.for_mode("quick")
    assert len(quick.clips) == 2 and quick.iterations < 100


def test_peak_normalize_keeps_silence_and_shape() -> None:
    x = torch.stack([torch.zeros(16), torch.linspace(-2, 1, 16)])
    y = peak_normalize(x, 0.5)
    assert torch.equal(y[0], torch.zeros(16))
    assert y[1].abs().max() == pytest.approx(0.5)


def test_spectral_excess_measures_added_noise_not_removed_content() -> None:
    x = _target()
    noise = 0.05 * torch.randn(8192, generator=torch.Generator().manual_seed(0))
    assert float(spectral_excess(x, x)) == 0.0
    assert float(spectral_excess(x, x + noise)) > 3.0
    # removing content (a quieter copy) adds nothing above the reference
    assert float(spectral_excess(x, 0.5 * x)) == 0.0
    # a uniformly louder copy of a broadband signal exceeds it by 20*log10(2) in every bin
    white = torch.randn(8192, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    assert float(spectral_excess(white, 2 * white)) == pytest.approx(20 * math.log10(2), rel=1e-3)


def test_objective_measures_of_a_perfect_output() -> None:
    x = _target()
    m = objective_measures(x, 3 * x, 11025)
    assert m["si_snr_db"] > 100
    assert m["lsd_mid_db"] < 1e-3 and m["lsd_high_db"] < 1e-3 and m["excess_db"] < 1e-3
    assert m["bark_error"] < 1e-5
    worse = objective_measures(x, x + 0.05 * torch.randn(8192), 11025)
    assert worse["si_snr_db"] < 30 and worse["lsd_high_db"] > m["lsd_high_db"] and worse["bark_error"] > 1e-3


def test_claims_table_compares_the_losses() -> None:
    x = _target()

    def record(loss: str, out: torch.Tensor) -> prior.PriorResult:
        return prior.PriorResult(clip="test", loss=loss, sample_rate=11025, target=x.numpy(),
                                 loss_curve=torch.zeros(1).numpy(), checkpoints=[1],
                                 audio=[out.numpy()], measures=[objective_measures(x, out, 11025)])

    noisy = x + 0.1 * torch.randn(8192, generator=torch.Generator().manual_seed(1))
    table = prior.claims_table([record("mse", noisy), record("perceptual", x + 0.01 * noisy)])
    assert table["holds"].all()
    assert "holds on 1 of 1" in prior.claims_summary(table, mode="quick")


def test_stored_runs_load_only_for_the_same_schedule_and_target(tmp_path: Path) -> None:
    import json
    from dataclasses import replace

    import numpy as np

    config = replace(prior.PriorConfig.for_mode("quick"), clips=("speech_male",), losses=("mse",),
                     iterations=3, checkpoint_every=2)
    results = prior.run_prior_experiment(config, progress=False)
    prior.save_results(results, config, tmp_path, machine="test")
    loaded = prior.load_results(config, "mse", ("speech_male",), tmp_path)
    r, s = results[0], loaded[0]
    assert s.checkpoints == r.checkpoints == [2, 3]
    np.testing.assert_array_equal(s.loss_curve, r.loss_curve)
    for a, b in zip(s.audio, r.audio, strict=True):
        np.testing.assert_array_equal(a, b)
    for m, n in zip(s.measures, r.measures, strict=True):  # recomputed from the stored (normalised) audio
        assert m == pytest.approx(n, rel=1e-5, abs=1e-6, nan_ok=True)
    with pytest.raises(ValueError, match="schedule"):
        prior.load_results(replace(config, iterations=4), "mse", ("speech_male",), tmp_path)
    with pytest.raises(FileNotFoundError, match="piano_bach__mse"):
        prior.load_results(config, "mse", ("piano_bach",), tmp_path)
    record = tmp_path / "speech_male__mse.json"
    meta = json.loads(record.read_text())
    record.write_text(json.dumps({**meta, "target_sha256": "0" * 64}))
    with pytest.raises(ValueError, match="another target"):
        prior.load_results(config, "mse", ("speech_male",), tmp_path)
    record.write_text(json.dumps(meta))
    blob = tmp_path / "speech_male__mse.npz"
    blob.write_bytes(blob.read_bytes()[:-1] + b"x")
    with pytest.raises(ValueError, match="SHA-256"):
        prior.load_results(config, "mse", ("speech_male",), tmp_path)


def test_cdpam_is_a_loss_of_the_experiment_but_not_of_every_clip() -> None:
    assert "cdpam" in prior.LOSSES and "cdpam" not in prior.MAIN_LOSSES
    assert prior.PriorConfig.for_mode("standard").losses == prior.MAIN_LOSSES
    assert set(prior.CDPAM_CLIPS["standard"]) <= set(prior.PriorConfig.for_mode("standard").clips)


def _vowel_then_sibilant(rate: int = 11025) -> tuple[torch.Tensor, torch.Tensor]:
    """0.37 s of a 200 Hz harmonic vowel (below 3 kHz), then 0.37 s of noise in 3.5-5.3 kHz; and the sibilant part."""
    g = torch.Generator().manual_seed(3)
    t = torch.arange(4096, dtype=torch.float64) / rate
    vowel = sum(torch.sin(2 * math.pi * 200 * k * t) / k for k in range(1, 14))
    spec = torch.fft.rfft(torch.randn(4096, generator=g, dtype=torch.float64))
    f = torch.fft.rfftfreq(4096, 1 / rate, dtype=torch.float64)
    hiss = torch.fft.irfft(spec * ((f > 3500) & (f < 5300)), 4096)
    hiss = 0.5 * hiss / hiss.abs().max()
    sibilant = torch.cat([torch.zeros(4096, dtype=torch.float64), hiss])
    return torch.cat([0.5 * vowel / vowel.abs().max(), torch.zeros(4096, dtype=torch.float64)]) + sibilant, sibilant


def test_sibilant_deficit_reads_the_missing_hiss_in_db() -> None:
    from percloss.experiments.prior_measures import sibilant_deficit, sibilant_frames

    x, sibilant = _vowel_then_sibilant()
    frames = sibilant_frames(x, 11025)
    assert 40 <= int(frames.sum()) <= 70  # the second half of 129 frames, not the vowel
    assert sibilant_deficit(x, x, 11025) == pytest.approx(0.0, abs=1e-9)
    # the sibilant at half amplitude: 6.02 dB missing (the peak, in the vowel, is unchanged)
    assert sibilant_deficit(x, x - 0.5 * sibilant, 11025) == pytest.approx(20 * math.log10(2), abs=0.05)
    # the sibilant gone: near the 60 dB floor (frames straddling the vowel's end keep a little)
    assert 50 < sibilant_deficit(x, x - sibilant, 11025) <= 60
    # a target without a sibilant has nothing to measure
    assert math.isnan(sibilant_deficit(x - sibilant, x - sibilant, 11025))


def test_attack_deficit_reads_smeared_and_noise_filled_attacks() -> None:
    from percloss.experiments.prior_measures import attack_deficit

    g = torch.Generator().manual_seed(4)
    burst = torch.randn(8192, generator=g, dtype=torch.float64) * torch.exp(-torch.arange(8192) / 800.0)
    x = torch.cat([torch.zeros(3000, dtype=torch.float64), burst[: 8192 - 3000]])  # one crack at 0.27 s
    assert attack_deficit(x, x, 11025) == pytest.approx(0.0, abs=1e-9)
    fade = torch.ones(8192, dtype=torch.float64)
    # a fade-in by 40 dB over 60 ms smears the crack: within the 35 ms look-back it rises by about 23 dB
    fade[3000:3660] = 10 ** torch.linspace(-2, 0, 660, dtype=torch.float64)
    smeared = attack_deficit(x, x * fade, 11025)
    assert 15 < smeared < 45
    noise = 0.03 * torch.randn(8192, generator=g, dtype=torch.float64)  # a noise bed fills the silence before it
    filled = attack_deficit(x, x + noise, 11025)
    assert filled > 10
    assert math.isnan(attack_deficit(noise, noise, 11025))  # stationary noise has no attack


def _runs(clip: str, outputs: dict[str, list[torch.Tensor]], target: torch.Tensor) -> list[prior.PriorResult]:
    return [prior.PriorResult(clip=clip, loss=loss, sample_rate=11025, target=target.numpy(),
                              loss_curve=torch.zeros(3).numpy(), checkpoints=[100, 200, 300], audio=[o.numpy() for o in outs],
                              measures=[objective_measures(target, o, 11025) for o in outs])
            for loss, outs in outputs.items()]


def test_post_claims_decide_from_the_measures_and_stay_provisional_in_quick_mode() -> None:
    from percloss import data
    from percloss.experiments.claims import check_verdict
    from percloss.experiments.prior_measures import post_claims

    g = torch.Generator().manual_seed(5)
    results, other_seed = [], []
    for clip in ("speech_female", "drums_hydrogen"):
        x = prior.peak_normalize(data.excerpt(clip, 11025, 8192).double(), 0.9)
        f = torch.fft.rfftfreq(8192, 1 / 11025, dtype=torch.float64)
        dull = torch.fft.irfft(torch.fft.rfft(x) * (f < 1500), 8192)  # no highs, no sibilant, blunt attacks
        good = [x + 0.003 * torch.randn(8192, generator=g, dtype=torch.float64) for _ in range(3)]
        bad = [dull + 0.05 * torch.randn(8192, generator=g, dtype=torch.float64) for _ in range(2)]
        results += _runs(clip, {"perceptual": good, "mse": [*bad, good[-1]]}, x)
        # a second seed where MSE is as good as the perceptual loss from iteration 200 on
        other_seed += _runs(clip, {"perceptual": good, "mse": [bad[0], good[1], good[-1]]}, x)
    claims = post_claims(results, "standard")
    assert all(check_verdict(c.verdict) for c in claims)
    by_claim = {c.claim: c for c in claims}
    nixon = [c for c in claims if c.where.startswith("Richard Nixon")]
    # ESTOI at 200 holds; MSE equal to the perceptual loss at the end: fairly intelligible, no sibilant deficit
    assert [c.verdict.split(":")[0] for c in nixon] == ["reproduced", "reproduced", "not reproduced"]
    assert "speech_male" not in nixon[0].measured and "speech_female: perceptual" in nixon[0].measured
    assert nixon[2].verdict == "not reproduced: fails on speech_female"  # equal within the 1 dB margin
    plateau = next(c for c in claims if "plateaus" in c.claim)
    assert plateau.verdict.startswith("reproduced"), plateau.measured  # flat from 200; MSE worse, equal at 300
    untested = [c for c in claims if c.verdict.startswith("not tested here")]
    assert {c.where for c in untested} >= {"Bach Piano, conclusions", "Kevin Gates, conclusions"}
    assert any("no voice" in c.verdict for c in untested)
    assert by_claim["Less noise"].verdict.startswith("not reproduced: fails on speech_female, drums_hydrogen")
    assert by_claim["Quicker convergence on something intelligible"].verdict.startswith("reproduced: holds on 2 of 2")
    # over two seeds that disagree at iteration 200, the early claims are open: mixed, never reproduced
    two = {c.claim: c for c in post_claims({0: results, 1: other_seed}, "standard")}
    assert two[nixon[0].claim].verdict == "mixed: the seeds disagree on speech_female"
    assert two[nixon[0].claim].measured == "speech_female: perceptual 1.00/1.00, mse 0.60/1.00 → open"
    assert two["Quicker convergence on something intelligible"].verdict.startswith("mixed")
    assert two[plateau.claim].verdict.startswith("mixed")
    assert two[nixon[2].claim].verdict == nixon[2].verdict  # the seeds agree at the end
    quick = post_claims(results, "quick", provisional="quick mode: 10 iterations")
    assert all(c.verdict.startswith("not tested here") for c in quick)
    assert any("the rule gives: reproduced" in c.verdict for c in quick)


def test_the_seeds_rule_needs_every_seed_beyond_the_margin() -> None:
    from percloss.experiments.claims import seed_outcome, seeds_verdict

    assert seeds_verdict({"a": seed_outcome([True] * 3)}).startswith("reproduced")
    assert seeds_verdict({"a": seed_outcome([True, True, False])}).startswith("mixed")
    assert seeds_verdict({"a": "holds", "b": "fails", "c": "open"}).startswith("not reproduced")
    # in general: a majority of clips must hold; not reproduced once the open clips could not make one
    assert seeds_verdict({"a": "holds", "b": "holds", "c": "open", "d": "fails"}, "majority").startswith("mixed")
    assert seeds_verdict({"a": "holds", "b": "open", "c": "fails", "d": "fails"}, "majority").startswith(
        "not reproduced")
    assert seeds_verdict({"a": "holds", "b": "holds", "c": "holds", "d": "open"}, "majority").startswith("reproduced")
    with pytest.raises(ValueError, match="need"):
        seeds_verdict({"a": "holds"}, need="most")
    with pytest.raises(ValueError, match="outcomes must be one of"):
        seeds_verdict({"a": "yes"})
    with pytest.raises(ValueError, match="at least one"):
        seed_outcome([])


def test_seed_runs_load_from_their_folders_and_are_absent_in_quick_mode(tmp_path: Path) -> None:
    """obtain_seed_runs reads seed<k>/ folders under the post's schedule (checked like any stored run), and
    gives None when a seed is missing (the chapter's verdicts then stay provisional)."""
    from dataclasses import replace

    assert prior.obtain_seed_runs("quick") is None
    config = prior.PriorConfig.for_mode("full", losses=("mse",))
    for seed in (0, 1):
        fake = [prior.PriorResult(clip=c, loss="mse", sample_rate=11025,
                                  target=prior.peak_normalize(data.excerpt(c, 11025, 8192), 0.9).numpy(),
                                  loss_curve=np.zeros(1000), checkpoints=[250, 500, 750, 1000],
                                  audio=[np.zeros(8192, np.float32) + 0.1 * seed] * 4) for c in config.clips]
        prior.save_results(fake, replace(config, seed=seed), tmp_path / f"seed{seed}")
    loaded = prior.obtain_seed_runs("standard", seeds=(0, 1), losses=("mse",), folder=tmp_path, check=False)
    assert loaded is not None and loaded[1] is None
    runs = loaded[0]
    assert sorted(runs) == [0, 1] and [len(v) for v in runs.values()] == [len(config.clips)] * 2
    assert float(runs[1][0].audio[0][0]) == pytest.approx(0.1) and runs[0][0].checkpoints == [250, 500, 750, 1000]
    assert prior.obtain_seed_runs("standard", seeds=(0, 1, 2), losses=("mse",), folder=tmp_path) is None
    with pytest.raises(ValueError, match="another schedule"):  # seed 1's files offered as seed 0's
        (tmp_path / "seed9").mkdir()
        for f in (tmp_path / "seed1").iterdir():
            (tmp_path / "seed9" / f.name).write_bytes(f.read_bytes())
        prior.obtain_seed_runs("standard", seeds=(9,), losses=("mse",), folder=tmp_path, check=False)


def test_stored_runs_are_loaded_and_their_start_recomputed_and_checked(tmp_path: Path) -> None:
    """obtain_results loads the stored runs and recomputes the start of each: the same fits agree; a stored run of
    another seed (as far apart as a real change) is refused, naming the run and the command; a loss without stored
    runs is run here."""
    from dataclasses import replace

    config = replace(prior.PriorConfig.for_mode("quick"), clips=("speech_male", "piano_bach"),
                     losses=("mse", "perceptual"), iterations=3, checkpoint_every=3)
    results = prior.run_prior_experiment(config, progress=False)
    prior.save_results(results, config, tmp_path, machine="test machine")
    assert prior.stored_machine(config, tmp_path) == "test machine"
    loaded, check = prior.obtain_results(config, tmp_path, progress=False)
    assert check is not None and check.runs == 4 and check.values == 2 * 3 + 2 * 1  # mse: 3 steps, others: 1
    assert check.worst_rel < 1e-6 and "stored loss curves" in check.text()
    assert [(r.clip, r.loss) for r in loaded] == [(r.clip, r.loss) for r in results]

    other = prior.run_prior_experiment(replace(config, seed=1, clips=("speech_male",), losses=("mse",)),
                                       progress=False)
    prior.save_results(other, config, tmp_path, machine="test machine")  # seed 1's run under seed 0's name
    with pytest.raises(ValueError, match=r"(?s)speech_male / mse, iteration 1: .* stored vs .*run_prior_stored.py"):
        prior.obtain_results(config, tmp_path, progress=False)
    prior.save_results(results[:1], config, tmp_path, machine="test machine")

    (tmp_path / "piano_bach__perceptual.json").unlink()
    mixed, check = prior.obtain_results(config, tmp_path, progress=False)
    assert check is not None and check.runs == 2 and len(mixed) == 4  # perceptual runs here, mse is loaded
    assert [r.loss for r in mixed] == ["mse", "perceptual", "mse", "perceptual"]


def test_the_check_tolerance_holds_the_measured_spread_of_kernel_paths() -> None:
    """runs/prior/standard/spread.json: the loss values the build recomputes agreed across kernel paths well
    within CHECK_RTOL, while later iterations and whole fits part (which is why only the start is checked)."""
    import json

    from percloss import paths

    spread = json.loads((paths.prior_runs_dir("standard") / "spread.json").read_text())
    prefix = spread["prefix_rel_max_over_paths"]
    assert len(prefix) == len(prior.PriorConfig.for_mode("standard").clips) * len(prior.MAIN_LOSSES)
    assert len(spread["paths"]) >= 3
    checked = [v[i] for key, v in prefix.items() for i in range(prior.CHECK_ITERATIONS.get(key.split("__")[1], 1))]
    assert 0 < max(checked) and 10 * max(checked) <= prior.CHECK_RTOL
    assert max(v[-1] for v in prefix.values()) > prior.CHECK_RTOL  # later iterations part beyond it
    for f in spread["whole_fits_speech_male"].values():
        assert min(min(v) for v in f["snr_db_between_paths"].values()) < 20  # whole fits: not reproducible
    assert "between kernel paths" in prior.stored_spread("standard")


def test_a_stored_vggish_run_is_used_only_with_the_same_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    from dataclasses import replace

    config = replace(prior.PriorConfig.for_mode("quick"), clips=("speech_male",), losses=("mse",),
                     iterations=2, checkpoint_every=2)
    results = prior.run_prior_experiment(config, progress=False)
    results[0].loss = "vggish"  # stands for a stored run of the vggish loss made with this build's weights
    prior.save_results(results, replace(config, losses=("vggish",)), tmp_path)
    config = replace(config, losses=("vggish",))
    assert "random-feature control" in prior.loss_weights("vggish", config.sample_rate)
    loaded, _ = prior.obtain_results(config, tmp_path, progress=False, check=False)
    assert loaded[0].seconds == round(results[0].seconds, 1)  # loaded: the record keeps 0.1 s
    monkeypatch.setattr(prior, "loss_weights", lambda name, rate: "pretrained vggish (elsewhere)")
    calls = []
    monkeypatch.setattr(prior, "run_prior_experiment", lambda cfg, progress=True: calls.append(cfg) or [])
    prior.obtain_results(config, tmp_path, progress=False, check=False)
    assert calls and calls[0].losses == ("vggish",)  # other weights: run here, not loaded


def test_a_standard_build_loads_every_chapter_1_run_instead_of_fitting() -> None:
    """Standard mode fits nothing long in the build (no cell can reach the execution timeout on a loaded
    machine): every (clip, loss) run of its schedule is stored, with this build's weights and a matching hash."""
    import hashlib
    import json

    from percloss import paths

    config = prior.PriorConfig.for_mode("standard")
    folder = paths.prior_runs_dir("standard")
    runs = [(clip, loss) for clip in config.clips for loss in config.losses]
    runs += [(clip, "cdpam") for clip in prior.CDPAM_CLIPS["standard"]]
    for clip, loss in runs:
        record = json.loads((folder / f"{clip}__{loss}.json").read_text())
        assert (record["iterations"], record["checkpoint_every"], record["seed"]) == (
            config.iterations, config.checkpoint_every, config.seed), (clip, loss)
        blob = (folder / f"{clip}__{loss}.npz").read_bytes()
        assert hashlib.sha256(blob).hexdigest() == record["npz_sha256"], (clip, loss)
        if loss != "cdpam":
            assert record["loss_weights"] == prior.loss_weights(loss, config.sample_rate), (clip, loss)
            assert "torch kernels" in record["machine"]  # the CPU model that wrote it is recorded
