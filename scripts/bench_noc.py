"""Speed of the mesh NoC kernel: simulated flit-hops per second on one core.

A flit-hop is one flit crossing one output port (router-to-router link or ejection channel).
Goal: >= 1 M flit-hops/s. Prints figures only; tests never assert wall time.

    python scripts/bench_noc.py [--json PATH]
"""

from __future__ import annotations

import argparse
import sys
import time

from accelsim.hw.noc import MeshConfig, run_synthetic
from benchfig import figure, write_json  # scripts/benchfig.py

CASES = [  # (columns, rows, rate, packet_flits)
    (8, 8, 0.30, 1),
    (8, 8, 0.30, 4),
    (4, 4, 0.50, 4),
    (16, 16, 0.15, 4),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default=None,
                    help="also write the figures (value, unit, goal, met) to this JSON file")
    args = ap.parse_args()
    run_synthetic(MeshConfig(columns=2, rows=2), rate=0.1, measure_cycles=100)  # JIT warm-up
    print(f"{'mesh':>6} {'rate':>5} {'P':>3} {'cycles':>8} {'flit-hops':>10} {'wall s':>7} "
          f"{'cpu s':>7} {'flit-hops/s':>12} {'per cpu s':>12}")
    total_hops, total_wall, total_cpu = 0, 0.0, 0.0
    for columns, rows, rate, flits in CASES:
        cfg = MeshConfig(columns=columns, rows=rows)
        t0, c0 = time.perf_counter(), time.process_time()
        res = run_synthetic(cfg, rate=rate, packet_flits=flits, warmup_cycles=1000,
                            measure_cycles=10000, drain_cycles=2000)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        # flit-hops over the whole run: the window's count scaled by simulated / window cycles
        hops = int(res.flit_hops * res.simulated_cycles / res.measure_cycles)
        total_hops += hops
        total_wall += wall
        total_cpu += cpu
        print(f"{columns}x{rows:<4} {rate:5.2f} {flits:3d} {res.simulated_cycles:8d} {hops:10d} "
              f"{wall:7.2f} {cpu:7.2f} {hops / wall:12,.0f} {hops / cpu:12,.0f}")
    print(f"overall: {total_hops / total_wall:,.0f} flit-hops/s wall, "
          f"{total_hops / total_cpu:,.0f} per CPU second (goal >= 1,000,000; the machine may be "
          f"shared, so CPU time is the steadier figure)")
    if args.json:
        write_json(args.json, [
            figure("flit_hops", total_hops, "count"),
            figure("wall_flit_hops_per_s", total_hops / total_wall, "flit-hops/s"),
            figure("cpu_flit_hops_per_s", total_hops / total_cpu, "flit-hops/s", ">=", 1e6)],
            sys.argv[1:])


if __name__ == "__main__":
    main()
