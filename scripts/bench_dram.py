#!/usr/bin/env python
"""Throughput of the bank-level DRAM scheduler (the C kernel), in simulated DRAM requests per second.

Every ``NOTE(perf): see scripts/bench_dram.py`` in ``accelsim/hw/dram_kernel.c``,
``dram_kernel.py`` and ``hbm.py`` is measured here. Each figure is the best of ``--repeat`` runs
of ``hbm.run_batch`` (mapping + kernel) on one core, after one warm-up call, as wall time
(``perf_counter``) and as CPU time of this process (``process_time``, the figure to trust on a
shared, busy machine); the repeats go round robin over the rows (``bench_rows``). Prints one
line per (pattern, mapping, channels), then per pattern the worst row and its ratio to the issue's
goal of 5 M simulated DRAM requests/s, plus the extrapolated-transfer path (a 200 MB weight read
as one ``transfer``), what building the kernel costs at ``pip install`` (the extension compiled
from scratch into a temporary directory), and the time a fresh process takes to its first kernel
result (nothing on this path compiles at run time).

    python scripts/bench_dram.py [--requests 1000000] [--repeat 3] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import simpy

from accelsim.hw.hbm import pattern_lines, run_batch, spec_from_dict
from accelsim.hw.memory import build_memory
from benchfig import figure, write_json  # scripts/benchfig.py


GOAL = 5e6   # simulated DRAM requests per second on one core (the target)


ROWS = [(channels, mapping, pattern)
        for channels, mapping in ((8, "MOP4CLXOR"), (8, "RoBaRaCoCh"), (1, "MOP4CLXOR"))
        for pattern in ("stream", "random", "mixed")]


def bench_rows(n: int, repeat: int) -> dict:
    """(wall, CPU) requests per second of every row of ROWS, each the best of ``repeat`` runs.

    The repeats go round robin over the rows (row 1, row 2, ..., row 9, then again), so that a
    burst of load from elsewhere on a shared machine lowers one run of several rows rather than
    every run of one row."""
    work = []
    for channels, mapping, pattern in ROWS:
        spec = spec_from_dict({"preset": "hbm2_2000", "channels": channels, "mapping": mapping})
        lines, write = pattern_lines(spec, pattern, n, seed=0)
        run_batch(spec, spec.new_state(), lines[:2000], write[:2000])   # warm-up
        work.append((spec, lines, write))
    best = {row: [float("inf"), float("inf")] for row in ROWS}
    for _ in range(repeat):
        for row, (spec, lines, write) in zip(ROWS, work):
            state = spec.new_state()
            t0, c0 = time.perf_counter(), time.process_time()
            run_batch(spec, state, lines, write)
            cpu, wall = time.process_time() - c0, time.perf_counter() - t0
            best[row] = [min(best[row][0], wall), min(best[row][1], cpu)]
    return {row: (n / wall, n / cpu) for row, (wall, cpu) in best.items()}


def bench_transfer(nbytes: int) -> tuple[float, float]:
    mem = build_memory({"impl": "hbm", "preset": "hbm2_2000", "channels": 8})
    env = simpy.Environment()
    mem.bind(env)
    env.process(mem.transfer(64 << 20))          # warm-up: measures the steady rate
    env.run()
    env = simpy.Environment()
    mem.bind(env)
    mem._steady.clear()
    t0 = time.perf_counter()
    env.process(mem.transfer(nbytes))
    env.run()
    wall = time.perf_counter() - t0
    return wall, nbytes / (env.now / 1000.0)


# A fresh process: import, build a spec, replay 2000 mixed requests (the first kernel result).
FIRST_RESULT = """
import time
t0 = time.perf_counter()
from accelsim.hw.hbm import pattern_lines, run_batch, spec_from_dict
spec = spec_from_dict({"preset": "hbm2_2000", "channels": 8})
lines, write = pattern_lines(spec, "mixed", 2000, seed=0)
run_batch(spec, spec.new_state(), lines, write)
print(time.perf_counter() - t0)
"""


def first_result_s() -> tuple[float, float]:
    """(wall, CPU) seconds of a fresh Python process to its first kernel result."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in [env.get("PYTHONPATH")] if p])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, "-c", FIRST_RESULT], env=env, check=True,
                         capture_output=True, text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return float(out.split()[-1]), cpu


