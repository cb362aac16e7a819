"""Studies: run an optimizer on an env for a budget of evaluations, log every one, resume.

``run_study(env, optimizer=..., budget=..., seed=..., out=DIR)`` writes into ``DIR``:

* ``study.json``       what was asked (env, optimizer, budget, seed, fidelity, version);
* ``evaluations.jsonl`` the append-only evaluation log: one line per evaluation, written and
  flushed before the optimizer sees the result (index, design, cache key, status, metrics);
* ``evaluations.csv``   the same as a table: knobs, metrics (unit in the column name),
  constraints, feasible, status, wall time, seed, optimizer;
* ``pareto.png``        feasible points and the Pareto front (matplotlib, Agg);
* ``optuna.journal``    Optuna's journal storage (Optuna optimizers);
* ``study.lock``        held (``flock``) for the whole run; names the running process.

See ``_state.py`` for the lock and how damaged logs are recovered, and ``_check_own_files``
for what ``--force`` may replace.

Resuming: running the same study again (same env, optimizer, budget, seed, fidelity) over the
same ``DIR`` continues it. Random search and PPO replay their deterministic proposal sequence
and take the first ``n`` results from the log (by index, checked by design key), so finished
evaluations are neither lost nor repeated; Optuna reloads its trials from the journal and
re-enqueues any logged design whose trial was still running when the study stopped. A
*different* study over a non-empty ``DIR`` is refused unless ``force=True``.

Backends: ``local`` (a process pool of ``n_workers``) or ``ray`` (each evaluation a Ray task;
``address=None`` starts a local Ray, else connects to a cluster). Proposals are made in
batches of ``batch`` (independent of the number of workers), so for a given seed both backends
evaluate the same designs in the same order and produce the same rows.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .. import __version__
from ..errors import AccelsimError, ConfigError
from ..io import check_path_names
from ._envdef import EnvDef, load_env
from ._evaluate import Evaluator, Result, check_workers, pool_executor, _worker_compute
from ._pareto import pareto_mask, plot_front
from ._space import _import_optional
from ._state import LOCK_NAME, StudyLock, backup_name, line_ranges, recover_journal, warn

OPTIMIZERS = ("random", "optuna-tpe", "optuna-nsga2", "ppo", "maskable-ppo")
BACKENDS = ("local", "ray")
_STUDY_FILES = ("study.json", "evaluations.jsonl", "evaluations.csv", "pareto.png",
                "optuna.journal", "optuna.journal.lock")


# ---------------------------------------------------------------------- executors
WORKER_DIED = ("the worker process evaluating this design died (killed by the OS, e.g. out of "
               "memory, or crashed); marked invalid, the study went on")


class LocalExecutor:
    """Runs misses on a process pool kept open for the whole study (1 worker, or a single
    design: in-process).

    A worker that dies (out of memory, a signal) does not end the study: the pool is started
    again, the designs it lost are rerun one at a time, and the one that kills its worker again
    comes back ``invalid`` with ``WORKER_DIED`` (such records are not cached)."""

    def __init__(self, evaluator: Evaluator, n_workers: int):
        self.n_workers = max(1, int(n_workers))
        self._evaluator = evaluator
        self._pool = pool_executor(evaluator, self.n_workers) if self.n_workers > 1 else None

    def map_records(self, evaluator: Evaluator, designs: Sequence[dict]) -> list[dict]:
        if self._pool is None or len(designs) == 1:
            return [evaluator.compute(d) for d in designs]
        from concurrent.futures.process import BrokenProcessPool

        futures = [self._pool.submit(_worker_compute, d) for d in designs]
        out: list[dict | None] = [None] * len(designs)
        lost = []
        for j, f in enumerate(futures):
            try:
                out[j] = f.result()
            except BrokenProcessPool:
                lost.append(j)
        if lost:
            self._restart()
        for j in lost:                  # one at a time, so a death names its design
            try:
                out[j] = self._pool.submit(_worker_compute, designs[j]).result()
            except BrokenProcessPool:
                out[j] = {"status": "invalid", "metrics": {}, "error": WORKER_DIED,
                          "crashed": True}
                self._restart()
        return out  # type: ignore[return-value]

    def _restart(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = pool_executor(self._evaluator, self.n_workers)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()


_RAY_EVALUATORS: dict[str, Evaluator] = {}


def _ray_compute(evaluator: Evaluator, ident: str, design: dict) -> dict:
    ev = _RAY_EVALUATORS.get(ident)
    if ev is None:             # one prepared workload per Ray worker process
        ev = _RAY_EVALUATORS[ident] = evaluator
    return ev.compute(design)


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """A ``host:port`` Ray address must accept a TCP connection (Ray itself retries for minutes
    on a wrong one). ``auto`` and ``ray://`` addresses are left to Ray."""
    import socket

    if address == "auto" or "://" in address:
        return
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfigError(f"expected HOST:PORT (or auto), got {address!r}", key="--address")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ConfigError(f"no Ray cluster answers at {address} ({exc.strerror or exc}); start "
                          "one (ray start --head) or drop --address for a local Ray",
                          key="--address") from None


