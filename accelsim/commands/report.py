"""``accelsim report RUN.json``: tables and plots from a saved JSON report."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import AccelsimError


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("report", help="tables and plots from a saved JSON report",
                              description="Print the console table of a report written by "
                                          "'accelsim simulate --json' (as simulate prints it) "
                                          "and, with --plots, draw its plots.")
    p.add_argument("report_json", metavar="RUN.json", type=Path, help="JSON report")
    p.add_argument("--plots", metavar="DIR", help="also write PNG plots here")
    p.add_argument("--force", action="store_true",
                   help="replace the PNGs of an earlier run in DIR (other files are kept)")
    p.add_argument("--top", type=int, default=12, help="operators listed in the console table")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..io import check_output_dir, exit_on_sigterm, staged_dir
    from ..report.report import load_report, report_table

    if args.top < 0:
        raise AccelsimError(f"--top: expected a non-negative integer, got {args.top}")
    if args.plots is not None:
        if not args.plots:
            raise AccelsimError("--plots: expected a path, got an empty string")
        from ..report.plots import PLOTS

        check_output_dir(args.plots, [f"{name}.png" for name in PLOTS], force=args.force)
    report = load_report(args.report_json)
    print(report_table(report, top=args.top))
    if args.plots is None:
        return 0
    from ..report.plots import plot_all

    with exit_on_sigterm(), staged_dir(args.plots) as stage:   # swapped in whole
        paths = plot_all(report, stage)
    for path in paths:
        print(f"wrote plot: {Path(args.plots) / Path(path).name}")
    return 0
