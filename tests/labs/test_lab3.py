"""Lab 3 autograder: bandwidth, batch and SRAM sweeps; the bank-level HBM model."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def lab(lab_factory):
    return lab_factory(3)


def test_functions(lab):
    f = lab.impl
    assert f.knee([1, 2, 4, 8], [100.0, 50.0, 26.0, 25.0]) == 4
    assert f.knee([1, 2, 4, 8], [100.0, 50.0, 30.0, 25.0], tol=0.25) == 4
    assert f.knee([1, 2, 4, 8], [10.0, 10.0, 10.0, 10.0]) == 1
    assert f.crossover_batch(128.0, 2) == pytest.approx(128.0)
    assert f.crossover_batch(100.0, 1) == pytest.approx(50.0)


def test_bandwidth_sweep(lab):
    res = lab.results()
    bw = res["bandwidth"]
    dec = [b["decode_us"] for b in bw]
    assert all(a >= b for a, b in zip(dec, dec[1:]))             # more bandwidth never hurts
    # memory-bound decode: time ~ 1 / bandwidth at low bandwidth
    assert 1.8 < bw[0]["decode_us"] / bw[1]["decode_us"] < 2.1
    assert res["knee_decode_gbps"] == 256                           # the array's weight-load rate
    assert 256 <= res["knee_prefill_gbps"] <= 512
    assert bw[0]["prefill_memory_bound_gemms"] == 5 and bw[-1]["prefill_memory_bound_gemms"] == 0
    assert bw[-1]["decode_stall"] < 0.02


def test_batch_crossover(lab):
    res = lab.results()
    assert res["predicted_crossover_batch"] == pytest.approx(128, rel=0.01)
    assert res["simulated_crossover_batch"] in (128, 256)
    b = {e["batch"]: e for e in res["batch"]}
    # weight GEMM time flat while memory bound, then grows with the batch
    assert b[128]["ffn_up_us"] < 1.05 * b[1]["ffn_up_us"]
    assert b[256]["ffn_up_us"] > 1.8 * b[128]["ffn_up_us"]
    tput = [e["tokens_per_s_per_layer"] for e in res["batch"]]
    assert all(x < y for x, y in zip(tput, tput[1:]))
    assert tput[-1] / tput[-2] < 1.1                                  # saturated


def test_sram_sweep(lab):
    res = lab.results()
    s = res["sram"]
    traffic = [e["gemm_dram_mb"] for e in s]
    assert all(x > y for x, y in zip(traffic, traffic[1:]))           # more SRAM, less traffic
    assert s[0]["prefill_us"] > 2 * s[-1]["prefill_us"]
    assert s[0]["memory_bound_gemms"] == s[0]["gemms"] and s[-1]["memory_bound_gemms"] == 0
    assert 1024 <= res["knee_sram_kib"] <= 8192


def test_hbm(lab):
    res = lab.results()
    mt = res["memtest"]
    assert 200 < mt["stream"]["gbps"] < 256 and mt["stream"]["row_hit"] > 0.9
    assert mt["random"]["gbps"] < 0.5 * mt["stream"]["gbps"] and mt["random"]["row_hit"] < 0.05
    h = res["hbm_prefill"]
    assert 1.0 <= h["hbm_us"] / h["analytical_us"] < 1.3
