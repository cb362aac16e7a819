"""Bank-level processing-in-memory (PIM) in HBM, as NeuPIMs (ASPLOS'24) and Newton model it.

What is modelled (``../shared/research/neupims.md`` §3-4; numbers in
``arch_configs/pim/neupims_hbm2.yaml``):

* per bank, ``macs_per_bank`` FP16 multipliers with an adder tree and an accumulator, fed from the
  bank's (PIM) row buffer; per channel, a global buffer holding the broadcast vector (one page);
* the PIM command set and its timing: ``GWRITE`` (copy a page into the global buffer through the
  normal row buffer), ``G_ACT`` (open one row in the PIM row buffers of a bank group; ``tFAW``
  between those of a rank), ``COMP`` (all-bank MAC, one per ``max(burst, tCCD_S)``; at least
  ``comp_min`` before a ``READRES`` can follow, the adder-tree fill), ``READRES`` (read the 32
  per-bank accumulators), ``PIM_PRECHARGE`` (close the PIM row buffer only), and the header that
  carries the GEMV shape (no bus time);
* refresh: one ``REF`` per channel every ``tREFI / ranks`` cycles, ``tRFC`` long, closing every
  buffer; a PIM operation starts only if it ends before the next ``REF`` (NeuPIMs' slack check);
* two memory modes (``mode``): ``blocked`` (one row buffer per bank: normal accesses and PIM work
  exclude each other, Newton / HBM-PIM) and ``dual`` (NeuPIMs' second, PIM-only row buffer with
  the timing relaxations of ``timing.cc:73-102``). Each relaxed rule is one pure function below
  (``act_to_gact_cycles``, ``gact_to_act_cycles``, ``rdwr_to_comp_cycles``,
  ``pim_to_precharge_cycles``).

The unit of work is a *PIM tile*: one row index across all banks of a channel, opened with one
``G_ACT`` per bank group, used by one or more GEMVs (``COMP`` x k + ``READRES``), then closed.
``tile_cycles`` and ``gwrite_op_cycles`` are its closed forms; ``walk_with_refresh`` places a
channel's sequence of operations between refreshes (numba).

Deliberately ignored: the command/address bus arbitration cycle by cycle (one command per cycle),
the per-bank request queues and the write-drain watermark of the controller; data-bus contention
between NPU traffic and ``READRES`` is a fraction of the channel's time (``gemv_share``).

Units: cycles of the DRAM clock (``tCK_ps``; 1 GHz in NeuPIMs, the NPU clock too).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..arch.fields import Section
from ..errors import ConfigError, unknown_name
from ..registry import Registry

try:  # numba is a core dependency; the walk also runs (slower) without it
    from numba import njit
except ImportError:  # pragma: no cover
    def njit(*args, **kwargs):
        return (lambda f: f) if not args or not callable(args[0]) else args[0]

MODES = ("blocked", "dual")
TIMING_NAMES = ("CWL", "tRCDRD", "tRCDWR", "tRP", "tRAS", "tRRD_S", "tRRD_L", "tFAW",
                "tCCD_S", "tCCD_L", "tWTR_L", "tWR", "tRTP_L", "tRFC", "tREFI")
#: HBM timings no PIM rule can bind, refused when given (never silently ignored): COMP, READRES,
#: G_ACT and PIM_PRECHARGE span every bank group, so the same-bank-group (``_L``) turnarounds
#: always bind over the ``_S`` ones; and the read latency ``CL`` delays only the data of a
#: READRES / NPU read, not the channel's next command (``npu_service_cycles`` closes a read row
#: ``tRTP_L`` after the last RD).
UNUSED_TIMINGS = {
    "CL": "read latency delays the returned data, never the channel's next PIM command",
    "tWTR_S": "COMP spans every bank group, so write-to-COMP is tWTR_L",
    "tRTP_S": "PIM_PRECHARGE follows a read in the same bank group, so it waits tRTP_L",
}

PIMS: Registry[type["PimUnit"]] = Registry("pim")


def pim_dir() -> Path:
    """Folder of PIM timing presets and NeuPIMs system files (``arch_configs/pim``)."""
    from ..paths import data_root

    return data_root() / "arch_configs" / "pim"


# ------------------------------------------------------------------------------------ the spec

@dataclass(frozen=True)
class PimSpec:
    """One PIM-HBM device: organisation, PIM units, timing (DRAM cycles) and the memory mode."""

    name: str
    source: str
    tCK_ps: int
    channels: int
    ranks: int
    bank_groups: int            # per rank
    banks_per_group: int
    rows: int
    page_bytes: int
    request_bytes: int
    burst_cycles: int
    macs_per_bank: int
    element_bytes: int
    global_buffer_bytes: int
    gwrite_cycles: int
    comp_min: int
    t: Mapping[str, int] = field(default_factory=dict)
    estimator_gwrite_cycles: int = 100
    estimator_tile_cycles: int = 184
    mode: str = "dual"

    @property
    def banks(self) -> int:
        """Banks per channel (all of them compute in parallel on a broadcast COMP)."""
        return self.ranks * self.bank_groups * self.banks_per_group

    @property
    def page_elements(self) -> int:
        """Elements per row of one bank (512 FP16 for a 1 KB page)."""
        return self.page_bytes // self.element_bytes

    @property
    def tRC(self) -> int:
        return self.t["tRAS"] + self.t["tRP"]

    @property
    def comp_interval_cycles(self) -> int:
        """Cycles between two broadcast COMPs: ``max(burst, tCCD_S)``."""
        return max(self.burst_cycles, self.t["tCCD_S"])

    @property
    def refresh_interval_cycles(self) -> int:
        """Rank-staggered refresh: one REF per channel every ``tREFI / ranks``."""
        return self.t["tREFI"] // self.ranks

    @property
    def channel_bandwidth_gbps(self) -> float:
        return self.request_bytes / (self.burst_cycles * self.tCK_ps / 1000.0)

    def peak_bandwidth_gbps(self) -> float:
        return self.channels * self.channel_bandwidth_gbps

    def peak_macs_per_cycle(self) -> int:
        """PIM MACs per cycle over the device (8,192 for NeuPIMs)."""
        return self.channels * self.banks * self.macs_per_bank // self.comp_interval_cycles

    def with_mode(self, mode: str) -> "PimSpec":
        if mode not in MODES:
            raise unknown_name("PIM mode", mode, MODES, key="pim.mode")
        return replace(self, mode=mode)


def preset_names() -> list[str]:
    return sorted(p.stem for p in pim_dir().glob("*.yaml") if not p.stem.startswith("system_"))


def load_pim_spec(preset: str = "neupims_hbm2", *, mode: str = "dual",
                  overrides: Mapping[str, Any] | None = None) -> PimSpec:
    """Read a PIM timing preset (``arch_configs/pim/<preset>.yaml``); ``overrides`` are
    ``{timing_name: cycles}`` or organisation / PIM keys (e.g. ``{"channels": 16}``).

    Example:
        >>> spec = load_pim_spec("neupims_hbm2", mode="blocked")
        >>> spec.banks, spec.tRC, spec.peak_macs_per_cycle()
        (32, 48, 8192)
    """
    from ..arch.config import _read_yaml

    path = pim_dir() / f"{preset}.yaml"
    if not path.is_file():
        raise unknown_name("PIM preset", preset, preset_names(), key="pim.preset")
    file = str(path)
    top = Section(_read_yaml(path), file=file)
    org = top.section("organization")
    o = {k: org.int(k, minimum=1) for k in ("channels", "ranks", "bank_groups", "banks_per_group",
                                            "rows", "page_bytes", "request_bytes",
                                            "burst_cycles")}
    org.done()
    pim = top.section("pim")
    p = {k: pim.int(k, minimum=1) for k in ("macs_per_bank", "element_bytes",
                                            "global_buffer_bytes", "gwrite_cycles", "comp_min")}
    pim.done()
    tim = top.section("timing_cycles")
    t = {k: tim.int(k, minimum=0) for k in TIMING_NAMES}
    tim.done()
    est = top.section("estimator", default={})
    est_gw = est.int("gwrite_cycles", default=100, minimum=0)
    est_tile = est.int("tile_cycles", default=184, minimum=0)
    est.done()
    spec = PimSpec(name=preset, source=top.str("source"), tCK_ps=top.int("tCK_ps", minimum=1),
                   t=t, estimator_gwrite_cycles=est_gw, estimator_tile_cycles=est_tile,
                   **o, **p).with_mode(mode)
    top.done()
    for key, value in (overrides or {}).items():
        if key in TIMING_NAMES:
            spec = replace(spec, t={**spec.t, key: int(value)})
        elif key in o or key in p:
            spec = replace(spec, **{key: int(value)})
        else:
            raise unknown_name("PIM override", key, [*TIMING_NAMES, *o, *p], file=file)
    if spec.refresh_interval_cycles <= spec.t["tRFC"]:
        raise ConfigError(f"tREFI/ranks ({spec.refresh_interval_cycles}) must exceed tRFC "
                          f"({spec.t['tRFC']})", file=file, key="timing_cycles.tREFI")
    return spec


# ----------------------------------------------------------------- the relaxed rules (one each)

def act_to_gact_cycles(spec: PimSpec) -> int:
    """ACT <-> G_ACT in the same bank: ``tRC`` with one row buffer, ``tRRD_L`` with two."""
    return spec.t["tRRD_L"] if spec.mode == "dual" else spec.tRC


def gact_to_act_cycles(spec: PimSpec) -> int:
    """G_ACT -> ACT in the same bank group: ``tRC`` with one row buffer, ``tRRD_L`` with two."""
    return spec.t["tRRD_L"] if spec.mode == "dual" else spec.tRC


def rdwr_to_comp_cycles(spec: PimSpec, *, write: bool) -> int:
    """RD/WR -> COMP/READRES in the same bank or bank group.

    One row buffer: ``tCCD_L`` after a read; write latency + burst + ``tWTR_L`` after a write.
    Two row buffers: 0 (independent data paths).
    """
    if spec.mode == "dual":
        return 0
    t = spec.t
    return t["CWL"] + spec.burst_cycles + t["tWTR_L"] if write else t["tCCD_L"]


def pim_to_precharge_cycles(spec: PimSpec) -> int:
    """COMP/READRES -> (PIM_)PRECHARGE: read-to-precharge ``tRTP_L`` with one buffer, 0 with two."""
    return 0 if spec.mode == "dual" else spec.t["tRTP_L"]


# ------------------------------------------------------------------------------ closed forms

def open_cycles(spec: PimSpec) -> int:
    """P_HEADER -> first COMP: one G_ACT per bank group; G_ACTs of a rank ``tFAW`` apart (a G_ACT
    opens 4 banks) and at least ``tRRD_S`` (ACTs to different bank groups), the ranks
    interleaved; then ``tRCDRD`` (104 cycles for NeuPIMs)."""
    gap = max(spec.t["tFAW"], spec.t["tRRD_S"])
    return (spec.bank_groups - 1) * gap + spec.t["tRCDRD"]


def gemv_cycles(spec: PimSpec, k: int) -> int:
    """Channel occupancy of one GEMV of ``k`` COMPs plus its READRES (``PIM_GEMV k``):
    ``max(burst, tCCD_S) * (max(k, comp_min) + 1)``, i.e. ``2 (max(k, 6) + 1)``.

    Example:
        >>> gemv_cycles(load_pim_spec(), 8), gemv_cycles(load_pim_spec(), 2)
        (18, 14)
    """
    if k < 1:
        raise ValueError(f"a GEMV needs at least one COMP, got k={k}")
    return spec.comp_interval_cycles * (max(int(k), spec.comp_min) + 1)


def close_cycles(spec: PimSpec, busy_since_gact: int) -> int:
    """Last READRES -> next G_ACT: PIM_PRECHARGE (after ``pim_to_precharge_cycles`` and no sooner
    than ``tRAS`` after the G_ACT), then ``tRP``."""
    wait = max(pim_to_precharge_cycles(spec), spec.t["tRAS"] - busy_since_gact)
    return max(0, wait) + spec.t["tRP"]


def tile_cycles(spec: PimSpec, ks) -> int:
    """One PIM tile running GEMVs of ``ks`` COMPs each: open + GEMVs + close.

    Example (a QK^T tile of GPT3-7B at TP4: 4 heads of d_k = 128, i.e. 8 COMPs each):
        >>> tile_cycles(load_pim_spec(), [8, 8, 8, 8])
        190
    """
    body = sum(gemv_cycles(spec, k) for k in ks)
    return open_cycles(spec) + body + close_cycles(spec, open_cycles(spec) + body)


def gwrite_op_cycles(spec: PimSpec) -> int:
    """One GWRITE as a channel operation: ACT of the source row in the normal buffer, the page
    copy, and (one row buffer only) closing that row again before the next G_ACT of the bank:
    read-to-precharge + ``tRP``; either way the next G_ACT waits the ACT -> G_ACT spacing of
    ``act_to_gact_cycles`` after the ACT (``tRRD_L`` with two row buffers)."""
    t = spec.t
    busy = t["tRCDRD"] + spec.gwrite_cycles
    if spec.mode == "dual":
        return max(busy, act_to_gact_cycles(spec))
    reopen = max(pim_to_precharge_cycles(spec) + t["tRP"], act_to_gact_cycles(spec) - busy)
    return busy + reopen


def npu_service_cycles(spec: PimSpec, requests: int, *, write: bool) -> int:
    """Blocked mode: channel time taken from PIM to serve ``requests`` NPU accesses queued during
    a PIM operation (they go first; no PIM command issues meanwhile): ACT, ``tRCD``, the bursts,
    the write recovery or read-to-precharge, ``tRP``; the next G_ACT also waits
    ``act_to_gact_cycles`` after the ACT and its first COMP ``rdwr_to_comp_cycles`` after the
    last access (usually hidden by the G_ACT phase). Dual mode: 0 (NPU accesses go to the
    other row buffer; PIM commands have priority)."""
    if spec.mode == "dual" or requests <= 0:
        return 0
    t = spec.t
    rcd = t["tRCDWR"] if write else t["tRCDRD"]
    tail = t["CWL"] + spec.burst_cycles + t["tWR"] if write else t["tRTP_L"]
    service = rcd + requests * spec.burst_cycles + tail + t["tRP"]
    hidden = open_cycles(spec) - t["tRCDRD"]
    return max(service, act_to_gact_cycles(spec),
               service + rdwr_to_comp_cycles(spec, write=write) - hidden)


def estimate_mha_cycles(spec: PimSpec, seq_len, *, embed: int, heads: int, head_dim: int,
                        group: int = 1):
    """NeuPIMs' MHA latency estimator (paper Alg. 1, ``Scheduler.cc:267-285``), used only for
    channel load balancing: ``ceil(E/P) (L_GW + ceil(s/banks) L_tile) + ceil(s/P) h (L_GW +
    ceil(d_k/banks) L_tile)``. Works on scalars and numpy arrays of ``seq_len``."""
    s = np.asarray(seq_len, dtype=np.int64)
    P, nb = spec.page_elements, spec.banks
    gw, tile = spec.estimator_gwrite_cycles, spec.estimator_tile_cycles
    out = group * (-(-embed // P) * (gw + (-(-s // nb)) * tile)
                   + (-(-s // P)) * heads * (gw + -(-head_dim // nb) * tile))
    return out if out.ndim else int(out)


# ------------------------------------------------------------------- the KV layout, as op lists

@dataclass(frozen=True)
class AttentionShape:
    """Per-device attention shape: ``embed`` = K (or V) cache width per device (kv heads x
    ``head_dim``), ``heads`` = kv heads per device, ``head_dim``; ``group`` query heads share one
    kv head (GQA; 1 for multi-head attention). The global buffer holds one query (or score)
    vector at a time, so each query head of a group is its own pass over the KV rows."""

    embed: int
    heads: int
    head_dim: int
    group: int = 1


def logit_ops(spec: PimSpec, s: int, shape: AttentionShape) -> tuple[list[int], list[int], int]:
    """QK^T of one request with ``s`` cached tokens: op durations, their GEMV (COMP) cycles, and
    the number of GEMVs. K layout: token t in bank ``t mod banks``, its ``embed`` elements over
    ``ceil(embed / page)`` rows; per row chunk one GWRITE of the query slice, then one tile per
    ``banks`` tokens with one GEMV of ``head_dim / macs_per_bank`` COMPs per head in the chunk."""
    P, nb = spec.page_elements, spec.banks
    heads_per_chunk = max(1, P // shape.head_dim)
    k = -(-shape.head_dim // spec.macs_per_bank)
    gw = gwrite_op_cycles(spec)
    ops, comp, gemvs = [], [], 0
    groups = -(-s // nb)
    for c in range(-(-shape.embed // P)):
        heads = min(heads_per_chunk, shape.heads - c * heads_per_chunk)
        if heads <= 0:
            break
        tile = tile_cycles(spec, [k] * heads)
        g = gemv_cycles(spec, k) * heads
        for _ in range(shape.group):
            ops.append(gw)
            comp.append(0)
            ops.extend([tile] * groups)
            comp.extend([g] * groups)
            gemvs += heads * groups
    return ops, comp, gemvs


def attend_ops(spec: PimSpec, s: int, shape: AttentionShape) -> tuple[list[int], list[int], int]:
    """S.V of one request: V layout ``embed / banks`` dimensions per bank, one row = ``page``
    tokens of one dimension. Per head and ``page``-token chunk: one GWRITE of the scores, then
    ``ceil(head_dim / banks)`` tiles of one GEMV of ``ceil(tokens / macs_per_bank)`` COMPs."""
    P, nb = spec.page_elements, spec.banks
    gw = gwrite_op_cycles(spec)
    tiles_per_head = -(-shape.head_dim // nb)
    ops, comp, gemvs = [], [], 0
    for start in range(0, s, P):
        k = -(-min(P, s - start) // spec.macs_per_bank)
        tile = tile_cycles(spec, [k])
        g = gemv_cycles(spec, k)
        for _ in range(shape.heads * shape.group):
            ops.append(gw)
            comp.append(0)
            ops.extend([tile] * tiles_per_head)
            comp.extend([g] * tiles_per_head)
            gemvs += tiles_per_head
    return ops, comp, gemvs


# ------------------------------------------------------------------------- refresh placement

@njit(cache=True)
def _walk(durations, start, interval, trfc, offset):  # pragma: no cover - numba
    t = start
    # next REF start at or after t: REFs at offset + j * interval, j >= 1
    j = (t - offset) // interval
    if offset + j * interval < t:
        j += 1
    if j < 1:
        j = 1
    next_ref = offset + j * interval
    stalled = 0
    for i in range(durations.shape[0]):
        d = durations[i]
        while t + d > next_ref:
            # does not fit before the REF (or the REF is due now): wait for it to finish
            if next_ref >= t:
                resume = next_ref + trfc
                stalled += resume - t
                t = resume
            next_ref += interval
            if d > interval - trfc:      # can never fit: run it right after the REF
                break
        t += d
    return t, stalled


def walk_with_refresh(spec: PimSpec, durations, start: int = 0, *, offset: int = 0
                      ) -> tuple[int, int]:
    """Place a channel's PIM operations (cycles, in order) from ``start``; a REF every
    ``tREFI / ranks`` cycles (at ``offset + j * interval``, ``j >= 1``) lasts ``tRFC``; an operation starts only if it
    ends before the next REF. Returns ``(end, cycles lost to refresh)``.

    Example:
        >>> spec = load_pim_spec()
        >>> walk_with_refresh(spec, [1000, 1000], start=1)   # REF at 1950: the 2nd waits
        (3210, 1209)
    """
    arr = np.ascontiguousarray(durations, dtype=np.int64)
    end, stalled = _walk(arr, int(start), int(spec.refresh_interval_cycles),
                         int(spec.t["tRFC"]), int(offset))
    return int(end), int(stalled)


# --------------------------------------------------------------------------- the registry

class PimUnit:
    """A PIM memory for the system models: built from a ``pim:`` mapping, exposes its ``spec``.

    Contract: ``spec`` is immutable; the closed forms above are functions of it only.
    """

    impl_name: str = ""
    description: str = ""

    def __init__(self, spec: PimSpec | None):
        self.spec = spec

    @property
    def enabled(self) -> bool:
        return self.spec is not None

    def describe(self) -> dict[str, Any]:
        if self.spec is None:
            return {"impl": self.impl_name}
        return {"impl": self.impl_name, "preset": self.spec.name, "mode": self.spec.mode,
                "channels": self.spec.channels}


@PIMS.register("none", "no PIM: attention runs on the NPU")
class NoPim(PimUnit):
    @classmethod
    def from_config(cls, section: Section) -> "NoPim":
        return cls(None)


@PIMS.register("neupims", "Newton-style bank PIM in HBM; mode blocked (one row buffer) or dual "
                          "(NeuPIMs' dual row buffer)")
class BankPim(PimUnit):
    @classmethod
    def from_config(cls, section: Section) -> "BankPim":
        preset = section.str("preset", default="neupims_hbm2")
        mode = section.choice("mode", MODES, default="dual")
        for key, why in UNUSED_TIMINGS.items():
            if section.has(key):
                raise section.error(key, f"not used by the PIM model ({why}); remove it")
        overrides = {}
        for key in [*TIMING_NAMES, "channels", "macs_per_bank"]:
            if section.has(key):
                overrides[key] = section.int(key, minimum=1)
        return cls(load_pim_spec(preset, mode=mode, overrides=overrides))


def build_pim(raw: Any, *, file: str | None = None, path: str = "pim",
              memory: Mapping[str, Any] | None = None) -> PimUnit:
    """Validate a ``pim:`` mapping and build the unit it names (default ``none``).

    ``memory`` is the architecture's ``memory:`` mapping: PIM lives in HBM banks, so an enabled
    PIM with any other memory model is rejected here, before anything runs.
    """
    section = Section(raw, file=file, path=path)
    impl = section.str("impl", default="none")
    cls = PIMS.get(impl, file=file, key=section.key_path("impl"))
    unit = cls.from_config(section)
    section.done()
    if unit.enabled and memory is not None:
        mem_impl = (memory or {}).get("impl", "analytical") if isinstance(memory, Mapping) else None
        if mem_impl != "hbm":
            raise ConfigError(
                f"PIM impl {impl!r} computes inside HBM banks, but memory.impl is {mem_impl!r}; "
                "set memory: {impl: hbm, ...} or pim: {impl: none}", file=file,
                key=section.key_path("impl"))
    return unit


def pim_impls() -> dict[str, str]:
    return PIMS.describe()



__all__ = ["PIMS", "MODES", "PimSpec", "AttentionShape", "load_pim_spec", "build_pim",
           "act_to_gact_cycles", "gact_to_act_cycles", "rdwr_to_comp_cycles",
           "pim_to_precharge_cycles", "open_cycles", "gemv_cycles", "close_cycles",
           "tile_cycles", "gwrite_op_cycles", "npu_service_cycles", "estimate_mha_cycles",
           "logit_ops", "attend_ops", "walk_with_refresh"]
