"""The Perfetto / Chrome timeline: valid trace-event JSON whose slices add up to the report."""

import json
from collections import defaultdict

import pytest

import accelsim
from accelsim.engine.core import UNITS
from accelsim.errors import AccelsimError

PHASES = {"X", "M"}


def check_trace_event_format(doc):
    """The subset of the trace-event format we emit (complete events + metadata), strictly."""
    assert isinstance(doc["traceEvents"], list) and doc["displayTimeUnit"] in ("ms", "ns")
    names = {}
    stacks = defaultdict(list)
    last_ts = defaultdict(float)
    for e in doc["traceEvents"]:
        assert e["ph"] in PHASES and isinstance(e["pid"], int) and isinstance(e["tid"], int)
        assert isinstance(e["name"], str) and e["name"]
        if e["ph"] == "M":
            assert e["name"] in ("process_name", "thread_name", "thread_sort_index")
            if e["name"] == "thread_name":
                names[e["tid"]] = e["args"]["name"]
            continue
        assert isinstance(e["ts"], (int, float)) and isinstance(e["dur"], (int, float))
        assert e["ts"] >= 0 and e["dur"] >= 0
        json.dumps(e.get("args", {}))
        tid = e["tid"]
        assert e["ts"] >= last_ts[tid]                     # sorted per track
        last_ts[tid] = e["ts"]
        stack = stacks[tid]                                # slices nest properly per track
        while stack and e["ts"] >= stack[-1] - 1e-9:
            stack.pop()
        if stack:
            assert e["ts"] + e["dur"] <= stack[-1] + 1e-6, e
        stack.append(e["ts"] + e["dur"])
    return names


@pytest.fixture(scope="module")
def run():
    trace = accelsim.generate_trace("llama2-7b", "decode", batch=4, context=256, layers=3)
    return accelsim.simulate("npu_128x128_bf16_hbm2", trace, timeline=True)


def test_timeline_is_valid_trace_event_json(run, tmp_path):
    path = tmp_path / "run.trace.json"
    run.write_timeline(path)
    doc = json.loads(path.read_text())
    names = check_trace_event_format(doc)
    assert {"systolic", "vector", "memory"} <= set(names.values())


def test_operator_slices_sum_to_unit_busy_times(run):
    from accelsim.report.timeline import trace_events

    doc = trace_events(run.result.timeline)
    names = check_trace_event_format(doc)
    top_level = defaultdict(float)
    for e in doc["traceEvents"]:
        if e["ph"] == "X" and names[e["tid"]] in UNITS and "op_id" in e.get("args", {}) \
                and not e["name"].startswith("tile "):
            top_level[names[e["tid"]]] += e["dur"]
    for unit, busy_ps in run.result.unit_busy_ps.items():
        assert top_level[unit] == pytest.approx(busy_ps / 1e6, rel=1e-9, abs=1e-6)
    # and the report's per-op table says the same
    by_unit = run.ops.groupby("unit")["total_cycles"].sum()
    for unit, cycles in by_unit.items():
        assert top_level[unit] == pytest.approx(cycles / run.arch.clock_mhz, rel=1e-6, abs=1e-3)


def test_reused_operators_appear_with_their_tiles(run):
    events = run.result.timeline.events
    tiles_per_op = defaultdict(int)
    for track, name, *_rest, args in events:
        if name.startswith("tile "):
            tiles_per_op[args["op_id"]] += 1
    qkv = run.ops[run.ops.name == "qkv_proj"]
    counts = {tiles_per_op[i] for i in qkv.op_id}
    assert len(counts) == 1 and counts.pop() > 0 and qkv.reused.sum() > 0


def test_long_runs_are_sampled_but_keep_every_operator():
    trace = accelsim.generate_trace("llama2-7b", "decode", batch=4, context=256, layers=4)
    from accelsim.engine.core import Simulation

    result = Simulation(accelsim.load_arch("npu_128x128_bf16_hbm2"), trace, timeline=True,
                        timeline_max_events=200).run()
    assert result.timeline.sampled
    op_slices = [e for e in result.timeline.events if not e[1].startswith("tile ")
                 and e[0] in UNITS]
    assert len(op_slices) == len(trace)


def test_timeline_needs_recording():
    rep = accelsim.simulate("scalesim_default", accelsim.generate_trace("tiny", "decode"))
    with pytest.raises(AccelsimError, match="timeline=True"):
        rep.write_timeline("x.json")
