"""Studies: rows, determinism, interruption and resume, --force, Optuna, Ray, PPO."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from accelsim.dse._study import run_study
from accelsim.errors import AccelsimError

TINY = str(__import__('pathlib').Path(__file__).parent / 'data' / 'tiny-latency.yaml')

ROOT = Path(__file__).resolve().parents[2]


def _rows(out):
    with open(Path(out) / "evaluations.csv") as fh:
        return list(csv.DictReader(fh))


def _outcomes(res):
    return [r.comparable() for r in res.results]


def test_random_study_writes_rows_and_plot(tmp_path):
    res = run_study(TINY, optimizer="random", budget=10, seed=1, out=tmp_path / "s",
                    n_workers=1, progress=False)
    rows = _rows(tmp_path / "s")
    assert len(rows) == 10
    assert {"sa_dim", "latency_ns", "throughput_tok_s", "feasible", "status", "wall_s",
            "seed"} <= set(rows[0])
    assert res.plot_path is not None and res.plot_path.exists()


def test_same_seed_same_evaluations(tmp_path):
    a = run_study(TINY, optimizer="random", budget=12, seed=5, out=tmp_path / "a",
                  n_workers=1, progress=False)
    b = run_study(TINY, optimizer="random", budget=12, seed=5, out=tmp_path / "b",
                  n_workers=2, progress=False)
    c = run_study(TINY, optimizer="random", budget=12, seed=6, out=tmp_path / "c",
                  n_workers=1, progress=False)
    assert _outcomes(a) == _outcomes(b) != _outcomes(c)


def test_interrupted_study_resumes_without_loss_or_repeats(tmp_path):
    full = run_study(TINY, optimizer="random", budget=20, seed=2, out=tmp_path / "full",
                     n_workers=1, progress=False)
    part = run_study(TINY, optimizer="random", budget=20, seed=2, out=tmp_path / "r",
                     n_workers=1, progress=False, stop_after=7)
    assert len(part.results) == 7
    with open(tmp_path / "r" / "evaluations.jsonl", "a") as fh:
        fh.write('{"index": 7, "design": {"sa_di')        # torn line: killed mid-write
    resumed = run_study(TINY, optimizer="random", budget=20, seed=2, out=tmp_path / "r",
                        n_workers=1, progress=False)
    assert resumed.replayed == 7
    assert _outcomes(resumed) == _outcomes(full)
    idx = [json.loads(line)["index"] for line in open(tmp_path / "r" / "evaluations.jsonl")]
    assert idx == list(range(20))


def test_killed_process_resumes(tmp_path):
    out = tmp_path / "k"
    code = (f"from accelsim.dse._study import run_study; run_study({TINY!r}, optimizer='random',"
            f" budget=400, seed=4, out={str(out)!r}, n_workers=1, batch=1, progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    log = out / "evaluations.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and (not log.exists() or log.read_text().count("\n") < 15):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = log.read_text().count("\n")
    assert 15 <= done < 400
    resumed = run_study(TINY, optimizer="random", budget=400, seed=4, out=out, n_workers=1,
                        batch=1, progress=False)
    assert resumed.replayed == done and len(resumed.results) == 400
    idx = [json.loads(line)["index"] for line in open(log)]
    assert idx == list(range(400))


def test_new_study_over_existing_dir_needs_force(tmp_path):
    run_study(TINY, optimizer="random", budget=3, seed=0, out=tmp_path / "x", progress=False,
              n_workers=1)
    with pytest.raises(AccelsimError, match="--force"):
        run_study(TINY, optimizer="random", budget=3, seed=9, out=tmp_path / "x",
                  progress=False, n_workers=1)
    res = run_study(TINY, optimizer="random", budget=3, seed=9, out=tmp_path / "x",
                    progress=False, n_workers=1, force=True)
    assert res.replayed == 0 and len(_rows(tmp_path / "x")) == 3


@pytest.mark.parametrize("optimizer", ["optuna-tpe", "optuna-nsga2"])
def test_optuna_study_with_constraints_resumes(tmp_path, optimizer):
    pytest.importorskip("optuna")
    from accelsim.dse import evaluate, load_env

    env = load_env(TINY)
    base = evaluate({}, env).metrics["latency_ns"]
    env = env.with_overrides(constraints=[{"metric": "latency", "max": base}])
    a = run_study(env, optimizer=optimizer, budget=16, seed=3, out=tmp_path / "a", n_workers=1,
                  progress=False)
    b = run_study(env, optimizer=optimizer, budget=16, seed=3, out=tmp_path / "b", n_workers=1,
                  progress=False)
    assert _outcomes(a) == _outcomes(b)                     # same seed, same trials
    part = run_study(env, optimizer=optimizer, budget=16, seed=3, out=tmp_path / "r",
                     n_workers=1, progress=False, stop_after=8)
    assert len(part.results) == 8
    resumed = run_study(env, optimizer=optimizer, budget=16, seed=3, out=tmp_path / "r",
                        n_workers=1, progress=False)
    assert len(resumed.results) == 16
    assert _outcomes(resumed)[:8] == _outcomes(part)
    import optuna

    study = optuna.load_study(study_name="accelsim", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "r" / "optuna.journal"))))
    told = sorted(t.user_attrs["log_index"] for t in study.trials if "log_index" in t.user_attrs)
    assert told == list(range(16))


def test_ray_backend_matches_local(tmp_path):
    ray = pytest.importorskip("ray")
    local = run_study(TINY, optimizer="random", budget=8, seed=7, out=tmp_path / "l",
                      n_workers=2, progress=False)
    try:
        remote = run_study(TINY, optimizer="random", budget=8, seed=7, out=tmp_path / "r",
                           backend="ray", n_workers=2, progress=False)
    finally:
        if ray.is_initialized():
            ray.shutdown()
    assert _outcomes(remote) == _outcomes(local)


def test_ppo_runs(tmp_path):
    pytest.importorskip("stable_baselines3")
    res = run_study(TINY, optimizer="ppo", budget=200, seed=0, out=tmp_path / "p",
                    n_workers=1, progress=False)
    assert len(res.results) == 200 and res.best_feasible() is not None


def test_maskable_ppo_runs(tmp_path):
    pytest.importorskip("sb3_contrib")
    res = run_study(TINY, optimizer="maskable-ppo", budget=40, seed=0, out=tmp_path / "m",
                    n_workers=1, progress=False)
    assert len(res.results) == 40


def test_cli_dse_run(tmp_path):
    from accelsim.cli import main

    import accelsim.cli as cli

    if "dse" not in cli.COMMANDS:
        cli.COMMANDS = cli.COMMANDS + ("dse",)   # until accelsim/cli.py lists it
    out = tmp_path / "cli"
    assert main(["dse", "run", TINY, "--budget", "5", "--seed", "1", "--out", str(out),
                 "--workers", "1", "--no-progress"]) == 0
    assert len(_rows(out)) == 5
    assert main(["dse", "run", TINY, "--budget", "5", "--seed", "2", "--out", str(out)]) == 2
