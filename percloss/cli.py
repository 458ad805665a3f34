"""Command line: ``python -m percloss threshold|nmr ...``.

Errors in the input (missing or unreadable files, mismatched rates) print one
line on stderr and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._optional import MissingExtraError

__all__ = ["main"]

CALIBRATIONS = ("iso", "sine96", "frame_max96")  # percloss.masking.CALIBRATIONS, without importing torch


def _audio_reader(path: str) -> tuple[Callable[[int, int], Any], Any, int, int]:
    """A file's samples as the CLI analyses them, read on demand: ``(read, file, rate, length)``.

    ``read(start, stop)`` gives samples ``[start, stop)`` of the mono mean of the channels as
    :func:`percloss.data.load_wav` gives it (float32), in float64, with zeros outside the file (a
    :data:`percloss.masking.SampleReader`); memory stays that of the blocks asked for. Errors as
    :func:`percloss.data.read_audio`'s; says when it downmixes.
    """
    import soundfile as sf
    import torch

    if not Path(path).is_file():
        raise ValueError(f"path does not name a file: {path!r}")
    try:
        file = sf.SoundFile(path)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise ValueError(f"path {path!r} is not a readable audio file: {err}") from None
    length = int(file.frames)
    if length == 0:
        raise ValueError(f"path {path!r} holds no samples")
    if file.channels > 1:
        print(f"note: {path}: {file.channels} channels downmixed to mono (their mean)")

    def read(start: int, stop: int) -> torch.Tensor:
        lo, hi = max(start, 0), min(stop, length)
        out = torch.zeros(stop - start, dtype=torch.float64)
        if lo < hi:
            file.seek(lo)
            block = file.read(hi - lo, dtype="float64", always_2d=True)
            out[lo - start : hi - start] = torch.from_numpy(block.mean(axis=1).astype(np.float32))
        return out

    return read, file, int(file.samplerate), length


def _threshold(args: argparse.Namespace) -> int:
    import torch

    from .masking import CHUNK_ROWS, full_scale_sine_db, model1_stream, model_tables

    if args.plot:  # before the analysis: a bad name fails in one line, at once
        _check_plot_path(Path(args.plot))
    read, file, rate, length = _audio_reader(args.clip)
    if length < args.n_fft:
        raise ValueError(f"{args.clip}: needs at least {args.n_fft} samples, has {length}")
    t = model_tables(rate, args.n_fft)  # checks the rate before any analysis
    hop = 384 if args.n_fft == 512 else 1152
    # frame by frame in chunks (bounded memory for any length): per-subband sums, the loudest frame,
    # and for the plot the threshold of every frame (float32, 0.4 kB per frame)
    sums = torch.zeros(3, 32, dtype=torch.float64)
    tonal_count, frames, loudest, loudest_db = 0.0, 0, -1, float("-inf")
    loudest_spectrum, thresholds = None, []
    for f0, a in model1_stream(read, length, torch.float64, torch.device("cpu"), rate, args.n_fft, hop, 0.0,
                                args.calibration, "scalefactor", CHUNK_ROWS):
        sums += torch.stack([v.sum(0) for v in (a.spl_db, a.min_threshold_db, a.smr_db)])
        tonal_count += float(a.tonal.double().sum())
        frames += a.smr_db.shape[0]
        peak = a.spectrum_db.amax(-1)
        top = int(peak.argmax())
        if float(peak[top]) > loudest_db:
            loudest, loudest_db = f0 + top, float(peak[top])
            loudest_spectrum = a.spectrum_db[top].numpy().copy()
        if args.plot:
            thresholds.append(a.global_threshold_db.float().numpy())
    file.close()
    kind = "standard" if t.standard else "derived"
    scale = ("each frame's loudest line = 96 dB SPL" if args.calibration == "frame_max96"
             else f"full-scale sine = {full_scale_sine_db(args.calibration):.2f} dB SPL")
    print(f"{args.clip}: {rate} Hz, {length / rate:.2f} s, {frames} frames "
          f"(MPEG-1 model 1, {args.n_fft}-point FFT, {kind} tables; calibration {args.calibration}: {scale})")
    print(f"{'subband':>7} {'from Hz':>8} {'to Hz':>8} {'level dB':>9} {'min thr dB':>11} {'SMR dB':>7}")
    width = rate / 2 / 32
    spl, thr, smr = sums / frames
    for s in range(32):
        print(f"{s:7d} {s * width:8.0f} {(s + 1) * width:8.0f} {spl[s]:9.1f} {thr[s]:11.1f} {smr[s]:7.1f}")
    print(f"tonal maskers per frame: {tonal_count / frames:.1f}")
    if args.plot:
        assert loudest_spectrum is not None
        _plot_threshold(t, loudest, loudest_spectrum, np.concatenate(thresholds), rate, Path(args.plot))
        print(f"plot written to {args.plot}")
    return 0


PLOT_SUFFIXES = (".png", ".pdf", ".svg")


def _check_plot_path(path: Path) -> None:
    if path.is_dir():
        raise ValueError(f"--plot {str(path)!r} is a directory; name a {', '.join(PLOT_SUFFIXES)} file")
    if path.suffix.lower() not in PLOT_SUFFIXES:
        raise ValueError(f"--plot {str(path)!r}: use a {', '.join(PLOT_SUFFIXES)} name")
    _write_output(path)  # before the analysis: the folder exists and the file can be written


def _plot_threshold(t: object, loudest: int, spectrum: np.ndarray, threshold: np.ndarray, rate: int,
                    path: Path) -> None:
    """The loudest frame (its level spectrum and threshold) and the threshold of every frame over time."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ValueError("--plot needs matplotlib (pip install 'percloss[book]')") from None
    from .masking import ModelTables

    assert isinstance(t, ModelTables)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 7), constrained_layout=True)
    lines = np.arange(len(spectrum)) * rate / t.n_fft
    ax1.plot(lines, spectrum, lw=0.8, label="level spectrum")
    ax1.plot(t.frequency, threshold[loudest], lw=1.5, label="global masking threshold")
    ax1.plot(t.frequency, t.threshold_in_quiet, "k--", lw=1, label="threshold in quiet")
    ax1.set(xscale="log", xlim=(50, rate / 2), ylim=(-20, 110), xlabel="frequency (Hz)",
            ylabel="dB SPL", title=f"loudest frame ({loudest})")
    ax1.legend(loc="lower left")
    im = ax2.imshow(threshold.T, origin="lower", aspect="auto", cmap="magma",
                    extent=(0, threshold.shape[0], 0, len(t.frequency)))
    ax2.set(xlabel="frame", ylabel="grid index", title="global masking threshold (dB SPL)")
    fig.colorbar(im, ax=ax2)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
    except OSError as err:
        raise ValueError(f"cannot write --plot {str(path)!r}: {err.strerror}") from None
    finally:
        plt.close(fig)


