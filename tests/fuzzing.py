"""Fuzz targets and input strategies for every loader (shared by tests/test_fuzz.py and
scripts/fuzz.py).

A target takes generated input, writes it where the loader expects it, and calls the loader.
The contract: the call returns normally or raises ``AccelsimError`` whose message names the file;
any other exception (a Python traceback for the user) is a bug.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

import yaml
from hypothesis import strategies as st

import accelsim
from accelsim.arch.config import arch_configs_dir, load_arch
from accelsim.errors import AccelsimError
from accelsim.workload.models import load_model, models_dir
from accelsim.workload.scalesim_topology import load_scalesim_topology

REPO = Path(__file__).resolve().parents[1]
WEIRD_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10 ** 30), max_value=10 ** 30),
    st.sampled_from([0, -1, 1, 2 ** 63, -(2 ** 63), 10 ** 400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.sampled_from(["", " ", "ws", "os", "1e9", "nan", "inf", "-0", "∞",
                                           "日本", "\x00", "1_000", "0x10", "true"]))
WEIRD_VALUES = st.one_of(WEIRD_SCALARS, st.lists(WEIRD_SCALARS, max_size=3),
                         st.dictionaries(st.text(max_size=5), WEIRD_SCALARS, max_size=3))


def _paths(tree, prefix=()):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield prefix + (key,)
            yield from _paths(value, prefix + (key,))


def _set(tree, path, value):
    node = tree
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _delete(tree, path):
    node = tree
    for key in path[:-1]:
        node = node[key]
    node.pop(path[-1], None)


@st.composite
def mutated_yaml(draw, base_files: list[Path]) -> bytes:
    """A shipped YAML with keys replaced, deleted or added — or raw damage to its text."""
    base = draw(st.sampled_from(base_files))
    text = base.read_text(encoding="utf-8")
    kind = draw(st.sampled_from(["replace", "replace", "delete", "add", "truncate", "bytes",
                                 "empty", "unicode"]))
    if kind == "truncate":
        return text.encode()[: draw(st.integers(0, len(text)))]
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "empty":
        return draw(st.sampled_from([b"", b"\n", b"---\n", b"~\n", b"[]\n", b"42\n"]))
    if kind == "unicode":
        return draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    tree = yaml.safe_load(text)
    paths = list(_paths(tree))
    path = draw(st.sampled_from(paths))
    if kind == "replace":
        _set(tree, path, draw(WEIRD_VALUES))
    elif kind == "delete":
        _delete(tree, path)
    else:
        _set(tree, path[:-1] + (draw(st.text(min_size=1, max_size=8)),), draw(WEIRD_VALUES))
    return yaml.safe_dump(tree, allow_unicode=True).encode("utf-8", "surrogatepass")


@st.composite
def mutated_csv(draw, base_files: list[Path]) -> bytes:
    """A shipped CSV with cells, columns, delimiters or bytes damaged."""
    base = draw(st.sampled_from(base_files))
    lines = base.read_text(encoding="utf-8").splitlines()
    kind = draw(st.sampled_from(["cell", "cell", "cell", "drop_column", "rename_column",
                                 "delimiter", "truncate", "bytes", "empty", "extra_column",
                                 "short_row"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "empty":
        return draw(st.sampled_from([b"", b"\n", b",,,\n", lines[0].encode() + b"\n"]))
    if kind == "truncate":
        text = "\n".join(lines)
        return text.encode()[: draw(st.integers(0, len(text)))]
    if kind == "delimiter":
        return "\n".join(l.replace(",", draw(st.sampled_from([";", "\t", "|", " "])))
                         for l in lines).encode()
    rows = [l.split(",") for l in lines]
    width = len(rows[0])
    col = draw(st.integers(0, width - 1))
    if kind == "drop_column":
        rows = [r[:col] + r[col + 1:] for r in rows]
    elif kind == "rename_column":
        rows[0][col] = draw(st.text(max_size=10)).replace(",", "").replace("\n", "")
    elif kind == "extra_column":
        rows = [r + [draw(st.text(max_size=5)).replace(",", "").replace("\n", "")] for r in rows]
    elif kind == "short_row" and len(rows) > 1:
        r = draw(st.integers(1, len(rows) - 1))
        rows[r] = rows[r][: draw(st.integers(0, max(0, len(rows[r]) - 1)))]
    elif len(rows) > 1:
        r = draw(st.integers(1, len(rows) - 1))
        value = draw(st.one_of(st.sampled_from(["", "-1", "0", "nan", "inf", "1e400", "1.5",
                                                 "99999999999999999999999", "abc", "none",
                                                 "gemm", "prefill", "日本", "-0", " 3 "]),
                               st.text(max_size=8)))
        if col < len(rows[r]):
            rows[r][col] = value.replace(",", "").replace("\n", "").replace("\r", "")
    return "\n".join(",".join(r) for r in rows).encode("utf-8", "surrogatepass")


def _call(loader: Callable[[Path], object], data: bytes, suffix: str) -> None:
    fd, name = tempfile.mkstemp(suffix=suffix)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        try:
            loader(path)
        except AccelsimError as exc:
            assert str(path) in str(exc) or "--set" in str(exc), f"message does not name the file: {exc}"
    finally:
        path.unlink(missing_ok=True)
        path.with_name(path.name.removesuffix(".csv") + ".meta.json").unlink(missing_ok=True)


def _arch_presets() -> list[Path]:
    return sorted(arch_configs_dir().glob("*.yaml"))


def _traces() -> list[Path]:
    return [p for p in sorted((REPO / "traces").glob("*.csv")) if p.stat().st_size < 10_000]


def _check_override(overrides: list[str]) -> None:
    try:
        load_arch("npu_128x128_bf16_hbm2", overrides)
    except AccelsimError:
        pass


OVERRIDE = st.builds(
    lambda key, value: f"{key}={value}",
    st.one_of(st.sampled_from(["systolic.rows", "systolic.dataflow", "memory.channels",
                               "sram.ifmap_kib", "clock_mhz", "vector.lanes", "memory.impl",
                               "sram.mode", "systolic", "memory", "engine.max_tiles_per_op",
                               "interconnect.link_bandwidth_gbps", "dtypes.act", "a..b", ".x"]),
              st.text(max_size=15)),
    st.one_of(st.sampled_from(["0", "-1", "1e400", ".nan", "[1, 2]", "{a: 1}", "null", "''",
                               "unified", "xs", "2", "true", "!!python/object:os.system {}"]),
              st.text(max_size=15)))

def _requests_target(data: bytes) -> None:
    from accelsim.workload.requests import load_requests

    _call(load_requests, data, ".csv")


def _env_target(data: bytes) -> None:
    from accelsim.dse import load_env

    _call(load_env, data, ".yaml")


def _tech_target(data: bytes) -> None:
    from accelsim.cost.tech import load_tech

    _call(load_tech, data, ".yaml")


def _request_files() -> list[Path]:
    return [REPO / "traces" / "llama3-8b_sharegpt_rate5_60s" / "requests.csv"]


def _env_files() -> list[Path]:
    return sorted((REPO / "envs").glob("*.yaml")) + [REPO / "tests/dse/data/tiny-latency.yaml"]


def _tech_files() -> list[Path]:
    return sorted((REPO / "accelsim" / "data" / "tech").glob("*.yaml"))


#: name -> (strategy, target). Helpers' loaders are added here as they land.
TARGETS: dict[str, tuple] = {
    "arch_yaml": (lambda: mutated_yaml(_arch_presets()),
                  lambda data: _call(load_arch, data, ".yaml")),
    "arch_overrides": (lambda: st.lists(OVERRIDE, min_size=1, max_size=3), _check_override),
    "scalesim_cfg": (lambda: st.one_of(
        st.binary(max_size=300),
        st.builds(lambda t, i, v: _mutate_lines(t, i, v),
                  st.just((REPO / "tests/data/scale.cfg").read_text()), st.integers(0, 60),
                  st.text(max_size=20))),
        lambda data: _call(load_arch, data, ".cfg")),
    "scalesim_topology": (lambda: mutated_csv([REPO / "tests/data/conv_small.csv"]),
                          lambda data: _call(load_scalesim_topology, data, ".csv")),
    "operator_trace": (lambda: mutated_csv(_traces()),
                       lambda data: _call(accelsim.load_trace, data, ".csv")),
    "model_config": (lambda: mutated_yaml(sorted(models_dir().glob("*.yaml"))),
                     lambda data: _call(load_model, data, ".yaml")),
    "request_trace": (lambda: mutated_csv(_request_files()), _requests_target),
    "env_definition": (lambda: mutated_yaml(_env_files()), _env_target),
    "technology_file": (lambda: mutated_yaml(_tech_files()), _tech_target),
}


def _mutate_lines(text: str, index: int, value: str) -> bytes:
    lines = text.splitlines()
    i = index % len(lines)
    if ":" in lines[i]:
        lines[i] = lines[i].split(":", 1)[0] + ": " + value.replace("\n", " ")
    else:
        lines[i] = value
    return "\n".join(lines).encode("utf-8", "surrogatepass")
