"""Energy, area and power of a simulated run: count the events the simulator modelled, price them.

What is counted (per trace row, repeats included; ``docs/cost.md`` has the derivation):

* **MACs** of systolic operators (``M*K*N*batch``) at the MAC energy of the operator's types, plus
  a PE pipeline-register energy per MAC, plus idle PE-cycles inside a busy array
  (``compute_cycles * PEs - MACs``) at ``idle_pe_fraction_of_active`` of a MAC of the array type.
* **Vector ops** (the trace's ``flops`` of vector operators) at the fp32 vector-op energy plus
  the lane register-file traffic per op.
* **SRAM bytes by buffer**, from the tile plans:

  - every DRAM byte loaded is written into SRAM once (A -> ``ifmap``, B -> ``filter``; the
    split follows the tiling's per-operand DRAM traffic, scaled to the plan's exact total);
  - operands are read into the array with the dataflow's reuse factors (the SCALE-Sim request
    counts ``mapping.lower`` also uses for SRAM bandwidth; ``R x C`` is one array):
    ``os``: A ``ceil(N/C)`` times, B ``ceil(M/R)`` times; ``ws``: A ``ceil(N/C)``, B once;
    ``is``: A once, B ``ceil(M/C)`` times;
  - outputs accumulate in ``ofmap`` at the accumulator width: ``P`` partial-sum passes (``os``:
    the tiling's K tiles; ``ws``/``is``: ``ceil(K/R)`` row folds) write ``M*N`` accumulators each
    and read back all but the first; the final outputs are read once for the write-back;
  - vector operators write their loads into ``ifmap`` and read them once, write their results
    into ``ofmap`` and read them once for the store; DMA operators pass loads through ``ifmap``;
  - ``unified`` SRAM takes all of these in its one buffer.

  Each buffer's per-byte energy depends on its capacity (``Technology.sram_*_pj_per_byte``:
  banks of <= 1 MiB plus wire across the buffer).
* **DRAM bytes** per operator at the standard's pJ/bit. When the memory model reports row
  statistics (``row_misses + row_conflicts`` = activations, the ``hbm`` model), the amortized
  activate share is replaced by ``activations * activate_pj`` (spread over operators by bytes).
* **Chip-to-chip bytes** of collectives (ring traffic one device sends) at pJ/bit.
* **Future models** report counts through ``memory_stats`` / ``result.extra_stats`` (see
  ``extra_events``): ``pim: {macs, bits: {bank, bankgroup, buffer_die, host}}`` and
  ``noc: {bit_hops, bit_mm}`` (or ``flit_hops`` + ``flit_bits`` + ``hop_mm``). They are priced
  globally (no per-operator attribution) and reported as the ``(global)`` row.
* **Leakage**: ``logic area * logic_mw_per_mm2 + SRAM MiB * leakage_mw_per_mib`` over the run's
  wall time, attributed to operators by busy time. Logic = ``LEAKING_LOGIC`` of the enabled
  units (fused-off cores in ``cost.die`` cost area, not leakage); PHYs are not counted.

Power: average = energy / run time; peak = the operator with the highest dynamic energy / busy
time, plus static power. Energy per token uses the trace meta (``tokens``, or batch x seq_len for
prefill, batch for decode).
"""

from __future__ import annotations

import copy
import math
import weakref
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..arch.config import Arch
from ..arch.dtypes import DTYPE_BYTES
from ..errors import ConfigError, SimulationError
from ..workload.trace import MATMUL_CLASSES
from ..units import energy_unit, format_duration_ns, format_energy
from .config import (Budget, CostConfig, check_budget, check_die, parse_budget,
                     parse_cost_config)
from .tech import Technology, load_tech, mac_dtype

ENERGY_COMPONENTS = ("mac", "pe_overhead", "vector", "sram", "dram", "interconnect", "pim", "noc",
                     "leakage")
AREA_COMPONENTS = ("systolic_pes", "vector_lanes", "sram", "noc_routers", "control_overhead",
                   "register_files", "core_front_end", "scalar_alus", "crossbar",
                   "dram_phy", "dram_controllers", "io_phy", "io_controllers")
# logic that leaks (SRAM leaks per MiB; PHYs are not counted)
LEAKING_LOGIC = ("systolic_pes", "vector_lanes", "noc_routers", "control_overhead",
                 "register_files", "core_front_end", "scalar_alus", "crossbar",
                 "dram_controllers", "io_controllers")
# at the die's edge, not inside a mesh tile
EDGE_COMPONENTS = ("dram_phy", "dram_controllers", "io_phy", "io_controllers")


# ------------------------------------------------------------------------------ configuration

