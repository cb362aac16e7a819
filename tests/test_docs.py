"""The README and docstrings stay true: public names, runnable examples, quickstart == CI."""

import doctest
import importlib
import re

import pytest

import accelsim

DOCTEST_MODULES = ["accelsim.hw.systolic", "accelsim.arch.config", "accelsim.workload.generate",
                   "accelsim.workload.trace", "accelsim.workload.models", "accelsim.api"]


@pytest.fixture(scope="module")
def readme(repo_root):
    return (repo_root / "README.md").read_text()


def test_public_names_match_the_readme(readme):
    line = re.search(r"Public names \(`accelsim.__all__`\): (.*?)\.\n\n", readme, re.S).group(1)
    documented = re.findall(r"`([\w_]+)`", line)
    assert sorted(documented) == sorted(accelsim.__all__)
    for name in accelsim.__all__:
        assert hasattr(accelsim, name)


def test_quickstart_has_two_commands_and_ci_runs_the_second(readme, repo_root):
    quick = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)\n```", quick, re.S)
    assert len(commands) == 2
    assert "accelsim simulate" in commands[0]
    ci = (repo_root / ".ci/run").read_text()
    assert commands[1].strip() in ci


def test_readme_python_examples_run(readme, repo_root, monkeypatch, tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)
    for number, block in enumerate(blocks):
        block = block.replace('"traces/', f'"{repo_root}/traces/').replace(
            '"envs/', f'"{repo_root}/envs/')
        namespace = {}
        exec(compile(block, f"README.md python block {number}", "exec"), namespace)
    assert (tmp_path / "report.json").exists()


@pytest.mark.parametrize("module", DOCTEST_MODULES)
def test_docstring_examples(module, repo_root, monkeypatch):
    monkeypatch.chdir(repo_root)
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
