"""The speed-ups of the DRAM scheduler keep its results: merged rules, history only where a
windowed rule reads it, queued-hit bookkeeping (see the NOTE(perf) comments in
``accelsim/hw/dram_kernel.py``, ``dram_kernel.c`` and ``scripts/bench_dram.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.hw import dram_kernel as K
from accelsim.hw.hbm import pattern_lines, run_batch, spec_from_dict


def _reference_ready(spec, commands):
    """Apply every rule row one by one, with the full history (the rule table's plain meaning)."""
    offs = spec.node_offsets()
    n_nodes = spec.new_state()["ready"].shape[0]
    ready = np.full((n_nodes, K.N_COMMANDS), K.NEVER, dtype=np.int64)
    hist: dict[tuple[int, int], list[int]] = {}
    for cmd, t, path in commands:
        for level, node in enumerate(path):
            past = hist.setdefault((node, cmd), [])
            past.insert(0, t)
            for lv, p, f, lat, w in spec.rules.rows:
                if lv == level and p == cmd and len(past) >= w:
                    ready[node, f] = max(ready[node, f], past[w - 1] + lat)
    return ready


def _random_bank_commands(spec, rng, n, t, gaps):
    """``n`` random bank commands ``(cmd, tick, (n0, n1, n2, n3), row)`` in tick order."""
    offs = spec.node_offsets()
    for _ in range(n):
        t += int(rng.integers(*gaps))  # gaps: (low, high) ticks between commands
        c = int(rng.integers(0, spec.channels))
        pc = c * spec.pseudo_channels + int(rng.integers(0, spec.pseudo_channels))
        bg = pc * spec.bank_groups + int(rng.integers(0, spec.bank_groups))
        ba = bg * spec.banks_per_group + int(rng.integers(0, spec.banks_per_group))
        cmd = int(rng.choice([K.ACT, K.PRE, K.RD, K.WR, K.RDA, K.WRA]))
        row = int(rng.integers(0, 9))
        yield cmd, t, (c, offs[1] + pc, offs[2] + bg, offs[3] + ba), row


@pytest.mark.parametrize("preset", ["hbm2_2000", "hbm3_6400"])
def test_compiled_rules_give_the_ready_clocks_of_the_plain_table(preset):
    spec = spec_from_dict({"preset": preset, "channels": 2})
    st = spec.new_state()
    offs = spec.node_offsets()
    r = spec.rules
    commands = []
    for cmd, t, nodes, _ in _random_bank_commands(spec, np.random.default_rng(0), 400, 100,
                                                  (1, 6)):
        K.issue_command(st["ready"].reshape(-1), st["hist"], st["open_row"], cmd, t, *nodes, 7,
                        offs, spec.bank_groups, spec.banks_per_group, r.con_ptr, r.con_next,
                        r.con_lat, r.con_win)
        commands.append((cmd, t, nodes))
    assert np.array_equal(st["ready"], _reference_ready(spec, commands))


def test_closed_page_keeps_the_row_open_for_a_queued_hit():
    spec = spec_from_dict({"preset": "hbm2_2000", "channels": 1, "mapping": "RoBaRaCoCh",
                           "page_policy": "closed"})
    state = spec.new_state()
    # two reads to one row queued together: the first must not auto-precharge (RD), the second
    # does (RDA), so the second is a row hit
    res = run_batch(spec, state, np.array([0, 1]), np.zeros(2, dtype=bool))
    assert list(res.outcome) == [K.MISS, K.HIT]
    assert state["open_row"].max() == -1          # the last access closed the row


@pytest.mark.parametrize("pattern", ["stream", "random", "mixed"])
@pytest.mark.parametrize("policy", ["open", "closed"])
def test_queued_hit_counters_drain_to_zero(pattern, policy):
    spec = spec_from_dict({"preset": "hbm2_2000", "channels": 2, "page_policy": policy,
                           "read_queue": 8, "write_queue": 8})
    state = spec.new_state()
    lines, write = pattern_lines(spec, pattern, 3000, seed=1)
    res = run_batch(spec, state, lines, write)
    assert (res.done > res.arrive).all()
    _, counts, banks = state["scratch"]
    assert not counts[:, :3].any() and not counts[:, 4:6].any()   # queues and hit counters empty
    # per bank: nothing activated, queued or counted as a hit (int16 words 26.. of the record)
    assert not banks.view(np.int16)[:, K.BANK_ACTIVE:].any()


def test_split_batches_equal_one_batch_on_the_same_state():
    """The per-batch work arrays (lower bounds, counters) are reset: a replay that continues on
    the device state behaves the same whether or not the scratch arrays are reused."""
    spec = spec_from_dict({"preset": "hbm2_2000", "channels": 2})
    lines, write = pattern_lines(spec, "mixed", 2000, seed=2)
    a = spec.new_state()
    b = spec.new_state()
    ra = run_batch(spec, a, lines[:1000], write[:1000])
    rb = run_batch(spec, b, lines[:1000], write[:1000])
    del b["scratch"]                              # fresh work arrays for b's second batch
    ra2 = run_batch(spec, a, lines[1000:], write[1000:], start_tick=ra.last_tick + 5000)
    rb2 = run_batch(spec, b, lines[1000:], write[1000:], start_tick=rb.last_tick + 5000)
    assert np.array_equal(ra2.done, rb2.done) and np.array_equal(ra2.outcome, rb2.outcome)


def _scan(keys, n, open_row, active, ready, row_bound, counts, clk, offs, n_bgs, n_banks):
    return K._scan_row(keys, 0, n, open_row, active, ready, row_bound, offs, n_bgs, n_banks, clk,
                       counts, 0)


@pytest.mark.parametrize("seed", range(20))
def test_row_scan_prefix_picks_what_a_full_scan_picks(seed):
    """The row scan's remembered not-ready prefix (NOTE(perf) in ``_scan_row``): while ready clocks
    only grow and no bank changes state, a scan that starts behind the prefix picks the same slot
    and command as a scan of the whole queue; ``_touch_bank`` on a prefix bank drops the prefix."""
    rng = np.random.default_rng(seed)
    spec = spec_from_dict({"preset": "hbm2_2000", "channels": 1})
    offs = spec.node_offsets()
    n_bank = spec.banks_per_channel
    n_nodes = spec.new_state()["ready"].shape[0]
    ready = rng.integers(0, 60, n_nodes * K.N_COMMANDS).astype(np.int64)
    open_row = rng.integers(-1, 3, n_bank).astype(np.int64)
    active = (rng.random(n_bank) < 0.2).astype(np.int64)
    n = 24
    bank = rng.integers(0, n_bank, n)
    keys = ((bank << 32) | rng.integers(0, 3, n))[None, :].astype(np.int64)
    counts = np.zeros((1, K.CHAN_WORDS), dtype=np.int64)
    counts[:, K.C_PWAKE] = K.NEVER
    lb = np.full(n_bank, K.NEVER, dtype=np.int64)
    for clk in range(0, 80, 3):
        ready += rng.integers(0, 3, ready.shape[0])     # clocks only grow
        fresh = np.zeros_like(counts)
        fresh[:, K.C_PWAKE] = K.NEVER
        want = _scan(keys, n, open_row, active, ready, np.full_like(lb, K.NEVER), fresh, clk,
                     offs, spec.bank_groups, spec.banks_per_group)
        got = _scan(keys, n, open_row, active, ready, lb, counts, clk, offs, spec.bank_groups,
                    spec.banks_per_group)
        assert got[:2] == want[:2]
        assert got[2] <= max(want[2], clk + 1) or got[0] >= 0   # wake stays a lower bound
        assert counts[0, K.C_PLEN] == (got[0] if got[0] >= 0 else n)
    if counts[0, K.C_PLEN] > 0:
        K._touch_bank(counts, 0, int(bank[0]))
        assert counts[0, K.C_PLEN] == 0 and counts[0, K.C_PMASK] == 0


def test_row_scan_prefix_empty_after_batch():
    spec = spec_from_dict({"preset": "hbm2_2000", "channels": 2, "read_queue": 8,
                           "write_queue": 8})
    state = spec.new_state()
    lines, write = pattern_lines(spec, "mixed", 3000, seed=3)
    run_batch(spec, state, lines, write)
    counts = state["scratch"][1]
    assert not counts[:, K.C_PLEN:K.C_PLEN + 2].any()  # queues drained: nothing left behind


@pytest.mark.parametrize("preset", ["hbm2_2000", "hbm3_6400", "hbm2e_3200"])
def test_per_command_rule_table_holds_every_rule_once(preset):
    """``command_rule_table`` (NOTE(perf) in ``issue_bank_command``) regroups the CSR table per
    issued command: every window-1 rule in its key's dense row (the largest latency per next
    command, NO_RULE elsewhere), every windowed rule once, and a flag on every command with a
    windowed rule."""
    r = spec_from_dict({"preset": preset, "channels": 1}).rules
    fast = r.fast
    got, want, windowed = [], [], set()
    dense = {}
    for lv in range(K.N_LEVELS):
        for p in range(K.N_COMMANDS):
            for k in range(r.con_ptr[lv * K.N_COMMANDS + p], r.con_ptr[lv * K.N_COMMANDS + p + 1]):
                row = (lv, p, int(r.con_next[k]), int(r.con_lat[k]), int(r.con_win[k]))
                if r.con_win[k] > 1:
                    windowed.add(p)
                    want.append(row)
                else:
                    key = (lv, p, int(r.con_next[k]))
                    dense[key] = max(dense.get(key, row[3]), row[3])
    for p in range(K.N_COMMANDS):
        for lv in range(K.N_LEVELS):
            for f in range(K.N_COMMANDS):
                lat = fast[K.F_DENSE + (p * K.N_LEVELS + lv) * K.N_COMMANDS + f]
                assert lat == dense.get((lv, p, f), K.NO_RULE)
            k0, k1 = fast[K.F_WPTR + p * K.N_LEVELS + lv], fast[K.F_WPTR + p * K.N_LEVELS + lv + 1]
            assert K.F_DATA <= k0 <= k1 <= fast.shape[0] and (k1 - k0) % 3 == 0
            got += [(lv, p, int(fast[k]), int(fast[k + 1]), int(fast[k + 2]))
                    for k in range(k0, k1, 3)]
            assert all(fast[k + 2] > 1 for k in range(k0, k1, 3))
        assert bool(fast[K.F_WINDOWED + p]) == (p in windowed)
    assert sorted(got) == sorted(want)
    # NO_RULE can never raise a clock, whatever the tick
    assert 10 ** 15 + K.NO_RULE < K.NEVER


@pytest.mark.parametrize("preset", ["hbm2_2000", "hbm3_6400", "hbm2e_3200"])
def test_bank_command_issue_equals_generic_issue(preset):
    """``issue_bank_command`` (per-command rule runs) leaves the same ready clocks, history and
    open rows as ``issue_command`` (the CSR walk) for any sequence of bank commands."""
    spec = spec_from_dict({"preset": preset, "channels": 2})
    a, b = spec.new_state(), spec.new_state()
    offs = spec.node_offsets()
    r = spec.rules
    for cmd, t, nodes, row in _random_bank_commands(spec, np.random.default_rng(1), 600, 50,
                                                    (0, 4)):
        K.issue_command(a["ready"].reshape(-1), a["hist"], a["open_row"], cmd, t, *nodes, row,
                        offs, spec.bank_groups, spec.banks_per_group, r.con_ptr, r.con_next,
                        r.con_lat, r.con_win)
        K.issue_bank_command(b["ready"].reshape(-1), b["hist"], b["open_row"], cmd, t, nodes[0],
                             nodes[3] - offs[3], row, offs, r.fast, spec.bank_groups,
                             spec.banks_per_group)
        assert np.array_equal(a["ready"], b["ready"])
    assert np.array_equal(a["hist"], b["hist"]) and np.array_equal(a["open_row"], b["open_row"])


def _plain_ready(ready, cmd, n3, offs, n_bgs, n_banks):
    n1 = offs[1] + (n3 - offs[3]) // (n_bgs * n_banks)
    n2 = offs[2] + (n3 - offs[3]) // n_banks
    return max(ready[n * K.N_COMMANDS + cmd] for n in (0, n1, n2, n3))


def _column_bound(ready, cmd, n3, offs, n_bgs, n_banks, clk):
    """What the column scans take as a column command's ready tick (``column_ready``): the bank's
    own clock while it is after clk (a lower bound), else the exact tick."""
    own = ready[n3 * K.N_COMMANDS + cmd]
    return own if own > clk else _plain_ready(ready, cmd, n3, offs, n_bgs, n_banks)


@pytest.mark.parametrize("seed", range(20))
def test_scans_pick_what_the_plain_slot_tests_pick(seed):
    """The row scan's select-based slot filter (NOTE(perf) in ``_scan_row``), and the column and
    active-queue scans, against the plain per-slot if/continue tests: same pick, command and
    wake (fresh row bounds, no prefix; a column command's tick as ``_column_bound``)."""
    rng = np.random.default_rng(100 + seed)
    spec = spec_from_dict({"preset": "hbm2_2000", "channels": 1})
    offs = spec.node_offsets()
    nbg, nba = spec.bank_groups, spec.banks_per_group
    n_bank = spec.banks_per_channel
    n_nodes = spec.new_state()["ready"].shape[0]
    ready = rng.integers(0, 60, n_nodes * K.N_COMMANDS).astype(np.int64)
    open_row = rng.integers(-1, 3, n_bank).astype(np.int64)
    active = (rng.random(n_bank) < 0.2).astype(np.int64)
    n = 24
    bank = rng.integers(0, n_bank, n)
    row = rng.integers(0, 3, n)
    keys = ((bank << 32) | row)[None, :].astype(np.int64)
    n3 = (offs[3] + bank).astype(np.int64)
    buf = np.arange(n, dtype=np.int64)[None, :]
    write = rng.random(n) < 0.5
    arrive = rng.permutation(n).astype(np.int64)
    for clk in (0, 20, 40, 60):
        # row pick: first slot that is a miss (ACT) or an unblocked conflict (PRE) and is ready
        want, wake = (-1, -1), K.FAR
        for i in range(n):
            o = open_row[bank[i]]
            if o == row[i] or (o >= 0 and active[bank[i]] > 0):
                continue
            cmd = K.PRE if o >= 0 else K.ACT
            t = _plain_ready(ready, cmd, n3[i], offs, nbg, nba)
            if t <= clk:
                want = (i, cmd)
                break
            wake = min(wake, t)
        counts = np.zeros((1, K.CHAN_WORDS), dtype=np.int64)
        counts[:, K.C_PWAKE] = K.NEVER
        lb = np.full(n_bank, K.NEVER, dtype=np.int64)
        got = K._scan_row(keys, 0, n, open_row, active, ready, lb, offs, nbg, nba, clk, counts,
                          0)
        assert got == (want[0], want[1], wake)
        # column pick in a read queue: first ready row hit
        want, wake = -1, K.FAR
        for i in range(n):
            if open_row[bank[i]] != row[i]:
                continue
            t = _column_bound(ready, K.RD, n3[i], offs, nbg, nba, clk)
            if t <= clk:
                want = i
                break
            wake = min(wake, t)
        assert K._scan_column(keys, 0, n, K.RD, open_row, ready, offs, nbg, nba,
                              clk) == (want, wake)
        # active queue (activated requests: every entry a row hit): oldest ready entry (RD or WR
        # by direction); wake = clk if two are ready
        hits = [i for i in range(n) if open_row[bank[i]] == row[i]]
        best, best_cmd, best_arr, wake, n_ready = -1, -1, K.FAR, K.FAR, 0
        for slot, i in enumerate(hits):
            cmd = K.WR if write[i] else K.RD
            t = _column_bound(ready, cmd, n3[i], offs, nbg, nba, clk)
            if t <= clk:
                n_ready += 1
                if arrive[i] < best_arr:
                    best, best_cmd, best_arr = slot, cmd, arrive[i]
            else:
                wake = min(wake, t)
        if n_ready > 1:
            wake = clk
        active_ids = np.asarray(hits, dtype=np.int64)[None, :]
        active_keys = np.ascontiguousarray(keys[:, hits])
        assert K._scan_active(active_ids, active_keys, 0, len(hits), write, arrive, open_row,
                              ready, offs, nbg, nba, clk) == (best, best_cmd, wake)


def test_zero_low_watermark_leaves_write_mode_when_the_write_queue_empties():
    """write_low_watermark 0 used to keep the controller in write mode with an empty write queue
    while reads waited: the replay never ended. The low mark counts at least one entry."""
    spec = spec_from_dict({"preset": "hbm2_2000", "channels": 1, "write_queue": 4,
                           "write_low_watermark": 0.0, "write_high_watermark": 0.5})
    assert spec.kernel_params()[K.P_WR_LOW] == 1
    lines, write = pattern_lines(spec, "mixed", 400, seed=4)
    res = run_batch(spec, spec.new_state(), lines, write)
    assert (res.done > res.arrive).all()
