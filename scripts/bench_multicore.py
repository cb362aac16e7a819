"""Speed of the multi-core mesh workload mode: simulated flit-hops per second on one core.

A flit-hop is one flit crossing one output port (router-to-router link or ejection channel),
counted by the NoC model (``noc.stats()["flit_hops"]``). Goal: >= 1 M/s. Cases: a Llama-2-7B
prefill layer and a decode layer on the shipped mesh presets. Prints figures only; tests never
assert wall time.

    python scripts/bench_multicore.py
"""

from __future__ import annotations

import time

import accelsim
from accelsim.engine.multicore import MeshSimulation

CASES = [  # (preset, phase, batch, seq_len / context, layers)
    ("mesh4x4_npu_hbm", "prefill", 1, 512, 1),
    ("mesh4x4_npu_hbm", "decode", 16, 1024, 2),
    ("mesh8x8_npu_hbm", "decode", 32, 1024, 1),
    ("wafer_mesh_32x32", "decode", 8, 1024, 1),
]


def main() -> None:
    print(f"{'preset':>18} {'phase':>8} {'ops':>4} {'packets':>8} {'flit-hops':>12} {'wall s':>7} "
          f"{'cpu s':>7} {'flit-hops/s':>12} {'per cpu s':>12}")
    hops_all, wall_all, cpu_all = 0, 0.0, 0.0
    for preset, phase, batch, tokens, layers in CASES:
        arch = accelsim.load_arch(preset)
        trace = accelsim.generate_trace("llama2-7b", phase, batch=batch, seq_len=tokens,
                                        context=tokens, layers=layers)
        t0, c0 = time.perf_counter(), time.process_time()
        res = MeshSimulation(arch, trace, progress=False).run()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        hops = res.noc["flit_hops"]
        hops_all, wall_all, cpu_all = hops_all + hops, wall_all + wall, cpu_all + cpu
        print(f"{preset:>18} {phase:>8} {len(trace):4d} {res.noc['packets']:8d} {hops:12,d} "
              f"{wall:7.2f} {cpu:7.2f} {hops / wall:12,.0f} {hops / cpu:12,.0f}")
    print(f"overall: {hops_all / wall_all:,.0f} flit-hops/s wall, {hops_all / cpu_all:,.0f} per "
          f"CPU second (goal >= 1,000,000; the machine may be shared, CPU time is steadier)")


if __name__ == "__main__":
    main()
