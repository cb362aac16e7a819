"""``accelsim simulate``: run a trace on an architecture and print / save the report."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ._step import add_step_flags, resolve_step

DEFAULT_ARCH = "npu_128x128_bf16_hbm2"
DEFAULT_TRACE = "llama2-7b_decode_b32_ctx2048.csv"


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "simulate", help="simulate an operator trace on an architecture",
        description="Simulate an operator trace (or a SCALE-Sim topology, or a generated LLM "
                    "step) on an architecture and print the report. With no arguments: "
                    f"{DEFAULT_TRACE} on {DEFAULT_ARCH}.")
    p.add_argument("--arch", default=DEFAULT_ARCH,
                   help="preset name, architecture YAML, or SCALE-Sim .cfg (default %(default)s)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override an architecture key, e.g. --set systolic.rows=64 (repeatable)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--trace", help="operator trace CSV (default: the shipped "
                                     f"traces/{DEFAULT_TRACE})")
    src.add_argument("--topology", help="SCALE-Sim topology CSV (GEMM or convolution layers)")
    src.add_argument("--model", help="generate the trace of one step of this model instead")
    p.add_argument("--topology-format", choices=("auto", "gemm", "conv"), default="auto",
                   help="SCALE-Sim topology kind (default: from the header)")
    add_step_flags(p, note="with --model: ")
    p.add_argument("--fidelity", choices=("full", "analytical"), default="full")
    p.add_argument("--json", metavar="PATH", help="write the JSON report here ('-' = stdout)")
    p.add_argument("--csv", metavar="PATH", help="write the per-operator table as CSV")
    p.add_argument("--timeline", metavar="PATH",
                   help="write a Chrome/Perfetto trace-event JSON (open in ui.perfetto.dev)")
    p.add_argument("--plots", metavar="DIR", help="write PNG plots (roofline, breakdowns, ...)")
    p.add_argument("--force", action="store_true",
                   help="replace existing --json/--csv/--timeline files and the PNGs of an "
                        "earlier run in --plots DIR (nothing else)")
    p.add_argument("--top", type=int, default=12, help="operators listed in the console table")
    p.add_argument("--quiet", action="store_true", help="print only the total")
    p.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    from .. import guards

    guards.add_flags(p)
    p.set_defaults(run=run)
    return p


def _trace_dir() -> Path:
    from ..arch.config import arch_configs_dir

    return arch_configs_dir().parent / "traces"


def _check_args(args: argparse.Namespace) -> None:
    """Option values and every output path, checked before anything runs (a long simulation
    never fails at its end because of an output)."""
    from ..errors import AccelsimError
    from ..io import check_output_dir, check_output_file

    for option in ("arch", "trace", "topology", "model"):
        value = getattr(args, option)
        if value is not None and not value.strip():
            raise AccelsimError(f"--{option}: expected a name or a path, got an empty string")
    resolve_step(args, generated=bool(args.model),
                 source="--topology" if args.topology else "--trace (or the default trace)")
    if args.topology_format != "auto" and not args.topology:
        raise AccelsimError("--topology-format applies to --topology files only")
    if args.top < 0:
        raise AccelsimError(f"--top: expected a non-negative integer, got {args.top}")
    if args.timeline and args.fidelity != "full":
        raise AccelsimError("--timeline needs --fidelity full")
    seen: dict[str, str] = {}
    for option in ("json", "csv", "timeline", "plots"):
        value = getattr(args, option)
        if value is None or (option == "json" and value == "-"):
            continue
        if not value:
            raise AccelsimError(f"--{option}: expected a path, got an empty string")
        key = str(Path(value).resolve())
        if key in seen:
            raise AccelsimError(f"{value}: given to both --{seen[key]} and --{option}")
        seen[key] = option
        if option == "plots":
            from ..report.plots import PLOTS

            check_output_dir(value, [f"{name}.png" for name in PLOTS]
                             + ["noc_link_utilization.png"], force=args.force)
        else:
            check_output_file(value, force=args.force)


def run(args: argparse.Namespace) -> int:
    from ..io import exit_on_sigterm

    _check_args(args)
    with exit_on_sigterm():        # SIGTERM: temp files are removed on the way out
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from .. import guards
    from ..api import load_arch, load_trace, simulate
    from ..workload.generate import generate_trace
    from ..workload.scalesim_topology import load_scalesim_topology

    arch = load_arch(args.arch, overrides=args.overrides)
    if args.topology:
        trace = load_scalesim_topology(args.topology, fmt=args.topology_format,
                                       dtype=arch.dtypes.act)
    elif args.model:
        guards.check_step("simulate", batch=args.batch, args=args)
        # the KV cache is stored as the arch's dtypes.kv (a deployment choice, as vLLM's
        # kv_cache_dtype: fp8 / int8 KV caches halve its bytes), whatever the weights' type
        trace = generate_trace(args.model, args.phase, batch=args.batch, context=args.context,
                               seq_len=args.seq_len, layers=args.layers, tp=args.tp,
                               attention=args.attention, dtypes={"kv": arch.dtypes.kv},
                               sub_batches=_pim_sub_batches(arch, args))
    else:
        guards.check_trace_file("simulate", args.trace or _trace_dir() / DEFAULT_TRACE, args=args)
        trace = load_trace(args.trace or _trace_dir() / DEFAULT_TRACE)
    units, memory, how = guards.simulation_work(arch, trace, args.fidelity)
    guards.check("simulate", units, what=how, args=args, memory_bytes=memory,
                 knob="reduce the trace's rows or repeat, --batch, or raise "
                      "noc.chunk_bytes" if arch.noc is not None else
                      "reduce the trace's rows or repeat, or --batch")
    started = time.perf_counter()
    report = simulate(arch, trace, fidelity=args.fidelity,
                      progress=False if args.no_progress else None,
                      timeline=bool(args.timeline))
    wall_s = time.perf_counter() - started
    for warning in report.warnings:
        print(f"accelsim: warning: {warning}", file=sys.stderr)
    if args.json:
        if args.json == "-":
            sys.stdout.write(report.to_json())
        else:
            report.to_json(args.json)
    if args.csv:
        report.to_csv(args.csv)
    if args.timeline:
        report.write_timeline(args.timeline)
    plots = report.plot(args.plots) if args.plots else []
    if args.json == "-":
        return 0
    if args.quiet:
        print(f"{report.total_cycles} cycles, {report.total_time_ns:.1f} ns")
        return 0
    print(report.table(top=args.top))
    if args.topology:
        print("\nSCALE-Sim view (compute cycles in SCALE-Sim's convention: duration - 1):")
        print(scalesim_view(report).to_string(index=False))
    print(f"\nsimulated in {wall_s:.2f} s wall")
    for path, what in ((args.json, "JSON report"), (args.csv, "per-operator CSV"),
                       (args.timeline, "timeline (open in https://ui.perfetto.dev)")):
        if path and path != "-":
            print(f"wrote {what}: {path}")
    for path in plots:
        print(f"wrote plot: {path}")
    return 0


def _pim_sub_batches(arch, args):
    """The PIM scheduler's sub-batch split of a generated decode batch (``None``: one batch)."""
    if args.phase != "decode" or arch.pim is None:
        return None
    from ..mapping.pim import sub_batches_for
    from ..workload.models import load_model

    return sub_batches_for(arch, load_model(args.model), [args.context] * args.batch, tp=args.tp)


def scalesim_view(report):
    """Per-layer table with SCALE-Sim's column meanings (for --topology runs)."""
    import pandas as pd

    ops = report.ops
    pes = report.arch.peak_macs_per_cycle
    cycles = ops["compute_cycles"] - 1
    return pd.DataFrame({
        "Layer": ops["name"], "Compute cycles (SCALE-Sim)": cycles,
        "Total cycles (accelsim)": ops["total_cycles"], "Stall cycles": ops["stall_cycles"],
        "Overall util %": (100 * ops["flops"] / 2 / (cycles * pes)).round(4),
        "Mapping efficiency %": (100 * ops["mapping_efficiency"]).round(4)})
