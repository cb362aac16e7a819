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
        return class_summary(self.ops)

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
        pim = getattr(res, "pim", None)
        if pim:   # decode attention on PIM channels (engine/pim.py, docs/neupims.md)
            out["pim"] = {k: _plain(v) for k, v in pim.items()}
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
        """A readable console summary: totals, per-class breakdown, the slowest operators (the
        text ``accelsim report`` prints for the saved JSON, from the same function)."""
        return report_table(self.to_dict(), top)

    def __repr__(self) -> str:
        return (f"<Report {self.arch.name} x {self.trace.name}: {self.total_cycles:,} cycles, "
                f"{len(self.ops)} ops>")


def memory_lines(stats: dict[str, Any]) -> list[str]:
    """Bank-level memory figures for the console (``hbm``: row hits, turnarounds, channels)."""
    if "row_hit_frac" not in stats:
        return []
    channels = stats.get("channel_bandwidth_gbps") or [0.0]
    return [f"memory: {stats.get('bandwidth_gbps', 0.0):,.1f} GB/s of "
            f"{stats.get('peak_bandwidth_gbps', 0.0):,.1f} peak | row hits "
            f"{stats['row_hit_frac']:.1%} (misses {stats.get('row_misses', 0):,}, conflicts "
            f"{stats.get('row_conflicts', 0):,}) | read/write turnarounds "
            f"{stats.get('rw_turnarounds', 0):,} | per channel {min(channels):,.1f}-"
            f"{max(channels):,.1f} GB/s | extrapolation error bound "
            f"{stats.get('extrapolation_error_bound_frac', 0.0):.1%}"]


def pim_lines(pim: dict[str, Any] | None) -> list[str]:
    """The console's PIM section: channel busy / MAC-slot utilization and NPU/PIM overlap."""
    if not pim:
        return []
    busy = np.asarray(pim["busy_fraction"], dtype=float)
    util = np.asarray(pim["utilization"], dtype=float)
    return [
        f"PIM ({pim['preset']} {pim['mode']}, scheduler {pim['scheduler']}): {pim['channels']} "
        f"channels, {pim['requests']} requests; channel busy mean {busy.mean():.1%} "
        f"(min {busy.min():.1%}, max {busy.max():.1%}); MAC-slot utilization mean "
        f"{util.mean():.1%} (max {util.max():.1%})",
        f"NPU/PIM overlap: PIM active {pim['pim_active_ps'] / 1e6:,.2f} us, NPU active "
        f"{pim['npu_active_ps'] / 1e6:,.2f} us, both {pim['overlap_ps'] / 1e6:,.2f} us "
        f"({pim['overlap_fraction_of_pim']:.1%} of PIM-active time)"]


def class_summary(ops: pd.DataFrame) -> pd.DataFrame:
    """Per operator class: counts, cycles, FLOPs, DRAM bytes, memory-bound operators, share."""
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


# ---------------------------------------------------------------------- loading a saved report
#: A saved report larger than this is refused before it is parsed (JSON of ~500k operators).
MAX_REPORT_BYTES = 256 * 2**20
_INT_MAX = 2**53       # integers beyond this are not counts a simulation produced


def load_report(path: str | os.PathLike) -> dict[str, Any]:
    """Read a report written by ``Report.to_json`` / ``simulate --json`` and check every field
    that ``report_table`` and the plots read. Anything wrong is an ``AccelsimError`` naming the
    file, the key path and what was expected (never a traceback)."""
    from ..errors import AccelsimError
    from ..io import read_input_bytes

    data = read_input_bytes(path, what="a JSON report file", max_bytes=MAX_REPORT_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AccelsimError(f"{path}: not a JSON report (not UTF-8 text: byte "
                            f"{exc.start})") from None

    def no_constant(name: str):
        raise ValueError(f"{name} is not allowed (a report writes null for missing values)")
    try:
        report = json.loads(text, parse_constant=no_constant)
    except json.JSONDecodeError as exc:
        raise AccelsimError(f"{path}: not a JSON report ({exc})") from None
    except RecursionError:
        raise AccelsimError(f"{path}: not a JSON report (nested too deeply)") from None
    except ValueError as exc:                    # NaN / Infinity, an integer of >4300 digits
        reason = "an integer with too many digits" if "digits" in str(exc) else str(exc)
        raise AccelsimError(f"{path}: not a JSON report ({reason})") from None
    if not isinstance(report, dict):
        raise AccelsimError(f"{path}: not an accelsim report (expected a JSON object, got "
                            f"{_json_kind(report)})")
    missing = [k for k in ("ops", "arch", "clock_mhz", "total_cycles", "total_time_ns", "memory",
                           "trace") if k not in report]
    if missing:
        raise AccelsimError(f"{path}: not an accelsim report (missing {', '.join(missing)})")
    _check_report(report, str(path))
    return report


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}" + ("..." if len(value) > 40 else "")
    return "a list" if isinstance(value, list) else "an object"