class RayExecutor:
    """Each evaluation is a Ray task. ``address=None``: a local Ray with ``n_workers`` CPUs."""

    def __init__(self, evaluator: Evaluator, n_workers: int, address: str | None = None):
        ray = _import_optional("ray", "ray")
        self.ray = ray
        self._owns = False
        if not ray.is_initialized():
            kwargs = dict(include_dashboard=False, log_to_driver=False, logging_level="ERROR")
            if address:
                _check_reachable(address)
            try:
                if address:
                    ray.init(address=address, **kwargs)
                else:
                    ray.init(num_cpus=max(1, int(n_workers)), **kwargs)
            except Exception as exc:  # noqa: BLE001 - Ray raises bare Exception on startup timeouts
                first = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
                where = f"the Ray cluster at {address}" if address else "a local Ray"
                raise AccelsimError(f"--backend ray: could not start {where}: {first}; try again "
                                    "on a less busy machine or use --backend local") from None
            self._owns = True
        self._task = ray.remote(num_cpus=1)(_ray_compute)
        self._ident = f"{evaluator.env.fingerprint()}:{evaluator.fidelity}"
        self._ref = ray.put(evaluator)

    def map_records(self, evaluator: Evaluator, designs: Sequence[dict]) -> list[dict]:
        refs = [self._task.remote(self._ref, self._ident, dict(d)) for d in designs]
        return self.ray.get(refs)

    def close(self) -> None:
        if self._owns:
            self.ray.shutdown()


# ---------------------------------------------------------------------- the log
@dataclass
class Row:
    index: int
    design: dict[str, Any]
    key: str
    record: dict[str, Any]
    wall_s: float
    cache_hit: bool


class EvaluationLog:
    """The append-only JSONL log, read back by ``index``.

    A torn last line (a run killed mid-write) is cut. Any other bad line (not JSON, not an
    object, missing keys, a repeated index) is skipped with a warning naming the lines: the
    valid rows are kept (``rows``, sorted by index), the damaged file is kept as
    ``evaluations.jsonl.corrupt-TIMESTAMP`` and a clean log replaces it, so only the missing
    indices are evaluated again.
    """

    def __init__(self, path: Path):
        self.path = path
        self.by_index: dict[int, Row] = {}
        self.by_key: dict[str, dict[str, Any]] = {}
        if path.exists():
            self._read()
        self._fh = open(path, "a", encoding="utf-8")

    @property
    def rows(self) -> list[Row]:
        return [self.by_index[i] for i in sorted(self.by_index)]

    def _read(self) -> None:
        with open(self.path, "rb") as fh:
            data = fh.read()
        lines = data.split(b"\n")
        tail = lines.pop()                        # b"" when the file ends with a newline
        bad: list[int] = []
        for n, line in enumerate(lines, 1):
            row = _parse_row(line)
            if row is None or row.index in self.by_index:
                bad.append(n)
            else:
                self._add(row)
        torn_row = _parse_row(tail) if tail else None
        if torn_row is not None and torn_row.index not in self.by_index:
            self._add(torn_row)                    # complete but for its newline
        if bad or torn_row is not None:
            backup = backup_name(self.path)
            shutil.copy2(self.path, backup)
            from ..io import atomic_write_text

            atomic_write_text(self.path, "".join(_row_line(r) for r in self.rows))
            if bad:
                warn(f"{self.path}: skipped {len(bad)} bad line(s) ({line_ranges(bad)}: not a "
                     f"JSON evaluation record, or a repeated index); kept {len(self.by_index)} "
                     f"valid evaluation(s), the missing ones are evaluated again; the damaged "
                     f"file is kept as {backup.name}")
        elif tail:
            with open(self.path, "r+b") as fh:    # a run killed mid-write: cut the torn line
                fh.truncate(len(data) - len(tail))

    def _add(self, row: Row) -> None:
        self.by_index[row.index] = row
        self.by_key.setdefault(row.key, row.record)

    def append(self, row: Row) -> None:
        self._fh.write(_row_line(row))
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._add(row)

    def close(self) -> None:
        self._fh.close()


