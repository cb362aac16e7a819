"""Bank-level DRAM command scheduler: one C kernel (``dram_kernel.c``) that replays a batch of
requests, and its Python side (constants, state layout, rule tables, ctypes bindings).

What it models (per channel, all channels in lock step, one iteration per DRAM clock ``tCK``):

* a frontend that injects requests **in order**, at most ``frontend_per_tick`` per tick, each not
  before its ``inject_tick``; it blocks (head of line) while the target channel's read or write
  queue is full;
* per channel: a bounded read queue, a bounded write queue (drained in write mode between a high and
  a low watermark), an *active* queue holding requests whose ACT was issued (at most one entry per
  bank), and a priority queue for refresh;
* FR-FCFS: the oldest request whose next command meets every timing rule goes first;
* a dual command bus: each tick one column command (RD/WR, active queue first) and one row command
  (refresh first, then ACT/PRE from the read or write queue); a PRE never closes a bank that an
  active-queue request waits on;
* open-page (rows stay open) or closed-page (a column access auto-precharges when no other queued
  request hits the same row) policy;
* all-bank refresh per pseudo channel every ``tREFI``: precharge-all then REF, blocking new row and
  column commands from the read/write queues while pending; or (``P_PER_BANK_REF``) per-bank
  refresh: every ``tREFIpb`` each pseudo channel refreshes its next bank (round robin), closing
  only that bank; the other banks keep serving (``refresh_bank`` in the C file);
* timing as data: ``rules`` rows ``(level, prev, next, latency, window)`` are applied to per-node
  "ready at" clocks, exactly as the rule table in ``arch_configs/memory/standards/hbm.yaml`` says.

States of a bank: ``closed`` -> ACT -> ``open(row)`` -> PRE / PREA / RDA / WRA -> ``closed``; REF
needs all banks of its pseudo channel closed. Times are integer ticks of tCK; nothing here knows ns.

What it ignores: read-after-write forwarding, power-down, the command-address
bus's bank-address fields, data-bus ODT/parity, and HBM3's half-cycle ACT (ACT is ``command_cycles``
whole cycles).

The kernel is a pure function of its arguments (arrays in, arrays out, state arrays updated in
place), so tests call it directly with hand-made command sequences.

Why C: the scheduler is compiled once, when ``pip install`` builds the extension
``accelsim.hw._dram_kernel`` (setup.py), so no process pays a JIT compilation (numba took ~15 s
on a fresh install), and it is called through ctypes with plain pointers (no Python objects cross
per tick). ``docs/hbm.md`` has the measurements.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
from pathlib import Path

import numpy as np

from ..errors import SimulationError

# Command ids; the order is the ``commands`` list of the standard file (checked by the loader).
ACT, PRE, PREA, RD, WR, RDA, WRA, REF = range(8)
N_COMMANDS = 8
COMMAND_NAMES = ("ACT", "PRE", "PREA", "RD", "WR", "RDA", "WRA", "REF")
LEVEL_NAMES = ("channel", "pseudo_channel", "bank_group", "bank")
N_LEVELS = 4

# Row-buffer outcome of a request, decided by the first command issued for it (as Ramulator 2).
HIT, MISS, CONFLICT = 0, 1, 2

NEVER = np.int64(-(1 << 50))   # "no command yet" in the history
FAR = np.int64(1 << 60)        # "not ready in this batch"

# Indices into the integer parameter vector ``par`` (built by ``hbm.HbmSpec.kernel_params``).
P_CHANNELS, P_PCS, P_BGS, P_BANKS = 0, 1, 2, 3
P_RQ, P_WQ, P_AQ, P_PQ = 4, 5, 6, 7
P_WR_HIGH, P_WR_LOW = 8, 9          # write-queue watermarks, in entries (enter > high, leave < low)
P_READ_LAT, P_WRITE_LAT = 10, 11    # RD -> data done (CL + BL); WR -> data done (CWL + BL)
P_REFI, P_RFC = 12, 13
P_CLOSED_PAGE = 14
P_FRONTEND = 15                     # requests the frontend may inject per tick
P_HIST = 16                         # longest rule window
# Per-bank refresh: P_REFI is then tREFIpb and P_RFC tRFCpb (REFpb -> ACT, same bank); P_RREFD is
# REFpb -> ACT / REFpb on the other banks of the pseudo channel.
P_PER_BANK_REF, P_RREFD = 17, 18
N_PARAMS = 19

# Indices into the per-channel statistics array ``chst[c, :]``.
S_READS, S_WRITES, S_HITS, S_MISSES, S_CONFLICTS, S_ACTS, S_PRES, S_REFS, S_LAST_TICK, \
    S_TURNS = range(10)          # S_TURNS: read<->write mode switches of the controller
N_CH_STATS = 10

# Columns of the per-channel counter array ``counts[channel]`` (``new_scratch``).
C_RN, C_WN, C_AN, C_WAKE, C_HQ_R, C_HQ_W, C_AQ_WAKE = range(7)
C_PLEN, C_PWAKE, C_PMASK = 7, 9, 11   # + 0 for the read queue, + 1 for the write queue
N_COUNTS = 13
# int64 words per channel of the ``counts`` work array: the kernel's ``Chan`` record, its
# counters (``C_*``) first
CHAN_WORDS = 32


CACHE_LINE_BYTES = 64


def line_aligned(shape, fill: int = 0) -> np.ndarray:
    """An int64 array of ``shape`` filled with ``fill`` whose data starts on a cache line.

    NOTE(perf): see scripts/bench_dram.py -- the kernel's 64-byte records (a bank's ``Bank``, a
    node's eight ready clocks) then each lie in one line; numpy aligns to 16 bytes, which split
    every record over two lines (8-channel mixed traffic: 7.4 -> 5.2 L1 misses per request in
    cachegrind; about 1 % of the time).
    """
    n = int(np.prod(shape))
    buf = np.empty(n * 8 + CACHE_LINE_BYTES, dtype=np.uint8)
    skip = -buf.__array_interface__["data"][0] % CACHE_LINE_BYTES
    out = buf[skip:skip + n * 8].view(np.int64).reshape(shape)
    out.fill(fill)
    return out


def new_state(n_channels: int, n_pcs: int, n_bgs: int, n_banks: int, hist: int, queue_caps
              ) -> dict:
    """Fresh device state: every bank closed, no command history, refresh due at tREFI.

    Args:
        n_channels, n_pcs, n_bgs, n_banks: organization (pseudo channels per channel, bank groups
            per pseudo channel, banks per bank group).
        hist: longest rule window (4 for tFAW).
        queue_caps: (read, write, active, priority) queue capacities per channel.
    """
    n_pc_nodes = n_channels * n_pcs
    n_bg_nodes = n_pc_nodes * n_bgs
    n_bank_nodes = n_bg_nodes * n_banks
    n_nodes = n_channels + n_pc_nodes + n_bg_nodes + n_bank_nodes
    rq, wq, aq, pq = queue_caps
    return {
        "ready": line_aligned((n_nodes, N_COMMANDS), NEVER),
        "hist": line_aligned((n_nodes, N_COMMANDS, hist), NEVER),
        "open_row": np.full(n_bank_nodes, -1, dtype=np.int64),
        "next_ref": np.zeros(n_channels, dtype=np.int64),   # set by the caller (tREFI)
        "write_mode": np.zeros(n_channels, dtype=np.bool_),
        "pq": np.zeros((n_channels, max(pq, 1)), dtype=np.int64),
        "pq_n": np.zeros(n_channels, dtype=np.int64),
        "chst": np.zeros((n_channels, N_CH_STATS), dtype=np.int64),
        "clock": np.zeros(1, dtype=np.int64),               # last tick simulated
        "caps": np.array([rq, wq, aq, pq], dtype=np.int64),
    }


def unkept_commands(closed_page: bool, per_bank_refresh: bool) -> tuple[int, ...]:
    """Commands whose ready clocks ``simulate_batch`` does not keep in ``state["ready"]``: those the
    replay never issues nor asks the ready tick of -- RDA / WRA with an open page policy, PREA /
    REF with per-bank refresh. NOTE(perf): see scripts/bench_dram.py -- the bank commands skip
    the rules to them (ACT 14 -> 12 rules, RD 8 -> 5, WR 10 -> 6 on HBM2); those clocks go stale,
    unread. The kernel (``list_bank_rules``) takes the same choice from ``par``."""
    return (() if closed_page else (RDA, WRA)) + ((PREA, REF) if per_bank_refresh else ())


def kept_clocks(ready: np.ndarray, closed_page: bool, per_bank_refresh: bool) -> np.ndarray:
    """``state["ready"]`` ([node, command]) with the clocks of ``unkept_commands`` set to NEVER:
    the part of the device state a replay's future depends on."""
    out = np.array(ready, copy=True)
    out[:, list(unkept_commands(closed_page, per_bank_refresh))] = NEVER
    return out


