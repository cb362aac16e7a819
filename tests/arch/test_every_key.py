"""No silently ignored input: every key the shipped architecture presets read changes a
simulated result (time, DRAM traffic, energy, area, budget verdict, warnings, PIM channel
statistics) or is declared metadata (issue 17).

The keys are not listed by hand: they are recorded from the schema (``arch.fields.Section``)
while every preset in ``arch_configs/`` loads, so a new key fails here until it takes part.
Each key is changed automatically (a number doubled, a flag flipped, another choice) or as
``CASES`` says, and the same small decode step is simulated before and after. A key that acts
only in another command (``OTHER_COMMAND``: ``accelsim memtest``, ``accelsim noctest``) changes
that command's result; a key no model can use is refused at load (``REJECTED_AT_LOAD``).
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

from accelsim.api import simulate
from accelsim.errors import ConfigError
from accelsim.arch import fields
from accelsim.arch.config import (_read_yaml, apply_overrides, load_arch, parse_arch,
                                  preset_names, resolve_arch_path)
from accelsim.workload.generate import generate_trace

METADATA = {"name", "source", "description"}

NPU = "npu_128x128_bf16_hbm2"
PIM = "neupims_npu_hbm"
MESH = "mesh4x4_npu_hbm"
PIM_TIMINGS = ("CWL", "tCCD_L", "tCCD_S", "tFAW", "tRAS", "tRCDRD", "tRCDWR", "tREFI",
               "tRFC", "tRP", "tRRD_S", "tRTP_L", "tWR", "tWTR_L")

#: key -> (preset, overrides that change it, extra overrides for both runs[, phase]). For keys
#: whose automatic change is not allowed or does not reach the small decode step.
CASES: dict[str, tuple] = {
    "dtypes.act": ("npu_128x128_bf16_hbm2", {"dtypes.act": "fp32"}, {}),
    "dtypes.weight": ("npu_128x128_bf16_hbm2", {"dtypes.weight": "fp32"}, {}),
    "dtypes.kv": ("npu_128x128_bf16_hbm2", {"dtypes.kv": "fp32"}, {}),
    "dtypes.accum": ("npu_128x128_bf16_hbm2", {"dtypes.accum": "fp16"},
                     {"sram.bandwidth_bytes_per_cycle": 64}),
    "systolic.dataflow": ("npu_128x128_bf16_hbm2", {"systolic.dataflow": "os"}, {}),
    "sram.mode": (NPU, {"sram": {"mode": "unified", "unified_kib": 256}}, {}, "prefill"),
    "sram.unified_kib": (NPU, {"sram.unified_kib": 256},
                         {"sram": {"mode": "unified", "unified_kib": 8192}}, "prefill"),
    "mapping.impl": ("a100_like", {"mapping.impl": "tiled"}, {}),
    "mapping.attention": ("npu_128x128_bf16_hbm2", {"mapping.attention": "unfused"}, {}),
    "mapping.multicast": ("h100_like", {"mapping.multicast": 2},
                          {"shared_buffer.bandwidth_bytes_per_cycle": 2048}),
    "shared_buffer.kind": ("h100_like", {"shared_buffer.kind": "scratchpad"},
                           {"shared_buffer.kib": 24576}, "prefill-large"),
    "memory.page_policy": ("neupims_npu_hbm", {"memory.page_policy": "closed"}, {}),
    "memory.preset": ("neupims_npu_hbm", {"memory.preset": "hbm3_6400"}, {}),
    "memory.mapping": ("neupims_npu_hbm", {"memory.mapping": "RoBaRaCoCh"}, {}),
    "memory.capacity_gib": ("edge_npu_32x32", {"memory.capacity_gib": 0.001}, {}),
    "pim.impl": ("neupims_npu_hbm", {"pim": {"impl": "none",
                                             "scheduler": {"impl": "npu-only"}}}, {}),
    "pim.preset": ("neupims_npu_hbm", {"pim.preset": "neupims_hbm2", "pim.tRCDRD": 30}, {}),
    "pim.mode": ("neupims_npu_hbm", {"pim.mode": "blocked"}, {}),
    "pim.channels": ("neupims_npu_hbm", {"pim.channels": 16, "memory.stacks": 2}, {}),
    "pim.scheduler.impl": ("neupims_npu_hbm", {"pim.scheduler.impl": "npu-only"}, {}),
    "pim.scheduler.sbi_min_batch": ("neupims_npu_hbm", {"pim.scheduler.sbi_min_batch": 0}, {}),
    "cost.dram.standard": ("a100_like", {"cost.dram.standard": "hbm3"}, {}),
    "cost.die.sram": ("a100_like", {"cost.die.sram": "scratchpad"}, {}),
    "cost.tech.name": ("a100_like", {"cost.tech": {"name": "5nm"}}, {"cost.tech": {"name": "7nm"}}),
    "cost.tech.node": ("a100_like", {"cost.tech.name": "5nm", "cost.tech.node": "5nm"}, {}),
    "interconnect.link_bandwidth_gbps": ("mesh8x8_npu_hbm",
                                         {"interconnect.link_bandwidth_gbps": 1}, {}),
    "interconnect.link_latency_ns": ("mesh8x8_npu_hbm", {"interconnect.link_latency_ns": 1e6},
                                     {}),
    "engine.max_tiles_per_op": (NPU, {"engine.max_tiles_per_op": 1}, {}, "prefill"),
    "sram.accumulator_kib": (NPU, {"sram.accumulator_kib": 4096}, {"sram.ofmap_kib": 16},
                             "prefill"),
    "sram.bandwidth_bytes_per_cycle": (NPU, {"sram.bandwidth_bytes_per_cycle": 16}, {}),
    "shared_buffer.bandwidth_bytes_per_cycle": ("h100_like",
                                                {"shared_buffer.bandwidth_bytes_per_cycle": 64},
                                                {}, "prefill"),
    "memory.impl": (NPU, {"memory": {"impl": "ideal", "latency_ns": 100}}, {}),
    "memory.read_queue": (PIM, {"memory.read_queue": 2}, {}),
    "memory.write_queue": (PIM, {"memory.write_queue": 2}, {}),
    "memory.frontend_per_tick": (PIM, {"memory.frontend_per_tick": 1}, {}),
    # HBM3 refreshes per bank by default, which PIM refuses: the PIM arch keeps all-bank refresh
    "memory.preset": (PIM, {"memory.preset": "hbm3_6400", "memory.refresh": "all_bank"}, {}),
    # (refused with PIM: the PIM units place their own all-bank refreshes)
    "memory.refresh": (NPU, {"memory.refresh": "per_bank"},
                       {"memory": {"impl": "hbm", "preset": "hbm2_2000", "channels": 8}}),
    "memory.max_simulated_requests": (PIM, {"memory.max_simulated_requests": 1024}, {}),
    "pim.macs_per_bank": (PIM, {"pim.macs_per_bank": 32}, {}),
    # blocked row buffer with sub-batches: the NPU's accesses during PIM work use the
    # read/write turnaround timings too
    **{f"pim.{t}": (PIM, {f"pim.{t}": 400},
                    {"pim.mode": "blocked", "pim.scheduler.sbi_min_batch": 0})
       for t in PIM_TIMINGS},
    "pim.tREFI": (PIM, {"pim.tREFI": 100000}, {}),
    # dual row buffers: the G_ACT after a GWRITE's ACT in the same bank waits tRRD_L
    "pim.tRRD_L": (PIM, {"pim.tRRD_L": 400}, {}),
    "cost.budget.power_w": ("a100_like", {"cost.budget.power_w": 1e-3}, {}),
    "cost.budget.peak_power_w": ("a100_like", {"cost.budget.peak_power_w": 1e-3}, {}),
    "cost.budget.power_density_w_per_mm2": ("a100_like",
                                            {"cost.budget.power_density_w_per_mm2": 1e-6}, {}),
    "cost.die.cores": ("a100_like", {"cost.die.cores": 54}, {}),
    "cost.dram.stacks": ("a100_like", {"cost.dram.stacks": 3}, {}),
    "noc.chunk_bytes": (MESH, {"noc.chunk_bytes": 256}, {}),
    "noc.credit_delay_cycles": (MESH, {"noc.credit_delay_cycles": 50}, {"noc.chunk_bytes": 512}),
    "noc.ejection_latency_cycles": (MESH, {"noc.ejection_latency_cycles": 500}, {}),
    "noc.injection_latency_cycles": (MESH, {"noc.injection_latency_cycles": 500}, {}),
    "noc.ni_latency_cycles": (MESH, {"noc.ni_latency_cycles": 500}, {}),
    "noc.num_vcs": (MESH, {"noc.num_vcs": 1}, {"noc.chunk_bytes": 512}),
    # chunks of 512 flits, longer than a VC: with one VC per port the tail holds it longer
    "noc.vc_buffer_flits": (MESH, {"noc.vc_buffer_flits": 1}, {"noc.num_vcs": 1}),
    "noc.memory_controllers.placement": (MESH, {"noc.memory_controllers.placement": "edges"},
                                         {}),
    "noc.memory_controllers.columns": ("wafer_mesh_32x32",
                                       {"noc.memory_controllers.columns": [0]}, {}),
    "noc.multicore": (MESH, {"noc.multicore": {"mapping": "single"}}, {}),
    "noc.inter_chip": (MESH, {"noc.inter_chip": {"latency_cycles": 100000, "links": [
        {"node": [0, 0], "peer_chip": 1, "peer_node": 0}]}}, {}),
}

#: One allowed value today: the key names the model (a second value is rejected at load).
SINGLE_CHOICE = {"noc.routing": ("xy", "yx")}
#: Keys read only to be refused at load, with the message (the input is never ignored).
REJECTED_AT_LOAD = {"noc.inter_chip": ({"links": 2, "latency_cycles": 100000},
                                       "chip-to-chip links are not simulated on the mesh"),
                    # all-bank PIM commands: the _L turnarounds bind; CL delays data only
                    "pim.CL": (14, "not used by the PIM model"),
                    "pim.tWTR_S": (6, "not used by the PIM model"),
                    "pim.tRTP_S": (4, "not used by the PIM model")}
#: Values the simulation rejects (with the reason), not at load: issue 17 wants them at load.
REJECTED_WHEN_RUN = {"noc.impl": (MESH, {"noc": {"impl": "ideal"}}, "needs noc impl 'mesh'")}

#: Keys that act only in another command's model: key -> (command, preset, change). Read
#: requests and writes never share a replay of `simulate` (a transfer is all one direction),
#: so the write drain acts in `accelsim memtest` (mixed pattern); the router allocator and the
#: allocation chunk are the synthetic-traffic kernel's (`accelsim noctest`), not the workload
#: link model's (``noc.vc_buffer_flits`` acts in both: it is in ``CASES`` too).
OTHER_COMMAND: dict[str, tuple[str, str, dict]] = {
    "memory.write_high_watermark": ("memtest", PIM, {"memory.write_high_watermark": 0.4}),
    "memory.write_low_watermark": ("memtest", PIM, {"memory.write_low_watermark": 0.6}),
    "noc.alloc_iters": ("noctest", MESH, {"noc.alloc_iters": 1}),
    "noc.interleave_flits": ("noctest", MESH, {"noc.interleave_flits": 4}),
    "noc.vc_buffer_flits": ("noctest", MESH, {"noc.vc_buffer_flits": 4}),
}


def other_command_signature(command: str, preset: str, overrides: dict[str, Any]) -> tuple:
    """``accelsim memtest --memory <arch file> --pattern mixed`` or the ``accelsim noctest``
    kernel on the arch's ``noc:`` section, as numbers."""
    arch = load_arch(preset, overrides=overrides)
    if command == "memtest":
        from accelsim.hw.hbm import run_pattern, spec_from_dict

        r = run_pattern(spec_from_dict(dict(arch.memory), file=arch.file), "mixed", 5000)
        return r["mem_ticks"], r["rw_turnarounds"], r["avg_latency_ns"], r["row_conflicts"]
    from accelsim.hw.noc import run_synthetic

    r = run_synthetic(arch.build_noc().cfg, rate=0.4, packet_flits=8, warmup_cycles=200,
                      measure_cycles=1000, drain_cycles=2000)
    return r.avg_packet_latency_cycles, r.accepted_flits_per_node_cycle, r.flit_hops


