"""``accelsim trace``: generate, serve (continuous batching) and capture operator traces."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from .. import guards
from ..errors import AccelsimError
from ..io import read_input_bytes


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("trace", help="generate operator traces",
                              description="Generate operator traces of LLM steps, serving runs "
                                          "and captured Hugging Face models.")
    sub = p.add_subparsers(dest="trace_command", metavar="SUBCOMMAND")

    g = sub.add_parser("gen", help="one prefill or decode step of a model from traces/models/",
                       description="Write the operator trace (CSV + .meta.json) of one step.")
    _model_options(g)
    g.add_argument("--phase", choices=("prefill", "decode"), default="decode")
    g.add_argument("--batch", type=int, default=1)
    g.add_argument("--context", type=int, default=None,
                   help="decode only: KV-cache length per sequence (default 2048)")
    g.add_argument("--seq-len", type=int, default=None,
                   help="prefill only: prompt tokens per sequence (default 512)")
    g.add_argument("--seed", type=int, default=0, help="seeds a skewed --moe-load")
    g.add_argument("-o", "--output", required=True, help="output CSV path")
    g.add_argument("--force", action="store_true", help="overwrite an existing file")
    guards.add_flags(g)
    g.set_defaults(run=run_gen)

    s = sub.add_parser("serve", help="export the operator trace of a serving run "
                                     "(metrics: accelsim serve)",
                       description="Synthesize (or import) a request trace, schedule it with "
                                   "vLLM-style continuous batching and write DIR/requests.csv, "
                                   "DIR/ops.csv (one iter per iteration) and DIR/iterations.csv, "
                                   "each CSV with a .meta.json sidecar.")
    _model_options(s)
    src = s.add_mutually_exclusive_group()
    src.add_argument("--dataset", default="sharegpt",
                     help="length preset of traces/datasets/request_datasets.yaml "
                          "(sharegpt, alpaca, lmsys, azure-conv, azure-code, arxiv)")
    src.add_argument("--requests", metavar="CSV",
                     help="replay this request trace instead (ours, Azure, NeuPIMs or Vidur CSV)")
    s.add_argument("--rate", type=float, default=5.0, help="mean arrivals per second")
    s.add_argument("--duration", type=float, default=10.0, help="seconds of arrivals")
    s.add_argument("--arrival", choices=("poisson", "gamma", "onoff"), default="poisson")
    s.add_argument("--cv", type=float, default=2.0, help="gamma: inter-arrival coeff. of variation")
    s.add_argument("--on-s", type=float, default=1.0, help="onoff: mean ON period (s)")
    s.add_argument("--off-s", type=float, default=1.0, help="onoff: mean OFF period (s)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--max-batch", type=int, default=256, help="running requests (max_num_seqs)")
    s.add_argument("--max-tokens", type=int, default=2048,
                   help="tokens per iteration (max_num_batched_tokens)")
    s.add_argument("--chunked-prefill", action="store_true",
                   help="mix prompt chunks with decodes (vLLM v1 / Sarathi)")
    s.add_argument("--max-iters", type=int, default=200,
                   help="emit operators for N iterations (default %(default)s; the schedule and "
                        "iterations.csv still cover the whole run); serving metrics on "
                        "simulated hardware come from 'accelsim serve'")
    s.add_argument("--skip-iters", type=int, default=0, help="emit operators from iteration K on")
    s.add_argument("--peak-tflops", type=float, default=312.0,
                   help="roofline clock that decides arrivals per iteration (default A100-class)")
    s.add_argument("--mem-gbps", type=float, default=2039.0)
    s.add_argument("-o", "--output", required=True, help="output directory")
    s.add_argument("--force", action="store_true", help="overwrite existing files")
    guards.add_flags(s)
    s.set_defaults(run=run_serve)

    c = sub.add_parser("capture", help="record a Hugging Face model's ops (meta device, no weights)",
                       description="Instantiate a transformers model from a local config.json on "
                                   "the meta device, record the aten ops of one step and fold them "
                                   "into accelsim operators. Needs the capture extra.")
    c.add_argument("--hf-config", required=True, help="path to a HF config.json (with model_type)")
    c.add_argument("--phase", choices=("prefill", "decode"), default="decode")
    c.add_argument("--batch", type=int, default=1)
    c.add_argument("--context", type=int, default=None,
                   help="decode only: KV length incl. the new token (default 64)")
    c.add_argument("--seq-len", type=int, default=None,
                   help="prefill only: prompt tokens per sequence (default 32)")
    c.add_argument("--attn", choices=("sdpa", "eager"), default="sdpa",
                   help="transformers attention implementation")
    c.add_argument("--dtype", choices=("bf16", "fp16", "fp32"), default="bf16")
    c.add_argument("-o", "--output", required=True, help="output CSV path")
    c.add_argument("--force", action="store_true", help="overwrite an existing file")
    c.set_defaults(run=run_capture)
    p.set_defaults(run=lambda args: (p.print_help(), 2)[1])
    return p


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="llama2-7b", help="zoo name or model YAML (default %(default)s)")
    p.add_argument("--tp", type=int, default=1, help="tensor-parallel degree (one device's share)")
    p.add_argument("--attention", choices=("fused", "unfused"), default="fused",
                   help="attention rows: one fused attn row (default) or attn_score/attn_softmax/attn_context")
    p.add_argument("--layers", type=int, default=None, help="only the first N decoder layers")
    p.add_argument("--moe-load", default="uniform",
                   help="MoE routing: uniform (balanced), sampled, zipf or zipf:S (skewed); "
                        "sampled and zipf are seeded by --seed")


#: What ``trace serve -o DIR`` writes into ``DIR`` (``--force`` replaces these, nothing else).
SERVE_FILES = ("requests.csv", "requests.meta.json", "ops.csv", "ops.meta.json",
               "iterations.csv")


def _csv_out(path: str, force: bool) -> Path:
    """``-o`` of ``trace gen`` / ``capture``: a CSV file path (``.csv`` is added when missing).
    An existing directory, or a path that ends in a separator, is an error, so that the CSV and
    its ``.meta.json`` never land beside the path given. Checked before the trace is built."""
    from ..io import check_path_names, check_output_file
    from ..workload.trace import sidecar_path

    if path:
        check_path_names(Path(path))
    if not path or path.endswith(("/", os.sep)) or Path(path).is_dir():
        raise AccelsimError(f"{path or repr(path)}: is a directory; -o expects a CSV file path "
                            f"(e.g. {Path(path or '.') / 'trace.csv'})")
    out = Path(path)
    if out.suffix != ".csv":
        out = out.with_name(out.name + ".csv")
    check_output_file(out, force=force)
    check_output_file(sidecar_path(out), force=force)
    return out


def _save_trace(trace, out: Path) -> Path:
    """Write the CSV and its ``.meta.json`` together: staged, then renamed in back to back."""
    from ..io import staged_files

    with staged_files(out.parent) as stage:
        trace.save(stage / out.name)
    return out


def _summary_line(trace) -> str:
    return (f"{trace.total('flops') / 1e9:,.2f} GFLOP, {trace.total('bytes_weight') / 1e9:,.3f} GB "
            f"weights, {trace.total('bytes_kv_read') / 1e9:,.3f} GB KV reads")


def run_gen(args: argparse.Namespace) -> int:
    from ..io import exit_on_sigterm
    from ..workload.generate import generate_trace
    from ._step import resolve_phase_flags

    resolve_phase_flags(args, context=2048, seq_len=512)
    guards.check_seed(args.seed)
    out = _csv_out(args.output, args.force)
    guards.check_step("trace gen", batch=args.batch, args=args)
    trace = generate_trace(args.model, args.phase, batch=args.batch, context=args.context,
                           seq_len=args.seq_len, tp=args.tp, layers=args.layers,
                           attention=args.attention,
                           moe_load=args.moe_load, seed=args.seed)
    with exit_on_sigterm():
        path = _save_trace(trace, out)
    print(f"wrote {len(trace)} operators to {path} (+ {path.name.removesuffix('.csv')}.meta.json): "
          f"{_summary_line(trace)}")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    from ..workload.models import load_model
    from ..workload.requests import load_requests, synthesize_requests
    from ..workload.serving import BatchingConfig, RooflineClock, serving_trace

    from ..io import check_output_dir, exit_on_sigterm, staged_dir

    for name in ("peak_tflops", "mem_gbps"):
        value = getattr(args, name)
        if not (math.isfinite(value) and value > 0):
            raise AccelsimError(f"--{name.replace('_', '-')}: expected a positive finite number, "
                                f"got {value:g}")
    for name in ("rate", "duration"):
        value = getattr(args, name)
        if not (math.isfinite(value) and value > 0):
            raise AccelsimError(f"--{name.replace('_', '-')}: expected a positive finite number, "
                                f"got {value:g}")
    guards.check_seed(args.seed)
    out = check_output_dir(args.output, SERVE_FILES, force=args.force)
    cfg = load_model(args.model)
    layers = args.layers or cfg.layers
    if args.requests:
        guards.check_trace_file("trace serve", args.requests, args=args)
        requests = load_requests(args.requests)
    else:
        expected = args.rate * args.duration
        guards.check("trace serve", expected * layers * guards.UNITS_PER_TRACE_ROW,
                     what=f"~{expected:.3g} requests (--rate x --duration), each at least one "
                          f"iteration of {layers} layers",
                     knob="reduce --duration or --rate", args=args,
                     memory_bytes=expected * guards.BYTES_PER_REQUEST)
        requests = synthesize_requests(args.dataset, rate=args.rate, duration_s=args.duration,
                                       arrival=args.arrival, cv=args.cv, on_s=args.on_s,
                                       off_s=args.off_s, seed=args.seed,
                                       max_total_tokens=cfg.max_ctx)
    for name in ("max_iters", "skip_iters"):
        value = getattr(args, name)
        if value is not None and value < (1 if name == "max_iters" else 0):
            raise AccelsimError(f"--{name.replace('_', '-')}: expected a "
                                f"{'positive' if name == 'max_iters' else 'non-negative'} "
                                f"integer, got {value}")
    stop = None if args.max_iters is None else args.skip_iters + args.max_iters
    _check_serving_work(args, requests, layers)
    # every file goes into OUT.tmp-<pid>, which then replaces OUT whole: a kill never leaves
    # files of two runs in OUT
    with exit_on_sigterm(), staged_dir(out) as stage:
        result = serving_trace(cfg, requests,
                               batching=BatchingConfig(args.max_batch, args.max_tokens,
                                                       args.chunked_prefill),
                               clock=RooflineClock(args.peak_tflops, args.mem_gbps), tp=args.tp,
                               layers=args.layers, iters=(args.skip_iters, stop),
                               moe_load=args.moe_load, seed=args.seed,
                               stream_ops_to=stage / "ops.csv")   # flat memory for long runs
        staged = result.save(stage)
    paths = {k: str(out / Path(v).name) for k, v in staged.items()}
    s, r = result.summary, requests.summary()
    phases = ", ".join(f"{v} {k}" for k, v in sorted(s["iterations_by_phase"].items()))
    print(f"requests: {r['requests']} over {r['span_s']:.1f} s ({r['rate_rps']:.2f} req/s), "
          f"mean {r['input_mean']:.0f} prompt / {r['output_mean']:.0f} output tokens "
          f"-> {paths['requests']}")
    print(f"schedule: {s['iterations']} iterations ({phases}), mean batch {s['mean_batch']:.1f}, "
          f"mean {s['mean_tokens']:.1f} tokens/iteration; estimated end {s['est_end_s']:.1f} s, "
          f"TTFT {s['est_ttft_ms_mean']:.1f} ms, end-to-end {s['est_e2e_s_mean']:.2f} s "
          f"(roofline estimate) -> {paths['iterations']}")
    t = result.ops_totals
    print(f"operators: {t['rows']:,} rows for iterations {args.skip_iters}.."
          f"{args.skip_iters + s['emitted_iterations'] - 1} -> {paths['ops']}: "
          f"{t['flops'] / 1e9:,.2f} GFLOP, {t['bytes_weight'] / 1e9:,.3f} GB weights, "
          f"{t['bytes_kv_read'] / 1e9:,.3f} GB KV reads")
    return 0


def _check_serving_work(args: argparse.Namespace, requests, layers: int) -> None:
    """Serving work: every request takes one step per output token and per prompt chunk; an
    iteration of batch B emits about ``layers x (13 + B)`` operator rows."""
    import numpy as np

    r = requests.requests
    steps = (r["output_tokens"].to_numpy(dtype=float)
             + np.ceil(r["input_tokens"].to_numpy(dtype=float) / max(1, args.max_tokens)))
    total = float(steps.sum())
    iters = max(float(steps.max()) if len(steps) else 0.0, total / max(1, args.max_batch))
    emitted = 1.0
    if args.max_iters is not None:
        emitted = min(1.0, args.max_iters / max(iters, 1.0))
    rows = layers * (total + 13 * iters) * emitted
    guards.check("trace serve", rows * guards.UNITS_PER_TRACE_ROW + total,
                 what=f"{len(steps):,} requests, {total:.3g} token steps, ~{iters:.3g} "
                      f"iterations, ~{rows:.3g} operator rows",
                 knob="reduce --duration or --rate, the requests' tokens, or pass --max-iters",
                 args=args, memory_bytes=iters * 200)


def _check_hf_config(path: str) -> None:
    """``--hf-config`` is a readable JSON object with ``model_type``; checked before torch and
    transformers are imported (seconds), so a typo fails at once."""
    import json

    where = f"--hf-config {path[:60]!r}"
    if not path:
        raise AccelsimError("--hf-config: empty path (expected a Hugging Face config.json)")
    data = read_input_bytes(path, what="a Hugging Face config.json", max_bytes=16 << 20,
                            label=where)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise AccelsimError(f"{where}: not UTF-8 text (expected a JSON config.json)") from None
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise AccelsimError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise AccelsimError(f"{where}: expected a JSON object, got {type(raw).__name__}")
    if not isinstance(raw.get("model_type"), str) or not raw["model_type"]:
        raise AccelsimError(f"{where}: has no \"model_type\" string (a Hugging Face config.json "
                            "names its architecture there)")


def run_capture(args: argparse.Namespace) -> int:
    from ..io import exit_on_sigterm
    from ._step import resolve_phase_flags

    resolve_phase_flags(args, context=64, seq_len=32)
    _check_hf_config(args.hf_config)
    out = _csv_out(args.output, args.force)
    from ..workload.capture import capture_trace

    trace = capture_trace(args.hf_config, args.phase, batch=args.batch, seq_len=args.seq_len,
                          context=args.context, attn_implementation=args.attn, dtype=args.dtype)
    with exit_on_sigterm():
        path = _save_trace(trace, out)
    cap = trace.meta["capture"]
    print(f"captured {cap['aten_ops']} aten ops -> {len(trace)} operators "
          f"({sum(cap['dropped_aten_ops'].values())} dropped as views/copies/artifacts) in {path}: "
          f"{_summary_line(trace)}")
    return 0
