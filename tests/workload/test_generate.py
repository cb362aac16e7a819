"""The trace generator: shapes, GQA, FLOPs equal the analytic count, model zoo parameters."""

import pandas as pd
import pytest

from accelsim.errors import ConfigError
from accelsim.workload.generate import generate_trace
from accelsim.workload.models import load_model, models_dir

ZOO = sorted(p.stem for p in models_dir().glob("*.yaml"))


def test_required_models_ship():
    for name in ("llama2-7b", "llama3-8b", "opt-6.7b", "gpt3-7b", "tiny-llama-gqa-test"):
        assert name in ZOO


def test_parameter_counts_match_published_sizes(reference_dir):
    ref = pd.read_csv(reference_dir / "llm" / "model_zoo_configs.csv")
    for row in ref.itertuples():
        model = load_model(row.name)
        assert model.num_params() / 1e9 == pytest.approx(row.params_B, rel=0.01, abs=0.0005), row.name
        assert model.num_params(active=True) / 1e9 == pytest.approx(row.active_params_B, rel=0.01,
                                                                    abs=0.0005)


def _analytic_flops(m, phase, batch, tokens_per_seq, kv_len):
    """2 x (weight params touched) x tokens + attention, from the config alone."""
    T = batch * tokens_per_seq
    h, q, kv, f = m.hidden, m.q_dim, m.kv_dim, m.ffn_dim
    proj = 2 * T * (h * (q + 2 * kv) + q * h)
    ffn = 2 * T * (3 if m.gated_ffn else 2) * h * f
    attn = 2 * 2 * batch * m.q_heads * tokens_per_seq * kv_len * m.head_dim
    head = 2 * batch * h * m.vocab
    return m.layers * (proj + ffn + attn) + head


@pytest.mark.parametrize("model", ["llama2-7b", "llama3-8b", "opt-6.7b", "gpt3-7b", "mistral-7b"])
@pytest.mark.parametrize("phase", ["prefill", "decode"])
def test_matmul_flops_equal_the_analytic_count(model, phase):
    m = load_model(model)
    batch, seq, ctx = 4, 128, 1024
    trace = generate_trace(model, phase, batch=batch, seq_len=seq, context=ctx,
                           attention="unfused")
    ops = trace.ops
    matmul = ops[ops.op_class.isin(["gemm", "gemv", "attention_score", "attention_context"])]
    tokens, kv = (seq, seq) if phase == "prefill" else (1, ctx)
    expected = _analytic_flops(m, phase, batch, tokens, kv)
    if m.linear_bias:
        expected += (matmul.flops - 2 * matmul.M * matmul.K * matmul.N * matmul.batch).sum()
    assert int(matmul.flops.sum()) == expected


def test_weight_bytes_equal_parameters_touched():
    m = load_model("llama2-7b")
    trace = generate_trace(m, "decode", batch=8, context=512)
    ops = trace.ops
    weights = ops[ops.op_class.isin(["gemm", "gemv", "norm"])].bytes_weight.sum()
    expected = 2 * (m.num_params() - m.vocab * m.hidden)   # all but the embedding table
    assert int(weights) == expected


def test_fused_attention_counts_the_flops_the_mask_keeps():
    m = load_model("llama2-7b")
    for phase, q, kv in (("prefill", 128, 128), ("decode", 1, 1024)):
        fused = generate_trace(m, phase, batch=4, seq_len=128, context=1024, layers=2).ops
        unfused = generate_trace(m, phase, batch=4, seq_len=128, context=1024, layers=2,
                                 attention="unfused").ops
        attn = fused[fused.op_class == "attention"]
        assert len(attn) == 2 and not (fused.op_class == "attention_score").any()
        kept = q * (q + 1) // 2 if phase == "prefill" else kv          # scores per head
        assert (attn.flops == 4 * 4 * m.q_heads * kept * m.head_dim).all()
        # the same K/V bytes as the unfused rows; the other rows are identical
        kv_unfused = unfused[unfused.op_class.str.startswith("attention")].bytes_kv_read.sum()
        assert attn.bytes_kv_read.sum() == kv_unfused
        rest = lambda t: t[~t.name.str.startswith("attn")].drop(columns="op_id")  # noqa: E731
        assert rest(fused).reset_index(drop=True).equals(rest(unfused).reset_index(drop=True))


def test_gqa_shapes_share_kv_across_query_heads():
    trace = generate_trace("llama3-8b", "decode", batch=2, context=100, attention="unfused")
    score = trace.ops[trace.ops.name == "attn_score"].iloc[0]
    assert (score.M, score.K, score.N, score.batch) == (4, 128, 100, 2 * 8)
    assert score.bytes_kv_read == 2 * 8 * 100 * 128 * 2
    attn = generate_trace("llama3-8b", "decode", batch=2, context=100).ops
    attn = attn[attn.name == "attn"].iloc[0]
    assert (attn.M, attn.K, attn.N, attn.batch) == (4, 128, 100, 2 * 8)
    assert attn.bytes_kv_read == 2 * (2 * 8 * 100 * 128 * 2)           # K and V
    qkv = trace.ops[trace.ops.name == "qkv_proj"].iloc[0]
    assert (qkv.M, qkv.K, qkv.N) == (2, 4096, (32 + 16) * 128)


def test_decode_lm_head_only_last_position_and_prefill_causal():
    pre = generate_trace("llama2-7b", "prefill", batch=2, seq_len=64)
    head = pre.ops[pre.ops.name == "lm_head"].iloc[0]
    assert head.M == 2
    attn = pre.ops[pre.ops.name == "attn"]
    assert len(attn) and (attn.causal == 1).all()


def test_moe_and_tensor_parallel():
    moe = generate_trace("mixtral-8x7b", "decode", batch=8, context=128, layers=2)
    up = moe.ops[moe.ops.name == "moe_expert_up"].iloc[0]
    assert (up.batch, up.M) == (8, 2)           # 8 tokens x top-2 over 8 experts
    tp = generate_trace("gpt3-7b", "decode", batch=4, context=64, tp=4, layers=1)
    assert (tp.ops.op_class == "allreduce").sum() == 2
    qkv = tp.ops[tp.ops.name == "qkv_proj"].iloc[0]
    assert qkv.N == 3 * 4096 // 4


@pytest.mark.parametrize("kwargs, fragment", [
    ({"model": "llama9"}, "unknown model 'llama9'"),
    ({"phase": "train"}, "expected phase prefill or decode"),
    ({"batch": 0}, "batch: expected a positive integer"),
    ({"tp": 3}, "tp=3 does not divide"),
    ({"layers": 99}, "expected 1..32 layers"),
])
def test_bad_generator_arguments(kwargs, fragment):
    args = {"model": "llama2-7b", "phase": "decode", **kwargs}
    with pytest.raises(ConfigError, match=fragment):
        generate_trace(**args)


def test_bad_model_yaml(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("layers: 2\nhidden: 64\nq_heads: 6\nkv_heads: 4\nhead_dim: 16\nffn_dim: 128\n"
                    "vocab: 100\nmax_ctx: 64\n")
    with pytest.raises(ConfigError, match="kv_heads: q_heads .6. must be a multiple"):
        load_model(path)
