"""Codec losses and training: the loss falls, the rate controller moves the right way."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from percloss import data
from percloss.codec import CascadedCodec
from percloss.codec_training import CodecLoss, TrainSettings, bits_per_code, train_codec
from percloss.experiments.masking_demo import noise_under_threshold
from percloss.losses import MelLoss, MelWeightedLoss, mel_line_weights


@pytest.fixture(scope="module")
def music() -> list[torch.Tensor]:
    return [data.load_clip("piano_bach", 44100)[: 3 * 44100], data.load_clip("drums_hydrogen", 44100)[: 3 * 44100]]


def test_bits_per_code() -> None:
    # 256 codes per 480 samples at 44.1 kHz = 23520 codes/s; 96 kbit/s -> 4.08 bits per code
    assert bits_per_code(96, 44100) == pytest.approx(96000 / 23520)


@pytest.mark.parametrize("kind", ["A", "B", "C", "D"])
def test_losses_are_zero_at_identity_and_differentiable(kind: str) -> None:
    loss = CodecLoss(kind, 44100)
    x = data.load_clip("piano_bach", 44100)[44100:48000]
    assert float(loss(x, x)) == pytest.approx(0.0, abs=1e-6)
    y = (x + 0.05 * torch.randn(len(x))).requires_grad_(True)
    value = loss(y, x)
    value.backward()
    assert float(value.detach()) > 0 and y.grad is not None and torch.isfinite(y.grad).all()


def test_mel_loss_grows_with_distortion() -> None:
    loss = MelLoss(16000)
    x = data.load_clip("speech_male", 16000)[:16000]
    g = torch.Generator().manual_seed(0)
    n = torch.randn(16000, generator=g)
    assert float(loss(x + 0.001 * n, x)) < float(loss(x + 0.01 * n, x)) < float(loss(x + 0.1 * n, x))


@pytest.mark.parametrize("kind", ["A", "C"])
def test_training_lowers_the_distortion(music: list[torch.Tensor], kind: str) -> None:
    torch.manual_seed(0)
    codec = CascadedCodec(1)
    log = train_codec(codec, music, 44100, kind, steps=20, batch=2, segment_frames=4, progress=False)
    first, last = log.distortion[0], sum(log.distortion[-5:]) / 5
    assert last < 0.8 * first
    assert not codec.training


def test_model_d_trains_with_finite_values(music: list[torch.Tensor]) -> None:
    torch.manual_seed(0)
    log = train_codec(CascadedCodec(1), music, 44100, "D", steps=5, batch=2, segment_frames=2, progress=False)
    assert all(torch.isfinite(torch.tensor(log.distortion)))


def test_rate_controller_direction(music: list[torch.Tensor]) -> None:
    torch.manual_seed(0)
    low = train_codec(CascadedCodec(1), music, 44100, "A", steps=3, batch=2, segment_frames=2,
                      target_kbps=10, progress=False)  # ~0.4 bits/code: far below the entropy
    high = train_codec(CascadedCodec(1), music, 44100, "A", steps=3, batch=2, segment_frames=2,
                       target_kbps=118, progress=False)  # ~5 bits/code: above it
    assert low.rate_weight[-1][0] > 0.01 > high.rate_weight[-1][0]


def test_bad_arguments(music: list[torch.Tensor]) -> None:
    with pytest.raises(ValueError, match="kind"):
        CodecLoss("E", 44100)
    with pytest.raises(ValueError, match=r"signals\[0\]"):
        train_codec(CascadedCodec(1), [torch.zeros(100)], 44100, steps=1, progress=False)


def test_mel_line_weights_follow_the_mel_bandwidth() -> None:
    """Unit-area mel bands: a line's weight is ~ 1 / mel bandwidth ~ 1 / (700 Hz + f)."""
    w = mel_line_weights(4096, 44100, n_mels=64)
    hz = torch.linspace(0, 22050, 2049)
    at = {f: float(w[int(torch.argmin((hz - f).abs()))]) for f in (1000.0, 8000.0)}
    assert at[1000.0] / at[8000.0] == pytest.approx((700 + 8000) / (700 + 1000), rel=0.15)
    assert float(w.mean()) == pytest.approx(1.0)


