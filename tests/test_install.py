"""The lean install: what ``pip install percloss`` brings, and what each extra adds.

In this process (fast): the extras of ``pyproject.toml`` and :data:`percloss._optional.EXTRAS` agree;
no module of the package imports an optional package at import time, and each import of one sits in a
``needs(extra, ...)`` block; a missing package raises an error naming its extra; the data locations
name their variable outside a checkout.

In fresh virtual environments (marked slow): the wheel is built from this checkout (``pip wheel
--no-deps --no-build-isolation``: setuptools and wheel come from the dev extra, nothing is
downloaded) and installed with ``pip --no-index`` into two new environments outside the checkout:

- ``core``: ``pip install percloss-*.whl``, no extras. Every loss of :mod:`percloss.losses` (module
  and functional form, forward and backward), the codec's training loss and model 1 run on a short
  signal and give the numbers this checkout gives; ``percloss threshold`` runs; PESQ, the range
  coder, CDPAM, the chapters' code and the clips raise errors naming the extra or the variable.
- ``codec``: ``pip install 'percloss[codec]'``. From an empty temporary folder, ``percloss models``
  lists the shipped models, ``percloss encode`` codes a 44.1 kHz file with the default model and
  ``percloss decode`` restores it at 44.1 kHz; the MP3 and Opus anchors run.

Neither environment downloads or unpacks torch again. Each is made by ``python -m venv
--without-pip``, and a single ``.pth`` file in its site-packages adds one folder of symbolic links
to exactly the distributions that install declares: the closure of the wheel's own
``Requires-Dist`` (core; core + codec), resolved against this environment. Nothing else of this
environment is visible there (``python -I``, an empty working folder), so an import of an
undeclared package fails, and pip, run with ``--no-index`` and no configuration file, must find
every declared requirement satisfied by those links: the test checks that it installed percloss
and nothing else. The whole check takes about a minute on 2 cores (the wheel builds in ~3 s).

Installed sizes (site-packages added by a real ``pip install`` of the wheel into an empty
environment with the constraints' CPU torch 2.13.0, Python 3.11, measured with ``du``): see
``INSTALLED`` below; the test prints the sizes it computes from the linked distributions' files
(``pytest -s``: core 1054 MiB in 16 distributions, codec 1056 MiB in 20; ``du`` counts whole blocks).
"""

from __future__ import annotations

import ast
import email.parser
import functools
import importlib.metadata as metadata
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from percloss import _optional, data, paths
from percloss._optional import EXTRAS, MissingExtraError

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "percloss"
CORE = {"torch", "numpy", "scipy", "soundfile"}

#: Measured with ``du -sk`` of site-packages before and after a real ``pip install -c constraints.txt``
#: of the wheel into a new ``python3 -m venv`` (Python 3.11; torch 2.13.0+cpu from the machine's wheel
#: folder, the other packages from PyPI), 2026-12-07: MiB added and distributions installed, for the core
#: install, the codec install, and the one install there was before the extras (at 1bfc4ac, when the
#: packages of today's metrics, codec, degrade and embeddings extras were all dependencies). Wall time
#: of those installs on 2 busy cores: 44 s (core), 160 s (before; it downloads ~400 MB more).
INSTALLED = {"core": (1108, 16), "codec": (1110, 20), "before the extras": (1521, 51)}


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@functools.cache
def _installed_import_names() -> dict[str, set[str]]:
    """Top-level import names of each installed distribution (canonical name)."""
    out: dict[str, set[str]] = {}
    for name, dists in metadata.packages_distributions().items():
        for d in dists:
            out.setdefault(canonicalize_name(d), set()).add(name)
    return out


# --- in this process -------------------------------------------------------------------------------


def test_core_dependencies_are_torch_numpy_scipy_soundfile() -> None:
    core = {Requirement(r).name for r in _pyproject()["project"]["dependencies"]}
    assert core == CORE


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_each_extra_brings_the_packages_the_library_names_for_it(extra: str) -> None:
    """pyproject.toml's extra and percloss._optional.EXTRAS list the same packages (by import name)."""
    requirements = [Requirement(r) for r in _pyproject()["project"]["optional-dependencies"][extra]]
    listed = set(EXTRAS[extra])
    provided = {r.name: _installed_import_names().get(canonicalize_name(r.name), set()) for r in requirements}
    for distribution, names in provided.items():
        assert names, f"{distribution} (extra {extra!r}) is not installed here: make venv"
        assert names & listed, f"pyproject.toml's {extra!r} extra has {distribution}, EXTRAS lacks {sorted(names)}"
    assert listed <= set().union(*provided.values()), f"EXTRAS[{extra!r}] names more than pyproject.toml's extra"