def _nmr(args: argparse.Namespace) -> int:
    import torch

    from .masking import CHUNK_ROWS, model_tables
    from .metrics import nmr_ratios

    read_ref, file_ref, rate_ref, len_ref = _audio_reader(args.reference)
    read_test, file_test, rate_test, len_test = _audio_reader(args.test)
    if rate_ref != rate_test:
        raise ValueError(f"sample rates differ: {args.reference} is {rate_ref} Hz, {args.test} is {rate_test} Hz")
    if len_ref != len_test:
        raise ValueError(f"lengths differ: {args.reference} has {len_ref} samples, {args.test} has {len_test}")
    if len_ref < args.n_fft:
        raise ValueError(f"{args.reference}: needs at least {args.n_fft} samples, has {len_ref}")
    model_tables(rate_ref, args.n_fft)  # checks the rate before any analysis
    hop = 384 if args.n_fft == 512 else 1152
    # frames in chunks (bounded memory for any length): the sums behind the means
    total, count, audible, frames = 0.0, 0, 0, 0
    with torch.no_grad():
        for _, ratio in nmr_ratios(read_ref, read_test, len_ref, torch.float64, rate_ref, args.n_fft, hop,
                                    args.calibration, CHUNK_ROWS):
            total += float(ratio.sum())
            count += ratio.numel()
            audible += int((ratio.amax(-1) > 1.0).sum())
            frames += ratio.shape[0]
        # SNR in blocks: 10 log10(sum ref^2 / sum (test - ref)^2), +inf without noise, -inf without signal
        signal = noise = 0.0
        for start in range(0, len_ref, 1 << 20):
            stop = min(start + (1 << 20), len_ref)
            ref, test = read_ref(start, stop), read_test(start, stop)
            signal += float(ref.square().sum())
            noise += float((test - ref).square().sum())
    file_ref.close()
    file_test.close()
    snr_db = math.inf if noise == 0 else -math.inf if signal == 0 else 10 * math.log10(signal / noise)
    print(f"reference {args.reference}, test {args.test}: {rate_ref} Hz, {len_ref / rate_ref:.2f} s "
          f"(model 1 calibration {args.calibration})")
    print(f"NMR (mean over frames and bands): {10 * math.log10(total / count):.2f} dB")
    print(f"frames with audible noise (a band above 0 dB): {100 * audible / frames:.1f} %")
    print(f"SNR: {snr_db:.2f} dB")
    return 0


