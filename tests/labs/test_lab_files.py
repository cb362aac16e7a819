"""What students are given holds no answers: ``starter.py`` and ``lab.py`` never import
``solution``, and ``lab.py`` (the harness) defines none of the functions the starter leaves
``TODO``; ``solution.py`` defines the same functions, with the same arguments, as the starter."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LABS_DIR = Path(__file__).resolve().parents[2] / "docs" / "labs"
LAB_DIRS = sorted(d for d in LABS_DIR.glob("lab[0-9]*_*") if (d / "starter.py").is_file())


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def imported(tree: ast.Module) -> set[str]:
    """Every module name an ``import`` or ``from ... import`` mentions, anywhere in the file."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add((node.module or "").split(".")[0])
            names |= {a.name for a in node.names}
    return names


def functions(tree: ast.Module) -> dict[str, list[str]]:
    """Top-level functions: name -> argument names."""
    return {n.name: [a.arg for a in n.args.args + n.args.kwonlyargs]
            for n in tree.body if isinstance(n, ast.FunctionDef)}


@pytest.mark.parametrize("d", LAB_DIRS, ids=lambda d: d.name)
def test_students_files_hold_no_answers(d):
    starter, lab = parse(d / "starter.py"), parse(d / "lab.py")
    for name, tree in (("starter.py", starter), ("lab.py", lab)):
        assert "solution" not in imported(tree), f"{d.name}/{name} imports solution"
    todo = functions(starter)
    assert todo, f"{d.name}/starter.py defines no functions"
    defined = {n.name for n in ast.walk(lab) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    defined |= {t.id for n in lab.body if isinstance(n, ast.Assign)
                for t in n.targets if isinstance(t, ast.Name)}
    assert not defined & set(todo), (
        f"{d.name}/lab.py defines {sorted(defined & set(todo))}: those are the starter's TODOs")
    if (d / "solution.py").is_file():          # an instructor's copy
        assert functions(parse(d / "solution.py")) == todo, (
            f"{d.name}/solution.py must define exactly the starter's functions, same arguments")
