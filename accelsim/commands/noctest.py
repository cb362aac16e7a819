"""``accelsim noctest``: synthetic traffic on the mesh NoC (latency and accepted throughput).

Examples::

    accelsim noctest --mesh 8x8 --traffic uniform --rate 0.1 --packet-flits 4
    accelsim noctest --mesh 4x4 --rate 0.3 --json
    accelsim noctest --config arch_configs/noc/mesh_booksim_8x8.yaml --sweep --rate 0.05
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from .. import guards
from ..errors import AccelsimError


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "noctest", help="synthetic-traffic test of the mesh NoC",
        description="Run synthetic traffic on the mesh NoC and print the average packet latency "
                    "(cycles, creation to tail ejection) and the accepted throughput "
                    "(flits/node/cycle). Defaults are BookSim 2's stock mesh router.")
    parser.add_argument("--mesh", default=None, help="columns x rows, e.g. 8x8 (default 8x8, or "
                        "the size in --config)")
    parser.add_argument("--config", default=None, help="NoC preset YAML (e.g. "
                        "arch_configs/noc/mesh_booksim_8x8.yaml); --mesh overrides its size")
    parser.add_argument("--traffic", default="uniform", help="uniform, transpose or hotspot")
    parser.add_argument("--rate", type=float, default=0.1,
                        help="offered load in flits/node/cycle (with --sweep: the step)")
    parser.add_argument("--packet-flits", type=int, default=1, help="flits per packet")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hotspot-fraction", type=float, default=0.1,
                        help="share of packets sent to the hotspot nodes (memory controllers, "
                             "else the centre node)")
    parser.add_argument("--warmup-cycles", type=int, default=3000)
    parser.add_argument("--measure-cycles", type=int, default=10000)
    parser.add_argument("--drain-cycles", type=int, default=10000)
    parser.add_argument("--sweep", action="store_true",
                        help="sweep the offered load in steps of --rate until saturation")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    guards.add_flags(parser)
    parser.set_defaults(run=run)
    return parser


def _check_work(args, cfg) -> None:
    """Packet-hops: nodes x offered load / packet flits x cycles x (average XY hops + 2); a
    sweep adds one run per point up to saturation (taken as at most 0.5 flits/node/cycle)."""
    for flag, value in (("--warmup-cycles", args.warmup_cycles),
                        ("--measure-cycles", args.measure_cycles),
                        ("--drain-cycles", args.drain_cycles),
                        ("--packet-flits", args.packet_flits)):
        if value < (1 if flag == "--packet-flits" else 0):
            raise AccelsimError(f"noctest: {flag} must be >= "
                                f"{1 if flag == '--packet-flits' else 0}, got {value}")
    nodes = cfg.columns * cfg.rows
    hops = (cfg.columns + cfg.rows) / 3 + 2
    cycles = args.warmup_cycles + args.measure_cycles
    load = args.rate
    if args.sweep:
        points = int(0.5 / args.rate) + 3
        load = sum(min(args.rate * k, 0.5) for k in range(1, points + 1))
    packets = nodes * load / args.packet_flits * cycles
    guards.check("noctest", packets * hops * guards.UNITS_PER_PACKET_HOP,
                 what=f"{nodes} nodes x {load:.3g} flits/node/cycle x {cycles:,} cycles = "
                      f"{packets:.3g} packets over ~{hops:.0f} hops",
                 knob="use a smaller --mesh, --rate or fewer --warmup/--measure-cycles",
                 args=args, memory_bytes=nodes * 6 * 2000
                 + 64 * (cycles + args.drain_cycles))      # per-cycle arrays of the kernel


def run(args) -> int:
    from ..hw.noc import (MeshConfig, load_noc_config, parse_mesh, run_synthetic,
                          saturation_throughput, sweep_synthetic)

    cfg = load_noc_config(args.config) if args.config else MeshConfig(columns=8, rows=8)
    if args.mesh is not None:
        columns, rows = parse_mesh(args.mesh)
        mcs = tuple(n for n in cfg.memory_controllers if n < columns * rows)
        cfg = dataclasses.replace(cfg, columns=columns, rows=rows, memory_controllers=mcs)
    if not 0.0 < args.rate <= 1.0:
        raise AccelsimError(f"noctest: --rate must be in (0, 1] flits/node/cycle, got {args.rate}")
    for flag, value in (("--drain-cycles", args.drain_cycles), ("--seed", args.seed)):
        if value < 0:
            raise AccelsimError(f"noctest: {flag} must be >= 0, got {value}")
    _check_work(args, cfg)
    common = dict(traffic=args.traffic, packet_flits=args.packet_flits, seed=args.seed,
                  warmup_cycles=args.warmup_cycles, measure_cycles=args.measure_cycles,
                  drain_cycles=args.drain_cycles, hotspot_fraction=args.hotspot_fraction)
    if args.sweep:
        results = sweep_synthetic(cfg, rate_step=args.rate, **common)
        sat = saturation_throughput(results)
        if args.json:
            rows_out = []
            for r in results:
                d = r.to_dict()
                d.pop("link_utilization")
                rows_out.append(d)
            print(json.dumps({"mesh": f"{cfg.columns}x{cfg.rows}", "traffic": args.traffic,
                              "packet_flits": args.packet_flits,
                              "saturation_throughput_flits_per_node_cycle": sat,
                              "sweep": rows_out}))
            return 0
        print(f"mesh {cfg.columns}x{cfg.rows}  traffic {args.traffic}  packet {args.packet_flits} "
              f"flit(s)  seed {args.seed}")
        print(f"{'offered':>8} {'accepted':>9} {'latency':>9} {'network':>9} {'saturated':>9}")
        for r in results:
            print(f"{r.offered_flits_per_node_cycle:8.3f} {r.accepted_flits_per_node_cycle:9.4f} "
                  f"{r.avg_packet_latency_cycles:9.2f} {r.avg_network_latency_cycles:9.2f} "
                  f"{'yes' if r.saturated else 'no':>9}")
        print(f"saturation throughput (max accepted): {sat:.4f} flits/node/cycle")
        return 0
    res = run_synthetic(cfg, rate=args.rate, **common)
    if args.json:
        print(json.dumps(res.to_dict()))
        return 0
    print(f"mesh {res.mesh}  traffic {res.traffic}  packet {res.packet_flits} flit(s)  "
          f"seed {res.seed}")
    print(f"offered load        {res.offered_flits_per_node_cycle:.4f} flits/node/cycle")
    print(f"accepted throughput {res.accepted_flits_per_node_cycle:.4f} flits/node/cycle")
    print(f"avg packet latency  {res.avg_packet_latency_cycles:.2f} cycles "
          f"(network {res.avg_network_latency_cycles:.2f}, zero-load "
          f"{res.zero_load_latency_cycles:.2f})")
    print(f"avg hops            {res.avg_hops:.3f}")
    print(f"saturated           {'yes' if res.saturated else 'no'}")
    return 0
