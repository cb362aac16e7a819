"""Reproduce NeuPIMs (ASPLOS'24) through ``accelsim simulate``: throughput of each ablation step
relative to naive NPU+PIM, NeuPIMs / NPU-only, and NPU / PIM utilization.

Every system is the ``neupims_npu_hbm`` preset with its ``pim:`` settings changed
(``accelsim.validation.neupims.SYSTEM_SETTINGS``; the same as ``accelsim simulate --arch
neupims_npu_hbm --set pim.mode=blocked --set pim.scheduler.impl=naive ...``). GPT3-7B, TP 4,
batch 512, ShareGPT-like decode batches (steady-state snapshots made as NeuPIMs' trace generator
makes them), next to the upstream simulator's runs
(../shared/reference/neupims/measured_upstream_runs.csv) and the paper's headline ratio; then
NPU / PIM utilization for GPT3-30B, batch 256 (paper Table 4).

    python scripts/reproduce_neupims.py            # 2 batches
    python scripts/reproduce_neupims.py --quick    # 1 batch; last line: neupims/naive = X.XXx
    python scripts/reproduce_neupims.py --trace path/to/share-gpt2-bs512-ms7B-tp4-clb-0.csv
    python scripts/reproduce_neupims.py --timeline neupims.json   # Perfetto: NPU vs PIM channels
    python scripts/reproduce_neupims.py --json speed.json   # also the figures (wall time, ratios)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from accelsim.validation.neupims import (LAYERS_SIMULATED, PAPER_UTILIZATION,  # noqa: E402
                                         REFERENCE_RATIOS, SYSTEM_SETTINGS, SYSTEMS, run_ratios,
                                         run_utilization)
from benchfig import figure, write_json  # noqa: E402  (scripts/benchfig.py)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 batch instead of 2")
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--seeds", type=int, default=None, help="number of sampled batches")
    ap.add_argument("--trace", default=None, help="a NeuPIMs request CSV (seq_len, ch_idx) "
                    "used for every PIM system instead of synthesized batches")
    ap.add_argument("--timeline", default=None, help="write the full NeuPIMs run's timeline")
    ap.add_argument("--json", default=None,
                    help="also write the figures (value, unit, goal, met) to this JSON file")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    seeds = args.seeds or (1 if args.quick else 2)
    out = run_ratios(batch=args.batch, seeds=range(seeds), trace=args.trace,
                     timeline=args.timeline)
    rel, npu_only, layer = out["relative"], out["neupims_over_npu_only"], out["layer_cycles"]
    print(f"GPT3-7B TP4, batch {args.batch}, ShareGPT-like, {out['batches']} batch(es)"
          + (f" from {args.trace}" if args.trace else "") + "; accelsim simulate on "
          f"neupims_npu_hbm ({LAYERS_SIMULATED} layers simulated, extrapolated to 32); "
          "throughput relative to naive NPU+PIM")
    print(f"{'system':<26}{'ours':>8}{'reference':>11}{'error':>9}{'vs previous':>13}"
          f"{'cycles/layer':>14}   --set")
    prev = None
    for name, label in SYSTEMS:
        sets = " ".join(f"{k}={v}" for k, v in SYSTEM_SETTINGS[name].items())
        if name == "npu_only":
            print(f"{'NPU-only':<26}{rel[name]:>8.3f}{'':>11}{'':>9}{'':>13}{layer[name]:>14,}"
                  f"   {sets}")
            continue
        ref = REFERENCE_RATIOS[name]
        err = rel[name] / ref - 1
        step = f"{rel[name] / prev - 1:+.1%}" if prev else ""
        print(f"{label:<26}{rel[name]:>8.3f}{ref:>11.3f}{err:>+9.1%}{step:>13}"
              f"{layer[name]:>14,}   {sets}")
        prev = rel[name]
    print()
    print("paper headline ratios")
    print(f"  NeuPIMs / NPU-only     {npu_only:6.2f}x   paper 2.4x  ({npu_only / 2.4 - 1:+.1%})")
    print(f"  NeuPIMs / naive        {rel['neupims']:6.2f}x   paper 1.6x  "
          f"({rel['neupims'] / 1.6 - 1:+.1%})")
    print(f"  tokens/s (NeuPIMs)     {out['tokens_per_s']['neupims']:,.0f}   upstream 33,057 "
          "(trace #0, 32-layer extrapolation)")
    en = out["energy"]
    print()
    print("energy per device (accelsim.cost through the report: NPU MACs, SRAM, DRAM, PIM MACs "
          "and bits, leakage)")
    print(f"{'system':<26}{'mJ/token':>10}{'memory W':>10}")
    for name, label in SYSTEMS:
        e = en[name]
        print(f"{label:<26}{e['mj_per_token']:>10.3f}{e['memory_power_w']:>10.1f}")
    mem_power = en["neupims"]["memory_power_w"] / en["npu_only"]["memory_power_w"]
    print(f"  NeuPIMs / NPU-only memory power    {mem_power:5.2f}x   paper 1.8x (informative)")
    u = run_utilization(seeds=range(1))
    pn, pp = PAPER_UTILIZATION["npu"], PAPER_UTILIZATION["pim"]
    print()
    print("GPT3-30B TP4 PP2, batch 256, ShareGPT-like (paper Table 4), naive NPU+PIM -> NeuPIMs")
    print(f"  NPU utilization = systolic MACs / (peak MACs/cycle x time)       "
          f"{u['naive']['npu']:6.1%} -> {u['neupims']['npu']:6.1%}   paper "
          f"{pn[0]:.1%} -> {pn[1]:.1%}")
    print(f"  PIM utilization = COMP MAC-slot cycles / (channels x time)       "
          f"{u['naive']['pim']:6.1%} -> {u['neupims']['pim']:6.1%}   paper "
          f"{pp[0]:.1%} -> {pp[1]:.1%}")
    print(f"  PIM busy        = channel cycles in PIM operations / (channels x time) "
          f"{u['naive']['pim_busy']:6.1%} -> {u['neupims']['pim_busy']:6.1%}")
    print()
    wall = time.perf_counter() - t0
    print(f"wall time {wall:.1f} s")
    print(f"neupims/naive = {rel['neupims']:.2f}x (reference {REFERENCE_RATIOS['neupims']:.3f})")
    if args.json:
        write_json(args.json, [
            figure("batches", out["batches"], "count"),
            figure("neupims_over_naive", rel["neupims"], "x"),
            figure("neupims_over_npu_only", npu_only, "x"),
            figure("wall_s", wall, "s", "<=", 60)],
            list(argv) if argv is not None else sys.argv[1:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
