"""``simulate`` on a bank-level HBM arch: tensor addresses, mapping effects, stats, timeline."""

import dataclasses

import pytest

import accelsim
from accelsim.arch.config import load_arch
from accelsim.engine.core import PreparedTrace
from accelsim.engine.layout import ALIGN_BYTES, TensorLayout
from accelsim.report.timeline import bandwidth_counter


def hbm_arch(mapping="MOP4CLXOR"):
    return dataclasses.replace(load_arch("npu_128x128_bf16_hbm2"), memory={
        "impl": "hbm", "preset": "hbm2_2000", "channels": 8, "mapping": mapping})


@pytest.fixture(scope="module")
def prefill():
    return accelsim.generate_trace("llama2-7b", "prefill", batch=1, seq_len=512, layers=2)


@pytest.fixture(scope="module")
def by_mapping(prefill):
    return {m: accelsim.simulate(hbm_arch(m), prefill, progress=False)
            for m in ("RoBaRaCoCh", "MOP4CLXOR")}


def test_address_mappings_differ_on_a_llama_prefill(by_mapping):
    ro, mop = (by_mapping[m] for m in ("RoBaRaCoCh", "MOP4CLXOR"))
    s_ro, s_mop = ro.result.memory_stats, mop.result.memory_stats
    # RoBaRaCoCh keeps a 1 KiB run per channel in one bank's row (more hits) but on one bank
    # group at tCCD_L; MOP4CLXOR moves bank every 4 accesses (fewer hits, full rate)
    assert s_ro["row_hit_frac"] > s_mop["row_hit_frac"] + 0.04
    assert mop.total_time_ns < 0.97 * ro.total_time_ns
    assert s_ro["bytes_read"] == s_mop["bytes_read"]


def test_hbm_stats_are_complete_and_deterministic(prefill, by_mapping):
    again = accelsim.simulate(hbm_arch("MOP4CLXOR"), prefill, progress=False)
    first = by_mapping["MOP4CLXOR"]
    assert again.total_time_ns == first.total_time_ns
    assert again.result.memory_stats == first.result.memory_stats
    s = first.result.memory_stats
    accesses = (s["bytes_read"] + s["bytes_written"]) // 32
    assert s["row_hits"] + s["row_misses"] + s["row_conflicts"] == pytest.approx(accesses, rel=0.01)
    assert len(s["channel_bandwidth_gbps"]) == 8 and min(s["channel_bandwidth_gbps"]) > 0
    assert s["rw_turnarounds"] > 0 and 0 < s["extrapolation_error_bound_frac"] <= 0.12
    assert "row hits" in first.table()


def test_layout_gives_each_tensor_its_region():
    trace = accelsim.generate_trace("llama2-7b", "decode", batch=4, context=256, layers=2)
    prepared = PreparedTrace(trace)
    layout = TensorLayout(prepared.rows, prepared.deps)
    rows = prepared.rows
    weights = sorted(layout.weight.values())
    assert len(weights) == len(set(weights)) == len({(r["layer"], r["name"]) for r in rows
                                                     if r["bytes_weight"]})
    assert all(a % ALIGN_BYTES == 0 for a in weights)
    assert set(layout.kv) == {0, 1}
    for i, deps in enumerate(prepared.deps):          # an op reads what its producer wrote
        if deps:
            assert layout.input[i] == layout.output[deps[0]] != layout.output[i]
    # the new token's K/V rows go where the attention of its layer reads them
    append = next(i for i, r in enumerate(rows) if r["op_class"] == "kv_append")
    attn = next(i for i, r in enumerate(rows) if r["op_class"] == "attention")
    written = layout._kv_extents(append, True)
    read = layout._kv_extents(attn, False)
    assert len(written) == len(read) == 4 * 32 * 2
    for (wa, wn), (ra, rn) in zip(written, read):
        assert ra <= wa and wa + wn == ra + rn and wn == 256


def test_bandwidth_timeline_integrates_to_the_bytes_moved():
    trace = accelsim.generate_trace("llama2-7b", "decode", batch=4, context=256, layers=2)
    run = accelsim.simulate(hbm_arch(), trace, progress=False, timeline=True)
    from accelsim.hw.memory import BANDWIDTH_TRACK
    from accelsim.report.timeline import trace_events

    slices = [e for e in run.result.timeline.events if e[0] == BANDWIDTH_TRACK]
    steps = bandwidth_counter(slices)
    moved = sum((r + w) * (t1 - t0) / 1000.0 for (t0, r, w), (t1, *_) in zip(steps, steps[1:]))
    s = run.result.memory_stats
    assert moved == pytest.approx(s["bytes_read"] + s["bytes_written"], rel=1e-6)
    assert steps[-1][1:] == (0.0, 0.0)
    counters = [e for e in trace_events(run.result.timeline)["traceEvents"] if e["ph"] == "C"]
    assert counters and max(e["args"]["read"] for e in counters) <= 256.0 * 1.001


def test_analytical_presets_do_not_build_a_layout():
    trace = accelsim.generate_trace("llama2-7b", "decode", batch=4, context=256, layers=1)
    from accelsim.engine.core import Simulation
    sim = Simulation(load_arch("npu_128x128_bf16_hbm2"), trace, progress=False)
    sim.run()
    assert sim.layout is None


@pytest.mark.parametrize("phase", ["decode", "prefill"])
def test_tiles_move_the_plans_bytes_and_gemms_follow_their_tile_order(phase):
    from accelsim.engine.core import Simulation
    from accelsim.engine.layout import _gemm_tiles

    trace = accelsim.generate_trace("llama2-7b", phase, batch=4, context=512, seq_len=256,
                                    layers=1)
    sim = Simulation(hbm_arch(), trace, progress=False)
    sim._setup()
    tiled = 0
    for i, op in enumerate(sim.rows):
        plan = sim.plan(i)
        if plan.fixed_ps:
            continue
        loads, stores, _ = plan.tile_lists
        reads, writes = sim.layout.transfers(op, plan, loads, stores)
        assert [sum(s.nbytes for s in t) for t in reads] == loads
        assert [sum(s.nbytes for s in t) for t in writes] == stores
        if op["op_class"] == "gemm":
            assert _gemm_tiles(op, plan, sim.layout.input[i], sim.layout.output[i],
                               sim.layout.weight[(op["layer"], op["name"])], loads, stores)
            tiled += 1
            K = int(op["K"])
            t = plan.details["gemm_tiling"]
            for seg in (s for tile in reads for s in tile):      # A and weight tiles: rows of Kt
                assert seg.rows == 1 or (seg.row_bytes == t.Kt * 2 and seg.stride_bytes == K * 2)
            assert all(s.address >= sim.layout.output[i] for tile in writes for s in tile)
    assert tiled >= 5
