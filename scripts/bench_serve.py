#!/usr/bin/env python
"""Benchmark: one hour of ShareGPT at 10 req/s on one Llama-3-8B replica (h100_like), closed loop.

``accelsim.serve`` with the defaults of ``accelsim serve`` (vLLM v1 scheduler, chunked prefill,
paged KV, analytical fidelity): every iteration is timed by the engine, memoized by operator
shape. Prints the wall time, the peak RSS and the serving figures. Goals (issue 18): <= 60 s of
wall time on one core, <= 1 GB of RSS.

Usage: python scripts/bench_serve.py [--duration 3600] [--rate 10] [--profile] [--json PATH]
       python scripts/bench_serve.py --replicas 8 --rate 80 --backend ray   # a cluster
(the RSS figure is this process's; Ray workers have their own).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import sys
import time

from benchfig import figure, write_json  # scripts/benchfig.py


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="llama3-8b")
    parser.add_argument("--arch", default="h100_like")
    parser.add_argument("--dataset", default="sharegpt")
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--duration", type=float, default=3600.0)
    parser.add_argument("--fidelity", choices=("analytical", "full"), default="analytical")
    parser.add_argument("--replicas", type=int, default=1,
                        help="replicas behind a round-robin router (scale --rate with them)")
    parser.add_argument("--backend", choices=("local", "ray"), default="local",
                        help="ray: replicas in parallel (lifts the one-core pinning)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and args.backend == "local":
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})     # one core

    from accelsim.serving import Pool, Settings, serve
    from accelsim.workload.models import load_model
    from accelsim.workload.requests import synthesize_requests

    t0, cpu0 = time.perf_counter(), time.process_time()
    cfg = load_model(args.model)
    requests = synthesize_requests(args.dataset, rate=args.rate, duration_s=args.duration,
                                   seed=0, max_total_tokens=cfg.max_ctx)
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    result = serve(requests, cfg, pools=[Pool(args.arch, args.replicas)],
                   settings=Settings(fidelity=args.fidelity, progress=False),
                   slo="ttft_ms=200,tpot_ms=50", backend=args.backend)
    if profiler:
        profiler.disable()
    wall_s = time.perf_counter() - t0
    cpu_s = time.process_time() - cpu0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    s = result.summary
    pool = s["pools"][0]
    print(f"{args.duration:g} s of {args.dataset} at {args.rate:g} req/s, {args.model} on "
          f"{args.replicas} x {args.arch} ({args.fidelity}, {args.backend}): "
          f"{s['requests']:,} requests, {pool['iterations']:,} "
          f"iterations, {pool['engine_runs']:,} engine runs for new shapes")
    print(f"wall {wall_s:.1f} s (goal <= 60 s, one core; CPU {cpu_s:.1f} s), peak RSS "
          f"{rss_mb:,.0f} MB (goal <= 1024 MB)")
    print(f"TTFT p50/p99 {s['ttft_ms']['p50']:.1f}/{s['ttft_ms']['p99']:.1f} ms, TPOT p50/p99 "
          f"{s['tpot_ms']['p50']:.2f}/{s['tpot_ms']['p99']:.2f} ms, "
          f"{s['throughput_tokens_per_s']:,.0f} output tokens/s, "
          f"{s['preemptions']} preemptions, {s['energy_per_token_j'] * 1e3:.1f} mJ/token")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(20)
    if args.json:
        write_json(args.json, [
            figure("serve_hour_wall", wall_s, "s", "<=", 60.0),
            figure("serve_hour_cpu", cpu_s, "s"),
            figure("serve_hour_rss", rss_mb, "MB", "<=", 1024.0),
            figure("serve_iterations_per_s", pool["iterations"] / wall_s, "iter/s")], sys.argv[1:])
    return 0 if wall_s <= 60 and rss_mb <= 1024 else 1


if __name__ == "__main__":
    sys.exit(main())
