#!/usr/bin/env python
"""Write the README's validation summary and docs/validation.md's full table from
``accelsim validate`` (never typed by hand).

Usage: python scripts/update_readme_validation.py [--quick] [--reference DIR]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from accelsim.io import atomic_write_text
from accelsim.validation import format_table, run_all

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FULL = ROOT / "docs" / "validation.md"
START, END = "<!-- validation:start -->", "<!-- validation:end -->"


def summary_table(rows) -> str:
    """One line per (model, reference): comparisons, passed, and the failing metrics."""
    groups: dict[tuple[str, str], list] = {}
    for r in rows:
        groups.setdefault((r.model, r.reference), []).append(r)
    lines = ["| model | reference | comparisons | pass | not met |", "|---|---|---|---|---|"]
    for (model, reference), group in groups.items():
        misses = [r.metric for r in group if not r.passed]
        lines.append(f"| {model} | {reference} | {len(group)} | {len(group) - len(misses)} | "
                     f"{'; '.join(misses) or '—'} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--reference", type=Path, default=None)
    args = parser.parse_args()
    rows = run_all(args.reference, quick=args.quick)
    failed = sum(not r.passed for r in rows)
    size = "reduced" if args.quick else "full"
    footer = f"{len(rows) - failed} of {len(rows)} comparisons pass ({size} size)."
    atomic_write_text(FULL, "# Validation: every comparison with the reference data\n\n"
                      "Written by `python scripts/update_readme_validation.py` from "
                      "`accelsim validate`; do not edit by hand.\n\n"
                      f"{format_table(rows, markdown=True)}\n\n{footer}\n")
    body = f"{summary_table(rows)}\n\n{footer} Every row: [docs/validation.md](docs/validation.md)."
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