def new_scratch(n_channels: int, queue_slots: int, n_bank_nodes: int):
    """Work arrays for ``simulate_batch``; the kernel allocates nothing and resets them per batch.

    Returns (queues ``[channel, 7, 2 * queue_slots]``: request ids of the read, write and active
    queue, their packed keys, and the active queue's arrival ticks -- a read or write queue starts
    at its head, a pointer in ``Chan``; one record per channel ``[channel, CHAN_WORDS]`` (the
    kernel's ``Chan``: first its ``N_COUNTS`` counters -- queue lengths, wake tick, row hits queued
    in the read / write queue, next tick the active queue needs a look, per read / write queue the
    row scan's known-not-ready prefix: length, wake bound, bank bitmask, see ``_scan_row`` --,
    then its part of the device state and pointers the kernel sets); and
    one 64-byte record per bank ``[bank, 8]`` (the kernel's ``Bank``: the ready clocks of ACT,
    PRE, RD and WR on its node, a lower bound on the tick of its next row command, then int32 its
    open row and per read / write queue the XOR of the rows queued, then int16 its activated
    requests and per queue the row hits and the requests queued; ``bank_records``). The kernel
    copies the device state's part in at the start of a batch and back at its end. NOTE(perf):
    see scripts/bench_dram.py -- channel-major queues, one record per channel, one cache line per
    bank.
    """
    return (line_aligned((n_channels, 7, 2 * max(queue_slots, 1))),
            line_aligned((n_channels, CHAN_WORDS)),
            line_aligned((n_bank_nodes, 8)))


