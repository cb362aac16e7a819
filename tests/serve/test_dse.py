"""The DSE env format can target serving objectives (``workload.serve``)."""

import copy

import pytest
import yaml

from accelsim.dse import evaluate, load_env
from accelsim.errors import ConfigError

ENV = {
    "name": "tiny-serve", "arch": "h100_like",
    "knobs": [{"name": "clock_mhz", "key": "clock_mhz", "values": [300, 1470]},
              {"name": "gbps", "key": "memory.channel_bandwidth_gbps", "values": [5.0, 41.875]},
              {"name": "cap", "key": "memory.capacity_gib", "values": [40.0, 74.5]}],
    "workload": {"generate": {"model": "tiny-llama-gqa-test", "phase": "decode", "batch": 4,
                              "context": 64},
                 "serve": {"dataset": "alpaca", "rate": 50, "duration_s": 1.0,
                           "slo": {"ttft_ms": 5, "tpot_ms": 2}}},
    "objectives": [{"metric": "goodput"}, {"metric": "energy_per_token"}],
    "constraints": [{"metric": "ttft_p99", "max": 50.0}],
}


def _env(tmp_path, raw):
    path = tmp_path / "env.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_env(path)


def test_serving_objectives_follow_the_hardware(tmp_path):
    env = _env(tmp_path, ENV)
    assert {o.metric for o in env.objectives} == {"goodput", "energy_per_token"}
    slow = evaluate({"clock_mhz": 300, "gbps": 5.0}, env)
    fast = evaluate({"clock_mhz": 1470, "gbps": 41.875}, env)
    assert slow.status == fast.status == "ok"
    assert fast.metrics["goodput_rps"] > slow.metrics["goodput_rps"]
    assert fast.metrics["ttft_p99_ms"] < slow.metrics["ttft_p99_ms"]
    assert fast.metrics["energy_per_token_j"] > 0


def test_serving_metric_without_a_serve_workload_is_an_error(tmp_path):
    raw = copy.deepcopy(ENV)
    del raw["workload"]["serve"]
    with pytest.raises(ConfigError, match="workload.serve"):
        _env(tmp_path, raw)


def test_bad_slo_key_in_env_is_an_error(tmp_path):
    raw = copy.deepcopy(ENV)
    raw["workload"]["serve"]["slo"] = {"ttft": 5}
    with pytest.raises(ConfigError, match="unknown SLO key 'ttft'"):
        _env(tmp_path, raw)


def test_shipped_serving_env_loads():
    env = load_env("envs/llama3-8b-serve-goodput.yaml")
    assert env.workload.serve["rate"] == 15 and "goodput" in env.metric_names
