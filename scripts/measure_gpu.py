#!/usr/bin/env python3
"""Measure LLM operator latencies (and a few one-effect microbenchmarks) on a real GPU.

Needs only PyTorch (with CUDA) and the standard library: it does not import accelsim, so it can be
copied to a bare GPU box and run there.

Method (the same as ``shared/reference/silicon/README.md``, the H100 reference CSV):

* every row is the median and the minimum of 30 timed calls after 5 warm-up calls;
* one timed call = ``start.record(); fn(); end.record(); end.synchronize()`` with CUDA events
  around ONE eager PyTorch call, the GPU idle before it, so the time includes that call's host-side
  launch (Python + dispatcher + driver) as well as the kernel(s);
* bf16 tensors, TF32 off (``torch.backends.cuda.matmul.allow_tf32 = False``, same for cuDNN);
* the caches are not flushed between calls (operands that fit in L2 may hit it).

Output CSV columns: ``kind,name,dims,flops,bytes,median_us,min_us,tflops,gbps``.
``flops`` counts 2 per multiply-accumulate, ``bytes`` is the minimum traffic (each operand read or
written once), ``tflops``/``gbps`` are those over the median time.  Per kind:

``gemm`` (dims ``M;K;N``)
    ``torch.matmul(A[M,K], W[K,N])``; flops = 2MKN, bytes = 2(MK + KN + MN).
``attn_decode`` (dims ``B;H;Hkv;L;D``)
    one query token against a KV cache of L tokens; flops = 4·B·H·L·D (QKᵀ and P·V),
    bytes = 2(2·B·H·D + 2·B·Hkv·L·D) (q, k, v, out).
    ``sdpa``: ``F.scaled_dot_product_attention(q[B,H,1,D], k[B,Hkv,L,D], v[B,Hkv,L,D])``
    (``enable_gqa=True`` when H != Hkv), the fused kernel PyTorch picks.
    ``unfused``: exactly three calls, three kernels:
    (1) ``s = torch.matmul(q, k.transpose(-2, -1))`` (bf16 out; q is pre-scaled by 1/sqrt(D)
    outside the timed region; with GQA q is viewed as [B,Hkv,H/Hkv,D] so no K/V copy is made),
    (2) ``p = torch.softmax(s, dim=-1)`` (bf16 in/out, the arithmetic runs in fp32 inside PyTorch's
    softmax kernel), (3) ``o = torch.matmul(p, v)``.
``attn_prefill`` (dims ``B;H;L;D``)
    ``F.scaled_dot_product_attention(q, k, v, is_causal=True)``, all [B,H,L,D];
    flops = 2·B·H·L²·D (half of the dense 4·B·H·L²·D, for the causal mask), bytes = 8·B·H·L·D.
``vector`` (dims ``M;N``)
    ``F.rms_norm(x, (N,))`` (no weight), ``F.silu(x)``, ``torch.softmax(x, dim=-1)`` on x[M,N];
    flops = 4MN (rmsnorm, silu), 5MN (softmax); bytes = 4MN (read x, write y, bf16).
``layer`` (dims ``B;T;ctx``; flops and bytes written as 0)
    one Llama-2-7B decoder layer (hidden 4096, 32 heads, head_dim 128, ffn 11008, no rotary
    embedding) as one Python function of eager calls, timed as one call:

    1. ``h = F.rms_norm(x, (4096,), w_ln1, eps=1e-5)``
    2. ``qkv = torch.matmul(h, w_qkv)``                      (w_qkv: [4096, 12288])
    3. ``q, k, v`` = views of qkv as [B, 32, T, 128] (no copy)
    4. decode only (ctx > 0): ``k = torch.cat([k_cache, k], 2)``, ``v = torch.cat([v_cache, v], 2)``
       (a full copy of the cache of ctx tokens, as the reference does)
    5. ``a = F.scaled_dot_product_attention(q, k, v, is_causal=(T > 1))``
    6. ``a = a.transpose(1, 2).reshape(B, T, 4096)``         (a copy kernel)
    7. ``o = torch.matmul(a, w_o)``                          (w_o: [4096, 4096])
    8. ``x = x + o``
    9. ``h = F.rms_norm(x, (4096,), w_ln2, eps=1e-5)``
    10. ``gu = torch.matmul(h, w_gu)``                       (w_gu: [4096, 22016])
    11. ``g, u = gu.split(11008, -1)``; ``m = F.silu(g) * u`` (two kernels)
    12. ``d = torch.matmul(m, w_down)``                      (w_down: [11008, 4096])
    13. ``x = x + d``

``--micro FILE.json`` adds one-effect microbenchmarks, each with its method next to its number:
launch cost, back-to-back launch gap, HBM copy/read/write bandwidth, L2 read bandwidth, SM clock
and power under a long GEMM load (sampled with nvidia-smi) and at idle, GEMM TFLOP/s over that
load, SM count and L2 size.

Usage::

    python scripts/measure_gpu.py -o OUT.csv [--kinds gemm,attn_decode,...] [--quick]
        [--shapes-from CSV] [--micro MICRO.json] [--dry-run]

``--dry-run`` needs no GPU: it writes the rows with flops/bytes and zero times (to check the shape
list and the counting against a reference CSV).
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import json
import platform
import statistics
import subprocess
import sys
import threading
import time

KINDS = ("gemm", "attn_decode", "attn_prefill", "vector", "layer")
COLUMNS = ["kind", "name", "dims", "flops", "bytes", "median_us", "min_us", "tflops", "gbps"]
WARMUP = 5
DEVICE = "cuda"  # builders only; a CPU smoke test may set it to "cpu"
ITERS = 30


# ----------------------------------------------------------------------------------------------
# Shape list (identical, row for row, to shared/reference/silicon/h100_kernels.csv)
# ----------------------------------------------------------------------------------------------

_GEMM_MODELS = [
    # name, hidden, ffn, qkv width
    ("llama2-7b", 4096, 11008, 3 * 4096),
    ("llama2-13b", 5120, 13824, 3 * 5120),
    ("llama3-70b", 8192, 28672, 8192 + 2 * 1024),
]
_GEMM_M = [1, 8, 32, 128, 512, 2048, 8192]


def default_shapes() -> list[tuple[str, str, str]]:
    """(kind, name, dims) in the reference CSV's order."""
    rows: list[tuple[str, str, str]] = []
    for model, hid, ffn, qkv in _GEMM_MODELS:
        for proj, k, n in (("qkv", hid, qkv), ("o", hid, hid), ("gate_up", hid, 2 * ffn), ("down", ffn, hid)):
            for m in _GEMM_M:
                rows.append(("gemm", f"{model}.{proj}", f"M={m};K={k};N={n}"))
    for s in (256, 512, 1024, 2048, 4096, 8192, 16384):
        rows.append(("gemm", "square", f"M={s};K={s};N={s}"))
    for b in (1, 32, 64):
        for length in (512, 2048, 8192):
            for name in ("sdpa", "unfused"):
                rows.append(("attn_decode", name, f"B={b};H=32;Hkv=32;L={length};D=128"))
    for length in (512, 2048, 8192):
        rows.append(("attn_decode", "sdpa", f"B=32;H=64;Hkv=8;L={length};D=128"))
    for b, length in ((1, 512), (1, 2048), (1, 8192), (8, 2048)):
        rows.append(("attn_prefill", "sdpa_causal", f"B={b};H=32;L={length};D=128"))
    for m, n in ((1, 4096), (32, 4096), (512, 4096), (2048, 4096), (8192, 4096), (2048, 11008)):
        for name in ("rmsnorm", "silu", "softmax"):
            rows.append(("vector", name, f"M={m};N={n}"))
    for b, t, ctx in ((1, 1, 512), (1, 1, 2048), (32, 1, 512), (32, 1, 2048), (64, 1, 1024),
                      (1, 512, 0), (1, 2048, 0), (4, 512, 0)):
        rows.append(("layer", "llama2-7b.decoder_layer", f"B={b};T={t};ctx={ctx}"))
    return rows


