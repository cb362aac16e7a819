"""Captured (HF transformers on the meta device) and generated traces agree on the tiny model.

Runs for real when torch and transformers are installed (the ``capture`` extra); skipped otherwise.
"""

from pathlib import Path

import pytest

from accelsim.errors import ConfigError
from accelsim.workload.generate import generate_trace

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from accelsim.workload.capture import capture_trace  # noqa: E402

HF_CONFIG = Path(__file__).resolve().parents[2] / "traces" / "hf_configs" / "tiny-llama-gqa-test.json"
CASES = [("decode", "sdpa", dict(batch=4, context=64)),
         ("prefill", "eager", dict(batch=2, seq_len=32))]


@pytest.fixture(scope="module")
def captured():
    torch.set_num_threads(1)
    return {(phase, attn): capture_trace(HF_CONFIG, phase, attn_implementation=attn, **kw)
            for phase, attn, kw in CASES}


@pytest.mark.parametrize("phase, attn, kw", CASES)
def test_captured_and_generated_agree(captured, phase, attn, kw):
    cap = captured[(phase, attn)]
    gen = generate_trace("tiny-llama-gqa-test", phase, **kw)
    assert set(cap.ops.op_class) == set(gen.ops.op_class)
    assert cap.total("flops") == pytest.approx(gen.total("flops"), rel=0.01)
    by_class = lambda t: (t.ops.flops * t.ops.repeat).groupby(t.ops.op_class).sum()  # noqa: E731
    c, g = by_class(cap), by_class(gen)
    for op_class in ("gemm", "gemv", "attention_score", "attention_context", "softmax",
                     "activation", "elementwise"):
        assert c.get(op_class, 0) == g.get(op_class, 0), op_class
    # the two known differences: HF normalises every position before slicing the last one for
    # lm_head (we normalise the sampled positions only), and computes a cos/sin table per forward
    H, T = 256, kw["batch"] * kw.get("seq_len", 1)
    assert c["norm"] - g["norm"] == 4 * H * (T - kw["batch"])
    rope_table = cap.ops[cap.ops.name == "rope_table"].flops.sum()
    assert c["rope"] - g["rope"] == rope_table
    # canonical traffic: KV written for new tokens only, K/V read once per kv head (no repeat_kv)
    for column in ("bytes_kv_read", "bytes_kv_write", "bytes_weight"):
        assert cap.total(column) == gen.total(column), column
    dropped = cap.meta["capture"]["dropped_aten_ops"]
    assert any(k.startswith("attention:") for k in dropped)            # copies were dropped


def test_capture_records_provenance_and_versions(captured):
    cap = captured[("decode", "sdpa")]
    assert cap.ops.src.str.startswith("hf:").all()
    assert "model.layers.1.self_attn.q_proj" in " ".join(cap.ops.src)
    meta = cap.meta["capture"]
    assert meta["device"] == "meta" and meta["torch"].startswith("2.")
    assert meta["aten_ops"] > len(cap)


def test_capture_errors(tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text('{"hidden_size": 8}')
    with pytest.raises(ConfigError, match="missing model_type"):
        capture_trace(bad)
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="malformed JSON"):
        capture_trace(bad)
    with pytest.raises(ConfigError, match="file not found"):
        capture_trace(tmp_path / "none.json")
