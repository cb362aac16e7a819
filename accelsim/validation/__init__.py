"""Comparisons with the reference data in ``../shared/reference`` (``accelsim validate``).

Each model registers one function ``check(reference_dir, quick) -> list[Row]``; ``run_all``
collects the rows into one table: model | reference | metric | ours | reference | error | goal |
pass. The README's validation section is written from this table by
``scripts/update_readme_validation.py``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from ..errors import AccelsimError


@dataclass(frozen=True)
class Row:
    model: str
    reference: str
    metric: str
    ours: float
    expected: float
    error: float          # as defined by ``goal`` (relative, absolute, count)
    goal: str
    passed: bool


VALIDATIONS: dict[str, tuple[str, Callable[[Path, bool], list[Row]]]] = {}


def register_validation(name: str, description: str):
    def add(func):
        if name in VALIDATIONS:
            raise ValueError(f"validation {name!r} registered twice")
        VALIDATIONS[name] = (description, func)
        return func
    return add


def default_reference_dir() -> Path:
    env = os.environ.get("ACCELSIM_REFERENCE")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "reference"


def run_all(reference_dir: Path | None = None, *, quick: bool = False,
            only: list[str] | None = None) -> list[Row]:
    """Run every registered comparison (or those named in ``only``)."""
    from . import scalesim  # noqa: F401  (registers)
    _optional_validations()
    reference_dir = Path(reference_dir or default_reference_dir())
    if not reference_dir.is_dir():
        raise AccelsimError(f"{reference_dir}: reference data folder not found "
                            "(set ACCELSIM_REFERENCE or pass --reference)")
    rows: list[Row] = []
    for name, (_, func) in VALIDATIONS.items():
        if only and name not in only:
            continue
        rows.extend(func(reference_dir, quick))
    return rows


def _optional_validations() -> None:
    import importlib

    for module in ("accelsim.validation.dram", "accelsim.validation.noc",
                   "accelsim.validation.cost", "accelsim.validation.neupims",
                   "accelsim.validation.silicon"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def format_table(rows: list[Row], *, markdown: bool = False) -> str:
    header = ["model", "reference", "metric", "ours", "reference value", "error", "goal", "pass"]
    body = [[r.model, r.reference, r.metric, _num(r.ours), _num(r.expected), _num(r.error),
             r.goal, "yes" if r.passed else "NO"] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(lines)
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h)
              for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:{w}}}" for w in widths)
    return "\n".join([fmt.format(*header), fmt.format(*("-" * w for w in widths))]
                     + [fmt.format(*row) for row in body])


def _num(x: float) -> str:
    if isinstance(x, float) and not x.is_integer():
        return f"{x:.4g}"
    return f"{int(x):,}" if abs(x) >= 1000 else f"{x:g}"


def as_dicts(rows: list[Row]) -> list[dict]:
    return [asdict(r) for r in rows]
