"""The closed loop against queueing theory, and against a faster chip."""

import numpy as np
import pandas as pd

from accelsim.arch.config import load_arch
from accelsim.serving import Pool, SchedulerConfig, Settings, serve
from accelsim.workload.requests import synthesize_requests


def _poisson(n: int, rate_per_s: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arrival_ns = np.rint(np.cumsum(rng.exponential(1e9 / rate_per_s, n))).astype(np.int64)
    return pd.DataFrame({"req_id": np.arange(n), "arrival_ns": arrival_ns,
                         "input_tokens": 16, "output_tokens": 1, "cached_tokens": 0})


def test_fixed_iteration_time_is_md1():
    """One request per iteration of D = 10 ms, one output token: an M/D/1 queue. Mean wait
    W_q = rho D / (2 (1 - rho)) (Pollaczek-Khinchine); TTFT = W_q + D. A loop that ignored
    queueing (TTFT = D) misses by 60 %; one that waited a full iteration on every arrival, by
    22 %."""
    d_ms, rate = 10.0, 60.0
    rho = rate * d_ms / 1e3
    requests = _poisson(60_000, rate, seed=3)
    result = serve(requests, "tiny-llama-gqa-test", pools=[Pool("h100_like")],
                   settings=Settings(SchedulerConfig(max_num_seqs=1), iteration_ms=d_ms,
                                     progress=False))
    df = result.requests
    assert (df["status"] == "finished").all()
    wq_ms = rho * d_ms / (2 * (1 - rho))
    assert abs(df["queue_ms"].mean() / wq_ms - 1) < 0.05
    assert abs(df["ttft_ms"].mean() / (wq_ms + d_ms) - 1) < 0.05
    # utilization: the server is busy rho of the time
    busy_s = result.iterations["duration_ps"].sum() / 1e12
    assert abs(busy_s / result.summary["makespan_s"] - rho) < 0.02


def test_faster_chip_lowers_p99_ttft():
    """Same requests and load; the chip with twice the memory bandwidth and a faster clock has a
    strictly lower p99 TTFT (the scheduler sees its shorter iterations)."""
    requests = synthesize_requests("sharegpt", rate=40, num_requests=150, seed=1,
                                   max_total_tokens=2048)
    slow = load_arch("h100_like")
    fast = load_arch("h100_like", overrides=["clock_mhz=2000",
                                             "memory.channel_bandwidth_gbps=83.75"])
    p99 = {}
    for name, arch in (("slow", slow), ("fast", fast)):
        res = serve(requests, "llama3-8b", pools=[Pool(arch)], settings=Settings(progress=False))
        assert res.summary["requests_finished"] == len(requests)
        p99[name] = res.summary["ttft_ms"]["p99"]
    assert p99["fast"] < p99["slow"]
