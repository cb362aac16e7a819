"""Outputs (issue 21): nothing lands outside the given path, a multi-file output is never a mix
of two runs, stale temp files are cleaned up, one overwrite rule (``--force``) for every command,
checked before the run, and bad option values are exit 2."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from accelsim import io
from accelsim.cli import main
from accelsim.errors import AccelsimError

TINY = str(Path(__file__).resolve().parents[1] / "traces/tiny-llama-gqa-test_decode_b4_ctx64.csv")
SERVE = ["trace", "serve", "--model", "tiny-llama-gqa-test", "--duration", "1", "--layers", "1",
         "--max-iters", "3"]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _tree(root):
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*"))}


# ------------------------------------------------------------------ 1. outside the given path
@pytest.mark.parametrize("given", ["work", "work/"])
def test_trace_gen_into_a_directory_is_exit_2_and_writes_nothing(tmp_path, monkeypatch, capsys,
                                                                given):
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path)
    assert main(["trace", "gen", "--model", "tiny-llama-gqa-test", "-o", given]) == 2
    assert "is a directory; -o expects a CSV file path" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["work"]


def test_trace_gen_with_a_new_trailing_slash_path_is_exit_2(tmp_path, capsys):
    assert main(["trace", "gen", "--model", "tiny-llama-gqa-test",
                 "-o", str(tmp_path / "new") + "/"]) == 2
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ 2. mixed outputs
def test_interrupted_serve_force_keeps_the_old_run_whole(tmp_path, monkeypatch, capsys):
    out = tmp_path / "srv"
    assert main([*SERVE, "-o", str(out)]) == 0
    (out / "notes.txt").write_text("mine")
    before = _tree(tmp_path)
    from accelsim.workload import serving

    def crash(self):                 # ops.csv and requests.csv are staged by now
        raise KeyboardInterrupt
    monkeypatch.setattr(serving.ServingTrace, "iterations_frame", crash)
    assert main([*SERVE, "--seed", "7", "-o", str(out), "--force"]) == 130
    assert _tree(tmp_path) == before            # old files intact, no temp folder left


def test_serve_force_swaps_the_directory_and_keeps_foreign_files(tmp_path, capsys):
    out = tmp_path / "srv"
    assert main([*SERVE, "-o", str(out)]) == 0
    (out / "notes.txt").write_text("mine")
    old_requests = (out / "requests.csv").read_bytes()
    assert main([*SERVE, "-o", str(out)]) == 2
    assert "requests.csv: file exists; pass --force" in capsys.readouterr().err
    assert main([*SERVE, "--seed", "7", "-o", str(out), "--force"]) == 0
    assert (out / "requests.csv").read_bytes() != old_requests
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["srv"]


def test_interrupted_trace_gen_keeps_csv_and_sidecar_of_one_run(tmp_path, monkeypatch, capsys):
    path = tmp_path / "t.csv"
    assert main(["trace", "gen", "--model", "tiny-llama-gqa-test", "-o", str(path)]) == 0
    before = _tree(tmp_path)
    real, calls = io.atomic_write_text, []

    def second_write_fails(target, text):
        calls.append(target)
        if len(calls) == 2:          # after the CSV, before its .meta.json
            raise KeyboardInterrupt
        return real(target, text)
    monkeypatch.setattr(io, "atomic_write_text", second_write_fails)
    assert main(["trace", "gen", "--model", "tiny-llama-gqa-test", "--batch", "2", "-o",
                 str(path), "--force"]) == 130
    assert len(calls) == 2 and _tree(tmp_path) == before


def test_interrupted_plots_keep_the_old_pngs(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    run, plots = tmp_path / "r.json", tmp_path / "plots"
    assert main(["simulate", "--trace", TINY, "--json", str(run), "--quiet"]) == 0
    assert main(["report", str(run), "--plots", str(plots)]) == 0
    (plots / "mine.txt").write_text("mine")
    before = _tree(tmp_path)
    from accelsim.report import plots as plotting

    def crash(report, path):
        raise KeyboardInterrupt
    monkeypatch.setitem(plotting.PLOTS, "utilization_over_time", crash)   # after two PNGs
    assert main(["report", str(run), "--plots", str(plots), "--force"]) == 130
    assert _tree(tmp_path) == before


def test_staged_dir_with_a_foreign_subfolder_replaces_files_in_place(tmp_path):
    out = tmp_path / "d"
    (out / "sub").mkdir(parents=True)
    (out / "sub" / "x").write_text("x")
    (out / "a.csv").write_text("old")
    with io.staged_dir(out) as stage:
        (stage / "a.csv").write_text("new")
    assert (out / "a.csv").read_text() == "new" and (out / "sub" / "x").read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def test_a_swap_killed_between_its_renames_is_undone_on_the_next_write(tmp_path):
    pid = _dead_pid()
    aside, stage = tmp_path / f"d.old-{pid}", tmp_path / f"d.tmp-{pid}"
    aside.mkdir()
    (aside / "a.csv").write_text("old")
    stage.mkdir()
    (stage / io.MARKER).write_text(f"{pid}\n")
    (stage / "a.csv").write_text("half")
    io.remove_stale_temps(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]
    assert (tmp_path / "d" / "a.csv").read_text() == "old"


# ------------------------------------------------------------------ 3. temp files
def test_stale_temp_files_are_removed_and_nothing_else(tmp_path, capsys):
    pid = _dead_pid()
    stale = [tmp_path / f".r.json.{pid}.abcd_123.tmp", tmp_path / ".r.json.k2j4h5g6.tmp",
             tmp_path / ".roofline.png.tmp.png"]
    fresh_legacy = tmp_path / ".x.json.q1w2e3r4.tmp"           # may belong to a running writer
    live = tmp_path / f".x.json.{os.getpid()}.zzzzzzzz.tmp"    # ours, alive
    foreign = [tmp_path / ".r.json.swp", tmp_path / "notes.tmp", tmp_path / f"data.tmp-{pid}"]
    for p in stale + [fresh_legacy, live] + foreign[:2]:
        p.write_text("x")
    foreign[2].mkdir()                        # a user's folder, not accelsim's (no marker)
    (foreign[2] / "keep").write_text("x")
    old = time.time() - 2 * io.STALE_S
    for p in stale[1:]:
        os.utime(p, (old, old))
    assert main(["simulate", "--trace", TINY, "--json", str(tmp_path / "r.json"), "--quiet"]) == 0
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {"r.json", fresh_legacy.name, live.name} | {p.name for p in foreign}


def test_sigterm_during_a_write_removes_the_temp_file(tmp_path, monkeypatch):
    def terminated(src, dst):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)                         # the handler raises before this ends
    monkeypatch.setattr(os, "replace", terminated)
    with pytest.raises(SystemExit) as exc, io.exit_on_sigterm():
        io.atomic_write_text(tmp_path / "r.json", "x" * 1000)
    assert exc.value.code == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is not None


# ------------------------------------------------------------------ 4. one overwrite rule
def test_simulate_needs_force_to_replace_outputs(tmp_path, capsys):
    for name in ("r.json", "r.csv", "t.json"):
        (tmp_path / name).write_text("old")
    for option, name in (("--json", "r.json"), ("--csv", "r.csv"), ("--timeline", "t.json")):
        assert main(["simulate", "--trace", TINY, option, str(tmp_path / name), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert f"{name}: file exists; pass --force to overwrite it" in err
        assert (tmp_path / name).read_text() == "old"
    assert main(["simulate", "--trace", TINY, "--json", str(tmp_path / "r.json"), "--csv",
                 str(tmp_path / "r.csv"), "--quiet", "--force"]) == 0
    assert (tmp_path / "r.json").read_text().startswith("{")


@pytest.mark.parametrize("make, option, fragment", [
    (lambda d: (d / "f").write_text(""), ["--json", "f/r.json"], "f: not a directory (a file)"),
    (lambda d: (d / "r.json").mkdir(), ["--json", "r.json"], "r.json: is a directory"),
    (lambda d: (d / "p").write_text(""), ["--plots", "p"], "p: not a directory (a file)"),
    (lambda d: (d / "p" / "roofline.png").mkdir(parents=True), ["--plots", "p", "--force"],
     "roofline.png: is a directory, not a file accelsim wrote"),
    (lambda d: None, ["--json", "x", "--csv", "x"], "x: given to both --json and --csv"),
])
def test_simulate_checks_outputs_before_it_runs(tmp_path, monkeypatch, capsys, make, option,
                                                fragment):
    import accelsim.api

    make(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(accelsim.api, "load_arch", lambda *a, **k: pytest.fail("ran"))
    assert main(["simulate", *option]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1


def test_plots_force_replaces_only_the_pngs_accelsim_writes(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run, plots = tmp_path / "r.json", tmp_path / "p"
    assert main(["simulate", "--trace", TINY, "--json", str(run), "--quiet"]) == 0
    plots.mkdir()
    (plots / "roofline.png").write_bytes(b"old")
    (plots / "mine.png").write_bytes(b"mine")
    assert main(["report", str(run), "--plots", str(plots)]) == 2
    assert "roofline.png: file exists; pass --force" in capsys.readouterr().err
    assert main(["report", str(run), "--plots", str(plots), "--force"]) == 0
    assert (plots / "roofline.png").read_bytes() != b"old"
    assert (plots / "mine.png").read_bytes() == b"mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p", "r.json"]


# ------------------------------------------------------------------ 5. bad values
@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf"])
def test_serve_rejects_bad_mem_gbps(tmp_path, capsys, value):
    assert main([*SERVE, "--mem-gbps", value, "-o", str(tmp_path / "s")]) == 2
    assert "--mem-gbps: expected a positive finite number" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("args, fragment", [
    (["--model", ""], "--model: expected a name or a path, got an empty string"),
    (["--trace", ""], "--trace: expected a name or a path"),
    (["--top", "-5"], "--top: expected a non-negative integer, got -5"),
])
def test_simulate_bad_values_exit_2(args, fragment, capsys):
    assert main(["simulate", *args]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1


def test_special_files_are_not_called_directories(tmp_path, capsys):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    assert main(["simulate", "--trace", TINY, "--json", str(fifo), "--force", "--quiet"]) == 2
    assert "pipe.json: not a regular file (a FIFO)" in capsys.readouterr().err
    os.mkfifo(tmp_path / "t.csv")
    assert main(["trace", "gen", "--model", "tiny-llama-gqa-test", "-o", str(tmp_path / "t.csv"),
                 "--force"]) == 2
    assert "t.csv: not a regular file (a FIFO)" in capsys.readouterr().err
    with pytest.raises(AccelsimError, match="/dev/null: not a regular file .a character device."):
        io.check_output_file("/dev/null", force=True)     # checked only, never written
