"""Mixed iterations, MoE expert load, continuous batching invariants, ``trace serve``."""

from collections import defaultdict

import pandas as pd
import pytest

from accelsim.cli import main
from accelsim.errors import ConfigError
from accelsim.workload.generate import generate_trace
from accelsim.workload.iteration import Seq, iteration_trace
from accelsim.workload.models import load_model
from accelsim.workload.requests import RequestTrace, synthesize_requests, validate_requests
from accelsim.workload.serving import BatchingConfig, schedule, serving_trace

TINY = "tiny-llama-gqa-test"
SUMMED = ["flops", "bytes_act_in", "bytes_act_out", "bytes_kv_read", "bytes_kv_write"]


# ------------------------------------------------------------------------------ mixed iterations

def test_mixed_iteration_is_the_sum_of_its_parts():
    prefill = [Seq.prompt(0, 48), Seq.prompt(1, 16, past=32, last=False)]
    decode = [Seq.decode(2, 100), Seq.decode(3, 100), Seq.decode(4, 7)]
    mixed = iteration_trace("llama3-8b", prefill + decode, layers=2)
    parts = [iteration_trace("llama3-8b", p, layers=2) for p in (prefill, decode)]
    for column in SUMMED:
        assert mixed.total(column) == sum(p.total(column) for p in parts), column
    # weights are read once for the whole iteration, not once per part
    assert mixed.total("bytes_weight") < sum(p.total("bytes_weight") for p in parts)
    assert mixed.meta["phase"] == "mixed" and set(mixed.ops.phase) == {"mixed"}
    assert [p.meta["phase"] for p in parts] == ["prefill", "decode"]
    ops = mixed.ops[mixed.ops.layer == 0]
    assert ops[ops.name == "qkv_proj"].M.tolist() == [48 + 16 + 3]
    score = ops[ops.name == "attn"]
    assert score.req_ids.tolist() == ["0", "1", "2;3", "4"]
    assert score.causal.tolist() == [1, 1, 0, 0]
    assert score.N.tolist() == [48, 48, 100, 7]
    # lm_head only for requests that sample: request 1's chunk does not finish its prompt
    assert mixed.ops[mixed.ops.name == "lm_head"].M.tolist() == [4]


@pytest.mark.parametrize("phase", ["prefill", "decode"])
def test_homogeneous_iteration_equals_generate_trace(phase):
    seqs = ([Seq.prompt(i, 24) for i in range(3)] if phase == "prefill"
            else [Seq.decode(i, 80) for i in range(3)])
    it = iteration_trace("llama2-7b", seqs, layers=3).ops
    gen = generate_trace("llama2-7b", phase, batch=3, seq_len=24, context=80, layers=3).ops
    cols = [c for c in gen.columns if c not in ("src", "req_ids")]
    pd.testing.assert_frame_equal(it[cols], gen[cols])


