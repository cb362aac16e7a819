"""The hierarchical-chip keys (cores, shared_buffer, mapping, launch, memory efficiency and
capacity): each takes part in the result, and bad values are clear errors."""

import pytest

from accelsim.api import simulate
from accelsim.arch.config import load_arch, parse_arch
from accelsim.errors import ConfigError
from accelsim.workload.generate import generate_trace

PREFILL = generate_trace("llama2-7b", "prefill", seq_len=1024, layers=1)
DECODE = generate_trace("llama2-7b", "decode", batch=8, context=1024, layers=1)


def _time(overrides, trace=PREFILL, fidelity="full"):
    arch = load_arch("h100_like", overrides)
    return simulate(arch, trace, fidelity=fidelity, progress=False).total_time_ns


BW = "shared_buffer.bandwidth_bytes_per_cycle=2048"


@pytest.mark.parametrize("fidelity", ["full", "analytical"])
@pytest.mark.parametrize("base,change,trace", [
    ([], ["cores.count=66", "cost.die.cores=66", "cost.die.physical_cores=72"], PREFILL),
    ([], ["shared_buffer.kib=1024"], PREFILL),
    ([], [BW], PREFILL),
    ([], ["mapping.impl=waves"], PREFILL),
    ([], ["mapping.attention=unfused"], PREFILL),
    ([BW], ["mapping.multicast=2"], PREFILL),
    ([], ["launch.per_kernel_ns=0"], DECODE),
    ([], ["launch.idle_dispatch_ns=0"], DECODE),
    ([], ["memory.efficiency=0.5"], DECODE),
    ([], ["sram.unified_kib=100"], PREFILL),
])
def test_every_key_changes_the_result(base, change, trace, fidelity):
    assert _time(base + change, trace, fidelity) != _time(base, trace, fidelity), change


def test_scratchpad_shared_buffer_holds_more_than_a_cache():     # shared_buffer.kind
    # a GEMM whose weight band fits a scratchpad of 24 MiB but not half of it as a cache
    from accelsim.mapping.waves import Chip, map_gemm

    def reads(kind):
        arch = load_arch("h100_like", ["shared_buffer.kib=24576", f"shared_buffer.kind={kind}"])
        return map_gemm(8192, 4096, 2048, 1, Chip.of(arch), a_b=2, b_b=2, c_b=2, acc_b=4,
                        cutlass=True).dram_read_bytes
    assert reads("scratchpad") < reads("cache")


def test_memory_capacity_warning_is_recorded():
    big = generate_trace("llama3-70b", "decode", batch=1, context=1024, layers=2)
    report = simulate(load_arch("h100_like"), big, fidelity="analytical", progress=False)
    assert report.warnings and "exceed the device memory" in report.warnings[0]
    assert "exceed" in report.table() and report.to_dict()["warnings"] == report.warnings
    fits = simulate(load_arch("h200_like", ["memory.capacity_gib=1000"]), big,
                    fidelity="analytical", progress=False)
    assert fits.warnings == []


@pytest.mark.parametrize("raw,key", [
    ({"cores": {"count": 0}}, "cores.count"),
    ({"mapping": {"impl": "cutlas"}}, "mapping.impl"),
    ({"mapping": {"attention": "flash"}}, "mapping.attention"),
    ({"shared_buffer": {"kib": 1024, "kind": "lru"}}, "shared_buffer.kind"),
    ({"launch": {"per_kernel_ns": -1}}, "launch.per_kernel_ns"),
    ({"memory": {"impl": "analytical", "channels": 1, "channel_bandwidth_gbps": 1,
                 "efficiency": 1.5}}, "memory.efficiency"),
    ({"cores": {"count": 4, "speed": 2}}, "cores.speed"),
])
def test_bad_values_name_the_key(raw, key):
    base = {"systolic": {"rows": 8, "cols": 8}, "memory": {"impl": "ideal"}}
    with pytest.raises(ConfigError) as err:
        parse_arch({**base, **raw}, file="x.yaml")
    assert key.split(".")[0] in str(err.value)


def test_a_mesh_takes_its_cores_from_its_nodes():
    raw = load_arch("mesh4x4_npu_hbm").to_dict()
    with pytest.raises(ConfigError, match="cores"):
        load_arch("mesh4x4_npu_hbm", ["cores.count=4"])
    with pytest.raises(ConfigError, match="launch"):
        load_arch("mesh4x4_npu_hbm", ["launch.per_kernel_ns=1000"])
    assert raw["cores"] == 1