# Layout of the per-command rule table ``fast`` (``command_rule_table``):
# ``fast[F_DENSE + (cmd * N_LEVELS + level) * N_COMMANDS + next]`` is the latency of the window-1
# rule (level, cmd -> next), or NO_RULE where there is none (a dense 8-entry row per key);
# ``fast[F_WPTR + cmd * N_LEVELS + level]`` .. ``[... + 1]`` delimit the (next, latency, window)
# triples of the key's windowed rules (tFAW), as absolute indices into ``fast``;
# ``fast[F_WINDOWED + cmd]`` is 1 when some level has a windowed rule for ``cmd``.
F_WPTR = 0
F_WINDOWED = N_COMMANDS * N_LEVELS + 1
F_DENSE = F_WINDOWED + N_COMMANDS
F_DATA = F_DENSE + N_COMMANDS * N_LEVELS * N_COMMANDS
# "No rule" latency in the dense rows: t + NO_RULE is below every ready clock (>= NEVER), so
# ``max(ready, t + NO_RULE)`` leaves the clock as it is (and cannot overflow).
NO_RULE = np.int64(-(1 << 60))


def command_rule_table(con_ptr, con_next, con_lat, con_win) -> np.ndarray:
    """The CSR rule table regrouped per issued command (see ``F_DENSE``) for
    ``issue_bank_command``: the same rules, found without walking keys or testing windows."""
    n_keys = N_COMMANDS * N_LEVELS
    triples: list[int] = []
    wptr = np.zeros(n_keys + 1, dtype=np.int64)
    windowed = np.zeros(N_COMMANDS, dtype=np.int64)
    dense = np.full((N_COMMANDS, N_LEVELS, N_COMMANDS), NO_RULE, dtype=np.int64)
    for cmd in range(N_COMMANDS):
        for level in range(N_LEVELS):
            wptr[cmd * N_LEVELS + level] = len(triples)
            key = level * N_COMMANDS + cmd
            for k in range(con_ptr[key], con_ptr[key + 1]):
                if con_win[k] == 1:
                    nxt = int(con_next[k])
                    dense[cmd, level, nxt] = max(dense[cmd, level, nxt], int(con_lat[k]))
                else:
                    triples += [int(con_next[k]), int(con_lat[k]), int(con_win[k])]
                    windowed[cmd] = 1
    wptr[n_keys] = len(triples)
    wptr += F_DATA
    return np.concatenate([wptr, windowed, dense.ravel(), np.array(triples, dtype=np.int64)]
                          ).astype(np.int64)