def build_kernel_s() -> float | None:
    """Wall seconds to compile and link the kernel (what ``pip install`` adds), with the C
    compiler and flags Python's build tools use, into a temporary directory (the installed
    library is left alone); None, with the reason printed, where no C compiler works."""
    from setuptools._distutils.ccompiler import new_compiler
    from setuptools._distutils.errors import CCompilerError, DistutilsError
    from setuptools._distutils.sysconfig import customize_compiler

    from accelsim.hw.dram_build import CFLAGS, SOURCES   # what setup.py builds with

    root = Path(__file__).resolve().parents[1]
    cc = new_compiler()
    customize_compiler(cc)                 # Python's compiler, with its shared-library flags
    with tempfile.TemporaryDirectory(prefix="accelsim-build-") as tmp:
        t0 = time.perf_counter()
        try:
            objs = cc.compile([str(root / s) for s in SOURCES], output_dir=tmp,
                              extra_postargs=CFLAGS)
            cc.link_shared_object(objs, str(Path(tmp) / "dram_kernel.so"))
        except (CCompilerError, DistutilsError) as exc:
            print(f"building the kernel: no working C compiler ({exc})")
            return None
        return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", default=None,
                    help="also write the figures (value, unit, goal, met) to this JSON file")
    args = ap.parse_args(argv)
    build = build_kernel_s()
    first = first_result_s()
    if build is not None:
        print(f"building the kernel (pip install compiles dram_kernel.c): {build:.1f} s wall")
    print(f"first kernel result in a fresh process: {first[0]:.2f} s wall ({first[1]:.2f} s "
          f"CPU)\n")
    print(f"{'pattern':8s} {'mapping':10s} {'ch':>3s} {'wall M req/s':>13s} {'CPU M req/s':>12s}"
          f" {'CPU / goal':>10s}")
    figures = {}
    for (channels, mapping, pattern), (wall, cpu) in bench_rows(args.requests,
                                                                args.repeat).items():
        figures[(pattern, mapping, channels)] = (wall, cpu)
        print(f"{pattern:8s} {mapping:10s} {channels:3d} {wall / 1e6:13.2f} {cpu / 1e6:12.2f}"
              f" {cpu / GOAL:10.2f}")
    wall, gbps = bench_transfer(200 << 20)
    print(f"\none 200 MB transfer (extrapolated past the simulated prefix): {wall * 1e3:.1f} ms "
          f"wall, {gbps:.1f} GB/s simulated")
    print(f"\nper pattern, slowest row (goal: {GOAL / 1e6:.0f} M DRAM requests/s on one core):")
    out = [figure("requests", args.requests, "count"),
           figure("transfer_200mb_wall_s", wall, "s"),
           *([figure("kernel_build_wall_s", build, "s")] if build is not None else []),
           figure("first_result_wall_s", first[0], "s"),
           figure("first_result_cpu_s", first[1], "s")]
    for pattern in ("stream", "random", "mixed"):
        rows = [v for k, v in figures.items() if k[0] == pattern]
        w = min(r[0] for r in rows)
        c = min(r[1] for r in rows)
        print(f"  {pattern:8s} wall {w / 1e6:5.2f} M/s ({w / GOAL:4.2f} x goal)   "
              f"CPU {c / 1e6:5.2f} M/s ({c / GOAL:4.2f} x goal)")
        out += [figure(f"{pattern}_cpu_requests_per_s", c, "requests/s", ">=", GOAL),
                figure(f"{pattern}_wall_requests_per_s", w, "requests/s")]
    headline = figures[("stream", "MOP4CLXOR", 8)]
    print(f"\nheadline (stream, MOP4CLXOR, 8 channels): {headline[1] / 1e6:.2f} M DRAM requests/s "
          f"CPU, {headline[0] / 1e6:.2f} wall (goal >= {GOAL / 1e6:.0f})")
    geo = float(np.exp(np.mean(np.log([v[1] for v in figures.values()]))))
    print(f"geometric mean over all rows (CPU): {geo / 1e6:.2f} M requests/s")
    if args.json:
        out += [figure("headline_cpu_requests_per_s", headline[1], "requests/s", ">=", GOAL),
                figure("geomean_cpu_requests_per_s", geo, "requests/s")]
        write_json(args.json, out, list(argv) if argv is not None else sys.argv[1:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