def shapes_from_csv(path: str) -> list[tuple[str, str, str]]:
    with open(path, newline="") as f:
        return [(r["kind"], r["name"], r["dims"]) for r in csv.DictReader(f)]


def parse_dims(dims: str) -> dict[str, int]:
    out = {}
    for part in dims.split(";"):
        key, _, val = part.partition("=")
        out[key.strip()] = int(val)
    return out


def count(kind: str, name: str, d: dict[str, int]) -> tuple[int, int]:
    """(flops, bytes) with the reference CSV's definitions (bf16 = 2 bytes)."""
    if kind == "gemm":
        m, k, n = d["M"], d["K"], d["N"]
        return 2 * m * k * n, 2 * (m * k + k * n + m * n)
    if kind == "attn_decode":
        b, h, hkv, length, dd = d["B"], d["H"], d["Hkv"], d["L"], d["D"]
        return 4 * b * h * length * dd, 2 * (2 * b * h * dd + 2 * b * hkv * length * dd)
    if kind == "attn_prefill":
        b, h, length, dd = d["B"], d["H"], d["L"], d["D"]
        return 2 * b * h * length * length * dd, 8 * b * h * length * dd
    if kind == "vector":
        mn = d["M"] * d["N"]
        return (5 if name == "softmax" else 4) * mn, 4 * mn
    if kind == "layer":
        return 0, 0
    raise ValueError(f"unknown kind {kind!r}")


