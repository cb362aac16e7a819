"""Compare random search, Optuna TPE, Optuna NSGA-II and PPO at an equal evaluation budget.

    python scripts/compare_optimizers.py [--env envs/llama2-7b-decode-latency-under-area.yaml]
        [--budget 48] [--seeds 0 1 2] [--optimizers random optuna-tpe optuna-nsga2 ppo]
        [--out compare-out] [--workers 2]

Prints, per optimizer, the best feasible objective (mean and spread over seeds) and the
hypervolume of the feasible points in the plot axes (objectives, then constraint metrics:
latency x area for the Llama-2-7B env). Axes are normalized by the baseline design; the
reference point is 1.1 x the worst feasible value seen by any run, so runs are comparable.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default=str(Path(__file__).resolve().parents[1] / "envs"
                                         / "llama2-7b-decode-latency-under-area.yaml"))
    ap.add_argument("--budget", type=int, default=48)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--optimizers", nargs="+",
                    default=["random", "optuna-tpe", "optuna-nsga2", "ppo"])
    ap.add_argument("--out", default="compare-out")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--fidelity", default=None)
    args = ap.parse_args()

    from accelsim.dse import evaluate, load_env
    from accelsim.dse._pareto import hypervolume
    from accelsim.dse._study import _objective_axes, run_study

    env = load_env(args.env)
    if env.unavailable:
        print(f"(env not ready: {env.unavailable}; using constraints=[])")
        env = env.with_overrides(constraints=[])
    base = evaluate({}, env, args.fidelity)
    axes = _objective_axes(env)
    obj = env.objectives[0]
    runs: dict[str, list] = {}
    for opt in args.optimizers:
        for seed in args.seeds:
            out = Path(args.out) / f"{opt}-s{seed}"
            shutil.rmtree(out, ignore_errors=True)
            t0 = time.perf_counter()
            res = run_study(env, optimizer=opt, budget=args.budget, seed=seed, out=out,
                            n_workers=args.workers, fidelity=args.fidelity, progress=False)
            runs.setdefault(opt, []).append((res, time.perf_counter() - t0))

    def norm_points(res):
        pts = [[(r.metrics[c] / base.metrics[c]) ** (1 if d == "minimize" else -1)
                for c, d in axes] for r in res.results if r.feasible]
        return np.array(pts).reshape(-1, len(axes))

    allpts = np.vstack([norm_points(res) for rs in runs.values() for res, _ in rs])
    ref = allpts.max(axis=0) * 1.1 if len(allpts) else np.ones(len(axes))
    print(f"\nenv {env.name}, budget {args.budget} evaluations, seeds {args.seeds}, "
          f"fidelity {args.fidelity or env.fidelity}")
    print(f"objective: {obj.direction} {obj.column}; baseline {base.metrics[obj.column]:.6g}; "
          f"hypervolume axes: {', '.join(c for c, _ in axes)} (normalized to baseline)")
    head = (f"{'optimizer':14s} {'best feasible ' + obj.column:>28s} {'vs baseline':>12s} "
            f"{'hypervolume':>16s} {'feasible':>9s} {'wall s':>7s}")
    print(head)
    print("-" * len(head))
    for opt, rs in runs.items():
        bests, hvs, feas, walls = [], [], [], []
        for res, wall in rs:
            b = res.best_feasible()
            if b is not None:
                bests.append(b.metrics[obj.column])
            hvs.append(hypervolume(norm_points(res), ref))
            feas.append(sum(r.feasible for r in res.results) / len(res.results))
            walls.append(wall)
        best = np.array(bests)
        ratio = base.metrics[obj.column] / best if obj.direction == "minimize" else \
            best / base.metrics[obj.column]
        print(f"{opt:14s} {best.mean():>18.6g} ± {best.std():<8.3g} {ratio.mean():>11.2f}x "
              f"{np.mean(hvs):>9.4f} ± {np.std(hvs):<5.3f} {np.mean(feas):>8.0%} "
              f"{np.mean(walls):>7.1f}")


if __name__ == "__main__":
    main()
