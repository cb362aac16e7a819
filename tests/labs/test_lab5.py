"""Lab 5 autograder: multi-core mesh scaling and link bandwidth."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def lab(lab_factory):
    return lab_factory(5)


def test_functions(lab):
    f = lab.impl
    assert f.parallel_efficiency(100.0, 10.0, 16) == pytest.approx(0.625)
    assert f.parallel_efficiency(8.0, 8.0, 1) == pytest.approx(1.0)
    assert f.link_bandwidth_gbps(256, 1000.0) == pytest.approx(256.0)
    assert f.link_bandwidth_gbps(16, 2000.0) == pytest.approx(32.0)


def test_scaling(lab):
    sc = lab.results()["scaling"]
    pre = {s["cores"]: s for s in sc["prefill"]}
    dec = {s["cores"]: s for s in sc["decode"]}
    assert pre[4]["efficiency"] > 0.9 and dec[4]["efficiency"] > 0.9
    assert 8 < pre[16]["speedup"] < 16
    # decode stops scaling first (memory bandwidth is shared by all cores)
    assert dec[16]["efficiency"] < pre[16]["efficiency"]
    assert dec[16]["speedup"] < 10
    # with 256-byte links the mesh itself is a small share of the time
    assert all(s["noc_share"] < 0.1 for ss in sc.values() for s in ss)


def test_links(lab):
    ln = {s["flit_bytes"]: s for s in lab.results()["links"]}
    assert ln[32]["time_us"] > 2.5 * ln[256]["time_us"]
    assert ln[32]["noc_share"] > 0.5 > ln[256]["noc_share"]
    assert ln[32]["avg_packet_latency_cycles"] > 5 * ln[256]["avg_packet_latency_cycles"]
    assert ln[32]["max_link_util"] > ln[256]["max_link_util"]
    times = [ln[f]["time_us"] for f in sorted(ln)]
    assert all(a > b for a, b in zip(times, times[1:]))