def resolve_config(arch: Arch, cost: Any = None, *, file: str | None = None) -> CostConfig:
    """The cost settings: ``cost`` if given (read from ``file``, for error messages), else the
    arch's ``cost:`` section, else defaults."""
    if cost is None:
        raw = getattr(arch, "cost", None)
        return parse_cost_config(raw, file=arch.file) if raw else CostConfig()
    cfg = parse_cost_config(cost, file=file)
    check_die(cfg.die, systolic_count=arch.systolic.count * arch.cores,
              vector_lanes=arch.vector.lanes * arch.cores,
              sram_kib=arch.sram.total_kib * arch.cores, dram_stacks=cfg.dram_stacks, file=file,
              arch_cores=arch.cores)
    return cfg


def resolve_tech(cfg: CostConfig, tech: Any = None) -> Technology:
    if tech is not None:
        return load_tech(tech)
    return load_tech(cfg.tech, node=cfg.node_nm)


@dataclass(frozen=True)
class DramInfo:
    standard: str
    stacks: int
    pj_per_bit: float
    source: str                     # where standard/stacks came from


def dram_info(arch: Arch, cfg: CostConfig, tech: Technology, assumptions: list[str]) -> DramInfo:
    """DRAM standard and stack count: the cost section, else the ``hbm`` model's preset, else the
    technology's default standard with stacks = peak bandwidth / per-stack bandwidth."""
    mem = arch.build_memory()
    desc = mem.describe()
    standard, stacks, source = cfg.dram_standard, cfg.dram_stacks, "cost section"
    if standard is None and desc.get("impl") == "hbm":
        preset = str(desc.get("preset") or "")
        guess = preset.split("_")[0].lower()
        if guess in tech.dram_standards():
            standard, source = guess, f"memory preset {preset}"
        if stacks is None and desc.get("stacks"):
            stacks = int(desc["stacks"])
    if standard is None:
        standard, source = tech.default_dram_standard(), "technology default (assumed)"
        assumptions.append(f"DRAM standard not given: assumed {standard} "
                           "(set cost.dram.standard)")
    per_stack = tech.dram(standard, "gbps_per_stack")
    bw = mem.peak_bandwidth_gbps()
    if stacks is None:
        if math.isinf(bw):
            stacks = 0
            assumptions.append("ideal memory: no DRAM PHY area")
        else:
            stacks = max(1, round(bw / per_stack))
            assumptions.append(f"DRAM stacks not given: {stacks} = round({bw:g} GB/s / "
                               f"{per_stack:g} GB/s per {standard} stack)")
    return DramInfo(standard, stacks, tech.dram(standard, "pj_per_bit"), source)


@dataclass(frozen=True)
class Mesh:
    """Multi-core layout: ``cores`` copies of the per-core arrays, lanes and SRAM, one router per
    mesh node (``routers``), ``flit_bits`` per flit. A single-core arch is ``Mesh(1, 0, 0)``."""

    cores: int
    routers: int
    flit_bits: int


def mesh_of(arch: Arch) -> Mesh:
    """Cores and routers from the arch's ``noc:`` section (mesh nodes that are not memory
    controllers are cores); ``Mesh(1, 0, 0)`` without one."""
    if getattr(arch, "noc", None) is None:
        return Mesh(getattr(arch, "cores", 1), 0, 0)
    model = arch.build_noc()
    cfg = getattr(model, "cfg", model)
    nodes = int(cfg.columns) * int(cfg.rows)
    mcs = len(getattr(cfg, "memory_controllers", ()) or ())
    return Mesh(max(1, nodes - mcs), nodes, 8 * int(getattr(cfg, "flit_bytes", 16)))


