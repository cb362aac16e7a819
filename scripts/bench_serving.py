#!/usr/bin/env python
"""Benchmark: simulate 100 continuous-batching iterations of Llama-2-7B (prints figures only).

A ShareGPT request trace (Poisson, 5 req/s, seed 0) is scheduled with vLLM-style continuous
batching (max batch 256, 2048 tokens per iteration, chunked prefill); iterations
``[skip, skip + iters)`` (a steady-state window by default) of the full 32-layer model are
emitted as one operator trace and simulated on ``npu_128x128_bf16_hbm2``. Attention rows differ
from iteration to iteration (every decode's KV length grows by one), the weight GEMMs repeat
whenever the token count does: shape reuse across iterations is what keeps this fast.

Usage: python scripts/bench_serving.py [--iters 100] [--skip 1000] [--fidelity full|analytical]
                                       [--profile]   (cProfile: top functions by cumulative time)
                                       [--json PATH] (the figures as JSON)
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time

import accelsim
from accelsim.workload.requests import synthesize_requests
from accelsim.workload.serving import BatchingConfig, serving_trace
from benchfig import figure, write_json  # scripts/benchfig.py


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="llama2-7b")
    parser.add_argument("--arch", default="npu_128x128_bf16_hbm2")
    parser.add_argument("--iters", type=int, default=100)
    parser.add_argument("--skip", type=int, default=1000, help="first emitted iteration")
    parser.add_argument("--fidelity", choices=("full", "analytical"), default="full")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", default=None,
                        help="also write the figures (value, unit, goal, met) to this JSON file")
    args = parser.parse_args()

    t0 = time.perf_counter()
    requests = synthesize_requests("sharegpt", rate=5, duration_s=60, seed=0,
                                   max_total_tokens=4096)
    result = serving_trace(args.model, requests,
                           batching=BatchingConfig(256, 2048, chunked_prefill=True),
                           iters=(args.skip, args.skip + args.iters))
    t1 = time.perf_counter()
    trace, its = result.ops, result.iterations[args.skip: args.skip + args.iters]
    arch = accelsim.load_arch(args.arch)
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    t2 = time.perf_counter()
    report = accelsim.simulate(arch, trace, fidelity=args.fidelity, progress=False)
    t3 = time.perf_counter()
    if profiler:
        profiler.disable()

    reuse = report.result.reuse
    print(f"accelsim {accelsim.__version__}, Python {sys.version.split()[0]}, one process")
    print(f"{args.model}: {len(its)} continuous-batching iterations ({args.skip}.."
          f"{args.skip + len(its) - 1} of {len(result.iterations)}), mean batch "
          f"{sum(len(i.seqs) for i in its) / len(its):.1f}, phases "
          f"{sorted({i.phase for i in its})}, {len(trace)} operator rows")
    print(f"on {args.arch}, fidelity {args.fidelity}: simulated {report.total_time_ns / 1e6:.2f} ms")
    print(f"shape reuse: {reuse.get('reused', 0)} of {reuse.get('operators', 0)} operator "
          f"instances reused, {reuse.get('distinct_shapes', 0)} distinct shapes "
          f"({reuse.get('simulated', 0)} simulated)")
    print(f"wall: schedule + trace {t1 - t0:.2f} s, load arch {t2 - t1:.2f} s, "
          f"simulate {t3 - t2:.2f} s  (goal: simulate <= 10 s)")
    if args.json:
        write_json(args.json, [
            figure("iterations", len(its), "count"),
            figure("operator_rows", len(trace), "count"),
            figure("schedule_s", t1 - t0, "s"),
            figure("simulate_s", t3 - t2, "s", "<=", 10)], sys.argv[1:])
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
