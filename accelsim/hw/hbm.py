"""Bank-level HBM (HBM2 / HBM2E / HBM3) memory model, validated against Ramulator 2.1.

What it models: stacks x channels x pseudo channels x bank groups x banks, each bank's open row;
every JEDEC timing rule of the standard file (``arch_configs/memory/standards/hbm.yaml``: tRCD
rd/wr, tRP, tRAS, tRC, CL, CWL, tCCD_S/L, tRRD_S/L, tFAW, tWR, tWTR_S/L, tRTP, tREFI/tRFC all-bank
refresh or tREFIpb/tRFCpb/tRREFD per-bank refresh (``refresh:``), read<->write turnaround tRTW); a
per-channel controller with bounded read/write queues, FR-FCFS, open- or closed-page policy, write
drain between high/low watermarks and a dual (row / column) command bus; address mappings
(``MAPPINGS``: ``RoBaRaCoCh``, ``MOP4CLXOR``) behind a cache-line channel interleave; a frontend
that injects requests in order, a bounded number per tick. The timing itself is the C kernel in
``accelsim.hw.dram_kernel``.

What it ignores: read-after-write forwarding, power states, ECC, HBM3's half-cycle ACT and
pseudo-channel SIDs as a level (folded into bank groups), and any on-chip interconnect between the
engine and the controllers.

Units: the device counts integer ticks of ``tCK`` (``*_cycles``); the engine sees integer ps;
bandwidth is GB/s (bytes/ns); latencies are ns. Timings in YAML are ``tXXX_cycles`` (as the cited
source tabulates them) or ``tXXX_ns`` (converted once, at load, by ``accelsim.units.ns_to_cycles``).

Sources: JESD235D / JESD238 via Ramulator 2.1 presets (see each preset's ``source:``), and
``../shared/research/memory_noc.md`` for the reference runs this model is validated against.
"""

from __future__ import annotations

import ast
import copy
import math
import operator
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..arch.fields import Section
from ..errors import ConfigError, unknown_name
from ..paths import data_root
from ..units import bytes_to_ps, ns_to_cycles
from . import dram_kernel as K
from .hbm_patterns import PatternTransfers
from .memory import MEMORIES, MemoryModel

PRESET_DIR = data_root() / "arch_configs" / "memory"     # paths.data_root says where
STANDARD_DIR = PRESET_DIR / "standards"

#: Short names accepted wherever a preset is named (``--memory hbm2``).
PRESET_ALIASES = {"hbm2": "hbm2_2000", "hbm2e": "hbm2e_3200", "hbm3": "hbm3_6400"}

#: Timings a preset must give (cycles of tCK, or ns). tBL and tRTW are derived when absent.
TIMING_NAMES = ("tCL", "tCWL", "tRCDRD", "tRCDWR", "tRP", "tRAS", "tRC", "tWR", "tRTP",
                "tCCD_S", "tCCD_L", "tRRD_S", "tRRD_L", "tFAW", "tWTR_S", "tWTR_L", "tREFI", "tRFC")
DERIVED_TIMINGS = ("tBL", "tRTW")
#: Per-bank refresh (``refresh: per_bank``) needs tRFCpb (REFpb -> ACT, same bank) and tRREFD
#: (REFpb -> ACT / REFpb, other banks of the pseudo channel); tREFIpb (one REFpb per pseudo channel
#: per tREFIpb) defaults to tREFI / (bank groups x banks per group): each bank once per tREFI.
PER_BANK_TIMINGS = ("tRFCpb", "tRREFD", "tREFIpb")
REFRESH_MODES = ("all_bank", "per_bank")
#: ``tRCD_ns`` (no RD/WR suffix) sets both tRCDRD and tRCDWR.
TIMING_ALIASES = {"tRCD": ("tRCDRD", "tRCDWR")}
_TIMING_KEY = re.compile(r"^(t[A-Z][A-Za-z0-9_]*?)_(ns|cycles)$")

ORG_FIELDS = ("stacks", "channels", "pseudo_channels", "bank_groups", "banks_per_group", "rows",
              "columns", "bus_width_bits", "burst_length")
# Largest organization the kernel's state and request keys hold: a request key is
# ``flat bank << 32 | row`` and an active-queue key also carries the request's direction in bit
# 31 (dram_kernel.ACTIVE_WRITE_BIT), so rows stay below 2^30; every bank has ready clocks and a
# command history (~300 B), so the whole device is bounded.
ORG_MAX = {"stacks": 64, "channels": 1024, "pseudo_channels": 16, "bank_groups": 64,
           "banks_per_group": 64, "rows": 1 << 30, "columns": 1 << 20, "bus_width_bits": 4096,
           "burst_length": 1024}
MAX_BANKS = 1 << 20
MAX_TIMING_CYCLES = 1 << 40     # ticks stay far from int64 overflow when latencies are added


