"""The ``cost.die`` block: per-core blocks, fused-off cores, cache-class SRAM and physical DRAM
sites, priced by hand from the technology file; leakage of enabled units only; clean errors."""

import pytest
import yaml

from accelsim.arch.config import parse_arch
from accelsim.cost import estimate_area
from accelsim.cost.tech import tech_dir
from accelsim.errors import ConfigError

ARCH = {"name": "gpu4", "clock_mhz": 1000,
        "dtypes": {"act": "bf16", "weight": "bf16", "kv": "bf16", "accum": "fp32"},
        "systolic": {"rows": 4, "cols": 4, "dataflow": "os", "count": 8},    # 2 arrays per core
        "vector": {"lanes": 64},                                               # 16 per core
        "sram": {"mode": "unified", "unified_kib": 4096 + 4 * 256},           # L2 + 4 x L1
        "memory": {"impl": "ideal", "latency_ns": 10.0}}
DIE = {"cores": 4, "physical_cores": 5,
       "per_core": {"register_file_kib": 128, "simt_lanes": 64, "fp64_units": 8,
                    "int32_units": 16, "crossbar_ports": 1, "sram_kib": 256},
       "physical_shared_sram_kib": 6144, "physical_dram_stacks": 3, "sram": "cache"}
COST = {"dram": {"standard": "hbm2", "stacks": 2}, "io": {"pcie4_lane": 16}, "die": DIE}


@pytest.fixture(scope="module")
def tf():
    return yaml.safe_load((tech_dir() / "7nm.yaml").read_text())


def v(node):
    return node["value"]


def hand_area(tf, *, cores, shared_kib, stacks):
    """The die area (mm2) and leaking logic area from the YAML, ``cores`` copies of a core."""
    a, core = tf["area"], tf["area"]["core"]
    pe = cores * 2 * 16 * v(a["pe_um2"]["bf16"]) * 1e-6
    lanes = cores * 16 * v(a["vector_lane_um2"]) * 1e-6
    sram = (cores * 256 + shared_kib) / 1024 * v(tf["sram"]["cache_area_mm2_per_mib"])
    control = v(a["control_overhead_fraction"]) * (pe + lanes + sram)
    rf = cores * 128 / 1024 * v(tf["register_file"]["area_mm2_per_mib"])
    front = cores * 64 * v(core["front_end_um2_per_lane"]) * 1e-6
    alus = cores * (8 * v(core["fp64_unit_um2"]) + 16 * v(core["int32_unit_um2"])) * 1e-6
    xbar = cores * v(core["crossbar_port_mm2"])
    hbm = tf["dram"]["standards"]["hbm2"]
    dram = stacks * (hbm["phy_area_mm2_per_stack"] + hbm["controller_mm2_per_stack"])
    io = 16 * (v(a["io_phy_mm2"]["pcie4_lane"]) + v(a["io_controller_mm2"]["pcie4_lane"]))
    logic = pe + lanes + control + rf + front + alus + xbar \
        + stacks * hbm["controller_mm2_per_stack"] + 16 * v(a["io_controller_mm2"]["pcie4_lane"])
    return pe + lanes + sram + control + rf + front + alus + xbar + dram + io, logic


def test_die_area_equals_hand_computation(tf):
    arch = parse_arch({**ARCH, "cost": COST})
    got = estimate_area(arch)
    area, _ = hand_area(tf, cores=5, shared_kib=6144, stacks=3)
    assert got["area_mm2"] == pytest.approx(area, rel=1e-12)
    for part in ("register_files", "core_front_end", "scalar_alus", "crossbar",
                 "dram_controllers", "io_controllers"):
        assert got["area_breakdown_mm2"][part] > 0


def test_fused_off_units_cost_area_not_leakage(tf):
    arch = parse_arch({**ARCH, "cost": COST})
    _, logic = hand_area(tf, cores=4, shared_kib=4096, stacks=2)
    sram_leak = (4096 + 4 * 256) / 1024 * v(tf["sram"]["leakage_mw_per_mib"]) * 1e-3
    expect = logic * v(tf["leakage"]["logic_mw_per_mm2"]) * 1e-3 + sram_leak
    assert estimate_area(arch)["static_power_w"] == pytest.approx(expect, rel=1e-12)


def test_enabled_die_is_the_arch_plus_per_core_blocks(tf):
    die = {k: val for k, val in DIE.items()
           if k not in ("physical_cores", "physical_shared_sram_kib", "physical_dram_stacks")}
    arch = parse_arch({**ARCH, "cost": {**COST, "die": die}})
    area, _ = hand_area(tf, cores=4, shared_kib=4096, stacks=2)
    assert estimate_area(arch)["area_mm2"] == pytest.approx(area, rel=1e-12)


def test_cache_sram_is_priced_at_the_cache_density(tf):
    scratch = parse_arch({**ARCH, "cost": {**COST, "die": {**DIE, "sram": "scratchpad"}}})
    cache = parse_arch({**ARCH, "cost": COST})
    ratio = v(tf["sram"]["cache_area_mm2_per_mib"]) / v(tf["sram"]["area_mm2_per_mib"])
    a, b = (estimate_area(x)["area_breakdown_mm2"]["sram"] for x in (cache, scratch))
    assert a == pytest.approx(ratio * b, rel=1e-12)


@pytest.mark.parametrize("change, key, words", [
    ({"physical_cores": 3}, "cost.die.physical_cores", "at least cores"),
    ({"cores": 3, "physical_cores": 3}, "cost.die.cores", "divide evenly"),
    ({"per_core": {"sram_kib": 4096}}, "cost.die.per_core.sram_kib", "more than the arch"),
    ({"per_core": {"registers_kib": 1}}, "cost.die.per_core.registers_kib", "did you mean"),
    ({"physical_dram_stacks": 1}, "cost.die.physical_dram_stacks", "at least cost.dram.stacks"),
    ({"sram": "edram"}, "cost.die.sram", "scratchpad"),
])
def test_bad_die_block_is_a_clean_error(change, key, words):
    with pytest.raises(ConfigError) as err:
        parse_arch({**ARCH, "cost": {**COST, "die": {**DIE, **change}}}, file="gpu4.yaml")
    msg = str(err.value)
    assert key in msg and words in msg and "gpu4.yaml" in msg


def test_die_block_passed_to_estimate_is_checked_against_the_arch():
    arch = parse_arch(ARCH)
    with pytest.raises(ConfigError, match="divide evenly"):
        estimate_area(arch, cost={"die": {"cores": 3}})


def test_per_core_sram_of_a_multi_core_arch_is_refused():
    """On an arch of several cores ``sram:`` is each core's SRAM: ``per_core.sram_kib`` would
    only repeat it (and be ignored), so it is an error that names the key."""
    multi = {**ARCH, "cores": {"count": 4}, "systolic": {**ARCH["systolic"], "count": 2},
             "vector": {"lanes": 16}, "sram": {"mode": "unified", "unified_kib": 256}}
    with pytest.raises(ConfigError, match="cost.die.per_core.sram_kib.*remove this key"):
        parse_arch({**multi, "cost": {**COST, "die": DIE}}, file="gpu4.yaml")
    die = {**DIE, "per_core": {k: x for k, x in DIE["per_core"].items() if k != "sram_kib"}}
    assert estimate_area(parse_arch({**multi, "cost": {**COST, "die": die}}))["area_mm2"] > 0