def _row_line(row: Row) -> str:
    return json.dumps({"index": row.index, "design": row.design, "key": row.key,
                       "record": row.record, "wall_s": row.wall_s, "cache_hit": row.cache_hit},
                      sort_keys=True, allow_nan=False) + "\n"


def _parse_row(line: bytes) -> Row | None:
    """The ``Row`` of one log line, or None if the line is not a well-formed record."""
    try:
        d = json.loads(line)
        row = Row(d["index"], d["design"], d["key"], d["record"], d["wall_s"], d["cache_hit"])
    except (ValueError, TypeError, KeyError):    # not JSON / not an object / missing keys
        return None
    ok = (type(row.index) is int and row.index >= 0 and isinstance(row.design, dict)
          and isinstance(row.key, str) and isinstance(row.record, dict)
          and isinstance(row.record.get("status"), str)
          and isinstance(row.record.get("metrics"), dict)
          and isinstance(row.wall_s, (int, float)) and isinstance(row.cache_hit, bool))
    return row if ok else None


# ---------------------------------------------------------------------- the recorder
class Recorder:
    """Evaluates proposals in order, serving replays from the log; every new result is logged
    before it is returned. ``evaluate(designs)`` is what every optimizer adapter calls."""

    def __init__(self, evaluator: Evaluator, log: EvaluationLog, executor, *, budget: int,
                 progress: bool | None):
        self.evaluator, self.log, self.executor, self.budget = evaluator, log, executor, budget
        self.next_index = 0
        self.replayed = 0
        self.best: float | None = None
        self._bar = _progress_bar(budget, progress)
        self._replay_ok = True

    @property
    def done(self) -> int:
        """Evaluations in the log (indices may have gaps after a damaged log was repaired)."""
        return len(self.log.by_index)

    def evaluate(self, designs: Sequence[Mapping[str, Any]], *, replay: bool = True
                 ) -> list[Result]:
        ev = self.evaluator
        designs = [ev.env.space.validate(d) for d in designs]
        keys = [ev.key(d) for d in designs]
        out: list[Result | None] = [None] * len(designs)
        fresh: list[int] = []
        for j, (d, k) in enumerate(zip(designs, keys)):
            i = self.next_index + j
            row = self.log.by_index.get(i) if replay else None
            if row is not None:
                if row.key != k:
                    raise AccelsimError(
                        f"cannot resume: evaluation {i} in {self.log.path} was {row.design}, "
                        f"but the optimizer now proposes {d} (different code or settings?); "
                        f"rerun with --force to start over")
                out[j] = ev.finish(d, row.record, k, row.wall_s, row.cache_hit)
                self.replayed += 1
            else:
                fresh.append(j)
        if fresh:
            t0 = time.perf_counter()
            todo = [designs[j] for j in fresh]
            results = ev.evaluate_many(todo, executor=self.executor)
            per = (time.perf_counter() - t0) / max(1, sum(not r.cache_hit for r in results))
            for j, r in zip(fresh, results):
                r.wall_s = 0.0 if r.cache_hit else per
                out[j] = r
        start = self.next_index
        for j, r in enumerate(out):
            i = start + j
            if i not in self.log.by_index:
                self._log(i, r)
            self._track(r)
        self.next_index += len(out)
        return out  # type: ignore[return-value]

    def _log(self, index: int, r: Result) -> None:
        self.log.append(Row(index, r.design, r.key, {"status": _raw_status(r),
                                                     "metrics": r.metrics, "error": r.error},
                            r.wall_s, r.cache_hit))

    def refill(self, items: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
        """Evaluate and log designs at given indices whose log rows were lost (a damaged log);
        ``next_index`` does not move."""
        designs = [self.evaluator.env.space.validate(d) for _, d in items]
        results = self.evaluator.evaluate_many(designs, executor=self.executor)
        for (i, _), r in zip(items, results):
            self._log(i, r)

    def evaluate_one(self, design: Mapping[str, Any]) -> Result:
        return self.evaluate([design])[0]

    def _track(self, r: Result) -> None:
        if r.feasible and len(r.objectives) == 1:
            v = r.minimized()[0]
            self.best = v if self.best is None else min(self.best, v)
        if self._bar is not None:
            self._bar.update(1)
            if self.best is not None:
                col = next(iter(r.directions))
                self._bar.set_postfix_str(f"best {col}={abs(self.best):.6g}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _raw_status(r: Result) -> str:
    return "ok" if r.status == "infeasible" else r.status


def _progress_bar(total: int, progress: bool | None):
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="eval", desc="dse", leave=True)


# ---------------------------------------------------------------------- optimizers
def _run_random(rec: Recorder, space, budget: int, seed: int, batch: int, **_):
    rng = np.random.default_rng(seed)
    designs = [space.sample(rng) for _ in range(budget)]
    for s in range(0, budget, batch):
        rec.evaluate(designs[s:s + batch])


def _optuna_values(r: Result, objectives) -> list[float] | None:
    if not r.simulated:
        return None
    return [r.metrics[o.column] for o in objectives]


def _run_optuna(rec: Recorder, space, budget: int, seed: int, batch: int, sampler_name: str,
                out: Path, env: EnvDef, **_):
    optuna = _import_optional("optuna", "bo")
    from optuna.storages import JournalStorage
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        from optuna.storages.journal import JournalFileBackend
    except ImportError:  # optuna < 4
        from optuna.storages import JournalFileStorage as JournalFileBackend
    recover_journal(out / "optuna.journal")
    storage = JournalStorage(JournalFileBackend(str(out / "optuna.journal")))

    def constraints_func(trial):
        return trial.user_attrs.get("constraints", [0.0] * len(env.constraints)) or [0.0]

    # Optuna >= 5: trial.set_constraint(key, value); older: the samplers' constraints_func
    native = hasattr(optuna.trial.Trial, "set_constraint")
    cfunc = constraints_func if env.constraints and not native else None
    if sampler_name == "tpe":
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, budget),
                                             constraints_func=cfunc)
    else:
        sampler = optuna.samplers.NSGAIISampler(seed=seed,
                                                population_size=max(4, min(20, batch * 2)),
                                                constraints_func=cfunc)
    study = optuna.create_study(study_name="accelsim", storage=storage, sampler=sampler,
                                directions=[o.direction for o in env.objectives],
                                load_if_exists=True)
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.FAIL)
                and "log_index" in t.user_attrs]
    # trials that were running when the study stopped: fail them, re-enqueue logged designs
    for t in trials:
        if t.state in (TrialState.RUNNING, TrialState.WAITING):
            study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
    told = {t.user_attrs["log_index"]: t for t in complete}
    orphans = [row for row in rec.log.rows if row.index not in told]
    rec.next_index = max([*rec.log.by_index, *told], default=-1) + 1
    lost = [(i, {name: t.params[name] for name in space.names}) for i, t in sorted(told.items())
            if i not in rec.log.by_index and set(space.names) <= set(t.params)]
    if lost:                                  # told, but its log line was damaged: redo it
        rec.refill(lost)
    dists = space.to_optuna()
    for row in orphans:                       # logged but never told: tell without re-logging
        study.enqueue_trial(row.design)
        trial = study.ask(dists)
        r = rec.evaluator.finish(space.validate(row.design), row.record, row.key, row.wall_s,
                                 row.cache_hit)
        _tell(study, trial, r, env, row.index)
        rec.replayed += 1
        rec._track(r)
    while rec.done < budget:
        k = min(batch, budget - rec.done)
        asked = [study.ask(dists) for _ in range(k)]
        designs = [{name: t.params[name] for name in space.names} for t in asked]
        start = rec.next_index
        results = rec.evaluate(designs, replay=False)
        for j, (t, r) in enumerate(zip(asked, results)):
            _tell(study, t, r, env, start + j)


