#!/usr/bin/env python
"""Throughput of the numba bank-level DRAM scheduler, in simulated DRAM requests per second.

Every ``# NOTE(perf): see scripts/bench_dram.py`` in ``accelsim/hw/dram_kernel.py`` and
``accelsim/hw/hbm.py`` is measured here. Compilation is excluded (one warm-up call); each figure is
the best of ``--repeat`` runs on one core. Prints one line per (pattern, channels) and the figure
for the engine's typical workload (long sequential DMA on an 8-channel HBM2 stack), plus the
extrapolated-transfer path (a 200 MB weight read as one ``transfer``).

    python scripts/bench_dram.py [--requests 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import simpy

from accelsim.hw.hbm import pattern_lines, run_batch, spec_from_dict
from accelsim.hw.memory import build_memory


def bench(spec, pattern: str, n: int, repeat: int) -> float:
    lines, write = pattern_lines(spec, pattern, n, seed=0)
    run_batch(spec, spec.new_state(), lines[:2000], write[:2000])      # warm-up / compile
    best = float("inf")
    for _ in range(repeat):
        state = spec.new_state()
        t0 = time.perf_counter()
        run_batch(spec, state, lines, write)
        best = min(best, time.perf_counter() - t0)
    return n / best


def bench_transfer(nbytes: int) -> tuple[float, float]:
    mem = build_memory({"impl": "hbm", "preset": "hbm2_2000", "channels": 8})
    env = simpy.Environment()
    mem.bind(env)
    env.process(mem.transfer(64 << 20))          # warm-up: compiles, measures the steady rate
    env.run()
    env = simpy.Environment()
    mem.bind(env)
    mem._steady.clear()
    t0 = time.perf_counter()
    env.process(mem.transfer(nbytes))
    env.run()
    wall = time.perf_counter() - t0
    return wall, nbytes / (env.now / 1000.0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    print(f"{'pattern':8s} {'mapping':10s} {'ch':>3s} {'M requests/s':>13s}")
    figures = {}
    for channels, mapping in ((8, "MOP4CLXOR"), (8, "RoBaRaCoCh"), (1, "MOP4CLXOR")):
        spec = spec_from_dict({"preset": "hbm2_2000", "channels": channels, "mapping": mapping})
        for pattern in ("stream", "random", "mixed"):
            rate = bench(spec, pattern, args.requests, args.repeat)
            figures[(pattern, mapping, channels)] = rate
            print(f"{pattern:8s} {mapping:10s} {channels:3d} {rate / 1e6:13.2f}")
    wall, gbps = bench_transfer(200 << 20)
    print(f"\none 200 MB transfer (extrapolated past the simulated prefix): {wall * 1e3:.1f} ms "
          f"wall, {gbps:.1f} GB/s simulated")
    headline = figures[("stream", "MOP4CLXOR", 8)]
    print(f"\nheadline (stream, MOP4CLXOR, 8 channels): {headline / 1e6:.2f} M DRAM requests/s "
          f"(target >= 5)")
    geo = float(np.exp(np.mean(np.log(list(figures.values())))))
    print(f"geometric mean over all rows: {geo / 1e6:.2f} M requests/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