def test_all_and_book_bring_every_extra() -> None:
    extras = _pyproject()["project"]["optional-dependencies"]
    everything = {e for e in extras if e not in ("all", "book", "dev")}
    assert everything == set(EXTRAS)
    (whole,) = [Requirement(r) for r in extras["all"]]
    assert whole.name == "percloss" and whole.extras == everything
    assert "percloss[all]" in extras["book"]
    make = (ROOT / "Makefile").read_text()
    assert "-e '.[book,dev]'" in make  # the book and the tests get every extra


def _module_imports(path: Path) -> list[tuple[str, bool, bool]]:
    """(top-level name, at module level, inside a ``with needs(...)`` block) of each absolute import."""
    tree = ast.parse(path.read_text(), str(path))
    out: list[tuple[str, bool, bool]] = []

    def visit(node: ast.AST, in_function: bool, in_needs: bool) -> None:
        for child in ast.iter_child_nodes(node):
            func = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            needs = in_needs or (isinstance(child, ast.With) and any(
                isinstance(item.context_expr, ast.Call) and isinstance(item.context_expr.func, ast.Name)
                and item.context_expr.func.id == "needs" for item in child.items))
            if isinstance(child, ast.Import):
                out.extend((a.name.split(".")[0], not in_function, in_needs) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                out.append((child.module.split(".")[0], not in_function, in_needs))
            visit(child, func, needs)

    visit(tree, False, False)
    return out


def test_no_module_imports_an_optional_package_when_it_is_imported() -> None:
    """Module-level imports: the standard library, the core, and pandas in the chapters' code (whose
    ``percloss.experiments`` checks for the book extra before any of it is imported)."""
    optional = set().union(*EXTRAS.values()) | {"pandas", "matplotlib", "ipywidgets", "IPython", "tqdm"}
    book_only = {PACKAGE / "experiments" / f.name for f in (PACKAGE / "experiments").glob("*.py")}
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for name, module_level, _ in _module_imports(path):
            if not module_level or name in sys.stdlib_module_names or name in CORE or name == "percloss":
                continue
            if path in book_only and name in {"pandas"}:  # percloss.experiments checks for the book extra
                continue
            bad.append(f"{path.relative_to(ROOT)}: {name}" + (" (optional)" if name in optional else ""))
    assert not bad, "imported at module level, outside the core: " + ", ".join(bad)


def test_every_import_of_an_extras_package_names_its_extra() -> None:
    """Inside functions too, an extra's package is imported in a ``needs(extra, ...)`` block."""
    exempt = {PACKAGE / "_optional.py",  # its tqdm() draws no bar without tqdm, by design
              PACKAGE / "cdpam.py"}  # its own ImportError names pip install 'percloss[cdpam]'
    optional = set().union(*EXTRAS.values())
    bad = [f"{p.relative_to(ROOT)}: {name}" for p in sorted(PACKAGE.rglob("*.py")) if p not in exempt
           for name, _, in_needs in _module_imports(p) if name in optional and not in_needs]
    assert not bad, "imported without naming its extra: " + ", ".join(bad)
    assert "pip install 'percloss[cdpam]'" in (PACKAGE / "cdpam.py").read_text()


def _calls() -> list[tuple[str, str, object]]:
    from percloss import anchors, codec, degrade, scorers, signal

    speech = 0.1 * np.sin(np.arange(48000) * 0.05)
    return [
        ("pesq", "metrics", lambda: scorers.pesq_wb(speech[:16000], speech[:16000])),
        ("pystoi", "metrics", lambda: scorers.estoi(speech, speech, 16000)),
        ("speechmos", "metrics", lambda: scorers.dnsmos(speech[:16000])),
        ("visqol", "metrics", lambda: scorers.visqol(speech, speech, 48000)),
        ("constriction", "codec", lambda: codec.write_bitstream(None, [], None, 32000)),  # type: ignore[arg-type]
        ("constriction", "codec", lambda: codec.read_bitstream(None, [], b"")),  # type: ignore[arg-type]
        ("lameenc", "codec", lambda: anchors.mp3(speech, 48000, 64)),
        ("soxr", "codec", lambda: anchors.opus_encode(speech, 16000, 32)),
        ("pyroomacoustics", "degrade", lambda: degrade._rir.__wrapped__(16000, 0.3)),  # type: ignore[attr-defined]
        ("soxr", "codec", lambda: signal.resample_audio(speech, 48000, 16000)),
        ("soxr", "metrics", lambda: signal.resample_audio(speech, 48000, 16000)),
    ]


@pytest.mark.parametrize("index", range(len(_calls())))
def test_a_missing_package_raises_an_error_that_names_its_extra(index: int,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from percloss import scorers

    package, extra, call = _calls()[index]
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, package, None)  # "import package" raises ImportError
    monkeypatch.setattr(scorers, "_VISQOL", {})
    with pytest.raises(MissingExtraError, match=rf"needs the .*'{extra}'.* extra.*pip install 'percloss\[{extra}\]'"):
        call()  # type: ignore[operator]


def test_the_error_is_an_import_error_with_the_package_and_its_cause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pesq", None)
    with pytest.raises(ImportError) as info:
        _optional.require("pesq", "metrics", "PESQ")
    assert str(info.value).startswith("PESQ needs the 'metrics' extra: pip install 'percloss[metrics]' (")
    assert info.value.name == "pesq" and isinstance(info.value.__cause__, ImportError)
    with pytest.raises(ImportError, match=r"Resampling needs the 'codec' or the 'metrics' extras: "
                                          r"pip install 'percloss\[codec\]' or pip install 'percloss\[metrics\]'"):
        with _optional.needs(("codec", "metrics"), "Resampling"):
            import pesq  # noqa: F401


def test_progress_bars_are_left_out_without_tqdm(monkeypatch: pytest.MonkeyPatch) -> None:
    items = [3, 1, 2]
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    assert _optional.tqdm(items, desc="x") is items
    monkeypatch.delitem(sys.modules, "tqdm.auto")
    bar = _optional.tqdm(items, desc="x", disable=False, file=open(os.devnull, "w"))  # noqa: SIM115
    assert bar is not items and list(bar) == items


def test_the_data_locations_name_their_variable_outside_a_checkout(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("PERCLOSS_DATA", "PERCLOSS_CORPUS", "PERCLOSS_RUNS", "PERCLOSS_CACHE"):
        monkeypatch.delenv(variable, raising=False)
    # in the checkout: its folders, as before
    assert data.clips_dir() == ROOT / "data" / "clips" and (data.clips_dir() / "manifest.json").is_file()
    assert data.codec_corpus_dir() == ROOT / "data" / "codec"
    assert paths.runs_dir() == ROOT / "runs"
    # installed: site-packages holds no data/ or runs/, and nothing points into it
    monkeypatch.setattr(paths, "_CHECKOUT", tmp_path / "site-packages")
    with pytest.raises(FileNotFoundError, match="set PERCLOSS_DATA to the folder") as info:
        data.clips_dir()
    assert "data/clips" in str(info.value)
    with pytest.raises(FileNotFoundError, match="set PERCLOSS_DATA"):
        data.list_clips()
    with pytest.raises(FileNotFoundError, match="set PERCLOSS_CORPUS to the folder"):
        data.codec_corpus_dir()
    with pytest.raises(FileNotFoundError, match="PERCLOSS_RUNS"):
        paths.runs_dir()
    assert paths.cache_dir() == Path.home() / ".cache" / "percloss" / "codec"
    monkeypatch.setenv("PERCLOSS_DATA", str(tmp_path / "clips"))
    assert data.clips_dir() == tmp_path / "clips" and data.codec_corpus_dir() == tmp_path / "codec"
    monkeypatch.setenv("PERCLOSS_CORPUS", str(tmp_path / "corpus"))
    assert data.codec_corpus_dir() == tmp_path / "corpus"


# --- in fresh virtual environments ---------------------------------------------------------------


def _clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without anything that points pip or Python at packages or settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "PYTHON", "PERCLOSS_", "VIRTUAL_ENV", "CONDA"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               TQDM_DISABLE="1", **extra)
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this checkout, built from a copy of its package files (the checkout stays untouched)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(PACKAGE, source / "percloss", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", str(out), str(source)], source, _clean_env())
    (found,) = out.glob("percloss-*.whl")
    with zipfile.ZipFile(found) as z:
        models = {Path(n).name for n in z.namelist() if n.startswith("percloss/models/")}
    shipped = {Path(p).name for p in (PACKAGE / "models").iterdir() if p.is_file()}
    assert models == shipped, f"models left out of the wheel: {sorted(shipped - models)}"
    return found


def _wheel_requirements(wheel: Path, extras: set[str]) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as z:
        (meta,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        message = email.parser.Parser().parsestr(z.read(meta).decode())
    requirements = [Requirement(r) for r in message.get_all("Requires-Dist") or []]
    return [r for r in requirements
            if r.marker is None or any(r.marker.evaluate({"extra": e}) for e in extras | {""})]


def _closure(requirements: list[Requirement]) -> dict[str, metadata.Distribution]:
    """The installed distributions these requirements need, with their dependencies (in this environment)."""
    found: dict[str, metadata.Distribution] = {}
    todo = list(requirements)
    while todo:
        r = todo.pop()
        key = canonicalize_name(r.name)
        if key in found:
            continue
        dist = metadata.distribution(r.name)
        assert dist.version in r.specifier or not r.specifier, f"{r} is not met here ({dist.version})"
        found[key] = dist
        for text in dist.requires or []:
            dep = Requirement(text)
            if dep.marker is None or any(dep.marker.evaluate({"extra": e}) for e in r.extras | {""}):
                todo.append(dep)
    return found


def _top_level(dist: metadata.Distribution) -> set[str]:
    return {Path(f).parts[0] for f in dist.files or [] if Path(f).parts[0] != ".."}


def _size(dist: metadata.Distribution) -> int:
    return sum(p.stat().st_size for f in dist.files or []
               if (p := Path(str(dist.locate_file(f)))).is_file() and ".." not in Path(f).parts)


def _fresh_install(wheel: Path, folder: Path, extras: set[str]) -> tuple[Path, dict[str, float]]:
    """A new environment in ``folder`` that sees only the declared distributions; the wheel installed in it.

    Returns its python and the installed sizes (MiB): percloss, and the linked distributions.
    """
    closure = _closure(_wheel_requirements(wheel, extras))
    site = Path(next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()))
    links = folder / "declared"
    links.mkdir(parents=True)
    for dist in closure.values():
        assert Path(str(dist.locate_file(""))).resolve() == site.resolve(), f"{dist.name} is not in {site}"
        for entry in _top_level(dist):
            if not (links / entry).exists():
                (links / entry).symlink_to(site / entry)
    venv = folder / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], folder, _clean_env())
    python = venv / "bin" / "python"
    purelib = Path(_run([str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        folder, _clean_env()).strip())
    (purelib / "_percloss_declared.pth").write_text(f"{links}\n")
    before = set(os.listdir(purelib))
    spec = f"percloss[{','.join(sorted(extras))}] @ {wheel.as_uri()}" if extras else str(wheel)
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index", "--no-cache-dir", "-q",
          spec], folder, _clean_env())
    added = set(os.listdir(purelib)) - before
    assert {a.split("-")[0] for a in added} == {"percloss"}, f"pip installed more than percloss: {sorted(added)}"
    percloss_bytes = sum(p.stat().st_size for a in added for p in [purelib / a, *(purelib / a).rglob("*")]
                         if p.is_file())
    sizes = {"percloss": percloss_bytes / 2**20}
    sizes.update({dist.name: _size(dist) / 2**20 for dist in closure.values()})
    return python, sizes


