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


# --------------------------------------------------------------------------------------------
# CLI fuzzing: generated command lines for ``accelsim.cli.main`` (tests/test_cli_fuzz.py and
# ``scripts/fuzz.py --cli N``). A case is an argv template whose file arguments are ``FileSpec``
# values; ``materialize`` writes them inside a temporary folder and ``run_cli_case`` runs the
# command in a forked child with that folder as working directory, under a time and memory cap.
# Contract: exit 0 or 2, no traceback, within the caps.
# --------------------------------------------------------------------------------------------

import json  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import stat  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@dataclass(frozen=True)
class FileSpec:
    """A path argument to create in the case's folder. ``kind`` says what lies there."""

    kind: str
    name: str = "f"
    data: bytes = b""

    def __repr__(self) -> str:  # short, so failing argv read well
        return f"<{self.kind}:{self.name}>"


def _alias_bomb(depth: int, width: int) -> bytes:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, depth):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return ("\n".join(lines) + "\n").encode()


#: Hostile file contents, by kind (data is computed by the strategy for the mutated kinds).
HOSTILE_BYTES = {
    "binary": bytes(range(256)) * 4,
    "latin1": "name: caf\xe9 \xb5s \xff\nrows: 1\n".encode("latin-1"),
    "empty": b"",
    "deep_yaml": b"[" * 5000 + b"]" * 5000,
    "deep_json": b"[" * 100_000 + b"]" * 100_000,
    "alias_bomb": _alias_bomb(12, 10),
    "wide_alias": _alias_bomb(4, 300),
    "json_list": b"[1, 2, 3]\n",
    "json_scalar": b"42\n",
    "json_nan": b'{"ops": NaN, "total": {"cycles": Infinity}}\n',
    "nul": b"\x00" * 64,
    "bom": b"\xef\xbb\xbfname: x\n",
}
#: Kinds that are not regular files with content.
SPECIAL_KINDS = ("missing", "dir", "fifo", "unwritable", "under_file", "long_name",
                 "out_new", "out_existing", "dir_named", "nested_new")
INPUT_KINDS = tuple(HOSTILE_BYTES) + ("missing", "dir", "fifo", "unwritable", "under_file",
                                      "long_name")
OUTPUT_KINDS = ("out_new", "out_new", "out_existing", "dir", "dir_named", "unwritable",
                "under_file", "long_name", "nested_new", "fifo", "missing")


def _shipped(kind: str) -> list[Path]:
    if kind == "arch":
        return _arch_presets()
    if kind == "model":
        return sorted(models_dir().glob("*.yaml"))
    if kind == "trace":
        return _traces()
    if kind == "env":
        return _env_files()
    if kind == "tech":
        return _tech_files()
    if kind == "memory":
        return sorted((REPO / "arch_configs" / "memory").glob("*.yaml"))
    if kind == "noc":
        return sorted((REPO / "arch_configs" / "noc").glob("*.yaml"))
    if kind == "requests":
        return _request_files()
    if kind == "topology":
        return [REPO / "tests/data/conv_small.csv"]
    if kind == "hf_config":
        return [REPO / "traces/hf_configs/tiny-llama-gqa-test.json"]
    raise KeyError(kind)


_REPORT_CACHE: list[bytes] = []


def sample_report() -> bytes:
    """A real ``simulate --json`` report of a 1-layer tiny model (made once, cached)."""
    if not _REPORT_CACHE:
        from accelsim.cli import main

        import contextlib
        import io

        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
            out = Path(tmp) / "r.json"
            main(["simulate", "--model", "tiny-llama-gqa-test", "--layers", "1",
                  "--fidelity", "analytical", "--json", str(out), "--quiet", "--no-progress"])
            _REPORT_CACHE.append(out.read_bytes())
    return _REPORT_CACHE[0]