# ----------------------------------------------------------------------------------------- presets
def preset_names() -> list[str]:
    """Names of the shipped presets (``arch_configs/memory/*.yaml``)."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def resolve_preset_path(name: str, *, file: str | None = None, key: str | None = None) -> Path:
    """A preset name (``hbm2_2000``), alias (``hbm2``) or YAML path -> the file to load."""
    name = PRESET_ALIASES.get(name, name)
    if name.endswith((".yaml", ".yml")) or "/" in name:
        path = Path(name)
        if not path.is_file():
            raise ConfigError(f"memory preset file {name!r} not found", file=file, key=key)
        return path
    path = PRESET_DIR / f"{name}.yaml"
    if not path.is_file():
        raise unknown_name("memory preset", name, preset_names() + sorted(PRESET_ALIASES),
                           file=file, key=key)
    return path


_YAML_CACHE: dict[tuple[str, int], Any] = {}


def _load_yaml(path: Path) -> Any:
    """The parsed preset / standard file (a private copy). NOTE(perf): parsed once per file
    version (path, mtime): every ``build_memory`` of an ``hbm`` arch reads two of these files,
    and YAML parsing (~50 ms each) dominated cost estimates and DSE evaluations."""
    key = (str(Path(path).resolve()), Path(path).stat().st_mtime_ns)
    if key not in _YAML_CACHE:
        from ..yamlio import load_file

        _YAML_CACHE[key] = load_file(path)
    return copy.deepcopy(_YAML_CACHE[key])


# ---------------------------------------------------------------------------- rule expressions
_BINOPS: dict[type, Callable[[int, int], int]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv}


def eval_latency(expr: Any, cycles: dict[str, int], *, file: str, key: str) -> int:
    """Evaluate a rule latency (``"CWL + BL + WTR_S"``) over timing values in cycles.

    Only integers, timing names (without the leading ``t``), ``+ - * //`` and parentheses are
    allowed (a whitelisted ``ast`` walk; YAML stays data, never code).

    >>> eval_latency("CL + BL + 2 - CWL", {"tCL": 14, "tBL": 2, "tCWL": 5}, file="f", key="k")
    13
    """
    if isinstance(expr, int) and not isinstance(expr, bool):
        return expr
    if not isinstance(expr, str):
        raise ConfigError(f"expected a latency expression, got {expr!r}", file=file, key=key)

    def walk(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name):
            name = "t" + node.id
            if name not in cycles:
                raise ConfigError(f"unknown timing {node.id!r} in latency {expr!r}; known: "
                                  f"{', '.join(sorted(n[1:] for n in cycles))}", file=file, key=key)
            return cycles[name]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        raise ConfigError(f"unsupported syntax in latency {expr!r} (use names, integers, "
                          f"+ - * // and parentheses)", file=file, key=key)

    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError:
        raise ConfigError(f"latency {expr!r} is not an expression", file=file, key=key) from None
    return walk(tree)


@dataclass(frozen=True)
class RuleTable:
    """The standard's timing rules compiled to CSR arrays keyed by (level, preceding command).

    Within a key, rules with the same (next, window) are merged into their largest latency, and
    windowed rules (tFAW) come first: the kernel keeps a command history only for keys whose first
    rule has a window > 1.
    """

    con_ptr: np.ndarray
    con_next: np.ndarray
    con_lat: np.ndarray
    con_win: np.ndarray
    max_window: int
    # NOTE(perf): see scripts/bench_dram.py -- the same rules per issued command, so the kernel's
    # bank commands apply straight runs of (next, latency) pairs (K.issue_bank_command).
    fast: np.ndarray
    rows: tuple  # (level, prev, next, latency_cycles, window) for describe()/tests


def compile_rules(standard: dict, cycles: dict[str, int], *, file: str) -> RuleTable:
    """Turn the standard file's ``rules`` (plus command-bus occupancy) into kernel arrays."""
    sec = Section(standard, file=file)
    sec.str("name")
    levels = sec.any("levels")
    if list(levels) != list(K.LEVEL_NAMES):
        raise ConfigError(f"expected levels {list(K.LEVEL_NAMES)}, got {levels}", file=file,
                          key="levels")
    commands = sec.any("commands")
    if list(commands) != list(K.COMMAND_NAMES):
        raise ConfigError(f"expected commands {list(K.COMMAND_NAMES)} (the kernel knows their "
                          f"effect on bank state), got {commands}", file=file, key="commands")
    cmd_id = {c: i for i, c in enumerate(K.COMMAND_NAMES)}
    lvl_id = {lv: i for i, lv in enumerate(K.LEVEL_NAMES)}
    row_cmds = list(sec.any("row_commands"))
    col_cmds = list(sec.any("column_commands"))
    cyc_sec = sec.section("command_cycles", default={})
    command_cycles = {c: 1 for c in K.COMMAND_NAMES}
    for c in list(cyc_sec.raw):
        if c not in cmd_id:
            raise ConfigError(f"unknown command {c!r}", file=file, key=f"command_cycles.{c}")
        command_cycles[c] = cyc_sec.int(c, minimum=1)
    rows: list[tuple[int, int, int, int, int]] = []
    for k, raw in enumerate(sec.any("rules")):
        where = f"rules[{k}]"
        r = Section(raw, file=file, path=where)
        level = r.choice("level", K.LEVEL_NAMES)
        prev = r.any("prev")
        nxt = r.any("next")
        window = r.int("window", default=1, minimum=1)
        nominal = eval_latency(r.any("latency"), cycles, file=file, key=f"{where}.latency")
        r.done()
        for p in prev:
            if p not in cmd_id:
                raise ConfigError(f"unknown command {p!r}", file=file, key=f"{where}.prev")
            for f in nxt:
                if f not in cmd_id:
                    raise ConfigError(f"unknown command {f!r}", file=file, key=f"{where}.next")
                # commands are recorded at their first cycle; JEDEC measures from the last one
                lat = nominal + (command_cycles[p] - 1) - (command_cycles[f] - 1)
                rows.append((lvl_id[level], cmd_id[p], cmd_id[f], lat, window))
    # A multi-cycle command occupies its command bus (per channel) for that many cycles.
    for bus in (row_cmds, col_cmds):
        for p in bus:
            if command_cycles[p] > 1:
                for f in bus:
                    rows.append((0, cmd_id[p], cmd_id[f], command_cycles[p], 1))
    sec.done()
    rows.sort(key=lambda r: (r[0], r[1]))
    # NOTE(perf): see scripts/bench_dram.py -- rules with the same (level, prev, next, window) are
    # merged into the largest latency (the kernel applies each as ready = max(ready, past + lat),
    # so the ready clocks are the same), and windowed rules come first in their key so the kernel
    # records history only where a rule reads it (a window-1 rule reads the command just issued).
    merged: dict[tuple[int, int, int, int], int] = {}
    for lv, p, f, lat, w in rows:
        merged[(lv, p, f, w)] = max(merged.get((lv, p, f, w), lat), lat)
    crows = sorted(merged.items(), key=lambda kv: (kv[0][0], kv[0][1], -kv[0][3], kv[0][2]))
    n_keys = K.N_LEVELS * K.N_COMMANDS
    ptr = np.zeros(n_keys + 1, dtype=np.int64)
    for (lv, p, _, _), _ in crows:
        ptr[lv * K.N_COMMANDS + p + 1] += 1
    ptr = np.cumsum(ptr).astype(np.int64)
    return RuleTable(
        con_ptr=ptr,
        con_next=np.array([k[2] for k, _ in crows], dtype=np.int64),
        con_lat=np.array([lat for _, lat in crows], dtype=np.int64),
        con_win=np.array([k[3] for k, _ in crows], dtype=np.int64),
        fast=K.command_rule_table(ptr, [k[2] for k, _ in crows], [lat for _, lat in crows],
                                  [k[3] for k, _ in crows]),
        max_window=max([r[4] for r in rows] + [1]),
        rows=tuple(rows))


# ---------------------------------------------------------------------------------- mappings
MAPPINGS: dict[str, tuple[str, Callable]] = {}


