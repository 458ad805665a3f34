"""Resumable long runs of the codec's operating points (percloss.codec_runs, ``train-codec``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from percloss.cli import main
from percloss.codec import load_codec
from percloss.codec_runs import POINTS, RUN, RunConfig, train_point

TINY = RunConfig(steps=8, batch=2, segment_frames=2, save_every_seconds=1.0, histogram_seconds=1.0)


def test_the_works_low_bitrate_points_share_one_budget() -> None:
    assert {name: (p.model, p.n_modules, p.kbps, p.sample_rate) for name, p in POINTS.items()} == {
        "A64": ("A", 1, 64, 32000), "A79": ("A", 2, 79, 32000), "B79": ("B", 2, 79, 32000),
        "C64": ("C", 1, 64, 32000), "D64": ("D", 1, 64, 32000),
        # the high-bitrate set at 44.1 kHz (0.9 M parameters = 2 modules)
        "A168": ("A", 2, 168, 44100), "C96": ("C", 1, 96, 44100), "C112": ("C", 2, 112, 44100),
        "D96": ("D", 1, 96, 44100), "D112": ("D", 2, 112, 44100)}
    assert (POINTS["D64"].init_from, POINTS["D96"].init_from, POINTS["D112"].init_from) == ("C64", "C96", "C112")
    # >= 2 hours of training audio per point
    assert RUN.steps * RUN.audio_seconds_per_step >= 2 * 3600


def test_c64_then_d64_fine_tuned_from_c64s_shared_steps(tmp_path: Path) -> None:
    quiet: list[str] = []
    train_point("C64", TINY, tmp_path / "s", hours=0.05, snapshots=tmp_path / "r", report_every=2,
              print_fn=quiet.append)
    assert any("C64: reached 6 steps; a point fine-tuned from C64 can start" in line for line in quiet)
    log = train_point("D64", TINY, tmp_path / "s", hours=0.05, snapshots=tmp_path / "r", report_every=2,
                    print_fn=quiet.append)
    assert log is not None and log.kind == ["C"] * TINY.shared_steps + ["D"] * (TINY.steps - TINY.shared_steps)
    c_rows = (tmp_path / "r" / "C64" / "log.csv").read_text().splitlines()
    d_rows = (tmp_path / "r" / "D64" / "log.csv").read_text().splitlines()
    assert d_rows[: TINY.shared_steps + 1] == c_rows[: TINY.shared_steps + 1] and len(d_rows) == TINY.steps + 1
    for name in ("C64", "D64"):
        codec, counts, info = load_codec(tmp_path / "r" / name / f"{name}.codec")
        assert info["name"] == name and len(counts) == 1 and float(counts[0].sum()) > 0


def test_a_run_resumes_on_a_new_machine_from_its_snapshot(tmp_path: Path) -> None:
    half = RunConfig(steps=8, batch=2, segment_frames=2, histogram_seconds=1.0)
    lines: list[str] = []
    train_point("A64", RunConfig(steps=4, batch=2, segment_frames=2, histogram_seconds=1.0), tmp_path / "s1",
                hours=0.05, snapshots=tmp_path / "r", print_fn=lines.append)
    snapshot = torch.load(tmp_path / "r" / "A64" / "snapshot.pt", weights_only=True)
    assert "optimizer" not in snapshot and len(snapshot["log"]["distortion"]) == 4
    # each quarter of the 4-step schedule before its end is kept for the learning curves
    kept = sorted(p.name for p in (tmp_path / "r" / "A64").glob("step-*.pt"))
    assert kept == ["step-1.pt", "step-2.pt", "step-3.pt"]
    third = torch.load(tmp_path / "r" / "A64" / "step-3.pt", weights_only=True)
    assert len(third["log"]["distortion"]) == 3 and third["log"]["distortion"] == snapshot["log"]["distortion"][:3]
    # a fresh state folder (another machine): the run continues from the snapshot
    log = train_point("A64", half, tmp_path / "s2", hours=0.05, snapshots=tmp_path / "r", print_fn=lines.append)
    assert any("resuming from the snapshot" in line for line in lines)
    assert log is not None and log.steps == 8 and log.distortion[:4] == snapshot["log"]["distortion"]


def test_d64_waits_for_c64(tmp_path: Path) -> None:
    lines: list[str] = []
    assert train_point("D64", TINY, tmp_path / "s", hours=0.01, snapshots=tmp_path / "r",
                     print_fn=lines.append) is None
    assert "waiting for C64" in lines[0]


def test_train_codec_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train-codec", "--list"]) == 0
    out = capsys.readouterr().out
    assert "D64: model D, 1 module(s), 64 kbit/s at 32000 Hz, fine-tuned from C64" in out
    assert main(["train-codec"]) == 2
    assert main(["train-codec", "--point", "A64", "--hours", "-1", "--corpus-folder", "excerpts"]) == 2
    assert main(["train-codec", "--point", "A64", "--corpus-folder", "/nonexistent"]) == 2
    assert "build_codec_corpus.sh --full" in capsys.readouterr().err


def test_resuming_on_another_corpus_is_refused(tmp_path: Path) -> None:
    cfg = RunConfig(steps=2, batch=2, segment_frames=2, histogram_seconds=1.0)
    train_point("A64", cfg, tmp_path / "s", hours=0.05, snapshots=tmp_path / "r", print_fn=lambda _: None)
    record = tmp_path / "r" / "A64" / "run.json"
    assert '"metal_madness": 20.0' in record.read_text()
    record.write_text(record.read_text().replace('"metal_madness": 20.0', '"metal_madness": 144.0'))
    with pytest.raises(ValueError, match="corpus"):
        train_point("A64", cfg, tmp_path / "s", hours=0.05, snapshots=tmp_path / "r", print_fn=lambda _: None)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_point_trains_on_cuda_from_the_same_start(tmp_path: Path) -> None:
    """The codec is initialised on the CPU and the segments are drawn there: a CUDA run starts where a CPU run does."""
    cfg = RunConfig(steps=2, batch=2, segment_frames=2, precision="fp32", histogram_seconds=1.0)
    logs = {dev: train_point("C64", cfg, tmp_path / dev / "s", hours=0.05, snapshots=tmp_path / dev / "r",
                             device=dev, print_fn=lambda _: None) for dev in ("cpu", "cuda")}
    cpu, gpu = logs["cpu"], logs["cuda"]
    assert cpu is not None and gpu is not None
    assert gpu.distortion[0] == pytest.approx(cpu.distortion[0], rel=1e-4)
    assert '"device": "cuda"' in (tmp_path / "cuda" / "r" / "C64" / "run.json").read_text()
    codec, counts, _ = load_codec(tmp_path / "cuda" / "r" / "C64" / "C64.codec")
    assert float(counts[0].sum()) > 0


def test_a_point_may_train_in_its_own_precision_and_its_checkpoint_says_how_it_was_trained(tmp_path: Path) -> None:
    from percloss.codec_runs import schedule_text

    # A79 finished in fp32 (its bf16 runs diverged); every other point keeps the schedule's bf16
    assert {name: RUN.precision_of(p) for name, p in POINTS.items()} == {
        name: ("fp32" if name == "A79" else "bf16") for name in POINTS}
    assert RUN.settings(POINTS["A79"]).precision == "fp32" and RUN.settings(POINTS["B79"]).precision == "bf16"
    plain = schedule_text(POINTS["A79"], RUN, tmp_path)  # no run record: the schedule alone
    assert plain.startswith("7500 Adam steps (lr 0.0005, fp32) of 8 x 8 frames at 32000 Hz, seed 0; signed")
    assert "bf16" in schedule_text(POINTS["B79"], RUN, tmp_path)
    (tmp_path / "A79").mkdir()
    (tmp_path / "A79" / "run.json").write_text('{"history": "steps 1-10 in bf16"}')
    assert schedule_text(POINTS["A79"], RUN, tmp_path) == plain + "; steps 1-10 in bf16"
    # the shipped A79 states it
    from percloss.shipped import load_shipped_codec

    info = load_shipped_codec("A79")[2]
    assert str(info["trained"]).endswith("steps 6117-7500 in fp32 with the relative clipping")


def test_a_finished_run_ships_only_within_its_rate_tolerance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """ship_run (``ship-codec``) measures the file rate on the held-out songs (here 1-s stand-ins, for speed)
    and refuses a model off its target by more than the tolerance (nothing written); within it, the
    checkpoint, log and manifest entry are written and the entry's SHA-256 is the copied file's."""
    import hashlib
    import json

    import numpy as np
    import soundfile as sf

    from percloss import data, shipped

    cfg = RunConfig(steps=2, batch=2, segment_frames=2, histogram_seconds=1.0)
    train_point("A64", cfg, tmp_path / "s", snapshots=tmp_path / "r", print_fn=lambda _: None)
    songs = tmp_path / "songs"
    songs.mkdir()
    manifest = json.loads((data.codec_corpus_dir() / "manifest.json").read_text())
    for info in manifest.values():
        if info["split"] == "heldout":
            noise = 0.1 * np.random.default_rng(0).standard_normal(32000)
            sf.write(songs / info["file"], noise, 32000, subtype="PCM_16")
    assert main(["ship-codec", "C64", "--runs", str(tmp_path / "r"), "--out", str(tmp_path / "m")]) == 2
    assert "has not finished" in capsys.readouterr().err
    monkeypatch.setattr(shipped, "SHIP_RATE_TOLERANCE", 0.0)
    with pytest.raises(ValueError, match="A64 does not ship: its file bitrate on the held-out songs is"):
        shipped.ship_run("A64", tmp_path / "r", songs, out=tmp_path / "m")
    assert not (tmp_path / "m" / "manifest.json").exists()
    monkeypatch.setattr(shipped, "SHIP_RATE_TOLERANCE", 1e9)
    entry = shipped.ship_run("A64", tmp_path / "r", songs, out=tmp_path / "m")
    assert entry["steps"] == 2 and entry["sample_rate"] == 32000 and entry["heldout_corpus"] == "whole songs"
    assert entry["sha256"] == hashlib.sha256((tmp_path / "m" / "A64.codec").read_bytes()).hexdigest()
    assert json.loads((tmp_path / "m" / "manifest.json").read_text())["A64"] == entry
    assert len(shipped.read_log_csv(tmp_path / "m" / "A64.log.csv.gz")) == 2


def test_a_broad_run_ships_into_its_own_collection_and_loads_by_its_qualified_name(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--collection broad``: the rate is measured on every segment of the held-out set (here two stand-in
    songs of two 1-s segments), the model lands in ``models/broad`` with its own manifest, loads as
    ``broad/A64`` and decodes digital silence to zeros; the codec collection is left untouched."""
    import numpy as np

    from percloss import data, shipped
    from percloss.codec import decode_indices, encode_indices

    cfg = RunConfig(steps=2, batch=2, segment_frames=2, histogram_seconds=1.0)
    train_point("A64", cfg, tmp_path / "s", snapshots=tmp_path / "r", print_fn=lambda _: None)
    rng = np.random.default_rng(0)
    segments = {song: [torch.from_numpy(0.1 * rng.standard_normal(32000).astype(np.float32)) for _ in range(2)]
                for song in ("one", "two")}
    monkeypatch.setattr(data, "heldout_set", lambda rate: segments)
    monkeypatch.setattr(shipped, "SHIP_RATE_TOLERANCE", 1e9)
    monkeypatch.setenv("PERCLOSS_MODELS", str(tmp_path / "m"))
    entry = shipped.ship_run("A64", tmp_path / "r", collection="broad")
    assert sorted(entry["file_kbps_per_song"]) == ["one", "two"] and entry["heldout_corpus"].startswith("the held")
    assert (tmp_path / "m" / "broad" / "A64.codec").is_file() and not (tmp_path / "m" / "manifest.json").exists()
    assert list(shipped.shipped_models("broad")) == ["A64"] and shipped.shipped_models() == {}
    codec, _, info = shipped.resolve_codec("broad/A64")
    assert info["zero_preserving"] and info["dc_reject_hz"] == 3.0 and info["sha256"] == entry["sha256"]
    assert "3-Hz DC-rejection high-pass" in str(info["trained"])
    assert float(decode_indices(codec, encode_indices(codec, torch.zeros(8000)), 8000).abs().max()) == 0.0
    with pytest.raises(ValueError, match="shipped: broad/A64"):
        shipped.load_shipped_codec("broad/C64")
    with pytest.raises(ValueError, match="collection"):
        shipped.shipped_models("other")


