"""``accelsim cost``: area, energy breakdown and power of an architecture running a trace."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_TRACE = "llama2-7b_decode_b32_ctx2048.csv"


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "cost", help="energy, area and power of an architecture running a trace",
        description="Simulate a trace on an architecture and price it with a technology file: "
                    "die area by component, energy by component, average / peak power, energy "
                    f"per token, budget check. Default trace: traces/{DEFAULT_TRACE}.")
    p.add_argument("--arch", required=True, help="preset name or architecture YAML")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override an architecture key (repeatable)")
    p.add_argument("--trace", help=f"operator trace CSV (default: traces/{DEFAULT_TRACE})")
    p.add_argument("--tech", default=None,
                   help="technology: a name (7nm), a node scaled from 7nm (5nm, 16nm) or a YAML "
                        "path (default: the arch's cost section, else 7nm)")
    p.add_argument("--cost", dest="cost_file", metavar="YAML",
                   help="a cost section as YAML (tech, dram, io, budget; docs/cost.md)")
    p.add_argument("--dram", metavar="STANDARD[:STACKS]",
                   help="DRAM standard and stack count, e.g. hbm3:5")
    p.add_argument("--budget-area", type=float, metavar="MM2", help="die-area budget (mm2)")
    p.add_argument("--budget-power", type=float, metavar="W", help="average-power budget (W)")
    p.add_argument("--fidelity", choices=("full", "analytical"), default="analytical",
                   help="simulation fidelity (default %(default)s)")
    p.add_argument("--plots", metavar="DIR", help="write energy_breakdown.png and "
                                                   "area_breakdown.png here")
    p.add_argument("--force", action="store_true",
                   help="replace the two PNGs of an earlier run in --plots DIR (nothing else)")
    p.add_argument("--json", action="store_true", help="print the cost report as JSON")
    from .. import guards

    guards.add_flags(p)
    p.set_defaults(run=run)
    return p


def _cost_mapping(args) -> dict | None:
    from ..errors import ConfigError

    cost: dict = {}
    if args.cost_file:
        path = Path(args.cost_file)
        from ..yamlio import load_file

        raw = load_file(path)
        if isinstance(raw, dict) and set(raw) == {"cost"}:
            raw = raw["cost"]
        from ..cost import parse_cost_config

        parse_cost_config(raw, file=str(path))           # errors name this file
        cost.update(raw or {})
    if args.dram is not None:
        standard, _, stacks = args.dram.partition(":")
        if not standard.strip():
            raise ConfigError(f"expected STANDARD[:STACKS] (e.g. hbm3:5), got {args.dram!r}",
                              key="--dram")
        dram = {"standard": standard.strip()}
        if stacks:
            try:
                dram["stacks"] = int(stacks)
            except ValueError:
                raise ConfigError(f"expected STANDARD[:STACKS], got {args.dram!r}",
                                  key="--dram") from None
        cost["dram"] = dram
    budget = dict(cost.get("budget") or {})
    if args.budget_area is not None:
        budget["area_mm2"] = args.budget_area
    if args.budget_power is not None:
        budget["power_w"] = args.budget_power
    if budget:
        cost["budget"] = budget
    return cost or None


#: What ``cost --plots DIR`` writes (``--force`` replaces these, nothing else).
PLOT_NAMES = ("energy_breakdown.png", "area_breakdown.png")


def run(args: argparse.Namespace) -> int:
    from ..api import load_arch, load_trace, simulate
    from ..cost import estimate
    from ..cost.model import resolve_config

    if args.tech is not None and not args.tech.strip():
        from ..errors import ConfigError

        raise ConfigError("expected a technology name (7nm), a node (5nm) or a YAML path, got ''",
                          key="--tech")
    if args.plots:                                   # outputs checked before the run
        from ..io import check_output_dir

        check_output_dir(args.plots, PLOT_NAMES, force=args.force)
    arch = load_arch(args.arch, overrides=args.overrides)
    if args.trace:
        from .. import guards

        guards.check_trace_file("cost", args.trace, args=args)
        trace = load_trace(args.trace)
    else:
        from .simulate import _trace_dir

        trace = load_trace(_trace_dir() / DEFAULT_TRACE)
    cost = _cost_mapping(args)
    if cost is not None and getattr(arch, "cost", None):
        base = dict(arch.cost)                       # the arch's section, then the overrides
        base.update(cost)
        cost = base
    resolve_config(arch, cost, file=args.cost_file)  # validate before simulating
    from .. import guards

    units, memory, how = guards.simulation_work(arch, trace, args.fidelity)
    guards.check("cost", units, what=how, args=args, memory_bytes=memory,
                 knob="reduce the trace's rows or repeat")
    report = simulate(arch, trace, fidelity=args.fidelity, progress=False)
    result = estimate(report, tech=args.tech, cost=cost)
    if args.plots:
        from ..cost.plots import area_breakdown_png, energy_breakdown_png

        from ..io import staged_dir

        with staged_dir(args.plots) as out:
            energy_breakdown_png(result, out / PLOT_NAMES[0])
            area_breakdown_png(result, out / PLOT_NAMES[1])
        written = [Path(args.plots) / name for name in PLOT_NAMES]
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=1, sort_keys=True,
                                    allow_nan=False) + "\n")
    else:
        print(result.table())
        if args.plots:
            for path in written:
                print(f"wrote {path}")
    return 0
