"""The lab autograder's fixtures.

Each lab runs once per session and set of functions (``Lab.results``), shared by that lab's test
and the handout freshness test: the lab's harness ``lab.py`` runs with ``run(None, impl=...)``,
``impl`` being the lab's ``solution.py``, or with ``ACCELSIM_LAB_IMPL=starter`` the student's
``starter.py``. Grading a starter needs no ``solution.py`` (a student's copy has none).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _build_labs():
    name = "accelsim_build_labs"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / "build_labs.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


def impl_name() -> str:
    name = os.environ.get("ACCELSIM_LAB_IMPL", "solution")
    if name not in ("solution", "starter"):
        raise pytest.UsageError(f"ACCELSIM_LAB_IMPL must be solution or starter, got {name!r}")
    return name


_CACHE: dict[tuple[int, str], dict] = {}


class Lab:
    """One lab: ``lab`` (its harness module), ``impl`` (the module whose functions are graded:
    ``solution.py`` or ``starter.py``), ``results(graded=True)`` (run once per session;
    ``graded=False``: with the solution's functions, for the handouts)."""

    def __init__(self, n: int):
        bl = _build_labs()
        self.n = n
        self.dir = bl.lab_dirs()[n]
        self.lab = bl.load_lab(n)
        self.graded = impl_name()
        self.impl = self.module(self.graded)

    def module(self, which: str):
        """This lab's ``solution.py`` or ``starter.py`` module."""
        bl = _build_labs()
        if which == "starter":
            return bl.load_starter(self.n)
        if not (self.dir / "solution.py").is_file():
            pytest.fail(f"{self.dir.name}/solution.py is missing; to grade the starter, set "
                        "ACCELSIM_LAB_IMPL=starter")
        return bl.load_solution(self.n)

    def results(self, graded: bool = True) -> dict:
        missing = getattr(self.lab, "missing", lambda: None)()
        if missing:
            pytest.fail(f"lab {self.n} cannot run: {missing} (pip install -e '.[dev]')")
        which = self.graded if graded else "solution"
        key = (self.n, which)
        if key not in _CACHE:
            _CACHE[key] = self.lab.run(None, impl=self.module(which))
        return _CACHE[key]


@pytest.fixture(scope="session")
def build_labs():
    return _build_labs()


@pytest.fixture(scope="session")
def lab_factory():
    labs: dict[int, Lab] = {}

    def get(n: int) -> Lab:
        if n not in labs:
            labs[n] = Lab(n)
        return labs[n]

    return get