def quick_subset(rows):
    """A few rows per kind: first, middle and last of each kind's list."""
    out = []
    for kind in KINDS:
        ks = [r for r in rows if r[0] == kind]
        if not ks:
            continue
        idx = {0, len(ks) // 2, len(ks) - 1}
        for name in dict.fromkeys(r[1] for r in ks):  # and at least one row of each name
            idx.add(next(i for i, r in enumerate(ks) if r[1] == name))
        out += [ks[i] for i in sorted(idx)]
    return out


# ----------------------------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------------------------

def time_calls(fn, warmup: int = WARMUP, iters: int = ITERS) -> list[float]:
    """Microseconds of each of `iters` calls, CUDA events around one call, GPU idle before it."""
    import torch

    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(iters):
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1000.0)
    return times


# ----------------------------------------------------------------------------------------------
# Kernel builders: each returns a zero-argument callable doing ONE eager PyTorch call
# ----------------------------------------------------------------------------------------------

def _rand(*shape, scale=1.0):
    import torch

    return (torch.randn(*shape, device=DEVICE, dtype=torch.float32) * scale).to(torch.bfloat16)


def build(kind: str, name: str, d: dict[str, int]):
    import torch
    import torch.nn.functional as F

    bf = torch.bfloat16
    if kind == "gemm":
        a = _rand(d["M"], d["K"])
        w = _rand(d["K"], d["N"], scale=d["K"] ** -0.5)
        return lambda: torch.matmul(a, w)

    if kind == "attn_decode":
        b, h, hkv, length, dd = d["B"], d["H"], d["Hkv"], d["L"], d["D"]
        q = _rand(b, h, 1, dd)
        k = _rand(b, hkv, length, dd)
        v = _rand(b, hkv, length, dd)
        if name == "sdpa":
            if h != hkv:
                return lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
            return lambda: F.scaled_dot_product_attention(q, k, v)
        if name == "unfused":
            # q grouped per KV head: [B, Hkv, H/Hkv, D]; pre-scaled by 1/sqrt(D).
            qs = (q.float() * dd ** -0.5).to(bf).reshape(b, hkv, h // hkv, dd)
            kt = k.transpose(-2, -1)

            def unfused():
                s = torch.matmul(qs, kt)          # kernel 1: QK^T (bf16 out)
                p = torch.softmax(s, dim=-1)      # kernel 2: softmax (fp32 math inside)
                return torch.matmul(p, v)         # kernel 3: P.V
            return unfused
        raise ValueError(name)

    if kind == "attn_prefill":
        b, h, length, dd = d["B"], d["H"], d["L"], d["D"]
        q, k, v = (_rand(b, h, length, dd) for _ in range(3))
        return lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True)

    if kind == "vector":
        x = _rand(d["M"], d["N"])
        n = d["N"]
        if name == "rmsnorm":
            return lambda: F.rms_norm(x, (n,))
        if name == "silu":
            return lambda: F.silu(x)
        if name == "softmax":
            return lambda: torch.softmax(x, dim=-1)
        raise ValueError(name)

    if kind == "layer":
        return build_layer(d["B"], d["T"], d["ctx"])
    raise ValueError(kind)


def build_layer(b: int, t: int, ctx: int, hidden=4096, heads=32, hd=128, ffn=11008):
    import torch
    import torch.nn.functional as F

    x0 = _rand(b, t, hidden)
    w_ln1 = torch.ones(hidden, device=DEVICE, dtype=torch.bfloat16)
    w_ln2 = torch.ones(hidden, device=DEVICE, dtype=torch.bfloat16)
    w_qkv = _rand(hidden, 3 * hidden, scale=hidden ** -0.5)
    w_o = _rand(hidden, hidden, scale=hidden ** -0.5)
    w_gu = _rand(hidden, 2 * ffn, scale=hidden ** -0.5)
    w_down = _rand(ffn, hidden, scale=ffn ** -0.5)
    k_cache = _rand(b, heads, ctx, hd) if ctx else None
    v_cache = _rand(b, heads, ctx, hd) if ctx else None
    causal = t > 1

    def layer():
        x = x0
        h = F.rms_norm(x, (hidden,), w_ln1, eps=1e-5)
        qkv = torch.matmul(h, w_qkv).view(b, t, 3, heads, hd)
        q = qkv[:, :, 0].transpose(1, 2)
        k = qkv[:, :, 1].transpose(1, 2)
        v = qkv[:, :, 2].transpose(1, 2)
        if ctx:
            k = torch.cat([k_cache, k], dim=2)
            v = torch.cat([v_cache, v], dim=2)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        a = a.transpose(1, 2).reshape(b, t, hidden)
        x = x + torch.matmul(a, w_o)
        h = F.rms_norm(x, (hidden,), w_ln2, eps=1e-5)
        g, u = torch.matmul(h, w_gu).split(ffn, dim=-1)
        m = F.silu(g) * u
        return x + torch.matmul(m, w_down)
    return layer


