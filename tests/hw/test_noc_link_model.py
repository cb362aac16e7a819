"""The workload link model (``MeshNoC.send``: credit flow control over VC pools, crossbar inputs
of speedup 1, packet-atomic links) against the synthetic-traffic kernel (``noc_kernel``, itself
within 10 % of BookSim 2) on the *same* packet trace: BookSim's stock 4x4 mesh, 4-flit packets,
uniform random and transpose traffic at three loads up to 70 % of the kernel's saturation
(0.82 and 0.357 flits/node/cycle, ``sweep_synthetic``). Average packet latency (creation to
tail) of the packets created in the measurement window must agree within 10 %; the zero-load
formula (no contention: the null model) must not."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from accelsim.hw.noc import (MeshConfig, generate_trace, hop_count, link_model_done_cycles,
                            simulate_trace, zero_load_latency_cycles)

BAND = 0.10
WARMUP, MEASURE, DRAIN = 1000, 3000, 6000
CFG = MeshConfig(columns=4, rows=4)        # BookSim 2 stock meshconfig values (the defaults)


def latencies(cfg: MeshConfig, traffic: str, rate: float, packet_flits: int = 4):
    """Mean latency of the measured packets: kernel, link model, zero-load formula."""
    src, dst, ctime, flits, node_start = generate_trace(
        cfg, traffic=traffic, rate=rate, packet_flits=packet_flits,
        cycles=WARMUP + MEASURE + DRAIN, seed=1)
    done, *_ = simulate_trace(cfg, src, dst, ctime, flits, node_start, measure_start=WARMUP,
                              measure_end=WARMUP + MEASURE, t_end=WARMUP + MEASURE + DRAIN)
    link = link_model_done_cycles(cfg, src, dst, ctime, flits)
    m = (ctime >= WARMUP) & (ctime < WARMUP + MEASURE)
    assert (done[m] >= 0).all() and (link[m] >= 0).all()
    zero = [zero_load_latency_cycles(cfg, hops=hop_count(cfg, int(s), int(d)), flits=int(f))
            for s, d, f in zip(src[m], dst[m], flits[m])]
    return (float(np.mean(done[m] - ctime[m])), float(np.mean(link[m] - ctime[m])),
            float(np.mean(zero)))


@pytest.mark.parametrize("traffic,rates", [("uniform", (0.2, 0.4, 0.57)),
                                           ("transpose", (0.1, 0.175, 0.25))])
def test_link_model_matches_the_noc_kernel_below_saturation(traffic, rates):
    rows = []
    for rate in rates:
        kernel, link, zero = latencies(CFG, traffic, rate)
        rows.append((rate, kernel, link, zero))
    table = "\n".join(f"{traffic} {r:.3f}: kernel {k:.2f} link {lk:.2f} zero-load {z:.2f}"
                      for r, k, lk, z in rows)
    for rate, kernel, link, zero in rows:
        assert abs(link / kernel - 1) <= BAND, table
    rate, kernel, link, zero = rows[-1]             # the null model fails at the top load
    assert abs(zero / kernel - 1) > BAND, table


def test_fewer_credits_mean_more_backpressure():
    # One VC of 2 flits per input port against BookSim's 16 x 8: 8-flit packets no longer fit
    # a VC, blocked heads hold their VCs upstream, and latency rises at the same load.
    small = dataclasses.replace(CFG, num_vcs=1, vc_buffer_flits=2, interleave_flits=1)
    _, roomy, _ = latencies(CFG, "uniform", 0.3, packet_flits=8)
    _, tight, _ = latencies(small, "uniform", 0.3, packet_flits=8)
    assert tight > 1.05 * roomy
