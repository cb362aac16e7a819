"""``accelsim trace gen``: write the operator trace of one LLM step."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import AccelsimError


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("trace", help="generate operator traces",
                              description="Generate operator traces of LLM steps.")
    sub = p.add_subparsers(dest="trace_command", metavar="SUBCOMMAND")
    g = sub.add_parser("gen", help="one prefill or decode step of a model from traces/models/",
                       description="Write the operator trace (CSV + .meta.json) of one step.")
    g.add_argument("--model", default="llama2-7b", help="zoo name or model YAML (default %(default)s)")
    g.add_argument("--phase", choices=("prefill", "decode"), default="decode")
    g.add_argument("--batch", type=int, default=1)
    g.add_argument("--context", type=int, default=2048, help="decode: KV-cache length per sequence")
    g.add_argument("--seq-len", type=int, default=512, help="prefill: prompt tokens per sequence")
    g.add_argument("--tp", type=int, default=1, help="tensor-parallel degree (one device's share)")
    g.add_argument("--layers", type=int, default=None, help="only the first N decoder layers")
    g.add_argument("-o", "--output", required=True, help="output CSV path")
    g.add_argument("--force", action="store_true", help="overwrite an existing file")
    g.set_defaults(run=run_gen)
    p.set_defaults(run=lambda args: (p.print_help(), 2)[1])
    return p


def run_gen(args: argparse.Namespace) -> int:
    from ..workload.generate import generate_trace

    out = Path(args.output)
    if out.suffix != ".csv":
        out = out.with_name(out.name + ".csv")
    if out.exists() and not args.force:
        raise AccelsimError(f"{out}: file exists; pass --force to overwrite it")
    trace = generate_trace(args.model, args.phase, batch=args.batch, context=args.context,
                           seq_len=args.seq_len, tp=args.tp, layers=args.layers)
    path = trace.save(out)
    print(f"wrote {len(trace)} operators to {path} (+ {path.name.removesuffix('.csv')}.meta.json): "
          f"{trace.total('flops') / 1e9:,.2f} GFLOP, {trace.total('bytes_weight') / 1e9:,.3f} GB "
          f"weights, {trace.total('bytes_kv_read') / 1e9:,.3f} GB KV reads")
    return 0
