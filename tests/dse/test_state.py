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


# ---------------------------------------------------------------------- 2. orphaned workers
def _children(pid):
    """PIDs of the live (not zombie) children of ``pid``, from /proc."""
    kids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            kids.append(int(d.name))
    return kids


def _alive(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_killed_study_leaves_no_worker_alive(tmp_path):
    out = tmp_path / "w"
    proc = _study_proc(out, 5000, workers=2, batch=2)
    _wait_lines(out / "evaluations.jsonl", 4, proc)
    kids = _children(proc.pid)
    assert len(kids) >= 2                               # the pool's workers
    proc.kill()
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(k) for k in kids):
        time.sleep(0.05)
    assert [k for k in kids if _alive(k)] == []


@pytest.mark.parametrize("flag,value", [("--workers", "0"), ("--workers", "-2"),
                                        ("--batch", "0"), ("--batch", "-3"),
                                        ("--workers", str((os.cpu_count() or 1) + 1))])
def test_bad_workers_and_batch_are_refused(tmp_path, capsys, flag, value):
    from accelsim.cli import main

    out = tmp_path / "b"
    assert main(["dse", "run", TINY, "--budget", "2", "--out", str(out), "--no-progress",
                 flag, value]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and flag in err and value in err
    assert not (out / "evaluations.jsonl").exists()


# ---------------------------------------------------------------------- 3. --force
def test_force_replaces_only_files_accelsim_wrote(tmp_path):
    out = tmp_path / "f"
    run_study(TINY, optimizer="random", budget=3, seed=0, out=out, n_workers=1, progress=False)
    (out / "notes.txt").write_text("mine")
    (out / "mydata").mkdir()
    (out / "mydata" / "keep.csv").write_text("a,b\n")
    res = run_study(TINY, optimizer="random", budget=4, seed=9, out=out, n_workers=1,
                    progress=False, force=True)
    assert res.replayed == 0 and len(res.results) == 4
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "mydata" / "keep.csv").read_text() == "a,b\n"
    assert json.loads((out / "study.json").read_text())["seed"] == 9


@pytest.mark.parametrize("force", [False, True])
def test_foreign_directory_at_a_study_file_name_is_an_error_not_deleted(tmp_path, capsys,
                                                                        force):
    from accelsim.cli import main

    out = tmp_path / "g"
    run_study(TINY, optimizer="random", budget=3, seed=0, out=out, n_workers=1, progress=False)
    (out / "pareto.png").unlink()
    (out / "pareto.png").mkdir()                         # a user directory of that name
    (out / "pareto.png" / "photo.jpg").write_text("precious")
    before = (out / "evaluations.jsonl").read_text()
    argv = ["dse", "run", TINY, "--budget", "3", "--seed", "1" if force else "0", "--out",
            str(out), "--workers", "1", "--no-progress"] + (["--force"] if force else [])
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pareto.png" in err and "a directory" in err
    assert (out / "pareto.png" / "photo.jpg").read_text() == "precious"
    assert (out / "evaluations.jsonl").read_text() == before       # nothing else touched


# ---------------------------------------------------------------------- 4. corrupt state
def _outcomes(res):
    return [r.comparable() for r in res.results]


def test_corrupt_middle_lines_of_the_log_are_skipped_not_everything_after(tmp_path, capsys):
    full = run_study(TINY, optimizer="random", budget=20, seed=2, out=tmp_path / "full",
                     n_workers=1, progress=False)
    out = tmp_path / "r"
    run_study(TINY, optimizer="random", budget=20, seed=2, out=out, n_workers=1, progress=False)
    log = out / "evaluations.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    lines[4] = "garbage \x00\xff\n"                          # line 5
    lines[8] = "[1, 2, 3]\n"                                 # line 9
    lines[11] = '{"index": 11}\n'                            # line 12: keys missing
    damaged = "".join(lines)
    log.write_text(damaged)
    capsys.readouterr()
    resumed = run_study(TINY, optimizer="random", budget=20, seed=2, out=out, n_workers=1,
                        progress=False)
    err = capsys.readouterr().err
    assert str(log) in err and "lines 5, 9, 12" in err
    assert resumed.replayed == 17                            # only the 3 bad ones recomputed
    assert _outcomes(resumed) == _outcomes(full)
    assert sorted(_indices(log)) == list(range(20))
    backups = list(out.glob("evaluations.jsonl.corrupt-*"))
    assert len(backups) == 1 and backups[0].read_text() == damaged   # nothing truncated
    again = run_study(TINY, optimizer="random", budget=20, seed=2, out=out, n_workers=1,
                      progress=False)
    assert again.replayed == 20 and "warning" not in capsys.readouterr().err


