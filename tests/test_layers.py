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
