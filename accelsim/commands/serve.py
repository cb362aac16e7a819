"""``accelsim serve``: serve a request trace on simulated hardware (docs/serving.md)."""

from __future__ import annotations

import argparse
import math
import sys
import time

from .. import guards
from ..errors import AccelsimError

ARRIVALS = {"poisson": "poisson", "bursty": "gamma", "onoff": "onoff"}


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "serve", help="serve requests on simulated hardware (TTFT, TPOT, goodput)",
        description="Continuous batching driven by the simulated clock: a vLLM-style scheduler "
                    "with paged KV blocks admits requests, the engine times every iteration "
                    "(memoized by operator shape), and per-request latencies, throughput, "
                    "goodput and energy come out. No operator trace is written unless "
                    "--dump-trace asks for one.")
    p.add_argument("--arch", default="h100_like",
                   help="device preset or YAML (default %(default)s)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override an arch key of every pool, e.g. --set clock_mhz=1000")
    p.add_argument("--model", default="llama3-8b",
                   help="zoo name or model YAML (default %(default)s)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--dataset", default="sharegpt",
                     help="length preset (sharegpt, alpaca, lmsys, azure-conv, azure-code, arxiv)")
    src.add_argument("--requests", metavar="CSV", help="replay this request trace (ours, Azure, "
                                                       "NeuPIMs or Vidur CSV)")
    p.add_argument("--rate", type=float, default=5.0, help="mean arrivals per second")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of arrivals")
    p.add_argument("--arrivals", choices=tuple(ARRIVALS), default="poisson",
                   help="poisson, bursty (gamma inter-arrivals, --cv) or onoff")
    p.add_argument("--cv", type=float, default=2.0,
                   help="bursty: inter-arrival coefficient of variation")
    p.add_argument("--seed", type=int, default=0)
    g = p.add_argument_group("replica and scheduler (vLLM names)")
    g.add_argument("--tp", type=int, default=1, help="tensor-parallel devices per replica")
    g.add_argument("--replicas", type=int, default=1)
    g.add_argument("--router", choices=("round-robin", "least-loaded"), default="round-robin")
    g.add_argument("--max-num-seqs", type=int, default=256)
    g.add_argument("--max-num-batched-tokens", type=int, default=8192)
    g.add_argument("--no-chunked-prefill", action="store_true",
                   help="vLLM v0 policy: prefill-only or decode-only iterations")
    g.add_argument("--prefix-caching", action="store_true",
                   help="the trace's cached_tokens are prefix-cache hits")
    g.add_argument("--block-size", type=int, default=16, help="tokens per KV block")
    g.add_argument("--gpu-memory-utilization", type=float, default=0.9,
                   help="share of device memory for weights + KV cache")
    g.add_argument("--fidelity", choices=("analytical", "full"), default="analytical")
    g.add_argument("--iteration-ms", type=float, default=None,
                   help="fix every iteration's time instead of simulating it (queueing studies)")
    d = p.add_argument_group("disaggregated prefill / decode (Splitwise, DistServe)")
    d.add_argument("--prefill-arch", help="arch of the prefill pool (enables disaggregation)")
    d.add_argument("--decode-arch", help="arch of the decode pool (default: --arch)")
    d.add_argument("--prefill-replicas", type=int, default=1)
    d.add_argument("--decode-replicas", type=int, default=1)
    d.add_argument("--prefill-tp", type=int, default=None, help="default: --tp")
    d.add_argument("--decode-tp", type=int, default=None, help="default: --tp")
    d.add_argument("--kv-link-gbps", type=float, default=None,
                   help="GB/s per device for the KV hand-over (default: the prefill arch's "
                        "interconnect)")
    p.add_argument("--slo", default="", help="goodput SLOs, e.g. ttft_ms=200,tpot_ms=50")
    p.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="ray: independent (round-robin) replicas run as Ray tasks")
    p.add_argument("-o", "--output", metavar="DIR",
                   help="write requests.csv, iterations.csv, summary.json and plots here")
    p.add_argument("--no-plots", action="store_true", help="with -o: skip the PNGs")
    p.add_argument("--json", metavar="PATH", help="write the summary JSON here ('-' = stdout)")
    p.add_argument("--dump-trace", metavar="CSV",
                   help="also write the operator trace of every iteration (large)")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    p.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    guards.add_flags(p)
    p.set_defaults(run=run)
    return p