def _weights(args: argparse.Namespace) -> int:
    from .embeddings import WEIGHTS, download_weights, find_weights

    if args.action == "download":
        models = list(args.models or ("vggish", "openl3"))
        if "vggish" in models:
            models.append("vggish_pca")  # torchvggish's post-processing, applied by default
        for model in models:
            spec = WEIGHTS[model]
            print(f"downloading {spec.model} from {spec.url} ...", flush=True)
            try:
                path = download_weights(model, args.dir)
            except OSError as err:
                raise ValueError(f"could not download {spec.url}: {err}") from None
            print(f"  {path} (SHA-256 verified; licence: {spec.licence})")
        return 0
    for model, spec in WEIGHTS.items():
        try:
            print(f"{model}: {find_weights(model)}")
        except FileNotFoundError:
            print(f"{model}: not found ({spec.filename}, from {spec.url})")
    return 0


BLOCK = 1 << 20  # samples per block read, resampled or written by encode and decode


def _resampler(orig_rate: int, new_rate: int) -> Any:
    """A soxr stream (very high quality, float64): the same samples as :func:`percloss.signal.resample_audio` in one
    piece, fed block by block."""
    from ._optional import needs

    with needs(("codec", "metrics"), "Resampling (soxr)"):
        import soxr
    return soxr.ResampleStream(orig_rate, new_rate, 1, dtype="float64", quality="VHQ")


def _timing_line(seconds: float, started: float, timings: dict[str, float], precision: str) -> str:
    """``--verbose``: the real-time factor (audio seconds / wall seconds) and where the wall time went."""
    import time

    import torch

    wall = time.perf_counter() - started
    rest = wall - timings.get("network", 0.0) - timings.get("range coder", 0.0)
    return (f"{seconds:.2f} s of audio in {wall:.2f} s = {seconds / wall:.1f}x real time (network "
            f"{timings.get('network', 0.0):.2f} s, range coder {timings.get('range coder', 0.0):.3f} s, "
            f"I/O, resampling and model loading {rest:.2f} s; {torch.get_num_threads()} thread(s), {precision})")