def area_breakdown(arch: Arch, tech: Technology, cfg: CostConfig, dram: DramInfo, *,
                   physical: bool = True) -> tuple[dict[str, float], dict[str, float]]:
    """``(by component, SRAM by buffer)`` in mm2.

    ``physical``: the whole die, with the cores, shared SRAM and DRAM sites that ``cost.die``
    says are on it but not enabled (the die area); else only the enabled part (what leaks).
    """
    die = cfg.die
    mesh = mesh_of(arch)
    cores = die.physical_cores if physical else die.cores
    per_core = cores / die.cores                 # per-core blocks present per enabled one
    caps = arch.sram.capacity_bytes()
    if arch.cores > 1 or arch.shared_buffer is not None:
        # hierarchical chip: `sram` is one core's local SRAM, the shared buffer is chip-wide
        sram = {buf: mesh.cores * per_core * tech.sram_area_mm2(cap, die.sram)
                for buf, cap in caps.items()}
        shared = arch.shared_buffer.capacity_bytes if arch.shared_buffer else 0
        if physical and die.physical_shared_sram_kib is not None:
            shared = die.physical_shared_sram_kib * 1024
        if shared:
            sram["shared_buffer"] = tech.sram_area_mm2(shared, die.sram)
    else:
        total = sum(caps.values())
        core_sram = die.core("sram_kib") * 1024
        shared = total - die.cores * core_sram
        if physical and die.physical_shared_sram_kib is not None:
            shared = die.physical_shared_sram_kib * 1024
        sram_scale = (cores * core_sram + shared) / total if total else 0.0
        sram = {buf: mesh.cores * tech.sram_area_mm2(cap * sram_scale, die.sram)
                for buf, cap in caps.items()}
    pe_type = mac_dtype(arch.dtypes.act, arch.dtypes.weight)
    area = {
        "systolic_pes": mesh.cores * per_core * arch.systolic.pes * tech.pe_area_mm2(pe_type),
        "vector_lanes": mesh.cores * per_core * arch.vector.lanes * tech.vector_lane_area_mm2(),
        "sram": sum(sram.values()),
        "noc_routers": mesh.routers * tech.router_area_mm2(),
    }
    area["control_overhead"] = tech.control_overhead_fraction() * sum(area.values())
    n = cores if arch.cores > 1 else mesh.cores * cores   # a hierarchical chip: die = its cores
    area["register_files"] = n * tech.register_file_area_mm2(die.core("register_file_kib") * 1024)
    area["core_front_end"] = n * die.core("simt_lanes") * tech.core_front_end_area_mm2_per_lane()
    area["scalar_alus"] = n * (die.core("fp64_units") * tech.fp64_unit_area_mm2()
                               + die.core("int32_units") * tech.int32_unit_area_mm2())
    area["crossbar"] = n * die.core("crossbar_ports") * tech.crossbar_port_area_mm2()
    stacks = dram.stacks
    if physical and die.physical_dram_stacks is not None:
        stacks = die.physical_dram_stacks
    area["dram_phy"] = stacks * tech.dram(dram.standard, "phy_area_mm2_per_stack") \
        if stacks else 0.0
    area["dram_controllers"] = stacks * tech.dram_controller_area_mm2(dram.standard) \
        if stacks else 0.0
    io = sorted(cfg.io.items())
    area["io_phy"] = sum((k * tech.io_phy_area_mm2(phy) for phy, k in io), 0.0)
    area["io_controllers"] = sum((k * tech.io_controller_area_mm2(phy) for phy, k in io), 0.0)
    return area, sram


def static_power_w(arch: Arch, tech: Technology, enabled_area: Mapping[str, float]) -> float:
    """Leakage of the enabled logic (``area_breakdown(..., physical=False)``) and SRAM, in W."""
    logic = sum(enabled_area[k] for k in LEAKING_LOGIC)
    sram_bytes = mesh_of(arch).cores * sum(arch.sram.capacity_bytes().values()) + (
        arch.shared_buffer.capacity_bytes if arch.shared_buffer else 0)
    return logic * tech.logic_leakage_w_per_mm2() + tech.sram_leakage_w(sram_bytes)


def die_area(arch: Arch, tech: Technology, cfg: CostConfig, dram: DramInfo
             ) -> tuple[dict[str, float], dict[str, float], float]:
    """``(area by component, SRAM area by buffer, static power W)`` of the die."""
    area, sram = area_breakdown(arch, tech, cfg, dram)
    enabled, _ = area_breakdown(arch, tech, cfg, dram, physical=False)
    return area, sram, static_power_w(arch, tech, enabled)


# ------------------------------------------------------------------------------ event counts

@dataclass
class OpEvents:
    """Events of one operator instance (one trace row with ``repeat = 1``)."""

    macs: int = 0
    mac_dtype: str = ""
    pe_cycles: int = 0
    vector_ops: int = 0
    sram_read: dict[str, float] = field(default_factory=dict)
    sram_write: dict[str, float] = field(default_factory=dict)
    link_bytes: float = 0.0


def _buf(arch: Arch, name: str) -> str:
    return "unified" if arch.sram.mode == "unified" else name


def _add(d: dict[str, float], key: str, value: float) -> None:
    d[key] = d.get(key, 0.0) + float(value)