@st.composite
def mutated_json(draw, base: bytes) -> bytes:
    """A JSON document with one value replaced by a weird one (wrong type, NaN, deep)."""
    tree = json.loads(base)
    paths = list(_paths(tree))
    if not paths:
        return base
    path = draw(st.sampled_from(paths))
    kind = draw(st.sampled_from(["replace", "replace", "delete", "deep"]))
    if kind == "delete":
        _delete(tree, path)
    elif kind == "deep":
        _set(tree, path, [[[[[[[[[[[[]]]]]]]]]]]])
    else:
        _set(tree, path, draw(WEIRD_VALUES))
    try:
        return json.dumps(tree, allow_nan=True, default=str).encode()
    except (ValueError, TypeError):
        return base


@st.composite
def input_file(draw, shipped: str | None = None, suffix: str = ".yaml") -> FileSpec:
    """An input path: a shipped file as is, mutated, or something hostile."""
    choices = ["hostile", "special"]
    if shipped:
        choices += ["valid", "valid", "mutated", "mutated"]
    choice = draw(st.sampled_from(choices))
    name = "in" + suffix
    if choice == "valid":
        if shipped == "report":
            return FileSpec("bytes", name, sample_report())
        return FileSpec("bytes", name, draw(st.sampled_from(_shipped(shipped))).read_bytes())
    if choice == "mutated":
        if shipped == "report":
            return FileSpec("bytes", name, draw(mutated_json(sample_report())))
        if shipped == "hf_config":
            base = _shipped(shipped)[0].read_bytes()
            return FileSpec("bytes", name, draw(mutated_json(base)))
        if suffix == ".csv":
            return FileSpec("bytes", name, draw(mutated_csv(_shipped(shipped))))
        return FileSpec("bytes", name, draw(mutated_yaml(_shipped(shipped))))
    if choice == "hostile":
        kind = draw(st.sampled_from(sorted(HOSTILE_BYTES)))
        return FileSpec("bytes", name, HOSTILE_BYTES[kind])
    return FileSpec(draw(st.sampled_from(["missing", "dir", "fifo", "unwritable", "under_file",
                                          "long_name"])), name)


def output_path(suffix: str = "") -> st.SearchStrategy:
    return st.builds(lambda kind: FileSpec(kind, "out" + suffix), st.sampled_from(OUTPUT_KINDS))


def _num(valid: list[str], *, huge: list[str] = ()) -> st.SearchStrategy:
    """A numeric flag value: mostly small valid ones, sometimes weird."""
    weird = ["-1", "0", "nan", "inf", "-inf", "", "abc", "1e400", "1.5", "0x10", "-0",
             "99999999999999999999999999", " 3", "1_0"]
    return st.one_of(st.sampled_from(valid), st.sampled_from(valid),
                     st.sampled_from(weird + list(huge)), st.text(max_size=6))


def _word(valid: list[str]) -> st.SearchStrategy:
    return st.one_of(st.sampled_from(valid), st.sampled_from(valid),
                     st.sampled_from(["", "-", "nope", "日本", "..", "/", "x" * 300]),
                     st.text(max_size=8))


SMALL_MODEL = ["tiny-llama-gqa-test"]
ARCHES = ["npu_128x128_bf16_hbm2", "edge_npu_32x32", "mesh4x4_npu_hbm", "scalesim_default"]
ENVS = ["tiny-latency-x"]  # replaced by a file; shipped env names are costly to evaluate


def _flag(draw, flags: dict) -> list:
    name = draw(st.sampled_from(sorted(flags)))
    value = flags[name]
    if value is None:
        return [name]
    return [name, draw(value)]


@st.composite
def _args(draw, flags: dict, required: dict | None = None, positional: list | None = None,
          max_flags: int = 4) -> list:
    """Required flags (usually present), then 0..max_flags optional ones, sometimes junk."""
    argv: list = []
    for name, value in (required or {}).items():
        if draw(st.integers(0, 9)) > 0:
            argv += [name, draw(value)] if value is not None else [name]
    for _ in range(draw(st.integers(0, max_flags))):
        argv += _flag(draw, flags)
    for value in positional or []:
        if draw(st.integers(0, 9)) > 0:
            argv.append(draw(value))
    if draw(st.integers(0, 9)) == 0:
        junk = draw(st.sampled_from(["--nope", "--", "-x", "--json=", "extra", "--force=1",
                                     "-", "--help"]))
        argv.insert(draw(st.integers(0, len(argv))), junk)
    return argv


