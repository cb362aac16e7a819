"""Decode attention on PIM inside the one engine (mapping/pim.py, engine/pim.py,
hw/pim_channels.py): the NeuPIMs preset uses its PIM through ``simulate``."""

from __future__ import annotations

import json

import pytest

from accelsim.api import generate_trace, load_arch, simulate
from accelsim.errors import ConfigError
from accelsim.mapping.pim import sub_batches_for
from accelsim.workload.generate import decode_step_trace
from accelsim.workload.models import load_model

ARCH = "neupims_npu_hbm"
TP = {"interconnect.link_bandwidth_gbps": 300, "interconnect.link_latency_ns": 500}


def run(overrides=None, *, model="gpt3-7b", batch=64, context=1024, layers=1, tp=1,
        attention="fused", fidelity="full", timeline=False):
    arch = load_arch(ARCH, overrides={**(TP if tp > 1 else {}), **(overrides or {})})
    subs = sub_batches_for(arch, load_model(model), [context] * batch, tp=tp)
    trace = generate_trace(model, "decode", batch=batch, context=context, layers=layers, tp=tp,
                           attention=attention, sub_batches=subs)
    return simulate(arch, trace, fidelity=fidelity, timeline=timeline)


@pytest.fixture(scope="module")
def with_pim():
    return run()


def test_simulate_uses_the_pim_and_beats_the_arch_without_it(with_pim):
    attn = with_pim.ops[with_pim.ops["op_class"] == "attention"]
    assert set(attn["unit"]) == {"pim"}
    assert with_pim.result.pim["requests"] == 64
    without = run({"pim": None})                         # the same arch with pim removed
    npu_gemv = run({"pim.scheduler.impl": "npu-only"})   # attention as a GEMV on the NPU
    assert with_pim.total_cycles < npu_gemv.total_cycles < without.total_cycles
    assert "pim" not in without.to_dict()


