"""Every HBM timing rule: a command sequence that would violate it is delayed by exactly the rule.

Most tests issue raw commands through the kernel's pure helpers (``issue_command`` /
``ready_tick``) on a spec whose rules are compiled *without* the multi-cycle ACT shift, so each
delay equals the JEDEC value; ``test_two_cycle_act_*`` check the shift and the row-bus occupancy
separately. The request-level tests replay tiny batches through the whole scheduler.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml

from accelsim.hw import dram_kernel as K
from accelsim.hw.hbm import STANDARD_DIR, compile_rules, run_batch, spec_from_dict

T0 = 1000   # tick of the first command in every sequence


def make_spec(*, single_cycle_act: bool = True, **overrides):
    spec = spec_from_dict({"preset": "hbm2_2000", "channels": 1, **overrides})
    if single_cycle_act:
        std = yaml.safe_load((STANDARD_DIR / "hbm.yaml").read_text())
        std = copy.deepcopy(std)
        std["command_cycles"] = {}
        spec.rules = compile_rules(std, spec.cycles, file="hbm.yaml")
    return spec


class Device:
    """Raw command access to one channel of a fresh device."""

    def __init__(self, spec):
        self.spec = spec
        self.state = spec.new_state()
        self.offs = spec.node_offsets()

    def path(self, pc=0, bg=0, ba=0, *, all_banks=False):
        s = self.spec
        n1 = self.offs[1] + pc
        if all_banks:
            return 0, n1, -1, -1
        n2 = self.offs[2] + pc * s.bank_groups + bg
        n3 = self.offs[3] + (pc * s.bank_groups + bg) * s.banks_per_group + ba
        return 0, n1, n2, n3

    def issue(self, cmd, t, pc=0, bg=0, ba=0, row=0, all_banks=False):
        r = self.spec.rules
        n0, n1, n2, n3 = self.path(pc, bg, ba, all_banks=all_banks)
        K.issue_command(self.state["ready"].reshape(-1), self.state["hist"],
                        self.state["open_row"], cmd, t, n0, n1, n2, n3, row, self.offs,
                        self.spec.bank_groups, self.spec.banks_per_group, r.con_ptr, r.con_next,
                        r.con_lat, r.con_win)

    def ready(self, cmd, pc=0, bg=0, ba=0, all_banks=False):
        n0, n1, n2, n3 = self.path(pc, bg, ba, all_banks=all_banks)
        return int(K.ready_tick(self.state["ready"].reshape(-1), cmd, n0, n1, n2, n3, self.offs,
                                self.spec.bank_groups, self.spec.banks_per_group))


@pytest.fixture
def dev():
    return Device(make_spec())


@pytest.fixture
def c(dev):
    return dev.spec.cycles


# ------------------------------------------------------------------------------ bank level
def test_tRCDRD(dev, c):
    dev.issue(K.ACT, T0)
    assert dev.ready(K.RD) == T0 + c["tRCDRD"]


def test_tRCDWR(dev, c):
    dev.issue(K.ACT, T0)
    assert dev.ready(K.WR) == T0 + c["tRCDWR"]


def test_tRAS(dev, c):
    dev.issue(K.ACT, T0)
    assert dev.ready(K.PRE) == T0 + c["tRAS"]


def test_tRP(dev, c):
    dev.issue(K.ACT, T0)
    dev.issue(K.PRE, T0 + c["tRAS"])
    assert dev.ready(K.ACT) == T0 + c["tRC"]          # tRAS + tRP == tRC for HBM2_2000
    d2 = Device(make_spec(tRC_cycles=0))
    d2.issue(K.PRE, T0)
    assert d2.ready(K.ACT) == T0 + c["tRP"]


def test_tRC(dev, c):
    d = Device(make_spec(tRP_cycles=0))
    d.issue(K.ACT, T0)
    d.issue(K.PRE, T0 + c["tRAS"])
    assert d.ready(K.ACT) == T0 + c["tRC"]


def test_tRTP(dev, c):
    d = Device(make_spec(tRAS_cycles=0))
    d.issue(K.ACT, T0)
    d.issue(K.RD, T0 + 20)
    assert d.ready(K.PRE) == T0 + 20 + c["tRTP"]


def test_tWR(dev, c):
    d = Device(make_spec(tRAS_cycles=0))
    d.issue(K.ACT, T0)
    d.issue(K.WR, T0 + 20)
    assert d.ready(K.PRE) == T0 + 20 + c["tCWL"] + c["tBL"] + c["tWR"]


# ------------------------------------------------------------------------------ bank group / PC
def test_tCCD_L_same_bank_group(dev, c):
    dev.issue(K.RD, T0, bg=1, ba=0)
    assert dev.ready(K.RD, bg=1, ba=3) == T0 + c["tCCD_L"]
    dev.issue(K.WR, T0 + 100, bg=2, ba=0)
    assert dev.ready(K.WR, bg=2, ba=1) == T0 + 100 + c["tCCD_L"]


def test_tCCD_S_other_bank_group(dev, c):
    dev.issue(K.RD, T0, bg=0)
    assert dev.ready(K.RD, bg=1) == T0 + max(c["tCCD_S"], c["tBL"])


def test_tRRD_L_and_tRRD_S():
    d = Device(make_spec(tRRD_L_cycles=6, tRRD_S_cycles=3))
    d.issue(K.ACT, T0, bg=0, ba=0)
    assert d.ready(K.ACT, bg=0, ba=1) == T0 + 6
    assert d.ready(K.ACT, bg=1, ba=0) == T0 + 3
    assert d.ready(K.ACT, pc=1) == K.NEVER or d.ready(K.ACT, pc=1) <= T0   # other PC: free


def test_tFAW(c):
    d = Device(make_spec(tFAW_cycles=30))
    for k in range(4):
        d.issue(K.ACT, T0 + 4 * k, bg=k)
    assert d.ready(K.ACT, bg=0, ba=1) == T0 + 30      # the 5th ACT waits for the window
    d.issue(K.ACT, T0 + 30, bg=0, ba=1)
    assert d.ready(K.ACT, bg=1, ba=1) == T0 + 4 + 30


def test_tWTR_S_and_tWTR_L(dev, c):
    dev.issue(K.WR, T0, bg=0)
    assert dev.ready(K.RD, bg=1) == T0 + c["tCWL"] + c["tBL"] + c["tWTR_S"]
    assert dev.ready(K.RD, bg=0, ba=2) == T0 + c["tCWL"] + c["tBL"] + c["tWTR_L"]


def test_tRTW_read_to_write_turnaround(dev, c):
    dev.issue(K.RD, T0, bg=0)
    assert c["tRTW"] == c["tCL"] + c["tBL"] + 2 - c["tCWL"]
    assert dev.ready(K.WR, bg=1) == T0 + c["tRTW"]


def test_tRFC_and_precharge_all(dev, c):
    dev.issue(K.ACT, T0, bg=2, ba=1)
    assert dev.ready(K.PREA, all_banks=True) == T0 + c["tRAS"]
    dev.issue(K.PREA, T0 + c["tRAS"], all_banks=True)
    assert dev.state["open_row"][:16].max() == -1
    assert dev.ready(K.REF, all_banks=True) == T0 + c["tRC"]   # ACT -> REF (tRC) dominates tRP
    dev.issue(K.REF, T0 + c["tRC"], all_banks=True)
    assert dev.ready(K.ACT, bg=3, ba=3) == T0 + c["tRC"] + c["tRFC"]
    assert dev.ready(K.ACT, pc=1) <= T0                         # the other PC is not refreshing


# ------------------------------------------------------------------------------ two-cycle ACT
def test_two_cycle_act_shifts_rules_and_holds_the_row_bus():
    d = Device(make_spec(single_cycle_act=False))
    c = d.spec.cycles
    d.issue(K.ACT, T0, bg=0)
    assert d.ready(K.RD) == T0 + c["tRCDRD"] + 1       # JEDEC counts from ACT's 2nd cycle
    assert d.ready(K.PRE, bg=3) == T0 + 2              # row bus busy for 2 cycles (any bank)
    assert d.ready(K.ACT, bg=1) == T0 + c["tRRD_S"]    # ACT -> ACT: shifts cancel
    d.issue(K.PRE, T0 + c["tRAS"] + 1)
    assert d.ready(K.ACT) == T0 + c["tRC"]             # PRE -> ACT is tRP - 1 after the PRE


# ------------------------------------------------------------------------------ whole scheduler
def _replay(spec, lines, write, **kw):
    state = spec.new_state()
    res = run_batch(spec, state, np.asarray(lines), np.asarray(write, dtype=bool), **kw)
    return res, state


def test_closed_bank_read_latency_is_tRCD_plus_CL_plus_burst():
    spec = make_spec(single_cycle_act=False)
    c = spec.cycles
    res, _ = _replay(spec, [0], [False], start_tick=100)
    assert res.done[0] - res.arrive[0] == 1 + c["tRCDRD"] + 1 + c["tCL"] + c["tBL"]
    assert res.outcome[0] == K.MISS


def test_row_hit_and_conflict_latency():
    spec = make_spec(single_cycle_act=False, mapping="RoBaRaCoCh")
    c = spec.cycles
    row_stride = spec.accesses_per_row * spec.banks_per_channel    # same bank, next row
    # hit: second access to the open row, issued after the first completes
    res, _ = _replay(spec, [0, 1], [False, False], inject_tick=np.array([0, 200]))
    assert res.done[1] - res.arrive[1] == 1 + c["tCL"] + c["tBL"]
    assert list(res.outcome) == [K.MISS, K.HIT]
    # conflict: PRE (waits nothing), ACT after tRP - 1, RD after tRCDRD + 1
    res, _ = _replay(spec, [0, row_stride], [False, False], inject_tick=np.array([0, 200]))
    assert res.outcome[1] == K.CONFLICT
    assert res.done[1] - res.arrive[1] == 1 + (c["tRP"] - 1) + (c["tRCDRD"] + 1) + c["tCL"] \
        + c["tBL"]


def test_write_then_read_waits_tWTR():
    spec = make_spec(single_cycle_act=False, mapping="RoBaRaCoCh")
    c = spec.cycles
    # open the row with a read, then a write and a read to the same row, back to back
    res, _ = _replay(spec, [0, 1, 2], [False, True, False], inject_tick=np.array([0, 100, 100]))
    wr_issue = res.done[1] - (c["tCWL"] + c["tBL"])
    rd_issue = res.done[2] - (c["tCL"] + c["tBL"])
    # the write drains first only if the controller is in write mode; either way the turnaround
    # between them is the rule of the direction taken
    if rd_issue > wr_issue:
        assert rd_issue - wr_issue == c["tCWL"] + c["tBL"] + c["tWTR_L"]
    else:
        assert wr_issue - rd_issue == c["tRTW"]


def test_refresh_happens_every_tREFI_and_blocks_for_tRFC():
    spec = make_spec(single_cycle_act=False)
    c = spec.cycles
    # one read arriving just after the first refresh was issued: waits for tRFC
    res, state = _replay(spec, [0], [False], start_tick=c["tREFI"])
    assert state["chst"][0, K.S_REFS] == spec.pseudo_channels
    lat = res.done[0] - res.arrive[0]
    assert lat >= c["tRFC"] - 1 + c["tRCDRD"] + 1 + c["tCL"] + c["tBL"]
    # long enough replay: one refresh per pseudo channel per tREFI
    n = 30000
    res, state = _replay(spec, np.arange(n), np.zeros(n, bool))
    assert state["chst"][0, K.S_REFS] == spec.pseudo_channels * (res.last_tick // c["tREFI"])