def test_eval_codec_command_line_refuses_bad_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval-codec", "--cdpam", "--seconds", "0"]) == 2
    assert "--seconds must be positive" in capsys.readouterr().err
    assert main(["eval-codec", "--update", "--out", str(tmp_path)]) == 2  # nothing stored there to update
    assert "no stored standard evaluation" in capsys.readouterr().err


def test_a_point_trains_on_the_broad_corpus_and_resumes_only_on_it(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """``corpus="broad"`` trains on data.training_corpus (here two stand-in songs) and records it; resuming the
    same point on the codec corpus is refused, as is an unknown corpus (before anything is written)."""
    from percloss import codec_runs

    seen: list[int] = []

    def broad(rate: int, folder: object = None) -> dict[str, torch.Tensor]:
        seen.append(rate)
        g = torch.Generator().manual_seed(0)
        return {"song_a": 0.1 * torch.randn(3 * rate, generator=g), "song_b": 0.1 * torch.randn(2 * rate, generator=g)}

    monkeypatch.setattr(codec_runs.data, "training_corpus", broad)
    cfg = RunConfig(steps=2, batch=2, segment_frames=2, histogram_seconds=1.0)
    log = train_point("A64", cfg, tmp_path / "s", snapshots=tmp_path / "r", print_fn=lambda _: None, corpus="broad")
    assert log is not None and log.steps == 2 and seen == [32000]
    record = (tmp_path / "r" / "A64" / "run.json").read_text()
    assert '"corpus_kind": "broad"' in record and '"song_a": 3.0' in record
    more = RunConfig(steps=4, batch=2, segment_frames=2, histogram_seconds=1.0)
    with pytest.raises(ValueError, match="trained on the broad corpus, not the codec one"):
        train_point("A64", more, tmp_path / "s", snapshots=tmp_path / "r", print_fn=lambda _: None)
    with pytest.raises(ValueError, match="corpus"):
        train_point("C64", cfg, tmp_path / "s2", snapshots=tmp_path / "r2", print_fn=lambda _: None, corpus="metal")
    assert not (tmp_path / "r2").exists()
