"""Bad values are exit 2 with one line on stderr; messages name what the user gave (issue 21)."""

import pytest

from accelsim.cli import main
from accelsim.errors import AccelsimError

TINY = "traces/tiny-llama-gqa-test_decode_b4_ctx64.csv"


def run(capsys, *args):
    code = main(list(args))
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


def one_error(capsys, *args) -> str:
    code, err = run(capsys, *args)
    assert code == 2 and len(err) == 1 and err[0].startswith("accelsim: error: "), err
    return err[0]


@pytest.mark.parametrize("flag, value", [("--drain-cycles", "-1"), ("--seed", "-1")])
def test_noctest_negative_cycles_and_seed(capsys, flag, value):
    line = one_error(capsys, "noctest", "--mesh", "2x2", "--measure-cycles", "100", flag, value)
    assert f"{flag} must be >= 0, got {value}" in line


def test_validate_only_takes_the_readme_model_names(capsys):
    from accelsim.validation import select

    assert select(["systolic"]) == {"scalesim": None}
    assert select(["HBM", "mesh NoC", "mesh-noc"]) == {"dram": None, "noc": None}
    assert select(["h100_like"]) == {"silicon": {"h100_like"}}
    assert select(["h100_like", "silicon"]) == {"silicon": None}
    assert select(["cost", "neupims", "scalesim"]) == {"cost": None, "neupims": None,
                                                       "scalesim": None}


def test_validate_only_systolic_runs_the_systolic_rows(capsys, reference_dir):
    assert main(["validate", "--quick", "--only", "systolic", "--json", "--reference",
                 str(reference_dir)]) == 0
    import json

    rows = json.loads(capsys.readouterr().out)
    assert rows and {r["model"] for r in rows} == {"systolic"}


def test_validate_only_unknown_name_lists_the_valid_ones(capsys):
    line = one_error(capsys, "validate", "--only", "systolc")
    assert "--only: unknown comparison 'systolc' (did you mean 'systolic'?)" in line
    for name in ("systolic", "HBM", "mesh NoC", "cost", "neupims", "h100_like", "scalesim"):
        assert name in line.split("valid: ")[1]


@pytest.mark.parametrize("flag, value", [("--dram", ""), ("--dram", ":4"), ("--tech", "")])
def test_cost_empty_dram_or_tech(capsys, flag, value):
    line = one_error(capsys, "cost", "--arch", "edge_npu_32x32", "--trace", TINY, flag, value)
    assert line.startswith(f"accelsim: error: {flag}: expected ")


@pytest.mark.parametrize("value", ["32.9", "inf", "nan", "1e999", "3x"])
def test_scalesim_cfg_fractional_array_height(capsys, tmp_path, value):
    text = open("tests/data/scale.cfg").read().replace("ArrayHeight:    32",
                                                       f"ArrayHeight:    {value}")
    cfg = tmp_path / "a.cfg"
    cfg.write_text(text)
    line = one_error(capsys, "simulate", "--arch", str(cfg), "--trace", TINY, "--quiet")
    assert f"[architecture_presets] ArrayHeight: expected an integer, got {value!r}" in line


def test_topology_format_gemm_on_a_convolution_file(capsys):
    line = one_error(capsys, "simulate", "--topology", "tests/data/conv_small.csv",
                     "--topology-format", "gemm", "--quiet")
    assert "conv_small.csv, row 2: " in line and "look like convolutions" in line


def test_unknown_key_lists_every_key_of_the_section(capsys, tmp_path):
    arch = tmp_path / "a.yaml"
    arch.write_text("systolic: {rows: 32, cols: 32}\n"
                    "memory: {impl: analytical, channels: 1, channel_bandwidth_gbps: 8}\n"
                    "cost: {tekh: 7nm}\n")
    line = one_error(capsys, "simulate", "--arch", str(arch), "--trace", TINY, "--quiet")
    assert line.endswith("cost.tekh: unknown key (did you mean 'tech'?); allowed: budget, die, "
                         "dram, io, tech")
    arch.write_text("systolic: {rows: 32, cols: 32}\n"
                    "memory: {impl: analytical, channels: 1, channel_bandwidth_gbps: 8}\n"
                    "interconect: {link_bandwidth_gbps: 1}\n")
    line = one_error(capsys, "simulate", "--arch", str(arch), "--trace", TINY, "--quiet")
    allowed = line.split("allowed: ")[1].split(", ")
    for key in ("interconnect", "cores", "shared_buffer", "noc", "pim", "cost", "launch"):
        assert key in allowed


def test_section_done_lists_has_and_declared_keys():
    from accelsim.arch.fields import Section

    sec = Section({"a": 1, "zz": 2}, file="f.yaml", path="s", keys=("declared",))
    sec.int("a")
    sec.has("optional")
    with pytest.raises(AccelsimError) as e:
        sec.done(also=("other",))
    assert str(e.value) == ("f.yaml: s.zz: unknown key; allowed: a, declared, optional, other")


def test_overflow_names_what_the_user_gave_not_generated_rows(capsys, tmp_path):
    line = one_error(capsys, "trace", "gen", "--phase", "decode", "--batch", "2", "--context",
                     "1000000000000000", "-o", str(tmp_path / "t.csv"))
    assert "<generated>" not in line and "row" not in line
    assert ("the trace generated for model llama2-7b (decode, batch 2, context 1000000000000000): "
            "operator 'attn' of layer 0: flops = 3.28e+19 is beyond the 64-bit counters") in line
    line = one_error(capsys, "simulate", "--model", "llama2-7b", "--phase", "prefill",
                     "--seq-len", "100000000000", "--batch", "1", "--quiet")
    assert "model llama2-7b (prefill, batch 1, seq-len 100000000000): operator 'qkv_proj'" in line
    assert "<generated>" not in line


def test_topology_overflow_names_the_line(capsys, tmp_path):
    topo = tmp_path / "t.csv"
    topo.write_text("Layer, M, N, K,\n\nfc1, 2147483648, 2147483648, 2147483648,\n")
    line = one_error(capsys, "simulate", "--topology", str(topo), "--quiet")
    assert line == (f"accelsim: error: {topo}, row 3: layer 'fc1': flops = 1.98e+28 is beyond "
                    "the 64-bit counters (at most 4.61e+18); the layer is too large")


# ---------------------------------------------------------------- flags that do not apply (19)
@pytest.mark.parametrize("argv, fragment", [
    (["simulate", "--model", "llama2-7b", "--phase", "prefill", "--context", "100"],
     "--context applies to --phase decode"),
    (["simulate", "--model", "llama2-7b", "--phase", "decode", "--seq-len", "512"],
     "--seq-len applies to --phase prefill"),
    (["simulate", "--batch", "4"], "--batch shapes a generated step"),
    (["simulate", "--topology-format", "gemm"], "--topology-format applies to --topology"),
    (["trace", "gen", "--phase", "prefill", "--context", "100", "-o", "x.csv"],
     "--context applies to --phase decode"),
    (["trace", "capture", "--hf-config", "examples/config.json", "--seq-len", "4", "-o", "y.csv"],
     "--seq-len applies to --phase prefill"),
])
def test_flags_that_do_not_apply_are_errors(argv, fragment, capsys, tmp_path, monkeypatch):
    from pathlib import Path

    if "examples/config.json" in argv:
        argv = [str(Path(__file__).resolve().parents[1] / a) if a == "examples/config.json"
                else a for a in argv]
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert fragment in capsys.readouterr().err