def test_report_has_a_pim_section_energy_and_channel_tracks(tmp_path):
    r = run({"pim.scheduler.sbi_min_batch": 0}, batch=32, timeline=True)
    d = r.to_dict()
    pim = d["pim"]
    assert pim["channels"] == 32 and len(pim["busy_fraction"]) == 32
    assert 0 < pim["mean_utilization"] < pim["mean_busy_fraction"] <= 1
    assert pim["overlap_ps"] > 0                          # sub-batches: NPU and PIM overlap
    assert d["energy_breakdown_pj"]["pim"] > 0
    assert "PIM (neupims_hbm2 dual, scheduler neupims)" in r.table()
    r.write_timeline(tmp_path / "tl.json")
    names = {e["args"]["name"] for e in json.loads((tmp_path / "tl.json").read_text())[
        "traceEvents"] if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {"pim ch00", "pim ch31"} <= names


def test_sub_batches_are_streams_and_overlap_gemms_with_attention():
    arch = load_arch(ARCH)
    assert sub_batches_for(arch, load_model("gpt3-7b"), [512] * 128) is None  # < sbi_min_batch
    subs = sub_batches_for(arch, load_model("gpt3-7b"), [512] * 256)
    assert len(subs) == 2 and sorted(subs[0] + subs[1]) == list(range(256))
    sbi = run(batch=256, context=512, layers=2)
    one = run({"pim.scheduler.impl": "gmlbp"}, batch=256, context=512, layers=2)
    assert set(sbi.ops["stream"]) == {0, 1} and set(one.ops["stream"]) == {0}
    assert sbi.result.pim["overlap_fraction_of_pim"] > 0.5
    assert one.result.pim["overlap_ps"] == 0


def test_row_buffer_mode_decides_attention_time():
    dual = run({"pim.scheduler.impl": "naive"})
    blocked = run({"pim.scheduler.impl": "naive", "pim.mode": "blocked"})
    t = lambda r: r.ops.loc[r.ops["unit"] == "pim", "total_cycles"].sum()
    assert t(dual) < 0.9 * t(blocked)
    # blocked: the NPU's own accesses during PIM work cost the channels service time
    assert sum(blocked.result.pim["npu_service_cycles"]) == 0   # one stream: no concurrent NPU
    sbi_blocked = run({"pim.mode": "blocked", "pim.scheduler.sbi_min_batch": 0}, layers=2)
    assert sum(sbi_blocked.result.pim["npu_service_cycles"]) > 0


def test_greedy_placement_balances_unequal_requests():
    lens = [2000, 40, 40, 40, 1800, 40, 40, 40] * 16
    out = {}
    for sched in ("naive", "gmlbp"):
        arch = load_arch(ARCH, overrides={"pim.scheduler.impl": sched})
        out[sched] = simulate(arch, decode_step_trace("gpt3-7b", lens, layers=1))
    assert out["gmlbp"].total_cycles < out["naive"].total_cycles
    busy = lambda r: max(r.result.pim["busy_cycles"])
    assert busy(out["gmlbp"]) < busy(out["naive"])


@pytest.mark.parametrize("model,tp", [("tiny-llama-gqa-test", 2), ("mixtral-8x7b", 4),
                                      ("llama3-8b", 1)])
def test_zoo_models_gqa_moe_and_tp(model, tp):
    r = run(model=model, tp=tp, batch=8, context=256)
    assert set(r.ops.loc[r.ops["op_class"] == "attention", "unit"]) == {"pim"}
    # GQA: each query head of a group is a pass over its kv head's rows (more PIM work)
    assert r.result.pim["pim_macs"] > 0


def test_unfused_attention_rows_and_analytical_fidelity(with_pim):
    unfused = run(attention="unfused")
    units = unfused.ops.groupby("op_class")["unit"].first()
    assert units["attention_score"] == units["attention_context"] == "pim"
    assert units["softmax"] == "vector"
    assert unfused.total_cycles == pytest.approx(with_pim.total_cycles, rel=0.15)
    fast = run(fidelity="analytical")
    assert fast.total_cycles == pytest.approx(with_pim.total_cycles, rel=0.25)
    assert fast.result.pim["pim_macs"] == with_pim.result.pim["pim_macs"]   # a PIM section too
    assert fast.to_dict()["energy_breakdown_pj"]["pim"] == pytest.approx(
        with_pim.to_dict()["energy_breakdown_pj"]["pim"])


def test_prefill_attention_stays_on_the_npu():
    arch = load_arch(ARCH)
    r = simulate(arch, generate_trace("gpt3-7b", "prefill", batch=1, seq_len=128, layers=1))
    assert "pim" not in set(r.ops["unit"]) and r.result.pim is None


def test_deterministic(with_pim):
    again = run()
    assert again.total_cycles == with_pim.total_cycles
    assert again.result.pim["busy_cycles"] == with_pim.result.pim["busy_cycles"]


def test_bad_pim_settings_are_rejected_at_load():
    with pytest.raises(ConfigError, match="runs attention on PIM"):
        load_arch(ARCH, overrides={"pim": {"impl": "none", "scheduler": {"impl": "neupims"}}})
    with pytest.raises(ConfigError, match="scheduler"):
        load_arch(ARCH, overrides={"pim.scheduler.impl": "fastest"})
    with pytest.raises(ConfigError, match="sbi_min"):
        load_arch(ARCH, overrides={"pim.scheduler.sbi_min": 3})
    npu_only = load_arch(ARCH, overrides={"pim": {"impl": "none",
                                                  "scheduler": {"impl": "npu-only"}}})
    assert npu_only.pim["impl"] == "none"


def test_streamed_serving_iterations_keep_request_channels():
    from accelsim.serving.stream import StreamSimulation

    arch = load_arch(ARCH, overrides={"pim.scheduler.impl": "gmlbp"})
    steps = [decode_step_trace("gpt3-7b", [100 + i, 2000, 300, 40] * 8, layers=1)
             for i in range(2)]
    streamed = StreamSimulation(arch, progress=False).run(steps)
    durations = streamed.iterations["duration_ns"].tolist()
    assert durations[0] == pytest.approx(simulate(arch, steps[0]).total_time_ns)
    assert durations[1] > 0
