#!/usr/bin/env python
"""Fuzz every loader with N generated inputs each; report tracebacks (must be zero).

Usage: python scripts/fuzz.py [--examples N] [--only NAME ...] [--seed S]

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
    args = parser.parse_args()
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


if __name__ == "__main__":
    sys.exit(main())