def _positive(args, *names: str, integer: bool = False) -> None:
    for name in names:
        value = getattr(args, name)
        if value is None:
            continue
        ok = value >= 1 if integer else (math.isfinite(value) and value > 0)
        if not ok:
            flag = "--" + name.replace("_", "-")
            raise AccelsimError(f"{flag}: expected a positive {'integer' if integer else 'number'}"
                                f", got {value:g}")


def _check(args) -> None:
    from ..io import check_output_dir, check_output_file
    from ..serving.metrics import parse_slo
    from ..serving.output import FILES

    _positive(args, "rate", "duration", "cv", "iteration_ms", "kv_link_gbps")
    _positive(args, "tp", "replicas", "max_num_seqs", "max_num_batched_tokens", "block_size",
              "prefill_replicas", "decode_replicas", "prefill_tp", "decode_tp", integer=True)
    if not 0 < args.gpu_memory_utilization <= 1:
        raise AccelsimError(f"--gpu-memory-utilization: expected a fraction in (0, 1], got "
                            f"{args.gpu_memory_utilization:g}")
    guards.check_seed(args.seed)
    parse_slo(args.slo)
    disagg_flags = [f for f in ("decode_arch", "prefill_tp", "decode_tp", "kv_link_gbps")
                    if getattr(args, f)]
    disagg_flags += [f for f in ("prefill_replicas", "decode_replicas") if getattr(args, f) != 1]
    if disagg_flags and not args.prefill_arch:
        raise AccelsimError(f"--{disagg_flags[0].replace('_', '-')} applies to disaggregated "
                            "serving: give --prefill-arch too")
    if args.prefill_arch and args.replicas != 1:
        raise AccelsimError("--replicas applies to co-located serving; with --prefill-arch give "
                            "--prefill-replicas and --decode-replicas")
    if args.no_plots and not args.output:
        raise AccelsimError("--no-plots applies to -o DIR (plots are written only there)")
    if args.cv != 2.0 and args.arrivals != "bursty":
        raise AccelsimError("--cv applies to --arrivals bursty")
    if args.requests:
        given = [f for f, default in (("rate", 5.0), ("duration", 60.0), ("arrivals", "poisson"),
                                      ("seed", 0)) if getattr(args, f) != default]
        if given:
            raise AccelsimError(f"--{given[0]} applies to synthesized requests, not to "
                                f"--requests {args.requests}")
    if args.output:
        check_output_dir(args.output, FILES, force=args.force)
    for flag in ("json", "dump_trace"):
        value = getattr(args, flag)
        if value and value != "-":
            check_output_file(value, force=args.force)