def _report(kind: str, sizes: dict[str, float]) -> None:
    total = sum(sizes.values())
    largest = ", ".join(f"{n} {s:.0f}" for n, s in sorted(sizes.items(), key=lambda x: -x[1])[:5])
    mib, count = INSTALLED[kind]
    print(f"\n{kind} install: {total:.0f} MiB in {len(sizes)} distributions (largest, MiB: {largest}); "
          f"recorded with du: {mib} MiB in {count}")
    assert sizes["percloss"] < 25, "the package (18 MB of it the shipped models) grew"


LOSSES_SCRIPT = r'''
import inspect, json
import torch
from percloss import losses, masking, metrics
from percloss.codec_training import CodecLoss

RATE, N = 16000, 16000
g = torch.Generator().manual_seed(0)
t = torch.arange(N, dtype=torch.float64) / RATE
target = (0.3 * torch.sin(2 * torch.pi * 440 * t) + 0.05 * torch.randn(N, generator=g, dtype=torch.float64)).float()
noisy = target + 0.02 * torch.randn(N, generator=g)
SMALL = {"n_bands": 8, "n_taps": 33}

def arguments(f):
    names = inspect.signature(f).parameters
    return ((RATE,) if "sample_rate" in names else ()), {k: v for k, v in SMALL.items() if k in names}

values = {}
modules = {n: getattr(losses, n) for n in losses.__all__
           if n != "CDPAMLoss" and inspect.isclass(getattr(losses, n)) and issubclass(getattr(losses, n), torch.nn.Module)}
modules["CodecLoss"] = lambda rate: CodecLoss("D", rate)
functions = {n: getattr(losses, n) for n in losses.__all__ if n.endswith("_loss")}
for name, make in sorted(modules.items()):
    args, kwargs = arguments(make) if name != "CodecLoss" else ((RATE,), {})
    x = noisy.clone().requires_grad_(True)
    value = make(*args, **kwargs)(x, target)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0, name
    values[name] = float(value)
for name, f in sorted(functions.items()):
    args, kwargs = arguments(f)
    values[name] = float(f(noisy, target, *args, **kwargs))
a = masking.psychoacoustic_model1(noisy.double(), RATE)
values["model1_global_threshold_db"] = float(a.global_threshold_db.mean())
values["model1_smr_db"] = float(a.smr_db.mean())
values["nmr_db"] = float(metrics.nmr(noisy, target, RATE).mean_db)
print(json.dumps(values))
'''

