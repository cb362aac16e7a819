"""``accelsim report RUN.json``: tables and plots from a saved JSON report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import AccelsimError


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("report", help="plots and tables from a saved JSON report",
                              description="Draw plots from a report written by "
                                          "'accelsim simulate --json'.")
    p.add_argument("report_json", metavar="RUN.json", type=Path, help="JSON report")
    p.add_argument("--plots", metavar="DIR", required=True, help="write PNG plots here")
    p.add_argument("--force", action="store_true",
                   help="replace the PNGs of an earlier run in DIR (other files are kept)")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..io import check_output_dir, exit_on_sigterm, staged_dir
    from ..report.plots import PLOTS, plot_all

    check_output_dir(args.plots, [f"{name}.png" for name in PLOTS], force=args.force)
    try:
        report = json.loads(args.report_json.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AccelsimError(f"{args.report_json}: file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AccelsimError(f"{args.report_json}: not a JSON report ({exc})") from None
    missing = [k for k in ("ops", "arch", "clock_mhz", "total_cycles", "memory", "trace")
               if not isinstance(report, dict) or k not in report]
    if missing:
        raise AccelsimError(f"{args.report_json}: not an accelsim report (missing {', '.join(missing)})")
    with exit_on_sigterm(), staged_dir(args.plots) as stage:   # swapped in whole
        paths = plot_all(report, stage)
    for path in paths:
        print(f"wrote {Path(args.plots) / Path(path).name}")
    return 0
