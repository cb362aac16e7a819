#!/usr/bin/env python
"""Long runs keep flat memory: simulate N continuous-batching iterations, RSS at start and end.

Requests are synthesised (ShareGPT-like, Poisson), scheduled vLLM-style, and each iteration's
operator trace is built lazily and streamed through ``StreamSimulation`` (per-iteration summary,
LRU-bounded shape caches). RSS is sampled every 10 % of the run.

Usage: python scripts/long_run_memory.py [--iterations 10000] [--model tiny-llama-gqa-test]
       [--layers 2] [--arch npu_128x128_bf16_hbm2]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import accelsim
from accelsim.serving.stream import StreamSimulation
from accelsim.workload.iteration import iteration_trace
from accelsim.workload.models import load_model
from accelsim.workload.requests import synthesize_requests
from accelsim.workload.serving import BatchingConfig, schedule


def rss_mb() -> float:
    """Current resident set size (Linux /proc), in MB."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize() / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=10_000)
    parser.add_argument("--model", default="tiny-llama-gqa-test")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--arch", default="npu_128x128_bf16_hbm2")
    parser.add_argument("--cache", type=int, default=2048, help="max cached shapes")
    args = parser.parse_args()

    cfg = load_model(args.model)
    requests = synthesize_requests("sharegpt", rate=2000.0, duration_s=None,
                                   num_requests=4 * args.iterations, seed=0,
                                   max_total_tokens=cfg.max_ctx)
    started = time.perf_counter()
    iterations = schedule(requests, cfg, batching=BatchingConfig(32, 2048, chunked_prefill=True),
                          max_iters=args.iterations)
    print(f"scheduled {len(iterations)} iterations of {cfg.name} in "
          f"{time.perf_counter() - started:.1f} s")
    samples: list[tuple[int, float]] = []
    step = max(1, len(iterations) // 10)

    def traces():
        for it in iterations:
            if it.index % step == 0:
                samples.append((it.index, rss_mb()))
            yield iteration_trace(cfg, it.seqs, layers=args.layers)

    sim = StreamSimulation(accelsim.load_arch(args.arch), max_cached_shapes=args.cache,
                           progress=False)
    started = time.perf_counter()
    result = sim.run(traces(), total=len(iterations))
    wall = time.perf_counter() - started
    samples.append((len(iterations), rss_mb()))
    print(f"simulated {len(result.iterations)} iterations ({result.iterations.ops.sum():,} "
          f"operators, {result.total_time_ns / 1e9:.3f} s simulated) in {wall:.1f} s wall")
    print("caches:", result.caches)
    print("RSS (MB) by iteration: " + ", ".join(f"{i}: {m:.0f}" for i, m in samples))
    first, last = samples[0][1], samples[-1][1]
    after_warmup = samples[min(2, len(samples) - 1)][1]
    print(f"RSS start {first:.0f} MB, after warm-up {after_warmup:.0f} MB, end {last:.0f} MB "
          f"(growth after warm-up {last - after_warmup:+.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
