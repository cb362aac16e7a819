"""Bank-level DRAM command scheduler: one numba kernel that replays a batch of requests.

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
  only that bank; the other banks keep serving (``_refresh_bank``);
* timing as data: ``rules`` rows ``(level, prev, next, latency, window)`` are applied to per-node
  "ready at" clocks, exactly as the rule table in ``arch_configs/memory/standards/hbm.yaml`` says.

States of a bank: ``closed`` -> ACT -> ``open(row)`` -> PRE / PREA / RDA / WRA -> ``closed``; REF
needs all banks of its pseudo channel closed. Times are integer ticks of tCK; nothing here knows ns.

What it ignores: read-after-write forwarding, power-down, the command-address
bus's bank-address fields, data-bus ODT/parity, and HBM3's half-cycle ACT (ACT is ``command_cycles``
whole cycles).

The kernel is a pure function of its arguments (arrays in, arrays out, state arrays updated in
place), so tests call it directly with hand-made command sequences.
"""

from __future__ import annotations

import numpy as np
from numba import njit

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

# Rows of the per-channel counter array ``counts`` (``new_scratch``).
C_RN, C_WN, C_AN, C_WAKE, C_HQ_R, C_HQ_W, C_AQ_WAKE = range(7)
C_PLEN, C_PWAKE, C_PMASK = 7, 9, 11     # + 0 for the read queue, + 1 for the write queue
N_COUNTS = 13


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
        "ready": np.full((n_nodes, N_COMMANDS), NEVER, dtype=np.int64),
        "hist": np.full((n_nodes, N_COMMANDS, hist), NEVER, dtype=np.int64),
        "open_row": np.full(n_bank_nodes, -1, dtype=np.int64),
        "next_ref": np.zeros(n_channels, dtype=np.int64),   # set by the caller (tREFI)
        "write_mode": np.zeros(n_channels, dtype=np.bool_),
        "pq": np.zeros((n_channels, max(pq, 1)), dtype=np.int64),
        "pq_n": np.zeros(n_channels, dtype=np.int64),
        "chst": np.zeros((n_channels, N_CH_STATS), dtype=np.int64),
        "clock": np.zeros(1, dtype=np.int64),               # last tick simulated
        "caps": np.array([rq, wq, aq, pq], dtype=np.int64),
    }


def new_scratch(n_channels: int, queue_slots: int, n_bank_nodes: int):
    """Work arrays for ``simulate_batch``; the kernel allocates nothing and resets them per batch.

    Returns (queues of request ids and packed keys ``[6, channel, slot]``, per-channel counters
    ``[N_COUNTS, channel]`` (queue lengths, wake tick, row hits queued in the read / write queue,
    next tick the active queue needs a look, and per read / write queue the row scan's
    known-not-ready prefix: length, wake bound, bank bitmask -- see ``_scan_row``),
    activated requests per bank, row hits queued per bank ``[2, bank]`` (read / write queue), and
    a lower bound on each bank's ready tick per command ``[bank * N_COMMANDS + cmd]``).
    """
    return (np.zeros((6, n_channels, max(queue_slots, 1)), dtype=np.int64),
            np.zeros((N_COUNTS, n_channels), dtype=np.int64),
            np.zeros(n_bank_nodes, dtype=np.int64),
            np.zeros((2, n_bank_nodes), dtype=np.int64),
            np.zeros(n_bank_nodes * N_COMMANDS, dtype=np.int64))


def _jit(**options):
    """``njit`` for the kernel: machine code cached on disk, no numba runtime.

    The cache (``cache=True``) lives in ``__pycache__`` next to this file (an editable install or
    a clone: git ignores it), else in the user-wide cache directory, or in ``NUMBA_CACHE_DIR``
    when set; it is keyed by this file (numba 0.68: a hash of its content), so an edit
    recompiles. Only the first process after an install or an edit pays the compilation
    (``scripts/bench_dram.py`` prints both times). Where no cache directory is writable numba refuses ``cache=True``; the
    kernel then compiles in every process instead of failing to import.

    NOTE(perf): see scripts/bench_dram.py -- every kernel function is compiled without the numba
    runtime (_nrt=False): no array is allocated inside, so no atomic reference counting runs in
    the per-tick loop (it was half of the run time).
    """
    def wrap(fn):
        try:
            return njit(cache=True, _nrt=False, **options)(fn)
        except RuntimeError:          # "cannot cache function ...: no locator available"
            return njit(_nrt=False, **options)(fn)
    return wrap


@_jit(inline="always")
def _apply(ready, hist, node, level, cmd, t, con_ptr, con_next, con_lat, con_win):
    k0 = con_ptr[level * N_COMMANDS + cmd]
    k1 = con_ptr[level * N_COMMANDS + cmd + 1]
    if k0 == k1:
        return
    # NOTE(perf): see scripts/bench_dram.py -- the history is read only by windowed rules (sorted
    # first in their key by hbm.compile_rules), so only keys that have one record it; a window-1
    # rule measures from this command, at t.
    if con_win[k0] > 1:
        h = hist.shape[2]
        for w in range(h - 1, 0, -1):
            hist[node, cmd, w] = hist[node, cmd, w - 1]
        hist[node, cmd, 0] = t
    j0 = node * N_COMMANDS
    for k in range(k0, k1):
        w = con_win[k]
        past = t if w == 1 else hist[node, cmd, w - 1]
        if past > NEVER:
            v = past + con_lat[k]
            j = j0 + con_next[k]
            if v > ready[j]:
                ready[j] = v


