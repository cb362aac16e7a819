"""Measured silicon: per-kind error of a GPU preset against kernels timed on the real chip.

``reference/silicon/<chip>_kernels.csv`` (``docs/silicon.md``; ``scripts/measure_gpu.py`` writes
the same schema) holds median latencies of eager PyTorch calls. Each row becomes a small trace
(one GEMM, one attention, one vector op, or the rows of one Llama-2-7B decoder layer), simulated
on the preset named in ``CHIPS``; the launch costs are part of the preset, since the measurement
includes them. Only kernels that take at least ``MIN_US`` are scored (below that the launch
dominates). Every kind's mean absolute percentage error is compared with a roofline null model,
``max(flops / peak, bytes / peak bandwidth)`` from the datasheet, which a comparison must beat to
mean anything. Prefill decoder-layer rows are scored one by one; decode-layer rows copy the whole
KV cache with ``torch.cat`` (which servers avoid), so they only bound the simulation from above.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import Row, register_validation

#: kernel file -> (arch preset, datasheet peak dense bf16 TFLOPS, peak HBM GB/s)
CHIPS = {"h100_kernels.csv": ("h100_like", 989.4, 3350.0),
         "h200_kernels.csv": ("h200_like", 989.4, 4800.0)}
MIN_US = 60.0
GOALS = {"gemm": 10.0, "attn_decode": 15.0, "attn_prefill": 15.0, "vector": 25.0}
LAYER_GOAL = 20.0


@dataclass(frozen=True)
class Kernel:
    kind: str
    name: str
    dims: dict
    flops: int
    nbytes: int
    median_us: float


def read_kernels(path: Path) -> list[Kernel]:
    with open(path, newline="", encoding="utf-8") as f:
        out = []
        for r in csv.DictReader(f):
            dims = {k: int(v) for k, v in (kv.split("=") for kv in r["dims"].split(";"))}
            out.append(Kernel(r["kind"], r["name"], dims, int(r["flops"]), int(r["bytes"]),
                              float(r["median_us"])))
    return out


def kernel_trace(k: Kernel):
    """The trace of one measured row (and the arch overrides it needs)."""
    from ..workload.generate import generate_trace
    from ..workload.layers import Builder
    from ..workload.trace import from_records

    b = Builder({"act": "bf16", "weight": "bf16", "kv": "bf16"})
    d = k.dims
    overrides: list[str] = []
    if k.kind == "gemm":
        b.gemm(0, k.name, d["M"], d["K"], d["N"])
    elif k.kind == "attn_decode":
        b.attention(0, d["B"], 1, d["L"], q_heads=d["H"], kv_heads=d["Hkv"], head_dim=d["D"],
                    causal=False)
        if k.name == "unfused":
            overrides.append("mapping.attention=unfused")
    elif k.kind == "attn_prefill":
        b.attention(0, d["B"], d["L"], d["L"], q_heads=d["H"], kv_heads=d["H"], head_dim=d["D"],
                    causal=True)
    elif k.kind == "vector":
        op_class, flops = {"rmsnorm": ("norm", 4), "silu": ("activation", 4),
                           "softmax": ("softmax", 5)}[k.name]
        b.vector(0, k.name, op_class, d["M"] * d["N"], flops)
    elif k.kind == "layer":
        if d["T"] > 1:
            t = generate_trace("llama2-7b", "prefill", batch=d["B"], seq_len=d["T"], layers=1)
        else:
            t = generate_trace("llama2-7b", "decode", batch=d["B"], context=d["ctx"] + 1,
                               layers=1)
        rows = t.ops[t.ops.layer == 0].to_dict("records")   # no embedding / lm_head
        return from_records(rows, {"name": f"layer {k.dims}"}), overrides
    else:
        raise ValueError(f"unknown kernel kind {k.kind!r}")
    return from_records(b.rows, {"name": f"{k.kind} {k.name}"}), overrides


@lru_cache(maxsize=8)
def _arch(preset: str, overrides: tuple[str, ...]):
    from ..arch.config import load_arch

    return load_arch(preset, overrides=list(overrides))


def simulated_us(k: Kernel, preset: str, overrides: tuple[str, ...] = ()) -> float:
    from ..api import simulate

    trace, extra = kernel_trace(k)
    arch = _arch(preset, tuple(overrides) + tuple(extra))
    return simulate(arch, trace, progress=False).total_time_ns / 1e3


def roofline_us(k: Kernel, peak_tflops: float, peak_gbps: float) -> float:
    return max(k.flops / (peak_tflops * 1e6), k.nbytes / (peak_gbps * 1e3))


def compare(path: Path, quick: bool = False, overrides: tuple[str, ...] = ()) -> list[dict]:
    """One dict per scored kernel: kind, name, dims, measured, simulated and roofline µs
    (``overrides``: ``--set`` strings applied to the preset, for ablations)."""
    preset, peak_tf, peak_bw = CHIPS.get(path.name, (None, 0, 0))
    if preset is None:
        raise ValueError(f"{path}: no preset for this chip (known: {', '.join(CHIPS)})")
    kernels = [k for k in read_kernels(path) if k.median_us >= MIN_US]
    # quick: every other GEMM (the rest takes ~2 s in all, so it runs in full)
    kernels = [k for i, k in enumerate(kernels) if not quick or k.kind != "gemm" or i % 2 == 0]
    out = []
    for k in kernels:
        out.append({"kind": k.kind, "name": k.name, "dims": k.dims, "measured_us": k.median_us,
                    "simulated_us": simulated_us(k, preset, overrides),
                    "roofline_us": roofline_us(k, peak_tf, peak_bw) if k.flops else math.nan})
    return out


def _mape(rows: list[dict], key: str) -> float:
    return 100 * sum(abs(r[key] / r["measured_us"] - 1) for r in rows) / len(rows)


def kernel_files(reference_dir: Path) -> list[tuple[Path, str]]:
    """(file, label) of every measured-kernel file: the reference data's ``silicon/`` and the
    chips measured with ``scripts/measure_gpu.py`` in this repository (``docs/silicon/``)."""
    from ..paths import data_root

    found = []
    for folder, label in ((Path(reference_dir) / "silicon", "silicon/{}"),
                          (data_root() / "docs" / "silicon", "docs/silicon/{} (measured here)")):
        for name in CHIPS:
            if (folder / name).exists():
                found.append((folder / name, label.format(name)))
    return found


@register_validation("silicon", "GPU presets against kernels measured on the real chip")
def check(reference_dir: Path, quick: bool) -> list[Row]:
    rows: list[Row] = []
    for path, ref in kernel_files(reference_dir):
        name = path.name
        preset = CHIPS[name][0]
        results = compare(path, quick)
        for kind, goal in GOALS.items():
            group = [r for r in results if r["kind"] == kind]
            if not group:
                continue
            ours, null = _mape(group, "simulated_us"), _mape(group, "roofline_us")
            rows.append(Row(preset, ref, f"{kind} MAPE, {len(group)} kernels >= {MIN_US:g} us "
                            f"(roofline null model: {null:.1f} %)", round(ours, 2), 0.0,
                            round(ours, 2), f"<= {goal:g} %", ours <= goal))
        for r in (r for r in results if r["kind"] == "layer"):
            d = r["dims"]
            label = f"llama2-7b layer B={d['B']} T={d['T']} ctx={d['ctx']} (us)"
            err = 100 * (r["simulated_us"] / r["measured_us"] - 1)
            if d["T"] > 1:
                rows.append(Row(preset, ref, label, round(r["simulated_us"], 1),
                                r["measured_us"], round(err, 2), f"within {LAYER_GOAL:g} %",
                                abs(err) <= LAYER_GOAL))
            else:
                rows.append(Row(preset, ref, label + ", upper bound (torch.cat copies the cache)",
                                round(r["simulated_us"], 1), r["measured_us"], round(err, 2),
                                "<= measured", err <= 0))
    return rows