SEED = _num(["0", "1", "7"], huge=["-5", "18446744073709551616"])
COMMON_MODEL = {
    "--model": st.one_of(_word(SMALL_MODEL), input_file("model")),
    "--tp": _num(["1", "2"], huge=["1000000"]),
    "--attention": _word(["fused", "unfused"]),
    "--layers": _num(["1", "2"], huge=["1000000000"]),
    "--moe-load": _word(["uniform", "sampled", "zipf", "zipf:1.2", "zipf:-1", "zipf:nan"]),
}
STEP = {
    "--phase": _word(["prefill", "decode"]),
    "--batch": _num(["1", "2", "4"], huge=["1000000000"]),
    "--context": _num(["16", "64"], huge=["1000000000"]),
    "--seq-len": _num(["8", "32"], huge=["1000000000"]),
}
SET = st.one_of(OVERRIDE, st.sampled_from(["noc.flit_bytes=1", "noc.chunk_bytes=1",
                                           "systolic.rows=4", "clock_mhz=0"]))


def _simulate():
    flags = {
        "--arch": st.one_of(_word(ARCHES), input_file("arch")),
        "--set": SET,
        "--trace": input_file("trace", ".csv"),
        "--topology": input_file("topology", ".csv"),
        "--topology-format": _word(["auto", "gemm", "conv"]),
        "--context": STEP["--context"], "--seq-len": STEP["--seq-len"],
        "--batch": STEP["--batch"], "--phase": STEP["--phase"],
        "--layers": COMMON_MODEL["--layers"], "--tp": COMMON_MODEL["--tp"],
        "--attention": COMMON_MODEL["--attention"],
        "--json": output_path(".json"), "--csv": output_path(".csv"),
        "--timeline": output_path(".json"), "--plots": output_path(),
        "--force": None, "--top": _num(["3"], huge=["-3", "1000000000"]),
    }
    base = ["simulate", "--quiet", "--no-progress", "--fidelity", "analytical"]
    return st.builds(lambda a: base + a, _args(flags, {"--model": COMMON_MODEL["--model"],
                                                        "--layers": st.just("1")}))


def _report():
    return st.builds(lambda a: ["report"] + a,
                     _args({"--force": None}, {"--plots": output_path()},
                           [input_file("report", ".json")], max_flags=1))


def _trace_gen():
    flags = dict(COMMON_MODEL, **STEP, **{"--seed": SEED, "--force": None})
    return st.builds(lambda a: ["trace", "gen"] + a,
                     _args(flags, {"--model": COMMON_MODEL["--model"], "--layers": st.just("1"),
                                   "-o": output_path(".csv")}))


def _trace_serve():
    flags = dict(COMMON_MODEL, **{
        "--dataset": _word(["sharegpt", "alpaca"]),
        "--requests": input_file("requests", ".csv"),
        "--rate": _num(["2", "5"], huge=["1e12"]),
        "--duration": _num(["2", "5"], huge=["1e12"]),
        "--arrival": _word(["poisson", "gamma", "onoff"]),
        "--cv": _num(["1", "2"]), "--on-s": _num(["1"]), "--off-s": _num(["1"]),
        "--seed": SEED, "--max-batch": _num(["4", "8"], huge=["1000000000"]),
        "--max-tokens": _num(["256"], huge=["1000000000"]),
        "--chunked-prefill": None, "--max-iters": _num(["2"], huge=["1000000000"]),
        "--skip-iters": _num(["1"]), "--peak-tflops": _num(["100"]),
        "--mem-gbps": _num(["1000"]), "--force": None,
    })
    return st.builds(lambda a: ["trace", "serve"] + a,
                     _args(flags, {"--model": COMMON_MODEL["--model"], "--layers": st.just("1"),
                                   "--duration": st.just("2"), "--rate": st.just("4"),
                                   "--max-iters": st.just("2"), "-o": output_path()}))


