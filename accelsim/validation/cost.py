"""Cost model vs published chips: modelled die area and full-load power of the A100, H100 and
TPU v4-like presets, against ``reference/energy/reference_designs.csv`` (``accelsim validate``).

Full load, defined honestly: one dense bf16 GEMM, M = K = 8192 and N a multiple of
``count x cols`` near 8192, so every array is busy (compute bound, > 99 % utilization in the
simulator); power = its simulated energy / its simulated time (DRAM traffic, SRAM traffic and
leakage included). TDP is the budget for exactly this kind of sustained peak. Nothing here is
fitted: the technology file's defaults are used as they are.

Each preset's ``cost:`` section carries its published facts: node, DRAM standard and stacks, I/O
PHYs, and for the GPUs the ``die:`` block (SMs on the die vs enabled, per-SM register file,
front end and ALUs, physical L2 and HBM sites; NVIDIA's A100 / H100 whitepapers).
``area_sensitivity`` shows how much of the area each part of that block carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from . import Row, register_validation

AREA_GOAL = 0.20                 # |modelled / published - 1| <= 20 %
POWER_GOAL = (0.40, 1.00)        # 40 % of TDP <= modelled full-load power <= TDP


@dataclass(frozen=True)
class Chip:
    preset: str                  # cost settings: the preset's cost: section
    reference: str               # component name in reference_designs.csv
    die_mm2: float | None        # published die area (None: not published)
    note: str = ""


CHIPS = (
    Chip("a100_like", "NVIDIA A100 SXM4", 826.0, "TSMC N7; 5 active HBM2 stacks; 12 NVLink3 links, PCIe 4 x16"),
    Chip("h100_like", "NVIDIA H100 SXM5", 814.0, "TSMC 4N (5 nm class; the 4 nm factors are assumptions); 5 active HBM3 stacks; "
                "18 NVLink4 links, PCIe 5 x16"),
    Chip("tpuv4_like", "Google TPU v4", None, "7 nm; HBM2 (4 stacks assumed from 1.2 TB/s); ICI PHYs not modelled; "
               "die area not in the reference data"),
)


def published(reference_dir: Path) -> pd.DataFrame:
    return pd.read_csv(reference_dir / "energy" / "reference_designs.csv")


def _value(ref: pd.DataFrame, component: str, metric_word: str) -> float:
    rows = ref[(ref["component"] == component) & ref["metric"].str.contains(metric_word)]
    return float(rows.iloc[0]["value"])


def full_load_trace(arch, *, quick: bool = False):
    """The compute-bound GEMM that defines full load for ``arch`` (see module docstring)."""
    from ..workload.trace import from_records

    size = 4096 if quick else 8192
    unit = arch.systolic.count * arch.systolic.cols
    M = K = size
    N = unit * max(1, round(size / unit))
    b = 2                                                     # bf16
    return from_records([dict(op_id=0, layer=0, phase="prefill", name="full_load_gemm",
                              op_class="gemm", M=M, K=K, N=N, flops=2 * M * K * N,
                              bytes_weight=K * N * b, bytes_act_in=M * K * b,
                              bytes_act_out=M * N * b, bytes_kv_read=0, bytes_kv_write=0,
                              dtype_act="bf16", dtype_weight="bf16", dtype_kv="bf16")],
                        {"name": f"full_load_gemm_{M}x{K}x{N}", "phase": "prefill", "batch": 1,
                         "seq_len": M})


def evaluate_chip(chip: Chip, reference_dir: Path, *, quick: bool = False) -> dict[str, Any]:
    """Modelled vs published figures for one chip (what the script and the rows print)."""
    from ..api import load_arch, simulate
    from ..cost import estimate

    ref = published(reference_dir)
    tdp = _value(ref, chip.reference, "TDP|power")
    arch = load_arch(chip.preset)
    report = simulate(arch, full_load_trace(arch, quick=quick), fidelity="analytical",
                      progress=False)
    cost = estimate(report, budget={"power_w": tdp, **(
        {"area_mm2": chip.die_mm2} if chip.die_mm2 else {})})
    util = float(report.ops["utilization"].iloc[0])
    return {"preset": chip.preset, "reference": chip.reference, "note": chip.note,
            "node_nm": cost.tech.node_nm, "die_mm2": chip.die_mm2, "area_mm2": cost.area_mm2,
            "area_breakdown_mm2": cost.area_breakdown_mm2, "tdp_w": tdp,
            "power_w": cost.avg_power_w, "energy_breakdown_pj": cost.energy_breakdown_pj,
            "time_ns": cost.time_ns, "utilization": util, "trace": report.trace.name,
            "static_power_w": cost.static_power_w, "budget": cost.budget}


# what each variant changes in a preset's cost.die block (area_sensitivity)
_PHYSICAL_KEYS = ("physical_cores", "physical_shared_sram_kib", "physical_dram_stacks")
SENSITIVITY = {
    "enabled units only (no fused-off SMs, L2, HBM sites)":
        lambda die: {k: v for k, v in die.items() if k not in _PHYSICAL_KEYS},
    "SRAM priced as scratchpad, not cache":
        lambda die: {**die, "sram": "scratchpad"},
    "no per-SM register file, front end, FP64/INT32 ALUs, crossbar port":
        lambda die: {**die, "per_core": {k: v for k, v in die.get("per_core", {}).items()
                                         if k == "sram_kib"}},
}


def area_sensitivity(preset: str) -> dict[str, float]:
    """Modelled area (mm2) of ``preset`` as shipped, with each ``SENSITIVITY`` change to its
    ``cost.die`` block, and without the block. Empty when the preset has no ``die``."""
    from ..api import load_arch
    from ..cost import estimate_area

    arch = load_arch(preset)
    cost = dict(arch.cost or {})
    die = cost.get("die")
    if not die:
        return {}
    out = {"as shipped": estimate_area(arch)["area_mm2"]}
    for label, change in SENSITIVITY.items():
        out[label] = estimate_area(arch, cost={**cost, "die": change(dict(die))})["area_mm2"]
    without = {k: v for k, v in cost.items() if k != "die"}
    out["no die block at all"] = estimate_area(arch, cost=without)["area_mm2"]
    return out


@register_validation("cost", "modelled die area and full-load power vs published A100 / H100 / "
                             "TPU v4 (reference_designs.csv)")
def check(reference_dir: Path, quick: bool) -> list[Row]:
    rows = []
    for chip in CHIPS:
        r = evaluate_chip(chip, reference_dir, quick=quick)
        if chip.die_mm2:
            err = r["area_mm2"] / chip.die_mm2 - 1
            rows.append(Row("cost", f"{chip.reference} die", f"{chip.preset} area mm2",
                            r["area_mm2"], chip.die_mm2, err, f"|err| <= {AREA_GOAL:.0%}",
                            abs(err) <= AREA_GOAL))
        frac = r["power_w"] / r["tdp_w"]
        rows.append(Row("cost", f"{chip.reference} TDP",
                        f"{chip.preset} full-load power W (fraction of TDP)", r["power_w"],
                        r["tdp_w"], frac, f"{POWER_GOAL[0]:.0%}..{POWER_GOAL[1]:.0%} of TDP",
                        POWER_GOAL[0] <= frac <= POWER_GOAL[1]))
    return rows