def register_mapping(name: str, description: str):
    """Decorator: add an address mapping ``f(line_index, spec) -> (pc, bg, bank, row, col)``."""
    def add(fn):
        if name in MAPPINGS:
            raise ValueError(f"address mapping {name!r} is registered twice")
        MAPPINGS[name] = (description, fn)
        return fn
    return add


def _take(bits_left: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    return bits_left & ((1 << width) - 1), bits_left >> width


@register_mapping("RoBaRaCoCh", "row | bank | bank group | pseudo channel | column (LSB): "
                                "row-interleaved, a sequential stream stays in one bank's row")
def _map_robaracoch(line: np.ndarray, spec: "HbmSpec"):
    col, rest = _take(line, spec.col_bits)
    pc, rest = _take(rest, spec.pc_bits)
    bg, rest = _take(rest, spec.bg_bits)
    ba, rest = _take(rest, spec.ba_bits)
    return pc, bg, ba, rest & ((1 << spec.row_bits) - 1), col


@register_mapping("MOP4CLXOR", "4 consecutive accesses share a row, then pseudo channel / bank "
                               "group / bank, with those fields XOR-ed by the column bits")
def _map_mop4clxor(line: np.ndarray, spec: "HbmSpec"):
    bank_bits = spec.pc_bits + spec.bg_bits + spec.ba_bits
    col_lo = line & 3
    col_hi = (line >> (2 + bank_bits)) & ((1 << (spec.col_bits - 2)) - 1)
    col = col_lo | (col_hi << 2)
    # the bank-address fields (PC lowest, then BG, then bank) XOR-ed with the column, low bits
    # first: one XOR of the packed fields with the column's low bits. NOTE(perf): see
    # scripts/bench_dram.py -- a third fewer array operations than field by field
    bank = ((line >> 2) ^ col) & ((1 << bank_bits) - 1)
    pc, rest = _take(bank, spec.pc_bits)
    bg, ba = _take(rest, spec.bg_bits)
    row = (line >> (2 + bank_bits + spec.col_bits - 2)) & ((1 << spec.row_bits) - 1)
    return pc, bg, ba, row, col


def _log2_exact(value: int, what: str, *, file: str | None, key: str) -> int:
    if value < 1 or value & (value - 1):
        raise ConfigError(f"{what} must be a power of two, got {value}", file=file, key=key)
    return value.bit_length() - 1


# -------------------------------------------------------------------------------------- spec
@dataclass
class HbmSpec:
    """A fully resolved HBM configuration: organization, timings in cycles, controller knobs."""

    preset: str
    source: str
    estimate: bool
    stacks: int
    channels_per_stack: int
    pseudo_channels: int
    bank_groups: int
    banks_per_group: int
    rows: int
    columns: int
    bus_width_bits: int
    burst_length: int
    data_rate_gbps: float
    tCK_ps: int
    cycles: dict[str, int]
    rules: RuleTable
    mapping: str = "MOP4CLXOR"
    page_policy: str = "open"
    refresh: str = "all_bank"        # REFRESH_MODES
    read_queue: int = 32
    write_queue: int = 32
    write_high_watermark: float = 0.8
    write_low_watermark: float = 0.2
    frontend_per_tick: int = 16      # "auto" in the YAML: channels x pseudo channels
    max_simulated_requests: int = 16384
    file: str | None = None
    bits: dict[str, int] = field(default_factory=dict)

    # ---- derived organization
    @property
    def channels(self) -> int:
        return self.stacks * self.channels_per_stack

    @property
    def tx_bytes(self) -> int:
        """Bytes of one access (one burst on one pseudo channel)."""
        return self.bus_width_bits * self.burst_length // 8

    @property
    def accesses_per_row(self) -> int:
        return self.columns // self.burst_length

    @property
    def banks_per_channel(self) -> int:
        return self.pseudo_channels * self.bank_groups * self.banks_per_group

    col_bits = property(lambda self: self.bits["col"])
    pc_bits = property(lambda self: self.bits["pc"])
    bg_bits = property(lambda self: self.bits["bg"])
    ba_bits = property(lambda self: self.bits["ba"])
    row_bits = property(lambda self: self.bits["row"])

    @property
    def refresh_interval_cycles(self) -> int:
        """Ticks between a pseudo channel's refresh commands (the kernel's ``next_ref`` step)."""
        return self.cycles["tREFIpb" if self.refresh == "per_bank" else "tREFI"]

    @property
    def refresh_busy_cycles(self) -> float:
        """Pseudo-channel time one refresh command takes: tRFC for a REF (the whole pseudo
        channel), tRFCpb / banks for a REFpb (one of its banks) -- so refresh times compare."""
        if self.refresh == "per_bank":
            return self.cycles["tRFCpb"] / (self.bank_groups * self.banks_per_group)
        return self.cycles["tRFC"]

    @property
    def refresh_period_cycles(self) -> int:
        """Ticks in which every bank is refreshed once: tREFI, or tREFIpb x banks per PC."""
        if self.refresh == "per_bank":
            return self.cycles["tREFIpb"] * self.bank_groups * self.banks_per_group
        return self.cycles["tREFI"]

    def peak_bandwidth_gbps(self) -> float:
        """channels x pseudo channels x pins x Gb/s / 8."""
        return (self.channels * self.pseudo_channels * self.bus_width_bits
                * self.data_rate_gbps / 8.0)

    def capacity_bytes(self) -> int:
        return self.channels * self.banks_per_channel * self.rows * self.accesses_per_row \
            * self.tx_bytes

    def cycles_to_ns(self, cycles: float) -> float:
        return cycles * self.tCK_ps / 1000.0

    def node_offsets(self) -> np.ndarray:
        n_pc = self.channels * self.pseudo_channels
        n_bg = n_pc * self.bank_groups
        return np.array([0, self.channels, self.channels + n_pc, self.channels + n_pc + n_bg],
                        dtype=np.int64)

    def kernel_params(self) -> np.ndarray:
        c = self.cycles
        par = np.zeros(K.N_PARAMS, dtype=np.int64)
        par[K.P_CHANNELS] = self.channels
        par[K.P_PCS] = self.pseudo_channels
        par[K.P_BGS] = self.bank_groups
        par[K.P_BANKS] = self.banks_per_group
        par[K.P_RQ] = self.read_queue
        par[K.P_WQ] = self.write_queue
        par[K.P_AQ] = self.banks_per_channel
        par[K.P_PQ] = 4 * self.pseudo_channels
        # enter write mode when the write queue holds > high*cap, leave when < low*cap
        par[K.P_WR_HIGH] = math.floor(self.write_high_watermark * self.write_queue)
        # (at least 1: with 0, write mode with an empty write queue never ended while reads
        # waited -- the replay never finished; for every other setting this is the same value)
        par[K.P_WR_LOW] = max(1, math.ceil(self.write_low_watermark * self.write_queue))
        par[K.P_READ_LAT] = c["tCL"] + c["tBL"]
        par[K.P_WRITE_LAT] = c["tCWL"] + c["tBL"]
        par[K.P_REFI] = self.refresh_interval_cycles
        par[K.P_RFC] = c["tRFCpb" if self.refresh == "per_bank" else "tRFC"]
        par[K.P_PER_BANK_REF] = 1 if self.refresh == "per_bank" else 0
        par[K.P_RREFD] = c["tRREFD"] if self.refresh == "per_bank" else 0
        par[K.P_CLOSED_PAGE] = 1 if self.page_policy == "closed" else 0
        par[K.P_FRONTEND] = self.frontend_per_tick
        par[K.P_HIST] = self.rules.max_window
        return par

    def new_state(self) -> dict:
        st = K.new_state(self.channels, self.pseudo_channels, self.bank_groups,
                         self.banks_per_group, self.rules.max_window,
                         (self.read_queue, self.write_queue, self.banks_per_channel,
                          4 * self.pseudo_channels))
        st["next_ref"][:] = self.refresh_interval_cycles
        return st

    # ---- closed forms
    def act_to_rd_cycles(self) -> int:
        """ACT -> RD as the kernel applies it (tRCDRD plus the multi-cycle ACT shift)."""
        for lv, p, f, lat, _ in self.rules.rows:
            if lv == 3 and p == K.ACT and f == K.RD:
                return lat
        return self.cycles["tRCDRD"]

    def closed_bank_read_cycles(self) -> int:
        """Idle device, closed bank: 1 tick to issue ACT, ACT->RD, then CL + BL."""
        return 1 + self.act_to_rd_cycles() + self.cycles["tCL"] + self.cycles["tBL"]

    def row_hit_read_cycles(self) -> int:
        return 1 + self.cycles["tCL"] + self.cycles["tBL"]

    def map_lines(self, line: np.ndarray) -> tuple[np.ndarray, ...]:
        """Access indices (address // tx_bytes) -> (channel, pc, bg, bank, row, col) arrays.

        Channels are interleaved at access granularity (cache-line interleave: for a power-of-two
        channel count this is Ramulator's bit slice; otherwise modulo), the rest of the address
        goes through the named mapping.
        """
        line = np.asarray(line, dtype=np.int64)
        if self.channels & (self.channels - 1):
            ch = line % self.channels
            local = line // self.channels
        else:                              # a power of two: the bit slice, without divisions
            ch = line & (self.channels - 1)
            local = line >> (self.channels.bit_length() - 1)
        pc, bg, ba, row, col = MAPPINGS[self.mapping][1](local, self)
        return ch, pc, bg, ba, row, col

    def request_keys(self, line: np.ndarray, chunk: int = 1 << 15) -> np.ndarray:
        """Access indices -> the kernel's request keys (``bank_keys``).

        NOTE(perf): see scripts/bench_dram.py -- mapped in chunks of 32k accesses: the mapping's
        temporaries stay in cache instead of faulting in fresh pages per array (a 1M-access
        mapping took 20 ms whole, 10 ms in chunks).
        """
        line = np.asarray(line, dtype=np.int64)
        key = np.empty(len(line), dtype=np.int64)
        for i in range(0, len(line), chunk):
            c, pc, bg, ba, row, _ = self.map_lines(line[i:i + chunk])
            key[i:i + chunk] = self.bank_keys(c, pc, bg, ba, row)
        return key

    def bank_keys(self, ch, pc, bg, ba, row) -> np.ndarray:
        """The kernel's request key ``flat bank << 32 | row``; the flat bank numbers banks
        channel-major, then pseudo channel, bank group, bank. Every level below the channel has a
        power-of-two size, so the kernel takes the channel, pseudo channel and bank group of a
        bank by shifts. NOTE(perf): see scripts/bench_dram.py -- shifts and ORs into one array
        (the mapping's outputs are left alone: a mapping may return one array twice)."""
        key = np.left_shift(ch, self.pc_bits, dtype=np.int64)
        for level, bits in ((pc, self.bg_bits), (bg, self.ba_bits), (ba, 32)):
            key |= level
            key <<= bits
        key |= row
        return key


def load_spec(section: Section) -> HbmSpec:
    """Build an ``HbmSpec`` from a ``memory:`` section: preset, then overrides (validated)."""
    file = section.file
    preset_name = section.str("preset", default="hbm2_2000")
    path = resolve_preset_path(preset_name, file=file, key=section.key_path("preset"))
    pfile = str(path)
    raw = _load_yaml(path)
    pre = Section(raw, file=pfile)
    source = pre.str("source")
    estimate = pre.bool("estimate", default=False)
    std_name = pre.str("standard", default="hbm")
    std_path = STANDARD_DIR / f"{std_name}.yaml"
    if not std_path.is_file():
        raise unknown_name("memory standard", std_name,
                           [p.stem for p in STANDARD_DIR.glob("*.yaml")], file=pfile,
                           key="standard")
    org = pre.section("organization")
    org_vals = {k: org.int(k, minimum=1, maximum=ORG_MAX[k]) for k in ORG_FIELDS if k != "stacks"}
    org_vals["stacks"] = org.int("stacks", default=1, minimum=1, maximum=ORG_MAX["stacks"])
    rate = org.float("data_rate_gbps", minimum=0.0, exclusive_minimum=True)
    org.done()
    tck_ps = pre.int("tCK_ps", minimum=1)
    # overrides of the organization from the architecture YAML
    org_vals["channels"] = section.int("channels", default=org_vals["channels"], minimum=1,
                                       maximum=ORG_MAX["channels"])
    org_vals["stacks"] = section.int("stacks", default=org_vals["stacks"], minimum=1,
                                     maximum=ORG_MAX["stacks"])
    banks = (org_vals["stacks"] * org_vals["channels"] * org_vals["pseudo_channels"]
             * org_vals["bank_groups"] * org_vals["banks_per_group"])
    if banks > MAX_BANKS:
        raise ConfigError(f"{banks:,} banks (stacks x channels x pseudo channels x bank groups x "
                          f"banks per group) is more than the model holds; expected at most "
                          f"{MAX_BANKS:,}", file=file, key=section.key_path("channels"))

    # ---- timings: preset cycles / ns, then overrides; one ns -> cycles conversion here
    cycles: dict[str, int] = {}
    known = set(TIMING_NAMES) | set(DERIVED_TIMINGS) | set(PER_BANK_TIMINGS)

    def read_timings(sec: Section, raw_keys, where: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for key in raw_keys:
            m = _TIMING_KEY.match(key)
            if not m:
                continue
            name, unit = m.groups()
            targets = TIMING_ALIASES.get(name, (name,))
            for t in targets:
                if t not in known:
                    from ..errors import did_you_mean
                    raise ConfigError(f"unknown timing {name!r}{did_you_mean(name, sorted(known))};"
                                      f" known: {', '.join(sorted(known))}", file=sec.file,
                                      key=sec.key_path(key))
            if unit == "ns":
                value = ns_to_cycles(sec.float(key, minimum=0.0), tck_ps)
            else:
                value = sec.int(key, minimum=0)
            if value > MAX_TIMING_CYCLES:
                raise ConfigError(f"{name} of {value:,} cycles is longer than the model holds; "
                                  f"expected at most {MAX_TIMING_CYCLES:,} cycles", file=sec.file,
                                  key=sec.key_path(key))
            for t in targets:
                if t in out:
                    raise ConfigError(f"{t} is given twice ({where})", file=sec.file,
                                      key=sec.key_path(key))
                out[t] = value
        return out

    tsec = pre.section("timing_cycles", default={})
    for key in list(tsec.raw):
        if not _TIMING_KEY.match(key + "_cycles") or key not in known:
            from ..errors import did_you_mean
            raise ConfigError(f"unknown timing {key!r}{did_you_mean(key, sorted(known))}",
                              file=pfile, key=tsec.key_path(key))
        cycles[key] = tsec.int(key, minimum=0)
    tsec.done()
    cycles.update(read_timings(pre, list(pre.raw), "preset"))
    overrides = read_timings(section, list(section.raw), "overrides")
    cycles.update(overrides)
    refresh = section.choice("refresh", REFRESH_MODES,
                             default=pre.choice("refresh", REFRESH_MODES, default="all_bank"))
    missing = [t for t in TIMING_NAMES if t not in cycles]
    if missing:
        raise ConfigError(f"timing {', '.join(missing)} not given (expected {missing[0]}_cycles "
                          f"or {missing[0]}_ns)", file=pfile, key="timing_cycles")
    if "tBL" not in cycles:
        beats_per_ck = rate * tck_ps / 1000.0
        cycles["tBL"] = max(1, int(math.ceil(org_vals["burst_length"] / beats_per_ck - 1e-9)))
    if "tRTW" not in cycles:
        cycles["tRTW"] = cycles["tCL"] + cycles["tBL"] + 2 - cycles["tCWL"]
    _check_refresh_timings(refresh, cycles, overrides, org_vals, section, pfile)
    pre.done()

    rules = compile_rules(_load_yaml(std_path), cycles, file=str(std_path))

    spec = HbmSpec(
        preset=path.stem, source=source, estimate=estimate, stacks=org_vals["stacks"],
        channels_per_stack=org_vals["channels"], pseudo_channels=org_vals["pseudo_channels"],
        bank_groups=org_vals["bank_groups"], banks_per_group=org_vals["banks_per_group"],
        rows=org_vals["rows"], columns=org_vals["columns"],
        bus_width_bits=org_vals["bus_width_bits"], burst_length=org_vals["burst_length"],
        data_rate_gbps=rate, tCK_ps=tck_ps, cycles=cycles, rules=rules, file=file)
    mapping = section.str("mapping", default="MOP4CLXOR")
    if mapping not in MAPPINGS:
        raise unknown_name("address mapping", mapping, MAPPINGS, file=file,
                           key=section.key_path("mapping"))
    spec.mapping = mapping
    spec.page_policy = section.choice("page_policy", ("open", "closed"), default="open")
    spec.refresh = refresh
    spec.read_queue = section.int("read_queue", default=32, minimum=1, maximum=4096)
    spec.write_queue = section.int("write_queue", default=32, minimum=1, maximum=4096)
    spec.write_high_watermark = section.float("write_high_watermark", default=0.8, minimum=0.0,
                                              maximum=1.0)
    spec.write_low_watermark = section.float("write_low_watermark", default=0.2, minimum=0.0,
                                             maximum=1.0)
    if spec.write_low_watermark > spec.write_high_watermark:
        raise ConfigError(f"expected write_low_watermark <= write_high_watermark "
                          f"({spec.write_high_watermark}), got {spec.write_low_watermark}",
                          file=file, key=section.key_path("write_low_watermark"))
    # the frontend offers one request per pseudo channel per tick unless a number is given
    # (the Ramulator 2 reference runs give theirs: validation/dram.py)
    frontend = section.any("frontend_per_tick", default="auto")
    if frontend == "auto":
        spec.frontend_per_tick = spec.channels * spec.pseudo_channels
    else:
        spec.frontend_per_tick = section.int("frontend_per_tick", minimum=1, maximum=1 << 20)
    spec.max_simulated_requests = section.int("max_simulated_requests", default=16384,
                                              minimum=256)
    # ---- organization consistency (power-of-two fields for bit-sliced mappings)
    bits = {
        "pc": _log2_exact(spec.pseudo_channels, "pseudo_channels", file=pfile,
                          key="organization.pseudo_channels"),
        "bg": _log2_exact(spec.bank_groups, "bank_groups", file=pfile,
                          key="organization.bank_groups"),
        "ba": _log2_exact(spec.banks_per_group, "banks_per_group", file=pfile,
                          key="organization.banks_per_group"),
        "row": _log2_exact(spec.rows, "rows", file=pfile, key="organization.rows"),
    }
    if spec.columns % spec.burst_length:
        raise ConfigError(f"columns ({spec.columns}) must be a multiple of burst_length "
                          f"({spec.burst_length})", file=pfile, key="organization.columns")
    bits["col"] = _log2_exact(spec.accesses_per_row, "columns / burst_length", file=pfile,
                              key="organization.columns")
    if spec.mapping == "MOP4CLXOR" and bits["col"] < 2:
        raise ConfigError("MOP4CLXOR needs at least 4 accesses per row", file=file,
                          key=section.key_path("mapping"))
    if spec.tx_bytes < 1 or spec.bus_width_bits * spec.burst_length % 8:
        raise ConfigError("bus_width_bits x burst_length must be a whole number of bytes",
                          file=pfile, key="organization.bus_width_bits")
    spec.bits = bits
    return spec


def _check_refresh_timings(refresh: str, cycles: dict[str, int], overrides: dict[str, int],
                           org: dict[str, int], section: Section, pfile: str) -> None:
    """Per-bank refresh: tRFCpb and tRREFD given, tREFIpb derived when absent; all-bank refresh
    rejects per-bank timing overrides (they would not take part in the result)."""
    if refresh == "all_bank":
        unused = [t for t in PER_BANK_TIMINGS if t in overrides]
        if unused:
            raise ConfigError(f"{unused[0]} applies to per-bank refresh only; expected "
                              f"refresh: per_bank with it, got refresh: all_bank",
                              file=section.file, key=section.key_path("refresh"))
        return
    missing = [t for t in PER_BANK_TIMINGS[:2] if t not in cycles]
    if missing:
        raise ConfigError(f"refresh: per_bank needs {missing[0]} (expected {missing[0]}_cycles "
                          f"or {missing[0]}_ns in the preset or the memory section)", file=pfile,
                          key="timing_cycles")
    banks = org["bank_groups"] * org["banks_per_group"]
    cycles.setdefault("tREFIpb", cycles["tREFI"] // banks)
    if cycles["tREFIpb"] < 1:
        raise ConfigError(f"expected tREFIpb >= 1 cycle, got {cycles['tREFIpb']} (tREFI "
                          f"{cycles['tREFI']} / {banks} banks)", file=pfile, key="timing_cycles")


def spec_from_dict(raw: dict, *, file: str | None = None) -> HbmSpec:
    """Convenience: ``spec_from_dict({"preset": "hbm3_6400", "channels": 1})`` (validates all)."""
    sec = Section(raw, file=file, path="memory")
    sec.str("impl", default="hbm")
    spec = load_spec(sec)
    sec.done()
    return spec


# ---------------------------------------------------------------------------------- batches
@dataclass
class BatchResult:
    """Per-request outcome of one replay, in ticks of tCK."""

    arrive: np.ndarray
    done: np.ndarray
    outcome: np.ndarray
    first_tick: int
    last_tick: int


def run_batch(spec: HbmSpec, state: dict, line: np.ndarray, write: np.ndarray, *,
              start_tick: int = 0, inject_tick: np.ndarray | None = None,
              chase: bool = False) -> BatchResult:
    """Replay accesses ``line`` (address // tx_bytes) through the device, updating ``state``."""
    key = spec.request_keys(line)
    n = len(line)
    if inject_tick is not None:
        inject_tick = np.asarray(inject_tick, dtype=np.int64)
    # the kernel sets every entry. NOTE(perf): see scripts/bench_dram.py -- one allocation for
    # the three: a large batch's freed outputs then stay in the process for the next batch (glibc
    # raises its thresholds to the size freed) instead of going back to the OS and faulting in
    # again, page by page
    out = np.empty(17 * n, dtype=np.uint8)
    arrive = out[:8 * n].view(np.int64)
    done = out[8 * n:16 * n].view(np.int64)
    outcome = out[16 * n:].view(np.int8)
    r = spec.rules
    last = K.simulate_batch(
        key, np.asarray(write, dtype=np.bool_), inject_tick, chase,
        np.int64(start_tick), spec.kernel_params(), spec.node_offsets(), r.con_ptr, r.con_next,
        r.con_lat, r.con_win, r.fast, state["ready"].reshape(-1), state["hist"], state["open_row"],
        state["next_ref"], state["write_mode"], state["pq"], state["pq_n"], state["chst"],
        state["clock"], arrive, done, outcome, *_scratch(spec, state))
    return BatchResult(arrive, done, outcome, int(start_tick), int(last))


def _scratch(spec: HbmSpec, state: dict):
    if "scratch" not in state:
        slots = max(spec.read_queue, spec.write_queue, spec.banks_per_channel)
        state["scratch"] = K.new_scratch(spec.channels, slots, state["open_row"].shape[0])
    return state["scratch"]


# ------------------------------------------------------------------------------ memory model
_LAT_BINS = 1 << 14   # latency histogram bins (ticks); the last bin collects the overflow


@MEMORIES.register("hbm", "bank-level HBM2/2E/3: FR-FCFS, row buffers, refresh, C scheduler")
class HbmMemory(PatternTransfers, MemoryModel):
    """Bank-level HBM behind the ``MemoryModel`` contract.

    A ``transfer`` (one DMA of a tile) is split into ``tx_bytes`` accesses at consecutive
    addresses, run through the mapping and replayed by the C scheduler on the device state left
    by earlier transfers (open rows, timing clocks, refresh phase). Transfers share the controller
    frontend in FIFO order: a transfer starts injecting when the previous one has injected its
    last access, so concurrent transfers contend for banks and buses through the device state.
    Each transfer costs one SimPy timeout.

    Large transfers: at most ``max_simulated_requests`` accesses are replayed; the rest move at the
    steady-state rate of a long sequential transfer in the same direction, measured once per model
    on an idle device over a whole number of refresh intervals (so refresh is counted exactly), and
    the device clocks are shifted by the extrapolated time. This keeps a 14 GB decode step at a few
    hundred kernel calls and is deterministic.

    States: idle (queues empty, banks open/closed as the last transfer left them) -> transferring
    (inside ``transfer``) -> idle. ``bind`` resets everything to all-banks-closed.
    """

    def __init__(self, spec: HbmSpec):
        self.spec = spec
        self._steady: dict[bool, tuple[float, float, float]] = {}
        self.env = None

    @classmethod
    def from_config(cls, section: Section) -> "HbmMemory":
        return cls(load_spec(section))

    # ---- closed forms
    def peak_bandwidth_gbps(self) -> float:
        return self.spec.peak_bandwidth_gbps()

    def latency_ns(self) -> float:
        """Unloaded read latency to a closed bank (ACT, tRCD, CL, burst), in ns."""
        return self.spec.cycles_to_ns(self.spec.closed_bank_read_cycles())

    def unloaded_transfer_ps(self, nbytes: int, *, write: bool = False) -> int:
        """A lower bound: the fastest access (row hit: issue, CL/CWL) plus bytes at peak rate."""
        c = self.spec.cycles
        first = 1 + (c["tCWL"] if write else c["tCL"])
        return first * self.spec.tCK_ps + bytes_to_ps(nbytes, self.peak_bandwidth_gbps())

    # ---- lifecycle
    def bind(self, env) -> None:
        super().bind(env)
        self.state = self.spec.new_state()
        self._frontend_free_tick = 0
        self._lat_hist = np.zeros(_LAT_BINS, dtype=np.int64)
        self._lat_sum = 0
        self._reads = 0
        self._extrapolated = 0
        self._extra_outcomes = np.zeros(3, dtype=np.float64)
        self._refresh_ticks_extra = 0
        self._first_tick = None
        self._last_tick = 0

    def _tick_of(self, ps: int) -> int:
        return -(-int(ps) // self.spec.tCK_ps)

    def transfer(self, nbytes: int, *, write: bool = False, address: int = 0):
        """SimPy process body: move ``nbytes`` from byte ``address``; returns ``nbytes``."""
        if nbytes < 0:
            raise ValueError(f"negative transfer size {nbytes}")
        if address < 0:
            raise ValueError(f"negative address {address}")
        now_ps = self.env.now
        return (yield from self._moved(nbytes, write, now_ps,
                                       self._run_transfer(nbytes, write, address, now_ps)))

    def _moved(self, nbytes: int, write: bool, now_ps: int, end_ps: int):
        """Count a transfer's bytes and wait until it ends (shared by ``transfer_pattern``)."""
        if write:
            self.bytes_written += nbytes
        else:
            self.bytes_read += nbytes
        yield self.env.timeout(end_ps - now_ps)
        return nbytes

    def _run_transfer(self, nbytes: int, write: bool, address: int, now_ps: int) -> int:
        spec = self.spec
        if nbytes == 0:
            return now_ps
        tx = spec.tx_bytes
        first = address // tx
        n = (address + nbytes - 1) // tx - first + 1
        start = max(self._tick_of(now_ps), self._frontend_free_tick)
        n_sim = min(n, spec.max_simulated_requests)
        lines = (first + np.arange(n_sim, dtype=np.int64)) % (spec.capacity_bytes() // tx)
        res = run_batch(spec, self.state, lines, np.full(n_sim, write), start_tick=start)
        self._record(res, write)
        end_tick = res.last_tick
        free_tick = int(res.arrive[-1]) + 1
        if n > n_sim:
            # NOTE(perf): see scripts/bench_dram.py -- extrapolate the tail at the steady rate.
            rate, hit_frac, _ = self._steady_rate(write)
            rest = n - n_sim
            delta = int(math.ceil(rest / rate))
            self._shift_state(delta)
            end_tick += delta
            free_tick += delta
            self._extrapolated += rest
            self._extra_outcomes += np.array([hit_frac, (1 - hit_frac) / 2, (1 - hit_frac) / 2]) \
                * rest
            self._refresh_ticks_extra += (delta // spec.refresh_interval_cycles) \
                * spec.refresh_busy_cycles * spec.channels * spec.pseudo_channels
            self._last_tick = max(self._last_tick, end_tick)
        self._frontend_free_tick = free_tick
        if self.recorder is not None:     # timeline: the frontend injects transfers in order
            self.recorder("memory (hbm frontend)", "write" if write else "read",
                          start * spec.tCK_ps, free_tick * spec.tCK_ps,
                          {"bytes": nbytes, "requests": n})
        busy = (end_tick - start) * spec.tCK_ps
        self.busy_ps += busy
        end_ps = end_tick * spec.tCK_ps
        floor_ps = now_ps + self.unloaded_transfer_ps(nbytes, write=write)
        return max(end_ps, floor_ps)

    def _record(self, res: BatchResult, write: bool) -> None:
        if self._first_tick is None:
            self._first_tick = res.first_tick
        self._last_tick = max(self._last_tick, res.last_tick)
        if not write:
            lat = res.done - res.arrive
            self._lat_hist += np.bincount(np.minimum(lat, _LAT_BINS - 1), minlength=_LAT_BINS)
            self._lat_sum += int(lat.sum())
            self._reads += len(lat)

    def _steady_rate(self, write: bool) -> tuple[float, float, float]:
        """(accesses per tick, row-hit fraction, ...) of a long sequential transfer, idle start."""
        if write not in self._steady:
            spec = self.spec
            refi = spec.refresh_period_cycles
            peak_per_tick = spec.channels * spec.pseudo_channels / spec.cycles["tBL"]
            n = int(peak_per_tick * refi * 2.5) + 4096
            state = spec.new_state()
            res = run_batch(spec, state, np.arange(n, dtype=np.int64), np.full(n, write))
            done = np.sort(res.done)
            t0 = int(done[n // 4])
            k = max(1, (int(done[-1]) - t0) // refi)
            t1 = t0 + k * refi
            count = int(np.searchsorted(done, t1, side="right") - (n // 4 + 1))
            rate = max(count, 1) / (t1 - t0)
            hit = float(np.mean(res.outcome == K.HIT))
            self._steady[write] = (rate, hit, float(k))
        return self._steady[write]

    def _shift_state(self, delta: int) -> None:
        st = self.state
        for key in ("ready", "hist"):
            arr = st[key]
            arr[arr > K.NEVER] += delta
        st["next_ref"] += delta

    # ---- reporting
    def stats(self) -> dict[str, Any]:
        spec = self.spec
        base = super().stats()
        chst = self.state["chst"] if hasattr(self, "state") else None
        if chst is None:
            return base
        hits = int(chst[:, K.S_HITS].sum()) + int(self._extra_outcomes[0])
        misses = int(chst[:, K.S_MISSES].sum()) + int(self._extra_outcomes[1])
        conflicts = int(chst[:, K.S_CONFLICTS].sum()) + int(self._extra_outcomes[2])
        total = max(hits + misses + conflicts, 1)
        span = max(self._last_tick - (self._first_tick or 0), 1)
        col = chst[:, K.S_READS] + chst[:, K.S_WRITES]
        util = (col * spec.cycles["tBL"]) / (span * spec.pseudo_channels)
        refresh_ticks = int(chst[:, K.S_REFS].sum()) * spec.refresh_busy_cycles \
            + self._refresh_ticks_extra
        span_ns = spec.cycles_to_ns(span)
        base.update({
            "bandwidth_gbps": (self.bytes_read + self.bytes_written)
            / span_ns if span > 1 else 0.0,
            # simulated accesses only (extrapolated transfers are not spread over channels)
            "channel_bandwidth_gbps": [float(v) for v in col * spec.tx_bytes / span_ns]
            if span > 1 else [0.0] * len(col),
            "rw_turnarounds": int(chst[:, K.S_TURNS].sum()),
            "row_hits": hits, "row_misses": misses, "row_conflicts": conflicts,
            "row_hit_frac": hits / total,
            "avg_latency_ns": spec.cycles_to_ns(self._lat_sum / self._reads) if self._reads
            else 0.0,
            "p99_latency_ns": spec.cycles_to_ns(_hist_quantile(self._lat_hist, 0.99)),
            "channel_utilization": [float(u) for u in util],
            "refresh_ns": spec.cycles_to_ns(refresh_ticks),
            "extrapolated_requests": self._extrapolated,
        })
        return base

    def describe(self) -> dict[str, Any]:
        s = self.spec
        out = {"impl": self.impl_name, "preset": s.preset, "source": s.source,
               "estimate": s.estimate, "stacks": s.stacks, "channels": s.channels_per_stack,
               "pseudo_channels": s.pseudo_channels, "bank_groups": s.bank_groups,
               "banks_per_group": s.banks_per_group, "rows": s.rows, "columns": s.columns,
               "bus_width_bits": s.bus_width_bits, "burst_length": s.burst_length,
               "data_rate_gbps": s.data_rate_gbps, "tCK_ps": s.tCK_ps, "mapping": s.mapping,
               "page_policy": s.page_policy, "refresh": s.refresh, "read_queue": s.read_queue,
               "write_queue": s.write_queue, "frontend_per_tick": s.frontend_per_tick}
        out.update({f"{k}_cycles": v for k, v in sorted(s.cycles.items())})
        return out


def _hist_quantile(hist: np.ndarray, q: float) -> float:
    total = int(hist.sum())
    if total == 0:
        return 0.0
    idx = int(np.searchsorted(np.cumsum(hist), math.ceil(q * total)))
    return float(idx)


# ----------------------------------------------------------------------------- experiments
PATTERNS = ("stream", "random", "mixed")


def pattern_lines(spec: HbmSpec, pattern: str, n: int, *, seed: int = 0,
                  span_bytes: int = 1 << 30) -> tuple[np.ndarray, np.ndarray]:
    """The reference experiments' traces: (access index, is_write) arrays.

    ``stream``: sequential accesses; ``random``: uniform reads over ``span_bytes`` (1 GiB);
    ``mixed``: uniform over ``span_bytes``, each access a read or a write with probability 1/2.
    """
    if pattern == "stream":
        return np.arange(n, dtype=np.int64), np.zeros(n, dtype=np.bool_)
    rng = np.random.default_rng(seed)
    lines = rng.integers(0, span_bytes // spec.tx_bytes, size=n, dtype=np.int64)
    if pattern == "random":
        return lines, np.zeros(n, dtype=np.bool_)
    if pattern == "mixed":
        return lines, rng.random(n) < 0.5
    raise ValueError(f"unknown pattern {pattern!r}")


def summarize(spec: HbmSpec, res: BatchResult, write: np.ndarray, state: dict) -> dict[str, Any]:
    """Bandwidth, latency and row-buffer figures of one replay (the memtest / validation view)."""
    n = len(res.done)
    ticks = max(res.last_tick - res.first_tick, 1)
    reads = ~np.asarray(write, dtype=bool)
    lat = (res.done - res.arrive)[reads]
    chst = state["chst"]
    col = chst[:, K.S_READS] + chst[:, K.S_WRITES]
    refs = int(chst[:, K.S_REFS].sum())
    return {
        "preset": spec.preset, "mapping": spec.mapping, "channels": spec.channels,
        "requests": n, "request_bytes": spec.tx_bytes,
        "peak_bandwidth_gbps": spec.peak_bandwidth_gbps(),
        "bandwidth_gbps": n * spec.tx_bytes / spec.cycles_to_ns(ticks),
        "read_bandwidth_gbps": int(reads.sum()) * spec.tx_bytes / spec.cycles_to_ns(ticks),
        "write_bandwidth_gbps": int((~reads).sum()) * spec.tx_bytes / spec.cycles_to_ns(ticks),
        "avg_latency_ns": spec.cycles_to_ns(float(lat.mean())) if lat.size else 0.0,
        "p99_latency_ns": spec.cycles_to_ns(float(np.percentile(lat, 99))) if lat.size else 0.0,
        "row_hit_frac": float(np.mean(res.outcome == K.HIT)),
        "row_hits": int(np.sum(res.outcome == K.HIT)),
        "row_misses": int(np.sum(res.outcome == K.MISS)),
        "row_conflicts": int(np.sum(res.outcome == K.CONFLICT)),
        "channel_utilization": [float(u) for u in
                                col * spec.cycles["tBL"] / (ticks * spec.pseudo_channels)],
        "refresh_ns": spec.cycles_to_ns(refs * spec.refresh_busy_cycles),
        "rw_turnarounds": int(chst[:, K.S_TURNS].sum()),
        "mem_ticks": int(ticks),
        "simulated_ns": spec.cycles_to_ns(ticks),
    }


def run_pattern(spec: HbmSpec, pattern: str, n: int, *, seed: int = 0) -> dict[str, Any]:
    """Run one reference experiment on an idle device and summarize it."""
    lines, write = pattern_lines(spec, pattern, n, seed=seed)
    state = spec.new_state()
    res = run_batch(spec, state, lines, write)
    out = summarize(spec, res, write, state)
    out["pattern"] = pattern
    return out


def run_latency_probe(spec: HbmSpec, n: int = 2000, *, seed: int = 0) -> dict[str, Any]:
    """Unloaded latency: dependent (pointer-chasing) reads to uniformly random bank/row/column.

    Mirrors Ramulator's ``LatencyThroughputTrace`` probe with a negligible background stream: each
    probe is injected when the previous one has returned.
    """
    rng = np.random.default_rng(seed)
    lines = rng.integers(0, spec.capacity_bytes() // spec.tx_bytes // spec.channels, size=n,
                         dtype=np.int64) * spec.channels   # one channel, as the reference
    write = np.zeros(n, dtype=np.bool_)
    state = spec.new_state()
    res = run_batch(spec, state, lines, write, chase=True)
    out = summarize(spec, res, write, state)
    out["pattern"] = "latency_probe"
    return out