def _serve():
    flags = {
        "--arch": st.one_of(_word(["h100_like", "a100_like", "npu_128x128_bf16_hbm2"]),
                            input_file("arch")),
        "--set": SET, "--model": COMMON_MODEL["--model"], "--tp": COMMON_MODEL["--tp"],
        "--dataset": _word(["sharegpt", "alpaca"]),
        "--requests": input_file("requests", ".csv"),
        "--rate": _num(["2", "5"], huge=["1e12"]),
        "--duration": _num(["1", "2"], huge=["1e12"]),
        "--arrivals": _word(["poisson", "bursty", "onoff"]), "--cv": _num(["1", "3"]),
        "--seed": SEED, "--replicas": _num(["1", "2"], huge=["1000000000"]),
        "--router": _word(["round-robin", "least-loaded"]),
        "--max-num-seqs": _num(["4", "8"], huge=["1000000000"]),
        "--max-num-batched-tokens": _num(["256"], huge=["1000000000"]),
        "--no-chunked-prefill": None, "--prefix-caching": None,
        "--block-size": _num(["16", "1"], huge=["1000000000"]),
        "--gpu-memory-utilization": _num(["0.5", "0.9"]),
        "--iteration-ms": _num(["1"]), "--prefill-arch": _word(["h100_like"]),
        "--kv-link-gbps": _num(["25"]), "--slo": _word(["ttft_ms=100", "tpot_ms=5,e2e_ms=9",
                                                         "ttft=1", "ttft_ms=-1", "x"]),
        "--json": output_path(".json"), "-o": output_path(), "--dump-trace": output_path(".csv"),
        "--force": None,
    }
    return st.builds(lambda a: ["serve", "--no-progress", "--no-plots"] + a,
                     _args(flags, {"--model": st.just("tiny-llama-gqa-test"),
                                   "--duration": st.just("1"), "--rate": st.just("4"),
                                   "-o": output_path()}))


def _trace_capture():
    flags = {"--phase": STEP["--phase"], "--batch": STEP["--batch"],
             "--context": STEP["--context"], "--seq-len": STEP["--seq-len"],
             "--attn": _word(["sdpa", "eager"]), "--dtype": _word(["bf16", "fp16", "fp32"]),
             "--force": None}
    # A valid config would import torch and trace a model: slow, so only hostile configs here.
    bad_config = st.builds(lambda k: FileSpec(k, "config.json"),
                           st.sampled_from(["missing", "dir", "fifo", "under_file", "long_name"]))
    bad_config = st.one_of(bad_config, st.builds(
        lambda k: FileSpec("bytes", "config.json", HOSTILE_BYTES[k]),
        st.sampled_from(["binary", "latin1", "empty", "deep_json", "json_list", "nul"])))
    return st.builds(lambda a: ["trace", "capture"] + a,
                     _args(flags, {"--hf-config": bad_config, "-o": output_path(".csv")}))


def _cost():
    flags = {"--set": SET, "--trace": input_file("trace", ".csv"),
             "--tech": st.one_of(_word(["7nm", "5nm", "16nm", "3nm", "0nm", "-7nm"]),
                                 input_file("tech")),
             "--cost": input_file("tech"),
             "--dram": _word(["hbm3:5", "hbm2", "hbm3:0", "hbm3:-1", "hbm3:nan", "ddr9"]),
             "--budget-area": _num(["100"]), "--budget-power": _num(["300"]),
             "--plots": output_path(), "--json": None}
    trace = st.just(FileSpec("bytes", "in.csv", (REPO / "traces" /
                                                 "tiny-llama-gqa-test_decode_b4_ctx64.csv")
                             .read_bytes()))
    return st.builds(lambda a: ["cost", "--fidelity", "analytical"] + a,
                     _args(flags, {"--arch": st.one_of(_word(ARCHES), input_file("arch")),
                                   "--trace": trace}))


def _env_arg():
    tiny = (REPO / "tests/dse/data/tiny-latency.yaml").read_bytes()
    return st.one_of(st.just(FileSpec("bytes", "env.yaml", tiny)),
                     input_file("env"), _word(["nope-env"]))


DSE_SET = st.one_of(st.sampled_from(["constraints=[]", "fidelity=full", "knobs=[]",
                                     "tweak.horizon=-1", "workload.generate.batch=1000000000",
                                     "objectives=5", "a..b=1", "=1", "x"]),
                    st.builds(lambda k, v: f"{k}={v}", st.text(max_size=8), st.text(max_size=8)))