def test_model_d_charges_audible_noise_more_than_masked_noise() -> None:
    """Equal-energy errors: D - C (the noise-modulation term) is larger for white noise than for masked noise."""
    x = data.load_clip("piano_bach", 44100)[44100 : 44100 + 16384].double()
    masked = noise_under_threshold(x, 44100, margin_db=6.0)
    g = torch.Generator().manual_seed(1)
    white = torch.randn(len(x), generator=g, dtype=torch.float64)
    white = white * masked.norm() / white.norm()
    c, d = CodecLoss("C", 44100).double(), CodecLoss("D", 44100).double()
    extra_masked = float(d(x + masked, x) - c(x + masked, x))
    extra_white = float(d(x + white, x) - c(x + white, x))
    assert extra_white > 10 * max(extra_masked, 1e-6)


def test_resume_continues_the_same_run(music: list[torch.Tensor], tmp_path: object) -> None:
    from pathlib import Path

    ckpt = Path(str(tmp_path)) / "run.pt"
    kw = dict(batch=2, segment_frames=2, target_kbps=64, anneal_steps=4, progress=False)  # one annealing schedule
    torch.manual_seed(0)
    straight = CascadedCodec(1)
    log_straight = train_codec(straight, music, 44100, "A", steps=4, **kw)  # type: ignore[arg-type]
    torch.manual_seed(0)
    part = CascadedCodec(1)
    train_codec(part, music, 44100, "A", steps=2, checkpoint=ckpt, save_every=1, **kw)  # type: ignore[arg-type]
    resumed = CascadedCodec(1)
    log = train_codec(resumed, music, 44100, "A", steps=4, checkpoint=ckpt, **kw)  # type: ignore[arg-type]
    assert log.distortion == pytest.approx(log_straight.distortion)
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    tuned = train_codec(CascadedCodec(1), music, 44100, "D", steps=5, checkpoint=ckpt, **kw)  # type: ignore[arg-type]
    assert tuned.kind == ["A"] * 4 + ["D"]
    with pytest.raises(ValueError, match="checkpoint"):
        train_codec(CascadedCodec(1), music, 44100, "A", steps=6, checkpoint=ckpt, batch=4, segment_frames=2,
                    target_kbps=64, progress=False)


@pytest.mark.parametrize("kind", ["A", "B"])
def test_gradcheck(kind: str) -> None:
    """The smooth terms (MSE, mel-weighted) have exact gradients; C/D's masking terms are
    checked in test_masking_losses."""
    loss = CodecLoss(kind, 16000).double()
    g = torch.Generator().manual_seed(0)
    target = 0.1 * torch.randn(1024, generator=g, dtype=torch.float64)
    x = (target + 0.02 * torch.randn(1024, generator=g, dtype=torch.float64)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: loss(v, target), (x,), eps=1e-6, atol=1e-5)


def test_training_anneals_the_quantiser_sharpness(music: list[torch.Tensor]) -> None:
    torch.manual_seed(0)
    codec = CascadedCodec(1)
    train_codec(codec, music, 44100, "A", steps=4, batch=2, segment_frames=2, anneal=(10.0, 1000.0), progress=False)
    alpha = float(codec.quantizers[0].log_alpha.detach().exp())  # type: ignore[operator]
    assert alpha >= 10.0 * 100.0 ** (3 / 4) * 0.999  # the floor after the last step (t = 3 of 4)


def _codec_losses() -> dict[str, torch.nn.Module]:
    losses: dict[str, torch.nn.Module] = {"mel": MelLoss(16000), "mel_weighted": MelWeightedLoss(16000)}
    losses.update({f"codec_{k}": CodecLoss(k, 16000) for k in ("A", "B", "C", "D")})
    return losses