@pytest.mark.parametrize("seqs, fragment", [
    ([], "at least one request"),
    ([Seq.decode(1, 5), Seq.decode(1, 6)], "appears twice"),
    ([Seq(0, 2, 5, False)], "decode step processes 1 token"),
    ([Seq(0, 8, 5, True)], "must include the q_len"),
    ([Seq(0, 0, 5, True)], "expected a positive integer"),
])
def test_bad_iterations(seqs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        iteration_trace(TINY, seqs)


# ------------------------------------------------------------------------------ MoE expert load

def test_moe_uniform_default_is_unchanged_and_zipf_is_seeded_and_skewed():
    kw = dict(batch=32, context=64, layers=2)
    assert generate_trace("mixtral-8x7b", "decode", **kw).ops.equals(
        generate_trace("mixtral-8x7b", "decode", moe_load="uniform", seed=5, **kw).ops)
    a = generate_trace("mixtral-8x7b", "decode", moe_load="zipf:1.5", seed=1, **kw)
    b = generate_trace("mixtral-8x7b", "decode", moe_load="zipf:1.5", seed=1, **kw)
    c = generate_trace("mixtral-8x7b", "decode", moe_load="zipf:1.5", seed=2, **kw)
    assert a.ops.equals(b.ops) and not a.ops.equals(c.ops)
    up = a.ops[(a.ops.name == "moe_expert_up") & (a.ops.layer == 0)]
    assert (up.M * up.batch).sum() == 32 * 2                  # every token routed top_k times
    assert up.M.max() > 32 * 2 // 8                          # the hot expert gets more than even
    assert a.meta["moe_load"]["kind"] == "zipf"
    # routed tokens are conserved, so expert FLOPs equal the uniform case's when it is exact
    uniform = generate_trace("mixtral-8x7b", "decode", **kw)
    assert a.total("flops") == uniform.total("flops")


def test_moe_explicit_weights_and_errors():
    t = generate_trace("mixtral-8x7b", "decode", batch=16, context=64, layers=1,
                       moe_load=[1, 1, 0, 0, 0, 0, 0, 0])
    up = t.ops[t.ops.name == "moe_expert_up"]
    assert up.M.tolist() == [16] and up.batch.tolist() == [2]
    with pytest.raises(ConfigError, match="moe_load: expected 8 non-negative weights"):
        generate_trace("mixtral-8x7b", "decode", layers=1, moe_load=[1, 2])
    with pytest.raises(ConfigError, match="moe_load: expected uniform, sampled, zipf"):
        generate_trace("mixtral-8x7b", "decode", layers=1, moe_load="zipfian")
    with pytest.raises(ConfigError, match="top_k=2 needs"):
        generate_trace("mixtral-8x7b", "decode", layers=1, moe_load=[1, 0, 0, 0, 0, 0, 0, 0])


# ------------------------------------------------------------------------------ continuous batching

def _requests(rows):
    frame = pd.DataFrame(rows, columns=["req_id", "arrival_ns", "input_tokens", "output_tokens"])
    return RequestTrace(validate_requests(frame, file="<test>"))


def _check_invariants(its, requests, batching):
    table = {r.req_id: r for r in requests.requests.itertuples()}
    prompt_done = defaultdict(int)
    decodes = defaultdict(list)
    sampled = defaultdict(int)
    for it in its:
        assert len(it.seqs) <= batching.max_batch
        assert it.tokens <= batching.max_tokens
        assert len({s.req_id for s in it.seqs}) == len(it.seqs)
        if not batching.chunked_prefill:
            assert it.phase in ("prefill", "decode")
        for s in it.seqs:
            assert it.t_start_ns >= table[s.req_id].arrival_ns        # joins after arriving
            if s.prefill:
                assert not decodes[s.req_id]                          # prompt before decodes
                assert s.kv_len == prompt_done[s.req_id] + s.q_len
                prompt_done[s.req_id] += s.q_len
            else:
                assert prompt_done[s.req_id] == table[s.req_id].input_tokens
                decodes[s.req_id].append(s.kv_len)
            sampled[s.req_id] += s.sample
    for rid, r in table.items():
        assert prompt_done[rid] == r.input_tokens                       # each prompt token once
        assert sampled[rid] == r.output_tokens                         # each output token once
        P = r.input_tokens
        assert decodes[rid] == list(range(P + 1, P + r.output_tokens))  # KV grows by one
    starts = [it.t_start_ns for it in its]
    assert starts == sorted(starts)


@pytest.mark.parametrize("chunked", [False, True])
def test_continuous_batching_invariants(chunked):
    requests = synthesize_requests("sharegpt", rate=50, num_requests=30, seed=4)
    batching = BatchingConfig(max_batch=8, max_tokens=128 if chunked else 512,
                              chunked_prefill=chunked)
    requests.requests["input_tokens"] = requests.requests.input_tokens.clip(upper=500)
    its = schedule(requests, load_model("llama2-7b"), batching=batching)
    _check_invariants(its, requests, batching)
    assert max(len(it.seqs) for it in its) == 8                  # the batch limit binds
    if chunked:
        assert any(it.phase == "mixed" for it in its)
        assert any(not s.sample for it in its for s in it.seqs)  # some prompts were chunked


def test_requests_join_on_arrival_and_leave_when_done():
    req = _requests([(0, 0, 4, 3), (1, 10**12, 2, 2)])               # request 1 comes much later
    its = schedule(req, load_model(TINY), batching=BatchingConfig(4, 64))
    assert [[(s.req_id, s.q_len, s.kv_len) for s in it.seqs] for it in its] == [
        [(0, 4, 4)], [(0, 1, 5)], [(0, 1, 6)], [(1, 2, 2)], [(1, 1, 3)]]
    assert its[3].t_start_ns == 10**12                                 # idle until it arrives


def test_chunked_prefill_splits_a_long_prompt():
    req = _requests([(0, 0, 100, 2), (1, 0, 3, 3)])
    its = schedule(req, load_model(TINY), batching=BatchingConfig(4, 40, chunked_prefill=True))
    assert [[(s.req_id, s.q_len, s.kv_len, s.sample) for s in it.seqs] for it in its][:4] == [
        [(0, 40, 40, False)], [(0, 40, 80, False)], [(0, 20, 100, True), (1, 3, 3, True)],
        [(0, 1, 101, True), (1, 1, 4, True)]]
    with pytest.raises(ConfigError, match="more than max_tokens=40; raise max_tokens or enable"):
        schedule(req, load_model(TINY), batching=BatchingConfig(4, 40))


def test_serving_trace_has_one_iter_per_iteration():
    req = synthesize_requests("alpaca", rate=100, num_requests=12, seed=2)
    st = serving_trace(TINY, req, batching=BatchingConfig(4, 128, True), iters=(0, 30))
    ops = st.ops.ops
    assert sorted(ops["iter"].unique()) == list(range(min(30, len(st.iterations))))
    for it in st.iterations[:30]:
        rows = ops[(ops["iter"] == it.index) & (ops.layer == 0)]
        assert rows[rows.name == "qkv_proj"].M.item() == it.tokens
        assert set(rows.phase) == {it.phase}
        ids = sorted(int(x) for r in rows[rows.name == "attn"].req_ids for x in r.split(";"))
        assert ids == sorted(s.req_id for s in it.seqs)
    assert st.summary["iterations"] == len(st.iterations)
    assert ops.op_id.is_unique


def test_trace_serve_cli(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["trace", "serve", "--model", TINY, "--dataset", "alpaca", "--rate", "20",
            "--duration", "1", "--seed", "3", "--max-batch", "8", "--max-tokens", "256",
            "--chunked-prefill", "--max-iters", "40", "-o", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "requests:" in printed and "schedule:" in printed and "operators:" in printed
    for name in ("requests.csv", "requests.meta.json", "ops.csv", "ops.meta.json",
                 "iterations.csv"):
        assert (out / name).exists(), name
    first = (out / "ops.csv").read_bytes()
    assert main(args) == 2                                             # exists, no --force
    assert "pass --force" in capsys.readouterr().err
    assert main(args + ["--force"]) == 0
    assert (out / "ops.csv").read_bytes() == first                     # deterministic
    assert main(["trace", "serve", "--model", TINY, "--requests", str(out / "requests.csv"),
                 "--max-iters", "3", "-o", str(tmp_path / "replay")]) == 0


@pytest.mark.parametrize("module", ["accelsim.workload.layers", "accelsim.workload.iteration",
                                    "accelsim.workload.requests", "accelsim.workload.serving"])
def test_docstring_examples(module, monkeypatch):
    import doctest
    import importlib
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_streamed_ops_equal_the_in_memory_trace(tmp_path):
    """``trace serve`` streams operators to disk in chunks (flat memory for long runs)."""
    import pandas as pd

    from accelsim.workload.serving import _stream_ops  # noqa: F401  (the chunked writer)
    from accelsim.workload.trace import load_trace

    cfg = load_model("tiny-llama-gqa-test")
    reqs = synthesize_requests("alpaca", rate=20, num_requests=12, seed=3)
    in_memory = serving_trace(cfg, reqs)
    streamed = serving_trace(cfg, reqs, stream_ops_to=tmp_path / "ops.csv")
    assert streamed.ops is None and streamed.ops_totals["rows"] == len(in_memory.ops)
    on_disk = load_trace(tmp_path / "ops.csv")
    pd.testing.assert_frame_equal(on_disk.ops, in_memory.ops.ops)
    assert on_disk.meta["iterations"] == in_memory.ops.meta["iterations"]
