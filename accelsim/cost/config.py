"""The ``cost:`` section: which technology, which DRAM, which PHYs, and the budgets.

It can sit in an architecture YAML (top-level ``cost:``, once ``arch/config.py`` keeps it; see
``docs/cost.md``), in an experiment / env YAML, or be passed to ``accelsim.cost.estimate`` as a
mapping. Every key is optional::

    cost:
      tech: 7nm                      # a name, a path, or {name: 7nm, node: 5nm}
      dram: {standard: hbm3, stacks: 5}
      io: {nvlink4_link: 18, pcie5_lane: 16}
      budget: {area_mm2: 814, power_w: 700, peak_power_w: 900, power_density_w_per_mm2: 1.0}

Budgets are checked against the modelled die area, the average power over the run, the peak
power (the operator with the highest energy / time) and average power / area. The result is a
constraint value per budget, ``modelled - limit`` (<= 0 is feasible), as the DSE layer expects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..arch.fields import Section
from ..errors import did_you_mean
from .tech import IO_PHYS, parse_node

BUDGET_KEYS = ("area_mm2", "power_w", "peak_power_w", "power_density_w_per_mm2")


@dataclass(frozen=True)
class Budget:
    """Upper limits; ``None`` = unconstrained."""

    area_mm2: float | None = None
    power_w: float | None = None
    peak_power_w: float | None = None
    power_density_w_per_mm2: float | None = None

    def limits(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in BUDGET_KEYS if getattr(self, k) is not None}

    def merged(self, other: "Budget | None") -> "Budget":
        """``other``'s limits where set, else ours."""
        if other is None:
            return self
        return Budget(**{k: getattr(other, k) if getattr(other, k) is not None
                         else getattr(self, k) for k in BUDGET_KEYS})


@dataclass(frozen=True)
class CostConfig:
    tech: Any = None                     # str | mapping | None (-> the default 7nm)
    node_nm: float | None = None
    dram_standard: str | None = None
    dram_stacks: int | None = None
    io: Mapping[str, int] = field(default_factory=dict)
    budget: Budget = field(default_factory=Budget)


def parse_budget(raw: Any, *, file: str | None = None, path: str = "budget") -> Budget:
    """Validate a ``budget:`` mapping (an experiment YAML may carry just this)."""
    sec = Section(raw, file=file, path=path)
    values = {k: sec.float(k, default=None, minimum=0.0, exclusive_minimum=True)
              if sec.has(k) else None for k in BUDGET_KEYS}
    sec.done(ignore=BUDGET_KEYS)
    return Budget(**values)


def parse_cost_config(raw: Any, *, file: str | None = None, path: str = "cost") -> CostConfig:
    """Validate a ``cost:`` mapping; unknown keys and bad values are ``ConfigError``s."""
    if isinstance(raw, CostConfig):
        return raw
    sec = Section(raw, file=file, path=path)
    tech = sec.any("tech", default=None)
    node_nm = None
    if isinstance(tech, Mapping):
        ts = sec.section("tech")
        name = ts.str("name") if ts.has("name") else None
        if ts.has("node"):
            node_nm = parse_node(ts.any("node"), file=file, key=ts.key_path("node"))
        ts.done(ignore=("name", "node"))
        tech = name
    elif tech is not None and not isinstance(tech, str):
        raise sec.error("tech", f"expected a technology name / path or a mapping "
                                f"{{name, node}}, got {type(tech).__name__} {tech!r:.40}")
    dram_standard = dram_stacks = None
    if sec.has("dram"):
        ds = sec.section("dram")
        dram_standard = ds.str("standard") if ds.has("standard") else None
        dram_stacks = ds.int("stacks", default=None, minimum=1, maximum=64) if ds.has(
            "stacks") else None
        ds.done(ignore=("standard", "stacks"))
    io: dict[str, int] = {}
    if sec.has("io"):
        ios = sec.section("io")
        for name in list(ios.raw):
            if name not in IO_PHYS:
                raise ios.error(name, f"unknown PHY{did_you_mean(name, IO_PHYS)}; known: "
                                      f"{', '.join(IO_PHYS)}")
            io[name] = ios.int(name, minimum=0, maximum=1 << 16)
        ios.done()
    budget = parse_budget(sec.any("budget"), file=file, path=sec.key_path("budget")) \
        if sec.has("budget") else Budget()
    sec.done()
    return CostConfig(tech=tech, node_nm=node_nm, dram_standard=dram_standard,
                      dram_stacks=dram_stacks, io=io, budget=budget)


def check_budget(budget: Budget, *, area_mm2: float, avg_power_w: float, peak_power_w: float
                 ) -> dict[str, Any]:
    """Budget verdict: ``{limits, constraints, violations, over_budget}``.

    ``constraints[k] = modelled - limit`` (<= 0 feasible); ``violations`` keeps the positive ones.
    """
    modelled = {"area_mm2": area_mm2, "power_w": avg_power_w, "peak_power_w": peak_power_w,
                "power_density_w_per_mm2": avg_power_w / area_mm2 if area_mm2 > 0 else 0.0}
    limits = budget.limits()
    constraints = {k: modelled[k] - v for k, v in limits.items()}
    violations = {k: c for k, c in constraints.items() if c > 0}
    return {"limits": limits, "modelled": {k: modelled[k] for k in limits},
            "constraints": constraints, "violations": violations,
            "over_budget": bool(violations)}
