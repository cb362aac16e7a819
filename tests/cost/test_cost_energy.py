"""Energy accounting: a small GEMM priced by hand from the technology file, node scaling,
the JSON section, and the hooks for memory / PIM / NoC counts."""

import json
import math

import pytest
import yaml

from accelsim.api import generate_trace, simulate
from accelsim.arch.config import parse_arch
from accelsim.cost import ENERGY_COMPONENTS, cost_section, estimate, load_tech
from accelsim.cost.model import extra_events
from accelsim.cost.tech import tech_dir
from accelsim.workload.trace import from_records

ARCH = {"name": "tiny", "clock_mhz": 1000,
        "dtypes": {"act": "bf16", "weight": "bf16", "kv": "bf16", "accum": "fp32"},
        "systolic": {"rows": 4, "cols": 4, "dataflow": "os", "count": 1},
        "vector": {"lanes": 4},
        "sram": {"mode": "separate", "ifmap_kib": 64, "filter_kib": 64, "ofmap_kib": 64},
        "memory": {"impl": "ideal", "latency_ns": 10.0}}
COST = {"dram": {"standard": "hbm2e", "stacks": 1}}


def gemm_trace(M=16, K=16, N=16):
    return from_records([dict(op_id=0, layer=0, phase="prefill", name="g", op_class="gemm", M=M,
                              K=K, N=N, flops=2 * M * K * N, bytes_weight=2 * K * N,
                              bytes_act_in=2 * M * K, bytes_act_out=2 * M * N, bytes_kv_read=0,
                              bytes_kv_write=0)],
                        {"name": "gemm16", "phase": "prefill", "batch": 1, "seq_len": M})


@pytest.fixture(scope="module")
def tiny_report():
    return simulate(parse_arch(ARCH), gemm_trace(), fidelity="full", progress=False)


@pytest.fixture(scope="module")
def tf():
    """The technology file's raw values (the hand computation reads the YAML, not the code)."""
    return yaml.safe_load((tech_dir() / "7nm.yaml").read_text())


def v(node):
    return node["value"]


def test_small_gemm_energy_equals_hand_computation(tiny_report, tf):
    r = tiny_report
    cost = estimate(r, cost=COST)
    M = K = N = 16
    macs = M * K * N
    compute_cycles = int(r.ops["compute_cycles"].iloc[0])
    e_mac = v(tf["compute"]["mac_pj"]["bf16"])
    idle = compute_cycles * 16 - macs
    expect = {
        "mac": macs * e_mac,
        "pe_overhead": macs * v(tf["compute"]["pe_register_pj_per_mac"])
        + idle * e_mac * v(tf["compute"]["idle_pe_fraction_of_active"]),
    }
    # SRAM: one tile; A and B (512 B each) written once; os on 4x4 reads A ceil(N/4) = 4 times
    # and B ceil(M/4) = 4 times; one partial-sum pass writes 16x16 fp32 accumulators; the
    # 512 B of bf16 outputs are read once for the write-back. 64 KiB buffers: one bank, no wire.
    s = tf["sram"]
    f22 = tf["scaling"]["sram_energy_from_22nm"]["value"][7]
    rd = v(s["read_a_22nm_pj_per_byte"]) * 64 ** v(s["read_b"]) * f22
    wr = v(s["write_a_22nm_pj_per_byte"]) * 64 ** v(s["write_b"]) * f22
    reads = 512 * 4 + 512 * 4 + 512
    writes = 512 + 512 + 16 * 16 * 4
    expect["sram"] = reads * rd + writes * wr
    assert int(r.ops["dram_read_bytes"].iloc[0]) == 1024
    assert int(r.ops["dram_write_bytes"].iloc[0]) == 512
    expect["dram"] = (1024 + 512) * 8 * tf["dram"]["standards"]["hbm2e"]["pj_per_bit"]
    # leakage: logic (PEs, lanes, control, the DRAM controller) and SRAM over the run time
    pe = 16 * v(tf["area"]["pe_um2"]["bf16"]) * 1e-6
    lanes = 4 * v(tf["area"]["vector_lane_um2"]) * 1e-6
    sram_area = 3 * max(64 / 1024 * v(s["area_mm2_per_mib"]), v(s["min_macro_area_mm2"]))
    control = v(tf["area"]["control_overhead_fraction"]) * (pe + lanes + sram_area)
    hbm = tf["dram"]["standards"]["hbm2e"]
    p_static = (pe + lanes + control + hbm["controller_mm2_per_stack"]) \
        * v(tf["leakage"]["logic_mw_per_mm2"]) * 1e-3 \
        + 3 * 64 / 1024 * v(s["leakage_mw_per_mib"]) * 1e-3
    expect["leakage"] = p_static * r.total_time_ns * 1e3
    for comp, value in expect.items():
        assert cost.energy_breakdown_pj[comp] == pytest.approx(value, rel=1e-12), comp
    assert cost.energy_pj == pytest.approx(sum(expect.values()), rel=1e-12)
    assert cost.events["macs"] == macs
    assert cost.events["sram_read_bytes"] == {"ifmap": 2048, "filter": 2048, "ofmap": 512}
    assert cost.area_mm2 == pytest.approx(pe + lanes + sram_area + control
                                          + hbm["phy_area_mm2_per_stack"]
                                          + hbm["controller_mm2_per_stack"], rel=1e-12)
    assert cost.avg_power_w == pytest.approx(cost.energy_pj * 1e-3 / r.total_time_ns)
    assert cost.tokens == 16 and cost.energy_per_token_j == pytest.approx(
        cost.energy_pj * 1e-12 / 16)


