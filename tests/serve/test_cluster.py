"""Replicas behind a router, disaggregated prefill/decode pools, and the Ray backend."""

import pandas as pd
import pytest

from accelsim.arch.config import load_arch
from accelsim.errors import ConfigError
from accelsim.serving import Pool, Settings, serve
from accelsim.workload.requests import synthesize_requests

LINKS = {"interconnect.link_bandwidth_gbps": 50.0, "interconnect.link_latency_ns": 5000.0}


def _load(rate=30.0, n=120, seed=2):
    return synthesize_requests("sharegpt", rate=rate, num_requests=n, seed=seed,
                               max_total_tokens=4096)


def test_more_replicas_lower_latency_and_least_loaded_balances():
    reqs = _load(rate=60)
    one = serve(reqs, "llama3-8b", pools=[Pool("h100_like")], settings=Settings(progress=False))
    rr = serve(reqs, "llama3-8b", pools=[Pool("h100_like", replicas=2)],
               settings=Settings(progress=False))
    ll = serve(reqs, "llama3-8b", pools=[Pool("h100_like", replicas=2)],
               settings=Settings(router="least-loaded", progress=False))
    assert rr.summary["ttft_ms"]["p99"] < one.summary["ttft_ms"]["p99"]
    counts = rr.requests["replica"].value_counts()
    assert sorted(counts.tolist()) == [60, 60]          # round-robin alternates
    assert set(ll.requests["replica"]) == {0, 1}
    assert ll.summary["e2e_ms"]["mean"] <= rr.summary["e2e_ms"]["mean"] * 1.05


def test_disaggregated_pools_hand_over_the_kv_cache():
    h = load_arch("h100_like", LINKS)
    reqs = _load(rate=10, n=60)
    res = serve(reqs, "llama3-8b", pools=[Pool(h, 1, 1, "prefill"), Pool(h, 1, 1, "decode")],
                settings=Settings(progress=False))
    df = res.requests
    assert (df["status"] == "finished").all()
    assert set(res.iterations["pool"]) == {"prefill", "decode"}
    pre = res.iterations[res.iterations["pool"] == "prefill"]
    assert (pre["decode_requests"] == 0).all()          # the prefill pool never decodes
    # the KV transfer: prompt K/V bytes over the link, one send
    kv_per_token = 2 * 32 * 8 * 128 * 2
    r = df.iloc[0]
    expected_ms = (5000 + r.input_tokens * kv_per_token / 50.0) * 1e-6
    assert r.kv_transfer_ms == pytest.approx(expected_ms, rel=1e-6)
    assert (df["e2e_ms"] > df["ttft_ms"] + df["kv_transfer_ms"]).all()


def test_disaggregation_needs_links():
    reqs = _load(n=5)
    with pytest.raises(ConfigError, match="interconnect"):
        serve(reqs, "llama3-8b", pools=[Pool("h100_like", name="prefill"),
                                        Pool("h100_like", name="decode")],
              settings=Settings(progress=False))


def test_ray_backend_gives_the_local_results():
    reqs = synthesize_requests("alpaca", rate=20, num_requests=16, seed=0)
    pools = [Pool("h100_like", replicas=2)]
    local = serve(reqs, "tiny-llama-gqa-test", pools=pools, settings=Settings(progress=False))
    ray = serve(reqs, "tiny-llama-gqa-test", pools=pools, settings=Settings(progress=False),
                backend="ray")
    cols = ["req_id", "replica", "ttft_ms", "tpot_ms", "e2e_ms", "status"]
    a = local.requests[cols].sort_values("req_id").reset_index(drop=True)
    b = ray.requests[cols].sort_values("req_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    assert ray.summary["energy_j"] == pytest.approx(local.summary["energy_j"], rel=1e-9)