@_jit()
def issue_command(ready, hist, open_row, cmd, t, n0, n1, n2, n3, row, offs, n_bgs, n_banks,
                  con_ptr, con_next, con_lat, con_win):
    """Record ``cmd`` issued at tick ``t`` on the node path (n0 channel, n1 PC, n2 BG, n3 bank).

    Updates every rule's ready clock and the bank state. PREA/REF (n2 = n3 = -1) act on all bank
    groups and banks of the pseudo channel.
    """
    _apply(ready, hist, n0, 0, cmd, t, con_ptr, con_next, con_lat, con_win)
    _apply(ready, hist, n1, 1, cmd, t, con_ptr, con_next, con_lat, con_win)
    if n2 >= 0:
        _apply(ready, hist, n2, 2, cmd, t, con_ptr, con_next, con_lat, con_win)
        _apply(ready, hist, n3, 3, cmd, t, con_ptr, con_next, con_lat, con_win)
        b = n3 - offs[3]
        if cmd == ACT:
            open_row[b] = row
        elif cmd == PRE or cmd == RDA or cmd == WRA:
            open_row[b] = -1
    else:
        pc = n1 - offs[1]
        g0 = offs[2] + pc * n_bgs
        for g in range(g0, g0 + n_bgs):
            _apply(ready, hist, g, 2, cmd, t, con_ptr, con_next, con_lat, con_win)
        b0 = pc * n_bgs * n_banks
        for b in range(b0, b0 + n_bgs * n_banks):
            _apply(ready, hist, offs[3] + b, 3, cmd, t, con_ptr, con_next, con_lat, con_win)
            if cmd == PREA:
                open_row[b] = -1


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


@_jit(inline="always")
def _apply_windowed(ready, hist, node, cmd, t, k0, k1, fast):
    """The windowed rules ``fast[k0:k1]`` (triples) of one key: record ``t`` in the history and
    measure each rule from the command ``window - 1`` issues back."""
    if k0 == k1:
        return
    h = hist.shape[2]
    for w in range(h - 1, 0, -1):
        hist[node, cmd, w] = hist[node, cmd, w - 1]
    hist[node, cmd, 0] = t
    j0 = node * N_COMMANDS
    for k in range(k0, k1, 3):
        past = hist[node, cmd, fast[k + 2] - 1]
        if past > NEVER:
            j = j0 + fast[k]
            ready[j] = max(ready[j], past + fast[k + 1])


@_jit(inline="always")
def _apply_dense(ready, node, t, fast, k0):
    """One key's dense row ``fast[k0:k0 + N_COMMANDS]``: ``ready = max(ready, t + latency)`` for
    every next command of ``node`` (NO_RULE entries leave the clock unchanged)."""
    j0 = node * N_COMMANDS
    for k in range(N_COMMANDS):
        ready[j0 + k] = max(ready[j0 + k], t + fast[k0 + k])


@_jit(inline="always")
def issue_bank_command(ready, hist, open_row, cmd, t, n0, n1, n2, n3, row, offs, fast):
    """``issue_command`` for a command on one bank (ACT, PRE, RD, WR, RDA, WRA): same clocks.

    NOTE(perf): see scripts/bench_dram.py -- the rules of the issued command are read from the
    per-command table ``fast`` (``command_rule_table``): per level one dense row of 8 latencies
    (one per next command, NO_RULE where there is no rule, duplicates merged into the largest),
    applied as a fixed-length, branch-free ``ready = max(ready, t + latency)`` over the node's 8
    clocks; the history and the windowed rules are visited only for commands that have one (ACT:
    tFAW). Every rule is a ``max`` into a ready clock, so applying the same set of rules in
    another order, or a NO_RULE entry (t + NO_RULE < NEVER), gives the same clocks.
    """
    base = cmd * N_LEVELS
    d = F_DENSE + base * N_COMMANDS
    _apply_dense(ready, n0, t, fast, d)
    _apply_dense(ready, n1, t, fast, d + N_COMMANDS)
    _apply_dense(ready, n2, t, fast, d + 2 * N_COMMANDS)
    _apply_dense(ready, n3, t, fast, d + 3 * N_COMMANDS)
    if fast[F_WINDOWED + cmd] != 0:
        w = F_WPTR + base
        _apply_windowed(ready, hist, n0, cmd, t, fast[w], fast[w + 1], fast)
        _apply_windowed(ready, hist, n1, cmd, t, fast[w + 1], fast[w + 2], fast)
        _apply_windowed(ready, hist, n2, cmd, t, fast[w + 2], fast[w + 3], fast)
        _apply_windowed(ready, hist, n3, cmd, t, fast[w + 3], fast[w + 4], fast)
    b = n3 - offs[3]
    if cmd == ACT:
        open_row[b] = row
    elif cmd == PRE or cmd == RDA or cmd == WRA:
        open_row[b] = -1


@_jit(inline="always")
def _path_ready(ready, cmd, n0, n1, n2, n3):
    """``ready_tick`` of a bank command: the latest ready clock on the path channel .. bank."""
    t = ready[n0 * N_COMMANDS + cmd]
    a = ready[n1 * N_COMMANDS + cmd]
    if a > t:
        t = a
    a = ready[n2 * N_COMMANDS + cmd]
    if a > t:
        t = a
    a = ready[n3 * N_COMMANDS + cmd]
    if a > t:
        t = a
    return t


