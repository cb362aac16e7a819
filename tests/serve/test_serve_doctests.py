"""The examples in the serving docstrings run."""

import doctest
import importlib

import pytest


@pytest.mark.parametrize("module", ["accelsim.serving.timing", "accelsim.serving.kv",
                                    "accelsim.serving.metrics", "accelsim.api"])
def test_docstring_examples(module, monkeypatch, repo_root):
    monkeypatch.chdir(repo_root)
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