ERRORS_SCRIPT = r'''
import json
import torch
from percloss import codec, data, losses, paths, scorers

x = 0.1 * torch.sin(torch.arange(16000) * 0.05)
errors = {}
def expect(key, call, exception=ImportError):
    try:
        call()
    except exception as err:
        errors[key] = str(err)
    else:
        raise AssertionError(f"{key}: no {exception.__name__}")

expect("pesq", lambda: scorers.pesq_wb(x.numpy(), x.numpy()))
expect("constriction", lambda: codec.write_bitstream(None, [], x, 16000))
expect("cdpam", lambda: losses.CDPAMLoss(16000)(x, 0.5 * x))
expect("experiments", lambda: __import__("percloss.experiments.codec_study"))
expect("clips", data.clips_dir, FileNotFoundError)
expect("runs", paths.runs_dir, FileNotFoundError)
from importlib.util import find_spec
absent = [m for m in ("pesq", "soxr", "tqdm", "constriction", "lameenc", "librosa", "pandas") if find_spec(m) is None]
print(json.dumps({"errors": errors, "file": __import__("percloss").__file__, "absent": absent}))
'''


@pytest.mark.slow
def test_a_fresh_install_without_extras_runs_every_loss_and_model_1(wheel: Path, tmp_path: Path) -> None:
    python, sizes = _fresh_install(wheel, tmp_path, set())
    _report("core", sizes)
    assert set(sizes) - {"percloss"} >= {"torch", "numpy", "scipy", "soundfile"}
    assert not {"pesq", "soxr", "tqdm", "constriction", "lameenc", "librosa", "h5py"} & set(sizes)
    work = tmp_path / "work"
    (work / "weights").mkdir(parents=True)
    (work / "losses.py").write_text(LOSSES_SCRIPT)
    (work / "errors.py").write_text(ERRORS_SCRIPT)
    env = _clean_env(PERCLOSS_WEIGHTS=str(work / "weights"), TORCH_HOME=str(work / "torch"))
    report = json.loads(_run([str(python), "-I", "errors.py"], work, env).splitlines()[-1])
    assert report["file"].startswith(str(tmp_path / "venv")), report["file"]
    assert report["absent"] == ["pesq", "soxr", "tqdm", "constriction", "lameenc", "librosa", "pandas"]
    errors = report["errors"]
    assert errors["pesq"].startswith("PESQ needs the 'metrics' extra: pip install 'percloss[metrics]'")
    assert "needs the 'codec' extra: pip install 'percloss[codec]'" in errors["constriction"]
    assert "pip install 'percloss[cdpam]'" in errors["cdpam"]
    assert "needs the 'book' extra: pip install 'percloss[book]'" in errors["experiments"]
    assert "set PERCLOSS_DATA" in errors["clips"] and "PERCLOSS_RUNS" in errors["runs"]
    assert "site-packages" not in errors["clips"].split("set PERCLOSS_DATA")[1]

    # every loss runs, forward and backward, and gives the numbers this checkout gives
    there = json.loads(_run([str(python), "-I", "losses.py"], work, env).splitlines()[-1])
    here = json.loads(_run([sys.executable, str(work / "losses.py")], ROOT, env).splitlines()[-1])
    assert there.keys() == here.keys()
    from percloss import losses

    modules = {n for n in losses.__all__ if n.endswith("Loss") and n != "CDPAMLoss"}
    functions = {n for n in losses.__all__ if n.endswith("_loss")}
    assert set(there) == modules | functions | {"CodecLoss", "model1_global_threshold_db", "model1_smr_db",
                                                "nmr_db"}
    for key, value in here.items():
        assert there[key] == pytest.approx(value, rel=1e-5, abs=1e-7), key

    # model 1 from the command line, on a file
    sf.write(work / "tone.wav", 0.3 * np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000), 16000)
    out = _run([str(python.parent / "percloss"), "threshold", "tone.wav"], work, env)
    assert "MPEG-1 model 1" in out and "tonal maskers per frame" in out


