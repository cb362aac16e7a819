"""Environment definitions: ``envs/*.yaml`` -> a validated, immutable ``EnvDef``.

An env file states *the question*: a base architecture, the knobs that vary, the workload, the
objectives (with directions), the constraints, the reward and the fidelity. The full format is in
``docs/dse.md``. Every mistake is a ``ConfigError`` naming the file, the key path, the expected
and the given value (read through ``accelsim.arch.fields.Section``).

Environments that need a simulator feature this checkout lacks (``requires: [pim]``) load and
validate everything that does not depend on that feature; ``EnvDef.unavailable`` then says why
it cannot be evaluated, and ``evaluate`` raises that reason instead of a confusing error. The
features (``FEATURES``): ``cost`` (``accelsim.cost``), ``mesh`` (an arch ``noc:`` section runs on
``engine.multicore.MeshSimulation``), ``pim`` (an arch ``pim:`` section: a decode step through
``simulate``, ``accelsim.pim_decode``).

System-level sections (``SYSTEM_SECTIONS``: ``scheduler``): ``arch_overrides`` and knobs may
set them (``key: scheduler.impl``); the evaluator moves them to the arch's ``pim.scheduler``
before ``parse_arch``.
"""

from __future__ import annotations

import math

import copy
import hashlib
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from ..arch.config import _read_yaml, apply_overrides, parse_arch, resolve_arch_path
from ..arch.fields import Section
from ..errors import AccelsimError, ConfigError
from ._space import DesignSpace, Knob

#: Metric name -> (column with its unit, unit, default direction, needs ``accelsim.cost``).
METRICS: dict[str, tuple[str, str, str, bool]] = {
    "latency": ("latency_ns", "ns", "minimize", False),
    "throughput": ("throughput_tok_s", "tokens/s", "maximize", False),
    "energy": ("energy_pj", "pJ", "minimize", True),
    "area": ("area_mm2", "mm2", "minimize", True),
    "power": ("power_w", "W", "minimize", True),
    "edp": ("edp_pj_ns", "pJ*ns", "minimize", True),
    # serving metrics (``workload.serve``: ``accelsim.serve`` on the design, docs/serving.md)
    "goodput": ("goodput_rps", "req/s", "maximize", False),
    "ttft_p99": ("ttft_p99_ms", "ms", "minimize", False),
    "tpot_p99": ("tpot_p99_ms", "ms", "minimize", False),
    "energy_per_token": ("energy_per_token_j", "J/token", "minimize", False),
}
#: Metrics only a ``workload.serve`` env reports.
SERVE_METRICS = ("goodput", "ttft_p99", "tpot_p99", "energy_per_token")
DIRECTIONS = ("minimize", "maximize")
REWARD_KINDS = ("log_ratio", "target_hinge")
FIDELITIES = ("analytical", "full")
FEATURES = ("cost", "pim", "mesh")
#: Top-level sections of the design mapping that belong to the system, not the arch.
SYSTEM_SECTIONS = ("scheduler",)
#: ``workload.pim`` request-length sources: ``uniform`` (every request at ``context``) or a
#: NeuPIMs steady-state snapshot of a dataset (``mapping.pim_batches.NEUPIMS_DATASETS``).
PIM_LENGTHS = ("uniform", "sharegpt", "alpaca")