def _dse_run():
    flags = {"--optimizer": _word(["random", "optuna-tpe", "optuna-nsga2"]),
             "--budget": _num(["2", "3"], huge=["1000000000000"]),
             "--seed": SEED, "--out": output_path(),
             "--workers": _num(["1"], huge=["100000"]),
             "--batch": _num(["1", "2"], huge=["1000000000"]),
             "--cache": input_file(None, ".sqlite"), "--force": None, "--set": DSE_SET,
             "--backend": _word(["local", "ray"]), "--address": _word(["127.0.0.1:1"])}
    return st.builds(lambda a: ["dse", "run", "--no-progress"] + a,
                     _args(flags, {"--budget": st.just("2"), "--workers": st.just("1")},
                           [_env_arg()]))


def _dse_check():
    return st.builds(lambda a: ["dse", "check"] + a,
                     _args({"--set": DSE_SET}, None, [_env_arg()], max_flags=2))


def _dse_eval():
    design = st.one_of(st.sampled_from(["sa_dim=16", "sa_dim=17", "dataflow=os", "channels=-1",
                                        "ifmap_kib=1", "nope=1", "sa_dim=", "=", "sa_dim"]),
                       st.builds(lambda k, v: f"{k}={v}", st.text(max_size=6), st.text(max_size=6)))
    return st.builds(lambda a: ["dse", "eval", "--fidelity", "analytical"] + a,
                     _args({"--design": design, "--set": DSE_SET}, None, [_env_arg()]))


def _validate():
    # Real comparisons take seconds to minutes: only hostile reference folders and names here.
    ref = st.one_of(input_file(None, ""), st.just(FileSpec("dir", "ref")),
                    st.just(FileSpec("ref_garbage", "ref")))
    return st.builds(lambda r, a: ["validate", "--quick", "--reference", r] + a, ref,
                     _args({"--markdown": None, "--json": None,
                            "--only": _word(["nope", "", "dramx"])}))


def _memtest():
    flags = {"--memory": st.one_of(_word(["hbm2", "hbm3", "hbm2e", "hbm9"]),
                                   input_file("memory")),
             "--channels": _num(["2", "8"], huge=["1000000000"]),
             "--pattern": _word(["stream", "random", "mixed"]),
             "--requests": _num(["200", "500"], huge=["1000000000", "4611686018427387904"]),
             "--mapping": _word(["RoBaRaCoCh", "MOP4CLXOR"]), "--seed": SEED, "--json": None}
    return st.builds(lambda a: ["memtest"] + a,
                     _args(flags, {"--requests": st.just("300")}))


def _noctest():
    flags = {"--mesh": _word(["2x2", "4x4", "3x1", "0x0", "64x64", "1000000x1", "4x", "x"]),
             "--config": input_file("noc"),
             "--traffic": _word(["uniform", "transpose", "hotspot"]),
             "--rate": _num(["0.05", "0.1"], huge=["1e9"]),
             "--packet-flits": _num(["1", "4"], huge=["1000000000"]),
             "--seed": SEED, "--hotspot-fraction": _num(["0.2"]),
             "--warmup-cycles": _num(["10"], huge=["1000000000000"]),
             "--measure-cycles": _num(["50"], huge=["1000000000000"]),
             "--drain-cycles": _num(["10"], huge=["1000000000000"]),
             "--sweep": None, "--json": None}
    return st.builds(lambda a: ["noctest"] + a,
                     _args(flags, {"--mesh": st.just("2x2"), "--warmup-cycles": st.just("10"),
                                   "--measure-cycles": st.just("50"),
                                   "--drain-cycles": st.just("10")}))


def _list():
    return st.builds(lambda a: ["list"] + a, st.lists(
        _word(["all", "presets", "models", "mappers", "memory", "noc", "multicore", "pim",
               "schedulers"]), max_size=2))


#: sub-command -> strategy of argv templates.
CLI_COMMANDS: dict[str, Callable[[], st.SearchStrategy]] = {
    "simulate": _simulate, "report": _report, "trace gen": _trace_gen,
    "trace serve": _trace_serve, "trace capture": _trace_capture, "cost": _cost,
    "serve": _serve,
    "dse run": _dse_run, "dse check": _dse_check, "dse eval": _dse_eval,
    "validate": _validate, "memtest": _memtest, "noctest": _noctest, "list": _list,
}