def _encode(args: argparse.Namespace) -> int:
    import time

    import torch

    from .codec import write_bitstream
    from .shipped import resolve_codec

    started = time.perf_counter()
    codec, counts, info = resolve_codec(args.model)
    rate = int(info["sample_rate"])  # type: ignore[call-overload]
    _write_output(Path(args.output))
    if Path(args.output).suffix.lower() != ".pcl":
        raise ValueError(f"output {str(args.output)!r}: name the bitstream with a .pcl suffix")
    # read, downmix and resample block by block; the codec frames the blocks as they come (bounded memory)
    read, file, file_rate, length = _audio_reader(args.input)
    if file_rate != rate:
        print(f"note: resampled {file_rate} Hz -> {rate} Hz (soxr) for model {info['name']}; "
              f"decode restores {file_rate} Hz")

    def blocks() -> Iterator[torch.Tensor]:
        stream = _resampler(file_rate, rate) if file_rate != rate else None
        for start in range(0, length, BLOCK):
            block = read(start, min(start + BLOCK, length)).numpy()
            if stream is not None:
                block = stream.resample_chunk(block, last=start + BLOCK >= length).astype(np.float32)
            samples[0] += len(block)
            yield torch.from_numpy(block)

    samples = [0]
    timings: dict[str, float] = {}
    with file:
        blob = write_bitstream(codec, counts, blocks(), rate, progress=not args.quiet, original_rate=file_rate,
                               precision=args.precision, timings=timings)
    _write_output(Path(args.output), blob)
    seconds = samples[0] / rate
    print(f"{args.output}: {len(blob)} bytes for {seconds:.2f} s at {rate} Hz = "
          f"{len(blob) * 8 / seconds / 1000:.1f} kbit/s (model {info['name']}, {info['trained']})")
    if args.verbose:
        print("encode: " + _timing_line(seconds, started, timings, args.precision))
    return 0


def _write_output(path: Path, blob: bytes | None = None) -> None:
    """Check an output path (one clear line instead of a traceback), then write ``blob`` if given."""
    if path.is_dir():
        raise ValueError(f"output path {str(path)!r} is a directory")
    if not path.parent.is_dir():
        raise ValueError(f"output folder {str(path.parent)!r} does not exist")
    if blob is None:  # before the work: open it for writing once (permissions alone do not tell, e.g. as root)
        existed = path.exists()
        try:
            with path.open("ab"):
                pass
        except OSError as err:
            raise ValueError(f"cannot write {str(path)!r}: {err.strerror}") from None
        if not existed:
            path.unlink()
    if blob is not None:
        try:
            path.write_bytes(blob)
        except OSError as err:
            raise ValueError(f"cannot write {str(path)!r}: {err.strerror}") from None


def _decode(args: argparse.Namespace) -> int:
    import time

    import soundfile as sf

    from .codec import bitstream_info, read_bitstream
    from .shipped import resolve_codec

    started = time.perf_counter()
    codec, counts, info = resolve_codec(args.model)
    path = Path(args.input)
    if not path.is_file():
        raise ValueError(f"path does not name a file: {str(path)!r}")
    out = Path(args.output)
    _write_output(out)
    if out.suffix.lower() not in (".wav", ".flac"):
        raise ValueError(f"output {str(out)!r}: use a .wav or .flac name")
    blob = path.read_bytes()
    header = bitstream_info(blob)
    timings: dict[str, float] = {}
    y, rate = read_bitstream(codec, counts, blob, progress=not args.quiet, precision=args.precision, timings=timings)
    del blob
    target = int(args.rate) if args.rate is not None else int(header["original_rate"])
    if target != rate:
        print(f"note: resampled {rate} Hz -> {target} Hz (soxr)"
              + (" (the input's original rate)" if args.rate is None else ""))
        stream = _resampler(rate, target)
    written = 0
    try:
        with sf.SoundFile(str(out), "w", samplerate=target, channels=1, subtype="PCM_16") as f:
            for start in range(0, len(y), BLOCK):  # clip, resample and write block by block
                block = y[start : start + BLOCK].clamp(-1, 1).double().numpy()
                if target != rate:
                    block = np.clip(stream.resample_chunk(block, last=start + BLOCK >= len(y)), -1.0, 1.0)
                f.write(block)
                written += len(block)
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise ValueError(f"cannot write {str(out)!r}: {err}") from None
    print(f"{args.output}: {written / target:.2f} s at {target} Hz (model {info['name']})")
    if args.verbose:
        print("decode: " + _timing_line(len(y) / rate, started, timings, args.precision))
    return 0