# NOTE(perf): see scripts/bench_dram.py -- ``ready_tick`` and ``issue_command`` (the all-bank
# paths of PREA/REF; the bank commands use ``_path_ready`` / ``issue_bank_command``) are compiled
# once and called, not inlined: refresh is rare, and every inlined copy of their loops added to
# the first-run compilation (numba's IR inlining and SSA passes grow with the function).
@_jit()
def ready_tick(ready, cmd, n0, n1, n2, n3, offs, n_bgs, n_banks):
    """Earliest tick at which ``cmd`` meets every rule on its node path (all banks for PREA/REF).

    ``ready`` is the flattened ``[node, command]`` array.
    """
    if n2 >= 0:
        return _path_ready(ready, cmd, n0, n1, n2, n3)
    t = ready[n0 * N_COMMANDS + cmd]
    a = ready[n1 * N_COMMANDS + cmd]
    if a > t:
        t = a
    pc = n1 - offs[1]
    g0 = offs[2] + pc * n_bgs
    for g in range(g0, g0 + n_bgs):
        a = ready[g * N_COMMANDS + cmd]
        if a > t:
            t = a
    b0 = offs[3] + pc * n_bgs * n_banks
    for b in range(b0, b0 + n_bgs * n_banks):
        a = ready[b * N_COMMANDS + cmd]
        if a > t:
            t = a
    return t


@_jit(inline="always")
def _next_cmd(open_row, bank, row, write):
    r = open_row[bank]
    if r == row:
        return WR if write else RD
    if r < 0:
        return ACT
    return PRE


@_jit(inline="always")
def _remove(buf, keys, c, i, n):
    for j in range(i, n - 1):
        buf[c, j] = buf[c, j + 1]
        keys[c, j] = keys[c, j + 1]


@_jit(inline="always")
def _set_write_mode(write_mode, c, rn, wn, hi, lo):
    if not write_mode[c]:
        if wn > hi or rn == 0:
            write_mode[c] = True
    else:
        if wn < lo and rn != 0:
            write_mode[c] = False


@_jit(inline="always")
def _bank_ready(ready_lb, ready, cmd, c, r, bank, req_n1, req_n2, req_n3, offs, n_bgs, n_banks,
                clk):
    """``ready_tick`` of ``cmd`` at request ``r``'s bank, or a lower bound on it when that bound
    already shows the command cannot issue at ``clk``.

    NOTE(perf): see scripts/bench_dram.py -- every ``ready`` clock only ever grows (rules apply
    ``max``), so a bank's ready tick computed once stays a lower bound for the rest of the batch:
    while it is > clk the command is not ready and the 4-level path need not be re-read. Callers
    use the value as "wake no earlier than", which a lower bound keeps safe (at worst one extra
    wake-up of the channel, never a skipped issue).
    """
    j = bank * N_COMMANDS + cmd
    t = ready_lb[j]
    if t <= clk:
        t = _path_ready(ready, cmd, c, req_n1[r], req_n2[r], req_n3[r])
        ready_lb[j] = t
    return t


@_jit(inline="always")
def _scan_active(aq, aqk, c, n, req_n1, req_n2, req_n3, req_write, arrive, open_row, ready,
                 ready_lb, offs, n_bgs, n_banks, clk):
    """FR-FCFS column pick in the active queue: (slot or -1, RD/WR, earliest tick at which an
    entry other than the pick may be ready).

    Every entry is a row hit (its ACT opened the row, and nothing closes a bank with an active
    request); among the ready ones the oldest arrival wins, ties to the earlier slot.
    """
    best = -1
    best_cmd = -1
    best_arr = FAR
    wake = FAR
    n_ready = 0
    for i in range(n):
        key = aqk[c, i]
        bank = key >> 32
        if open_row[bank] != (key & 0xFFFFFFFF):
            continue
        r = aq[c, i]
        cmd = WR if req_write[r] else RD
        t = _bank_ready(ready_lb, ready, cmd, c, r, bank, req_n1, req_n2, req_n3, offs, n_bgs,
                        n_banks, clk)
        if t <= clk:
            n_ready += 1
            if arrive[r] < best_arr:
                best = i
                best_cmd = cmd
                best_arr = arrive[r]
        elif t < wake:
            wake = t
    if n_ready > 1:
        wake = clk   # another entry is ready too: look again next tick
    return best, best_cmd, wake


@_jit(inline="always")
def _scan_column(buf, keys, c, n, cmd, req_n1, req_n2, req_n3, open_row, ready, ready_lb, offs,
                 n_bgs, n_banks, clk, blocked=-1):
    """FR-FCFS column pick in a read or write queue (kept in arrival order): the first row hit
    whose ``cmd`` (RD or WR) is ready -> (slot or -1, earliest tick not ready). Bank ``blocked``
    (a pending REFpb's, or -1) takes no new hits, so its PRE is not put off."""
    wake = FAR
    for i in range(n):
        # NOTE(perf): see scripts/bench_dram.py -- decode the slot from its packed key (one
        # contiguous load) and touch the request arrays only for slots that pass the filter.
        key = keys[c, i]
        bank = key >> 32
        if open_row[bank] != (key & 0xFFFFFFFF) or bank == blocked:
            continue
        t = _bank_ready(ready_lb, ready, cmd, c, buf[c, i], bank, req_n1, req_n2, req_n3, offs,
                        n_bgs, n_banks, clk)
        if t <= clk:
            return i, wake
        if t < wake:
            wake = t
    return -1, wake


