#!/usr/bin/env python
"""Write the README's Speed table from the benchmark scripts' ``--json`` figures (never typed).

Runs every benchmark in its own process (``sys.executable``), reads the JSON each writes and
replaces the text between ``<!-- speed:start -->`` and ``<!-- speed:end -->`` in README.md:
one row per figure group (what | command | measured | goal | met) and a footer with the date,
CPU count and Python version. A goal that is not met says so in the ``met`` column.

Usage: python scripts/update_readme_speed.py [--quick] [--print]
    --quick   the benchmarks' reduced-size options where they have one (the footer says so)
    --print   print the table instead of writing README.md
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
START, END = "<!-- speed:start -->", "<!-- speed:end -->"

# benchmark -> (script, reduced-size options used by --quick)
BENCHMARKS: dict[str, tuple[str, list[str]]] = {
    "bench_sim": ("scripts/bench_sim.py", ["--repeat", "1"]),
    "bench_serving": ("scripts/bench_serving.py", []),
    "bench_serve": ("scripts/bench_serve.py", ["--duration", "600"]),
    "bench_dram": ("scripts/bench_dram.py", ["--requests", "200000", "--repeat", "1"]),
    "bench_noc": ("scripts/bench_noc.py", []),
    "multicore_scaling": ("scripts/multicore_scaling.py", []),
    "bench_dse": ("scripts/bench_dse.py", ["--n", "21", "--n-full", "3"]),
    "reproduce_neupims": ("scripts/reproduce_neupims.py", ["--quick"]),
}

SYMBOL = {">=": "≥", "<=": "≤"}


# ---------------------------------------------------------------- formatting of one figure
def sig(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits (never fewer integer digits), thousands separated."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    text = f"{x:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt(value: float, unit: str) -> str:
    """A figure with its unit, as the table shows it."""
    if unit == "s":
        return f"{sig(value, 2 if abs(value) < 1 else 3)} s"
    if unit == "ms":
        return f"{sig(value, 2)} ms"
    if unit == "x":
        return f"{sig(value)}×"
    if unit.endswith("/s"):                   # requests/s, flit-hops/s, evaluations/s
        return f"{sig(value / 1e6)} M/s" if abs(value) >= 1e6 else f"{sig(value)}/s"
    if unit == "count":
        return f"{value:,.0f}"
    return f"{sig(value)} {unit}"


def fmt_goal(goal: dict, unit: str) -> str:
    if goal["op"] == "<=" and goal["value"] == 0:
        return "= 0"
    return f"{SYMBOL.get(goal['op'], goal['op'])} {fmt(goal['value'], unit)}"


# ---------------------------------------------------------------- the table's rows
Figures = dict[str, dict]          # figure name -> {"value", "unit", "goal", "met"}


@dataclass
class Row:
    what: Callable[[Figures], str]
    benchmark: str
    measured: Callable[[Figures], str]
    goals: list[tuple[str, str]]                 # (figure name, short label)
    see: str = ""                                # where an unmet goal is discussed
    extra: list[str] = field(default_factory=list)   # more benchmarks this row reads

    def figures(self, results: dict[str, Figures]) -> Figures:
        out: Figures = {}
        for name in [self.benchmark, *self.extra]:
            out.update({f"{name}.{k}": v for k, v in results[name].items()})
            if name == self.benchmark:
                out.update(results[name])
        return out


def _v(f: Figures, name: str) -> str:
    return fmt(f[name]["value"], f[name]["unit"])


ROWS = [
    Row(lambda f: f"the {_v(f, 'scalesim_runs')} SCALE-Sim reference GEMMs, full fidelity",
        "bench_sim",
        lambda f: (f"{_v(f, 'scalesim_wall_s')} vs SCALE-Sim's {_v(f, 'scalesim_reference_wall_s')}"
                   f" ({_v(f, 'scalesim_speedup')}), {_v(f, 'scalesim_cycle_mismatches')} cycle "
                   "mismatches"),
        [("scalesim_speedup", "speed-up"), ("scalesim_cycle_mismatches", "cycle mismatches")]),
    Row(lambda f: (f"one Llama-2-7B decode iteration (32 layers, b32, ctx 2048, "
                   f"{_v(f, 'llama_decode_operators')} operators)"),
        "bench_sim",
        lambda f: (f"{_v(f, 'llama_decode_wall_s')} ({_v(f, 'llama_decode_generate_s')} trace "
                   f"generation + {_v(f, 'llama_decode_simulate_s')} simulation)"),
        [("llama_decode_wall_s", "wall")]),
    Row(lambda f: ("the same decode step on a bank-level `hbm` arch (tensor addresses, "
                   "strided tiles), warm / first run in a fresh process"),
        "bench_sim",
        lambda f: (f"{_v(f, 'llama_decode_hbm_simulate_warm_s')} (CPU "
                   f"{_v(f, 'llama_decode_hbm_simulate_warm_cpu_s')}) / "
                   f"{_v(f, 'llama_decode_hbm_simulate_cold_s')}"),
        [("llama_decode_hbm_simulate_warm_s", "warm"), ("llama_decode_hbm_simulate_cold_s",
                                                        "fresh install")],
        see="[docs/hbm.md](docs/hbm.md)"),
    Row(lambda f: "`accelsim serve`: one hour of ShareGPT at 10 req/s, Llama-3-8B on `h100_like`",
        "bench_serve",
        lambda f: (f"{_v(f, 'serve_hour_wall')} wall ({_v(f, 'serve_hour_cpu')} CPU), peak RSS "
                   f"{_v(f, 'serve_hour_rss')}"),
        [("serve_hour_wall", "wall"), ("serve_hour_rss", "RSS")]),
    Row(lambda f: (f"{_v(f, 'iterations')} continuous-batching iterations of Llama-2-7B "
                   f"({_v(f, 'operator_rows')} operators)"),
        "bench_serving",
        lambda f: f"{_v(f, 'simulate_s')} simulation (+ {_v(f, 'schedule_s')} scheduling)",
        [("simulate_s", "simulation")]),
    Row(lambda f: "bank-level HBM scheduler, requests/s (slowest mapping × channels, CPU time)",
        "bench_dram",
        lambda f: (f"stream {_v(f, 'stream_cpu_requests_per_s')}, random "
                   f"{_v(f, 'random_cpu_requests_per_s')}, mixed "
                   f"{_v(f, 'mixed_cpu_requests_per_s')}"),
        [("stream_cpu_requests_per_s", "stream"), ("random_cpu_requests_per_s", "random"),
         ("mixed_cpu_requests_per_s", "mixed")],
        see="[docs/hbm.md](docs/hbm.md)"),
    Row(lambda f: "mesh NoC flit-hops/s, synthetic kernel (CPU time) / workload mode (wall)",
        "bench_noc",
        lambda f: (f"{_v(f, 'cpu_flit_hops_per_s')} / "
                   f"{_v(f, 'multicore_scaling.wall_flit_hops_per_s')}"),
        [("cpu_flit_hops_per_s", "synthetic"), ("multicore_scaling.wall_flit_hops_per_s",
                                                "workload")],
        extra=["multicore_scaling"]),
    Row(lambda f: "DSE evaluations/s per core, analytical / full; env.step overhead",
        "bench_dse",
        lambda f: (f"{_v(f, 'analytical_evals_per_s')} / {_v(f, 'full_evals_per_s')}; "
                   f"{_v(f, 'step_overhead_ms')}"),
        [("analytical_evals_per_s", "analytical"), ("full_evals_per_s", "full"),
         ("step_overhead_ms", "env.step overhead")]),
    Row(lambda f: f"NeuPIMs reproduction (all systems, {_v(f, 'batches')} batches)",
        "reproduce_neupims",
        lambda f: f"{_v(f, 'wall_s')} (NeuPIMs / naive {_v(f, 'neupims_over_naive')})",
        [("wall_s", "wall")]),
]


def goal_cell(f: Figures, goals: list[tuple[str, str]]) -> str:
    rendered = [(label, fmt_goal(f[name]["goal"], f[name]["unit"])) for name, label in goals]
    if len({g for _, g in rendered}) == 1:
        return rendered[0][1] + (" each" if len(rendered) > 1 else "")
    return "; ".join(f"{label} {g}" for label, g in rendered)


def met_cell(f: Figures, goals: list[tuple[str, str]], see: str = "") -> str:
    misses = [f"{label} {fmt(f[name]['value'], f[name]['unit'])} "
              f"{'<' if f[name]['goal']['op'] == '>=' else '>'} "
              f"{fmt(f[name]['goal']['value'], f[name]['unit'])}"
              for name, label in goals if not f[name]["met"]]
    if not misses:
        return "yes"
    return "**NOT MET**: " + "; ".join(misses) + (f" ({see})" if see else "")


def command_cell(row: Row, commands: dict[str, str]) -> str:
    return ", ".join(f"`{commands[b]}`" for b in [row.benchmark, *row.extra])


def command_line(benchmark: str, quick: bool) -> str:
    script, quick_args = BENCHMARKS[benchmark]
    return " ".join(["python", script, *(quick_args if quick else [])])


def render_table(results: dict[str, Figures], commands: dict[str, str]) -> tuple[str, int]:
    """The markdown table and how many rows miss a goal. ``results``: benchmark -> figures."""
    lines = ["| what | command | measured | goal | met |", "|---|---|---|---|---|"]
    unmet = 0
    for row in ROWS:
        f = row.figures(results)
        met = met_cell(f, row.goals, row.see)
        unmet += met != "yes"
        lines.append(f"| {row.what(f)} | {command_cell(row, commands)} | {row.measured(f)} | "
                     f"{goal_cell(f, row.goals)} | {met} |")
    return "\n".join(lines), unmet


def footer(quick: bool, elapsed_s: float, unmet: int, date: str | None = None,
           cpus: int | None = None, python: str | None = None, load: float | None = None) -> str:
    date = date or datetime.date.today().isoformat()
    cpus = cpus or os.cpu_count()
    python = python or platform.python_version()
    if load is None and hasattr(os, "getloadavg"):
        load = os.getloadavg()[0]
    busy = f" (1-min load average {load:.1f} at the end)" if load is not None else ""
    size = "reduced size (`--quick`)" if quick else "full size"
    goals = ("every goal met" if not unmet else
             f"{unmet} row{'s' if unmet > 1 else ''} with a goal **not met**")
    return (f"Measured {date} on {cpus} CPU(s){busy}, Python {python}, {size}; {goals}; the "
            f"update took {elapsed_s:.0f} s.")


def figures_of(payload: dict) -> Figures:
    return {f["name"]: f for f in payload["figures"]}


def replace_block(text: str, body: str) -> str:
    if START not in text or END not in text:
        raise ValueError(f"markers {START} / {END} not found")
    return re.sub(re.escape(START) + ".*?" + re.escape(END),
                  lambda _: f"{START}\n{body}\n{END}", text, count=1, flags=re.S)


# ---------------------------------------------------------------- running the benchmarks
def run_benchmark(name: str, quick: bool, outdir: Path) -> Figures:
    script, quick_args = BENCHMARKS[name]
    out = outdir / f"{name}.json"
    cmd = [sys.executable, str(ROOT / script), *(quick_args if quick else []), "--json", str(out)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0 or not out.exists():
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-20:])
        raise RuntimeError(f"{script} failed (exit {proc.returncode}):\n{tail}")
    print(f"  {time.perf_counter() - t0:6.1f} s", file=sys.stderr)
    return figures_of(json.loads(out.read_text(encoding="utf-8")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="the benchmarks' reduced-size options where they exist")
    parser.add_argument("--print", dest="print_only", action="store_true",
                        help="print the table; leave README.md alone")
    args = parser.parse_args()
    if not args.print_only and START not in README.read_text(encoding="utf-8"):
        print(f"{README}: markers {START} / {END} not found", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    results: dict[str, Figures] = {}
    with tempfile.TemporaryDirectory(prefix="accelsim-speed-") as tmp:
        for i, name in enumerate(BENCHMARKS, 1):
            print(f"[{i}/{len(BENCHMARKS)}] {command_line(name, args.quick)}", file=sys.stderr)
            try:
                results[name] = run_benchmark(name, args.quick, Path(tmp))
            except RuntimeError as exc:
                print(exc, file=sys.stderr)
                return 1
    commands = {name: command_line(name, args.quick) for name in BENCHMARKS}
    table, unmet = render_table(results, commands)
    body = f"{table}\n\n{footer(args.quick, time.perf_counter() - t0, unmet)}"
    if args.print_only:
        print(body)
        return 0
    from accelsim.io import atomic_write_text

    atomic_write_text(README, replace_block(README.read_text(encoding="utf-8"), body))
    print(f"updated {README} ({len(ROWS)} rows, {unmet} with a goal not met)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
