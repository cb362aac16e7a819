"""The one YAML reader (``accelsim.yamlio``): exponent numbers, duplicate keys, range, limits."""

import time

import pytest

from accelsim.arch.config import load_arch
from accelsim.cli import main
from accelsim.dse._space import Knob
from accelsim.errors import ConfigError
from accelsim.yamlio import MAX_NODES, load_file, load_text, parse_value

TINY = "traces/tiny-llama-gqa-test_decode_b4_ctx64.csv"
ENV = "envs/llama2-7b-decode-latency-under-area.yaml"


def run(capsys, *args):
    code = main(list(args))
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


@pytest.mark.parametrize("text, value", [
    ("1e300", 1e300), ("1e-09", 1e-09), ("5E3", 5000.0), ("-2.5e-3", -0.0025), ("1e3", 1000.0),
    ("1.5e3", 1500.0), (".5e3", 500.0), ("+1e3", 1000.0), ("1.0e-09", 1e-09),
    # YAML 1.1 safe_load semantics otherwise unchanged
    ("64", 64), ("0x10", 16), ("1_000", 1000), ("true", True), ("yes", True), (".inf", float("inf")),
    ("ws", "ws"), ("e3", "e3"), ("1e", "1e"),
])
def test_numbers_in_exponent_form_are_numbers(text, value):
    assert parse_value(text) == value and type(parse_value(text)) is type(value)
    assert load_text(f"k: {text}") == {"k": value}


def test_safe_semantics_no_python_objects():
    with pytest.raises(ConfigError, match="malformed YAML"):
        load_text("x: !!python/object/apply:os.system ['true']", file="f.yaml")


def test_duplicate_key_names_key_and_lines():
    with pytest.raises(ConfigError) as e:
        load_text("a: 1\nsys:\n  rows: 2\n  rows: 3\n", file="f.yaml")
    assert str(e.value) == "f.yaml: line 4, column 3: duplicate key 'rows' (first given on line 3)"
    # a merge key still overrides, as before
    assert load_text("b: &b {x: 1, y: 2}\nd:\n  <<: *b\n  x: 3\n")["d"] == {"x": 3, "y": 2}


def test_huge_numbers_are_range_errors():
    with pytest.raises(ConfigError, match=r"line 1, column 4: integer with 5,001 digits is out of "
                                          r"range"):
        load_text("k: " + "9" * 5001, file="f.yaml")
    with pytest.raises(ConfigError, match="integer 9223372036854775808 is out of range"):
        load_text("k: 9223372036854775808")
    assert load_text("k: 9223372036854775807") == {"k": 2**63 - 1}
    with pytest.raises(ConfigError, match="number 1e400 is out of range"):
        parse_value("1e400", key="clock_mhz")


@pytest.mark.parametrize("bomb", [
    "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(9)),
    "&a [*a, *a, *a]",
    "[" * 5000 + "]" * 5000,
])
def test_alias_bombs_and_deep_nesting_fail_fast(bomb, tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb)
    start = time.perf_counter()
    with pytest.raises(ConfigError) as e:
        load_file(path)
    assert time.perf_counter() - start < 2
    assert str(e.value).startswith(str(path)) and (
        f"{MAX_NODES:,} nodes" in str(e.value) or "recursive alias" in str(e.value)
        or "nested deeper" in str(e.value))


def test_set_exponent_value_is_a_range_error(capsys):
    code, err = run(capsys, "simulate", "--trace", TINY, "--set", "clock_mhz=1e300", "--quiet")
    assert code == 2 and len(err) == 1
    assert "clock_mhz: expected a value <= 1000000.0, got 1e+300" in err[0]
    arch = load_arch("npu_128x128_bf16_hbm2", overrides=["clock_mhz=1.5e3", "systolic.rows=1e2"])
    assert arch.clock_mhz == 1500.0 and arch.systolic.rows == 100


def test_set_huge_integer_is_a_range_error(capsys):
    code, err = run(capsys, "simulate", "--trace", TINY, "--set", "systolic.rows=" + "9" * 5001)
    assert code == 2 and len(err) == 1
    assert "--set: systolic.rows: integer with 5,001 digits is out of range" in err[0]
    code, err = run(capsys, "simulate", "--trace", TINY, "--set", "systolic.rows=" + "9" * 30)
    assert code == 2 and "out of range" in err[0]


def test_arch_file_duplicate_key_is_an_error(capsys, tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("name: a\nsystolic: {rows: 32, cols: 32}\nclock_mhz: 800\nclock_mhz: 900\n"
                    "memory: {impl: analytical, channels: 1, channel_bandwidth_gbps: 8}\n")
    code, err = run(capsys, "simulate", "--arch", str(path), "--trace", TINY, "--quiet")
    assert code == 2 and err == [f"accelsim: error: {path}: line 4, column 1: duplicate key "
                                 "'clock_mhz' (first given on line 3)"]


def test_exponent_numbers_in_an_arch_file(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("systolic: {rows: 3.2e1, cols: 32}\nclock_mhz: 8e2\n"
                    "memory: {impl: analytical, channels: 1, channel_bandwidth_gbps: 8.5e0}\n")
    arch = load_arch(path)
    assert arch.systolic.rows == 32 and arch.clock_mhz == 800.0


def test_technology_and_model_files_use_the_reader(tmp_path):
    from accelsim.cost.tech import load_tech
    from accelsim.workload.models import load_model

    tech = tmp_path / "t.yaml"
    tech.write_text("name: t\nname: u\n")
    with pytest.raises(ConfigError, match="duplicate key 'name'"):
        load_tech(str(tech))
    model = tmp_path / "m.yaml"
    model.write_text("name: m\nhidden: 1e400\n")
    with pytest.raises(ConfigError, match="1e400 is out of range"):
        load_model(str(model))


def test_design_value_in_exponent_form_is_compared_as_a_number(capsys):
    knob = Knob("channel_gbps", ("memory.channel_bandwidth_gbps",), (1e-09, 16.0, 32.0))
    assert knob.index("1e-09") == 0 and knob.index("3.2e1") == 2
    code = main(["dse", "eval", ENV, "--design", "channel_gbps=3.2e1"])
    assert code == 0 and '"status": "ok"' in capsys.readouterr().out
    code, err = run(capsys, "dse", "eval", ENV, "--design", "channel_gbps=3.3e1")
    assert code == 2 and "value 33.0 is not on its grid" in err[0]
