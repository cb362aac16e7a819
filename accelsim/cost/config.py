"""The ``cost:`` section: which technology, which DRAM, which PHYs, and the budgets.

It can sit in an architecture YAML (top-level ``cost:``), in an experiment / env YAML, or be
passed to ``accelsim.cost.estimate`` as a mapping. Every key is optional::

    cost:
      tech: 7nm                      # a name, a path, or {name: 7nm, node: 5nm}
      dram: {standard: hbm3, stacks: 5}
      io: {nvlink4_link: 18, pcie5_lane: 16}
      budget: {area_mm2: 814, power_w: 700, peak_power_w: 900, power_density_w_per_mm2: 1.0}
      die:                           # silicon the performance sections do not describe
        cores: 132                   # enabled cores the arch describes ...
        physical_cores: 144          # ... of the cores on the die (the rest fused off for yield)
        per_core: {register_file_kib: 256, simt_lanes: 128, fp64_units: 64, int32_units: 64,
                   crossbar_ports: 1}
        physical_shared_sram_kib: 61440   # shared SRAM on the die (60 MiB L2; 50 enabled)
        physical_dram_stacks: 6      # DRAM PHY + controller sites on the die (5 populated)
        sram: cache                  # price the SRAM as caches, not scratchpads

``die`` is area (and leakage) only; ``docs/cost.md`` says how each part is priced.

Budgets are checked against the modelled die area, the average power over the run, the peak
power (the operator with the highest energy / time) and average power / area. The result is a
constraint value per budget, ``modelled - limit`` (<= 0 is feasible), as the DSE layer expects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..arch.fields import Section
from ..errors import ConfigError, did_you_mean
from .tech import IO_PHYS, SRAM_KINDS, parse_node

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


PER_CORE_KEYS = ("register_file_kib", "simt_lanes", "fp64_units", "int32_units",
                 "crossbar_ports", "sram_kib")


@dataclass(frozen=True)
class DieConfig:
    """What the die holds beyond what the performance sections describe (area and leakage only).

    The arch's systolic arrays, vector lanes and ``per_core["sram_kib"]`` of its SRAM are
    ``cores`` identical enabled cores; the die holds ``physical_cores`` of them (the others are
    fused off for yield: they cost area, not leakage). ``per_core`` adds blocks the performance
    model has no slot for (register files, SIMT front ends, FP64 / INT32 ALUs, crossbar ports).
    The rest of the SRAM is shared (an L2); ``physical_shared_sram_kib`` and
    ``physical_dram_stacks`` are the amounts on the die when more than the enabled ones.
    """

    cores: int = 1
    physical_cores: int = 1
    per_core: Mapping[str, float] = field(default_factory=dict)
    physical_shared_sram_kib: float | None = None
    physical_dram_stacks: int | None = None
    sram: str = "scratchpad"

    def core(self, key: str) -> float:
        return float(self.per_core.get(key, 0))


@dataclass(frozen=True)
class CostConfig:
    tech: Any = None                     # str | mapping | None (-> the default 7nm)
    node_nm: float | None = None
    dram_standard: str | None = None
    dram_stacks: int | None = None
    io: Mapping[str, int] = field(default_factory=dict)
    budget: Budget = field(default_factory=Budget)
    die: DieConfig = field(default_factory=DieConfig)


def parse_budget(raw: Any, *, file: str | None = None, path: str = "budget") -> Budget:
    """Validate a ``budget:`` mapping (an experiment YAML may carry just this)."""
    sec = Section(raw, file=file, path=path)
    values = {k: sec.float(k, default=None, minimum=0.0, exclusive_minimum=True)
              if sec.has(k) else None for k in BUDGET_KEYS}
    sec.done(ignore=BUDGET_KEYS)
    return Budget(**values)


def _known_names(sec: Section, key: str, known: tuple[str, ...], what: str,
                 read: Callable[[Section, str], Any]) -> dict[str, Any]:
    """The optional mapping ``key`` of names from ``known`` to ``read(subsection, name)``;
    an unknown name is an error that lists the known ones."""
    out: dict[str, Any] = {}
    if not sec.has(key):
        return out
    sub = sec.section(key)
    for name in list(sub.raw):
        if name not in known:
            raise sub.error(name, f"unknown {what}{did_you_mean(name, known)}; known: "
                                  f"{', '.join(known)}")
        out[name] = read(sub, name)
    sub.done()
    return out


def parse_die(raw: Any, *, file: str | None = None, path: str = "die") -> DieConfig:
    """Validate a ``die:`` mapping (see ``DieConfig``)."""
    sec = Section(raw, file=file, path=path)
    cores = sec.int("cores", default=1, minimum=1, maximum=1 << 20)
    physical = sec.int("physical_cores", default=cores, minimum=1, maximum=1 << 20)
    if physical < cores:
        raise sec.error("physical_cores", f"expected at least cores ({cores}), got {physical}")
    per_core = _known_names(sec, "per_core", PER_CORE_KEYS, "per-core block",
                            lambda pc, k: pc.float(k, minimum=0.0, maximum=1e9))
    shared = sec.float("physical_shared_sram_kib", default=None, minimum=0.0, maximum=1e12) \
        if sec.has("physical_shared_sram_kib") else None
    stacks = sec.int("physical_dram_stacks", default=None, minimum=0, maximum=64) \
        if sec.has("physical_dram_stacks") else None
    sram = sec.choice("sram", SRAM_KINDS, default="scratchpad")
    sec.done()
    return DieConfig(cores, physical, per_core, shared, stacks, sram)


def check_die(die: DieConfig, *, systolic_count: int, vector_lanes: int, sram_kib: float,
              dram_stacks: int | None, file: str | None = None, path: str = "cost.die",
              arch_cores: int = 1) -> None:
    """The die block must fit the arch: arrays and lanes divide among the enabled cores, the
    per-core SRAM fits in the SRAM, the physical DRAM sites are at least the populated ones.
    ``per_core.sram_kib`` splits the SRAM of a one-core arch into per-core and shared parts; an
    arch of ``arch_cores > 1`` cores already says it (``sram:`` is each core's), so the key is
    refused there rather than ignored."""
    def fail(key: str, message: str) -> None:
        raise ConfigError(message, file=file, key=f"{path}.{key}")

    if arch_cores > 1 and "sram_kib" in die.per_core:
        fail("per_core.sram_kib", f"the arch has {arch_cores} cores, so each core's SRAM is its "
                                  "sram: section (the shared part is shared_buffer:); remove "
                                  "this key")

    if systolic_count % die.cores:
        fail("cores", f"systolic.count ({systolic_count}) must divide evenly among "
                      f"{die.cores} cores")
    if vector_lanes % die.cores:
        fail("cores", f"vector.lanes ({vector_lanes}) must divide evenly among "
                      f"{die.cores} cores")
    if die.cores * die.core("sram_kib") > sram_kib + 1e-9:
        fail("per_core.sram_kib", f"{die.cores} cores x {die.core('sram_kib'):g} KiB is more "
                                  f"than the arch's SRAM ({sram_kib:g} KiB)")
    if die.physical_dram_stacks is not None and dram_stacks is not None \
            and die.physical_dram_stacks < dram_stacks:
        fail("physical_dram_stacks", f"expected at least cost.dram.stacks ({dram_stacks}), "
                                     f"got {die.physical_dram_stacks}")


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
    io = _known_names(sec, "io", IO_PHYS, "PHY",
                      lambda ios, k: ios.int(k, minimum=0, maximum=1 << 16))
    budget = parse_budget(sec.any("budget"), file=file, path=sec.key_path("budget")) \
        if sec.has("budget") else Budget()
    die = parse_die(sec.any("die"), file=file, path=sec.key_path("die")) \
        if sec.has("die") else DieConfig()
    sec.done()
    return CostConfig(tech=tech, node_nm=node_nm, dram_standard=dram_standard,
                      dram_stacks=dram_stacks, io=io, budget=budget, die=die)


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
