"""DSE throughput on the Llama-2-7B decode env: evaluations/s per core at analytical and full
fidelity (goals: >= 200/s and >= 2/s), and env.step overhead beyond evaluate() (goal <= 1 ms).

    python scripts/bench_dse.py [--n 60] [--n-full 6] [--env envs/llama2-7b-decode-latency-under-area.yaml]
        [--json PATH]

Every evaluation is a cache miss (distinct random designs, cache disabled); one core, in-process.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import cProfile
import io
import pstats
import sys
import time

import numpy as np
from benchfig import figure, write_json  # scripts/benchfig.py


def rate(evaluator, designs) -> float:
    evaluator.evaluate(designs[0])                       # warm: trace, template, numba
    t0 = time.perf_counter()
    for d in designs[1:]:
        evaluator.evaluate(d)
    return (len(designs) - 1) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default=str(Path(__file__).resolve().parents[1] / "envs"
                                         / "llama2-7b-decode-latency-under-area.yaml"))
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--n-full", type=int, default=6)
    ap.add_argument("--profile", action="store_true", help="print where analytical time goes")
    ap.add_argument("--json", default=None,
                    help="also write the figures (value, unit, goal, met) to this JSON file")
    args = ap.parse_args()

    import gymnasium

    import accelsim.gym  # noqa: F401
    from accelsim.dse import Evaluator, ResultCache, load_env

    env = load_env(args.env)
    rng = np.random.default_rng(0)
    designs = [env.space.sample(rng) for _ in range(args.n)]
    print(f"env {env.name}: {len(env.space)} knobs, workload {env.workload.describe()}")
    if env.unavailable:
        print(f"  (env not ready: {env.unavailable}; using constraints=[])")
        env = env.with_overrides(constraints=[])

    ana = Evaluator(env, "analytical", cache=ResultCache(memory_entries=0))
    r_ana = rate(ana, designs)
    print(f"analytical: {r_ana:8.1f} evaluations/s per core  (goal >= 200)")
    full = Evaluator(env, "full", cache=ResultCache(memory_entries=0))
    r_full = rate(full, designs[: args.n_full + 1])
    print(f"full:       {r_full:8.2f} evaluations/s per core  (goal >= 2)")

    # env.step overhead: step() on cache hits minus evaluate() on the same cache hits
    genv = gymnasium.make("accelsim/Design-v0", env_def=env).unwrapped
    genv.reset(seed=0)
    acts = [np.array(genv.space.encode(d)) for d in designs[:20]]
    for a in acts:
        genv.step(a)                                      # fill the env's cache
    reps = 50
    t0 = time.perf_counter()
    for _ in range(reps):
        for a in acts:
            genv.step(a)
    t_step = (time.perf_counter() - t0) / (reps * len(acts))
    t0 = time.perf_counter()
    for _ in range(reps):
        for a in acts:
            genv.evaluator.evaluate(genv.space.decode(a))
    t_eval = (time.perf_counter() - t0) / (reps * len(acts))
    print(f"env.step overhead beyond evaluate(): {1e3 * (t_step - t_eval):.3f} ms "
          f"(step {1e3 * t_step:.3f} ms, cached evaluate {1e3 * t_eval:.3f} ms; goal <= 1 ms)")
    if args.json:
        write_json(args.json, [
            figure("analytical_evals_per_s", r_ana, "evaluations/s", ">=", 200),
            figure("full_evals_per_s", r_full, "evaluations/s", ">=", 2),
            figure("step_overhead_ms", 1e3 * (t_step - t_eval), "ms", "<=", 1)], sys.argv[1:])

    if args.profile or r_ana < 200:
        prof = cProfile.Profile()
        ev = Evaluator(env, "analytical", cache=ResultCache(memory_entries=0))
        ev.evaluate(designs[0])
        prof.enable()
        for d in designs[1:21]:
            ev.evaluate(d)
        prof.disable()
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(25)
        print("\nanalytical profile (20 evaluations, by own time):")
        print("\n".join(s.getvalue().splitlines()[6:35]))


if __name__ == "__main__":
    main()
