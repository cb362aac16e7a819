"""The speed-ups of the numba scheduler keep its results: merged rules, history only where a
windowed rule reads it, queued-hit bookkeeping (see the NOTE(perf) comments in
``accelsim/hw/dram_kernel.py`` and ``scripts/bench_dram.py``)."""

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


@pytest.mark.parametrize("preset", ["hbm2_2000", "hbm3_6400"])
def test_compiled_rules_give_the_ready_clocks_of_the_plain_table(preset):
    spec = spec_from_dict({"preset": preset, "channels": 2})
    st = spec.new_state()
    offs = spec.node_offsets()
    rng = np.random.default_rng(0)
    r = spec.rules
    commands = []
    t = 100
    for _ in range(400):
        t += int(rng.integers(1, 6))
        c = int(rng.integers(0, spec.channels))
        pc = int(rng.integers(0, spec.pseudo_channels))
        bg = int(rng.integers(0, spec.bank_groups))
        ba = int(rng.integers(0, spec.banks_per_group))
        cmd = int(rng.choice([K.ACT, K.PRE, K.RD, K.WR, K.RDA, K.WRA]))
        n1 = offs[1] + c * spec.pseudo_channels + pc
        n2 = offs[2] + (c * spec.pseudo_channels + pc) * spec.bank_groups + bg
        n3 = offs[3] + ((c * spec.pseudo_channels + pc) * spec.bank_groups + bg) \
            * spec.banks_per_group + ba
        K.issue_command(st["ready"].reshape(-1), st["hist"], st["open_row"], cmd, t, c, n1, n2,
                        n3, 7, offs, spec.bank_groups, spec.banks_per_group, r.con_ptr,
                        r.con_next, r.con_lat, r.con_win)
        commands.append((cmd, t, (c, n1, n2, n3)))
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
    _, counts, active, hits_per_bank, _ = state["scratch"]
    assert not counts[:3].any() and not counts[4:6].any()      # queues and hit counters empty
    assert not active.any() and not hits_per_bank.any()


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