def test_per_op_table_sums_to_totals():
    r = simulate("npu_128x128_bf16_hbm2",
                 generate_trace("tiny-llama-gqa-test", "decode", batch=4, context=64),
                 fidelity="analytical", progress=False)
    cost = estimate(r)
    for comp in ENERGY_COMPONENTS:
        assert cost.ops[comp].sum() == pytest.approx(cost.energy_breakdown_pj[comp])
    assert cost.peak_power_w >= cost.avg_power_w > cost.static_power_w > 0
    assert cost.tokens == 4
    by_class = cost.by_op_class()
    assert by_class["energy_pj"].sum() == pytest.approx(cost.energy_pj)


def test_energy_scales_with_node(tiny_report, tf):
    base = estimate(tiny_report, cost=COST)
    sc = tf["scaling"]
    for node in (5, 16):
        other = estimate(tiny_report, tech=f"{node}nm", cost=COST)
        logic = sc["logic_energy"]["value"][node]
        sram = sc["sram_energy_from_22nm"]["value"][node] / sc["sram_energy_from_22nm"]["value"][7]
        b, o = base.energy_breakdown_pj, other.energy_breakdown_pj
        assert o["mac"] == pytest.approx(b["mac"] * logic)
        assert o["pe_overhead"] == pytest.approx(b["pe_overhead"] * logic)
        assert o["sram"] == pytest.approx(b["sram"] * sram)
        assert o["dram"] == pytest.approx(b["dram"])            # off-die: not scaled
        area = sc["logic_area"]["value"][node]
        assert other.area_breakdown_mm2["systolic_pes"] == pytest.approx(
            base.area_breakdown_mm2["systolic_pes"] * area)
        assert other.area_breakdown_mm2["dram_phy"] == base.area_breakdown_mm2["dram_phy"]
    assert estimate(tiny_report, tech="5nm", cost=COST).energy_pj < base.energy_pj \
        < estimate(tiny_report, tech="16nm", cost=COST).energy_pj
    # a cost section's {name, node} is the same as the node name
    same = estimate(tiny_report, cost={**COST, "tech": {"name": "7nm", "node": "5nm"}})
    assert same.energy_pj == pytest.approx(
        estimate(tiny_report, tech="5nm", cost=COST).energy_pj)


def test_node_interpolates_between_table_entries():
    t7, t10, t16 = load_tech(), load_tech("10nm"), load_tech("16nm")
    assert t7.mac_pj("int8") < t10.mac_pj("int8") < t16.mac_pj("int8")
    assert load_tech("7nm", node=7).mac_pj("int8") == t7.mac_pj("int8")


def test_sram_energy_is_banked_with_wire():
    t = load_tech()
    one = t.sram_read_pj_per_byte(1 << 20)
    assert one == pytest.approx(0.0228 * 1024 ** 0.594 * 0.5)
    big = t.sram_read_pj_per_byte(32 << 20)
    monolithic = 0.0228 * (32 * 1024) ** 0.594 * 0.5
    assert one < big < monolithic            # banks + wire beat one 32 MiB macro
    wire = 0.5 * (math.sqrt(32 * 0.45) - math.sqrt(0.45))
    assert big == pytest.approx(one + 8 * 0.1 * wire)


def test_cost_section_is_json_and_has_the_required_keys(tiny_report):
    section = cost_section(tiny_report)
    for key in ("energy_pj", "energy_breakdown_pj", "area_mm2", "area_breakdown_mm2",
                "avg_power_w"):
        assert key in section
    text = json.dumps(section, sort_keys=True, allow_nan=False)
    assert json.dumps(cost_section(tiny_report), sort_keys=True, allow_nan=False) == text
    merged = {**tiny_report.to_dict(), **section}           # what Report.to_dict() will do
    json.dumps(merged, allow_nan=False)


def test_memory_pim_and_noc_counts_are_priced(tiny_report):
    stats = {"row_hits": 10, "row_misses": 3, "row_conflicts": 2,
             "pim": {"macs": 1000, "bits": {"bank": 8000}},
             "noc": {"flit_hops": 10, "flit_bits": 128, "hop_mm": 1.0}}
    ev = extra_events(stats)
    assert ev["activates"] == 5 and ev["noc"] == {"bit_hops": 1280.0, "bit_mm": 1280.0}
    t = load_tech()
    base = estimate(tiny_report, cost=COST)
    tiny_report.result.extra_stats = stats
    try:
        more = estimate(tiny_report, cost=COST)
    finally:
        del tiny_report.result.extra_stats
    assert more.energy_breakdown_pj["pim"] == pytest.approx(1000 * 0.8 + 8000 * 0.55)
    assert more.energy_breakdown_pj["noc"] == pytest.approx(1280 * 0.05 + 1280 * 0.1)
    # DRAM: amortized activate share replaced by 5 activations
    bits = 1536 * 8
    assert more.energy_breakdown_pj["dram"] == pytest.approx(
        bits * (4.5 - 0.11) + 5 * t.activate_pj())
    assert more.energy_pj > base.energy_pj
    assert "(global)" in set(more.ops["op_class"])


def test_mesh_area_counts_every_core_and_router():
    from accelsim.cost import estimate_area

    single = estimate_area(parse_arch(ARCH), cost=COST)["area_breakdown_mm2"]
    mesh = parse_arch({**ARCH, "noc": {"impl": "mesh", "columns": 3, "rows": 2,
                                       "memory_controllers": {"placement": "corners"}}})
    area = estimate_area(mesh, cost=COST)["area_breakdown_mm2"]
    cores = 6 - len(mesh.build_noc().cfg.memory_controllers)     # corners of a 3x2 mesh
    assert cores == 2
    assert area["systolic_pes"] == pytest.approx(cores * single["systolic_pes"])
    assert area["sram"] == pytest.approx(cores * single["sram"])
    assert area["noc_routers"] == pytest.approx(6 * 0.02)