def _tell(study, trial, r: Result, env: EnvDef, index: int) -> None:
    from optuna.trial import TrialState

    trial.set_user_attr("log_index", index)
    trial.set_user_attr("status", r.status)
    if not r.simulated:
        study.tell(trial, state=TrialState.FAIL)
        return
    if env.constraints:
        values = [r.constraints[c.name] for c in env.constraints]
        trial.set_user_attr("constraints", values)
        if hasattr(trial, "set_constraint"):
            for c, v in zip(env.constraints, values):
                trial.set_constraint(c.name, v)
    study.tell(trial, [r.metrics[o.column] for o in env.objectives])


def _run_ppo(rec: Recorder, space, budget: int, seed: int, env: EnvDef, evaluator: Evaluator,
             maskable: bool = False, **_):
    _import_optional("stable_baselines3", "rl")
    import torch

    torch.set_num_threads(1)
    if maskable:
        sb3c = _import_optional("sb3_contrib", "rl")
        from ..gym.sequential import SequentialEnv

        gym_env = SequentialEnv(env, cache=evaluator.cache, fidelity=evaluator.fidelity)
        algo_cls = sb3c.MaskablePPO
        steps_per_eval = len(space)
    else:
        from stable_baselines3 import PPO

        from ..gym.design import DesignEnv

        gym_env = DesignEnv(env, cache=evaluator.cache, fidelity=evaluator.fidelity)
        algo_cls = PPO
        steps_per_eval = 1
    gym_env.eval_hook = rec.evaluate_one
    from stable_baselines3.common.callbacks import BaseCallback

    class _Stop(BaseCallback):
        def _on_step(self) -> bool:
            return rec.next_index < budget

    n_steps = max(8, min(64, budget * steps_per_eval // 4) // steps_per_eval * steps_per_eval)
    model = algo_cls("MultiInputPolicy", gym_env, n_steps=n_steps,
                     batch_size=max(4, n_steps // 2), n_epochs=4, learning_rate=3e-4,
                     seed=seed, device="cpu", verbose=0)
    from stable_baselines3.common.logger import Logger

    # SB3's default logger makes an empty tempdir/SB3-<time> per run even when it logs nothing
    model.set_logger(Logger(folder=None, output_formats=[]))
    model.learn(total_timesteps=budget * steps_per_eval + n_steps, callback=_Stop())
    gym_env.close()


# ---------------------------------------------------------------------- driver
@dataclass
class StudyResult:
    out: Path
    results: list[Result]
    replayed: int
    csv_path: Path
    plot_path: Path | None
    cache_summary: str
    wall_s: float
    extra: dict[str, Any] = field(default_factory=dict)

    def best_feasible(self) -> Result | None:
        feas = [r for r in self.results if r.feasible]
        if not feas:
            return None
        return min(feas, key=lambda r: tuple(r.minimized()))


def run_study(env_def: EnvDef | str, *, optimizer: str = "random", budget: int = 100,
              seed: int = 0, out: str | os.PathLike | None = None, backend: str = "local",
              address: str | None = None, force: bool = False, fidelity: str | None = None,
              n_workers: int | None = None, batch: int = 4, progress: bool | None = None,
              cache_path: str | os.PathLike | None = None,
              stop_after: int | None = None) -> StudyResult:
    """Run (or resume) a study; see the module docstring. ``stop_after`` stops after that many
    evaluations in this call (tests use it to simulate an interruption)."""
    if optimizer not in OPTIMIZERS:
        from ..errors import did_you_mean

        raise AccelsimError(f"unknown optimizer {optimizer!r}{did_you_mean(optimizer, OPTIMIZERS)};"
                            f" known: {', '.join(OPTIMIZERS)}")
    if backend not in BACKENDS:
        raise AccelsimError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    if budget < 1:
        raise AccelsimError(f"budget must be >= 1, got {budget}")
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise AccelsimError(f"--batch: expected a whole number of designs per round >= 1, "
                            f"got {batch!r}")
    if n_workers is not None and not (backend == "ray" and address):
        check_workers(n_workers)        # a Ray cluster (--address) has its own cores
    env = env_def if isinstance(env_def, EnvDef) else load_env(env_def)
    from ._cache import ResultCache

    evaluator = Evaluator(env, fidelity, cache=ResultCache(cache_path))
    evaluator.check_available()
    out = Path(out or f"dse-{env.name}-{optimizer}-s{seed}")
    check_path_names(out)
    header = {"env": env.name, "env_file": env.file, "env_fingerprint": env.fingerprint(),
              "env_raw": json.loads(json.dumps(env.raw, default=str)),
              "optimizer": optimizer, "budget": budget, "seed": seed,
              "fidelity": evaluator.fidelity, "batch": batch, "accelsim_version": __version__}
    with StudyLock(out):
        return _run_locked(out, header, force, env, evaluator, optimizer=optimizer,
                           budget=budget, seed=seed, backend=backend, address=address,
                           n_workers=n_workers, batch=batch, progress=progress,
                           stop_after=stop_after)


def _run_locked(out: Path, header: dict[str, Any], force: bool, env: EnvDef,
                evaluator: Evaluator, *, optimizer: str, budget: int, seed: int, backend: str,
                address: str | None, n_workers: int | None, batch: int,
                progress: bool | None, stop_after: int | None) -> StudyResult:
    """The body of ``run_study``, run while this process holds the study lock."""
    _prepare_out(out, header, force)
    log = EvaluationLog(out / "evaluations.jsonl")
    n_workers = n_workers or (os.cpu_count() or 1)
    executor = (RayExecutor(evaluator, n_workers, address) if backend == "ray"
                else LocalExecutor(evaluator, n_workers))
    limit = budget if stop_after is None else min(budget, len(log.rows) + stop_after)
    rec = Recorder(evaluator, log, executor, budget=limit, progress=progress)
    t0 = time.perf_counter()
    try:
        kwargs = dict(space=env.space, budget=limit, seed=seed, batch=batch, env=env,
                      evaluator=evaluator, out=out)
        if optimizer == "random":
            _run_random(rec, **kwargs)
        elif optimizer.startswith("optuna"):
            _run_optuna(rec, sampler_name=optimizer.split("-")[1], **kwargs)
        else:
            _run_ppo(rec, maskable=(optimizer == "maskable-ppo"), **kwargs)
    finally:
        rec.close()
        executor.close()
        log.close()
    wall = time.perf_counter() - t0
    log = EvaluationLog(out / "evaluations.jsonl")
    log.close()
    results = [evaluator.finish(evaluator.env.space.validate(r.design), r.record, r.key,
                                r.wall_s, r.cache_hit) for r in log.rows]
    csv_path = write_csv(out / "evaluations.csv", results, env, seed=seed, optimizer=optimizer)
    plot_path = out / "pareto.png"
    if not write_plot(plot_path, results, env, title=f"{env.name}: {optimizer}, seed {seed}, "
                                                     f"{len(results)} evaluations"):
        plot_path = None
    return StudyResult(out, results, rec.replayed, csv_path, plot_path,
                       evaluator.cache.summary(), wall)


def _check_own_files(out: Path) -> None:
    """Refuse to start if something that is not a file accelsim wrote sits at one of the names
    accelsim writes (a user directory named ``pareto.png``, a symlink...): --force and the
    final writes replace only regular files of those names, and never touch anything else."""
    for name in _STUDY_FILES:
        p = out / name
        if not (p.exists() or p.is_symlink()):
            continue
        ours = (p.is_file() and not p.is_symlink()) or (
            name == "optuna.journal.lock" and p.is_symlink())   # Optuna's lock may be a link
        if not ours:
            kind = ("a directory" if p.is_dir() and not p.is_symlink() else
                    "a symbolic link" if p.is_symlink() else "not a regular file")
            raise AccelsimError(
                f"{p}: accelsim writes its study file {name!r} here, but this is {kind} it did "
                f"not write; move or rename it, or choose another --out (--force replaces only "
                f"files accelsim wrote)")
    for name in ("study.json", "evaluations.csv"):      # temp files of a killed atomic write
        for tmp in out.glob(f".{name}.*.tmp"):
            if tmp.is_file() and not tmp.is_symlink():
                tmp.unlink()


def _read_header(meta: Path) -> dict[str, Any]:
    """The ``study.json`` of an existing study; a clear error if it is not one."""
    try:
        old = json.loads(meta.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise AccelsimError(f"{meta}: cannot read it ({exc.strerror})") from None
    except ValueError:                       # undecodable bytes or not JSON
        old = None
        got = "a file that is not JSON text"
    else:
        got = f"JSON {type(old).__name__}"
    if not isinstance(old, dict):
        raise AccelsimError(f"{meta}: expected the study header written by accelsim (a JSON "
                            f"object), got {got}; pass --force to start a new study there "
                            f"(it replaces study.json), or choose another --out")
    return old


def _prepare_out(out: Path, header: dict[str, Any], force: bool) -> None:
    meta = out / "study.json"
    if out.exists():
        _check_own_files(out)
    if out.exists() and any(p.name != LOCK_NAME for p in out.iterdir()):
        same = False
        if meta.exists() and not force:
            old = _read_header(meta)
            same = all(old.get(k) == header[k] for k in
                       ("env_fingerprint", "optimizer", "seed", "fidelity", "batch",
                        "env_raw"))
            # A larger budget extends the same study when the optimizer's proposals do not
            # depend on the total (PPO's schedule does, so it needs the same budget).
            same = same and (old.get("budget") == header["budget"] or (
                header["optimizer"] != "ppo" and isinstance(old.get("budget"), int)
                and header["budget"] >= old["budget"]))
        if force:
            for name in _STUDY_FILES:   # _check_own_files: each is ours or absent
                (out / name).unlink(missing_ok=True)
        elif not same:
            raise AccelsimError(
                f"{out} already holds a different study (or other files); pass --force "
                f"(force=True) to start a new one there, or choose another --out")
    from ..io import atomic_write_text

    atomic_write_text(meta, json.dumps(header, indent=1, sort_keys=True) + "\n")


def _objective_axes(env: EnvDef) -> list[tuple[str, str]]:
    """(metric column, direction) for the plot: objectives, then constraint metrics."""
    axes = [(o.column, o.direction) for o in env.objectives]
    for c in env.constraints:
        if all(c.column != a[0] for a in axes):
            axes.append((c.column, "minimize" if c.kind == "max" else "maximize"))
    return axes


def write_csv(path: Path, results: Sequence[Result], env: EnvDef, *, seed: int,
              optimizer: str) -> Path:
    from ..io import atomic_write_text

    metric_cols = [c for c in (m for m in _metric_columns(env))]
    fields = (["eval", "seed", "optimizer"] + env.space.names + metric_cols
              + [f"constraint_{c.name}" for c in env.constraints]
              + ["feasible", "status", "error", "fidelity", "cache_hit", "wall_s", "key"])
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for i, r in enumerate(results):
        row = {"eval": i, "seed": seed, "optimizer": optimizer, **r.design,
               **{c: r.metrics.get(c, "") for c in metric_cols},
               **{f"constraint_{k}": v for k, v in r.constraints.items()},
               "feasible": int(r.feasible), "status": r.status, "error": r.error or "",
               "fidelity": r.fidelity, "cache_hit": int(r.cache_hit),
               "wall_s": f"{r.wall_s:.6f}", "key": r.key}
        w.writerow(row)
    return atomic_write_text(path, buf.getvalue())


def _metric_columns(env: EnvDef) -> list[str]:
    from ._envdef import METRICS

    return [METRICS[m][0] for m in env.metric_names]


def front_points(results: Sequence[Result], env: EnvDef) -> tuple[np.ndarray, np.ndarray,
                                                                  np.ndarray, list[str]]:
    """(feasible points, front, infeasible points, axis labels) in raw units."""
    axes = _objective_axes(env)[:2]
    from ._metrics import UNITS

    labels = [f"{c} [{UNITS.get(c, '')}]" + (" (max)" if d == "maximize" else "")
              for c, d in axes]
    feas = np.array([[r.metrics[c] for c, _ in axes] for r in results if r.feasible])
    infeas = np.array([[r.metrics[c] for c, _ in axes] for r in results
                       if r.status == "infeasible"])
    if len(feas) == 0:
        return feas.reshape(0, len(axes)), feas.reshape(0, len(axes)), infeas, labels
    signs = np.array([1.0 if d == "minimize" else -1.0 for _, d in axes])
    mask = pareto_mask(feas * signs)
    return feas, feas[mask], infeas, labels


def write_plot(path: Path, results: Sequence[Result], env: EnvDef, *, title: str) -> bool:
    feas, front, infeas, labels = front_points(results, env)
    if feas.shape[1] == 1:       # one axis: objective against evaluation index
        idx = np.array([[r.metrics[_objective_axes(env)[0][0]], i]
                        for i, r in enumerate(results) if r.feasible]).reshape(-1, 2)
        best = idx[pareto_mask(idx * np.array([1.0 if env.objectives[0].direction == "minimize"
                                               else -1.0, 1.0]))] if len(idx) else idx
        return plot_front(path, idx, best, [labels[0], "evaluation"], title=title,
                          constraints=env.constraints)
    return plot_front(path, feas, front, labels, title=title, infeasible=infeas,
                      constraints=env.constraints)
