"""Layers: no library module and no chapter reaches into another module's private names.

A name with a leading underscore is its module's own; a private module (``_checks``, ``losses._contract``)
belongs to its package. Checked on the source (AST): ``from X import _name``, ``from pkg._mod import ...``
from outside ``pkg``, and ``alias._name`` where ``alias`` is an imported percloss module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = sorted((ROOT / "percloss").rglob("*.py"))
CHAPTERS = sorted((ROOT / "notebooks").glob("*.py"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package(path: Path) -> str:
    name = _module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _absolute(node: ast.ImportFrom, path: Path) -> str:
    """The module an ``ImportFrom`` names, made absolute."""
    if node.level == 0:
        return node.module or ""
    base = _package(path).split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def violations(path: Path) -> list[str]:
    """Private names of other percloss modules that ``path`` uses, as ``"line: what"``."""
    tree = ast.parse(path.read_text(), str(path))
    own_package = _package(path) if path.is_relative_to(ROOT / "percloss") else ""
    aliases: set[str] = set()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            target = _absolute(node, path)
            if not target.startswith("percloss"):
                continue
            parts = target.split(".")
            for i, part in enumerate(parts):
                if _private(part) and not own_package.startswith(".".join(parts[:i])):
                    found.append(f"{node.lineno}: from {target} import ... (private module of {'.'.join(parts[:i])})")
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"{node.lineno}: from {target} import {alias.name}")
                aliases.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("percloss"):
                    aliases.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                and _private(node.attr)):
            found.append(f"{node.lineno}: {node.value.id}.{node.attr}")
    return found


@pytest.mark.parametrize("path", LIBRARY + CHAPTERS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_name_of_another_module(path: Path) -> None:
    assert violations(path) == []


def test_the_check_finds_what_it_forbids(tmp_path: Path) -> None:
    """The check itself: each forbidden form is found, the allowed ones are not."""
    module = ROOT / "percloss" / "experiments" / "_probe_for_test.py"
    module.write_text(
        "from ..masking import _check_hop, model_tables\n"
        "from ..losses._contract import reduce\n"
        "from .._checks import check_signal\n"  # a private module of the package it belongs to: allowed
        "from . import codec_study as cs\n"
        "cs._fmt(1)\ncs.summary\n")
    try:
        found = violations(module)
    finally:
        module.unlink()
    assert len(found) == 3, found
    assert any("_check_hop" in f for f in found) and any("losses._contract" in f for f in found)
    assert any("cs._fmt" in f for f in found)


def _relative_paths(source: str) -> list[str]:
    """String constants in code that climb out of the chapter's folder (``"../runs"``)."""
    return [node.value for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("../")]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapters_reach_the_repositorys_folders_through_percloss_paths(path: Path) -> None:
    assert _relative_paths(path.read_text()) == [], f"{path.name}: use percloss.paths instead"


def test_the_path_check_finds_a_relative_path() -> None:
    assert _relative_paths('x = Path("../runs/listening")\n# "../book/data" in a comment is fine\n') == [
        "../runs/listening"]


# ------------------------------------------------------------------ the losses sit on the modules below them

#: What ``percloss.losses`` may import: the shared checks, signal processing, model 1, the filterbanks and
#: weightings, and the network loaders (VGGish/OpenL3, CDPAM). Everything else -- the experiments, the codec
#: and its training, the clip loaders, the scorers, the CLI -- sits above the losses (it uses them).
BELOW_LOSSES = frozenset({
    "percloss._checks", "percloss._memory", "percloss._optional", "percloss.signal", "percloss.masking",
    "percloss.iso_tables", "percloss.filterbank", "percloss.weighting", "percloss.embeddings", "percloss.cdpam",
})


