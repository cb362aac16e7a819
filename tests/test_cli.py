"""The ``accelsim`` command: shipped defaults work; user errors are one line with exit code 2."""

import json
import os
import subprocess
import sys

import pytest

from accelsim.cli import main


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "accelsim.cli", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=300)


def test_simulate_with_shipped_defaults():
    result = cli("simulate", "--top", "3")
    assert result.returncode == 0, result.stderr
    assert "llama2-7b_decode_b32_ctx2048" in result.stdout
    assert "npu_128x128_bf16_hbm2" in result.stdout and "by operator class" in result.stdout


def test_simulate_writes_json_and_csv(tmp_path, capsys):
    out, table = tmp_path / "r.json", tmp_path / "r.csv"
    assert main(["simulate", "--trace", "traces/tiny-llama-gqa-test_decode_b4_ctx64.csv",
                 "--json", str(out), "--csv", str(table), "--quiet"]) == 0
    report = json.loads(out.read_text())
    for key in ("total_cycles", "total_time_ns", "ops", "arch", "trace", "accelsim_version"):
        assert key in report
    for key in ("op_id", "name", "unit", "compute_cycles", "stall_cycles", "total_cycles"):
        assert key in report["ops"][0]
    assert table.read_text().startswith("op_id,")


def test_json_is_identical_across_processes_and_hash_seeds():
    args = ("simulate", "--trace", "traces/tiny-llama-gqa-test_prefill_b1_s32.csv", "--json", "-")
    outputs = {cli(*args, env={"PYTHONHASHSEED": seed}).stdout for seed in ("0", "1", "12345")}
    assert len(outputs) == 1 and json.loads(outputs.pop())["total_cycles"] > 0


def test_scalesim_user_files_run_unchanged(tmp_path, capsys):
    topo = tmp_path / "layers.csv"
    topo.write_text("Layer, M, N, K,\nqk, 512, 512, 128,\npv, 512, 128, 512,\n")
    assert main(["simulate", "--arch", "tests/data/scale.cfg", "--topology", str(topo)]) == 0
    out = capsys.readouterr().out
    assert "SCALE-Sim view" in out and "38783" in out   # reference.csv: 32x32 ws qk/pv


def test_generate_then_simulate(tmp_path, capsys):
    path = tmp_path / "t.csv"
    assert main(["trace", "gen", "--model", "tiny-llama-gqa-test", "--phase", "prefill",
                 "--seq-len", "16", "-o", str(path)]) == 0
    assert path.exists() and path.with_name("t.meta.json").exists()
    assert main(["simulate", "--trace", str(path), "--quiet"]) == 0
    # never overwrite a user's file without asking
    assert main(["trace", "gen", "--model", "tiny-llama-gqa-test", "-o", str(path)]) == 2
    assert "file exists; pass --force" in capsys.readouterr().err
    assert main(["trace", "gen", "--model", "tiny-llama-gqa-test", "-o", str(path), "--force"]) == 0


@pytest.mark.parametrize("args, fragment", [
    (["simulate", "--arch", "nope.yaml"], "nope.yaml: file not found"),
    (["simulate", "--arch", "npu_128"], "unknown architecture preset 'npu_128'"),
    (["simulate", "--set", "systolic.dataflow=diag"], "systolic.dataflow: expected one of os, ws, is"),
    (["simulate", "--set", "systolic.rows=-1"], "systolic.rows: expected a value >= 1, got -1"),
    (["simulate", "--trace", "missing.csv"], "missing.csv: file not found"),
    (["simulate", "--model", "gpt5"], "unknown model 'gpt5'"),
    (["simulate", "--model", "llama2-7b", "--batch", "0"], "batch: expected a positive integer"),
    (["simulate", "--set", "sram.ifmap_kib=1", "--set", "sram.filter_kib=1"], "SRAM too small"),
])
def test_user_errors_are_one_line_exit_2(args, fragment, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1 and "Traceback" not in err


def test_bad_trace_file_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("op_id,layer,phase,name,op_class,M,K,N,flops,bytes_weight,bytes_act_in,"
                   "bytes_act_out,bytes_kv_read,bytes_kv_write\n0,0,decode,x,gemm,-1,4,4,0,0,0,0,0,0\n")
    assert main(["simulate", "--trace", str(bad)]) == 2
    assert "row 1, column 'M': expected a non-negative integer, got -1" in capsys.readouterr().err


def test_internal_errors_exit_1_with_a_report_hint(monkeypatch, capsys):
    import accelsim.api

    monkeypatch.setattr(accelsim.api, "simulate", lambda *a, **k: 1 / 0)
    assert main(["simulate", "--trace", "traces/tiny-llama-gqa-test_decode_b4_ctx64.csv"]) == 1
    assert "internal error" in capsys.readouterr().err


def test_list_and_help(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "scalesim_default" in out and "llama2-7b" in out and "analytical" in out
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
