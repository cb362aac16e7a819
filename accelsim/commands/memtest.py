"""``accelsim memtest``: run a synthetic traffic pattern through the bank-level HBM model.

The experiment is the one behind ``../shared/reference/dram/ramulator2_hbm2.csv``: 32-byte accesses,
``stream`` (sequential), ``random`` (uniform reads over 1 GiB) or ``mixed`` (uniform over 1 GiB,
50/50 reads and writes), injected in order by a frontend that offers up to
``frontend_per_tick`` requests per memory tick (default: one per pseudo channel) into 32-entry
controller queues.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .. import guards
from ..errors import ConfigError


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "memtest", help="bandwidth / latency of a traffic pattern on the HBM model",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memory", default="hbm2", metavar="hbm2|hbm3|PRESET|FILE",
                        help="preset name (hbm2, hbm2e, hbm3, hbm2_2000, ...) or a YAML file "
                             "holding a memory section (default: hbm2)")
    parser.add_argument("--channels", type=int, default=None,
                        help="channels per stack (default: the preset's)")
    parser.add_argument("--pattern", choices=("stream", "random", "mixed"), default="stream")
    parser.add_argument("--requests", type=guards.count, default=100_000,
                        help="number of 32-B requests (1e6 style accepted)")
    parser.add_argument("--mapping", default=None, help="address mapping: RoBaRaCoCh or MOP4CLXOR "
                                                        "(default: the memory section's, MOP4CLXOR)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random patterns")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    guards.add_flags(parser)
    parser.set_defaults(run=run)
    return parser


def _memory_section(arg: str) -> tuple[dict, str | None]:
    """``--memory`` -> (memory section dict, file it came from)."""
    path = Path(arg)
    try:
        is_file = path.is_file()
    except OSError as exc:                      # e.g. a name too long for the file system
        raise ConfigError(f"cannot read {arg[:60]!r}...: {exc.strerror or exc}",
                          key="--memory") from None
    if arg.endswith((".yaml", ".yml")) or is_file:
        if not is_file:
            raise ConfigError(f"memory file {arg!r} not found", key="--memory")
        from ..yamlio import load_file

        raw = load_file(path)
        if isinstance(raw, dict) and "memory" in raw:
            raw = raw["memory"]          # a whole architecture file
        if isinstance(raw, dict) and "organization" in raw and "preset" not in raw:
            return {"impl": "hbm", "preset": str(path)}, arg   # a preset file itself
        if not isinstance(raw, dict):
            raise ConfigError(f"expected a mapping, got {type(raw).__name__}", file=arg)
        return dict(raw), arg
    return {"impl": "hbm", "preset": arg}, None


def run(args) -> int:
    from ..arch.fields import Section
    from ..hw.hbm import load_spec, run_pattern

    if args.requests < 1:
        raise ConfigError(f"expected --requests >= 1, got {args.requests}", key="--requests")
    guards.check_seed(args.seed)
    guards.check("memtest", args.requests * guards.UNITS_PER_REQUEST,
                 what=f"{args.requests:,} DRAM requests", knob="reduce --requests", args=args,
                 memory_bytes=args.requests * guards.BYTES_PER_REQUEST)
    raw, file = _memory_section(args.memory)
    impl = raw.get("impl", "hbm")
    if impl != "hbm":
        raise ConfigError(f"memtest needs the bank-level model (impl: hbm), got impl {impl!r}",
                          file=file, key="memory.impl")
    if args.channels is not None:
        raw["channels"] = args.channels
    if args.mapping is not None:
        raw["mapping"] = args.mapping
    section = Section(raw, file=file, path="memory")
    section.str("impl", default="hbm")
    spec = load_spec(section)
    section.done()
    result = run_pattern(spec, args.pattern, args.requests, seed=args.seed)
    result["seed"] = args.seed
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return 0
    util = result["channel_utilization"]
    print(f"memory      {spec.preset} ({spec.channels} channels x {spec.pseudo_channels} "
          f"pseudo channels, {spec.mapping}, {spec.page_policy} page)")
    print(f"pattern     {args.pattern}, {args.requests} x {spec.tx_bytes} B requests, seed {args.seed}")
    print(f"bandwidth   {result['bandwidth_gbps']:.2f} GB/s "
          f"({100 * result['bandwidth_gbps'] / result['peak_bandwidth_gbps']:.1f} % of "
          f"{result['peak_bandwidth_gbps']:.1f} GB/s peak)")
    print(f"latency     avg {result['avg_latency_ns']:.1f} ns, p99 {result['p99_latency_ns']:.1f} ns "
          f"(reads, queue arrival -> data)")
    print(f"row buffer  hit {result['row_hit_frac']:.4f} (hits {result['row_hits']}, misses "
          f"{result['row_misses']}, conflicts {result['row_conflicts']})")
    print(f"channels    utilization min {min(util):.3f} / max {max(util):.3f}; "
          f"{result['rw_turnarounds']} read/write turnarounds")
    per_bank = "; a REFpb counts 1/banks" if spec.refresh == "per_bank" else ""
    print(f"refresh     {result['refresh_ns']:.0f} ns of {spec.refresh.replace('_', '-')} refresh "
          f"(summed over pseudo channels{per_bank}) in {result['simulated_ns']:.0f} ns")
    return 0
