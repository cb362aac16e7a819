"""Closed-loop serving (``accelsim serve``) against queueing theory.

With one sequence per iteration, one output token per request and a fixed iteration time D, the
serving loop is an M/D/1 queue: Poisson arrivals at rate lambda, deterministic service D, one
server. Pollaczek-Khinchine gives the mean wait W_q = rho D / (2 (1 - rho)) with rho = lambda D, so
the mean TTFT is W_q + D. Rows at three loads, 60,000 requests each (~0.6 s; the sampling error of
the mean wait is ~1.5 %); goals: mean wait and mean TTFT within 5 %. A loop that ignored queueing
(TTFT = D) misses the TTFT rows by 18-67 % and the wait rows entirely; one that made every arrival
wait a full iteration misses the wait rows at every load.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import Row, register_validation

ITERATION_MS = 10.0
LOADS = (0.3, 0.6, 0.8)          # rho = arrival rate x iteration time
WAIT_TOL = 0.05
N_REQUESTS = 60_000


def _poisson(n: int, rate_per_s: float, seed: int) -> pd.DataFrame:
    """``n`` Poisson arrivals (the request generator's own), 16 input and 1 output token each."""
    from ..workload.requests import arrival_times_s

    t_s = arrival_times_s(np.random.default_rng(seed), rate=rate_per_s, num_requests=n)
    return pd.DataFrame({"req_id": np.arange(n), "arrival_ns": np.rint(t_s * 1e9).astype(np.int64),
                         "input_tokens": 16, "output_tokens": 1, "cached_tokens": 0})


def md1(rho: float, n_requests: int, *, seed: int = 3) -> dict:
    """The serving loop at load ``rho`` with a fixed iteration time: measured and theory."""
    from ..serving import Pool, SchedulerConfig, Settings, serve

    rate = rho * 1e3 / ITERATION_MS
    result = serve(_poisson(n_requests, rate, seed), "tiny-llama-gqa-test",
                   pools=[Pool("h100_like")],
                   settings=Settings(SchedulerConfig(max_num_seqs=1), iteration_ms=ITERATION_MS,
                                     progress=False))
    df = result.requests
    wait_ms = rho * ITERATION_MS / (2 * (1 - rho))
    return {"wait_ms": float(df["queue_ms"].mean()), "wait_theory_ms": wait_ms,
            "ttft_ms": float(df["ttft_ms"].mean()), "ttft_theory_ms": wait_ms + ITERATION_MS,
            "finished": bool((df["status"] == "finished").all())}


@register_validation("serving", "closed-loop serving vs M/D/1 queueing theory")
def check(reference_dir: Path, quick: bool) -> list[Row]:
    rows = []
    for rho in LOADS:
        r = md1(rho, N_REQUESTS)           # the same size in quick runs: it takes ~2 s
        label = f"rho {rho:.1f}, D {ITERATION_MS:.0f} ms"
        for metric, ours, theory in (("mean wait ms", r["wait_ms"], r["wait_theory_ms"]),
                                     ("mean TTFT ms", r["ttft_ms"], r["ttft_theory_ms"])):
            err = ours / theory - 1
            rows.append(Row("serving", "M/D/1 (Pollaczek-Khinchine)", f"{metric}, {label}",
                            round(ours, 3), round(theory, 3), round(err, 4),
                            f"within {WAIT_TOL:.0%}", r["finished"] and abs(err) <= WAIT_TOL))
    return rows
