"""The HBM scheduler's results stay bit-identical across speed work: per-request arrive / done /
outcome ticks and the final device state of randomized request streams, against digests taken
with the kernel of commit 9446563 (before the issue-16 speed work; only ``write_low_watermark: 0``,
which never finished there, counts its low mark as one entry -- ``hbm.HbmSpec.kernel_params``).
A change that moves any tick of any request, any row-buffer outcome or any final clock fails
(but the clocks the kernel does not keep, ``dram_kernel.unkept_commands``: the state digests were
taken again, with the kernel of commit cc5390d, when it stopped keeping them, and again when
the read/write turnaround count (``S_TURNS`` in ``chst``) began to count every switch of direction,
also those the row bus's look makes; the per-request digests are still those of 9446563).

The cases vary everything the kernel branches on: preset (HBM2 / 2E / 3), channels, mapping,
page policy, queue depths and write watermarks, frontend width, traffic (stream, uniform,
hot rows, read/write mixes), staggered inject ticks, pointer chasing, and several batches on one
device state with idle gaps long enough for missed refreshes.

Regenerate (only when the model's *semantics* change on purpose, saying so in the commit):

    PYTHONPATH=$PWD python tests/hw/test_hbm_golden.py --write
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from accelsim.hw import dram_kernel as K
from accelsim.hw.hbm import run_batch, spec_from_dict

GOLDEN = Path(__file__).with_name("data") / "hbm_kernel_golden.json"
N_CASES = 72


def _case(k: int) -> dict:
    """Case ``k``: a memory section, a traffic kind and batch layout, drawn from seed ``k``."""
    rng = np.random.default_rng(1000 + k)
    pick = lambda xs: xs[int(rng.integers(0, len(xs)))]  # noqa: E731
    mem = {"preset": pick(["hbm2_2000", "hbm2e_3200", "hbm3_6400"]),
           "channels": pick([1, 2, 4, 8]),
           "mapping": pick(["MOP4CLXOR", "RoBaRaCoCh"]),
           "page_policy": pick(["open", "open", "closed"]),
           "read_queue": pick([4, 8, 32]),
           "write_queue": pick([4, 8, 32]),
           "frontend_per_tick": pick([1, 4, 16, "auto"]),
           # recorded with all-bank refresh, the only kind then; per-bank refresh has its own
           # tests (test_hbm_per_bank_refresh.py)
           "refresh": "all_bank"}
    if rng.random() < 0.3:
        lo = float(rng.choice([0.0, 0.2, 0.5]))
        mem.update(write_low_watermark=lo, write_high_watermark=float(rng.choice([lo, 0.8, 1.0])))
    return {"memory": mem,
            "traffic": pick(["stream", "uniform", "hot", "rows", "stream_rw"]),
            "write_frac": pick([0.0, 0.0, 0.3, 0.5, 1.0]),
            "n": int(rng.integers(300, 2500)),
            "batches": pick([1, 1, 2, 3]),
            "inject": pick(["now", "now", "spread"]),
            "chase": bool(k % 17 == 5),
            "seed": 5000 + k}


def _traffic(spec, case, rng) -> tuple[np.ndarray, np.ndarray]:
    n = case["n"]
    lines_total = spec.capacity_bytes() // spec.tx_bytes
    kind = case["traffic"]
    if kind in ("stream", "stream_rw"):
        lines = int(rng.integers(0, 1 << 20)) + np.arange(n, dtype=np.int64)
    elif kind == "uniform":
        lines = rng.integers(0, min(lines_total, 1 << 25), n, dtype=np.int64)
    elif kind == "hot":      # a few lines: many hits, conflicts on the same banks
        lines = rng.choice(rng.integers(0, 1 << 22, 24, dtype=np.int64), n)
    else:                    # "rows": runs of consecutive lines from random places
        starts = rng.integers(0, 1 << 24, n // 16 + 1, dtype=np.int64)
        lines = (starts[:, None] + np.arange(16)[None, :]).ravel()[:n]
    write = rng.random(n) < case["write_frac"]
    if kind == "stream_rw":
        write = (np.arange(n) // 64) % 2 == 1
    return lines % lines_total, write


def _digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:24]


def run_case(k: int) -> dict:
    """Replay case ``k``; digests of every batch's outputs and of the final device state."""
    case = _case(k)
    spec = spec_from_dict(dict(case["memory"]))
    rng = np.random.default_rng(case["seed"])
    lines, write = _traffic(spec, case, rng)
    state = spec.new_state()
    out = []
    start = 0
    for part in np.array_split(np.arange(len(lines)), case["batches"]):
        inject = None
        if case["inject"] == "spread":
            inject = start + np.cumsum(rng.integers(0, 3, len(part))).astype(np.int64)
        res = run_batch(spec, state, lines[part], write[part], start_tick=start,
                        inject_tick=inject, chase=case["chase"])
        out.append(_digest(res.arrive, res.done, res.outcome) + f":{res.last_tick}")
        # idle gaps: short, or several refresh intervals (refreshes fall due while idle)
        start = res.last_tick + int(rng.choice([0, 7, 3 * spec.cycles["tREFI"] + 11]))
    ready = K.kept_clocks(state["ready"], spec.page_policy == "closed", spec.refresh == "per_bank")
    final = _digest(ready, *(state[k] for k in ("hist", "open_row", "next_ref", "write_mode",
                                                 "pq", "pq_n", "chst", "clock")))
    return {"batches": out, "state": final}


@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads(GOLDEN.read_text())


@pytest.mark.parametrize("k", range(N_CASES))
def test_scheduler_matches_the_scan_based_kernel(k, golden, monkeypatch):
    """Every build of the batch this library and CPU can run (``dram_kernel.batch_variants``:
    the AVX2 build of dram_kernel_avx2.c where the CPU has it, and the portable one) replays
    the case to the same digests."""
    for name, batch in K.batch_variants().items():
        monkeypatch.setattr(K, "_batch", batch)
        assert run_case(k) == golden[str(k)], (name, _case(k))


def test_golden_cases_cover_every_branch_of_the_case_space():
    cases = [_case(k) for k in range(N_CASES)]
    for key, values in (("preset", {"hbm2_2000", "hbm2e_3200", "hbm3_6400"}),
                        ("page_policy", {"open", "closed"}),
                        ("mapping", {"MOP4CLXOR", "RoBaRaCoCh"}),
                        ("read_queue", {4, 8, 32})):
        assert {c["memory"][key] for c in cases} == values
    assert {c["traffic"] for c in cases} == {"stream", "uniform", "hot", "rows", "stream_rw"}
    assert {c["batches"] for c in cases} == {1, 2, 3}
    assert any(c["chase"] for c in cases) and any(c["inject"] == "spread" for c in cases)


if __name__ == "__main__":
    if "--write" not in sys.argv:
        sys.exit("usage: PYTHONPATH=$PWD python tests/hw/test_hbm_golden.py --write")
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps({str(k): run_case(k) for k in range(N_CASES)}, indent=1) + "\n")
    print(f"wrote {GOLDEN}")
