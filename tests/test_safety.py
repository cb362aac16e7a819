"""Safety: YAML only through safe_load; no eval/exec/pickle on anything a user wrote; no network
at run time; outputs are atomic and stay where the user pointed."""

import ast
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "accelsim"
SOURCES = sorted(ROOT.rglob("*.py"))


def _calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            yield f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", ""), f, node


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_unsafe_deserialisation_or_code_execution(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for name, func, node in _calls(tree):
        if isinstance(func, ast.Name):       # the builtins, not re.compile & co.
            assert name not in ("eval", "exec", "compile", "__import__"), \
                f"{path}:{node.lineno} calls {name}"
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            module = func.value.id
            assert not (module == "yaml" and name in ("load", "unsafe_load", "full_load",
                                                      "load_all")), f"{path}:{node.lineno}"
            assert module not in ("pickle", "marshal", "shelve", "dill"), f"{path}:{node.lineno}"
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
            assert not any(n.split(".")[0] in ("pickle", "marshal", "shelve", "dill")
                           for n in names), f"{path}:{node.lineno} imports {names}"


def test_simulation_and_cli_need_no_network(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise AssertionError("accelsim tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    from accelsim.cli import main

    monkeypatch.chdir(tmp_path)
    repo = ROOT.parent
    assert main(["simulate", "--trace", str(repo / "traces/tiny-llama-gqa-test_decode_b4_ctx64.csv"),
                 "--json", "out/r.json", "--quiet"]) == 0
    assert main(["trace", "gen", "--model", "tiny-llama-gqa-test", "-o", "t.csv"]) == 0
    # nothing written but what was asked for
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["out/r.json", "t.csv", "t.meta.json"]