ANCHORS_SCRIPT = r'''
import json
import soundfile as sf
from percloss import anchors
x, rate = sf.read("song.wav")
mp3 = anchors.mp3(x, rate, 64)
opus = anchors.opus_decode(anchors.opus_encode(x, rate, 32), x, rate)
from importlib.util import find_spec
present = {m: find_spec(m) is not None for m in ("constriction", "soxr", "tqdm", "lameenc", "pesq", "pyroomacoustics")}
print(json.dumps({"mp3_kbps": mp3.kbps, "opus_kbps": opus.kbps, "lengths": [len(mp3.audio), len(opus.audio), len(x)],
                  "present": present}))
'''


@pytest.mark.slow
def test_a_fresh_install_with_the_codec_extra_codes_with_the_shipped_models(wheel: Path, tmp_path: Path) -> None:
    python, sizes = _fresh_install(wheel, tmp_path, {"codec"})
    _report("codec", sizes)
    extra = {n: s for n, s in sizes.items() if canonicalize_name(n) in {"constriction", "soxr", "tqdm", "lameenc"}}
    assert len(extra) == 4 and sum(extra.values()) < 10, extra  # the codec extra adds a few MiB
    work = tmp_path / "work"
    work.mkdir()
    env = _clean_env()
    percloss = str(python.parent / "percloss")
    listing = _run([percloss, "models"], work, env)
    shipped = json.loads((PACKAGE / "models" / "manifest.json").read_text())
    for name in shipped:
        assert name in listing
    assert "D64 (default)" in listing

    rate = 44100
    n = np.arange(rate)
    song = 0.2 * np.sin(2 * np.pi * 220 * n / rate) + 0.1 * np.sin(2 * np.pi * 1320 * n / rate)
    sf.write(work / "song.wav", song, rate)
    out = _run([percloss, "encode", "song.wav", "song.pcl", "--quiet"], work, env)
    assert "resampled 44100 Hz -> 32000 Hz" in out
    assert (work / "song.pcl").stat().st_size > 1000
    _run([percloss, "decode", "song.pcl", "back.wav", "--quiet"], work, env)
    back, back_rate = sf.read(work / "back.wav")
    assert back_rate == rate and abs(len(back) - len(song)) <= 1
    m = min(len(back), len(song))
    assert np.corrcoef(back[:m], song[:m])[0, 1] > 0.9

    (work / "anchors.py").write_text(ANCHORS_SCRIPT)
    coded = json.loads(_run([str(python), "-I", "anchors.py"], work, env).splitlines()[-1])
    assert coded["lengths"] == [rate, rate, rate]
    assert coded["present"] == {"constriction": True, "soxr": True, "tqdm": True, "lameenc": True, "pesq": False,
                                "pyroomacoustics": False}
    assert coded["mp3_kbps"] == pytest.approx(64, rel=0.1) and coded["opus_kbps"] == pytest.approx(32, rel=0.15)
    assert sorted(os.listdir(work)) == ["anchors.py", "back.wav", "song.pcl", "song.wav"]


def test_the_readme_lists_the_extras() -> None:
    readme = (ROOT / "README.md").read_text()
    for extra in (*EXTRAS, "all", "book", "dev"):
        assert f"`percloss[{extra}]`" in readme, extra


