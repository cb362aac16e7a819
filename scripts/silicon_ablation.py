#!/usr/bin/env python
"""What each mechanism of the GPU model buys: per-kind error against measured kernels with the
preset as shipped and with one mechanism taken out at a time (prints a table).

Usage: python scripts/silicon_ablation.py [--kernels CSV] [--reference DIR]

The kernel file defaults to ``../shared/reference/silicon/h100_kernels.csv``; ``CHIPS`` in
``accelsim/validation/silicon.py`` names the preset. Nothing is fitted: every row uses the same
datasheet and microbenchmark constants, minus one mechanism.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from accelsim.validation import default_reference_dir
from accelsim.validation.silicon import _mape, compare

ABLATIONS = {
    "as shipped": (),
    "no launch costs": ("launch.per_kernel_ns=0", "launch.idle_dispatch_ns=0"),
    "datasheet clock 1830 MHz (not the sustained-load clock)": ("clock_mhz=1830",),
    "peak HBM bandwidth (efficiency 1.0)": ("memory.efficiency=1.0",),
    "no shared-buffer reuse (1 MiB L2)": ("shared_buffer.kib=1024",),
    "array-multiple tiles (waves), not CUTLASS tiles": ("mapping.impl=waves",),
    "unfused attention": ("mapping.attention=unfused",),
}
KINDS = ("gemm", "attn_decode", "attn_prefill", "vector")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernels", type=Path, default=None)
    parser.add_argument("--reference", type=Path, default=None)
    args = parser.parse_args()
    path = args.kernels or (args.reference or default_reference_dir()) / "silicon" / \
        "h100_kernels.csv"
    header = f"{'variant':58s}" + "".join(f"{k:>14s}" for k in KINDS) + f"{'prefill layers':>16s}"
    print(f"MAPE (%) against {path} (kernels >= 60 us; layers: mean |error| of the prefill rows)")
    print(header)
    print("-" * len(header))
    for label, overrides in ABLATIONS.items():
        res = compare(path, overrides=overrides)
        cells = []
        for kind in KINDS:
            group = [r for r in res if r["kind"] == kind]
            cells.append(f"{_mape(group, 'simulated_us'):14.1f}" if group else f"{'-':>14s}")
        layers = [r for r in res if r["kind"] == "layer" and r["dims"]["T"] > 1]
        cells.append(f"{_mape(layers, 'simulated_us'):16.1f}" if layers else f"{'-':>16s}")
        print(f"{label:58s}" + "".join(cells))
        if label == "as shipped":
            null = [f"{_mape([r for r in res if r['kind'] == k], 'roofline_us'):14.1f}"
                    for k in KINDS]
            print(f"{'roofline null model (datasheet peaks)':58s}" + "".join(null))
    return 0


if __name__ == "__main__":
    sys.exit(main())
