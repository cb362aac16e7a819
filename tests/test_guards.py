"""Work guards (issue 19, item 3): absurd runs are refused upfront with one line and exit 2;
``--max-work`` / ``--yes-really`` let them through. Each refusal must take well under a second."""

from __future__ import annotations

import json
import time

import pytest

from accelsim import guards
from accelsim.cli import main


def refused(capsys, argv, *words):
    started = time.perf_counter()
    assert main(argv) == 2
    assert time.perf_counter() - started < 1.0
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for word in words:
        assert word in err, err
    return err


@pytest.fixture
def trace_csv(tmp_path):
    """A one-row trace whose repeat is set by the test."""
    def make(repeat: int):
        from accelsim.workload.generate import generate_trace

        t = generate_trace("tiny-llama-gqa-test", "decode", batch=1, context=64, layers=1)
        t.ops = t.ops.iloc[:1].copy()
        t.ops["repeat"] = repeat
        path = tmp_path / f"r{repeat}.csv"
        t.save(path)
        return str(path)
    return make


def test_simulate_huge_batch_refused(capsys):
    refused(capsys, ["simulate", "--model", "llama2-7b", "--batch", "1000000000"],
            "--batch", "--max-work", "--yes-really")


@pytest.mark.parametrize("repeat", [10**9, 2**62])
def test_simulate_huge_repeat_refused(capsys, trace_csv, repeat):
    path = trace_csv(repeat)
    refused(capsys, ["simulate", "--trace", path, "--no-progress"], "repeat", "--max-work")


@pytest.mark.parametrize("knob", ["noc.chunk_bytes=1", "noc.chunk_bytes=16"])
def test_simulate_tiny_noc_chunks_refused(capsys, knob):
    refused(capsys, ["simulate", "--arch", "mesh4x4_npu_hbm", "--model", "llama2-7b",
                     "--phase", "prefill", "--set", knob, "--no-progress"], "chunk_bytes")


def test_trace_gen_huge_batch_refused(capsys, tmp_path):
    refused(capsys, ["trace", "gen", "--batch", "1000000000", "-o", str(tmp_path / "t.csv")],
            "--batch")
    assert not (tmp_path / "t.csv").exists()


def test_trace_serve_long_duration_refused(capsys, tmp_path):
    refused(capsys, ["trace", "serve", "--duration", "1e12", "-o", str(tmp_path / "s")],
            "--duration")


@pytest.mark.parametrize("value", ["0", "nan", "-1", "inf"])
def test_trace_serve_bad_peak_refused(capsys, tmp_path, value):
    refused(capsys, ["trace", "serve", "--peak-tflops", value, "-o", str(tmp_path / "s")],
            "--peak-tflops")


@pytest.mark.parametrize("flag", ["--rate", "--duration"])
def test_trace_serve_bad_rate_refused(capsys, tmp_path, flag):
    refused(capsys, ["trace", "serve", flag, "nan", "-o", str(tmp_path / "s")], flag)


def test_trace_serve_million_output_tokens_refused(capsys, tmp_path):
    req = tmp_path / "req.csv"
    req.write_text("req_id,arrival_ns,input_tokens,output_tokens\n0,0,10,1000000\n")
    refused(capsys, ["trace", "serve", "--requests", str(req), "--max-iters", "2000000",
                     "-o", str(tmp_path / "s")], "token steps", "--max-iters")


def test_noctest_big_mesh_refused(capsys):
    refused(capsys, ["noctest", "--mesh", "64x64"], "--mesh", "--max-work")


@pytest.mark.parametrize("requests", ["1e9", "1000000000"])
def test_memtest_many_requests_refused(capsys, requests):
    refused(capsys, ["memtest", "--requests", requests], "--requests", "--max-work")


def test_dse_huge_budget_refused(capsys, tmp_path):
    refused(capsys, ["dse", "run", "llama2-7b-decode-latency-under-area", "--budget", "1e12",
                     "--out", str(tmp_path / "study")], "--budget")
    assert not (tmp_path / "study").exists()


def test_dse_many_workers_refused(capsys, tmp_path):
    refused(capsys, ["dse", "run", "llama2-7b-decode-latency-under-area", "--workers", "100000",
                     "--budget", "2", "--out", str(tmp_path / "study")], "--workers")


@pytest.mark.parametrize("argv", [
    ["memtest", "--seed", "-1"],
    ["noctest", "--seed", "-1"],
    ["trace", "gen", "--seed", "-1", "-o", "OUT/t.csv"],
    ["dse", "run", "llama2-7b-decode-latency-under-area", "--seed", "-1", "--out", "OUT/study"],
])
def test_negative_seed_refused(capsys, tmp_path, argv):
    argv = [a.replace("OUT", str(tmp_path)) for a in argv]
    refused(capsys, argv, "--seed")


@pytest.mark.parametrize("content, words", [
    (None, "not found"), ("dir", "is a directory"), ("{not json", "not valid JSON"),
    ('[1, 2]', "JSON object"), ('{"hidden_size": 8}', "model_type"), (b"\xff\xfe\x00", "UTF-8"),
])
def test_capture_checks_its_input_first(capsys, tmp_path, content, words):
    path = tmp_path / "config.json"
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    refused(capsys, ["trace", "capture", "--hf-config", str(path), "-o", str(tmp_path / "c.csv")],
            "--hf-config", words)


def test_max_work_lets_a_slightly_over_budget_run_through(capsys, monkeypatch):
    argv = ["memtest", "--requests", "2000", "--json"]
    monkeypatch.setattr(guards, "MAX_WORK", 1000)
    refused(capsys, argv, "2,000 DRAM requests", "--max-work")
    assert main([*argv, "--max-work", "3e3"]) == 0
    assert json.loads(capsys.readouterr().out)["bandwidth_gbps"] > 0
    assert main([*argv, "--yes-really"]) == 0


def test_defaults_stay_under_the_budget():
    from accelsim.api import load_arch, load_trace
    from accelsim.commands.simulate import DEFAULT_TRACE, _trace_dir

    units, memory, _ = guards.simulation_work(load_arch("npu_128x128_bf16_hbm2"),
                                              load_trace(_trace_dir() / DEFAULT_TRACE))
    assert units < guards.MAX_WORK / 10 and memory < 1e8


def test_count_parses_numbers():
    assert guards.count("1e9") == 10**9 and guards.count("1_000") == 1000
    for bad in ("1.5", "nan", "x", "inf"):
        with pytest.raises(Exception):
            guards.count(bad)