# ----------------------------------------------------------------------------------------------
# Kernel rows
# ----------------------------------------------------------------------------------------------

def fmt_row(kind, name, dims, flops, nbytes, med, mn):
    tflops = round(flops / med / 1e6, 2) if (flops and med) else 0
    gbps = round(nbytes / med / 1e3, 1) if (nbytes and med) else 0.0
    return {"kind": kind, "name": name, "dims": dims, "flops": flops, "bytes": nbytes,
            "median_us": round(med, 3), "min_us": round(mn, 3), "tflops": tflops, "gbps": gbps}


def run_rows(rows, out_path: str, dry_run: bool) -> None:
    if not dry_run:
        import torch
    with open(out_path, "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=COLUMNS)
        wr.writeheader()
        t_all = time.time()
        for i, (kind, name, dims) in enumerate(rows):
            d = parse_dims(dims)
            flops, nbytes = count(kind, name, d)
            if dry_run:
                med = mn = 0.0
            else:
                t0 = time.time()
                try:
                    fn = build(kind, name, d)
                    times = time_calls(fn)
                    med, mn = statistics.median(times), min(times)
                except Exception as exc:  # keep going: one bad row must not lose the others
                    print(f"[{i + 1}/{len(rows)}] {kind} {name} {dims}: FAILED {type(exc).__name__}: {exc}",
                          flush=True)
                    fn = None
                    torch.cuda.empty_cache()
                    continue
                del fn
                torch.cuda.empty_cache()
            row = fmt_row(kind, name, dims, flops, nbytes, med, mn)
            wr.writerow(row)
            f.flush()
            if not dry_run:
                print(f"[{i + 1}/{len(rows)}] {kind:12s} {name:24s} {dims:32s} median {med:10.3f} us "
                      f"min {mn:10.3f} us  {row['tflops']:7} TF/s {row['gbps']:8} GB/s "
                      f"({time.time() - t0:.1f} s)", flush=True)
        if not dry_run:
            print(f"{len(rows)} rows in {time.time() - t_all:.1f} s -> {out_path}", flush=True)


# ----------------------------------------------------------------------------------------------
# Device description
# ----------------------------------------------------------------------------------------------

def nvidia_smi_query(fields: str) -> list[str] | None:
    try:
        out = subprocess.run(["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=30)
        line = out.stdout.strip().splitlines()[0]
        return [s.strip() for s in line.split(",")]
    except Exception:
        return None


def device_meta() -> dict:
    import torch

    p = torch.cuda.get_device_properties(0)
    smi = nvidia_smi_query("name,driver_version,clocks.max.sm,clocks.max.mem,memory.total,power.limit")
    meta = {
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "device_name": p.name,
        "sm_count": p.multi_processor_count,
        "compute_capability": f"{p.major}.{p.minor}",
        "total_memory_bytes": p.total_memory,
        "l2_bytes": getattr(p, "L2_cache_size", None),
        "torch_version": torch.__version__,
        "cuda_version": torch.version.cuda,
        "cudnn_version": torch.backends.cudnn.version(),
        "python": platform.python_version(),
        "host": platform.node(),
        "method": f"median and min of {ITERS} timed calls after {WARMUP} warm-ups; CUDA events around one "
                  "eager PyTorch call (GPU idle before it, so host launch is included); bf16; TF32 off; "
                  "caches not flushed",
    }
    if smi:
        keys = ["smi_name", "driver_version", "sm_clock_max_mhz", "mem_clock_max_mhz", "memory_total_mib",
                "power_limit_w"]
        meta.update(dict(zip(keys, smi)))
    return meta


# ----------------------------------------------------------------------------------------------
# Microbenchmarks
# ----------------------------------------------------------------------------------------------

def _stats(times):
    return {"median": round(statistics.median(times), 3), "min": round(min(times), 3)}


def _queued_region_us(fn, reps: int, sleep_cycles: int = 20_000_000) -> float:
    """GPU time of `reps` calls of fn issued back to back, queued behind a spin kernel so the
    host's issue rate does not show: the start event fires when the spin ends, by which time all
    `reps` launches are waiting in the stream."""
    import torch

    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    torch.cuda._sleep(sleep_cycles)
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) * 1000.0


def micro_launch(res: dict) -> None:
    import torch

    x = torch.zeros(1, device="cuda", dtype=torch.float32)
    fn = lambda: x.add_(0)  # noqa: E731
    t = time_calls(fn, warmup=20, iters=200)
    res["launch_us"] = {**_stats(t), "method": "x.add_(0) on a 1-element fp32 tensor: one eager call, one "
                        "trivial kernel; CUDA events around one call with the GPU idle before it (as the "
                        "kernel rows are timed); median/min of 200 calls after 20 warm-ups. This is the "
                        "fixed per-call cost the kernel rows include."}
    gaps = [_queued_region_us(fn, 100) / 100 for _ in range(10)]
    res["launch_gap_us"] = {**_stats(gaps), "method": "100 x.add_(0) kernels issued back to back behind a "
                            "torch.cuda._sleep spin kernel (so all are queued before the first starts); "
                            "CUDA events around the 100; time/100; median/min of 10 such regions. GPU-side "
                            "back-to-back kernel-to-kernel time of a trivial kernel."}
    torch.cuda.synchronize()
    host = []
    for _ in range(10):
        torch.cuda._sleep(50_000_000)  # keep the GPU busy so launches never block
        t0 = time.perf_counter()
        for _ in range(100):
            fn()
        host.append((time.perf_counter() - t0) * 1e6 / 100)
        torch.cuda.synchronize()
    res["launch_host_issue_us"] = {**_stats(host), "method": "host wall time (perf_counter) to issue 100 "
                                   "x.add_(0) calls while the GPU is busy with a spin kernel, /100: the "
                                   "host-side cost of one eager call (Python + dispatcher + launch)."}
    # CUDA graph of 100 trivial kernels: launch gap without the eager path
    try:
        g = torch.cuda.CUDAGraph()
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):
                fn()
        torch.cuda.current_stream().wait_stream(s)
        with torch.cuda.graph(g):
            for _ in range(100):
                fn()
        g.replay()
        torch.cuda.synchronize()
        gg = [_queued_region_us(g.replay, 1) / 100 for _ in range(10)]
        res["graph_kernel_gap_us"] = {**_stats(gg), "method": "one CUDA graph of 100 x.add_(0) kernels, "
                                      "replayed behind a spin kernel; time/100."}
    except Exception as exc:
        res["graph_kernel_gap_us"] = {"error": f"{type(exc).__name__}: {exc}"}


def micro_bandwidth(res: dict) -> None:
    import torch

    n = (2 << 30) // 2  # 2 GiB of bf16
    src = torch.randn(n // 4, device="cuda", dtype=torch.bfloat16).repeat(4)
    dst = torch.empty_like(src)
    nb = src.numel() * src.element_size()

    t = time_calls(lambda: dst.copy_(src))
    med = statistics.median(t)
    res["copy_gbps"] = {"value": round(2 * nb / med / 1e3, 1), "median_us": round(med, 3),
                        "best_gbps": round(2 * nb / min(t) / 1e3, 1),
                        "method": "dst.copy_(src), 2 GiB bf16 device to device; bytes read + written "
                                  "(4 GiB) / median of 30 calls (events around one call, 5 warm-ups)."}

    variants = {}
    for label, fn, nbytes in (
        ("sum_bf16_to_fp32", lambda: torch.sum(src, dtype=torch.float32), nb),
        ("amax_bf16", lambda: torch.amax(src), nb),
    ):
        t = time_calls(fn)
        variants[label] = {"gbps": round(nbytes / statistics.median(t) / 1e3, 1),
                           "median_us": round(statistics.median(t), 3)}
    del dst
    torch.cuda.empty_cache()
    f32 = torch.empty(n // 2, device="cuda", dtype=torch.float32).uniform_()  # 2 GiB fp32
    t = time_calls(lambda: torch.sum(f32))
    variants["sum_fp32"] = {"gbps": round(f32.numel() * 4 / statistics.median(t) / 1e3, 1),
                            "median_us": round(statistics.median(t), 3)}
    del f32
    torch.cuda.empty_cache()
    res["read_gbps"] = {"value": variants["sum_bf16_to_fp32"]["gbps"], "variants": variants,
                        "method": "torch.sum(x, dtype=torch.float32) over 2 GiB of bf16 (a one-pass "
                                  "reduction that streams the input once, 4-byte scalar out); bytes read "
                                  "/ median of 30 calls. Variants: torch.amax over the same bf16 tensor, "
                                  "torch.sum over 2 GiB of fp32."}
    t = time_calls(lambda: src.zero_())
    res["write_gbps"] = {"value": round(nb / statistics.median(t) / 1e3, 1),
                         "method": "x.zero_() over 2 GiB bf16; bytes written / median of 30 calls."}
    del src
    torch.cuda.empty_cache()


def micro_l2(res: dict, l2_bytes: int | None) -> None:
    import torch

    out = {}
    cols = 8192  # 16 KiB bf16 rows

    def rowsum_expanded(mib: int, r: int):
        """ONE kernel: row sums (fp32 accumulate) of a [mib MiB] bf16 buffer viewed [rows, 8192],
        expanded (stride 0, no copy) r times along a new outer dim, so the kernel reads the same
        buffer r times; output r*rows fp32 (negligible)."""
        x = torch.randn(mib * (1 << 20) // 2, device="cuda", dtype=torch.bfloat16)
        xe = x.view(-1, cols).unsqueeze(0).expand(r, -1, -1)
        t = time_calls(lambda: torch.sum(xe, dim=-1, dtype=torch.float32))
        med = statistics.median(t)
        return {"gbps": round(r * x.numel() * 2 / med / 1e3, 1), "median_us": round(med, 3),
                "best_gbps": round(r * x.numel() * 2 / min(t) / 1e3, 1), "reads_of_buffer": r}

    for mib, r in ((16, 64), (32, 32), (2048, 1)):
        out[f"rowsum_expand_{mib}MiB_x{r}_one_kernel"] = rowsum_expanded(mib, r)
    torch.cuda.empty_cache()

    reps = 200
    for mib in (16, 32):
        x = torch.randn(mib * (1 << 20) // 2, device="cuda", dtype=torch.bfloat16)
        xv = x.view(-1, cols)
        fn = lambda: torch.sum(xv, dim=-1, dtype=torch.float32)  # noqa: E731
        for _ in range(10):
            fn()
        ts = [_queued_region_us(fn, reps) for _ in range(5)]
        med = statistics.median(ts)
        out[f"rowsum_{mib}MiB_x{reps}_queued_kernels"] = {"gbps": round(reps * x.numel() * 2 / med / 1e3, 1),
                                                           "us_per_kernel": round(med / reps, 3)}
        fn = lambda: torch.sum(x, dtype=torch.float32)  # noqa: E731
        ts = [_queued_region_us(fn, reps) for _ in range(5)]
        med = statistics.median(ts)
        out[f"fullsum_{mib}MiB_x{reps}_queued_kernels"] = {"gbps": round(reps * x.numel() * 2 / med / 1e3, 1),
                                                            "us_per_kernel": round(med / reps, 3)}
        del x, xv
    src = torch.randn(8 * (1 << 20) // 2, device="cuda", dtype=torch.bfloat16)
    dst = torch.empty_like(src)
    fn = lambda: dst.copy_(src)  # noqa: E731
    for _ in range(10):
        fn()
    ts = [_queued_region_us(fn, reps) for _ in range(5)]
    med = statistics.median(ts)
    out["copy_8MiB_to_8MiB_x200_queued_kernels"] = {"gbps_read_plus_written": round(reps * 2 * src.numel() * 2 / med / 1e3, 1),
                                                    "us_per_kernel": round(med / reps, 3)}
    del src, dst
    torch.cuda.empty_cache()
    key = "rowsum_expand_16MiB_x64_one_kernel"
    res["l2_read_gbps"] = {
        "value": out[key]["gbps"], "variants": out, "l2_bytes": l2_bytes,
        "method": "ONE kernel, torch.sum(xe, dim=-1, dtype=torch.float32) where xe is a 16 MiB bf16 buffer "
                  "(fits L2) viewed [1024, 8192] and expanded (stride 0, no copy) 64 times along a new outer "
                  "dim: the kernel streams the same 16 MiB 64 times (1 GiB of reads) so launch is amortized; "
                  "bytes read / median of 30 calls (events around one call, 5 warm-ups). Same kernel over 2 GiB "
                  "x1 is given as the HBM control. Variants: 200 back-to-back row-sum, full-sum or 8 MiB copy "
                  "kernels queued behind a torch.cuda._sleep spin kernel in one event pair (these include the "
                  "GPU-side kernel-to-kernel gap and are lower bounds)."}


SMI_FIELDS = "timestamp,clocks.sm,clocks.max.sm,power.draw,power.limit"


def _smi_sampler(stop: threading.Event, samples: list) -> subprocess.Popen | None:
    """nvidia-smi -lms 100 in a subprocess; each line is kept with its own timestamp field."""
    cmd = ["nvidia-smi", f"--query-gpu={SMI_FIELDS}", "--format=csv,noheader,nounits", "-lms", "100"]
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
    except Exception:
        return None

    def reader():
        for line in proc.stdout:
            samples.append((time.time(), line.strip()))
    threading.Thread(target=reader, daemon=True).start()
    return proc


def _smi_poller(stop: threading.Event, samples: list) -> None:
    """Fallback in case the -lms stream is block-buffered and lost: one-shot queries in a loop."""
    def loop():
        while not stop.is_set():
            try:
                out = subprocess.run(["nvidia-smi", f"--query-gpu={SMI_FIELDS}", "--format=csv,noheader,nounits"],
                                     capture_output=True, text=True, timeout=10)
                for line in out.stdout.strip().splitlines()[:1]:
                    samples.append((time.time(), line.strip()))
            except Exception:
                return
            time.sleep(0.2)
    threading.Thread(target=loop, daemon=True).start()


def _num(s):
    try:
        return float(s)
    except ValueError:
        return None


def _smi_time(field: str, fallback: float) -> float:
    for fmt in ("%Y/%m/%d %H:%M:%S.%f", "%Y/%m/%d %H:%M:%S"):
        try:
            return _dt.datetime.strptime(field.strip(), fmt).timestamp()  # local time, as nvidia-smi prints
        except ValueError:
            pass
    return fallback


def micro_clock(res: dict, load_s: float = 6.0, idle_s: float = 2.5) -> None:
    import torch

    n = 8192
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    c = torch.empty(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        torch.matmul(a, b, out=c)
    torch.cuda.synchronize()
    samples: list = []
    polled: list = []
    stop = threading.Event()
    proc = _smi_sampler(stop, samples)
    _smi_poller(stop, polled)
    time.sleep(idle_s)  # GPU idle: sample idle clocks
    t_load0 = time.time()
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    start.record()
    iters = 0
    prev = None
    while time.time() - t_load0 < load_s:
        for _ in range(10):
            torch.matmul(a, b, out=c)
        iters += 10
        ev = torch.cuda.Event()
        ev.record()
        if prev is not None:  # keep at most ~2 batches queued so wall clock tracks the GPU's busy window
            prev.synchronize()
        prev = ev
    end.record()
    end.synchronize()
    t_load1 = time.time()
    gpu_us = start.elapsed_time(end) * 1000.0
    time.sleep(0.5)
    stop.set()
    if proc is not None:
        proc.send_signal(2)  # SIGINT, so nvidia-smi exits cleanly and flushes
        try:
            proc.wait(timeout=5)
        except Exception:
            proc.kill()
        time.sleep(0.2)
    tflops = iters * 2 * n ** 3 / gpu_us / 1e6

    def parse(src, window):
        clk, mx, pw, pl = [], [], [], []
        for arrival, line in src:
            parts = [p.strip() for p in line.split(",")]
            if len(parts) != 5:
                continue
            if not window(_smi_time(parts[0], arrival)):
                continue
            vals = [_num(p) for p in parts[1:]]
            for lst, v in zip((clk, mx, pw, pl), vals):
                if v is not None:
                    lst.append(v)
        return clk, mx, pw, pl

    # skip the first 0.5 s of load (ramp) and the first 0.5 s of idle
    in_load = lambda ts: t_load0 + 0.5 <= ts <= t_load1  # noqa: E731
    in_idle = lambda ts: t_load0 - idle_s + 0.5 <= ts < t_load0  # noqa: E731
    sampler = "nvidia-smi -lms 100"
    clk, mx, pw, pl = parse(samples, in_load)
    iclk, _, ipw, _ = parse(samples, in_idle)
    if len(clk) < 10:  # the -lms stream did not come through: use the one-shot poller
        sampler = "nvidia-smi one-shot queries every ~0.2 s (the -lms stream gave too few lines)"
        clk, mx, pw, pl = parse(polled, in_load)
        iclk, _, ipw, _ = parse(polled, in_idle)
    med = lambda v: round(statistics.median(v), 1) if v else None  # noqa: E731
    res["sm_clock_mhz_under_gemm"] = {
        "value": med(clk), "min": min(clk) if clk else None, "max": max(clk) if clk else None,
        "samples": len(clk), "sampler": sampler, "samples_mhz": clk,
        "method": f"back-to-back torch.matmul(A, B, out=C), 8192^3 bf16 on random normal data, for "
                  f"{load_s:.0f} s; nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.max.sm,power.draw,"
                  "power.limit --format=csv,noheader,nounits -lms 100 in a subprocess; median SM clock over the load window (first 0.5 s "
                  "dropped)."}
    res["sm_clock_max_mhz"] = {"value": med(mx), "method": "nvidia-smi clocks.max.sm"}
    res["power_w_under_gemm"] = {"value": med(pw), "max": max(pw) if pw else None,
                                 "method": "nvidia-smi power.draw, median over the same load window"}
    res["power_limit_w"] = {"value": med(pl), "method": "nvidia-smi power.limit"}
    res["sm_clock_mhz_idle"] = {"value": med(iclk), "power_w": med(ipw), "samples": len(iclk),
                                "method": f"same sampler, GPU idle for {idle_s} s before the load (first "
                                          "0.5 s dropped); median"}
    res["gemm_8192_tflops"] = {"value": round(tflops, 1), "matmuls": iters, "gpu_us": round(gpu_us, 1),
                               "method": "2*8192^3*matmuls / GPU time between CUDA events around the "
                                         "whole load window (back-to-back, launch fully hidden)"}
    del a, b, c
    torch.cuda.empty_cache()


def run_micro(path: str) -> None:
    import torch

    p = torch.cuda.get_device_properties(0)
    l2 = getattr(p, "L2_cache_size", None)
    res: dict = {"device": p.name, "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                 "torch_version": torch.__version__, "cuda_version": torch.version.cuda}
    res["sm_count"] = {"value": p.multi_processor_count,
                       "method": "torch.cuda.get_device_properties(0).multi_processor_count"}
    res["l2_bytes"] = {"value": l2, "method": "torch.cuda.get_device_properties(0).L2_cache_size"}
    for label, fn in (("launch", lambda: micro_launch(res)), ("bandwidth", lambda: micro_bandwidth(res)),
                      ("l2", lambda: micro_l2(res, l2)), ("clock", lambda: micro_clock(res))):
        t0 = time.time()
        try:
            fn()
        except Exception as exc:
            res[f"{label}_error"] = f"{type(exc).__name__}: {exc}"
        torch.cuda.empty_cache()
        print(f"micro {label}: {time.time() - t0:.1f} s", flush=True)
        with open(path, "w") as f:
            json.dump(res, f, indent=2)
    print(json.dumps(res, indent=2), flush=True)


# ----------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--out", required=True, help="output CSV")
    ap.add_argument("--kinds", default=",".join(KINDS), help="comma-separated subset of " + ",".join(KINDS))
    ap.add_argument("--quick", action="store_true", help="a few rows per kind")
    ap.add_argument("--shapes-from", metavar="CSV", help="take kind,name,dims rows from this CSV")
    ap.add_argument("--micro", metavar="JSON", help="also run the microbenchmarks, write them here")
    ap.add_argument("--dry-run", action="store_true", help="no GPU: write flops/bytes with zero times")
    args = ap.parse_args(argv)

    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        ap.error(f"unknown kinds {bad}; choose from {KINDS}")
    rows = shapes_from_csv(args.shapes_from) if args.shapes_from else default_shapes()
    rows = [r for r in rows if r[0] in kinds]
    if args.quick:
        rows = quick_subset(rows)

    if args.dry_run:
        run_rows(rows, args.out, dry_run=True)
        print(f"dry run: {len(rows)} rows -> {args.out}")
        return 0

    import torch

    if not torch.cuda.is_available():
        print("error: no CUDA device (use --dry-run to check shapes without a GPU)", file=sys.stderr)
        return 2
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    meta = device_meta()
    meta["rows"] = len(rows)
    meta["argv"] = sys.argv[1:]
    base = args.out[:-4] if args.out.endswith(".csv") else args.out
    with open(base + ".meta.json", "w") as f:
        json.dump(meta, f, indent=2)
    print(json.dumps(meta, indent=2), flush=True)

    if rows:
        run_rows(rows, args.out, dry_run=False)
    if args.micro:
        run_micro(args.micro)
    return 0


if __name__ == "__main__":
    sys.exit(main())