def split_system(raw: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(arch mapping, system sections)`` of a design mapping (``SYSTEM_SECTIONS`` removed)."""
    arch = {k: v for k, v in raw.items() if k not in SYSTEM_SECTIONS}
    system = {k: raw[k] for k in SYSTEM_SECTIONS if k in raw}
    return arch, system


def uses_pim_system(raw: Mapping[str, Any]) -> bool:
    """True when a design mapping runs on the NeuPIMs system simulation: it has a
    ``scheduler:`` section, or a ``pim:`` section whose impl is not ``none``."""
    if any(k in raw for k in SYSTEM_SECTIONS):
        return True
    pim = raw.get("pim")
    if pim is None:
        return False
    impl = pim.get("impl", "none") if isinstance(pim, Mapping) else pim
    return impl not in (None, "none")


@dataclass(frozen=True)
class Objective:
    metric: str                 # one of METRICS
    direction: str              # minimize | maximize

    @property
    def column(self) -> str:
        return METRICS[self.metric][0]

    @property
    def unit(self) -> str:
        return METRICS[self.metric][1]


@dataclass(frozen=True)
class Constraint:
    """``metric <= max`` or ``metric >= min``; its value is the *relative* violation
    ``metric / max - 1`` (or ``1 - metric / min``): <= 0 is feasible (Optuna's convention)."""

    metric: str
    bound: float
    kind: str                   # "max" | "min"

    @property
    def name(self) -> str:
        return f"{self.metric}_{self.kind}"

    @property
    def column(self) -> str:
        return METRICS[self.metric][0]

    def value(self, metric_value: float) -> float:
        if self.kind == "max":
            return metric_value / self.bound - 1.0
        return 1.0 - metric_value / self.bound


@dataclass(frozen=True)
class RewardConfig:
    """Reward spec (see ``accelsim.dse.reward``). Weights are per objective metric."""

    kind: str = "log_ratio"
    weights: Mapping[str, float] = field(default_factory=dict)
    targets: Mapping[str, float] = field(default_factory=dict)
    infeasible_penalty: float = -2.0     # reward of a design that just misses a constraint
    violation_scale: float = 4.0         # extra penalty per unit of log(1 + total violation)
    invalid_penalty: float = -20.0       # invalid / timed-out designs; also the floor


@dataclass(frozen=True)
class Workload:
    """Either a trace file or ``generate_trace`` arguments."""

    trace: str | None = None
    generate: Mapping[str, Any] | None = None
    #: NeuPIMs decode batch of PIM designs: ``lengths`` (``PIM_LENGTHS``), ``seed``,
    #: ``warmup_steps``, ``pp``; model, batch, context and tp come from ``generate``.
    pim: Mapping[str, Any] | None = None
    #: serving run of ``generate.model`` on each design (``accelsim.serve``): ``dataset``,
    #: ``rate``, ``duration_s``, ``seed``, ``slo``, ``tp``, ``replicas``, ``max_num_seqs``,
    #: ``max_num_batched_tokens``; the ``generate`` step stays the observation workload.
    serve: Mapping[str, Any] | None = None

    def describe(self) -> str:
        if self.trace:
            return f"trace {self.trace}"
        out = "generate(" + ", ".join(f"{k}={v}" for k, v in self.generate.items()) + ")"
        if self.pim:
            out += "; pim(" + ", ".join(f"{k}={v}" for k, v in self.pim.items()) + ")"
        if self.serve:
            out += "; serve(" + ", ".join(f"{k}={v}" for k, v in self.serve.items()) + ")"
        return out


@dataclass(frozen=True)
class EnvDef:
    """A validated env definition. Build with ``load_env``; immutable (``with_overrides``)."""

    name: str
    file: str | None
    description: str
    arch: str                                   # preset name or resolved path
    arch_raw: Mapping[str, Any]                 # base arch mapping after ``arch_overrides``
    space: DesignSpace
    workload: Workload
    objectives: tuple[Objective, ...]
    constraints: tuple[Constraint, ...]
    reward: RewardConfig
    fidelity: str = "analytical"
    tweak_horizon: int = 16
    timeout_s: float | None = None
    requires: tuple[str, ...] = ()
    unavailable: str | None = None              # why it cannot be evaluated yet (or None)
    tech: str | None = None                     # technology file for ``accelsim.cost``
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def needs_cost(self) -> bool:
        metrics = {o.metric for o in self.objectives} | {c.metric for c in self.constraints}
        return any(METRICS[m][3] for m in metrics)

    @property
    def needs_energy(self) -> bool:
        """Energy/power/EDP need a full ``Report``; area alone comes from the arch."""
        metrics = {o.metric for o in self.objectives} | {c.metric for c in self.constraints}
        return bool(metrics & {"energy", "power", "edp"})

    @property
    def metric_names(self) -> list[str]:
        """Metrics this env reports (latency and throughput always; cost metrics if used)."""
        wanted = {o.metric for o in self.objectives} | {c.metric for c in self.constraints}
        if self.needs_energy:
            wanted |= {"energy", "area", "power", "edp"}
        serving = self.workload.serve is not None
        return [m for m in METRICS if m in wanted or (
            not METRICS[m][3] and (serving or m not in SERVE_METRICS))]

    def fingerprint(self) -> str:
        """Hash of what determines raw metrics (base arch, knobs, workload spec, tech)."""
        blob = json.dumps({"arch": self.arch_raw, "knobs": self.space.describe(),
                           "workload": [self.workload.trace, self.workload.generate,
                                        self.workload.pim, self.workload.serve],
                           "tech": self.tech}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def with_overrides(self, overrides: Mapping[str, Any] | None = None, **top: Any) -> "EnvDef":
        """A new ``EnvDef`` with top-level keys or dotted key paths of the YAML replaced,
        re-validated (``fidelity="full"``, ``{"workload.generate.batch": 4}``)."""
        merged = dict(overrides or {})
        merged.update(top)
        if not merged:
            return self
        raw = apply_overrides(copy.deepcopy(dict(self.raw)), merged, file=self.file)
        return parse_env(raw, file=self.file)


def _resolve_file(path: str, env_file: str | None) -> str:
    """A path relative to the env file's folder, the repo root, or the current directory."""
    p = Path(path)
    if p.is_absolute():
        return str(p)
    candidates = []
    if env_file:
        here = Path(env_file).resolve().parent
        candidates += [here / p, here.parent / p]
    candidates += [Path.cwd() / p, Path(__file__).resolve().parents[2] / p]
    for c in candidates:
        if c.exists():
            return str(c)
    return str(candidates[0])


def _feature_available(feature: str) -> str | None:
    """None when ``feature`` is usable in this checkout, else why not."""
    if feature == "cost":
        from ._metrics import cost_unavailable

        return cost_unavailable()
    try:
        if feature == "mesh":
            from ..engine.multicore import MeshSimulation  # noqa: F401
        elif feature == "pim":
            from ..hw.pim import build_pim  # noqa: F401
            from ..engine.pim import make_pim_runner  # noqa: F401
            from ..mapping.schedulers import build_scheduler  # noqa: F401
    except ImportError as exc:
        return f"this accelsim has no {feature} support ({exc})"
    return None


def parse_env(raw: Any, *, file: str | None = None) -> EnvDef:
    """Validate a raw mapping (parsed YAML) into an ``EnvDef``."""
    top = Section(raw, file=file)
    name = top.str("name", default=Path(file).stem if file else "env")
    description = top.str("description", default="")
    top.any("status", default=None)   # free text for humans ("needs PIM (issue 5)")
    requires_raw = top.any("requires", default=[])
    if not isinstance(requires_raw, list) or not all(isinstance(r, str) for r in requires_raw):
        raise top.error("requires", f"expected a list of feature names ({', '.join(FEATURES)}), "
                                    f"got {requires_raw!r:.60}")
    for r in requires_raw:
        if r not in FEATURES:
            raise top.error("requires", f"expected features from {', '.join(FEATURES)}, got {r!r}")
    requires = tuple(requires_raw)

    # ---- base architecture
    arch_name = top.str("arch")
    try:
        arch_path = resolve_arch_path(_resolve_file(arch_name, file)
                                      if arch_name.endswith((".yaml", ".yml")) else arch_name)
    except ConfigError as exc:
        raise ConfigError(f"base architecture: {exc}", file=file, key="arch") from None
    arch_overrides = top.any("arch_overrides", default={})
    if not isinstance(arch_overrides, Mapping):
        raise top.error("arch_overrides", f"expected a mapping of dotted key paths to values, "
                                          f"got {arch_overrides!r:.60}")
    try:
        arch_raw = apply_overrides(_read_yaml(arch_path), dict(arch_overrides),
                                   file=str(arch_path))
    except ConfigError as exc:
        raise ConfigError(f"base architecture: {exc}", file=file, key="arch") from None

    # ---- knobs
    knobs_raw = top.any("knobs")
    if not isinstance(knobs_raw, list) or not knobs_raw:
        raise top.error("knobs", f"expected a non-empty list of knobs, got {knobs_raw!r:.60}")
    knobs = []
    seen: set[str] = set()
    for i, kraw in enumerate(knobs_raw):
        ks = Section(kraw, file=file, path=f"knobs[{i}]")
        kname = ks.str("name")
        if not kname.isidentifier():
            raise ks.error("name", f"expected an identifier (letters, digits, _), got {kname!r}")
        if kname in seen:
            raise ks.error("name", f"expected a unique knob name, got {kname!r} twice")
        seen.add(kname)
        keys = ks.any("key")
        keys = [keys] if isinstance(keys, str) else keys
        if not isinstance(keys, list) or not keys or not all(
                isinstance(k, str) and k and all(k.split(".")) for k in keys):
            raise ks.error("key", f"expected a dotted arch key path or a list of them "
                                  f"(e.g. systolic.rows), got {ks.raw.get('key')!r:.60}")
        values = ks.any("values")
        if not isinstance(values, list) or not values:
            raise ks.error("values", f"expected a non-empty list of values, got {values!r:.60}")
        if len(set(map(repr, values))) != len(values):
            raise ks.error("values", f"expected distinct values, got {values!r:.80}")
        for v in values:
            if not isinstance(v, (int, float, str, bool)):
                raise ks.error("values", f"expected scalars (numbers, strings), got {v!r:.40}")
        baseline = ks.any("baseline", default=None)
        if baseline is None:
            baseline = _lookup(arch_raw, keys[0])
            if baseline not in values:
                raise ks.error("baseline", f"the base arch's {keys[0]} = {baseline!r} is not in "
                                           f"values {values}; add it or set baseline:")
        elif baseline not in values:
            raise ks.error("baseline", f"expected one of {values}, got {baseline!r}")
        knobs.append(Knob(kname, tuple(keys), tuple(values), unit=ks.str("unit", default=""),
                          baseline=baseline, description=ks.str("description", default="")))
        ks.done()
    space = DesignSpace(knobs)

    # ---- workload
    ws = top.section("workload")
    if ws.has("trace") == ws.has("generate"):
        raise ws.error("trace", "expected exactly one of trace: (a file) or generate: "
                                "(generate_trace arguments)")
    if ws.has("trace"):
        workload = Workload(trace=_resolve_file(ws.str("trace"), file))
        if not Path(workload.trace).exists():
            raise ws.error("trace", f"expected an existing trace file, got {ws.raw['trace']!r} "
                                    f"(looked for {workload.trace})")
    else:
        gen = ws.section("generate")
        gen_args = dict(gen.raw)
        if "model" not in gen_args:
            raise gen.error("model", "required key is missing")
        pim_wl = None
        if ws.has("pim"):
            ps = ws.section("pim")
            pim_wl = {"lengths": ps.choice("lengths", PIM_LENGTHS, default="uniform"),
                      "seed": ps.int("seed", default=0, minimum=0),
                      "warmup_steps": ps.int("warmup_steps", default=4096, minimum=0,
                                             maximum=1 << 20),
                      "pp": ps.int("pp", default=1, minimum=1, maximum=1024)}
            ps.done()
        serve_wl = _parse_serve(ws.section("serve")) if ws.has("serve") else None
        workload = Workload(generate=gen_args, pim=pim_wl, serve=serve_wl)
    ws.done()

    # ---- objectives
    if workload.serve is None:
        lists = [top.raw.get(key) for key in ("objectives", "constraints")]
        used = [m.get("metric") if isinstance(m, Mapping) else m
                for items in lists if isinstance(items, list) for m in items]
        serving = [m for m in used if isinstance(m, str) and m in SERVE_METRICS]
        if serving:
            raise top.error("workload", f"metric {serving[0]!r} is a serving metric: expected a "
                                        "workload.serve section (dataset, rate, duration_s, slo)")
    obj_raw = top.any("objectives")
    if not isinstance(obj_raw, list) or not obj_raw:
        raise top.error("objectives", f"expected a non-empty list like [{{metric: latency}}], "
                                      f"got {obj_raw!r:.60}")
    objectives = []
    for i, oraw in enumerate(obj_raw):
        if isinstance(oraw, str):
            oraw = {"metric": oraw}
        os_ = Section(oraw, file=file, path=f"objectives[{i}]")
        metric = os_.choice("metric", METRICS)
        direction = os_.choice("direction", DIRECTIONS, default=METRICS[metric][2])
        os_.done()
        if any(o.metric == metric for o in objectives):
            raise os_.error("metric", f"expected each objective once, got {metric!r} twice")
        objectives.append(Objective(metric, direction))

    # ---- constraints
    con_raw = top.any("constraints", default=[])
    if not isinstance(con_raw, list):
        raise top.error("constraints", f"expected a list like [{{metric: area, max: 400}}], "
                                       f"got {con_raw!r:.60}")
    constraints = []
    for i, craw in enumerate(con_raw):
        cs = Section(craw, file=file, path=f"constraints[{i}]")
        metric = cs.choice("metric", METRICS)
        if cs.has("max") == cs.has("min"):
            raise cs.error("max", "expected exactly one of max: or min: (a positive bound)")
        kind = "max" if cs.has("max") else "min"
        bound = cs.float(kind, minimum=0.0, exclusive_minimum=True)
        cs.done()
        constraints.append(Constraint(metric, bound, kind))

    # ---- reward
    rs = top.section("reward", default={})
    names = [o.metric for o in objectives]
    weights = rs.any("weights", default=None)
    if weights is None:
        weights = {m: 1.0 for m in names}
    weights = _metric_floats(rs, "weights", weights, names)
    targets = _metric_floats(rs, "targets", rs.any("targets", default={}), names)
    kind = rs.choice("kind", REWARD_KINDS, default="log_ratio")
    if kind == "target_hinge" and set(targets) != set(names):
        raise rs.error("targets", f"target_hinge needs a target for every objective "
                                  f"({', '.join(names)}), got {sorted(targets)}")
    invalid_penalty = rs.float("invalid_penalty", default=-20.0, maximum=0.0)
    reward = RewardConfig(
        kind=kind, weights=weights, targets=targets,
        infeasible_penalty=rs.float("infeasible_penalty", default=-2.0, maximum=0.0,
                                    minimum=invalid_penalty),
        violation_scale=rs.float("violation_scale", default=4.0, minimum=0.0),
        invalid_penalty=invalid_penalty)
    rs.done()

    fidelity = top.choice("fidelity", FIDELITIES, default="analytical")
    tw = top.section("tweak", default={})
    horizon = tw.int("horizon", default=16, minimum=1, maximum=100000)
    tw.done()
    timeout_s = top.any("timeout_s", default=None)
    if timeout_s is not None:
        timeout_s = top.float("timeout_s", minimum=0.0, exclusive_minimum=True)
    tech = top.any("tech", default=None)
    if tech is not None:
        tech = top.str("tech")
    top.done()

    # ---- availability: validate what can be validated, record why the rest cannot run yet
    reasons = []
    if any(METRICS[m][3] for m in {o.metric for o in objectives} | {c.metric for c in constraints}):
        reason = _feature_available("cost")
        if reason:
            reasons.append(f"objectives/constraints use energy/area/power but {reason}")
    pending = [r for r in requires if r != "cost" and _feature_available(r)]
    base_raw = apply_overrides(arch_raw, space.arch_overrides(space.baseline()))
    base_arch_raw, base_system = split_system(base_raw)
    try:
        parse_arch(base_arch_raw, file=str(arch_path))
    except ConfigError as exc:
        if not pending:
            raise ConfigError(f"the baseline design is not a valid architecture: {exc}",
                              file=file, key="knobs") from None
        reasons.append(f"env needs {', '.join(pending)} support, which this accelsim's arch "
                       f"loader does not accept yet: {exc}")
    if workload.generate is not None:
        reason = _check_generate(workload.generate)
        if reason and not pending:
            raise ConfigError(f"cannot generate the workload: {reason}", file=file,
                              key="workload.generate")
        if reason:
            reasons.append(f"env needs {', '.join(pending)} support in the workload generator: "
                           f"{reason}")
    if not pending and uses_pim_system(base_raw):
        _check_pim_env(top, base_system, space, arch_raw, workload, objectives, constraints)
    unavailable = "; ".join(reasons) or None

    return EnvDef(name=name, file=file, description=description, arch=str(arch_path),
                  arch_raw=arch_raw, space=space, workload=workload,
                  objectives=tuple(objectives), constraints=tuple(constraints), reward=reward,
                  fidelity=fidelity, tweak_horizon=horizon, timeout_s=timeout_s,
                  requires=requires, unavailable=unavailable, tech=tech,
                  raw=copy.deepcopy(dict(raw)))


def _parse_serve(ss: Section) -> dict[str, Any]:
    """``workload.serve``: what ``accelsim.serve`` runs on every design."""
    from ..serving.metrics import parse_slo

    out = {"dataset": ss.str("dataset", default="sharegpt"),
           "rate": ss.float("rate", minimum=1e-6, maximum=1e6),
           "duration_s": ss.float("duration_s", minimum=1e-3, maximum=86400.0),
           "seed": ss.int("seed", default=0, minimum=0),
           "tp": ss.int("tp", default=1, minimum=1, maximum=1024),
           "replicas": ss.int("replicas", default=1, minimum=1, maximum=1024),
           "max_num_seqs": ss.int("max_num_seqs", default=256, minimum=1, maximum=1 << 20),
           "max_num_batched_tokens": ss.int("max_num_batched_tokens", default=8192, minimum=1,
                                            maximum=1 << 24)}
    slo = ss.any("slo", default={})
    try:
        out["slo"] = parse_slo(slo)
    except ConfigError as exc:
        raise ss.error("slo", str(exc)) from None
    ss.done()
    return out


def _check_pim_env(top: Section, base_system, space: DesignSpace, arch_raw, workload: Workload,
                   objectives, constraints) -> None:
    """An env whose baseline runs on the NeuPIMs system simulation: a decode ``generate:``
    workload and valid schedulers."""
    from ..mapping.schedulers import build_scheduler

    if workload.generate is None or workload.generate.get("phase", "decode") != "decode":
        raise top.error("workload", "a PIM design (pim: / scheduler:) runs the NeuPIMs decode "
                                    "simulation: expected workload.generate with phase: decode")
    # every scheduler value of the space must name a registered scheduler
    for k in space:
        for key in k.keys:
            if key.split(".")[0] not in SYSTEM_SECTIONS:
                continue
            for v in k.values:
                design = dict(space.baseline())
                design[k.name] = v
                _, system = split_system(apply_overrides(arch_raw, space.arch_overrides(design)))
                try:
                    build_scheduler(system.get("scheduler", {}), file=top.file)
                except ConfigError as exc:
                    raise ConfigError(f"knob {k.name!r} value {v!r}: {exc}", file=top.file,
                                      key="knobs") from None
    if "scheduler" in base_system:
        build_scheduler(base_system["scheduler"], file=top.file, path="arch_overrides.scheduler")


def _check_generate(args: Mapping[str, Any]) -> str | None:
    import inspect

    from ..workload.generate import generate_trace

    params = inspect.signature(generate_trace).parameters
    unknown = [k for k in args if k not in params]
    if unknown:
        return f"generate_trace has no argument {unknown[0]!r} (has: {', '.join(params)})"
    return None


def _metric_floats(sec: Section, key: str, value: Any, names: list[str]) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise sec.error(key, f"expected a mapping {{objective metric: number}}, got {value!r:.60}")
    out = {}
    for m, v in value.items():
        if m not in names:
            raise sec.error(f"{key}.{m}", f"expected one of the objectives {names}, got {m!r}")
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise sec.error(f"{key}.{m}", f"expected a number, got {v!r:.40}")
        try:
            number = float(v)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise sec.error(f"{key}.{m}", f"expected a finite number, got {v!r:.40}")
        out[m] = number
    return out


def _lookup(raw: Any, dotted: str) -> Any:
    node = raw
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def load_env(path: str | os.PathLike | EnvDef, overrides: Mapping[str, Any] | None = None,
             **top: Any) -> EnvDef:
    """Load and validate ``envs/NAME.yaml`` (a path, or a name looked up in ``envs/``).

    Args:
        path: the YAML file, a name in ``envs/``, or an ``EnvDef`` (returned with overrides).
        overrides: dotted key paths of the env YAML to replace (``{"workload.generate.batch": 4}``).
        **top: top-level keys to replace (``fidelity="full"``).

    Raises:
        ConfigError: naming the file, the key path, the expected and the given value.
    """
    if isinstance(path, EnvDef):
        return path.with_overrides(overrides, **top)
    p = Path(path)
    try:
        p.exists()
    except OSError as exc:  # e.g. a name too long for the file system
        raise ConfigError(f"cannot use this path: {exc.strerror or exc}", file=str(p)[:200]) from None
    if not p.exists() and p.suffix not in (".yaml", ".yml"):
        cand = envs_dir() / f"{path}.yaml"
        if cand.exists():
            p = cand
        else:
            from ..errors import unknown_name

            raise unknown_name("env", str(path), env_names())
    raw = _read_yaml(p)
    merged = dict(overrides or {})
    merged.update(top)
    if merged:
        raw = apply_overrides(raw, merged, file=str(p))
    return parse_env(raw, file=str(p))


def envs_dir() -> Path:
    from ..paths import data_root

    return data_root() / "envs"


def env_names() -> list[str]:
    return sorted(p.stem for p in envs_dir().glob("*.yaml"))


__all__ = ["EnvDef", "Objective", "Constraint", "RewardConfig", "Workload", "load_env",
           "parse_env", "METRICS", "FEATURES", "SYSTEM_SECTIONS", "split_system",
           "uses_pim_system", "env_names", "replace", "AccelsimError"]
