"""``accelsim dse``: design-space exploration studies over an ``envs/*.yaml`` definition.

    accelsim dse run ENV.yaml --optimizer random|optuna-tpe|optuna-nsga2|ppo|maskable-ppo
                     --budget N --seed S [--out DIR] [--backend local|ray] [--address ADDR]
                     [--fidelity analytical|full] [--workers N] [--batch K] [--force]
                     [--set KEY.PATH=VALUE ...]
    accelsim dse check ENV.yaml       # validate an env file; print its knobs and status
    accelsim dse eval ENV.yaml [--design knob=value ...]   # evaluate one design
"""

from __future__ import annotations

import argparse
import json

from .. import guards


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("dse", help="design-space exploration over an envs/*.yaml")
    sub = p.add_subparsers(dest="dse_command", metavar="ACTION")

    r = sub.add_parser("run", help="run or resume a study (one CSV row per evaluation)")
    r.add_argument("env", help="env definition (envs/NAME.yaml or NAME)")
    r.add_argument("--optimizer", default="random",
                   choices=("random", "optuna-tpe", "optuna-nsga2", "ppo", "maskable-ppo"))
    r.add_argument("--budget", type=guards.count, default=100, help="evaluations (default 100)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--out", help="output folder (default: dse-ENV-OPTIMIZER-sSEED)")
    r.add_argument("--backend", default="local", choices=("local", "ray"))
    r.add_argument("--address", help="Ray cluster address (default: start a local Ray)")
    r.add_argument("--fidelity", choices=("analytical", "full"))
    r.add_argument("--workers", type=int,
                   help="parallel evaluations, 1 to the number of cores (default: all cores); "
                        "more is refused")
    r.add_argument("--batch", type=int, default=4,
                   help="designs proposed per round, >= 1 (fixed, so results do not depend on "
                        "workers)")
    r.add_argument("--cache", help="SQLite result cache shared between studies")
    r.add_argument("--force", action="store_true",
                   help="start a new study even if --out holds another one")
    r.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override a key of the env YAML (e.g. --set constraints=[])")
    r.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    guards.add_flags(r)
    r.set_defaults(run=run_study_cmd)

    c = sub.add_parser("check", help="validate an env definition and describe it")
    c.add_argument("env")
    c.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE")
    c.set_defaults(run=check_cmd)

    e = sub.add_parser("eval", help="evaluate one design (missing knobs: baseline)")
    e.add_argument("env")
    e.add_argument("--design", action="append", default=[], metavar="KNOB=VALUE")
    e.add_argument("--fidelity", choices=("analytical", "full"))
    e.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE")
    guards.add_flags(e)
    e.set_defaults(run=eval_cmd)
    p.set_defaults(run=lambda args: (p.print_help(), 2)[1])
    return p


def _check_workload(command: str, env, args) -> None:
    """A generated workload is built for every evaluation: guard its batch before the first."""
    batch = dict(env.workload.generate or {}).get("batch", 1)
    if isinstance(batch, int) and not isinstance(batch, bool):
        guards.check_step(command, batch=batch, args=args,
                          knob="reduce the env's workload.generate.batch")


def _check_study_work(env, args) -> None:
    """Time one evaluation (the baseline design) and refuse a study whose ``--budget`` would run
    past the work budget: one evaluation costs from milliseconds (an analytical decode step) to
    seconds (a serving run, a PIM decode step), so a fixed cost per evaluation cannot say."""
    if getattr(args, "yes_really", False):
        return
    import time

    from ..dse._evaluate import Evaluator

    cpu0 = time.process_time()
    Evaluator(env, args.fidelity).evaluate(env.space.baseline())
    per_eval_s = max(time.process_time() - cpu0, 1e-3)
    guards.check("dse run", args.budget * per_eval_s / guards.SECONDS_PER_UNIT,
                 what=f"{args.budget:,} evaluations at ~{per_eval_s:.2g} s of CPU each, the "
                      "baseline design's measured time", knob="reduce --budget", args=args)


def _overrides(items):
    from ..arch.config import _split_override

    return dict(_split_override(s) for s in items)


def run_study_cmd(args: argparse.Namespace) -> int:
    from ..dse import load_env
    from ..dse._study import run_study

    if args.budget < 1:
        from ..errors import AccelsimError

        raise AccelsimError(f"--budget: expected a positive number of evaluations, got "
                            f"{args.budget}")
    guards.check_seed(args.seed)
    guards.check("dse run", args.budget * guards.UNITS_PER_EVALUATION,
                 what=f"{args.budget:,} evaluations", knob="reduce --budget", args=args,
                 memory_bytes=args.budget * 2000)
    env = load_env(args.env, _overrides(args.set))
    _check_workload("dse run", env, args)
    _check_study_work(env, args)
    res = run_study(env, optimizer=args.optimizer, budget=args.budget, seed=args.seed,
                    out=args.out, backend=args.backend, address=args.address, force=args.force,
                    fidelity=args.fidelity, n_workers=args.workers, batch=args.batch,
                    progress=args.progress, cache_path=args.cache)
    feasible = sum(r.feasible for r in res.results)
    print(f"{len(res.results)} evaluations ({res.replayed} resumed from the log), "
          f"{feasible} feasible, {res.wall_s:.1f} s; {res.cache_summary}")
    best = res.best_feasible()
    if best is not None:
        objs = ", ".join(f"{k}={v:.6g}" for k, v in best.objectives.items())
        print(f"best feasible: {objs}  design {best.design}")
    print(f"rows: {res.csv_path}")
    if res.plot_path:
        print(f"plot: {res.plot_path}")
    return 0


def check_cmd(args: argparse.Namespace) -> int:
    from ..dse import load_env

    env = load_env(args.env, _overrides(args.set))
    print(f"{env.name}: {env.description}")
    print(f"  base arch {env.arch}; workload {env.workload.describe()}; fidelity {env.fidelity}")
    print(f"  {len(env.space)} knobs, {env.space.cardinality} designs:")
    for k in env.space:
        print(f"    {k.name:22s} {','.join(map(str, k.values))} {k.unit}  (baseline {k.baseline})")
    print("  objectives: " + ", ".join(f"{o.direction} {o.metric} [{o.unit}]"
                                       for o in env.objectives))
    if env.constraints:
        print("  constraints: " + ", ".join(f"{c.metric} {'<=' if c.kind == 'max' else '>='} "
                                            f"{c.bound:g}" for c in env.constraints))
    print(f"  status: {'ready' if not env.unavailable else 'NOT READY: ' + env.unavailable}")
    return 0


def eval_cmd(args: argparse.Namespace) -> int:
    from ..dse import evaluate, load_env
    from ..yamlio import parse_value

    env = load_env(args.env, _overrides(args.set))
    _check_workload("dse eval", env, args)
    design = {}
    for item in args.design:
        k, _, v = item.partition("=")
        design[k.strip()] = parse_value(v, file="--design", key=k.strip())
    from ..dse._evaluate import Evaluator

    r = Evaluator(env, args.fidelity).evaluate(design)
    if r.status == "invalid" and env.unavailable:
        pass
    print(json.dumps({k: v for k, v in r.comparable().items()}, indent=1, sort_keys=True))
    return 0