@pytest.mark.parametrize("name", list(_codec_losses()))
def test_codec_losses_reject_mismatched_and_nonfinite_input(name: str) -> None:
    """(2, T) against (T,) used to broadcast silently, a shorter target too; NaN came back as NaN."""
    loss = _codec_losses()[name]
    x = data.load_clip("speech_male", 16000)[8000:12000]
    g = torch.Generator().manual_seed(0)
    y = x + 0.01 * torch.randn(x.shape, generator=g)
    pair = torch.stack([x, y])
    nan, inf = y.clone(), x.clone()
    nan[100] = float("nan")
    inf[7] = float("inf")
    cases = [
        ((pair, x), "same shape"),
        ((y, pair), "same shape"),
        ((y, x[:-100]), "same shape"),
        ((y, x.double()), "same dtype"),
        ((nan, x), "input contains NaN"),
        ((y, inf), "target contains NaN or Inf"),
        ((y.long(), x), "input must be a floating-point"),
        ((y[:300], x[:300]), "at least"),
    ]
    for args, match in cases:
        with pytest.raises(ValueError, match=match):
            loss(*args)
    # valid batches still work: all items share one length, so the batch mean is the mean of the items
    both = loss(torch.stack([y, x]), torch.stack([x, x]))
    assert float(both) == pytest.approx((float(loss(y, x)) + float(loss(x, x))) / 2, rel=1e-4, abs=1e-6)
    assert float(loss(y, x)) > 0


def test_model_a_is_mse_alone_and_the_terms_add_up() -> None:
    """The work's model A is the codec under MSE alone; B, C, D each add one term."""
    x = data.load_clip("piano_bach", 44100)[44100:52000].double()
    g = torch.Generator().manual_seed(4)
    y = x + 0.02 * torch.randn(len(x), generator=g, dtype=torch.float64)
    assert float(CodecLoss("A", 44100)(y, x)) == pytest.approx(float((y - x).pow(2).mean()), rel=1e-12)
    names = {k: list(CodecLoss(k, 44100).components(y, x)) for k in ("A", "B", "C", "D")}
    assert names == {"A": ["mse"], "B": ["mse", "mel_weighted"], "C": ["mse", "mel_weighted", "priority"],
                     "D": ["mse", "mel_weighted", "priority", "noise_modulation"]}
    d = CodecLoss("D", 44100).double()
    assert float(d(y, x)) == pytest.approx(float(sum(d.components(y, x).values())), rel=1e-12)
    b_minus_a = float(CodecLoss("B", 44100).double()(y, x) - CodecLoss("A", 44100).double()(y, x))
    assert b_minus_a == pytest.approx(float(MelWeightedLoss(44100).double()(y, x)), rel=1e-9)


def test_time_budget_csv_log_and_bf16(music: list[torch.Tensor], tmp_path: object) -> None:
    from pathlib import Path

    from percloss.codec_training import LOG_COLUMNS

    folder = Path(str(tmp_path))
    torch.manual_seed(0)
    log = train_codec(CascadedCodec(1), music, 44100, "C", steps=1000, batch=2, segment_frames=2, target_kbps=64,
                      precision="bf16", max_seconds=0.5, checkpoint=folder / "c.pt", log_csv=folder / "c.csv",
                      progress=False)
    assert 1 <= log.steps < 1000  # stopped by the time budget, and saved
    assert log.wall_seconds[-1] >= 0.5 and all(torch.isfinite(torch.tensor(log.distortion)))
    rows = (folder / "c.csv").read_text().splitlines()
    assert rows[0].split(",") == list(LOG_COLUMNS) and len(rows) == log.steps + 1
    last = dict(zip(LOG_COLUMNS, rows[-1].split(","), strict=True))
    assert last["kind"] == "C" and last["noise_modulation"] == "" and float(last["priority"]) > 0
    assert float(last["est_kbps"]) == pytest.approx(log.entropy_bits[-1][0] * 256 * 44100 / 480 / 1000, rel=1e-3)
    # resuming continues the same run and appends to the same log
    more = train_codec(CascadedCodec(1), music, 44100, "C", steps=log.steps + 2, batch=2, segment_frames=2,
                       target_kbps=64, precision="bf16", checkpoint=folder / "c.pt", log_csv=folder / "c.csv",
                       progress=False)
    assert more.steps == log.steps + 2 and more.distortion[: log.steps] == log.distortion
    assert len((folder / "c.csv").read_text().splitlines()) == more.steps + 1
    with pytest.raises(ValueError, match="precision"):
        train_codec(CascadedCodec(1), music, 44100, "A", steps=1, precision="fp16", progress=False)


