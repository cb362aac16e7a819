"""Lab 1 autograder: roofline functions and the decode / prefill reports (ranges, not exact)."""

from __future__ import annotations

import math

import pytest


@pytest.fixture(scope="module")
def lab(lab_factory):
    return lab_factory(1)


def test_roofline_functions(lab):
    f = lab.impl
    assert f.ridge_point(32e12, 256e9) == pytest.approx(125.0)
    assert f.arithmetic_intensity(800.0, 100.0) == pytest.approx(8.0)
    # memory side wins: 1 GB at 100 GB/s = 10 ms; 1 GFLOP at 1 TFLOP/s = 1 ms
    assert f.roofline_time_ns(1e9, 1e9, 1e12, 100e9) == pytest.approx(1e7)
    # compute side wins
    assert f.roofline_time_ns(1e12, 1e6, 1e12, 100e9) == pytest.approx(1e9)
    assert f.roofline_bound(8.0, 128.0) == "memory"
    assert f.roofline_bound(400.0, 128.0) == "compute"


def test_peaks(lab):
    p = lab.results()["decode"]["peaks"]
    assert p["peak_flops_per_s"] == pytest.approx(2 * 128 * 128 * 1e9)
    assert p["bandwidth_bytes_per_s"] == pytest.approx(256e9)
    assert p["ridge"] == pytest.approx(128, rel=1e-3)


def test_decode_is_memory_bound(lab):
    ops = lab.results()["decode"]["ops"]
    for name in ("qkv_proj", "out_proj", "ffn_up", "ffn_down", "lm_head"):
        o = ops[name]
        assert o["roofline_bound"] == "memory"
        assert 7.5 < o["intensity"] < 8.5                   # ~ batch FLOP per byte
        assert 1.0 <= o["sim_over_roofline"] < 1.15          # close under the roof
        assert 1.7 < o["achieved_tflops"] < 2.1
    for name in ("attn_score", "attn_context"):
        o = ops[name]
        assert 0.9 < o["intensity"] < 1.1
        assert o["roofline_bound"] == "memory"
        assert o["report_bound"] == "compute"                # the array, not DRAM, limits it
        assert 1.2 < o["sim_over_roofline"] < 1.6


def test_prefill_is_compute_bound(lab):
    res = lab.results()
    ops = res["prefill"]["ops"]
    for name in ("qkv_proj", "out_proj", "ffn_up", "ffn_gate", "ffn_down"):
        o = ops[name]
        assert o["roofline_bound"] == "compute"
        assert o["intensity"] > 128
        assert 0.9 < o["achieved_tflops"] / 32.768 <= 1.0
    assert ops["lm_head"]["roofline_bound"] == "memory"   # only the last token: M = 1
    d, p = res["decode"], res["prefill"]
    assert 4_000 < d["total_us"] < 8_000
    assert 12_000 < p["total_us"] < 22_000
    assert 0.6 < d["class_share"]["gemm"] < 0.85
    assert p["class_share"]["gemm"] > 0.7
    assert all(math.isfinite(o["sim_ns"]) for o in ops.values())