@functools.lru_cache(maxsize=None)
def documented_keys() -> dict[str, str]:
    """Every leaf key read from a preset file while it loads -> the first preset that reads it."""
    seen: dict[str, str] = {}
    current: list[Any] = [None, None]
    get, has = fields.Section._get, fields.Section.has

    def record(self, key):
        if self.file == current[1]:
            seen.setdefault(self.key_path(key), current[0])

    def _get(self, key, default):
        record(self, key)
        return get(self, key, default)

    def _has(self, key):
        record(self, key)
        return has(self, key)

    fields.Section._get, fields.Section.has = _get, _has
    try:
        from accelsim.mapping.pim import pim_setup

        for name in preset_names():
            current[:] = [name, str(resolve_arch_path(name))]
            arch = load_arch(name)
            pim_setup(arch)
            arch.build_noc()
    finally:
        fields.Section._get, fields.Section.has = get, has
    containers = {k.rsplit(".", 1)[0] for k in seen if "." in k}
    return {k: v for k, v in sorted(seen.items()) if k not in containers}


def _raw_value(preset: str, key: str):
    node = _read_yaml(resolve_arch_path(preset))
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def auto_change(preset: str, key: str) -> dict[str, Any] | None:
    value = _raw_value(preset, key)
    if isinstance(value, bool):
        return {key: not value}
    if isinstance(value, int):
        return {key: value * 2 if value else 1}
    if isinstance(value, float):
        return {key: value / 2 if value else 1.0}
    return None