def _ceil(a: int, b: int) -> int:
    return -(-int(a) // int(b))


def matmul_events(op: Mapping[str, Any], plan, arch: Arch) -> OpEvents:
    """Events of one systolic operator instance (all ``batch`` GEMMs), from its tile plan."""
    from ..mapping.tiling import choose_tiling

    sa = arch.systolic
    M, K, N, batch = int(op["M"]), int(op["K"]), int(op["N"]), int(op["batch"])
    b_type = op["dtype_kv"] if op["op_class"].startswith("attention") else op["dtype_weight"]
    a_b, b_b = DTYPE_BYTES[op["dtype_act"]], DTYPE_BYTES[b_type]
    acc_b = max(DTYPE_BYTES[arch.dtypes.accum], a_b)
    # Per-operand DRAM reads: the plan's details when the mapper records them, else the same
    # tiling search mapping.lower ran (pure, deterministic).
    a_dram, b_dram, k_tiles = (plan.details.get(k) for k in ("a_dram_bytes", "b_dram_bytes",
                                                            "k_tiles"))
    if a_dram is None or b_dram is None or k_tiles is None:
        spatial = {"os": (sa.rows, 8, sa.cols), "ws": (8, sa.rows, sa.cols),
                   "is": (sa.cols, sa.rows, 8)}[sa.dataflow]
        t = choose_tiling(M, K, N, arch.sram, a_bytes=a_b, b_bytes=b_b, c_bytes=a_b,
                          acc_bytes=acc_b, min_tile=spatial)
        a_dram, b_dram, k_tiles = t.a_bytes, t.b_bytes, _ceil(K, t.Kt)
    loaded = plan.dram_read_bytes
    a_share = a_dram / (a_dram + b_dram) if a_dram + b_dram else 0.5
    R, C = sa.rows, sa.cols
    reuse_a, reuse_b = {"os": (_ceil(N, C), _ceil(M, R)), "ws": (_ceil(N, C), 1),
                        "is": (1, _ceil(M, C))}[sa.dataflow]
    passes = k_tiles if sa.dataflow == "os" else _ceil(K, R)
    ev = OpEvents(macs=M * K * N * batch, mac_dtype=mac_dtype(op["dtype_act"], b_type),
                  pe_cycles=int(plan.compute_cycles_total) * sa.pes * mesh_of(arch).cores)
    _add(ev.sram_write, _buf(arch, "ifmap"), loaded * a_share)
    _add(ev.sram_write, _buf(arch, "filter"), loaded * (1 - a_share))
    _add(ev.sram_read, _buf(arch, "ifmap"), M * K * a_b * reuse_a * batch)
    _add(ev.sram_read, _buf(arch, "filter"), K * N * b_b * reuse_b * batch)
    _add(ev.sram_write, _buf(arch, "ofmap"), M * N * acc_b * passes * batch)
    _add(ev.sram_read, _buf(arch, "ofmap"), M * N * acc_b * (passes - 1) * batch
         + plan.dram_write_bytes)
    return ev


def stream_events(op: Mapping[str, Any], plan, arch: Arch) -> OpEvents:
    """Events of one vector or DMA operator instance."""
    ev = OpEvents()
    load, store = plan.dram_read_bytes, plan.dram_write_bytes
    if plan.unit == "vector":
        ev.vector_ops = int(plan.work)
        _add(ev.sram_write, _buf(arch, "ifmap"), load)
        _add(ev.sram_read, _buf(arch, "ifmap"), load)
        _add(ev.sram_write, _buf(arch, "ofmap"), store)
        _add(ev.sram_read, _buf(arch, "ofmap"), store)
    else:                                   # dma: through the stream buffer
        _add(ev.sram_write, _buf(arch, "ifmap"), load)
        _add(ev.sram_read, _buf(arch, "ifmap"), store)
    return ev


def link_events(op: Mapping[str, Any]) -> OpEvents:
    """Bytes one device sends in a ring collective (as ``InterconnectConfig.collective_ps``)."""
    group, nbytes = int(op["comm_group"]), int(op["comm_bytes"])
    if group <= 1 or nbytes == 0:
        return OpEvents()
    steps = {"allreduce": 2 * (group - 1), "allgather": group - 1,
             "all2all": group - 1}.get(op["op_class"])
    sent = nbytes if steps is None else steps * _ceil(nbytes, group)
    return OpEvents(link_bytes=float(sent))


def op_events(op: Mapping[str, Any], plan, arch: Arch) -> OpEvents:
    if op["op_class"] in MATMUL_CLASSES and plan.unit == "systolic":
        return matmul_events(op, plan, arch)
    if plan.unit in ("vector", "dma"):
        return stream_events(op, plan, arch)
    if plan.unit == "link":
        return link_events(op)
    return OpEvents()


def extra_events(stats: Mapping[str, Any]) -> dict[str, Any]:
    """Counts that memory / PIM / NoC models report (the interface for later models).

    Recognised keys of ``memory_stats`` (or ``result.extra_stats``):
    ``activates`` or ``row_misses`` + ``row_conflicts`` (row activations);
    ``pim: {macs, bits: {bank, bankgroup, buffer_die, host}}``;
    ``noc: {bit_hops, bit_mm}`` or ``noc: {flit_hops, flit_bits, hop_mm}``.
    """
    out: dict[str, Any] = {}
    if "activates" in stats:
        out["activates"] = int(stats["activates"])
    elif "row_misses" in stats:
        out["activates"] = int(stats["row_misses"]) + int(stats.get("row_conflicts", 0))
    pim = stats.get("pim")
    if isinstance(pim, Mapping):
        bits = pim.get("bits", {}) or {}
        out["pim"] = {"macs": int(pim.get("macs", 0)),
                      "bits": {k: int(bits.get(k, 0)) for k in
                               ("bank", "bankgroup", "buffer_die", "host")}}
    noc = stats.get("noc")
    if isinstance(noc, Mapping):
        if "bit_hops" in noc:
            bit_hops, bit_mm = float(noc["bit_hops"]), float(noc.get("bit_mm", 0.0))
        else:
            bits = float(noc.get("flit_hops", 0)) * float(noc.get("flit_bits", 0))
            bit_hops, bit_mm = bits, bits * float(noc.get("hop_mm", 0.0))
        out["noc"] = {"bit_hops": bit_hops, "bit_mm": bit_mm}
    return out


# ------------------------------------------------------------------------------ the report

@dataclass
class CostReport:
    """Energy, area and power of one simulated run. ``to_dict()`` is JSON-ready."""

    arch_name: str
    trace_name: str
    tech: Technology
    dram: DramInfo
    time_ns: float
    energy_breakdown_pj: dict[str, float]
    sram_energy_by_buffer_pj: dict[str, float]
    area_breakdown_mm2: dict[str, float]
    sram_area_by_buffer_mm2: dict[str, float]
    static_power_w: float
    peak_power_w: float
    peak_op: str
    ops: pd.DataFrame              # per trace row: op_id, name, op_class, unit, time_ns, components
    events: dict[str, Any]
    tokens: int | None
    budget: dict[str, Any]
    assumptions: list[str]

    @property
    def energy_pj(self) -> float:
        return float(sum(self.energy_breakdown_pj.values()))

    @property
    def area_mm2(self) -> float:
        return float(sum(self.area_breakdown_mm2.values()))

    @property
    def avg_power_w(self) -> float:
        return self.energy_pj * 1e-12 / (self.time_ns * 1e-9) if self.time_ns > 0 else 0.0

    @property
    def energy_per_token_j(self) -> float | None:
        return self.energy_pj * 1e-12 / self.tokens if self.tokens else None

    @property
    def over_budget(self) -> bool:
        return bool(self.budget.get("over_budget"))

    def by_op_class(self) -> pd.DataFrame:
        """Energy by component (pJ) per op class, in first-appearance order."""
        cols = [c for c in ENERGY_COMPONENTS if c in self.ops.columns]
        g = self.ops.groupby("op_class", sort=False)[cols + ["time_ns"]].sum()
        g["energy_pj"] = g[cols].sum(axis=1)
        return g

    def to_dict(self) -> dict[str, Any]:
        by_class = self.by_op_class()
        return {
            "energy_pj": self.energy_pj,
            "energy_breakdown_pj": dict(self.energy_breakdown_pj),
            "sram_energy_by_buffer_pj": dict(self.sram_energy_by_buffer_pj),
            "area_mm2": self.area_mm2,
            "area_breakdown_mm2": dict(self.area_breakdown_mm2),
            "sram_area_by_buffer_mm2": dict(self.sram_area_by_buffer_mm2),
            "avg_power_w": self.avg_power_w,
            "peak_power_w": self.peak_power_w,
            "peak_op": self.peak_op,
            "static_power_w": self.static_power_w,
            "time_ns": self.time_ns,
            "tokens": self.tokens,
            "energy_per_token_j": self.energy_per_token_j,
            "tech": self.tech.describe(),
            "dram": {"standard": self.dram.standard, "stacks": self.dram.stacks,
                     "pj_per_bit": self.dram.pj_per_bit, "from": self.dram.source},
            "budget": self.budget,
            "over_budget": self.over_budget,
            "events": self.events,
            "by_op_class": [{"op_class": k, **{c: float(v) for c, v in row.items()}}
                            for k, row in by_class.to_dict("index").items()],
            "assumptions": list(self.assumptions),
        }

    def table(self) -> str:
        """Console summary: area, energy breakdown, power, budget."""
        e, a = self.energy_pj, self.area_mm2
        lines = [f"cost | arch {self.arch_name} | trace {self.trace_name} | tech "
                 f"{self.tech.name} at {self.tech.node_nm:g} nm | DRAM {self.dram.standard} x "
                 f"{self.dram.stacks} ({self.dram.source})",
                 "", f"area: {a:,.1f} mm2"]
        for k, v in self.area_breakdown_mm2.items():
            if v:                   # blocks this arch does not have (e.g. no cost.die) stay out
                lines.append(f"  {k:<18} {v:>10,.2f} mm2  {100 * v / a if a else 0:5.1f}%")
        # the total in the unit it reaches, the parts in one column a thousandth of that
        scale, unit = energy_unit(e / 1e3)
        lines += ["", f"energy: {format_energy(e)} over {format_duration_ns(self.time_ns)}"]
        for k, v in self.energy_breakdown_pj.items():
            lines.append(f"  {k:<18} {v / scale:>12,.3f} {unit:<2}  "
                         f"{100 * v / e if e else 0:5.1f}%")
        lines += ["", f"power: average {self.avg_power_w:,.2f} W, peak {self.peak_power_w:,.2f} W "
                      f"({self.peak_op}), static {self.static_power_w:,.2f} W"]
        if self.tokens:
            lines.append(f"energy per token: {self.energy_per_token_j * 1e3:,.4f} mJ "
                         f"({self.tokens} tokens)")
        if self.budget.get("limits"):
            verdict = "OVER BUDGET" if self.over_budget else "within budget"
            parts = [f"{k} {self.budget['modelled'][k]:,.2f} / {v:,.2f}"
                     for k, v in self.budget["limits"].items()]
            lines.append(f"budget: {verdict}: " + "; ".join(parts))
        for note in self.assumptions:
            lines.append(f"note: {note}")
        return "\n".join(lines)


def trace_tokens(meta: Mapping[str, Any]) -> int | None:
    """Tokens a trace processes: ``meta['tokens']``, batch x seq_len (prefill), batch (decode)."""
    if meta.get("tokens"):
        return int(meta["tokens"])
    batch = meta.get("batch")
    if not batch:
        return None
    if meta.get("phase") == "prefill" and meta.get("seq_len"):
        return int(batch) * int(meta["seq_len"])
    if meta.get("phase") == "decode":
        return int(batch) * int(meta.get("q_len", 1) or 1)
    return None


def estimate(report, tech: Any = None, *, cost: Any = None,
             budget: Budget | Mapping[str, Any] | None = None) -> CostReport:
    """Energy, area and power of a simulated ``Report``.

    Args:
        report: what ``accelsim.simulate`` returned.
        tech: a technology (name, path, ``{name, node}`` or ``Technology``); default: the cost
            section's, else ``7nm``.
        cost: a ``cost:`` mapping (``accelsim.cost.config``) overriding the architecture's.
        budget: limits (``{area_mm2, power_w, peak_power_w, power_density_w_per_mm2}``) taking
            precedence over the cost section's.

    Example:
        >>> from accelsim.api import simulate, generate_trace
        >>> r = simulate("npu_128x128_bf16_hbm2",
        ...              generate_trace("tiny-llama-gqa-test", "decode", batch=4, context=64))
        >>> c = estimate(r, budget={"area_mm2": 10})
        >>> c.energy_pj > 0, c.over_budget, sorted(c.budget["violations"])
        (True, True, ['area_mm2'])
    """
    arch, trace, res = report.arch, report.trace, report.result
    cfg = resolve_config(arch, cost)
    tech_ = resolve_tech(cfg, tech)
    assumptions: list[str] = []
    dram = dram_info(arch, cfg, tech_, assumptions)
    area, sram_area, p_static = die_area(arch, tech_, cfg, dram)

    ops = report.ops
    if len(ops) != len(trace.ops):
        raise SimulationError(f"report has {len(ops)} operator rows for a trace of "
                              f"{len(trace.ops)}; cannot attribute energy")
    rows = trace.ops.to_dict("records")
    caps = arch.sram.capacity_bytes()
    e_read = {b: tech_.sram_read_pj_per_byte(c) for b, c in caps.items()}
    e_write = {b: tech_.sram_write_pj_per_byte(c) for b, c in caps.items()}
    pe_type = mac_dtype(arch.dtypes.act, arch.dtypes.weight)
    e_idle = tech_.mac_pj(pe_type) * tech_.idle_pe_fraction()
    e_reg, e_vec = tech_.pe_register_pj_per_mac(), tech_.vector_op_pj() \
        + tech_.vector_register_pj_per_op()
    e_link = tech_.chip_to_chip_pj_per_bit() * 8

    stats = {**dict(res.memory_stats), **dict(getattr(res, "extra_stats", {}) or {})}
    mesh = mesh_of(arch)
    noc_stats = getattr(res, "noc", None)
    if "noc" not in stats and isinstance(noc_stats, Mapping) and "flit_hops" in noc_stats:
        # the mesh model counts busy link cycles = flit-hops; a hop spans one core tile
        tile_mm2 = sum(v for k, v in area.items() if k not in EDGE_COMPONENTS)
        stats["noc"] = {"flit_hops": noc_stats["flit_hops"], "flit_bits": mesh.flit_bits,
                        "hop_mm": math.sqrt(tile_mm2 / max(mesh.routers, 1))}
        assumptions.append("NoC hop length = side of one mesh tile (die logic+SRAM area / nodes)")
    extra = extra_events(stats)
    e_dram_bit = dram.pj_per_bit
    if "activates" in extra:
        e_dram_bit = max(dram.pj_per_bit - tech_.activate_share_pj_per_bit(), 0.0)

    n = len(rows)
    comp = {c: np.zeros(n) for c in ("mac", "pe_overhead", "vector", "sram", "dram",
                                     "interconnect")}
    sram_buf = {b: 0.0 for b in caps}
    ev_tot: dict[str, Any] = {"macs": 0, "pe_cycles": 0, "vector_ops": 0, "link_bytes": 0.0,
                              "sram_read_bytes": {b: 0.0 for b in caps},
                              "sram_write_bytes": {b: 0.0 for b in caps}}
    cache: dict[tuple, OpEvents] = {}
    compute_cycles = ops["compute_cycles"].to_numpy()
    dram_bytes = (ops["dram_read_bytes"] + ops["dram_write_bytes"]).to_numpy(dtype=np.float64)
    for i, op in enumerate(rows):
        key = res.row_keys[i]
        plan = res.plans[key]
        ev = cache.get(key)
        if ev is None:
            ev = cache[key] = op_events(op, plan, arch)
        rep = int(op["repeat"])
        if ev.macs:
            comp["mac"][i] = ev.macs * rep * tech_.mac_pj(ev.mac_dtype)
            # every core's PEs are clocked while the operator runs (one core without a mesh)
            pe_cycles = int(compute_cycles[i]) * arch.systolic.pes * mesh.cores
            comp["pe_overhead"][i] = ev.macs * rep * e_reg + max(pe_cycles - ev.macs * rep, 0) \
                * e_idle
            ev_tot["macs"] += ev.macs * rep
            ev_tot["pe_cycles"] += pe_cycles
        comp["vector"][i] = ev.vector_ops * rep * e_vec
        ev_tot["vector_ops"] += ev.vector_ops * rep
        s = 0.0
        for b, v in ev.sram_read.items():
            s += v * rep * e_read[b]
            sram_buf[b] += v * rep * e_read[b]
            ev_tot["sram_read_bytes"][b] += v * rep
        for b, v in ev.sram_write.items():
            s += v * rep * e_write[b]
            sram_buf[b] += v * rep * e_write[b]
            ev_tot["sram_write_bytes"][b] += v * rep
        comp["sram"][i] = s
        comp["dram"][i] = dram_bytes[i] * 8 * e_dram_bit
        comp["interconnect"][i] = ev.link_bytes * rep * e_link
        ev_tot["link_bytes"] += ev.link_bytes * rep

    total_dram = dram_bytes.sum()
    ev_tot.update({"dram_read_bytes": int(ops["dram_read_bytes"].sum()),
                   "dram_write_bytes": int(ops["dram_write_bytes"].sum())})
    if "activates" in extra:
        e_act = extra["activates"] * tech_.activate_pj()
        if total_dram > 0:
            comp["dram"] += e_act * dram_bytes / total_dram
        ev_tot["dram_activates"] = extra["activates"]
    time_ns = float(report.total_time_ns)
    busy_ns = ops["total_cycles"].to_numpy(dtype=np.float64) * 1e3 / arch.clock_mhz
    e_static = p_static * time_ns * 1e3                       # W x ns -> pJ
    busy_sum = busy_ns.sum()
    comp["leakage"] = e_static * busy_ns / busy_sum if busy_sum > 0 else np.zeros(n)

    glob = {"pim": 0.0, "noc": 0.0}
    if "pim" in extra:
        p = extra["pim"]
        glob["pim"] = p["macs"] * tech_.pim_mac_pj() + sum(
            bits * tech_.pim_pj_per_bit(level) for level, bits in p["bits"].items())
        ev_tot["pim"] = p
    if "noc" in extra:
        q = extra["noc"]
        glob["noc"] = q["bit_hops"] * tech_.router_pj_per_bit() \
            + q["bit_mm"] * tech_.wire_pj_per_bit_mm()
        ev_tot["noc"] = q

    table = pd.DataFrame({"op_id": ops["op_id"], "name": ops["name"],
                          "op_class": ops["op_class"], "unit": ops["unit"], "time_ns": busy_ns,
                          **{c: comp[c] for c in ("mac", "pe_overhead", "vector", "sram", "dram",
                                                  "interconnect", "leakage")}})
    table["pim"] = 0.0
    table["noc"] = 0.0
    if glob["pim"] or glob["noc"]:
        table = pd.concat([table, pd.DataFrame([{
            "op_id": -1, "name": "(global)", "op_class": "(global)", "unit": "-",
            "time_ns": 0.0, **{c: 0.0 for c in ENERGY_COMPONENTS}, **glob}])],
            ignore_index=True)
    dyn_cols = [c for c in ENERGY_COMPONENTS if c != "leakage"]
    table["energy_pj"] = table[list(ENERGY_COMPONENTS)].sum(axis=1)
    breakdown = {c: float(table[c].sum()) for c in ENERGY_COMPONENTS}

    with np.errstate(divide="ignore", invalid="ignore"):
        dyn_w = np.where(table["time_ns"] > 0, table[dyn_cols].sum(axis=1) * 1e-3
                         / table["time_ns"], 0.0)
    if len(dyn_w) and dyn_w.max() > 0:
        j = int(np.argmax(dyn_w))
        peak_w, peak_op = float(dyn_w[j]) + p_static, str(table["name"].iloc[j])
    else:
        peak_w, peak_op = p_static, "-"
    table["power_w"] = np.asarray(dyn_w) + np.where(table["time_ns"] > 0, p_static, 0.0)

    avg_w = sum(breakdown.values()) * 1e-3 / time_ns if time_ns > 0 else 0.0
    lim = cfg.budget.merged(parse_budget(budget) if isinstance(budget, Mapping) else budget)
    verdict = check_budget(lim, area_mm2=sum(area.values()), avg_power_w=avg_w,
                           peak_power_w=peak_w)
    return CostReport(
        arch_name=arch.name, trace_name=trace.name, tech=tech_, dram=dram, time_ns=time_ns,
        energy_breakdown_pj=breakdown, sram_energy_by_buffer_pj=sram_buf,
        area_breakdown_mm2=area, sram_area_by_buffer_mm2=sram_area, static_power_w=p_static,
        peak_power_w=peak_w, peak_op=peak_op, ops=table, events=_plain(ev_tot),
        tokens=trace_tokens(trace.meta), budget=_plain(verdict), assumptions=assumptions)


def estimate_area(arch: Arch, tech: Any = None, *, cost: Any = None) -> dict[str, Any]:
    """Area and static power of an architecture, without simulating (for quick DSE filters)."""
    cfg = resolve_config(arch, cost)
    tech_ = resolve_tech(cfg, tech)
    assumptions: list[str] = []
    dram = dram_info(arch, cfg, tech_, assumptions)
    area, sram_area, p_static = die_area(arch, tech_, cfg, dram)
    return {"area_mm2": sum(area.values()), "area_breakdown_mm2": area,
            "sram_area_by_buffer_mm2": sram_area, "static_power_w": p_static,
            "assumptions": assumptions}


_SECTIONS: "weakref.WeakKeyDictionary[Any, dict]" = weakref.WeakKeyDictionary()


def cost_section(report) -> dict[str, Any]:
    """What ``Report.to_dict()`` adds: ``energy_pj``, ``energy_breakdown_pj``, ``area_mm2``,
    ``area_breakdown_mm2``, ``avg_power_w`` at the top level and the rest under ``cost``.
    Computed once per report (the default technology and the arch's cost settings)."""
    if report not in _SECTIONS:
        d = estimate(report).to_dict()
        top = {k: d.pop(k) for k in ("energy_pj", "energy_breakdown_pj", "area_mm2",
                                     "area_breakdown_mm2", "avg_power_w")}
        _SECTIONS[report] = {**top, "cost": d}
    return copy.deepcopy(_SECTIONS[report])


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        v = float(value)
        if not math.isfinite(v):
            raise ConfigError(f"non-finite cost value {v}")
        return v
    if isinstance(value, np.bool_):
        return bool(value)
    return value
