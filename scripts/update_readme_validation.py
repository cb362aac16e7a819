#!/usr/bin/env python
"""Write the README's validation section from ``accelsim validate`` (never typed by hand).

Usage: python scripts/update_readme_validation.py [--quick] [--reference DIR]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from accelsim.io import atomic_write_text
from accelsim.validation import format_table, run_all

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- validation:start -->", "<!-- validation:end -->"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--reference", type=Path, default=None)
    args = parser.parse_args()
    rows = run_all(args.reference, quick=args.quick)
    failed = sum(not r.passed for r in rows)
    body = (f"{format_table(rows, markdown=True)}\n\n{len(rows) - failed} of {len(rows)} "
            f"comparisons pass ({'reduced' if args.quick else 'full'} size).")
    text = README.read_text(encoding="utf-8")
    if START not in text or END not in text:
        print(f"{README}: markers {START} / {END} not found", file=sys.stderr)
        return 2
    new = re.sub(re.escape(START) + ".*?" + re.escape(END), f"{START}\n{body}\n{END}", text,
                 flags=re.S)
    atomic_write_text(README, new)
    print(f"updated {README} ({len(rows)} rows, {failed} failing)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