def _models(args: argparse.Namespace) -> int:
    from .shipped import COLLECTIONS, DEFAULT_MODEL, models_dir, shipped_models

    models = {(name if c == "codec" else f"{c}/{name}"): e for c in COLLECTIONS for name, e in shipped_models(c).items()}
    if not models:
        print(f"no codec models ship in {models_dir()} yet; train one with `python -m percloss train-codec` "
              "and pass its checkpoint with --model PATH")
        return 0
    for name, e in sorted(models.items()):
        default = " (default)" if name == DEFAULT_MODEL else ""
        print(f"{name}{default}: {e.get('sample_rate')} Hz, {e.get('n_modules')} module(s), "
              f"{e.get('parameters', '?')} parameters, {e.get('steps')} steps, "
              f"{e.get('file_kbps_heldout', '?')} kbit/s on held-out songs, sha256 {str(e.get('sha256'))[:12]}")
    return 0


def _check_writable_dir(path: Path, flag: str) -> None:
    """``path`` is, or can be made, a folder this process may write in; else ``ValueError`` naming ``flag``."""
    import tempfile

    if path.exists() and not path.is_dir():
        raise ValueError(f"{flag} {str(path)!r} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"{flag} {str(path)!r} cannot be created: {err.strerror}") from None
    try:  # write once, as _write_output does (permissions alone do not tell, e.g. as root)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        raise ValueError(f"{flag} {str(path)!r} is not writable: {err.strerror}") from None


def _train_codec(args: argparse.Namespace) -> int:
    import torch

    from .codec_runs import RUN, describe, train_point

    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    if args.list:
        print(describe())
        return 0
    if args.point is None:
        raise ValueError("--point is required (see --list)")
    from pathlib import Path

    if args.corpus == "broad":
        corpus = None if args.corpus_folder in (None, "excerpts") else args.corpus_folder
        if corpus is not None and not Path(corpus).is_dir():
            raise ValueError(f"no corpus folder {corpus!r}: the broad corpus's audio is built by "
                             "`bash scripts/build_training_corpus.sh` into data/corpus/audio (the default)")
    else:
        folder = args.corpus_folder or "data/codec_corpus"
        if folder != "excerpts" and not Path(folder).is_dir():
            raise ValueError(f"no corpus folder {folder!r}: run `bash scripts/build_codec_corpus.sh --full "
                             f"{folder}` first (or pass --corpus-folder excerpts for the shipped 20 s excerpts)")
        corpus = None if folder == "excerpts" else folder
    try:
        device = torch.device(args.device)
    except RuntimeError:
        raise ValueError(f"--device must name a torch device (cpu, cuda, cuda:1, ...), got {args.device!r}") from None
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"--device {args.device}: training runs on cpu or cuda[:N] only")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {args.device}: torch sees no CUDA device here")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"--device {args.device}: torch sees {torch.cuda.device_count()} CUDA device(s)")
    if args.report_every < 1:
        raise ValueError(f"--report-every must be at least 1 step, got {args.report_every}")
    if not args.hours > 0:
        raise ValueError(f"--hours must be positive, got {args.hours}")
    for flag, folder in (("--state-dir", args.state_dir), ("--snapshot-dir", args.snapshot_dir)):
        if folder is not None:
            _check_writable_dir(Path(folder), flag)
    train_point(args.point, RUN, args.state_dir, hours=args.hours, snapshots=args.snapshot_dir,
                corpus_folder=corpus, device=device, report_every=args.report_every, corpus=args.corpus)
    return 0