# ------------------------------------------------------------------------ the compiled kernel
_EXTENSION = "accelsim.hw._dram_kernel"
_I64, _PTR = ctypes.c_int64, ctypes.c_void_p
# Argument kinds of each C entry point: "i" an integer, "p" an array (see _library).
_SIGNATURES = {
    "dram_simulate_batch": "i" + "p" * 3 + "ii" + "p" * 13 + "ip" + "p" * 6 + "ip" + "pi",
    "dram_issue_command": "ppip" + "i" * 7 + "p" + "ii" + "pppp" + "pi",
    "dram_issue_bank_command": "ppip" + "i" * 5 + "pp" + "ii" + "pi",
    "dram_ready_tick": "ppi" + "iiii" + "p" + "ii" + "pi",
    "dram_scan_row": "pii" + "ppp" + "ii" + "pi" + "i" + "p" + "i" + "p",
    "dram_scan_column": "piiii" + "ppp" + "ii" + "pi" + "ip",
    "dram_scan_active": "ppii" + "ppp" + "ii" + "pi" + "ip",
    "dram_touch_bank": "pii",
    "dram_cpu_has_avx2": "",
}
# dram_kernel_avx2.c: the batch function built again for AVX2 (x86 with GCC; absent elsewhere)
_AVX2_BATCH = "dram_simulate_batch_avx2"
_RETURNS_INT = {"dram_simulate_batch", _AVX2_BATCH, "dram_ready_tick", "dram_cpu_has_avx2"}
_lib = None
_batch = None   # the batch function simulate_batch calls: batch_variants()'s first


def _library():
    """The built extension, loaded once. A checkout that was never installed has none: say how to
    build it instead of failing inside ctypes."""
    global _lib, _batch
    if _lib is None:
        spec = importlib.util.find_spec(_EXTENSION)
        if spec is None or not spec.origin:
            raise SimulationError(
                "the bank-level HBM kernel is not built (accelsim/hw/dram_kernel.c): run "
                "`pip install -e .` in the accelsim checkout (it needs a C compiler), or use "
                "memory impl 'analytical'")
        lib = ctypes.CDLL(spec.origin)
        signatures = dict(_SIGNATURES)
        if hasattr(lib, _AVX2_BATCH):
            signatures[_AVX2_BATCH] = signatures["dram_simulate_batch"]
        for name, kinds in signatures.items():
            fn = getattr(lib, name)
            fn.argtypes = [_I64 if k == "i" else _PTR for k in kinds]
            fn.restype = _I64 if name in _RETURNS_INT else None
        _check_built_from_this_source(lib, spec.origin)
        _lib = lib
        _batch = next(iter(batch_variants().values()))
    return _lib


def batch_variants() -> dict:
    """The builds of the batch function this library and CPU can run, fastest first:
    ``"avx2"`` (dram_kernel_avx2.c: the same source compiled for AVX2; x86 with GCC, on a CPU
    that has it) and ``"portable"``. They give the same results (tests/hw)."""
    lib = _library()
    variants = {}
    if hasattr(lib, _AVX2_BATCH) and lib.dram_cpu_has_avx2():
        variants["avx2"] = getattr(lib, _AVX2_BATCH)
    variants["portable"] = lib.dram_simulate_batch
    return variants


def source_hash(source: bytes) -> str:
    """What setup.py compiles into the library (``DRAM_SOURCE_HASH``)."""
    return hashlib.sha256(source).hexdigest()[:16]


def _check_built_from_this_source(lib, path: str) -> None:
    """A library built from another version of dram_kernel.c (a checkout edited or pulled without
    rebuilding) may lay out its arrays differently: refuse it with the way out, never run it."""
    lib.dram_source_hash.restype = ctypes.c_char_p
    built = lib.dram_source_hash().decode()
    source = Path(__file__).with_suffix(".c")
    if built and source.is_file() and built != source_hash(source.read_bytes()):
        raise SimulationError(
            f"{path}: the compiled DRAM kernel was built from another version of "
            f"{source.name}; rebuild it: `pip install -e .` (or `python setup.py build_ext "
            f"--inplace`) in the accelsim checkout")


_DTYPES = {np.dtype(np.int64), np.dtype(np.bool_), np.dtype(np.int8)}


def _ptr(a: np.ndarray) -> int:
    """Address of a C-contiguous int64 / bool / int8 array (the kernel's only argument types);
    anything else would be read as the wrong bytes, so it is refused."""
    if a.dtype not in _DTYPES or not a.flags.c_contiguous:
        raise TypeError(f"DRAM kernel arrays are C-contiguous int64/bool/int8, got {a.dtype} "
                        f"(contiguous: {a.flags.c_contiguous})")
    # NOTE(perf): see scripts/bench_dram.py -- a writable array's address through the buffer
    # protocol (0.3 us) rather than __array_interface__ (1.2 us): a batch passes ~27 arrays, and
    # the engine's windowed transfers make hundreds of small batches per decode step
    if a.flags.writeable and a.nbytes:
        return ctypes.addressof(ctypes.c_char.from_buffer(a))
    return a.__array_interface__["data"][0]


