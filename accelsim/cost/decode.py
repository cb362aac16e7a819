"""Energy and power of an NPU+PIM decode iteration (``engine.neupims.simulate_decode``).

The NeuPIMs engine counts, per device and decode iteration (``NeuPimsResult.events``):
NPU MACs and vector ops, the host DRAM bytes the NPU moves, PIM MACs (each reads one fp16 KV
element inside its bank) and the bytes of PIM operands and results over the host interface.
They are priced with the same technology file as ``estimate``:

* ``mac``: NPU MACs at the MAC energy of the arch's types; ``pe_overhead``: their PE registers;
* ``vector``: vector ops at the fp32 op energy plus lane register traffic;
* ``dram``: host DRAM bits at the standard's pJ/bit (the cost section / ``hbm`` preset);
* ``pim``: PIM MACs at ``pim.mac_fp16_pj``, their 16 bits each moved to bank-level compute at
  ``pim.bank_pj_per_bit``, and PIM operands / results at ``pim.host_pj_per_bit``;
* ``leakage``: the die's static power (``estimate_area``) over the iteration.

The NPU's SRAM traffic is not counted: the NeuPIMs engine times operators from loop orders, not
tile plans (listed in ``assumptions``).

Example:
    >>> from accelsim.engine.neupims import load_system, simulate_decode, DecodeBatch
    >>> import numpy as np
    >>> system = load_system("neupims")
    >>> batch = DecodeBatch(np.full(64, 256), {})
    >>> e = estimate_decode(simulate_decode(system, batch, model="gpt3-7b"), system)
    >>> e.energy_breakdown_pj["pim"] > 0, e.memory_power_w > 0
    (True, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .model import die_area, dram_info, resolve_config, resolve_tech
from .tech import mac_dtype

DECODE_COMPONENTS = ("mac", "pe_overhead", "vector", "dram", "pim", "leakage")
PIM_BITS_PER_MAC = 16          # one fp16 KV element per MAC


@dataclass
class DecodeEnergy:
    """Energy of one decode iteration on one device. ``to_dict()`` is JSON-ready."""

    system: str
    time_ns: float
    tokens: int
    energy_breakdown_pj: dict[str, float]
    static_power_w: float
    area_mm2: float
    assumptions: list[str] = field(default_factory=list)

    @property
    def energy_pj(self) -> float:
        return float(sum(self.energy_breakdown_pj.values()))

    @property
    def energy_per_token_j(self) -> float:
        return self.energy_pj * 1e-12 / self.tokens

    @property
    def avg_power_w(self) -> float:
        return self.energy_pj * 1e-3 / self.time_ns

    @property
    def memory_power_w(self) -> float:
        """Average power of the memory system: host DRAM traffic plus PIM (the paper's metric)."""
        e = self.energy_breakdown_pj
        return (e["dram"] + e["pim"]) * 1e-3 / self.time_ns

    def to_dict(self) -> dict[str, Any]:
        return {"system": self.system, "time_ns": self.time_ns, "tokens": self.tokens,
                "energy_pj": self.energy_pj, "energy_breakdown_pj": dict(self.energy_breakdown_pj),
                "energy_per_token_j": self.energy_per_token_j, "avg_power_w": self.avg_power_w,
                "memory_power_w": self.memory_power_w, "static_power_w": self.static_power_w,
                "area_mm2": self.area_mm2, "assumptions": list(self.assumptions)}


def estimate_decode(result, system, tech: Any = None, *, cost: Any = None) -> DecodeEnergy:
    """Price ``result`` (a ``NeuPimsResult``) of ``system`` (its ``load_system``)."""
    arch = system.arch
    cfg = resolve_config(arch, cost)
    tech_ = resolve_tech(cfg, tech)
    assumptions = ["NPU SRAM traffic not counted (the NeuPIMs engine has no tile plans)"]
    dram = dram_info(arch, cfg, tech_, assumptions)
    area, _, p_static = die_area(arch, tech_, cfg, dram)
    ev = result.events
    time_ns = result.iteration_ns
    macs = ev["npu_macs"]
    e = {
        "mac": macs * tech_.mac_pj(mac_dtype(arch.dtypes.act, arch.dtypes.weight)),
        "pe_overhead": macs * tech_.pe_register_pj_per_mac(),
        "vector": ev["vector_ops"] * (tech_.vector_op_pj() + tech_.vector_register_pj_per_op()),
        "dram": ev["dram_bytes"] * 8 * dram.pj_per_bit,
        "pim": ev["pim_macs"] * (tech_.pim_mac_pj()
                                 + PIM_BITS_PER_MAC * tech_.pim_pj_per_bit("bank"))
        + ev["pim_host_bytes"] * 8 * tech_.pim_pj_per_bit("host"),
        "leakage": p_static * time_ns * 1e3,
    }
    return DecodeEnergy(result.system, time_ns, result.batch, e, p_static,
                        float(sum(area.values())), assumptions)
