"""The Report: what a simulation produced, as tables (pandas), JSON and console text.

``Report.ops`` has one row per trace row (repeats summed) with these columns (cycles are in the
architecture clock):

=====================  =====================================================================
``unit``               systolic, vector, dma or link
``start_cycle``        when the operator got its unit
``compute_cycles``     cycles the unit needs with data always ready (closed form)
``stall_cycles``       ``total_cycles - compute_cycles``: waiting on memory (or the link)
``total_cycles``       from unit grant to last write-back
``utilization``        MACs (vector: ops) / (total_cycles x PEs (vector: ops per cycle))
``mapping_efficiency`` used PEs / PEs, as SCALE-Sim defines it (systolic only)
``dram_read_bytes``    DRAM -> SRAM bytes the tiling moves (``dram_write_bytes``: back)
``bound``              the resource that sets the simulated time: ``memory`` if moving its DRAM
                       bytes at the memory's sustained bandwidth takes longer than its compute
                       cycles, else ``compute`` (``link`` for collectives). A ``compute`` operator
                       left of the roofline's ridge is limited by how its mapping uses the
                       arrays (low utilization), not by memory; the roofline plot marks each
                       point with this same ``bound``.
``reused``             instances replayed from an identical, already simulated shape
=====================  =====================================================================
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..arch.config import Arch
from ..engine.core import SimResult
from ..units import cycles_to_ps, ps_to_cycles, ps_to_cycles_array, ps_to_ns
from ..workload.trace import OpTrace

OP_COLUMNS = ("op_id", "iter", "stream", "layer", "name", "op_class", "unit", "start_cycle",
              "compute_cycles", "stall_cycles", "total_cycles", "utilization",
              "mapping_efficiency", "flops", "dram_read_bytes", "dram_write_bytes", "bound",
              "reused", "noc_cycles")


class Report:
    """Results of ``accelsim.simulate``: ``.ops`` (DataFrame), ``.summary`` (by op class),
    ``.total_cycles``, ``.total_time_ns``, ``.to_json()``, ``.to_csv()``, ``.table()``."""

    def __init__(self, arch: Arch, trace: OpTrace, result: SimResult, *, fidelity: str):
        self.arch, self.trace, self.result, self.fidelity = arch, trace, result, fidelity
        clock = arch.clock_mhz
        self.total_cycles = ps_to_cycles(result.end_ps, clock)
        self.total_time_ns = ps_to_ns(result.end_ps)
        self.ops = self._op_table()
        self.summary = self._summary()
        from ..workload.footprint import capacity_warning

        memory = arch.build_memory()
        warning = capacity_warning(trace, memory.capacity_bytes)
        #: Problems with the run that do not stop it (e.g. weights + KV exceed memory capacity).
        self.warnings: list[str] = [warning] if warning else []

    # ------------------------------------------------------------------ tables
    def _op_table(self) -> pd.DataFrame:
        # NOTE(perf): vectorised over records and per distinct shape, not per operator
        # (serving runs have >100k operators; scripts/bench_serving.py).
        clock = self.arch.clock_mhz
        res = self.result
        n_rows = len(self.trace.ops)
        fields = list(zip(*((r.row, r.start_ps, r.end_ps, r.compute_cycles, r.dram_read_bytes,
                             r.dram_write_bytes, r.reused) for r in res.records)))
        row, start, end, compute, read, write, reused = (np.array(f, dtype=np.int64)
                                                         for f in fields)
        noc = np.asarray(getattr(res, "record_noc_ps", None) or np.zeros(len(row)), np.int64)
        rows = np.unique(row)

        def per_row(values: np.ndarray) -> np.ndarray:
            out = np.zeros(n_rows, dtype=np.int64)
            np.add.at(out, row, values)
            return out[rows]

        first_start = np.full(n_rows, np.iinfo(np.int64).max)
        np.minimum.at(first_start, row, start)
        busy_ps, compute = per_row(end - start), per_row(compute)
        read, write, reused, noc_ps = per_row(read), per_row(write), per_row(reused), per_row(noc)
        trace = self.trace.ops.iloc[rows]

        # one lookup per distinct shape
        shape_index = {key: j for j, key in enumerate(res.plans)}
        shape_plans = list(res.plans.values())
        ids = np.array([shape_index[res.row_keys[i]] for i in rows], dtype=np.int64)
        mem_bw = self.arch.build_memory().sustained_bandwidth_gbps()
        shape_unit = np.array([p.unit for p in shape_plans], dtype=object)
        shape_work = np.array([p.work for p in shape_plans], dtype=np.float64)
        shape_peak = np.array([p.peak_work_per_cycle for p in shape_plans], dtype=np.float64)
        shape_map = np.array([p.mapping_efficiency for p in shape_plans], dtype=np.float64)
        shape_bound = np.array([_bound(p, mem_bw, clock) for p in shape_plans], dtype=object)

        total = ps_to_cycles_array(busy_ps, clock)
        work = shape_work[ids] * trace["repeat"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            util = np.where(total > 0, work / (total * shape_peak[ids]), 0.0)
        unit = shape_unit[ids]
        util[(unit == "dma") | (unit == "link")] = np.nan
        table = pd.DataFrame({
            "op_id": trace["op_id"].to_numpy(), "iter": trace["iter"].to_numpy(),
            "stream": trace["stream"].to_numpy(), "layer": trace["layer"].to_numpy(),
            "name": trace["name"].to_numpy(), "op_class": trace["op_class"].to_numpy(),
            "unit": unit.astype(str),
            "start_cycle": ps_to_cycles_array(first_start[rows], clock),
            "compute_cycles": compute,
            "stall_cycles": np.maximum(total - compute, 0),
            "total_cycles": total, "utilization": util,
            "mapping_efficiency": shape_map[ids],
            "flops": (trace["flops"] * trace["repeat"]).to_numpy(),
            "dram_read_bytes": read, "dram_write_bytes": write,
            "bound": shape_bound[ids].astype(str), "reused": reused,
            "noc_cycles": ps_to_cycles_array(noc_ps, clock)})
        return table.reset_index(drop=True)

    def _summary(self) -> pd.DataFrame:
        ops = self.ops
        g = ops.groupby("op_class", sort=False)
        summary = pd.DataFrame({
            "ops": g.size(), "total_cycles": g["total_cycles"].sum(),
            "compute_cycles": g["compute_cycles"].sum(), "stall_cycles": g["stall_cycles"].sum(),
            "flops": g["flops"].sum(),
            "dram_bytes": g["dram_read_bytes"].sum() + g["dram_write_bytes"].sum(),
            "memory_bound_ops": g["bound"].apply(lambda b: int((b == "memory").sum()))})
        busy = max(1, int(ops["total_cycles"].sum()))
        summary["share"] = summary["total_cycles"] / busy
        return summary.sort_values("total_cycles", ascending=False, kind="stable")

    # ------------------------------------------------------------------ export
    def _units(self) -> dict[str, dict[str, float]]:
        """Busy cycles and busy fraction of the run, per unit."""
        res, clock = self.result, self.arch.clock_mhz
        return {u: {"busy_cycles": ps_to_cycles(b, clock),
                    "busy_fraction": (b / res.end_ps) if res.end_ps else 0.0}
                for u, b in res.unit_busy_ps.items()}

    def to_dict(self) -> dict[str, Any]:
        res = self.result
        clock = self.arch.clock_mhz
        units = self._units()
        ops = [{k: _plain(v) for k, v in row.items()}
               for row in self.ops.to_dict("records")]
        summary = [{"op_class": k, **{c: _plain(v) for c, v in row.items()}}
                   for k, row in self.summary.to_dict("index").items()]
        out = {
            "accelsim_version": __version__,
            "fidelity": self.fidelity,
            "arch": self.arch.to_dict(),
            "trace": {"name": self.trace.name, "path": self.trace.path, "rows": len(self.trace),
                      "meta": self.trace.meta},
            "clock_mhz": clock,
            "total_cycles": self.total_cycles,
            "total_time_ns": self.total_time_ns,
            "total_flops": int(self.ops["flops"].sum()),
            "dram_read_bytes": int(self.ops["dram_read_bytes"].sum()),
            "dram_write_bytes": int(self.ops["dram_write_bytes"].sum()),
            "reuse": dict(res.reuse),
            "warnings": list(self.warnings),
            "chip": self._chip(),
            "units": units,
            "memory": {k: _plain(v) for k, v in res.memory_stats.items()},
            "summary": summary,
            "ops": ops,
        }
        noc = getattr(res, "noc", None)
        if noc:   # multi-core mesh run (engine/multicore.py, docs/multicore.md)
            out["noc"] = {
                **{k: _plain(v) for k, v in res.mesh.items()},
                **{k: _plain(v) for k, v in noc.items() if k not in ("link_utilization", "noc_ps")},
                "link_utilization": np.round(noc["link_utilization"], 6).tolist(),
                "link_utilization_ports": ["local", "east", "west", "north", "south"],
                "noc_cycles": ps_to_cycles(int(noc["noc_ps"]), clock)}
        from ..cost import cost_section

        out.update(cost_section(self))
        return out

    def to_json(self, path: str | os.PathLike | None = None, *, indent: int | None = 1) -> str:
        """The report as JSON (deterministic: sorted keys, no timestamps); also written to
        ``path`` atomically when given."""
        text = json.dumps(self.to_dict(), indent=indent, sort_keys=True, allow_nan=False) + "\n"
        if path is not None:
            from ..io import atomic_write_text

            atomic_write_text(path, text)
        return text

    def to_csv(self, path: str | os.PathLike) -> None:
        """The per-operator table as CSV (written atomically)."""
        from ..io import atomic_write_text

        atomic_write_text(path, self.ops.to_csv(index=False))

    def plot(self, directory: str | os.PathLike) -> list:
        """Write the roofline, latency-breakdown, utilization and bandwidth plots (PNG).

        The PNGs are drawn into ``DIR.tmp-<pid>`` and swapped in whole (``accelsim.io.staged_dir``),
        so ``directory`` never holds plots of two runs; other files in it are kept."""
        from pathlib import Path

        from ..io import staged_dir
        from .plots import plot_all

        report = self.to_dict()
        with staged_dir(directory) as stage:
            paths = plot_all(report, stage)
            if report.get("noc"):
                from .noc_plots import link_heatmap

                paths.append(link_heatmap(report, stage / "noc_link_utilization.png"))
        return [Path(directory) / Path(p).name for p in paths]

    def write_timeline(self, path: str | os.PathLike) -> None:
        """Write a Chrome/Perfetto trace (needs ``simulate(..., timeline=True)``)."""
        from ..errors import AccelsimError
        from .timeline import write_timeline

        if self.result.timeline is None:
            raise AccelsimError("no timeline was recorded: simulate with timeline=True "
                                "(CLI: --timeline PATH) at full fidelity")
        write_timeline(self.result.timeline, path,
                       title=f"accelsim: {self.trace.name} on {self.arch.name}")

    def _chip(self) -> dict[str, Any]:
        """Whole-chip peaks (every core of a chip or a mesh): what plots draw their roofs from."""
        from ..cost.model import mesh_of

        a = self.arch
        cores = a.cores if a.noc is None else mesh_of(a).cores
        return {"cores": cores, "peak_macs_per_cycle": a.systolic.pes * cores,
                "vector_ops_per_cycle": a.vector.ops_per_cycle * cores,
                "sustained_bandwidth_gbps": _plain(a.build_memory().sustained_bandwidth_gbps())}

    # ------------------------------------------------------------------ console
    def table(self, top: int = 12) -> str:
        """A readable console summary: totals, per-class breakdown, the slowest operators."""
        a, res = self.arch, self.result
        lines = [
            f"accelsim {__version__} | arch {a.name} | trace {self.trace.name} "
            f"({len(self.trace)} ops) | fidelity {self.fidelity}",
            f"total: {self.total_cycles:,} cycles = {self.total_time_ns / 1e3:,.2f} us at "
            f"{a.clock_mhz:g} MHz | {self.ops['flops'].sum() / 1e9:,.2f} GFLOP | DRAM "
            f"{(self.ops['dram_read_bytes'].sum() + self.ops['dram_write_bytes'].sum()) / 1e9:,.3f} GB",
            f"shape reuse: {res.reuse.get('reused', 0)} of {res.reuse.get('operators', 0)} operator "
            f"instances reused ({res.reuse.get('distinct_shapes', 0)} distinct shapes)",
            "unit busy: " + ", ".join(f"{u} {d['busy_fraction']:.1%}"
                                      for u, d in self._units().items()
                                      if d["busy_cycles"]),
            *(f"WARNING: {w}" for w in self.warnings),
            "",
            "by operator class:",
        ]
        s = self.summary.copy()
        s["share"] = (100 * s["share"]).map("{:.1f}%".format)
        s["dram_MB"] = (s.pop("dram_bytes") / 1e6).map("{:,.1f}".format)
        s["flops"] = (s["flops"] / 1e9).map("{:,.2f}".format)
        s = s.rename(columns={"flops": "GFLOP"})
        lines.append(s.to_string())
        lines += ["", f"top {min(top, len(self.ops))} operators by time:"]
        o = self.ops.nlargest(top, "total_cycles", keep="first")[
            ["op_id", "layer", "name", "unit", "total_cycles", "stall_cycles", "utilization",
             "bound"]].copy()
        o["utilization"] = o["utilization"].map(lambda u: "-" if pd.isna(u) else f"{100 * u:.1f}%")
        lines.append(o.to_string(index=False))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<Report {self.arch.name} x {self.trace.name}: {self.total_cycles:,} cycles, "
                f"{len(self.ops)} ops>")


def _bound(plan, bandwidth_gbps: float, clock_mhz: float) -> str:
    """``memory`` if moving the plan's DRAM bytes at ``bandwidth_gbps`` (the memory's sustained
    bandwidth) takes longer than its compute cycles, else ``compute``; ``link`` for collectives."""
    if plan.unit == "link":
        return "link"
    if math.isinf(bandwidth_gbps):
        return "compute"
    traffic_ps = (plan.dram_read_bytes + plan.dram_write_bytes) * 1000 / bandwidth_gbps
    return "memory" if traffic_ps > cycles_to_ps(plan.compute_cycles_total, clock_mhz) else "compute"


def _plain(value: Any) -> Any:
    """numpy scalars -> Python; NaN/inf -> None (JSON has no NaN)."""
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
