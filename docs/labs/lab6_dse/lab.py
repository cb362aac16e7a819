"""Lab 6: design-space exploration under an area budget. Random search vs Optuna (TPE) vs PPO
at equal evaluation budgets; the latency-area Pareto front; how much the winner depends on the
seed (ArchGym's "hyperparameter lottery").

    python docs/labs/lab6_dse/starter.py [--out lab6_out]

This is the lab's harness; ``pareto_front`` and ``seed_spread`` are not here: ``run(out, impl)``
takes them from ``impl`` (``starter.py``, or the reference solution).

Needs the ``bo`` extra (optuna) and, for PPO, the ``rl`` extra (stable-baselines3); an optimizer
whose package is missing is skipped with a note.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import labkit  # noqa: E402

ENV = labkit.repo_path("envs", "llama2-7b-decode-latency-under-area.yaml")
OPTIMIZERS = {"random": None, "optuna-tpe": "optuna", "ppo": "stable_baselines3"}
BUDGET = 32
SEEDS = [0, 1, 2, 3]


# ----------------------------------------------------------------------------- the runs
def missing() -> str | None:
    """Why this lab cannot run in this checkout (None if it can)."""
    if not labkit.have("optuna"):
        return "optuna is not installed (pip install -e '.[bo]')"
    return None


def available() -> dict[str, bool]:
    return {opt: (mod is None or labkit.have(mod)) for opt, mod in OPTIMIZERS.items()}


def run(out_dir: str | Path | None, impl) -> dict:
    from accelsim.dse import evaluate, load_env
    from accelsim.dse._study import run_study

    env = load_env(ENV)
    base = evaluate({}, env)
    res: dict = {"baseline": {"latency_ms": base.metrics["latency_ns"] / 1e6,
                              "area_mm2": base.metrics["area_mm2"]},
                 "area_max": env.raw["constraints"][0]["max"],
                 "budget": BUDGET, "seeds": SEEDS, "runs": {}, "skipped": []}
    points, owners = [], []
    with labkit.work_dir(out_dir) as work:
        for opt, ok in available().items():
            if not ok:
                res["skipped"].append(opt)
                continue
            for seed in SEEDS:
                out = work / "studies" / f"{opt}-s{seed}"
                shutil.rmtree(out, ignore_errors=True)
                study = run_study(env, optimizer=opt, budget=BUDGET, seed=seed, out=out,
                                  n_workers=1, progress=False)
                best = study.best_feasible()
                lat = [r.metrics["latency_ns"] / 1e6 for r in study.results if r.feasible]
                res["runs"][(opt, seed)] = {
                    "best_ms": best.metrics["latency_ns"] / 1e6 if best else float("nan"),
                    "best_area": best.metrics["area_mm2"] if best else float("nan"),
                    "best_design": dict(best.design) if best else {},
                    "feasible": len(lat), "evaluations": len(study.results),
                    # best so far after each quarter of the budget (sample efficiency)
                    "curve": [min([r.metrics["latency_ns"] / 1e6 for r in study.results[:k]
                                   if r.feasible] or [float("nan")])
                              for k in (BUDGET // 4, BUDGET // 2, 3 * BUDGET // 4, BUDGET)]}
                for r in study.results:
                    if r.status in ("ok", "infeasible"):
                        points.append((r.metrics["latency_ns"] / 1e6, r.metrics["area_mm2"]))
                        owners.append((opt, seed, r.feasible))
        front = impl.pareto_front(points)
        res["front"] = [{"latency_ms": points[i][0], "area_mm2": points[i][1],
                         "feasible": owners[i][2], "found_by": owners[i][0]} for i in front]
        res["n_points"] = len(points)
        if out_dir is not None and labkit.have("matplotlib"):
            plot(points, owners, front, res, work / "lab6_pareto.png")
    for opt in {o for o, _ in res["runs"]}:
        bests = [res["runs"][(opt, s)]["best_ms"] for s in SEEDS]
        res[f"summary_{opt}"] = {"mean_ms": sum(bests) / len(bests), "best_ms": min(bests),
                                 "worst_ms": max(bests), "spread": impl.seed_spread(bests)}
    # the lottery: which optimizer wins each seed
    res["winner_by_seed"] = {s: min((o for o, ss in res["runs"] if ss == s),
                                    key=lambda o: (res["runs"][(o, s)]["best_ms"], o))
                             for s in SEEDS}
    return res


def plot(points, owners, front, res, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    colors = {"random": "#7f7f7f", "optuna-tpe": "#1f77b4", "ppo": "#d62728"}
    for opt, c in colors.items():
        xs = [p[1] for p, o in zip(points, owners) if o[0] == opt]
        ys = [p[0] for p, o in zip(points, owners) if o[0] == opt]
        if xs:
            ax.scatter(xs, ys, s=10, alpha=0.5, color=c, label=opt)
    fx = [points[i][1] for i in front]
    fy = [points[i][0] for i in front]
    ax.step(fx, fy, where="post", color="black", lw=1.2, label="Pareto front")
    ax.axvline(res["area_max"], color="red", ls="--", lw=1, label="area budget")
    ax.scatter([res["baseline"]["area_mm2"]], [res["baseline"]["latency_ms"]], marker="*",
               s=150, color="orange", edgecolor="black", label="baseline", zorder=5)
    ax.set(xlabel="area (mm²)", ylabel="decode step latency (ms)", yscale="log")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


# ----------------------------------------------------------------------------- handout blocks
def blocks(res: dict) -> dict[str, str]:
    b = res["baseline"]
    opts = [o for o in OPTIMIZERS if f"summary_{o}" in res]
    rows = []
    for o in opts:
        s = res[f"summary_{o}"]
        per_seed = ", ".join(f"{res['runs'][(o, seed)]['best_ms']:.1f}" for seed in res["seeds"])
        rows.append([o, per_seed, f"{s['mean_ms']:.1f}", f"{b['latency_ms'] / s['best_ms']:.2f}×",
                     f"{s['spread']:.2f}"])
    summary = labkit.md_table(["optimizer", "best feasible latency (ms) per seed " +
                               str(res["seeds"]), "mean", "best vs baseline", "worst / best"], rows)
    summary = (f"Baseline (128×128 WS, 8 MiB + 8 MiB + 4 MiB SRAM, 256 GB/s): "
               f"**{b['latency_ms']:.1f} ms**, {b['area_mm2']:.1f} mm²; area budget "
               f"{res['area_max']:g} mm²; {res['budget']} evaluations per run.\n\n" + summary)
    summary += "\n\nWinner per seed: " + ", ".join(
        f"seed {s}: **{o}**" for s, o in res["winner_by_seed"].items()) + "."
    if res["skipped"]:
        summary += f"\n\n(Skipped, package not installed: {', '.join(res['skipped'])}.)"
    curves = labkit.md_table(
        ["optimizer", "seed", f"best after {res['budget'] // 4}", f"after {res['budget'] // 2}",
         f"after {3 * res['budget'] // 4}", f"after {res['budget']}", "feasible evaluations"],
        [[o, s, *(f"{x:.1f}" for x in r["curve"]), f"{r['feasible']} of {r['evaluations']}"]
         for (o, s), r in res["runs"].items()])
    front = labkit.md_table(["latency (ms)", "area (mm²)", "within budget", "found by"],
                            [[f"{p['latency_ms']:.1f}", f"{p['area_mm2']:.1f}",
                              "yes" if p["feasible"] else "no", p["found_by"]]
                             for p in res["front"]])
    front = (f"{len(res['front'])} Pareto-optimal designs among {res['n_points']} evaluated:\n\n"
             + front)
    best = min(res["runs"].values(), key=lambda r: r["best_ms"])
    design = labkit.md_table(["knob", "value"], [[k, v] for k, v in best["best_design"].items()])
    design = (f"Best feasible design of all runs: {best['best_ms']:.1f} ms, "
              f"{best['best_area']:.1f} mm²\n\n" + design)
    return {"lab6:summary": summary, "lab6:curves": curves, "lab6:front": front,
            "lab6:best": design}


def main(impl=None) -> None:
    """Run the lab with ``impl``'s functions and print its tables (``labkit.lab_main``)."""
    labkit.lab_main(sys.modules[__name__], impl, "plot: {out}/lab6_pareto.png; studies "
                    "(evaluations.csv, pareto.png): {out}/studies/")


if __name__ == "__main__":
    main()
