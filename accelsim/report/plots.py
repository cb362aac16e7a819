"""Plots of a report (matplotlib, PNG): roofline, latency breakdown by operator class and layer,
unit utilization over time, memory bandwidth over time.

Every function takes the report as a dict (``Report.to_dict()`` or a loaded ``--json`` file), so
``accelsim report run.json --plots DIR`` and ``Report.plot(DIR)`` draw the same pictures.
Over-time plots spread each operator's work and DRAM bytes evenly over its interval (the report
keeps operators, not tiles), binned into ~200 intervals.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AccelsimError

UNIT_COLORS = {"systolic": "#1f77b4", "vector": "#ff7f0e", "dma": "#2ca02c", "link": "#d62728"}
BOUND_MARKERS = {"compute": "o", "memory": "^", "link": "s"}


def _plt():
    try:
        import matplotlib
    except ImportError:
        raise AccelsimError("plots need matplotlib: pip install 'accelsim[plots]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _peaks(report: dict[str, Any]) -> dict[str, float]:
    """Whole-chip roofs: the report's ``chip`` section (every core of a chip or a mesh); reports
    written before it existed fall back to the arch section (one core unless ``cores``)."""
    arch = report["arch"]
    clock_hz = report["clock_mhz"] * 1e6
    chip = report.get("chip")
    if chip:
        return {"systolic_flops": 2 * chip["peak_macs_per_cycle"] * clock_hz,
                "vector_flops": chip["vector_ops_per_cycle"] * clock_hz,
                "bandwidth_bytes": (report["memory"].get("peak_bandwidth_gbps") or 0) * 1e9}
    sa, vu = arch["systolic"], arch["vector"]
    cores = arch.get("cores", 1) or 1                  # systolic / vector describe one core
    pes = sa["rows"] * sa["cols"] * sa.get("count", 1) * cores
    return {"systolic_flops": 2 * pes * clock_hz,
            "vector_flops": vu["lanes"] * vu["ops_per_lane_per_cycle"] * cores * clock_hz,
            "bandwidth_bytes": (report["memory"].get("peak_bandwidth_gbps") or 0) * 1e9}


def roofline(report: dict[str, Any], path: str | os.PathLike) -> Path:
    """Each operator shape at its arithmetic intensity (FLOP per DRAM byte) and achieved FLOP/s,
    under the compute roofs (systolic, vector) and the memory roof."""
    plt = _plt()
    peaks = _peaks(report)
    clock_hz = report["clock_mhz"] * 1e6
    points: dict[tuple, list[float]] = {}
    for op in report["ops"]:
        traffic = op["dram_read_bytes"] + op["dram_write_bytes"]
        if op["flops"] <= 0 or traffic <= 0 or op["total_cycles"] <= 0:
            continue
        key = (op["op_class"], op["name"], op["unit"])
        p = points.setdefault(key, [0.0, 0.0, 0.0, {}])
        p[0] += op["flops"]
        p[1] += traffic
        p[2] += op["total_cycles"] / clock_hz
        bound = op.get("bound", "compute")
        p[3][bound] = p[3].get(bound, 0.0) + op["total_cycles"]
    fig, ax = plt.subplots(figsize=(8, 5.5))
    if points:
        ai = np.array([p[0] / p[1] for p in points.values()])
        perf = np.array([p[0] / p[2] for p in points.values()])
        right = max(ai.max() * 4, 10)
        bw = peaks["bandwidth_bytes"]
        if bw and np.isfinite(bw):       # show the ridge point and the flat compute roof
            right = max(right, 4 * peaks["systolic_flops"] / bw)
        x = np.logspace(np.log10(max(min(ai.min() / 4, 0.1), 1e-3)), np.log10(right), 200)
    else:
        x = np.logspace(-2, 3, 200)
    bw = peaks["bandwidth_bytes"]
    for roof, label, style in ((peaks["systolic_flops"], "systolic peak", "-"),
                               (peaks["vector_flops"], "vector peak", "--")):
        y = np.minimum(roof, bw * x) if bw and np.isfinite(bw) else np.full_like(x, roof)
        ax.plot(x, y, style, color="black", lw=1.2, label=f"{label} ({roof / 1e12:.2f} TFLOP/s)")
    total_time = sum(p[2] for p in points.values()) or 1.0
    labelled: list[tuple[float, float, list[str]]] = []
    for (op_class, name, unit), p in sorted(points.items(), key=lambda kv: -kv[1][2]):
        x0, y0 = p[0] / p[1], p[0] / p[2]
        bound = max(p[3], key=p[3].get) if p[3] else "compute"   # most of its time
        ax.scatter(x0, y0, s=20 + 400 * p[2] / total_time, marker=BOUND_MARKERS.get(bound, "o"),
                   color=UNIT_COLORS.get(unit, "gray"), alpha=0.7, edgecolor="black", lw=0.5)
        near = next((l for l in labelled if abs(np.log10(x0 / l[0])) < 0.08
                     and abs(np.log10(y0 / l[1])) < 0.08), None)
        if near is None:
            labelled.append((x0, y0, [name]))
        else:
            near[2].append(name)
    for x0, y0, names in labelled:       # one label per cluster of nearby points
        text = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
        ax.annotate(text, (x0, y0), fontsize=7, xytext=(5, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP / DRAM byte)")
    ax.set_ylabel("achieved FLOP/s")
    mem = f"{bw / 1e9:,.0f} GB/s" if bw and np.isfinite(bw) else "unbounded"
    ax.set_title(f"Roofline: {report['trace']['name']} on {report['arch']['name']} (memory {mem})",
                 fontsize=10)
    for unit in sorted({key[2] for key in points}, key=list(UNIT_COLORS).index):
        ax.scatter([], [], color=UNIT_COLORS[unit], label=f"{unit} operators (area ~ time)")
    for bound in sorted({b for p in points.values() for b in p[3]}):
        ax.scatter([], [], color="white", edgecolor="black", marker=BOUND_MARKERS.get(bound, "o"),
                   label=f"bound: {bound} (report's bound column)")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(True, which="both", alpha=0.3)
    return _save(fig, path)


def latency_breakdown(report: dict[str, Any], path: str | os.PathLike) -> Path:
    """Time by operator class (bar) and by layer, stacked by class."""
    plt = _plt()
    ops = report["ops"]
    classes = sorted({op["op_class"] for op in ops},
                     key=lambda c: -sum(o["total_cycles"] for o in ops if o["op_class"] == c))
    layers = sorted({op["layer"] for op in ops})
    per = {c: np.zeros(len(layers)) for c in classes}
    index = {layer: i for i, layer in enumerate(layers)}
    for op in ops:
        per[op["op_class"]][index[op["layer"]]] += op["total_cycles"]
    to_us = 1e-3 / (report["clock_mhz"] / 1e3)          # cycles -> us
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5),
                                      gridspec_kw={"width_ratios": [1, 2.2]})
    totals = [per[c].sum() * to_us for c in classes]
    left.barh(classes[::-1], totals[::-1], color="#4c72b0")
    left.set_xlabel("time (us)")
    left.set_title("by operator class", fontsize=10)
    bottom = np.zeros(len(layers))
    cmap = plt.get_cmap("tab20")
    for i, c in enumerate(classes):
        right.bar(range(len(layers)), per[c] * to_us, bottom=bottom, label=c, color=cmap(i % 20))
        bottom += per[c] * to_us
    right.set_xticks(range(len(layers)))
    right.set_xticklabels(["pre/post" if l < 0 else str(l) for l in layers], fontsize=7,
                          rotation=90 if len(layers) > 24 else 0)
    right.set_xlabel("layer")
    right.set_ylabel("time (us)")
    right.set_title("by layer", fontsize=10)
    right.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(f"Latency breakdown: {report['trace']['name']} on {report['arch']['name']} "
                 f"({report['total_time_ns'] / 1e3:,.1f} us)", fontsize=11)
    return _save(fig, path)


def _bins(report: dict[str, Any], n: int = 200) -> tuple[np.ndarray, float]:
    total = max(1, report["total_cycles"])
    edges = np.linspace(0, total, n + 1)
    return edges, edges[1] - edges[0]


def _spread(edges: np.ndarray, start: float, length: float, amount: float) -> np.ndarray:
    """Spread ``amount`` evenly over [start, start+length) into the bins given by ``edges``."""
    out = np.zeros(len(edges) - 1)
    if length <= 0:
        i = min(np.searchsorted(edges, start, side="right") - 1, len(out) - 1)
        out[max(i, 0)] += amount
        return out
    lo, hi = edges[:-1], edges[1:]
    overlap = np.clip(np.minimum(hi, start + length) - np.maximum(lo, start), 0, None)
    return overlap / length * amount


def utilization_over_time(report: dict[str, Any], path: str | os.PathLike) -> Path:
    """Per unit: fraction of each interval the unit was busy, and the systolic MAC utilization."""
    plt = _plt()
    edges, width = _bins(report)
    pes = _peaks(report)["systolic_flops"] / 2 / (report["clock_mhz"] * 1e6)
    busy = {u: np.zeros(len(edges) - 1) for u in UNIT_COLORS}
    macs = np.zeros(len(edges) - 1)
    for op in report["ops"]:
        busy[op["unit"]] += _spread(edges, op["start_cycle"], op["total_cycles"], op["total_cycles"])
        if op["unit"] == "systolic":
            macs += _spread(edges, op["start_cycle"], op["total_cycles"], op["flops"] / 2)
    t = (edges[:-1] + width / 2) / report["clock_mhz"]          # us
    fig, ax = plt.subplots(figsize=(10, 4))
    for unit, series in busy.items():
        if series.any():
            ax.plot(t, np.minimum(series / width, 1.0), label=f"{unit} busy",
                    color=UNIT_COLORS[unit], lw=1.2)
    ax.plot(t, macs / (width * pes), label="systolic MAC utilization", color="black", lw=1,
            ls="--")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("time (us)")
    ax.set_ylabel("fraction")
    ax.set_title(f"Unit utilization over time: {report['trace']['name']} on {report['arch']['name']}",
                 fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def bandwidth_over_time(report: dict[str, Any], path: str | os.PathLike) -> Path:
    """DRAM read and write bandwidth over time against the peak."""
    plt = _plt()
    edges, width = _bins(report)
    reads, writes = np.zeros(len(edges) - 1), np.zeros(len(edges) - 1)
    for op in report["ops"]:
        reads += _spread(edges, op["start_cycle"], op["total_cycles"], op["dram_read_bytes"])
        writes += _spread(edges, op["start_cycle"], op["total_cycles"], op["dram_write_bytes"])
    seconds = width / (report["clock_mhz"] * 1e6)
    t = (edges[:-1] + width / 2) / report["clock_mhz"]
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.stackplot(t, reads / seconds / 1e9, writes / seconds / 1e9, labels=["read", "write"],
                 colors=["#4c72b0", "#dd8452"], alpha=0.8)
    peak = report["memory"].get("peak_bandwidth_gbps")
    if peak and np.isfinite(peak):
        ax.axhline(peak, color="black", ls="--", lw=1, label=f"peak {peak:,.0f} GB/s")
    ax.set_xlabel("time (us)")
    ax.set_ylabel("DRAM bandwidth (GB/s)")
    ax.set_title(f"Memory bandwidth over time: {report['trace']['name']} on "
                 f"{report['arch']['name']}", fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


PLOTS = {"roofline": roofline, "latency_breakdown": latency_breakdown,
         "utilization_over_time": utilization_over_time,
         "bandwidth_over_time": bandwidth_over_time}


def plot_all(report: dict[str, Any], directory: str | os.PathLike) -> list[Path]:
    """Write every plot as ``DIR/<name>.png``; returns the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return [func(report, directory / f"{name}.png") for name, func in PLOTS.items()]


def _save(fig, path: str | os.PathLike) -> Path:
    import matplotlib.pyplot as plt

    path = Path(path)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path
