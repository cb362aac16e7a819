"""Engine behaviour: exact compute with ideal memory, bandwidth-bound transfers, double
buffering, concurrency between units, dependencies, repeat, reuse exactness, fidelities."""

import json

import pytest

import accelsim
from accelsim.arch.config import parse_arch
from accelsim.engine.core import Simulation
from accelsim.errors import SimulationError
from accelsim.hw.systolic import gemm_timing
from accelsim.workload.trace import from_records

BASE = {"clock_mhz": 1000, "dtypes": {"act": "int8", "weight": "int8", "kv": "int8",
                                      "accum": "int8"},
        "systolic": {"rows": 16, "cols": 16, "dataflow": "os"},
        "vector": {"lanes": 16, "pipeline_latency_cycles": 0},
        "sram": {"ifmap_kib": 64, "filter_kib": 64, "ofmap_kib": 64}}


def arch(memory, **extra):
    return parse_arch({**BASE, "memory": memory, **extra})


def gemm(op_id, M, K, N, **kw):
    return {"op_id": op_id, "layer": 0, "phase": "none", "name": f"g{op_id}", "op_class": "gemm",
            "M": M, "K": K, "N": N, "flops": 2 * M * K * N, "bytes_weight": K * N,
            "bytes_act_in": M * K, "bytes_act_out": M * N, "bytes_kv_read": 0,
            "bytes_kv_write": 0, "dtype_act": "int8", "dtype_weight": "int8", "dtype_kv": "int8",
            **kw}


def vec(op_id, elements, **kw):
    return {"op_id": op_id, "layer": 0, "phase": "none", "name": f"v{op_id}",
            "op_class": "elementwise", "M": elements, "K": 0, "N": 0, "flops": elements,
            "bytes_weight": 0, "bytes_act_in": elements, "bytes_act_out": elements,
            "bytes_kv_read": 0, "bytes_kv_write": 0, "dtype_act": "int8", "dtype_weight": "int8",
            "dtype_kv": "int8", **kw}


def run(a, rows, **kw):
    return accelsim.simulate(a, from_records(rows), **kw)


def test_ideal_memory_gives_exactly_the_closed_form():
    a = arch({"impl": "ideal"})
    rep = run(a, [gemm(0, 100, 300, 70), gemm(1, 64, 64, 64)])
    expected = [gemm_timing(100, 300, 70, 16, 16, "os").compute_cycles,
                gemm_timing(64, 64, 64, 16, 16, "os").compute_cycles]
    assert rep.ops["compute_cycles"].tolist() == expected
    assert rep.ops["total_cycles"].tolist() == expected
    assert rep.ops["stall_cycles"].tolist() == [0, 0]
    assert rep.total_cycles == sum(expected)


def test_memory_bound_op_runs_at_memory_bandwidth():
    a = arch({"impl": "analytical", "channels": 1, "channel_bandwidth_gbps": 1.0,
              "latency_ns": 0})
    rep = run(a, [gemm(0, 16, 4096, 4096)])       # 16 MiB of weights at 1 B/ns
    op = rep.ops.iloc[0]
    traffic = op.dram_read_bytes + op.dram_write_bytes
    assert op.bound == "memory"
    assert traffic <= rep.total_cycles <= traffic * 1.01 + 2 * 64 * 1024
    assert op.stall_cycles == op.total_cycles - op.compute_cycles > 0


def test_double_buffering_hides_loads_behind_compute():
    fast = arch({"impl": "analytical", "channels": 1, "channel_bandwidth_gbps": 1000.0,
                 "latency_ns": 0})
    rep = run(fast, [gemm(0, 1024, 1024, 1024)])
    op = rep.ops.iloc[0]
    assert op.bound == "compute"
    # only the first tile's load is exposed
    assert op.compute_cycles < op.total_cycles < op.compute_cycles * 1.01


def test_independent_streams_overlap_on_different_units():
    a = arch({"impl": "ideal"})
    g, v = gemm(0, 256, 256, 256), vec(1, 200_000, stream=1)
    together = run(a, [g, v]).total_cycles
    alone_g = run(a, [g]).total_cycles
    alone_v = run(a, [{**v, "stream": 0}]).total_cycles
    assert together == max(alone_g, alone_v)
    chained = run(a, [g, {**v, "stream": 0}]).total_cycles
    assert chained == alone_g + alone_v


def test_explicit_deps_none_and_lists():
    a = arch({"impl": "ideal"})
    g0, v1 = gemm(0, 256, 256, 256), vec(1, 200_000, deps="none")
    v2 = vec(2, 1000, deps="0;1")
    rep = run(a, [g0, v1, v2])
    ops = rep.ops.set_index("op_id")
    assert ops.loc[1, "start_cycle"] == 0
    assert ops.loc[2, "start_cycle"] == max(ops.loc[0, "total_cycles"], ops.loc[1, "total_cycles"])