def _check_report(report: dict[str, Any], file: str) -> None:
    """Types and ranges of what ``report_table`` and the plots read."""
    from ..engine.core import UNITS
    from ..errors import AccelsimError

    def fail(key: str, expected: str, value: Any):
        raise AccelsimError(f"{file}: {key}: expected {expected}, got {_json_kind(value)}")

    def number(obj: dict, key: str, where: str, *, positive=False, optional=False,
               integer=False) -> None:
        value = obj.get(key)
        if value is None and optional:
            return
        kind = "an integer" if integer else "a number"
        bound = " > 0" if positive else " >= 0"
        ok = (isinstance(value, int) if integer else isinstance(value, (int, float))) \
            and not isinstance(value, bool)
        if ok and isinstance(value, float) and not math.isfinite(value):
            ok = False
        if ok and (value < 0 or (positive and value == 0) or abs(value) > _INT_MAX):
            ok = False
        if not ok:
            fail(f"{where}{key}", f"{kind}{bound}" + (" or null" if optional else ""), value)

    def mapping(obj: dict, key: str, where: str = "") -> dict:
        value = obj.get(key)
        if not isinstance(value, dict):
            fail(f"{where}{key}", "an object", value)
        return value

    def text(obj: dict, key: str, where: str, *, optional=False) -> None:
        value = obj.get(key)
        if not (isinstance(value, str) or (optional and value is None)):
            fail(f"{where}{key}", "a string", value)

    number(report, "clock_mhz", "", positive=True)
    if report["clock_mhz"] > 1e6:
        raise AccelsimError(f"{file}: clock_mhz: expected at most 1e6 MHz, got "
                            f"{report['clock_mhz']!r}")
    number(report, "total_cycles", "", integer=True)
    number(report, "total_time_ns", "")
    arch, trace, memory = mapping(report, "arch"), mapping(report, "trace"), \
        mapping(report, "memory")
    text(arch, "name", "arch.")
    text(trace, "name", "trace.")
    number(memory, "peak_bandwidth_gbps", "memory.", optional=True)
    if report.get("chip") is not None:
        chip = mapping(report, "chip")
        number(chip, "peak_macs_per_cycle", "chip.", positive=True)
        number(chip, "vector_ops_per_cycle", "chip.", positive=True)
    else:
        for unit, keys in (("systolic", ("rows", "cols")),
                           ("vector", ("lanes", "ops_per_lane_per_cycle"))):
            block = mapping(arch, unit, "arch.")
            for key in keys:
                number(block, key, f"arch.{unit}.", positive=True)
    ops = report["ops"]
    if not isinstance(ops, list):
        fail("ops", "a list of operator rows", ops)
    if not ops:
        raise AccelsimError(f"{file}: ops: expected at least one operator row, got an empty list")
    for i, op in enumerate(ops):
        where = f"ops[{i}]."
        if not isinstance(op, dict):
            fail(f"ops[{i}]", "an object", op)
        for key in ("op_class", "name", "bound"):
            text(op, key, where)
        if op.get("unit") not in UNITS:
            fail(f"{where}unit", f"one of {', '.join(UNITS)}", op.get("unit"))
        for key in ("start_cycle", "total_cycles", "compute_cycles", "stall_cycles",
                    "dram_read_bytes", "dram_write_bytes"):
            number(op, key, where, integer=True)
        number(op, "flops", where)
        number(op, "utilization", where, optional=True)
        for key in ("op_id", "layer"):
            if not isinstance(op.get(key), int) or isinstance(op.get(key), bool) \
                    or abs(op[key]) > _INT_MAX:
                fail(f"{where}{key}", "an integer", op.get(key))
    units = report.get("units", {})
    if not isinstance(units, dict):
        fail("units", "an object", units)
    for unit, d in units.items():
        if not isinstance(d, dict):
            fail(f"units.{unit}", "an object", d)
        number(d, "busy_cycles", f"units.{unit}.", integer=True)
        number(d, "busy_fraction", f"units.{unit}.")
    reuse = report.get("reuse", {})
    if not isinstance(reuse, dict):
        fail("reuse", "an object", reuse)
    for key in ("reused", "operators", "distinct_shapes"):
        number(reuse, key, "reuse.", integer=True, optional=True)
    warnings = report.get("warnings", [])
    if not (isinstance(warnings, list) and all(isinstance(w, str) for w in warnings)):
        fail("warnings", "a list of strings", warnings)
    text(report, "fidelity", "", optional=True)
    text(report, "accelsim_version", "", optional=True)


