"""The ``--json`` output every benchmark script shares (read by ``update_readme_speed.py``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def figure(name: str, value, unit: str, op: str | None = None, goal=None) -> dict:
    """One figure for ``--json``: a number with its unit, goal (``op`` ``goal``) and whether it is met."""
    met = None if op is None else bool(value >= goal if op == ">=" else value <= goal)
    return {"name": name, "value": float(value), "unit": unit,
            "goal": None if op is None else {"op": op, "value": goal}, "met": met}


def write_json(path, figures: list[dict], argv: list[str]) -> None:
    """Write the figures of the running script (``sys.argv[0]``) to ``path``."""
    from accelsim.io import atomic_write_text

    atomic_write_text(path, json.dumps({"script": Path(sys.argv[0]).name, "args": argv,
                                        "figures": figures}, indent=2) + "\n")
