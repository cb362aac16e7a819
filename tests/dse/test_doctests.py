"""The docstring examples of accelsim.dse run."""

import doctest
import importlib
from pathlib import Path

import pytest


@pytest.mark.parametrize("module", ["accelsim.dse._space", "accelsim.dse._evaluate"])
def test_doctests(module, monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    failed, _ = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert failed == 0
