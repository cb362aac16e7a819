"""Multi-core scaling of a Llama-2-7B prefill on a 2-D mesh NPU: 1, 4 and 16 cores.

Each point is a k x k array of cores with memory-controller columns on the west and east edges
(a (k+2) x k mesh), built from ``arch_configs/mesh4x4_npu_hbm.yaml``'s core, memory and NoC
parameters: the memory system stays the same, cores and controller ports grow. Prints the
speed-up over one mesh core (and the single-core engine without a mesh as a reference), the
NoC share of operator time (``noc_cycles``, docs/multicore.md), the hottest link and the
average packet latency, and the simulator speed in flit-hops per second.

    python scripts/multicore_scaling.py [--seq-len 512] [--layers 1] [--cores 1,4,16]
        [--flit-bytes 64] [--heatmap-dir DIR] [--json PATH]
"""

from __future__ import annotations

import argparse
import copy
import sys
import time

import numpy as np

import accelsim
from accelsim.arch.config import _read_yaml, arch_configs_dir, parse_arch
from accelsim.engine.core import Simulation
from accelsim.engine.multicore import MeshSimulation
from accelsim.hw.noc import PORT_NAMES
from benchfig import figure, write_json  # scripts/benchfig.py


def mesh_for(base: dict, k: int) -> dict:
    raw = copy.deepcopy(base)
    raw["name"] = f"mesh_{k * k}cores"
    raw["noc"].update(columns=k + 2, rows=k,
                      memory_controllers={"placement": "columns", "columns": [0, k + 1]})
    return raw


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--cores", default="1,4,16")
    ap.add_argument("--flit-bytes", type=int, default=None,
                    help="override the link width (e.g. 64 to see a mesh-bound chip)")
    ap.add_argument("--heatmap-dir", default=None)
    ap.add_argument("--json", default=None,
                    help="also write the figures (value, unit, goal, met) to this JSON file")
    args = ap.parse_args()
    path = arch_configs_dir() / "mesh4x4_npu_hbm.yaml"
    base = _read_yaml(path)
    if args.flit_bytes:
        base["noc"]["flit_bytes"] = args.flit_bytes
    trace = accelsim.generate_trace("llama2-7b", "prefill", batch=1, seq_len=args.seq_len,
                                    layers=args.layers)
    single_raw = {k: v for k, v in copy.deepcopy(base).items() if k != "noc"}
    t0 = time.perf_counter()
    single = Simulation(parse_arch(single_raw, file=str(path)), trace, progress=False).run()
    print(f"Llama-2-7B prefill, {args.seq_len} tokens, {args.layers} layer(s); core = 64x64 bf16 "
          f"array @ 1 GHz, 2.5 MiB SRAM; memory 819 GB/s; "
          f"links {base['noc']['flit_bytes']} B/cycle")
    print(f"single core, no mesh: {single.end_ps / 1e6:,.1f} us "
          f"({time.perf_counter() - t0:.1f} s wall)\n")
    head = (f"{'cores':>5} {'mesh':>5} {'MCs':>3} {'time us':>10} {'speed-up':>8} "
            f"{'NoC share':>9} {'hottest link':>22} {'util':>5} {'pkt lat':>8} {'wall s':>6} "
            f"{'flit-hops/s':>12}")
    print(head)
    base_ps = None
    total_hops, total_wall = 0, 0.0
    out = []
    for k in [int(round(int(c) ** 0.5)) for c in args.cores.split(",")]:
        arch = parse_arch(mesh_for(base, k), file=str(path))
        t0 = time.perf_counter()
        res = MeshSimulation(arch, trace, progress=False).run()
        wall = time.perf_counter() - t0
        base_ps = base_ps or res.end_ps
        busy = sum(r.end_ps - r.start_ps for r in res.records)
        util = res.noc["link_utilization"]
        links = util[:, 1:]
        node, port = np.unravel_index(int(np.argmax(links)), links.shape)
        hot = f"({node % (k + 2)},{node // (k + 2)}) {PORT_NAMES[port + 1]}"
        total_hops += res.noc["flit_hops"]
        total_wall += wall
        print(f"{k * k:5d} {k + 2}x{k:<3d} {2 * k:3d} {res.end_ps / 1e6:10,.1f} "
              f"{base_ps / res.end_ps:8.2f} {sum(res.record_noc_ps) / busy:9.1%} {hot:>22} "
              f"{links.max():5.0%} {res.noc['avg_packet_latency_cycles']:8,.0f} {wall:6.1f} "
              f"{res.noc['flit_hops'] / wall:12,.0f}")
        out.append(figure(f"speedup_{k * k}cores", base_ps / res.end_ps, "x"))
        if args.heatmap_dir:
            from pathlib import Path

            from accelsim.report.noc_plots import link_heatmap

            Path(args.heatmap_dir).mkdir(parents=True, exist_ok=True)
            link_heatmap(res, Path(args.heatmap_dir) / f"links_{k * k}cores.png")
    print(f"\nsimulator speed: {total_hops / total_wall:,.0f} flit-hops/s over all mesh runs "
          f"(goal >= 1,000,000)")
    if args.json:
        write_json(args.json, out + [
            figure("flit_hops", total_hops, "count"),
            figure("wall_flit_hops_per_s", total_hops / total_wall, "flit-hops/s", ">=", 1e6)],
            sys.argv[1:])


if __name__ == "__main__":
    main()
