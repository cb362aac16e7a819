"""KV blocks, limits, preemption by recompute, rejection, and the v0 / v1 policies."""

import numpy as np
import pandas as pd

from accelsim.arch.config import load_arch
from accelsim.serving import Pool, SchedulerConfig, Settings, kv_space, serve
from accelsim.workload.models import load_model


def _requests(n=40, prompt=400, output=300, gap_ns=1_000_000):
    return pd.DataFrame({"req_id": np.arange(n), "arrival_ns": np.arange(n) * gap_ns,
                         "input_tokens": prompt, "output_tokens": output, "cached_tokens": 0})


def _small_memory(gib: float):
    # llama3-8b bf16 weights are ~16 GB: a device of `gib` GiB leaves little room for KV
    return load_arch("h100_like", overrides=[f"memory.capacity_gib={gib}"])


def test_kv_capacity_is_memory_minus_weights():
    cfg = load_model("llama3-8b")
    kv = kv_space(load_arch("h100_like"), cfg, block_size=16)
    per_token = 2 * 32 * 8 * 128 * 2
    assert kv.kv_bytes_per_token == per_token
    usable = int(74.5 * 2**30 * 0.9)
    assert kv.num_blocks == (usable - cfg.num_params() * 2) // (per_token * 16)
    # tensor parallelism: each device holds half the weights and half the KV heads
    kv2 = kv_space(load_arch("h100_like"), cfg, tp=2, block_size=16)
    assert kv2.kv_bytes_per_token == per_token // 2 and kv2.num_blocks > 2 * kv.num_blocks


def test_preemption_by_recompute_when_kv_runs_out():
    arch = _small_memory(20.0)
    kv = kv_space(arch, load_model("llama3-8b"))
    res = serve(_requests(), "llama3-8b", pools=[Pool(arch)], settings=Settings(progress=False))
    s = res.summary
    assert s["requests_finished"] == 40 and s["preemptions"] > 0
    assert res.requests["preemptions"].sum() == s["preemptions"]
    assert res.iterations["kv_blocks_used"].max() <= kv.num_blocks
    # the same requests with room for all of them: no preemption, and faster
    big = serve(_requests(), "llama3-8b", pools=[Pool("h100_like")],
                settings=Settings(progress=False))
    assert big.summary["preemptions"] == 0
    assert big.summary["e2e_ms"]["p99"] < s["e2e_ms"]["p99"]


def test_requests_that_never_fit_are_rejected_with_a_reason():
    arch = _small_memory(17.5)
    kv = kv_space(arch, load_model("llama3-8b"))
    too_long = kv.tokens + 100
    reqs = pd.DataFrame({"req_id": [0, 1, 2], "arrival_ns": [0, 1, 2],
                         "input_tokens": [100, too_long - 10, 300_000],
                         "output_tokens": [10, 20, 10]})
    res = serve(reqs, "llama3-8b", pools=[Pool(arch)], settings=Settings(progress=False))
    df = res.requests.set_index("req_id")
    assert df.loc[0, "status"] == "finished"
    assert df.loc[1, "status"] == "rejected" and "KV blocks" in df.loc[1, "reason"]
    assert df.loc[2, "status"] == "rejected" and "context" in df.loc[2, "reason"]
    assert res.summary["requests_rejected"] == 2


def test_limits_hold_every_iteration():
    cfg = SchedulerConfig(max_num_seqs=8, max_num_batched_tokens=512)
    res = serve(_requests(n=30, gap_ns=100_000), "llama3-8b", pools=[Pool("h100_like")],
                settings=Settings(cfg, progress=False))
    it = res.iterations
    assert it["requests"].max() == 8 and it["tokens"].max() == 512
    assert (it["tokens"] <= 512).all()
    # chunked prefill (v1): prompt chunks ride along with decodes
    assert ((it["prefill_requests"] > 0) & (it["decode_requests"] > 0)).any()


def test_v0_policy_never_mixes_prefill_and_decode():
    cfg = SchedulerConfig(max_num_seqs=8, max_num_batched_tokens=2048, chunked_prefill=False)
    res = serve(_requests(n=30, gap_ns=100_000), "llama3-8b", pools=[Pool("h100_like")],
                settings=Settings(cfg, progress=False))
    it = res.iterations
    assert not ((it["prefill_requests"] > 0) & (it["decode_requests"] > 0)).any()
    assert res.summary["requests_finished"] == 30


def test_prefix_caching_skips_cached_prompt_tokens():
    reqs = _requests(n=20, prompt=2000, output=20, gap_ns=50_000_000)
    reqs["cached_tokens"] = 1600
    runs = {flag: serve(reqs, "llama3-8b", pools=[Pool("h100_like")],
                        settings=Settings(SchedulerConfig(prefix_caching=flag), progress=False))
            for flag in (False, True)}
    prefill_tokens = {f: r.iterations["tokens"].sum() for f, r in runs.items()}
    assert prefill_tokens[False] - prefill_tokens[True] == 20 * 1600
    assert runs[True].summary["ttft_ms"]["p50"] < runs[False].summary["ttft_ms"]["p50"]


def test_same_inputs_same_results():
    quiet = Settings(progress=False)
    a = serve(_requests(), "llama3-8b", pools=[Pool("h100_like")], settings=quiet)
    b = serve(_requests(), "llama3-8b", pools=[Pool("h100_like")], settings=quiet)
    assert a.requests.equals(b.requests) and a.summary == b.summary
