#!/usr/bin/env python
"""Fuzz every loader with N generated inputs each; report tracebacks (must be zero).

Usage: python scripts/fuzz.py [--examples N] [--only NAME ...] [--seed S]
       python scripts/fuzz.py --cli N [--seed S] [--jobs J] [--only COMMAND ...]

``--cli N`` runs N generated ``accelsim`` command lines (tests/test_cli_fuzz.py's generator), each
in a forked child in its own temporary folder under a time and memory cap, spread over J
processes, and prints cases, exits by code, tracebacks, hangs, blow-ups and every failing argv.

The strategies and targets are those of the test suite (tests/fuzzing.py); the test suite runs
them at a bounded example count, this script runs as many as you ask for.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402

from fuzzing import TARGETS  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cli", type=int, default=None, metavar="N",
                        help="fuzz the command line with N generated argument vectors")
    parser.add_argument("--jobs", type=int, default=2, help="--cli: worker processes")
    parser.add_argument("--time-cap", type=float, default=60.0,
                        help="--cli: CPU seconds per case (a case using no CPU is a hang after "
                             "60 s of wall time)")
    parser.add_argument("--mem-cap-gb", type=float, default=4.0, help="--cli: GB per case")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cli is not None:
        return cli_worker(args) if args.worker else cli_main(args)
    total_failures = 0
    print(f"{'loader':20s} {'examples':>9s} {'tracebacks':>10s} {'wall s':>8s}")
    for name in sorted(TARGETS):
        if args.only and name not in args.only:
            continue
        strategy, target = TARGETS[name]
        failures: list[str] = []
        count = [0]

        @seed(args.seed)
        @settings(max_examples=args.examples, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), report_multiple_bugs=True)
        @given(strategy())
        def run(data):
            count[0] += 1
            try:
                target(data)
            except Exception:  # noqa: BLE001 - collected and reported
                failures.append("".join(traceback.format_exc().splitlines(True)[-8:]))

        started = time.perf_counter()
        run()
        wall = time.perf_counter() - started
        total_failures += len(failures)
        print(f"{name:20s} {count[0]:9d} {len(failures):10d} {wall:8.1f}", flush=True)
        for failure in failures[:3]:
            print("    " + failure.replace("\n", "\n    "))
    print(f"\n{'OK' if total_failures == 0 else 'FAILED'}: {total_failures} tracebacks")
    return 0 if total_failures == 0 else 1


def cli_worker(args) -> int:
    """Run ``args.cli`` cases with seed ``args.seed``; one JSON line per case on stdout."""
    import json

    from hypothesis import Phase

    from fuzzing import cli_case, preload, run_template

    preload()
    commands = args.only or None

    @seed(args.seed)
    @settings(max_examples=args.cli, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(cli_case(commands))
    def run(template):
        result = run_template(template, time_cap=args.time_cap,
                              mem_cap=int(args.mem_cap_gb * (1 << 30)))
        print(json.dumps({"argv": result.argv, "rc": result.rc, "problem": result.problem(),
                          "wall_s": round(result.wall_s, 2),
                          "rss_mib": result.peak_rss_bytes >> 20,
                          "last": result.last_line()[:300]}), flush=True)

    run()
    return 0


def cli_main(args) -> int:
    """Split ``--cli N`` over ``--jobs`` worker processes and summarize."""
    import collections
    import json
    import subprocess

    jobs = max(1, args.jobs)
    shares = [args.cli // jobs + (1 if i < args.cli % jobs else 0) for i in range(jobs)]
    started = time.perf_counter()
    procs = []
    for i, share in enumerate(shares):
        if share == 0:
            continue
        cmd = [sys.executable, __file__, "--worker", "--cli", str(share),
               "--seed", str(args.seed * 1000 + i), "--time-cap", str(args.time_cap),
               "--mem-cap-gb", str(args.mem_cap_gb)]
        if args.only:
            cmd += ["--only", *args.only]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True))
    cases = []

    def read(proc):  # one reader per worker, so that no worker blocks on a full pipe
        for line in proc.stdout:
            if line.startswith("{"):
                cases.append(json.loads(line))
                if len(cases) % 500 == 0:
                    print(f"  {len(cases)} cases, {time.perf_counter() - started:.0f} s",
                          file=sys.stderr, flush=True)
        proc.wait()

    import threading

    readers = [threading.Thread(target=read, args=(proc,)) for proc in procs]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    wall = time.perf_counter() - started
    exits = collections.Counter(str(c["rc"]) for c in cases)
    problems = collections.Counter(c["problem"] for c in cases if c["problem"])
    per_command = collections.Counter(" ".join(c["argv"][:2]) if c["argv"][0] in ("trace", "dse")
                                      else c["argv"][0] for c in cases)
    print(f"cases: {len(cases)} in {wall:.0f} s ({jobs} processes, seed {args.seed}, "
          f"caps {args.time_cap:g} s / {args.mem_cap_gb:g} GB)")
    print("exits: " + ", ".join(f"{k}: {v}" for k, v in sorted(exits.items())))
    print("per command: " + ", ".join(f"{k}: {v}" for k, v in sorted(per_command.items())))
    print(f"tracebacks: {problems['traceback']}, hangs: {problems['hang']}, "
          f"blow-ups: {problems['blow-up']}, other exits: "
          f"{sum(v for k, v in problems.items() if k.startswith('exit'))}")
    seen = set()
    for c in cases:
        if not c["problem"]:
            continue
        key = (c["problem"], c["last"][:120], " ".join(c["argv"]) if c["problem"] == "hang" else "")
        dup = key in seen
        seen.add(key)
        if not dup:
            print(f"  {c['problem']}: accelsim {' '.join(c['argv'])}\n      -> {c['last']}")
    print(f"distinct failures: {len(seen)}")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
