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
    selected = select(only) if only else None
    reference_dir = Path(reference_dir or default_reference_dir())
    if not reference_dir.is_dir():
        raise AccelsimError(f"{reference_dir}: reference data folder not found "
                            "(set ACCELSIM_REFERENCE or pass --reference)")
    rows: list[Row] = []
    for name, (_, func) in VALIDATIONS.items():
        if selected is not None and name not in selected:
            continue
        keep = selected[name] if selected is not None else None
        try:
            found = func(reference_dir, quick)
        except (OSError, UnicodeDecodeError) as exc:
            what = getattr(exc, "strerror", None) or exc
            where = getattr(exc, "filename", None) or reference_dir
            raise AccelsimError(f"{where}: cannot read the reference data of {name!r}: {what}; "
                                "point --reference at the project's reference folder") from None
        rows.extend(r for r in found if keep is None or r.model in keep)
    return rows


#: the ``model`` column of the README's validation table -> the comparison that writes it
MODEL_NAMES = {"systolic": "scalesim", "HBM": "dram", "mesh NoC": "noc", "cost": "cost",
               "neupims": "neupims", "serving": "serving"}


def _norm(name: str) -> str:
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


def only_names() -> dict[str, tuple[str, str | None]]:
    """Every name ``--only`` accepts -> (comparison, model rows to keep or None for all): the
    comparison names, the README table's model names (systolic, HBM, mesh NoC, ...) and the
    GPU presets scored against measured silicon (h100_like, ...)."""
    from . import scalesim  # noqa: F401  (registers)
    _optional_validations()
    names: dict[str, tuple[str, str | None]] = {n: (n, None) for n in VALIDATIONS}
    for model, comparison in MODEL_NAMES.items():
        if comparison in VALIDATIONS:
            names.setdefault(model, (comparison, None))
    if "silicon" in VALIDATIONS:
        from .silicon import CHIPS

        for preset, *_ in CHIPS.values():
            names.setdefault(preset, ("silicon", preset))
    return names


def select(only: list[str]) -> dict[str, set[str] | None]:
    """``--only`` names -> {comparison: model rows to keep (None: all)}; an unknown name is an
    ``AccelsimError`` listing the valid ones. Names match ignoring case, spaces, '-' and '_'."""
    names = only_names()
    by_norm = {_norm(n): n for n in names}
    out: dict[str, set[str] | None] = {}
    for given in only:
        name = by_norm.get(_norm(given))
        if name is None:
            from ..errors import did_you_mean

            raise AccelsimError(f"--only: unknown comparison {given!r}"
                                f"{did_you_mean(given, names)}; valid: {', '.join(names)}")
        comparison, model = names[name]
        if model is None or out.get(comparison, set()) is None:
            out[comparison] = None
        else:
            out.setdefault(comparison, set()).add(model)
    return out


def _optional_validations() -> None:
    import importlib

    for module in ("accelsim.validation.dram", "accelsim.validation.noc",
                   "accelsim.validation.cost", "accelsim.validation.neupims",
                   "accelsim.validation.silicon", "accelsim.validation.serving"):
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