def test_same_unit_ops_serialise_even_when_independent():
    a = arch({"impl": "ideal"})
    rep = run(a, [gemm(0, 64, 64, 64), gemm(1, 64, 64, 64, deps="none")])
    assert rep.total_cycles == 2 * gemm_timing(64, 64, 64, 16, 16, "os").compute_cycles


def test_repeat_replays_a_row():
    a = arch({"impl": "analytical", "channels": 1, "channel_bandwidth_gbps": 8.0})
    once = run(a, [gemm(0, 64, 512, 512)]).total_cycles
    thrice = run(a, [gemm(0, 64, 512, 512, repeat=3)])
    assert thrice.total_cycles == 3 * once
    assert thrice.ops.iloc[0]["reused"] == 2


@pytest.mark.parametrize("preset", ["npu_128x128_bf16_hbm2", "edge_npu_32x32"])
def test_shape_reuse_is_exact(preset):
    a = accelsim.load_arch(preset)
    trace = accelsim.generate_trace("llama2-7b", "decode", batch=8, context=512, layers=4)
    with_reuse = Simulation(a, trace).run()
    without = Simulation(a, trace, reuse=False).run()
    assert with_reuse.reuse["reused"] > 0 and without.reuse["reused"] == 0
    assert [(r.start_ps, r.end_ps) for r in with_reuse.records] == \
           [(r.start_ps, r.end_ps) for r in without.records]
    assert with_reuse.memory_stats == without.memory_stats


def test_same_inputs_give_identical_json():
    trace = accelsim.generate_trace("tiny-llama-gqa-test", "prefill", batch=2, seq_len=32)
    first = accelsim.simulate("npu_128x128_bf16_hbm2", trace).to_json()
    second = accelsim.simulate("npu_128x128_bf16_hbm2", trace).to_json()
    assert first == second
    assert json.loads(first)["total_cycles"] > 0


@pytest.mark.parametrize("phase", ["prefill", "decode"])
def test_analytical_fidelity_tracks_full(phase):
    trace = accelsim.generate_trace("llama2-7b", phase, batch=4, seq_len=256, context=1024,
                                    layers=2)
    full = accelsim.simulate("npu_128x128_bf16_hbm2", trace).total_cycles
    fast = accelsim.simulate("npu_128x128_bf16_hbm2", trace, fidelity="analytical").total_cycles
    assert fast == pytest.approx(full, rel=0.05)


def test_collectives_need_an_interconnect():
    trace = accelsim.generate_trace("gpt3-7b", "decode", batch=4, context=64, tp=4, layers=1)
    with pytest.raises(SimulationError, match="no 'interconnect' section"):
        accelsim.simulate("npu_128x128_bf16_hbm2", trace)
    a = accelsim.load_arch("npu_128x128_bf16_hbm2", {"interconnect.link_bandwidth_gbps": 100.0,
                                                     "interconnect.link_latency_ns": 500.0})
    rep = accelsim.simulate(a, trace)
    ar = rep.ops[rep.ops.op_class == "allreduce"].iloc[0]
    payload = 4 * 4096 * 2
    expected_ps = 6 * (500_000 + -(-(payload // 4) * 1000 // 100))
    assert ar.total_cycles == -(-expected_ps // 1000) and ar.bound == "link"   # cycles round up


def test_unknown_fidelity():
    with pytest.raises(SimulationError, match="unknown fidelity"):
        accelsim.simulate("scalesim_default", accelsim.generate_trace("tiny", "decode"),
                          fidelity="rtl")


@pytest.mark.parametrize("timeline", [False, True])
def test_chain_fast_path_is_exact(timeline):
    a = accelsim.load_arch("npu_128x128_bf16_hbm2")
    trace = accelsim.generate_trace("llama2-7b", "decode", batch=8, context=512, layers=3)
    results = []
    for fast in (True, False):
        sim = Simulation(a, trace, timeline=timeline)
        sim.chain_fast_path = fast
        results.append(sim.run())
    fast, slow = results
    assert [(r.row, r.start_ps, r.end_ps, r.reused) for r in fast.records] == \
           [(r.row, r.start_ps, r.end_ps, r.reused) for r in slow.records]
    assert fast.memory_stats == slow.memory_stats and fast.unit_busy_ps == slow.unit_busy_ps
    if timeline:
        assert sorted(fast.timeline.events, key=repr) == sorted(slow.timeline.events, key=repr)