def _eval_codec(args: argparse.Namespace) -> int:
    import time

    from .experiments import codec_evaluation as ce
    from .experiments import codec_study as cs
    from .modes import configure_threads

    if args.seconds <= 0:
        raise ValueError(f"--seconds must be positive, got {args.seconds}")
    if args.out is not None:
        _check_writable_dir(Path(args.out), "--out")
    configure_threads()
    config = cs.CodecStudyConfig.for_mode("standard")
    start = time.perf_counter()
    if args.cdpam:
        table, scored = ce.score_cdpam(config, args.out, args.seconds, args.update)
        print(f"CDPAM of {', '.join(scored) or 'nothing new'} in {(time.perf_counter() - start) / 60:.1f} min -> {table}")
    elif args.update:
        table, evaluated = ce.update_evaluation(config, args.out)
        print(f"evaluated {', '.join(evaluated) or 'nothing new'} in {(time.perf_counter() - start) / 60:.1f} min "
              f"-> {table}")
    else:
        study = ce.run_study(config, progress=False, stored=None)
        wall = time.perf_counter() - start
        table = ce.write_evaluation(study, args.out, wall)
        print(f"{len(study.rows)} rows in {wall / 60:.1f} min -> {table}")
    return 0


def _ship_codec(args: argparse.Namespace) -> int:
    import json

    from .shipped import ship_run

    print(json.dumps(ship_run(args.point, args.runs, args.corpus_folder, args.out, args.collection), indent=1))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``percloss`` argument parser."""
    parser = argparse.ArgumentParser(prog="python -m percloss", description="Perceptual audio measures.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("threshold", help="MPEG-1 model 1 masking threshold of a file")
    p.add_argument("clip", help="audio file (WAV, FLAC, ...)")
    p.add_argument("--plot", help="write a PNG of the loudest frame and the threshold over time")
    p.add_argument("--n-fft", type=int, default=512, choices=(512, 1024))
    p.add_argument("--calibration", default="iso", choices=CALIBRATIONS,
                   help="level calibration of model 1 (Default: iso, the standard's)")
    p.set_defaults(run=_threshold)
    q = sub.add_parser("nmr", help="noise-to-mask ratio of TEST against REF")
    q.add_argument("reference", help="reference audio file")
    q.add_argument("test", help="test audio file, same rate and length")
    q.add_argument("--n-fft", type=int, default=512, choices=(512, 1024))
    q.add_argument("--calibration", default="iso", choices=CALIBRATIONS,
                   help="level calibration of model 1 (Default: iso, the standard's)")
    q.set_defaults(run=_nmr)
    w = sub.add_parser("weights", help="find or download the VGGish/OpenL3 weights")
    w.add_argument("action", choices=("download", "list"))
    w.add_argument("models", nargs="*", choices=("vggish", "openl3", []), help="(Default: both)")
    w.add_argument("--dir", help="target folder (Default: the torch hub checkpoints folder)")
    w.set_defaults(run=_weights)
    e = sub.add_parser("encode", help="code a file with a neural codec checkpoint")
    e.add_argument("input")
    e.add_argument("output")
    e.add_argument("--model", default="D64",
                   help="a shipped model's name (see `models`) or a checkpoint path (Default: D64)")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.add_argument("--verbose", action="store_true",
                   help="print the real-time factor and the time in the network, range coder and I/O")
    e.add_argument("--precision", default="float32", choices=("float32", "bfloat16"),
                   help="bfloat16: faster on CPUs with bf16 instructions, other codes than float32's "
                        "(opt-in; benchmarks/results/codec.md) (Default: float32)")
    e.set_defaults(run=_encode)
    m = sub.add_parser("models", help="list the codec models shipped with the package")
    m.set_defaults(run=_models)
    t = sub.add_parser("train-codec", help="train one of the work's codec operating points (resumable)")
    t.add_argument("--point", choices=("A64", "A79", "B79", "C64", "D64", "A168", "C96", "C112", "D96", "D112"),
                   help="the low-bitrate set (32 kHz) or the high-bitrate set (44.1 kHz; meant for a GPU)")
    t.add_argument("--hours", type=float, default=1.0, help="wall-time budget of this call (Default: 1)")
    t.add_argument("--threads", type=int, help="torch threads (Default: torch's)")
    t.add_argument("--report-every", type=int, default=50, help="steps between progress lines (Default: 50)")
    t.add_argument("--device", default="cpu", help="where to train: cpu, cuda, cuda:1, ... (Default: cpu)")
    t.add_argument("--state-dir", help="resumable states (Default: $PERCLOSS_TRAIN_DIR or ~/.cache/percloss/codec-train)")
    t.add_argument("--snapshot-dir", default="runs/codec", help="weights-only snapshots and logs (Default: runs/codec)")
    t.add_argument("--corpus", choices=("codec", "broad"), default="codec",
                   help="codec: the codec corpus's training songs (Fret's on Fire); broad: the broad training corpus "
                        "(6.3 h, six sources; scripts/build_training_corpus.sh) (Default: codec)")
    t.add_argument("--corpus-folder", default=None,
                   help="codec: whole songs (Default: data/codec_corpus; 'excerpts': the shipped 20 s excerpts); "
                        "broad: where its audio was built (Default: data/corpus/audio)")
    t.add_argument("--list", action="store_true", help="print the points and the schedule")
    t.set_defaults(run=_train_codec)
    v = sub.add_parser("eval-codec", help="compute the codec chapter's stored evaluation of the shipped models")
    v.add_argument("--update", action="store_true",
                   help="evaluate only the models that are new or changed since the stored evaluation (by SHA-256)")
    v.add_argument("--cdpam", action="store_true",
                   help="score the held-out segments by CDPAM (slow on a CPU) instead of the other measures")
    v.add_argument("--seconds", type=float, default=2.0,
                   help="with --cdpam: the middle of each segment CDPAM scores (Default: 2)")
    v.add_argument("--out", help="folder of the stored evaluation (Default: $PERCLOSS_RUNS/codec/eval)")
    v.set_defaults(run=_eval_codec)
    s_ = sub.add_parser("ship-codec", help="ship a finished training run into the package (checkpoint, log, manifest)")
    s_.add_argument("point", choices=("A64", "A79", "B79", "C64", "D64", "A168", "C96", "C112", "D96", "D112"))
    s_.add_argument("--runs", help="the training runs' folder (Default: the repository's runs/codec)")
    s_.add_argument("--corpus-folder", help="whole held-out songs to measure the bitrate on (Default: the excerpts)")
    s_.add_argument("--out", help="the package's model folder (Default: percloss/models or $PERCLOSS_MODELS, "
                                  "its broad/ subfolder for --collection broad)")
    s_.add_argument("--collection", choices=("codec", "broad"), default="codec",
                    help="codec: trained on the codec corpus (runs/codec); broad: on the broad corpus "
                         "(runs/codec/broad), its rate measured on the 16-song held-out set (Default: codec)")
    s_.set_defaults(run=_ship_codec)
    d = sub.add_parser("decode", help="decode a .pcl file to WAV")
    d.add_argument("input")
    d.add_argument("output")
    d.add_argument("--model", default="D64", help="the model that encoded the file (Default: D64)")
    d.add_argument("--rate", type=int, help="output sample rate (Default: the input's original rate)")
    d.add_argument("--quiet", action="store_true")
    d.add_argument("--verbose", action="store_true",
                   help="print the real-time factor and the time in the network, range coder and I/O")
    d.add_argument("--precision", default="float32", choices=("float32", "bfloat16"),
                   help="bfloat16: faster on CPUs with bf16 instructions, other samples than float32's "
                        "(opt-in) (Default: float32)")
    d.set_defaults(run=_decode)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (ValueError, MissingExtraError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