def cli_case(commands: list[str] | None = None) -> st.SearchStrategy:
    """An argv template for one of ``commands`` (default: all)."""
    names = sorted(commands or CLI_COMMANDS)
    return st.one_of([CLI_COMMANDS[name]() for name in names])


def materialize(template: list, tmp: Path) -> list[str]:
    """Create the files of ``template`` inside ``tmp`` (never elsewhere); return the argv."""
    argv: list[str] = []
    for i, item in enumerate(template):
        if not isinstance(item, FileSpec):
            argv.append(item)
            continue
        base = tmp / f"a{i}"
        base.mkdir()
        path = base / item.name
        kind = item.kind
        if kind == "bytes":
            path.write_bytes(item.data)
        elif kind in ("dir", "dir_named"):
            path.mkdir()
            (path / "keep.txt").write_text("x")
        elif kind == "fifo":
            os.mkfifo(path)  # inside tmp only
        elif kind == "out_existing":
            path.write_text("existing user data\n")
        elif kind == "unwritable":
            if IS_ROOT:  # chmod does not stop root: a path below a regular file instead
                (base / "ro").write_text("x")
                path = base / "ro" / item.name
            else:
                ro = base / "ro"
                ro.mkdir()
                if not item.name.startswith("out"):
                    (ro / item.name).write_text("x")
                ro.chmod(stat.S_IRUSR | stat.S_IXUSR if item.name.startswith("out") else 0)
                path = ro / item.name
        elif kind == "under_file":
            (base / "file").write_text("x")
            path = base / "file" / item.name
        elif kind == "long_name":
            path = base / ("n" * 300 + item.name)
        elif kind == "nested_new":
            path = base / "new" / "deeper" / item.name
        elif kind == "ref_garbage":
            path.mkdir()
            for sub in ("dram", "noc", "scalesim", "cost", "neupims", "silicon"):
                (path / sub).mkdir()
                (path / sub / "data.csv").write_bytes(HOSTILE_BYTES["binary"])
        # "missing", "out_new": nothing is created
        argv.append(str(path))
    return argv


def restore_permissions(tmp: Path) -> None:
    """Make everything under ``tmp`` removable again (chmod'ed folders)."""
    for root, dirs, _files in os.walk(tmp):
        for d in dirs:
            try:
                os.chmod(os.path.join(root, d), 0o700)
            except OSError:
                pass


@dataclass
class CliResult:
    argv: list[str]
    rc: int | None  # None: killed (hang or blow-up)
    stderr: str
    wall_s: float
    peak_rss_bytes: int
    hung: bool = False
    signal: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.stderr

    @property
    def blew_up(self) -> bool:
        return ("MemoryError" in self.stderr or self.peak_rss_bytes > MEM_CAP_BYTES
                or (self.signal is not None and not self.hung))

    def problem(self) -> str | None:
        """None if the case kept the contract, else 'hang', 'blow-up', 'traceback' or 'exit N'."""
        if self.hung:
            return "hang"
        if self.blew_up:
            return "blow-up"
        if self.traceback:
            return "traceback"
        if self.rc not in (0, 2) and not (self.rc == 3 and self.argv[:1] == ["validate"]):
            return f"exit {self.rc}"        # validate's 3: it ran, a comparison missed its goal
        return None

    def last_line(self) -> str:
        lines = [l for l in self.stderr.strip().splitlines() if l.strip()]
        if self.traceback:
            tb = [l for l in lines if not l.startswith(("accelsim: internal", "This is a bug"))]
            return tb[-1] if tb else ""
        return lines[-1] if lines else ""


#: CPU seconds a case may use (RLIMIT_CPU: SIGXCPU past it): the outside tester's "hang past
#: 60 s", above the work guards' default budget (guards.MAX_WORK, ~50 s), so only a command that
#: outruns the work it was allowed counts. A CPU cap, not a wall cap, so a machine busy with
#: other work does not turn slow cases into false hangs.
TIME_CAP_S = 60.0
#: Wall seconds before a case that uses no CPU (blocked on a FIFO, a lock, a pipe) is a hang.
WALL_CAP_S = 60.0
MEM_CAP_BYTES = 4 << 30
_PRELOADED = [False]