def run(args: argparse.Namespace) -> int:
    from ..io import exit_on_sigterm

    _check(args)
    with exit_on_sigterm():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from ..arch.config import load_arch
    from ..serving import Pool, SchedulerConfig, Settings, serve
    from ..serving.output import dump_trace, save, summary_json
    from ..workload.models import load_model
    from ..workload.requests import load_requests, synthesize_requests

    cfg = load_model(args.model)
    if args.requests:
        guards.check_trace_file("serve", args.requests, args=args)
        trace = load_requests(args.requests)
    else:
        expected = args.rate * args.duration
        guards.check("serve", expected * 300 * guards.UNITS_PER_REQUEST, args=args,
                     what=f"~{expected:,.0f} requests x ~300 token steps",
                     knob="lower --rate or --duration", memory_bytes=expected * 600)
        trace = synthesize_requests(args.dataset, rate=args.rate, duration_s=args.duration,
                                    arrival=ARRIVALS[args.arrivals], cv=args.cv, seed=args.seed,
                                    max_total_tokens=cfg.max_ctx)
    if args.prefill_arch:
        pools = [Pool(load_arch(args.prefill_arch, overrides=args.overrides),
                      args.prefill_replicas, args.prefill_tp or args.tp, "prefill",
                      args.kv_link_gbps),
                 Pool(load_arch(args.decode_arch or args.arch, overrides=args.overrides),
                      args.decode_replicas, args.decode_tp or args.tp, "decode")]
    else:
        pools = [Pool(load_arch(args.arch, overrides=args.overrides), args.replicas, args.tp,
                      "serve")]
    settings = Settings(
        scheduler=SchedulerConfig(args.max_num_seqs, args.max_num_batched_tokens,
                                  not args.no_chunked_prefill, args.prefix_caching),
        block_size=args.block_size, memory_utilization=args.gpu_memory_utilization,
        router=args.router, fidelity=args.fidelity, iteration_ms=args.iteration_ms,
        progress=False if args.no_progress else None, record_iterations=bool(args.dump_trace))
    started = time.perf_counter()
    result = serve(trace, cfg, pools=pools, settings=settings, slo=args.slo or None,
                   backend=args.backend)
    wall_s = time.perf_counter() - started
    written = save(result, args.output, plots=not args.no_plots) if args.output else []
    if args.dump_trace:
        for path, rows in dump_trace(result, cfg, args.dump_trace,
                                     tp={p.name: p.tp for p in pools}):
            written.append(path)
            print(f"wrote {rows:,} operator rows to {path}", file=sys.stderr)
    if args.json:
        if args.json == "-":
            sys.stdout.write(summary_json(result.summary))
            return 0
        from ..io import atomic_write_text

        written.append(atomic_write_text(args.json, summary_json(result.summary)))
    print(format_summary(result.summary, wall_s))
    for path in written:
        print(f"wrote {path}")
    return 0


def format_summary(s: dict, wall_s: float | None = None) -> str:
    def pct(d: dict) -> str:
        if d.get("p50") is None:
            return "-"
        return f"p50 {d['p50']:,.1f}  p90 {d['p90']:,.1f}  p99 {d['p99']:,.1f}"

    pools = "; ".join(f"{p['name']}: {p['replicas']} x {p['arch']} (tp {p['tp']}, "
                      f"{p['kv_tokens']:,} KV tokens, {p['iterations']:,} iterations)"
                      for p in s["pools"])
    lines = [f"serve | {s['config']['model']} | {pools}",
             f"requests: {s['requests']:,} ({s['requests_finished']:,} finished, "
             f"{s['requests_rejected']:,} rejected, {s['requests_unfinished']:,} unfinished), "
             f"{s['preemptions']:,} preemptions, makespan {s['makespan_s']:,.1f} s",
             f"TTFT  ms  {pct(s['ttft_ms'])}",
             f"TPOT  ms  {pct(s['tpot_ms'])}",
             f"e2e   ms  {pct(s['e2e_ms'])}",
             f"queue ms  {pct(s['queue_ms'])}",
             f"throughput: {s['throughput_tokens_per_s']:,.1f} output tokens/s, "
             f"{s['throughput_requests_per_s']:,.2f} req/s"]
    if s["slo"]:
        slo = ", ".join(f"{k}<={v:g}" for k, v in s["slo"].items())
        lines.append(f"goodput ({slo}): {s['goodput_requests_per_s']:,.2f} req/s "
                     f"({100 * s['slo_attainment']:.1f} % of requests)")
    if s.get("energy_per_token_j"):
        lines.append(f"energy: {s['energy_per_token_j'] * 1e3:,.2f} mJ/token, average "
                     f"{s['avg_power_w']:,.0f} W")
    if wall_s is not None:
        lines.append(f"simulated in {wall_s:.1f} s wall")
    return "\n".join(lines)