def workload(arch, phase: str):
    """The small step, as ``accelsim simulate --model`` builds it (sub-batches as the arch's
    PIM scheduler splits a decode batch)."""
    from accelsim.mapping.pim import sub_batches_for
    from accelsim.workload.models import load_model

    tp = 2 if arch.interconnect is not None else 1
    kv = {"kv": arch.dtypes.kv}       # the KV cache's type is the arch's (commands/simulate.py)
    if phase == "prefill":
        return generate_trace("tiny-llama-gqa-test", "prefill", seq_len=256, layers=1, tp=tp,
                              dtypes=kv)
    if phase == "prefill-large":      # a GEMM whose weight band fits a 24 MiB scratchpad only
        return generate_trace("llama2-7b", "prefill", seq_len=1024, layers=1, tp=tp, dtypes=kv)
    subs = sub_batches_for(arch, load_model("tiny-llama-gqa-test"), [256] * 8, tp=tp)
    return generate_trace("tiny-llama-gqa-test", "decode", batch=8, context=256, layers=1,
                          tp=tp, sub_batches=subs, dtypes={"kv": arch.dtypes.kv})


def signature(preset: str, overrides: dict[str, Any], phase: str = "decode") -> tuple:
    raw = apply_overrides(_read_yaml(resolve_arch_path(preset)), overrides)
    arch = parse_arch(raw, file=str(resolve_arch_path(preset)))
    report = simulate(arch, workload(arch, phase), progress=False)
    d = report.to_dict()
    pim = d.get("pim") or {}
    return (report.total_cycles, d["dram_read_bytes"], d["dram_write_bytes"],
            round(d["energy_pj"], 3), round(d["area_mm2"], 6),
            tuple(sorted(d["cost"].get("budget", {}).get("violations", []) or [])),
            tuple(report.warnings), tuple(pim.get("busy_cycles", ())),
            tuple(pim.get("refresh_stall_cycles", ())))