@_jit(inline="always")
def _scan_row(buf, keys, c, n, req_n1, req_n2, req_n3, open_row, active_per_bank, ready, ready_lb,
              offs, n_bgs, n_banks, clk, counts, q):
    """FR-FCFS row pick in a read or write queue (kept in arrival order): the first row miss (ACT)
    or conflict (PRE, unless an activated request waits on the bank) that is ready -> (slot or -1,
    command, earliest tick not ready).

    NOTE(perf): see scripts/bench_dram.py -- the scan remembers the slots it walked past without a
    pick (the queue's *prefix*: ``counts[C_PLEN + q]`` slots, none ready before
    ``counts[C_PWAKE + q]``, their banks in the bitmask ``counts[C_PMASK + q]``, bit ``bank & 63``)
    and starts the next scan after them. A prefix slot stays unready until that tick because
    ready clocks only grow, unless its bank changes state (ACT/PRE/PREA/RDA/WRA, or its last
    activated request leaves): those events drop the prefix (``_touch_bank``). New requests are
    appended behind it; a slot removed inside it shortens it.
    """
    start = counts[C_PLEN + q, c]
    wake = counts[C_PWAKE + q, c]
    mask = counts[C_PMASK + q, c]
    if clk >= wake:
        start = 0
        wake = FAR
        mask = 0
    # NOTE(perf): see scripts/bench_dram.py -- branch-light slot filter: a row hit or a conflict
    # whose bank has an activated request gets the "never" tick FAR (it is skipped, as before, and
    # FAR leaves ``wake`` unchanged); the others read their bank's lower bound on the ready tick of
    # their command (ACT = 0 if the bank is closed, PRE = 1 if open) with selects, not branches.
    # Only a slot whose bound has come (t <= clk) takes the exact 4-level path, so the result and
    # ``wake`` are those of the plain per-slot test.
    for i in range(start, n):
        key = keys[c, i]
        bank = key >> 32
        r_open = open_row[bank]
        is_open = r_open >= 0
        cmd = PRE if is_open else ACT
        skip = (r_open == (key & 0xFFFFFFFF)) | (is_open & (active_per_bank[bank] > 0))
        j = bank * N_COMMANDS + cmd
        t = ready_lb[j]
        t = FAR if skip else t
        if t <= clk:
            r = buf[c, i]
            t = _path_ready(ready, cmd, c, req_n1[r], req_n2[r], req_n3[r])
            ready_lb[j] = t
            if t <= clk:
                counts[C_PLEN + q, c] = i
                counts[C_PWAKE + q, c] = wake
                counts[C_PMASK + q, c] = mask
                return i, cmd, wake
        mask |= np.int64(1) << (bank & 63)
        wake = min(wake, t)
    counts[C_PLEN + q, c] = n
    counts[C_PWAKE + q, c] = wake
    counts[C_PMASK + q, c] = mask
    return -1, -1, wake


@_jit(inline="always")
def _touch_bank(counts, c, bank):
    """``bank`` changed state: drop a row-scan prefix that holds one of its requests."""
    bit = np.int64(1) << (bank & 63)
    for q in range(2):
        if counts[C_PMASK + q, c] & bit:
            counts[C_PLEN + q, c] = 0
            counts[C_PWAKE + q, c] = NEVER
            counts[C_PMASK + q, c] = 0


@_jit(inline="always")
def _drop_slot(counts, c, q, i):
    """Slot ``i`` of queue ``q`` left: the prefix (if it held the slot) is one shorter."""
    if i < counts[C_PLEN + q, c]:
        counts[C_PLEN + q, c] -= 1


@_jit(inline="always")
def _count_key(keys, c, n, key):
    k = 0
    for i in range(n):
        if keys[c, i] == key:
            k += 1
    return k


@_jit(inline="always")
def _close_bank(hits_per_bank, hq_r, hq_w, c, bank):
    """A bank closed: the row hits queued for it become misses."""
    hq_r[c] -= hits_per_bank[0, bank]
    hq_w[c] -= hits_per_bank[1, bank]
    hits_per_bank[0, bank] = 0
    hits_per_bank[1, bank] = 0


# ---- per-bank refresh (``P_PER_BANK_REF``) -------------------------------------------------
# A refresh-queue entry is ``p + n_pcs * k``: bank k (0 .. bank groups x banks - 1) of pseudo
# channel p. The bank of the REFpb due at tick ``s`` is ``(s // tREFIpb - 1) mod banks``: round
# robin, each bank once per ``banks`` slots, and the same order after the clocks are shifted.
@_jit(inline="always")
def _refpb_issue(ready, open_row, n1, n3, b, t, rfc_pb, rrefd):
    """REFpb on (closed) bank ``b`` at ``t``: no ACT to it for tRFCpb; no ACT to another bank of its
    pseudo channel, nor another REFpb (it waits as an ACT would), for tRREFD."""
    open_row[b] = -1
    j = n3 * N_COMMANDS + ACT
    ready[j] = max(ready[j], t + rfc_pb)
    j = n1 * N_COMMANDS + ACT
    ready[j] = max(ready[j], t + rrefd)


