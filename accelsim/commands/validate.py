"""``accelsim validate``: every comparison with the reference data, as one table."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("validate", help="compare every model with the reference data",
                              description="Run every comparison with ../shared/reference and "
                                          "print model | reference | metric | ours | reference | "
                                          "error | goal | pass.")
    p.add_argument("--quick", action="store_true", help="reduced sizes (what CI runs)")
    p.add_argument("--reference", type=Path, default=None,
                   help="reference data folder (default: $ACCELSIM_REFERENCE or ../shared/reference)")
    p.add_argument("--only", action="append", default=None, metavar="NAME",
                   help="run only this comparison (repeatable)")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.add_argument("--json", action="store_true", help="print JSON rows")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..validation import as_dicts, format_table, run_all

    rows = run_all(args.reference, quick=args.quick, only=args.only)
    if args.json:
        print(json.dumps(as_dicts(rows), indent=1))
    else:
        print(format_table(rows, markdown=args.markdown))
        failed = sum(not r.passed for r in rows)
        print(f"\n{len(rows) - failed} passed, {failed} failed")
    return 0 if all(r.passed for r in rows) else 1