_BASES: dict[tuple, tuple] = {}


def _base_signature(preset: str, key: str, phase: str, both: dict) -> tuple:
    """The unchanged run, once per (preset, shared overrides, phase)."""
    if (preset, key, phase) not in _BASES:
        _BASES[preset, key, phase] = signature(preset, both, phase)
    return _BASES[preset, key, phase]


KEYS = documented_keys()


def test_the_walk_sees_every_section():
    tops = {k.split(".")[0] for k in KEYS}
    assert {"systolic", "vector", "sram", "memory", "dtypes", "engine", "interconnect", "cores",
            "shared_buffer", "mapping", "launch", "noc", "pim", "cost", "clock_mhz",
            *METADATA} <= tops


@pytest.mark.parametrize("key", sorted(KEYS))
def test_key_takes_part(key):
    if key in METADATA:
        return                                    # declared metadata: names the design only
    if key in SINGLE_CHOICE:
        value, other = SINGLE_CHOICE[key]
        with pytest.raises(ConfigError, match=other):
            load_arch(KEYS[key], overrides={key: other})
        return
    if key in REJECTED_AT_LOAD:
        value, match = REJECTED_AT_LOAD[key]
        with pytest.raises(ConfigError, match=match):
            load_arch(KEYS[key], overrides={key: value})
        return
    if key in REJECTED_WHEN_RUN:
        preset, change, match = REJECTED_WHEN_RUN[key]
        from accelsim.errors import AccelsimError

        with pytest.raises(AccelsimError, match=match):
            signature(preset, change)
        return
    if key in OTHER_COMMAND:
        command, preset, change = OTHER_COMMAND[key]
        assert other_command_signature(command, preset, change) \
            != other_command_signature(command, preset, {}), f"{key} changes no {command} result"
        if key not in CASES:
            return
    phase = "decode"
    if key in CASES:
        preset, change, both, *rest = CASES[key]
        phase = rest[0] if rest else phase
    else:
        preset, both = KEYS[key], {}
        change = auto_change(preset, key)
        assert change is not None, f"{key}: no automatic change; add it to CASES"
    base = _base_signature(preset, repr(sorted(both.items())), phase, both)
    changed = signature(preset, {**both, **change}, phase)
    assert changed != base, f"{key} ({preset}, {change}) changes nothing"