def test_sigterm_saves_and_stops(tmp_path: object) -> None:
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    folder = Path(str(tmp_path))
    script = (
        "import torch\n"
        "from percloss import data\n"
        "from percloss.codec import CascadedCodec\n"
        "from percloss.codec_training import train_codec\n"
        "x = [data.load_clip('piano_bach', 44100)[: 3 * 44100]]\n"
        f"print('ready', flush=True)\n"
        f"log = train_codec(CascadedCodec(1), x, 44100, 'A', steps=100000, batch=2, segment_frames=2,"
        f" checkpoint=r'{folder / 's.pt'}', save_every=10**9, progress=False)\n"
        "print('stopped', log.steps, flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(3.0)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.startswith("stopped")
    steps = int(out.split()[1])
    state = torch.load(folder / "s.pt", weights_only=True)
    assert len(state["log"]["distortion"]) == steps > 0


def test_rate_weights_are_bounded_both_ways() -> None:
    from percloss.codec_training import RATE_WEIGHT_RANGE, update_rate_weights

    lo, hi = RATE_WEIGHT_RANGE
    up = down = [0.01]
    for _ in range(2000):  # entropy twice / half the target for 2000 steps: exp(+-0.05 * 1 or 0.5) per step
        up = update_rate_weights(up, [4.0], 2.0, 0.05)
        down = update_rate_weights(down, [1.0], 2.0, 0.05)
    assert up == [hi] and down == [lo]
    # from the bound, a change of sign moves lambda back at once
    assert update_rate_weights(up, [1.0], 2.0, 0.05)[0] < hi and update_rate_weights(down, [4.0], 2.0, 0.05)[0] > lo
    # inside the bounds the update is the plain multiplicative one
    assert update_rate_weights([0.01], [3.0], 2.0, 0.05)[0] == pytest.approx(0.01 * math.exp(0.025))


def test_the_bounds_never_acted_on_the_shipped_runs() -> None:
    """The shipped one-module models were trained before the bounds existed: their logs must stay inside them
    (the two-module schedule's signed multipliers have their own bound, checked too)."""

    from percloss.codec_training import RATE_WEIGHT_RANGE, SIGNED_RATE_BOUND
    from percloss.shipped import shipped_models, training_log

    lo, hi = RATE_WEIGHT_RANGE
    checked = 0
    for name, entry in shipped_models().items():
        lambdas = [float(v) for row in training_log(name) for v in row["rate_weight"].split(";")]
        if entry["n_modules"] > 1:
            assert -SIGNED_RATE_BOUND < min(lambdas) and max(lambdas) < SIGNED_RATE_BOUND, name
        else:
            assert lo < min(lambdas) and max(lambdas) < hi, name
        checked += 1
    assert checked >= 2


def _collapsed_second_module() -> CascadedCodec:
    """Two modules, the second with all centroids but two on one point (the collapsed A79's state)."""
    torch.manual_seed(0)
    codec = CascadedCodec(2)
    with torch.no_grad():
        codec.quantizers[1].centroids.copy_(torch.tensor([0.0] * 30 + [5.0, 6.0]))
    return codec


def test_the_hard_entropy_drives_the_rate_control_when_asked(music: list[torch.Tensor]) -> None:
    """Coincident centroids: the soft entropy reads log2(30) bits, the hard codes carry none. With
    rate_entropy="hard" the controller sees the collapse and relaxes the rate pressure; with "soft" it
    presses harder."""
    kw = dict(steps=1, batch=2, segment_frames=2, target_kbps=30.0, progress=False)
    soft = train_codec(_collapsed_second_module(), music, 44100, "A", **kw)  # type: ignore[arg-type]
    hard = train_codec(_collapsed_second_module(), music, 44100, "A", rate_entropy="hard",
                       **kw)  # type: ignore[arg-type]
    assert soft.hard_entropy_bits[0][1] == pytest.approx(0.0, abs=0.05)
    assert soft.entropy_bits[0][1] > bits_per_code(30.0, 44100) > soft.hard_entropy_bits[0][1]
    assert soft.rate_weight[0][1] > 0.01 > hard.rate_weight[0][1]
    with pytest.raises(ValueError, match="rate_entropy"):
        train_codec(CascadedCodec(1), music, 44100, "A", rate_entropy="both", **kw)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reseed_every"):
        train_codec(CascadedCodec(1), music, 44100, "A", reseed_every=0, **kw)  # type: ignore[arg-type]


def test_reseeding_revives_a_collapsed_module_and_is_logged(music: list[torch.Tensor], tmp_path: object) -> None:
    from pathlib import Path

    from percloss.codec_training import LOG_COLUMNS

    folder = Path(str(tmp_path))
    log = train_codec(_collapsed_second_module(), music, 44100, "A", steps=2, batch=2, segment_frames=2,
                      target_kbps=30.0, rate_entropy="hard", reseed_every=1, log_csv=folder / "r.csv",
                      progress=False)
    assert log.hard_entropy_bits[0][1] < 0.05 and log.reseeded[0][1] >= 29  # merged and dead ones moved
    assert log.hard_entropy_bits[1][1] > 1.0  # the next step's codes spread over the re-seeded centroids
    rows = (folder / "r.csv").read_text().splitlines()
    first = dict(zip(LOG_COLUMNS, rows[1].split(","), strict=True))
    assert first["reseeded"].split(";")[1] == str(log.reseeded[0][1])
    assert float(first["hard_entropy_bits"].split(";")[1]) == pytest.approx(log.hard_entropy_bits[0][1], abs=1e-4)
    # a log begun before the last three columns existed keeps its header and its width
    old = folder / "old.csv"
    old.write_text(",".join(LOG_COLUMNS[:-3]) + "\n")
    from percloss.codec_training import _append_csv

    _append_csv(old, log, 0, 44100)
    assert all(len(line.split(",")) == len(LOG_COLUMNS) - 3 for line in old.read_text().splitlines())


def test_the_saturation_penalty_pulls_a_saturated_encoder_back(music: list[torch.Tensor]) -> None:
    """Codes on the flat end of the tanh get no gradient through it; the penalty reaches the pre-activation."""
    from percloss.codec import saturation_penalty

    z = torch.tensor([0.5, -2.9, 3.5, -5.0], requires_grad=True)
    penalty = saturation_penalty(z)
    assert float(penalty.detach()) == pytest.approx((0.5**2 + 2.0**2) / 4)
    penalty.backward()
    assert z.grad is not None and z.grad.tolist() == pytest.approx([0.0, 0.0, 0.25, -1.0])  # 2(|z| - 3) sign(z) / 4

    def saturated() -> CascadedCodec:
        torch.manual_seed(0)
        codec = CascadedCodec(2)
        with torch.no_grad():
            codec.stages[1].encoder[-1].bias.fill_(4.5)  # every code of module 2 at tanh(4.5 + ...) ~ 1
        return codec

    kw = dict(steps=12, batch=2, segment_frames=2, lr=5e-4, target_kbps=30.0, progress=False)
    plain = train_codec(saturated(), music, 44100, "A", **kw)  # type: ignore[arg-type]
    pulled = train_codec(saturated(), music, 44100, "A", saturation_weight=1.0, **kw)  # type: ignore[arg-type]
    assert plain.saturated[0][1] > 0.9 and pulled.saturated[0][1] > 0.9
    assert plain.saturated[-1][1] > 0.9  # without the penalty nothing moves it
    assert pulled.saturated[-1][1] < 0.5 * plain.saturated[-1][1]
    with pytest.raises(ValueError, match="saturation_weight"):
        train_codec(CascadedCodec(1), music, 44100, "A", saturation_weight=-1.0, **kw)  # type: ignore[arg-type]


def test_the_signed_rate_controller_rewards_entropy_below_the_target() -> None:
    from percloss.codec_training import update_rate_weights, update_rate_weights_signed

    # the multiplicative controller can only relax towards its floor when the entropy is too low ...
    assert update_rate_weights([1e-5], [0.0], 2.0, 0.05) == [1e-5]
    # ... the signed one crosses zero, so that lambda * H rewards entropy: an equality constraint; its step is
    # gain x the distortion's scale x the relative error
    lam = [0.002]
    for _ in range(5):
        lam = update_rate_weights_signed(lam, [0.0], 2.0, scale=0.01, gain=0.1)
    assert lam[0] == pytest.approx(0.002 - 5e-3) and lam[0] < 0
    assert update_rate_weights_signed([0.999], [8.0], 2.0, scale=1.0, bound=1.0) == [1.0]  # bounded
    assert update_rate_weights_signed([-0.9995], [0.0], 2.0, scale=1.0, bound=1.0) == [-1.0]
    assert update_rate_weights_signed([0.3], [2.0], 2.0, scale=1.0) == [0.3]  # on target: unchanged
    # the step follows the loss's scale: ten times the distortion, ten times the step
    small = update_rate_weights_signed([0.0], [4.0], 2.0, scale=0.001)[0]
    assert update_rate_weights_signed([0.0], [4.0], 2.0, scale=0.01)[0] == pytest.approx(10 * small)


def test_train_settings_name_the_checkpoint_identity_and_refuse_bad_values() -> None:
    from percloss.codec_runs import POINTS, RUN

    # the identity of the two-module schedule and of the one-module one (as written before this class existed)
    assert RUN.settings(POINTS["B79"]).checkpoint_key(32000, 2) == {
        "sample_rate": 32000, "n_modules": 2, "batch": 8, "segment_frames": 8, "target_kbps": 39.5,
        "precision": "bf16", "rate_entropy": "hard", "rate_control": "signed", "saturation_weight": 1.0}
    # A79 trains in fp32 (the default, left out of the key): its bf16 checkpoints refuse to resume as fp32
    assert RUN.settings(POINTS["A79"]).checkpoint_key(32000, 2) == {
        "sample_rate": 32000, "n_modules": 2, "batch": 8, "segment_frames": 8, "target_kbps": 39.5,
        "rate_entropy": "hard", "rate_control": "signed", "saturation_weight": 1.0}
    # one module: the schedule of the broad-corpus runs (the hard entropy, the multiplicative controller) ...
    assert RUN.settings(POINTS["C64"]).checkpoint_key(32000, 1) == {
        "sample_rate": 32000, "n_modules": 1, "batch": 8, "segment_frames": 8, "target_kbps": 64.0,
        "precision": "bf16", "rate_entropy": "hard"}
    # ... and, with the controller the codec-corpus models trained under, the key their states were written with
    before = replace(RUN, one_module_rate_entropy="soft", one_module_rate_control="multiplicative")
    assert before.settings(POINTS["C64"]).checkpoint_key(32000, 1) == {
        "sample_rate": 32000, "n_modules": 1, "batch": 8, "segment_frames": 8, "target_kbps": 64.0,
        "precision": "bf16"}
    for bad, match in ((dict(steps=-1), "steps"), (dict(batch=True), "batch"), (dict(lr=float("nan")), "lr"),
                       (dict(anneal=(10.0,)), "anneal"), (dict(rate_control="pid"), "rate_control"),
                       (dict(target_kbps=0.0), "target_kbps")):
        with pytest.raises(ValueError, match=match):
            TrainSettings(**bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unexpected keyword argument 'step'"):
        train_codec(CascadedCodec(1), [torch.zeros(8000)], 16000, step=3)


def test_relative_clipping_follows_the_recent_median_norm() -> None:
    from percloss.codec_training import CLIP_MIN_HISTORY, CLIP_WINDOW, gradient_clip_norm
    assert gradient_clip_norm([0.01] * 50, 1.0, None) == 1.0  # off: the fixed norm
    assert gradient_clip_norm([0.01] * (CLIP_MIN_HISTORY - 1), 1.0, 3.0) == 1.0  # too little history yet
    assert gradient_clip_norm([0.01, 0.02, 0.03] * 10, 1.0, 3.0) == pytest.approx(0.06)  # 3 x median 0.02
    assert gradient_clip_norm([1.0] * 20, 1.0, 3.0) == 1.0  # never above the fixed norm
    old_then_recent = [100.0] * 50 + [0.01] * CLIP_WINDOW  # only the last CLIP_WINDOW count
    assert gradient_clip_norm(old_then_recent, 1.0, 3.0) == pytest.approx(0.03)
    with pytest.raises(ValueError, match="clip_relative"):
        TrainSettings(clip_relative=0.0)
    with pytest.raises(ValueError, match="clip_relative"):
        TrainSettings(clip_relative=float("nan"))


def test_relative_clipping_acts_once_the_history_is_known() -> None:
    """The first CLIP_MIN_HISTORY steps are clipped at the fixed norm only; from the next on, a tiny relative
    norm changes the step and a huge one (capped at the fixed norm) does not."""
    from percloss.codec_training import CLIP_MIN_HISTORY

    x = [torch.randn(4 * 4096, generator=torch.Generator().manual_seed(0)) * 0.1]

    def weights(steps: int, relative: float | None) -> list[torch.Tensor]:
        torch.manual_seed(0)
        codec = CascadedCodec(1)
        train_codec(codec, x, 32000, "A", TrainSettings(steps=steps, batch=1, segment_frames=2, lr=1e-3,
                                                         clip_relative=relative), progress=False)
        return [p.detach().clone() for p in codec.parameters()]

    def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
        return all(torch.equal(u, v) for u, v in zip(a, b, strict=True))

    n = CLIP_MIN_HISTORY
    assert same(weights(n, None), weights(n, 1e-6))
    assert not same(weights(n + 1, None), weights(n + 1, 1e-6))
    assert same(weights(n + 1, None), weights(n + 1, 1e6))


def test_the_reward_gap_guard_would_have_held_c64s_runaway_multiplier_at_zero() -> None:
    """Replay C64's signed run on the broad corpus (its logged soft and hard entropies and distortions): the
    signed controller alone gives back the logged multipliers (to the log's rounding), down to -5.3; with ``reward_gap_bits=1`` the
    multiplier is never negative while the soft entropy runs more than a bit ahead of the hard one."""
    import csv


    log = Path(__file__).resolve().parents[1] / "runs/codec/attempts/broad-signed/C64/log.csv"
    rows = list(csv.DictReader(log.open()))
    target = bits_per_code(64, 32000)
    plain = TrainSettings(rate_control="signed", rate_entropy="hard", target_kbps=64)
    guarded = replace(plain, reward_gap_bits=1.0)
    lam_plain, lam_guarded, distortion = [0.0], [0.0], []
    guarded_path, deviation = [], 0.0
    for r in rows:
        soft, hard = [float(r["entropy_bits"])], [float(r["hard_entropy_bits"])]
        distortion.append(float(r["distortion"]))
        lam_plain = plain.next_rate_weights(lam_plain, soft, hard, target, distortion)
        lam_guarded = guarded.next_rate_weights(lam_guarded, soft, hard, target, distortion)
        guarded_path.append((lam_guarded[0], soft[0] - hard[0]))
        deviation = max(deviation, abs(lam_plain[0] - float(r["rate_weight"])))
    assert deviation < 0.01 and lam_plain[0] < -5  # the logged run, up to the log's rounding
    assert all(lam >= 0 for lam, gap in guarded_path if gap > 1.0)
    assert min(lam for lam, _ in guarded_path) > -1
    with pytest.raises(ValueError, match="reward_gap_bits"):
        TrainSettings(reward_gap_bits=0.0)