def report_table(report: dict[str, Any], top: int = 12) -> str:
    """``Report.table`` for a loaded report (``load_report``): the same console text."""
    from ..engine.core import UNITS

    ops = pd.DataFrame(report["ops"], columns=list(OP_COLUMNS))
    ops["utilization"] = ops["utilization"].astype(float)   # null -> NaN
    summary = class_summary(ops)
    units = report.get("units", {})
    order = [u for u in UNITS if u in units] + sorted(u for u in units if u not in UNITS)
    reuse, trace = report.get("reuse", {}), report["trace"]
    clock = report["clock_mhz"]
    time_ns = report.get("total_time_ns")
    if time_ns is None:
        time_ns = report["total_cycles"] * 1e3 / clock
    lines = [
        f"accelsim {report.get('accelsim_version') or __version__} | arch "
        f"{report['arch']['name']} | trace {trace['name']} "
        f"({trace.get('rows', len(ops))} ops) | fidelity {report.get('fidelity') or '?'}",
        f"total: {report['total_cycles']:,} cycles = {time_ns / 1e3:,.2f} us at "
        f"{clock:g} MHz | {ops['flops'].sum() / 1e9:,.2f} GFLOP | DRAM "
        f"{(ops['dram_read_bytes'].sum() + ops['dram_write_bytes'].sum()) / 1e9:,.3f} GB",
        f"shape reuse: {reuse.get('reused', 0)} of {reuse.get('operators', 0)} operator "
        f"instances reused ({reuse.get('distinct_shapes', 0)} distinct shapes)",
        "unit busy: " + ", ".join(f"{u} {units[u]['busy_fraction']:.1%}"
                                  for u in order if units[u]["busy_cycles"]),
        *memory_lines(report.get("memory", {})),
        *pim_lines(report.get("pim")),
        *(f"WARNING: {w}" for w in report.get("warnings", [])),
        "",
        "by operator class:",
    ]
    s = summary.copy()
    s["share"] = (100 * s["share"]).map("{:.1f}%".format)
    s["dram_MB"] = (s.pop("dram_bytes") / 1e6).map("{:,.1f}".format)
    s["flops"] = (s["flops"] / 1e9).map("{:,.2f}".format)
    s = s.rename(columns={"flops": "GFLOP"})
    lines.append(s.to_string())
    lines += ["", f"top {min(top, len(ops))} operators by time:"]
    o = ops.nlargest(top, "total_cycles", keep="first")[
        ["op_id", "layer", "name", "unit", "total_cycles", "stall_cycles", "utilization",
         "bound"]].copy()
    o["utilization"] = o["utilization"].map(lambda u: "-" if pd.isna(u) else f"{100 * u:.1f}%")
    lines.append(o.to_string(index=False))
    return "\n".join(lines)
