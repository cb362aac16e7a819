"""``evaluate(design, env_def, fidelity) -> Result`` and ``evaluate_many`` over a process pool.

``evaluate`` never raises for a bad design and never returns NaN or infinities: a design the
simulator rejects (SRAM too small, an impossible mapping: any ``AccelsimError``) comes back with
``status="invalid"`` and the reason in ``error``; one that runs past ``timeout_s`` with
``status="timeout"``; one that violates a constraint with ``status="infeasible"``. Only a broken
*env* (unknown knob, missing trace, missing optional package) raises.

Determinism: the same (design, workload, fidelity, accelsim version) gives the same metrics.
``Result.wall_s`` and ``Result.cache_hit`` describe the machine, not the design; they are left
out of ``Result.comparable()``, which is what determinism tests and resume logic compare.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import sys
import threading
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from .. import __version__
from ..errors import AccelsimError
from ._cache import ResultCache
from ._envdef import METRICS, EnvDef, load_env, split_system, uses_pim_system
from ._metrics import UNITS, base_metrics, cost_metrics, finite, tokens_per_step

STATUSES = ("ok", "infeasible", "invalid", "timeout")


@dataclass
class Result:
    """One evaluated design.

    Attributes:
        design: ``{knob: value}``.
        status: ``ok`` (feasible), ``infeasible`` (a constraint > 0), ``invalid`` (the simulator
            rejected the design; see ``error``) or ``timeout``.
        metrics: raw metrics, unit in the name (``latency_ns``, ``area_mm2``...); empty unless
            the design simulated.
        units: ``{metric: unit}``.
        objectives: ``{metric column: value}`` for the env's objectives (raw, not negated).
        directions: ``{metric column: "minimize" | "maximize"}``.
        constraints: ``{name: relative violation}``; <= 0 is feasible.
        fidelity, key: the fidelity used and the cache key (content hash).
        wall_s, cache_hit: machine-dependent; excluded from ``comparable()``.
    """

    design: dict[str, Any]
    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    objectives: dict[str, float] = field(default_factory=dict)
    directions: dict[str, str] = field(default_factory=dict)
    constraints: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    fidelity: str = "analytical"
    key: str = ""
    wall_s: float = 0.0
    cache_hit: bool = False

    @property
    def feasible(self) -> bool:
        return self.status == "ok"

    @property
    def simulated(self) -> bool:
        """True when metrics exist (ok or infeasible)."""
        return self.status in ("ok", "infeasible")

    def comparable(self) -> dict[str, Any]:
        """Everything that must be identical for the same inputs (no wall time, no cache flag)."""
        return {"design": self.design, "status": self.status, "metrics": self.metrics,
                "objectives": self.objectives, "constraints": self.constraints,
                "error": self.error, "fidelity": self.fidelity, "key": self.key}

    def minimized(self) -> list[float]:
        """Objective values oriented so that smaller is better (maximize -> negated)."""
        return [(-v if self.directions[k] == "maximize" else v) for k, v in self.objectives.items()]

    def to_row(self) -> dict[str, Any]:
        """A flat CSV row: knobs, metrics, constraints, status (no seed/wall columns)."""
        row: dict[str, Any] = dict(self.design)
        row.update(self.metrics)
        row.update({f"constraint_{k}": v for k, v in self.constraints.items()})
        row.update({"feasible": int(self.feasible), "status": self.status,
                    "error": self.error or "", "fidelity": self.fidelity, "key": self.key})
        return row


class _Timeout(Exception):
    pass


class Evaluator:
    """Evaluates designs of one env at one fidelity; holds the prepared workload and a cache.

    Building one is cheap; the workload is loaded (or generated) on first use and kept.
    """

    def __init__(self, env_def: EnvDef | str | os.PathLike, fidelity: str | None = None, *,
                 cache: ResultCache | None = None):
        self.env = env_def if isinstance(env_def, EnvDef) else load_env(env_def)
        if fidelity is not None and fidelity not in ("analytical", "full"):
            raise AccelsimError(f"unknown fidelity {fidelity!r}; expected analytical or full")
        self.fidelity = fidelity or self.env.fidelity
        self.cache = cache if cache is not None else ResultCache()
        self._trace = None
        self._rows = None
        self._template = None
        self._fresh: list[str] = []
        self._pim_batches: dict[tuple, Any] = {}
        self._serve_requests = None
        self.workload_hash = ""
        self.tokens = 1
        self._metric_cols = [METRICS[m][0] for m in self.env.metric_names]
        self._metric_key = ",".join(self._metric_cols)

    def __getstate__(self):   # ship to workers without the loaded trace
        state = self.__dict__.copy()
        state["_trace"] = state["_rows"] = state["_template"] = None
        state["_pim_batches"] = {}
        state["_serve_requests"] = None
        return state

    # ------------------------------------------------------------------ workload
    def check_available(self) -> None:
        if self.env.unavailable:
            raise AccelsimError(f"env {self.env.name!r} cannot be evaluated yet: "
                                f"{self.env.unavailable}")

    @property
    def trace(self):
        if self._trace is None:
            self.check_available()
            from ..api import generate_trace, load_trace

            wl = self.env.workload
            self._trace = (load_trace(wl.trace) if wl.trace else
                           generate_trace(**dict(wl.generate)))
            blob = self._trace.ops.to_csv(index=False) + json.dumps(
                self._trace.meta, sort_keys=True, default=str)
            self.workload_hash = hashlib.sha256(blob.encode()).hexdigest()[:20]
            self.tokens = tokens_per_step(self._trace.meta)
        return self._trace

    def workload_features(self) -> list[float]:
        """Log-scaled workload descriptors for observations: FLOPs, DRAM bytes, arithmetic
        intensity, operators, tokens per step, decode fraction."""
        ops = self.trace.ops
        rep = ops["repeat"]
        flops = float((ops["flops"] * rep).sum())
        nbytes = float(sum((ops[c] * rep).sum() for c in (
            "bytes_weight", "bytes_act_in", "bytes_act_out", "bytes_kv_read", "bytes_kv_write")))
        decode = float((ops["phase"] == "decode").mean()) if len(ops) else 0.0
        return [math.log10(1 + flops), math.log10(1 + nbytes),
                math.log10(1 + flops / max(nbytes, 1.0)), math.log10(1 + float(rep.sum())),
                math.log10(1 + self.tokens), decode]

    # ------------------------------------------------------------------ keys
    def arch_raw(self, design: Mapping[str, Any]) -> dict[str, Any]:
        from ..arch.config import apply_overrides

        return apply_overrides(self.env.arch_raw, self.env.space.arch_overrides(design),
                               file=self.env.arch)

    def key(self, design: Mapping[str, Any]) -> str:
        self.trace  # noqa: B018  (sets workload_hash)
        blob = json.dumps({"arch": self.arch_raw(design), "workload": self.workload_hash,
                           "pim_workload": self.env.workload.pim,
                           "serve_workload": self.env.workload.serve,
                           "fidelity": self.fidelity, "version": __version__,
                           "metrics": self._metric_key, "tech": self.env.tech},
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, design: Mapping[str, Any]) -> Result:
        design = self.env.space.validate(design)
        self.trace  # noqa: B018
        t0 = time.perf_counter()
        key = self.key(design)
        record = self.cache.get(key)
        hit = record is not None
        if record is None:
            record = self.compute(design)
            if record["status"] != "timeout":
                self.cache.put(key, record)
        return self.finish(design, record, key, time.perf_counter() - t0, hit)

    def compute(self, design: Mapping[str, Any]) -> dict[str, Any]:
        """Simulate ``design``: ``{"status": ok|invalid|timeout, "metrics", "error"}``."""
        timeout = self.env.timeout_s
        use_alarm = (timeout is not None and threading.current_thread() is threading.main_thread()
                     and hasattr(signal, "setitimer"))
        old = None
        if use_alarm:
            def _raise(signum, frame):
                raise _Timeout()
            old = signal.signal(signal.SIGALRM, _raise)
            signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            metrics = self._simulate(design)
        except _Timeout:
            return {"status": "timeout", "metrics": {},
                    "error": f"evaluation exceeded timeout_s={timeout:g}"}
        except AccelsimError as exc:
            return {"status": "invalid", "metrics": {}, "error": str(exc)}
        except (ArithmeticError, ValueError, IndexError, KeyError) as exc:
            warnings.warn(f"accelsim internal error on design {design}: {exc!r}", RuntimeWarning,
                          stacklevel=2)
            return {"status": "invalid", "metrics": {},
                    "error": f"internal error (please report): {type(exc).__name__}: {exc}"}
        finally:
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old)
        if not finite(metrics):
            return {"status": "invalid", "metrics": {},
                    "error": f"simulator produced non-finite metrics {metrics}"}
        return {"status": "ok", "metrics": metrics, "error": None}

    def _simulate(self, design: Mapping[str, Any]) -> dict[str, float]:
        from ..arch.config import parse_arch

        raw = self.arch_raw(design)
        arch_raw, system_raw = split_system(raw)
        if uses_pim_system(raw):
            return self._simulate_pim(self.pim_arch(arch_raw, system_raw))
        arch = parse_arch(arch_raw, file=self.env.arch)
        if self.env.workload.serve is not None:
            return self._simulate_serve(arch)
        trace = self.trace
        needs_cost = self.env.needs_cost
        # NOTE(perf): reuse the trace rows prepared once per workload and skip building the
        # Report (pandas tables) unless the cost model needs it; benchmark: scripts/bench_dse.py.
        sim = self._fresh_simulation(arch)
        result = sim.run()
        from ..units import ps_to_ns

        metrics = base_metrics(ps_to_ns(result.end_ps), self.tokens)
        if needs_cost and not self.env.needs_energy:
            from ._metrics import area_metrics

            metrics.update(area_metrics(arch, self.env.tech))
        elif needs_cost:
            from ..report.report import Report

            report = Report(arch, trace, result, fidelity=self.fidelity)
            metrics.update(cost_metrics(report, self.env.tech))
            metrics["edp_pj_ns"] = metrics["energy_pj"] * metrics["latency_ns"]
        return {c: float(metrics[c]) for c in self._metric_cols}

    def _simulate_serve(self, arch) -> dict[str, float]:
        """Serving metrics of ``arch`` (``workload.serve``, ``accelsim.serve``); ``latency_ns`` is
        the mean end-to-end latency, ``throughput_tok_s`` the output tokens per second."""
        from ..serving.run import Pool, Settings, serve
        from ..serving.scheduler import SchedulerConfig
        from ..workload.requests import synthesize_requests

        spec = self.env.workload.serve
        model = self.env.workload.generate["model"]
        if self._serve_requests is None:
            from ..workload.models import load_model

            self._serve_requests = synthesize_requests(
                spec["dataset"], rate=spec["rate"], duration_s=spec["duration_s"],
                seed=spec["seed"], max_total_tokens=load_model(model).max_ctx)
        result = serve(self._serve_requests, model,
                       pools=[Pool(arch, spec["replicas"], spec["tp"])], slo=spec["slo"],
                       settings=Settings(SchedulerConfig(spec["max_num_seqs"],
                                                         spec["max_num_batched_tokens"]),
                                         fidelity=self.fidelity, progress=False))
        s = result.summary
        nan = float("nan")

        def num(value) -> float:
            return nan if value is None else float(value)

        metrics = {"latency_ns": num(s["e2e_ms"]["mean"]) * 1e6,
                   "throughput_tok_s": float(s["throughput_tokens_per_s"]),
                   "goodput_rps": float(s["goodput_requests_per_s"]),
                   "ttft_p99_ms": num(s["ttft_ms"]["p99"]), "tpot_p99_ms": num(s["tpot_ms"]["p99"]),
                   "energy_per_token_j": num(s["energy_per_token_j"]),
                   "power_w": float(s["avg_power_w"]), "energy_pj": float(s["energy_j"]) * 1e12}
        if "area_mm2" in self._metric_cols:
            from ._metrics import area_metrics

            metrics.update(area_metrics(arch, self.env.tech))
        if "edp_pj_ns" in self._metric_cols:
            metrics["edp_pj_ns"] = metrics["energy_pj"] * metrics["latency_ns"]
        return {c: float(metrics[c]) for c in self._metric_cols}

    # ------------------------------------------------------------------ NPU + PIM systems
    def pim_arch(self, arch_raw: Mapping[str, Any], system_raw: Mapping[str, Any]):
        """The architecture of a PIM design: the evaluator-level ``scheduler:`` section goes to
        ``pim.scheduler`` (default ``naive``; ``npu-only`` without PIM); ``parse_arch`` checks
        PIM without HBM, a PIM scheduler without PIM and a PIM channel count that differs from
        the HBM's (``mapping/pim.py``)."""
        from ..arch.config import parse_arch

        raw = dict(arch_raw)
        pim = dict(raw.get("pim") or {"impl": "none"})
        if "scheduler" in system_raw:
            pim["scheduler"] = system_raw["scheduler"]
        raw["pim"] = pim
        return parse_arch(raw, file=self.env.arch)

    def pim_batch(self, spec, model):
        """The decode batch of the env's workload (``workload.generate`` batch / context / tp,
        ``workload.pim`` lengths / seed); steady-state snapshots cached per PIM channel count."""
        import numpy as np

        from ..mapping.pim_batches import DecodeBatch, steady_state_batch

        gen = dict(self.env.workload.generate)
        opts = dict(self.env.workload.pim or {"lengths": "uniform", "seed": 0,
                                              "warmup_steps": 4096, "pp": 1})
        batch = int(gen.get("batch", 1))
        if opts["lengths"] == "uniform" or spec is None:
            key = ("uniform",)
            if key not in self._pim_batches:
                ctx = int(gen.get("context", 2048))
                self._pim_batches[key] = DecodeBatch(np.full(batch, ctx, dtype=np.int64),
                                                     name=f"uniform-b{batch}-ctx{ctx}")
        else:
            key = (opts["lengths"], spec.channels)
            if key not in self._pim_batches:
                self._pim_batches[key] = steady_state_batch(
                    opts["lengths"], batch, model=model, tp=int(gen.get("tp", 1)), spec=spec,
                    seed=opts["seed"], warmup_steps=opts["warmup_steps"])
        return self._pim_batches[key]

    def _simulate_pim(self, arch) -> dict[str, float]:
        """One decode iteration through ``simulate`` (``accelsim.pim_decode``): latency = the
        iteration, throughput = its tokens/s; area from ``accelsim.cost.estimate_area`` (NPU,
        HBM PHY and controllers; the cost model has no PIM logic area); energy, power and EDP
        from the report's cost model (PIM MACs and bits included)."""
        from ..mapping.pim import pim_setup
        from ..pim_decode import simulate_decode_step
        from ..workload.models import load_model

        gen = dict(self.env.workload.generate)
        model = load_model(gen["model"])
        if gen.get("layers"):
            from dataclasses import replace as _replace

            model = _replace(model, layers=int(gen["layers"]))
        setup = pim_setup(arch)
        spec = setup.spec if setup is not None and setup.unit.enabled else None
        if spec is None:
            from ..hw.pim import load_pim_spec

            spec = load_pim_spec()          # channel placement is unused without PIM
        batch = self.pim_batch(spec, model)
        pp = int((self.env.workload.pim or {}).get("pp", 1))
        r = simulate_decode_step(arch, model, batch, tp=int(gen.get("tp", 1)), pp=pp,
                                 tech=self.env.tech if self.env.needs_energy else None)
        metrics = {"latency_ns": float(r.iteration_ns), "throughput_tok_s": float(r.tokens_per_s)}
        if self.env.needs_cost:
            from ._metrics import area_metrics

            metrics.update(area_metrics(arch, self.env.tech))
        if self.env.needs_energy:
            metrics.update({"energy_pj": r.energy_pj, "power_w": r.power_w})
            metrics["edp_pj_ns"] = metrics["energy_pj"] * r.iteration_ns
        return {c: float(metrics[c]) for c in self._metric_cols}

    def _fresh_simulation(self, arch):
        """A simulation of ``arch`` on the workload, converted once per evaluator
        (``PreparedTrace``; NOTE(perf): scripts/bench_dse.py). Mesh archs get the mesh engine."""
        from ..engine.core import PreparedTrace, Simulation

        if self._template is None:
            self._template = PreparedTrace(self.trace)
        engine = Simulation
        if arch.noc is not None:
            from ..engine.multicore import MeshSimulation as engine
        # NOTE(perf): operator records are only needed when a Report is built (energy).
        return engine(arch, self._template, fidelity=self.fidelity, progress=False,
                      keep_records=self.env.needs_energy or self.fidelity != "analytical")

    def finish(self, design: dict[str, Any], record: Mapping[str, Any], key: str, wall_s: float,
               hit: bool) -> Result:
        """Objectives, constraints and status of a raw record (cheap; env-specific)."""
        env = self.env
        metrics = dict(record["metrics"])
        status = record["status"]
        objectives, directions, constraints = {}, {}, {}
        if status == "ok":
            for o in env.objectives:
                objectives[o.column] = metrics[o.column]
                directions[o.column] = o.direction
            for c in env.constraints:
                constraints[c.name] = c.value(metrics[c.column])
            if any(v > 0 for v in constraints.values()):
                status = "infeasible"
        else:
            directions = {o.column: o.direction for o in env.objectives}
        return Result(design=dict(design), status=status, metrics=metrics,
                      units={k: UNITS[k] for k in metrics}, objectives=objectives,
                      directions=directions, constraints=constraints, error=record.get("error"),
                      fidelity=self.fidelity, key=key, wall_s=wall_s, cache_hit=hit)

    # ------------------------------------------------------------------ batches
    def evaluate_many(self, designs: Sequence[Mapping[str, Any]], *, n_workers: int | None = None,
                      executor=None) -> list[Result]:
        """Evaluate ``designs`` (results in input order). Cache hits and duplicates are served
        here; the rest run on ``executor`` (or a process pool of ``n_workers``; 1 = in-process)."""
        designs = [self.env.space.validate(d) for d in designs]
        self.trace  # noqa: B018
        keys = [self.key(d) for d in designs]
        records: dict[str, Any] = {}
        hits: set[str] = set()
        todo: dict[str, dict[str, Any]] = {}
        for d, k in zip(designs, keys):
            if k in records or k in todo:
                continue
            rec = self.cache.get(k)
            if rec is not None:
                records[k] = rec
                hits.add(k)
            else:
                todo[k] = d
        t0 = time.perf_counter()
        if todo:
            n_workers = (check_workers(n_workers, what="n_workers") if n_workers is not None
                         else min(len(todo), os.cpu_count() or 1))
            items = list(todo.items())
            if executor is not None:
                outs = executor.map_records(self, [d for _, d in items])
            elif n_workers <= 1 or len(items) == 1:
                outs = [self.compute(d) for _, d in items]
            else:
                with pool_executor(self, n_workers) as pool:
                    outs = list(pool.map(_worker_compute, [d for _, d in items],
                                         chunksize=max(1, len(items) // (4 * n_workers))))
            for (k, _), rec in zip(items, outs):
                records[k] = rec
                if rec["status"] != "timeout" and not rec.get("crashed"):   # may pass next time
                    self.cache.put(k, rec)
        wall = (time.perf_counter() - t0) / max(1, len(todo))
        return [self.finish(d, records[k], k, 0.0 if k in hits else wall, k in hits)
                for d, k in zip(designs, keys)]


# ---------------------------------------------------------------------- pool workers
_WORKER: Evaluator | None = None


def check_workers(n_workers: int, *, what: str = "--workers") -> int:
    """``n_workers`` if it is 1..cores, else ``AccelsimError`` (never silently clamped: each
    worker is a process holding a copy of the workload)."""
    cores = os.cpu_count() or 1
    whole = isinstance(n_workers, int) and not isinstance(n_workers, bool)
    if not whole or not 1 <= n_workers <= cores:
        raise AccelsimError(f"{what}: expected a whole number of worker processes from 1 to "
                            f"{cores} (the cores of this machine), got {n_workers!r}")
    return n_workers


def _die_with_parent(parent: int) -> None:
    """Make this pool worker exit when the process that started it dies (even by SIGKILL):
    Linux's parent-death signal, and a watchdog thread (every OS) that exits when the worker
    is re-parented."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)      # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):
            pass                                        # the watchdog still covers it

    def watchdog() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    if os.getppid() != parent:                         # the parent died before prctl
        os._exit(1)
    threading.Thread(target=watchdog, name="accelsim-parent-watchdog", daemon=True).start()


def _worker_init(evaluator: Evaluator, parent: int | None = None) -> None:
    global _WORKER
    if parent is not None:
        _die_with_parent(parent)
    _WORKER = evaluator
    _WORKER.cache = ResultCache(memory_entries=0)   # the parent owns the cache


def _worker_compute(design: dict[str, Any]) -> dict[str, Any]:
    _WORKER.trace  # noqa: B018
    return _WORKER.compute(design)


def pool_executor(evaluator: Evaluator, n_workers: int) -> ProcessPoolExecutor:
    import multiprocessing as mp

    method = "fork" if "fork" in mp.get_all_start_methods() and threading.active_count() == 1 \
        else "spawn"
    return ProcessPoolExecutor(max_workers=n_workers, mp_context=mp.get_context(method),
                               initializer=_worker_init, initargs=(evaluator, os.getpid()))


# ---------------------------------------------------------------------- module-level API
_EVALUATORS: dict[tuple, Evaluator] = {}
_DEFAULT_CACHE = ResultCache()


def _evaluator_for(env_def, fidelity, cache) -> Evaluator:
    env = env_def if isinstance(env_def, EnvDef) else load_env(env_def)
    fid = fidelity or env.fidelity
    ident = (id(env), env.fingerprint(), fid, id(cache))
    ev = _EVALUATORS.get(ident)
    if ev is None or ev.env is not env:
        if len(_EVALUATORS) > 32:
            _EVALUATORS.clear()
        ev = _EVALUATORS[ident] = Evaluator(env, fid, cache=cache if cache is not None
                                            else _DEFAULT_CACHE)
    return ev


def evaluate(design: Mapping[str, Any], env_def: EnvDef | str | os.PathLike,
             fidelity: str | None = None, *, cache: ResultCache | None = None) -> Result:
    """Evaluate one design of an env.

    Args:
        design: ``{knob: value}``; missing knobs take their baseline value.
        env_def: an ``EnvDef`` or the path / name of an ``envs/*.yaml``.
        fidelity: ``analytical`` or ``full`` (default: the env's).
        cache: a ``ResultCache`` (default: a process-wide in-memory one).

    Returns:
        A ``Result``; never raises for a bad design (``status`` says what happened).

    Example:
        >>> from accelsim.dse import evaluate
        >>> r = evaluate({"sa_dim": 64}, "tests/dse/data/tiny-latency.yaml")
        >>> r.status, r.units["latency_ns"], r.metrics["latency_ns"] > 0
        ('ok', 'ns', True)
    """
    return _evaluator_for(env_def, fidelity, cache).evaluate(design)


def evaluate_many(designs: Iterable[Mapping[str, Any]], env_def: EnvDef | str | os.PathLike,
                  fidelity: str | None = None, *, n_workers: int | None = None,
                  cache: ResultCache | None = None) -> list[Result]:
    """Evaluate many designs over a process pool (``n_workers``; default: all cores)."""
    return _evaluator_for(env_def, fidelity, cache).evaluate_many(list(designs),
                                                                  n_workers=n_workers)
