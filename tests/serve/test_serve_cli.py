"""``accelsim serve``: outputs, the JSON summary, and bad input as one line with exit 2."""

import json

import pandas as pd
import pytest

from accelsim.cli import main

KEYS = ("ttft_ms", "tpot_ms", "e2e_ms", "throughput_tokens_per_s", "goodput_requests_per_s",
        "requests_finished", "requests_rejected", "preemptions", "energy_per_token_j")


def test_serve_writes_tables_plots_and_json(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["serve", "--rate", "4", "--duration", "5", "--slo", "ttft_ms=200,tpot_ms=50",
                 "-o", str(out), "--json", str(tmp_path / "s.json"), "--no-progress"]) == 0
    summary = json.loads((tmp_path / "s.json").read_text())
    for key in KEYS:
        assert key in summary
    for key in ("ttft_ms", "tpot_ms"):
        assert set(summary[key]) >= {"p50", "p90", "p99"}
    assert summary["requests_finished"] > 0 and summary["energy_per_token_j"] > 0
    reqs = pd.read_csv(out / "requests.csv")
    its = pd.read_csv(out / "iterations.csv")
    assert len(reqs) == summary["requests"] and len(its) == summary["pools"][0]["iterations"]
    assert (out / "latency_cdf.png").stat().st_size > 0 and (out / "over_time.png").exists()
    assert "TTFT" in capsys.readouterr().out


def test_dump_trace_has_one_iter_per_iteration(tmp_path, capsys):
    trace = tmp_path / "ops.csv"
    assert main(["serve", "--model", "tiny-llama-gqa-test", "--arch", "h100_like", "--rate", "5",
                 "--duration", "1", "--dataset", "alpaca", "--dump-trace", str(trace),
                 "--json", "-"]) == 0
    summary = json.loads(capsys.readouterr().out)
    ops = pd.read_csv(trace)
    assert ops["iter"].nunique() == summary["pools"][0]["iterations"]


def test_negative_length_in_request_trace_is_exit_2(tmp_path, capsys):
    bad = tmp_path / "r.csv"
    bad.write_text("req_id,arrival_ns,input_tokens,output_tokens\n0,0,10,5\n1,5,-3,5\n")
    assert main(["serve", "--requests", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "input_tokens" in err and "-3" in err and len(err.strip().splitlines()) == 1


def test_unknown_slo_key_is_exit_2(capsys):
    assert main(["serve", "--slo", "ttft_ms=100,p99=3"]) == 2
    err = capsys.readouterr().err
    assert "unknown SLO key 'p99'" in err and len(err.strip().splitlines()) == 1


def test_model_that_does_not_fit_is_exit_2(capsys):
    assert main(["serve", "--arch", "a100_like", "--model", "llama2-70b"]) == 2
    assert "does not fit" in capsys.readouterr().err


@pytest.mark.parametrize("argv,flag", [
    (["--decode-replicas", "2"], "--decode-replicas"),
    (["--prefill-arch", "h100_like", "--replicas", "2"], "--replicas"),
    (["--no-plots"], "--no-plots"),
    (["--cv", "3"], "--cv"),
    (["--requests", "examples/none.csv", "--rate", "3"], "--rate"),
    (["--rate", "0"], "--rate"),
    (["--block-size", "0"], "--block-size"),
    (["--gpu-memory-utilization", "1.5"], "--gpu-memory-utilization"),
])
def test_flags_that_would_not_count_are_refused(argv, flag, capsys):
    assert main(["serve", *argv]) == 2
    err = capsys.readouterr().err
    assert flag in err and len(err.strip().splitlines()) == 1