def preload() -> None:
    """Import what every case needs once, so forked children start fast."""
    if _PRELOADED[0]:
        return
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    os.environ.setdefault("MPLBACKEND", "Agg")
    import accelsim.cli

    accelsim.cli.build_parser()
    for module in ("numpy", "matplotlib", "matplotlib.pyplot", "simpy", "accelsim.api"):
        try:
            __import__(module)
        except Exception:  # noqa: BLE001 - optional speed-up only
            pass
    sample_report()
    _PRELOADED[0] = True


def _child(argv: list[str], workdir: Path, time_cap: float, mem_cap: int) -> None:
    """Runs in the forked child; never returns."""
    rc = 1
    try:
        os.setpgrp()
        os.chdir(workdir)
        resource.setrlimit(resource.RLIMIT_AS, (mem_cap, mem_cap))
        cpu_s = max(1, int(time_cap + 0.999))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))   # SIGXCPU, then SIGKILL
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.alarm(int(max(WALL_CAP_S, time_cap)) + 5)
        stdin = os.open(workdir / ".stdin", os.O_RDONLY | os.O_CREAT, 0o600)
        out = os.open(workdir / ".stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        err = os.open(workdir / ".stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(stdin, 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        sys.stdin = open(0, closefd=False)
        sys.stdout = sys.__stdout__ = open(1, "w", closefd=False)
        sys.stderr = sys.__stderr__ = open(2, "w", closefd=False)
        os.environ["HOME"] = str(workdir)
        os.environ["XDG_CACHE_HOME"] = str(workdir / ".cache")
        from accelsim.cli import main

        try:
            rc = main(list(argv))
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        except BaseException:  # noqa: BLE001 - reported as a traceback
            traceback.print_exc()
            rc = 1
    except BaseException:  # noqa: BLE001
        try:
            traceback.print_exc()
        except BaseException:  # noqa: BLE001
            pass
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001
            pass
        os._exit(rc if isinstance(rc, int) and 0 <= rc < 256 else 1)


def run_cli_case(argv: list[str], workdir: Path, *, time_cap: float = TIME_CAP_S,
                 mem_cap: int = MEM_CAP_BYTES) -> CliResult:
    """Run ``accelsim.cli.main(argv)`` in a forked child with ``workdir`` as its folder."""
    preload()
    sys.stdout.flush()
    sys.stderr.flush()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(argv, workdir, time_cap, mem_cap)
    hung = False
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() - started > max(WALL_CAP_S, time_cap):
            hung = True
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _done, status, usage = os.wait4(pid, 0)
            break
        time.sleep(0.005)
    wall = time.monotonic() - started
    try:  # helpers the command left behind (worker pools)
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    rc = os.waitstatus_to_exitcode(status)
    sig = -rc if rc < 0 else None
    if sig in (signal.SIGALRM, signal.SIGXCPU) or usage.ru_utime + usage.ru_stime > time_cap:
        hung = True
    try:
        stderr = (workdir / ".stderr").read_text(errors="replace")
    except OSError:
        stderr = ""
    return CliResult(list(argv), None if sig else rc, stderr, wall, usage.ru_maxrss * 1024,
                     hung=hung, signal=sig)


def run_template(template: list, *, time_cap: float = TIME_CAP_S,
                 mem_cap: int = MEM_CAP_BYTES) -> CliResult:
    """Materialize ``template`` in a fresh temporary folder, run it, clean up."""
    tmp = Path(tempfile.mkdtemp(prefix="accelsim-clifuzz-"))
    try:
        argv = materialize(template, tmp)
        result = run_cli_case(argv, tmp, time_cap=time_cap, mem_cap=mem_cap)
        result.argv = [a.replace(str(tmp), "TMP") for a in argv]
        result.stderr = result.stderr.replace(str(tmp), "TMP")
        return result
    finally:
        restore_permissions(tmp)
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