@_jit()
def _missed_refpb(ready, hist, open_row, next_ref, pq, pq_n, chst, c, clk, refi, offs, n_pcs,
                  n_bgs, n_banks, rfc_pb, rrefd, fast):
    """REFpbs that were pending when the last batch ended, or fell due while the device sat idle
    before ``clk``, happened: a pending one as soon as its bank could be closed and refreshed,
    a missed slot's at the slot (only the last ``banks`` slots matter: earlier ones refreshed
    the same banks); each closes its bank, with tRFCpb / tRREFD."""
    n_bpp = n_bgs * n_banks
    for j in range(pq_n[c]):
        p = pq[c, j] % n_pcs
        k = pq[c, j] // n_pcs
        pc = c * n_pcs + p
        b = pc * n_bpp + k
        n1 = offs[1] + pc
        n2 = offs[2] + pc * n_bgs + k // n_banks
        if open_row[b] >= 0:
            t = _path_ready(ready, PRE, c, n1, n2, offs[3] + b)
            issue_bank_command(ready, hist, open_row, PRE, t, c, n1, n2, offs[3] + b, 0, offs,
                               fast)
        _refpb_issue(ready, open_row, n1, offs[3] + b, b,
                     _path_ready(ready, ACT, c, n1, n2, offs[3] + b), rfc_pb, rrefd)
    chst[c, S_REFS] += pq_n[c]
    pq_n[c] = 0
    missed = (clk - next_ref[c] + refi - 1) // refi
    for j in range(max(0, missed - n_bpp), missed):
        s = next_ref[c] + j * refi
        k = (s // refi - 1) % n_bpp
        for p in range(n_pcs):
            b = (c * n_pcs + p) * n_bpp + k
            _refpb_issue(ready, open_row, offs[1] + c * n_pcs + p, offs[3] + b, b, s, rfc_pb,
                         rrefd)
    chst[c, S_REFS] += missed * n_pcs
    next_ref[c] += missed * refi


@_jit()
def _refresh_bank(ready, hist, open_row, pq, pq_n, chst, active_per_bank, hits_per_bank, hq_r,
                  hq_w, counts, c, clk, offs, n_pcs, n_bgs, n_banks, rfc_pb, rrefd, fast):
    """Per-bank refresh on channel ``c``'s row bus: the head REFpb of its refresh queue ->
    (a command issued, earliest tick it may issue).

    Its bank open: PRE it, unless an activated request waits on it (the bank takes no new hits
    meanwhile, ``_scan_column``). Closed: REFpb as soon as an ACT to the bank could issue, so
    ACT -> REFpb (tRC), PRE/RDA/WRA -> REFpb (tRP...), tRRD, tFAW and the row bus apply as to that
    ACT (Ramulator 2.1 applies tRC, tRP and tRRD_S only); refresh goes first on the row bus, so no
    ACT from the queues reaches the bank before its REFpb.
    """
    e = pq[c, 0]
    p = e % n_pcs
    k = e // n_pcs
    pc = c * n_pcs + p
    b = pc * n_bgs * n_banks + k
    n1 = offs[1] + pc
    n2 = offs[2] + pc * n_bgs + k // n_banks
    n3 = offs[3] + b
    if open_row[b] >= 0:
        if active_per_bank[b] > 0:
            return False, FAR           # its activated request issues first (column bus)
        t = _path_ready(ready, PRE, c, n1, n2, n3)
        if t > clk:
            return False, t
        issue_bank_command(ready, hist, open_row, PRE, clk, c, n1, n2, n3, 0, offs, fast)
        _close_bank(hits_per_bank, hq_r, hq_w, c, b)
    else:
        t = _path_ready(ready, ACT, c, n1, n2, n3)
        if t > clk:
            return False, t
        _refpb_issue(ready, open_row, n1, n3, b, clk, rfc_pb, rrefd)
        chst[c, S_REFS] += 1
        for j in range(pq_n[c] - 1):
            pq[c, j] = pq[c, j + 1]
        pq_n[c] -= 1
    _touch_bank(counts, c, b)
    return True, clk


@_jit()
def simulate_batch(req_ch, req_n1, req_n2, req_n3, req_row, req_key, req_write, inject_tick, chase,
                   start_tick, par, offs, con_ptr, con_next, con_lat, con_win, fast,
                   ready, hist, open_row, next_ref, write_mode, pq, pq_n, chst, clock,
                   arrive, done_tick, outcome, scratch, counts, active_per_bank, hits_per_bank,
                   ready_lb):
    """Replay one batch of requests; fills ``arrive``, ``done_tick`` and ``outcome`` per request.

    Args:
        req_ch, req_n1, req_n2, req_n3: node index of each request's channel, pseudo channel,
            bank group and bank (global node numbering, see ``hbm.HbmSpec``).
        req_row, req_write: row and direction of each request.
        req_key: ``bank << 32 | row`` of each request (bank = flat bank index).
        inject_tick: earliest tick the frontend may inject each request (requests go in order).
        chase: if true, request i+1 is injected only after request i completes (pointer chasing).
        start_tick: tick of the first frontend slot.
        par: integer parameters (``P_*``); offs: first node index of each level.
        con_*: the rule table in CSR form keyed by (level, prev command) (``hbm.RuleTable``);
            fast: the same rules regrouped per issued command (``command_rule_table``).
        ready ... clock: device state (updated in place; see ``new_state``).
        arrive, done_tick, outcome: outputs (tick the request entered its queue, tick its data
            transfer finished, HIT/MISS/CONFLICT).
        scratch ... ready_lb: work arrays from ``new_scratch`` (queues, counters, per-bank
            bookkeeping); the kernel allocates nothing.

    Returns:
        The tick at which the last request finished.
    """
    n = req_ch.shape[0]
    n_ch = par[P_CHANNELS]
    n_pcs = par[P_PCS]
    n_bgs = par[P_BGS]
    n_banks = par[P_BANKS]
    rcap = par[P_RQ]
    wcap = par[P_WQ]
    acap = par[P_AQ]
    hi = par[P_WR_HIGH]
    lo = par[P_WR_LOW]
    read_lat = par[P_READ_LAT]
    write_lat = par[P_WRITE_LAT]
    refi = par[P_REFI]
    rfc = par[P_RFC]
    closed = par[P_CLOSED_PAGE] != 0
    per_tick = par[P_FRONTEND]
    pcap = pq.shape[1]
    per_bank = par[P_PER_BANK_REF] != 0
    rrefd = par[P_RREFD]
    n_bpp = n_bgs * n_banks

    rq = scratch[0]
    wq = scratch[1]
    aq = scratch[2]
    rqk = scratch[3]
    wqk = scratch[4]
    aqk = scratch[5]
    rn = counts[0]
    wn = counts[1]
    an = counts[2]
    wake = counts[3]
    # NOTE(perf): see scripts/bench_dram.py -- row hits queued per channel (hq_r / hq_w) and per
    # bank (hits_per_bank) are kept up to date, so a column scan runs only when its queue holds a
    # hit and a row scan only when it holds a miss or conflict. A queued request is a hit iff its
    # row is its bank's open row; that changes only when a request is queued or leaves, or when a
    # bank opens (ACT: count the queued keys of the new row) or closes (PRE/PREA/RDA/WRA: zero).
    hq_r = counts[4]
    hq_w = counts[5]
    # NOTE(perf): see scripts/bench_dram.py -- aq_wake[c]: no active-queue entry is ready before
    # this tick. Entries never change row state while queued (a bank with an activated request is
    # never closed) and ready clocks only grow, so the bound stays valid until an entry is added
    # (an ACT promotes one: fold its ready tick in); removing entries only raises the true minimum.
    aq_wake = counts[6]
    for c in range(n_ch):
        for q in range(2):
            counts[C_PLEN + q, c] = 0
            counts[C_PWAKE + q, c] = NEVER
            counts[C_PMASK + q, c] = 0
        aq_wake[c] = 0
        rn[c] = 0
        wn[c] = 0
        an[c] = 0
        wake[c] = 0
        hq_r[c] = 0
        hq_w[c] = 0
    for b in range(active_per_bank.shape[0]):
        active_per_bank[b] = 0
        hits_per_bank[0, b] = 0
        hits_per_bank[1, b] = 0
    for j in range(ready_lb.shape[0]):
        ready_lb[j] = NEVER
    for i in range(n):
        outcome[i] = -1

    clk = start_tick
    # Refreshes that fell due while the device sat idle before this batch: they happened, so rows
    # are closed and the last one still blocks ACT for tRFC.
    for c in range(n_ch):
        if next_ref[c] < clk and per_bank:
            _missed_refpb(ready, hist, open_row, next_ref, pq, pq_n, chst, c, clk, refi, offs,
                          n_pcs, n_bgs, n_banks, rfc, rrefd, fast)
        elif next_ref[c] < clk and pq_n[c] == 0:
            missed = (clk - next_ref[c] + refi - 1) // refi
            last = next_ref[c] + (missed - 1) * refi
            next_ref[c] += missed * refi
            for p in range(n_pcs):
                n1 = offs[1] + c * n_pcs + p
                issue_command(ready, hist, open_row, REF, last, c, n1, -1, -1, -1, offs,
                              n_bgs, n_banks, con_ptr, con_next, con_lat, con_win)
                chst[c, S_REFS] += missed
                b0 = (c * n_pcs + p) * n_bgs * n_banks
                for b in range(b0, b0 + n_bgs * n_banks):
                    open_row[b] = -1

    nxt = 0          # next request the frontend injects
    finished = 0
    last_done = start_tick
    while finished < n:
        # ---- frontend: in-order injection, up to per_tick requests this tick ----
        sent = 0
        blocked = False
        while nxt < n and sent < per_tick:
            if inject_tick[nxt] > clk:
                break
            if chase and nxt > 0 and (done_tick[nxt - 1] < 0 or done_tick[nxt - 1] > clk):
                break
            c = req_ch[nxt]
            key = req_key[nxt]
            bank = key >> 32
            hit = open_row[bank] == (key & 0xFFFFFFFF)
            if req_write[nxt]:
                if wn[c] >= wcap:
                    blocked = True
                    break
                wq[c, wn[c]] = nxt
                wqk[c, wn[c]] = key
                wn[c] += 1
                if hit:
                    hq_w[c] += 1
                    hits_per_bank[1, bank] += 1
            else:
                if rn[c] >= rcap:
                    blocked = True
                    break
                rq[c, rn[c]] = nxt
                rqk[c, rn[c]] = key
                rn[c] += 1
                if hit:
                    hq_r[c] += 1
                    hits_per_bank[0, bank] += 1
            arrive[nxt] = clk
            wake[c] = 0
            nxt += 1
            sent += 1

        # ---- controllers: one tick ----
        clk += 1
        any_issue = False
        for c in range(n_ch):
            if clk >= next_ref[c]:
                e0 = n_pcs * ((next_ref[c] // refi - 1) % n_bpp) if per_bank else 0
                next_ref[c] += refi
                for p in range(n_pcs):
                    if pq_n[c] < pcap:
                        pq[c, pq_n[c]] = p + e0
                        pq_n[c] += 1
                wake[c] = 0
            if clk < wake[c]:
                continue
            issued = False
            soon = next_ref[c]
            ref_bank = -1       # per-bank refresh: the pending REFpb's bank takes no new hits
            if per_bank and pq_n[c] > 0:
                ref_bank = (c * n_pcs + pq[c, 0] % n_pcs) * n_bpp + pq[c, 0] // n_pcs

            # -- column bus: active queue first, then (no refresh pending) the read/write queue --
            if clk < aq_wake[c]:
                i = -1
                t = aq_wake[c]
            else:
                i, cmd, t = _scan_active(aq, aqk, c, an[c], req_n1, req_n2, req_n3, req_write,
                                         arrive, open_row, ready, ready_lb, offs, n_bgs, n_banks,
                                         clk)
                aq_wake[c] = t
                if t <= clk:
                    t = clk + 1
            src = 0
            if t < soon:
                soon = t
            if i < 0 and (pq_n[c] == 0 or per_bank):
                was_writing = write_mode[c]
                _set_write_mode(write_mode, c, rn[c], wn[c], hi, lo)
                if write_mode[c] != was_writing:
                    chst[c, S_TURNS] += 1
                # NOTE(perf): see scripts/bench_dram.py -- one call site per scan (the queue
                # picked by mode): each inlined copy added to the first-run compilation.
                wm = write_mode[c]
                src = 2 if wm else 1
                cmd = WR if wm else RD
                if (hq_w[c] if wm else hq_r[c]) > 0:
                    i, t = _scan_column(wq if wm else rq, wqk if wm else rqk, c,
                                        wn[c] if wm else rn[c], cmd, req_n1, req_n2, req_n3,
                                        open_row, ready, ready_lb, offs, n_bgs, n_banks, clk,
                                        ref_bank)
                    if t < soon:
                        soon = t
            if i >= 0:
                if src == 0:
                    r = aq[c, i]
                elif src == 1:
                    r = rq[c, i]
                else:
                    r = wq[c, i]
                bank = req_n3[r] - offs[3]
                if closed:
                    # auto-precharge unless another queued request hits this row: every aq entry
                    # of the bank is a hit, plus the queued hits; minus r itself
                    auto = RDA if cmd == RD else WRA
                    others = active_per_bank[bank] + hits_per_bank[0, bank] \
                        + hits_per_bank[1, bank] - 1
                    if others == 0 and _path_ready(ready, auto, c, req_n1[r], req_n2[r],
                                                   req_n3[r]) <= clk:
                        cmd = auto
                issue_bank_command(ready, hist, open_row, cmd, clk, c, req_n1[r], req_n2[r],
                                   req_n3[r], req_row[r], offs, fast)
                if outcome[r] < 0:
                    outcome[r] = HIT
                    chst[c, S_HITS] += 1
                if req_write[r]:
                    done_tick[r] = clk + write_lat
                    chst[c, S_WRITES] += 1
                else:
                    done_tick[r] = clk + read_lat
                    chst[c, S_READS] += 1
                if done_tick[r] > last_done:
                    last_done = done_tick[r]
                finished += 1
                if src == 0:
                    _remove(aq, aqk, c, i, an[c])
                    an[c] -= 1
                    active_per_bank[bank] -= 1
                    if active_per_bank[bank] == 0:
                        _touch_bank(counts, c, bank)
                elif src == 1:
                    _remove(rq, rqk, c, i, rn[c])
                    _drop_slot(counts, c, 0, i)
                    rn[c] -= 1
                    hq_r[c] -= 1
                    hits_per_bank[0, bank] -= 1
                else:
                    _remove(wq, wqk, c, i, wn[c])
                    _drop_slot(counts, c, 1, i)
                    wn[c] -= 1
                    hq_w[c] -= 1
                    hits_per_bank[1, bank] -= 1
                if cmd == RDA or cmd == WRA:
                    _close_bank(hits_per_bank, hq_r, hq_w, c, bank)
                    _touch_bank(counts, c, bank)
                issued = True

            # -- row bus: refresh first; ACT/PRE from the read/write queue only if none pending --
            # (per-bank refresh: if its command cannot issue, ACT/PRE to the other banks)
            row_free = pq_n[c] == 0
            if per_bank and not row_free:
                did, t = _refresh_bank(ready, hist, open_row, pq, pq_n, chst, active_per_bank,
                                       hits_per_bank, hq_r, hq_w, counts, c, clk, offs, n_pcs,
                                       n_bgs, n_banks, rfc, rrefd, fast)
                issued = issued or did
                row_free = not did
                if t < soon:
                    soon = t
            elif not row_free:
                p = pq[c, 0]
                n1 = offs[1] + c * n_pcs + p
                b0 = (c * n_pcs + p) * n_bgs * n_banks
                any_open = False
                busy = False
                for b in range(b0, b0 + n_bgs * n_banks):
                    if open_row[b] >= 0:
                        any_open = True
                    if active_per_bank[b] > 0:
                        busy = True
                cmd = PREA if any_open else REF
                if not (cmd == PREA and busy):
                    t = ready_tick(ready, cmd, c, n1, -1, -1, offs, n_bgs, n_banks)
                    if t <= clk:
                        issue_command(ready, hist, open_row, cmd, clk, c, n1, -1, -1, -1, offs,
                                      n_bgs, n_banks, con_ptr, con_next, con_lat, con_win)
                        issued = True
                        for q in range(2):
                            counts[C_PLEN + q, c] = 0
                            counts[C_PWAKE + q, c] = NEVER
                            counts[C_PMASK + q, c] = 0
                        if cmd == REF:
                            chst[c, S_REFS] += 1
                            for j in range(pq_n[c] - 1):
                                pq[c, j] = pq[c, j + 1]
                            pq_n[c] -= 1
                        else:
                            for b in range(b0, b0 + n_bgs * n_banks):
                                _close_bank(hits_per_bank, hq_r, hq_w, c, b)
                    elif t < soon:
                        soon = t
            if row_free:
                _set_write_mode(write_mode, c, rn[c], wn[c], hi, lo)
                bus_free = min(ready[c * N_COMMANDS + ACT], ready[c * N_COMMANDS + PRE])
                i = -1
                if bus_free > clk:
                    # NOTE(perf): see scripts/bench_dram.py -- the row bus is busy (multi-cycle
                    # ACT): no row command of this channel can issue, skip the scan.
                    t = bus_free
                    src = 1
                else:
                    wm = write_mode[c]
                    src = 2 if wm else 1
                    t = FAR
                    n_q = wn[c] if wm else rn[c]
                    if n_q > (hq_w[c] if wm else hq_r[c]):
                        i, cmd, t = _scan_row(wq if wm else rq, wqk if wm else rqk, c, n_q, req_n1,
                                              req_n2, req_n3, open_row, active_per_bank, ready,
                                              ready_lb, offs, n_bgs, n_banks, clk, counts,
                                              1 if wm else 0)
                if t < soon:
                    soon = t
                if i >= 0:
                    r = rq[c, i] if src == 1 else wq[c, i]
                    bank = req_n3[r] - offs[3]
                    issue_bank_command(ready, hist, open_row, cmd, clk, c, req_n1[r], req_n2[r],
                                       req_n3[r], req_row[r], offs, fast)
                    issued = True
                    _touch_bank(counts, c, bank)
                    if cmd == ACT:
                        chst[c, S_ACTS] += 1
                        if outcome[r] < 0:
                            outcome[r] = MISS
                            chst[c, S_MISSES] += 1
                        if an[c] < acap:        # promote: the request leaves the read/write queue
                            aq[c, an[c]] = r
                            aqk[c, an[c]] = req_key[r]
                            an[c] += 1
                            active_per_bank[bank] += 1
                            t = _bank_ready(ready_lb, ready, WR if req_write[r] else RD, c, r, bank,
                                            req_n1, req_n2, req_n3, offs, n_bgs, n_banks, clk)
                            if t < aq_wake[c]:
                                aq_wake[c] = t
                            if src == 1:
                                _remove(rq, rqk, c, i, rn[c])
                                _drop_slot(counts, c, 0, i)
                                rn[c] -= 1
                            else:
                                _remove(wq, wqk, c, i, wn[c])
                                _drop_slot(counts, c, 1, i)
                                wn[c] -= 1
                        # the bank was closed (no queued hits); now the new row's keys hit
                        k = _count_key(rqk, c, rn[c], req_key[r])
                        hits_per_bank[0, bank] = k
                        hq_r[c] += k
                        k = _count_key(wqk, c, wn[c], req_key[r])
                        hits_per_bank[1, bank] = k
                        hq_w[c] += k
                    else:
                        chst[c, S_PRES] += 1
                        if outcome[r] < 0:
                            outcome[r] = CONFLICT
                            chst[c, S_CONFLICTS] += 1
                        _close_bank(hits_per_bank, hq_r, hq_w, c, bank)
            if issued:
                any_issue = True
                wake[c] = clk + 1
            else:
                wake[c] = soon

        # NOTE(perf): see scripts/bench_dram.py -- jump over ticks where no channel can issue and
        # the frontend cannot inject (it is blocked, waiting on inject_tick/chase, or done).
        if not any_issue:
            can_send = nxt < n and not blocked and inject_tick[nxt] <= clk
            if chase and nxt < n and nxt > 0 and (done_tick[nxt - 1] < 0
                                                  or done_tick[nxt - 1] > clk):
                can_send = False
            if not can_send:
                # controllers next run at min(wake); the frontend next acts at its inject tick
                target = FAR
                for c in range(n_ch):
                    if wake[c] - 1 < target:
                        target = wake[c] - 1
                if nxt < n and not blocked:
                    t = inject_tick[nxt]
                    if chase and nxt > 0 and done_tick[nxt - 1] > t:
                        t = done_tick[nxt - 1]
                    if t < target:
                        target = t
                if clk < target < FAR - 1:
                    clk = target
    for c in range(n_ch):
        if last_done > chst[c, S_LAST_TICK]:
            chst[c, S_LAST_TICK] = last_done
    clock[0] = clk
    return last_done