def simulate_batch(req_key, req_write, inject_tick, chase, start_tick, par, offs,
                   con_ptr, con_next, con_lat, con_win, fast,
                   ready, hist, open_row, next_ref, write_mode, pq, pq_n, chst, clock,
                   arrive, done_tick, outcome, scratch, counts, banks) -> int:
    """Replay one batch of requests; fills ``arrive``, ``done_tick`` and ``outcome`` per request.

    Args:
        req_key: ``bank << 32 | row`` of each request (bank = flat bank index over all channels;
            its channel, pseudo channel and bank group follow from the organization in ``par``:
            the sizes of the levels are powers of two, so they are shifts of it).
        req_write: direction of each request.
        inject_tick: earliest tick the frontend may inject each request (requests go in order);
            None: every request from ``start_tick``.
        chase: if true, request i+1 is injected only after request i completes (pointer chasing).
        start_tick: tick of the first frontend slot.
        par: integer parameters (``P_*``); offs: first node index of each level.
        con_*: the rule table in CSR form keyed by (level, prev command) (``hbm.RuleTable``);
            fast: the same rules regrouped per issued command (``command_rule_table``).
        ready ... clock: device state (updated in place; see ``new_state``).
        arrive, done_tick, outcome: outputs (tick the request entered its queue, tick its data
            transfer finished, HIT/MISS/CONFLICT).
        scratch, counts, banks: work arrays from ``new_scratch`` (queues, per-channel counters,
            per-bank records); the kernel allocates nothing.

    Returns:
        The tick at which the last request finished.
    """
    n = req_key.shape[0]
    for a in (req_write, arrive, done_tick, outcome) + (
            () if inject_tick is None else (inject_tick,)):
        if a.shape[0] != n:
            raise ValueError(f"request arrays differ in length: {a.shape[0]} != {n}")
    _library()
    return int(_batch(
        n, _ptr(req_key), _ptr(req_write),
        None if inject_tick is None else _ptr(inject_tick), int(bool(chase)), int(start_tick),
        _ptr(par),
        _ptr(offs), _ptr(con_ptr), _ptr(con_next), _ptr(con_lat), _ptr(con_win), _ptr(fast),
        _ptr(ready), _ptr(hist), _ptr(open_row), _ptr(next_ref), _ptr(write_mode), _ptr(pq),
        pq.shape[1], _ptr(pq_n), _ptr(chst), _ptr(clock), _ptr(arrive), _ptr(done_tick),
        _ptr(outcome), _ptr(scratch), scratch.shape[2], _ptr(counts), _ptr(banks),
        banks.shape[0]))


# Entry points of the kernel's parts, for the unit tests (same arguments as the C functions).
def issue_command(ready, hist, open_row, cmd, t, n0, n1, n2, n3, row, offs, n_bgs, n_banks,
                  con_ptr, con_next, con_lat, con_win):
    """Record ``cmd`` issued at tick ``t`` on the node path (n0 channel, n1 PC, n2 BG, n3 bank):
    every rule's ready clock and the bank state (the rule table's CSR walk). PREA/REF
    (n2 = n3 = -1) act on all bank groups and banks of the pseudo channel."""
    banks = bank_records(len(open_row))
    _library().dram_issue_command(_ptr(ready), _ptr(hist), hist.shape[2], _ptr(open_row), cmd, t,
                                  n0, n1, n2, n3, row, _ptr(offs), n_bgs, n_banks, _ptr(con_ptr),
                                  _ptr(con_next), _ptr(con_lat), _ptr(con_win), _ptr(banks),
                                  len(banks))


def issue_bank_command(ready, hist, open_row, cmd, t, c, bank, row, offs, fast, n_bgs, n_banks):
    """``issue_command`` for a command on flat bank ``bank`` of channel ``c``, from the
    per-command table ``fast``."""
    banks = bank_records(len(open_row))
    _library().dram_issue_bank_command(_ptr(ready), _ptr(hist), hist.shape[2], _ptr(open_row),
                                       cmd, t, c, bank, row, _ptr(offs), _ptr(fast), n_bgs,
                                       n_banks, _ptr(banks), len(banks))