def percloss_imports(source: str, module: str, is_package: bool = False,
                     module_level: bool = False) -> list[tuple[int, str]]:
    """``(line, module)`` for each percloss module that ``source`` (the module ``module``) imports, relative
    imports made absolute and ``from pkg import sub`` read as ``pkg.sub`` where ``sub`` is a module; inside
    functions too unless ``module_level``."""
    tree = ast.parse(source)
    nodes = tree.body if module_level else list(ast.walk(tree))
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "percloss"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] != "percloss":
                continue
            for alias in node.names:
                sub = ROOT.joinpath(*target.split("."), alias.name)
                is_module = sub.with_suffix(".py").is_file() or (sub / "__init__.py").is_file()
                found.append((node.lineno, f"{target}.{alias.name}" if is_module else target))
    return found


def _layer(module: str) -> str:
    """The unit of layering: ``percloss.losses`` as a whole, else the top-level module (``percloss.masking``)."""
    return ".".join(module.split(".")[:2])


def upward_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    """Imports of a ``percloss.losses`` module that reach outside the package and outside :data:`BELOW_LOSSES`."""
    return [f"{line}: {name}" for line, name in percloss_imports(source, module, is_package)
            if _layer(name) not in BELOW_LOSSES | {"percloss.losses"}]


LOSS_MODULES = sorted((ROOT / "percloss" / "losses").rglob("*.py"))


@pytest.mark.parametrize("path", LOSS_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_losses_import_only_the_modules_below_them(path: Path) -> None:
    """No upward import, not even one deferred into a function (a ``__getattr__`` reaching back to
    ``percloss.cdpam``'s loss, as the package once had, or an import of the experiments)."""
    assert upward_imports(path.read_text(), _module_name(path), path.name == "__init__.py") == []


@pytest.mark.parametrize("module", sorted(BELOW_LOSSES))
def test_the_modules_below_the_losses_stay_below_them(module: str) -> None:
    """When imported they import neither ``percloss.losses`` (a cycle) nor anything outside
    :data:`BELOW_LOSSES`. (``percloss.cdpam.CDPAMLoss``, the loss's former name, resolves on first access.)"""
    path = ROOT.joinpath(*module.split(".")).with_suffix(".py")
    imported = {_layer(name) for _, name in percloss_imports(path.read_text(), module, module_level=True)}
    assert imported <= BELOW_LOSSES, f"{module} imports {sorted(imported - BELOW_LOSSES)}"


def test_the_layer_check_finds_an_upward_import() -> None:
    probe = (
        "from ..experiments.prior import LOSSES\n"  # the chapters' code
        "from .. import codec_training\n"  # the codec, above the losses
        "import percloss.data\n"  # the clip loader
        "from ..masking import model_tables\n"  # below: allowed
        "from .._checks import check_signal\n"
        "from ..cdpam import load_cdpam\n"  # the network loader: allowed
        "from .masking import soft_level_db\n"  # the package's own
        "from . import spectral\n"
        "def later():\n"
        "    from ..experiments import prior\n"  # deferred, still upward
    )
    found = upward_imports(probe, "percloss.losses.probe")
    assert found == ["1: percloss.experiments.prior", "2: percloss.codec_training", "3: percloss.data",
                     "10: percloss.experiments.prior"], found
    below = "from ._checks import check_signal\nfrom .losses import reduce\ndef f():\n    from . import data\n"
    assert {_layer(n) for _, n in percloss_imports(below, "percloss.cdpam", module_level=True)} == {
        "percloss._checks", "percloss.losses"}


def test_the_losses_import_without_the_cdpam_package() -> None:
    """The ``cdpam`` extra is needed to compute a CDPAM distance, not to import the losses."""
    import subprocess
    import sys

    code = ("import sys, torch; sys.modules['cdpam'] = None; sys.modules['cdpam.models'] = None\n"
            "import percloss.losses as losses\n"
            "loss = losses.CDPAMLoss(22050)\n"
            "try:\n    loss(torch.zeros(2000), torch.zeros(2000))\n"
            "except ImportError as err:\n    print(err)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert "pip install 'percloss[cdpam]'" in out.stdout, out.stderr
