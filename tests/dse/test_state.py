"""Study-directory state: the lock, orphaned workers, --force, damaged logs, dying workers."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from accelsim.dse._study import run_study
from accelsim.errors import AccelsimError

DATA = Path(__file__).parent / "data"
TINY = str(DATA / "tiny-latency.yaml")
ROOT = Path(__file__).resolve().parents[2]


def _study_proc(out, budget, *, workers=1, batch=1):
    code = (f"from accelsim.dse._study import run_study; run_study({TINY!r}, optimizer='random',"
            f" budget={budget}, seed=4, out={str(out)!r}, n_workers={workers}, batch={batch},"
            f" progress=False)")
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)


def _wait_lines(path, n, proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and path.read_text().count("\n") >= n:
            return
        if proc.poll() is not None:
            raise AssertionError(f"study exited early with {proc.returncode}")
        time.sleep(0.02)
    raise AssertionError(f"{path} did not reach {n} lines")


def _indices(log):
    return [json.loads(line)["index"] for line in open(log)]


# ---------------------------------------------------------------------- 1. concurrent runs
def test_second_concurrent_run_is_refused_and_names_the_holder(tmp_path, capsys):
    from accelsim.cli import main

    out = tmp_path / "c"
    first = _study_proc(out, 300)
    try:
        _wait_lines(out / "evaluations.jsonl", 3, first)
        assert main(["dse", "run", TINY, "--budget", "300", "--seed", "4", "--out", str(out),
                     "--workers", "1", "--batch", "1", "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "in use by another study run" in err
        assert f"pid {first.pid} on " in err and "started " in err
        with pytest.raises(AccelsimError, match="in use"):
            run_study(TINY, optimizer="random", budget=300, seed=4, out=out, n_workers=1,
                      batch=1, progress=False, force=True)
    finally:
        assert first.wait(120) == 0
    log = out / "evaluations.jsonl"
    assert _indices(log) == list(range(300))            # one writer: no duplicate indices
    resumed = run_study(TINY, optimizer="random", budget=300, seed=4, out=out, n_workers=1,
                        batch=1, progress=False)
    assert resumed.replayed == 300 and _indices(log) == list(range(300))


def test_lock_is_released_when_the_holder_is_killed(tmp_path):
    out = tmp_path / "k"
    proc = _study_proc(out, 400)
    _wait_lines(out / "evaluations.jsonl", 3, proc)
    proc.kill()
    proc.wait()
    res = run_study(TINY, optimizer="random", budget=400, seed=4, out=out, n_workers=1,
                    batch=1, progress=False, stop_after=2)
    assert res.replayed >= 3