def ready_tick(ready, cmd, n0, n1, n2, n3, offs, n_bgs, n_banks) -> int:
    """Earliest tick at which ``cmd`` meets every rule on its node path (all banks for
    PREA/REF); ``ready`` is the flattened ``[node, command]`` array."""
    n_bank_nodes = ready.shape[0] // N_COMMANDS - int(offs[3])
    banks = bank_records(n_bank_nodes)
    closed = np.full(n_bank_nodes, -1, dtype=np.int64)   # open rows: not read
    return int(_library().dram_ready_tick(_ptr(ready), _ptr(closed), cmd, n0, n1, n2, n3,
                                          _ptr(offs), n_bgs, n_banks, _ptr(banks), len(banks)))


# An active-queue key carries its request's direction in this bit (WRITE_BIT in the C file; rows
# are below 2^30, hbm.ORG_MAX).
ACTIVE_WRITE_BIT = 31


# Where the kernel's ``Bank`` record (``new_scratch``) keeps its row bound (int64 word) and its
# activated requests (int16 word).
BANK_ROW_BOUND, BANK_ACTIVE = 4, 26


def bank_records(n_banks: int, row_bound=None, active_per_bank=None) -> np.ndarray:
    """The kernel's per-bank records ``[bank, 8]`` (``new_scratch``) of ``n_banks`` banks holding
    the row bounds ``row_bound[bank]`` (default NEVER: none known) and the activated-request
    counts; the kernel's entry points copy the clocks and open rows in from the device state."""
    banks = np.zeros((n_banks, 8), dtype=np.int64)
    banks[:, BANK_ROW_BOUND] = NEVER if row_bound is None else row_bound[:n_banks]
    if active_per_bank is not None:
        banks.view(np.int16)[:, BANK_ACTIVE] = active_per_bank[:n_banks]
    return banks


def _scan_row(keys, c, n, open_row, active_per_bank, ready, row_bound, offs, n_bgs, n_banks,
              clk, counts, q):
    """The row pick of queue ``q`` (0 read, 1 write) of channel ``c``: (slot, command, wake);
    ``row_bound`` (one per bank) takes the bounds the scan sets."""
    out = np.zeros(3, dtype=np.int64)
    banks = bank_records(len(open_row), row_bound, active_per_bank)
    _library().dram_scan_row(_ptr(keys[c]), c, n, _ptr(open_row), _ptr(ready), _ptr(offs),
                             n_bgs, n_banks, _ptr(banks), len(banks), clk, _ptr(counts), q,
                             _ptr(out))
    row_bound[:len(banks)] = banks[:, BANK_ROW_BOUND]
    return int(out[0]), int(out[1]), int(out[2])


def _scan_column(keys, c, n, cmd, open_row, ready, offs, n_bgs, n_banks, clk, blocked=-1):
    """The column pick of a read or write queue of channel ``c``: (slot, wake); bank ``blocked``
    (a pending REFpb's) takes no hits."""
    out = np.zeros(2, dtype=np.int64)
    banks = bank_records(len(open_row))
    _library().dram_scan_column(_ptr(keys[c]), c, n, cmd, blocked, _ptr(open_row), _ptr(ready),
                                _ptr(offs), n_bgs, n_banks, _ptr(banks), len(banks), clk,
                                _ptr(out))
    return int(out[0]), int(out[1])


def _scan_active(aq, aqk, c, n, req_write, arrive, open_row, ready, offs, n_bgs, n_banks, clk):
    """The column pick of channel ``c``'s active queue (activated requests: each a row hit):
    (slot, RD/WR, wake). The kernel keeps an entry's direction in its key (``ACTIVE_WRITE_BIT``)
    and its arrival tick beside it: built here from ``req_write`` and ``arrive``."""
    out = np.zeros(3, dtype=np.int64)
    ids = aq[c][:n]
    keys = aqk[c][:n] | (req_write[ids].astype(np.int64) << ACTIVE_WRITE_BIT)
    arr = np.ascontiguousarray(arrive[ids], dtype=np.int64)
    banks = bank_records(len(open_row))
    _library().dram_scan_active(_ptr(keys), _ptr(arr), c, n, _ptr(open_row), _ptr(ready),
                                _ptr(offs), n_bgs, n_banks, _ptr(banks), len(banks), clk,
                                _ptr(out))
    return int(out[0]), int(out[1]), int(out[2])


def _touch_bank(counts, c, bank):
    """``bank`` changed state: drop a row-scan prefix of channel ``c`` that holds one of its
    requests."""
    _library().dram_touch_bank(_ptr(counts), c, bank)
