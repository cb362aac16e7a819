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
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..report.plots import plot_all

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
    for path in plot_all(report, args.plots):
        print(f"wrote {path}")
    return 0
