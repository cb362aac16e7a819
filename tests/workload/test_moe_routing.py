"""MoE routing counted in tokens (issue 20): a batch reads only the experts its tokens reach."""

import numpy as np
import pytest

from accelsim.api import simulate
from accelsim.arch.config import load_arch
from accelsim.workload.generate import generate_trace
from accelsim.workload.iteration import iteration_trace
from accelsim.workload.layers import MoeLoad, Seq, expert_token_counts, parse_moe_load
from accelsim.workload.models import load_model

MIXTRAL = load_model("mixtral-8x7b")
E, K = MIXTRAL.experts, MIXTRAL.experts_top_k
EXPERT_BYTES = 3 * MIXTRAL.hidden * MIXTRAL.ffn_dim * 2          # gate, up, down in bf16


def _experts(trace, layer=0):
    ops = trace.ops
    return ops[ops.name.str.match(r"moe_expert_(gate|up|down)$") & (ops.layer == layer)]


def test_batch_1_top_2_reads_exactly_two_experts():
    rows = _experts(generate_trace(MIXTRAL, "decode", batch=1, context=1025, layers=1))
    assert rows.bytes_weight.sum() == 2 * EXPERT_BYTES
    assert set(rows.M) == {1} and set(rows.batch) == {2}


@pytest.mark.parametrize("batch", [E, 2 * E, 64])
def test_a_batch_of_at_least_E_tokens_reads_every_expert_under_uniform(batch):
    rows = _experts(generate_trace(MIXTRAL, "decode", batch=batch, context=128, layers=1))
    assert rows.bytes_weight.sum() == E * EXPERT_BYTES


@pytest.mark.parametrize("load", ["uniform", "sampled", "zipf", "zipf:2", [4, 1, 1, 1, 0, 0, 2, 1]])
@pytest.mark.parametrize("tokens", [1, 3, 8, 37, 512])
def test_expert_flops_are_exact_and_counts_sum_to_T_k(load, tokens):
    for seed in (0, 1, 7):
        moe = parse_moe_load(load, E, seed=seed)
        counts = expert_token_counts(tokens, K, E, moe)
        assert counts.sum() == tokens * K and (counts >= 0).all() and (counts <= tokens).all()
        t = generate_trace(MIXTRAL, "prefill", seq_len=tokens, layers=1, moe_load=load, seed=seed)
        rows = _experts(t)
        assert rows.flops.sum() == 2 * tokens * K * 3 * MIXTRAL.hidden * MIXTRAL.ffn_dim
        touched = int((counts > 0).sum())
        assert rows.bytes_weight.sum() == touched * EXPERT_BYTES


def test_uniform_is_balanced_and_sampled_is_seeded():
    assert expert_token_counts(5, 2, 8, MoeLoad()).tolist() == [2, 2, 1, 1, 1, 1, 1, 1]
    a = expert_token_counts(16, 2, 8, parse_moe_load("sampled", 8, seed=3))
    b = expert_token_counts(16, 2, 8, parse_moe_load("sampled", 8, seed=3))
    c = expert_token_counts(16, 2, 8, parse_moe_load("sampled", 8, seed=4))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_serving_iterations_and_tensor_parallelism_route_the_same_way():
    it = iteration_trace("mixtral-8x7b", [Seq.decode(0, 100)], layers=1)
    assert _experts(it).bytes_weight.sum() == 2 * EXPERT_BYTES
    tp = generate_trace(MIXTRAL, "decode", batch=1, context=100, layers=1, tp=2)
    assert _experts(tp).bytes_weight.sum() == 2 * EXPERT_BYTES // 2     # each device: its half


@pytest.mark.parametrize("fidelity", ["full", "analytical"])
def test_mixtral_layer_decode_time_grows_with_batch_and_batch_1_reads_a_quarter(fidelity):
    arch = load_arch("h100_like")
    times, traffic = [], {}
    for batch in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512):
        t = generate_trace(MIXTRAL, "decode", batch=batch, context=1024, layers=1)
        times.append(simulate(arch, t, fidelity=fidelity, progress=False).total_time_ns)
        traffic[batch] = _experts(t).bytes_weight.sum()
    assert all(b >= a for a, b in zip(times, times[1:])), times
    assert traffic[1] / traffic[64] == pytest.approx(2 / 8)
