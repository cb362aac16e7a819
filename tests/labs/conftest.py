"""The lab autograder's fixtures.

Each lab's solution runs once per session (``lab_results(n)``), shared by that lab's test and
the handout freshness test. ``ACCELSIM_LAB_IMPL=starter`` grades a student's ``starter.py``
instead: the lab's plumbing (``solution.run``) is called with the starter's functions.
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
    """One lab: ``solution`` (the module), ``impl`` (the module whose functions are graded),
    ``results(impl=True)`` (run once per session)."""

    def __init__(self, n: int):
        bl = _build_labs()
        self.n = n
        self.dir = bl.lab_dirs()[n]
        self.solution = bl.load_solution(n)
        self.graded = impl_name()
        self.impl = (bl.load_module(self.dir / "starter.py", f"accelsim_lab{n}_starter")
                     if self.graded == "starter" else self.solution)

    def results(self, graded: bool = True) -> dict:
        missing = getattr(self.solution, "missing", lambda: None)()
        if missing:
            pytest.fail(f"lab {self.n} cannot run: {missing} (pip install -e '.[dev]')")
        which = self.graded if graded else "solution"
        key = (self.n, which)
        if key not in _CACHE:
            impl = self.impl if which == "starter" else None
            _CACHE[key] = (self.solution.run(None, impl=impl) if impl is not None
                           else self.solution.run(None))
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