def _told(out):
    import optuna

    study = optuna.load_study(study_name="accelsim", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(out / "optuna.journal"))))
    return sorted(t.user_attrs["log_index"] for t in study.trials if "log_index" in t.user_attrs)


@pytest.mark.parametrize("damage", ["garbage", "torn"])
def test_damaged_optuna_journal_is_recovered(tmp_path, capsys, damage):
    import optuna  # noqa: F401  (a dev dependency: the test fails without it)
    out = tmp_path / damage
    kw = dict(optimizer="optuna-tpe", budget=12, seed=3, out=out, n_workers=1, progress=False)
    part = run_study(TINY, stop_after=6, **kw)
    journal = out / "optuna.journal"
    lines = journal.read_bytes().splitlines(keepends=True)
    if damage == "garbage":
        lines.insert(len(lines) // 2, b"\xde\xad not json\n")
    else:
        lines.append(b'{"op_code": 5, "worker_id": "x", "trial_id": 9, "par')
    journal.write_bytes(b"".join(lines))
    capsys.readouterr()
    resumed = run_study(TINY, **kw)
    err = capsys.readouterr().err
    assert str(journal) in err and "corrupt-" in err
    assert len(resumed.results) == 12 and _outcomes(resumed)[:6] == _outcomes(part)
    assert list(out.glob("optuna.journal.corrupt-*"))
    assert _told(out) == list(range(12))
    again = run_study(TINY, **kw)                            # later resumes work too
    assert _outcomes(again) == _outcomes(resumed) and "warning" not in capsys.readouterr().err


def test_optuna_refills_a_told_trial_whose_log_line_was_damaged(tmp_path, capsys):
    import optuna  # noqa: F401  (a dev dependency: the test fails without it)
    out = tmp_path / "o"
    kw = dict(optimizer="optuna-tpe", budget=8, seed=3, out=out, n_workers=1, progress=False)
    first = run_study(TINY, **kw)
    log = out / "evaluations.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    lines[3] = "oops\n"
    log.write_text("".join(lines))
    resumed = run_study(TINY, **kw)
    assert "line 4" in capsys.readouterr().err
    assert _outcomes(resumed) == _outcomes(first)
    assert sorted(_indices(log)) == list(range(8))


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n\x00\x00binary", b"[1, 2]"])
def test_study_json_that_is_not_a_header_is_a_clear_error(tmp_path, capsys, content):
    from accelsim.cli import main

    out = tmp_path / "j"
    run_study(TINY, optimizer="random", budget=3, seed=0, out=out, n_workers=1, progress=False)
    (out / "study.json").write_bytes(content)
    argv = ["dse", "run", TINY, "--budget", "3", "--seed", "0", "--out", str(out),
            "--workers", "1", "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "study.json" in err and "--force" in err
    assert main(argv + ["--force"]) == 0


# ---------------------------------------------------------------------- 5. a dying worker
def test_a_worker_that_dies_marks_its_design_invalid_and_the_study_goes_on(tmp_path,
                                                                           monkeypatch):
    import threading

    from accelsim.dse._evaluate import Evaluator
    from accelsim.dse._study import WORKER_DIED

    # the pool forks only with one thread, and the patch below needs fork
    assert threading.active_count() == 1, "another thread is running: the pool would not fork"
    parent = os.getpid()
    compute = Evaluator.compute

    def dying_compute(self, design):        # inherited by the forked pool workers
        if os.getpid() != parent and design["sa_dim"] == 16:
            os.kill(os.getpid(), 9)          # as the OOM killer would
        return compute(self, design)

    monkeypatch.setattr(Evaluator, "compute", dying_compute)
    res = run_study(TINY, optimizer="random", budget=12, seed=5, out=tmp_path / "d",
                    n_workers=2, batch=4, progress=False)
    assert len(res.results) == 12
    died = [r for r in res.results if r.design["sa_dim"] == 16]
    assert died and all(r.status == "invalid" and r.error == WORKER_DIED for r in died)
    assert all(r.status != "invalid" or r.error != WORKER_DIED
               for r in res.results if r.design["sa_dim"] != 16)


# ---------------------------------------------------------------------- 6. litter
def test_ppo_study_leaves_no_sb3_directory_in_tmp(tmp_path, monkeypatch):
    import stable_baselines3  # noqa: F401  (a dev dependency: the test fails without it)
    import tempfile

    monkeypatch.delenv("SB3_LOGDIR", raising=False)
    tmp = Path(tempfile.gettempdir())
    before = set(tmp.glob("SB3-*"))
    res = run_study(TINY, optimizer="ppo", budget=16, seed=0, out=tmp_path / "p", n_workers=1,
                    progress=False)
    assert len(res.results) == 16
    assert set(tmp.glob("SB3-*")) - before == set()
