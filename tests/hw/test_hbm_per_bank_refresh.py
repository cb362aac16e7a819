"""Per-bank refresh (``memory: {refresh: per_bank}``): each pseudo channel refreshes one bank every
tREFIpb, round robin; a REFpb closes only its bank, blocks that bank's ACT for tRFCpb and the other
banks' ACT (and the next REFpb) for tRREFD, while the other banks keep serving.

Request-level replays through the whole scheduler, as the refresh tests of ``test_hbm_timing.py``.
The all-bank default is pinned by ``test_hbm_golden.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from accelsim.errors import ConfigError
from accelsim.hw import dram_kernel as K
from accelsim.hw.hbm import PRESET_DIR, run_batch, spec_from_dict


def per_bank_spec(**overrides):
    return spec_from_dict({"preset": "hbm2_2000", "channels": 1, "refresh": "per_bank",
                           **overrides})


def line_of(spec, pc, bg, ba, row=None):
    """The first access index of channel 0 that maps to (pc, bg, ba) [and row]."""
    lines = np.arange(1 << 14, dtype=np.int64)
    ch, p, g, b, r, _ = spec.map_lines(lines)
    hit = (ch == 0) & (p == pc) & (g == bg) & (b == ba)
    if row is not None:
        hit &= r == row
    return int(lines[np.argmax(hit)])


def replay(spec, state, lines, start_tick=0):
    lines = np.asarray(lines, dtype=np.int64)
    return run_batch(spec, state, lines, np.zeros(len(lines), dtype=bool), start_tick=start_tick)


def test_interval_and_timings_come_from_the_preset():
    spec = per_bank_spec()
    c = spec.cycles
    banks = spec.bank_groups * spec.banks_per_group
    # Ramulator 2.1 HBM2 (JESD235D): tRFCSB 160 ns, tRREFD 8 ns at tCK 1 ns; each bank once a tREFI
    assert (c["tRFCpb"], c["tRREFD"]) == (160, 8)
    assert spec.refresh_interval_cycles == c["tREFI"] // banks == 243
    hbm3 = spec_from_dict({"preset": "hbm3_6400", "refresh": "per_bank"})
    assert (hbm3.cycles["tRFCpb"], hbm3.cycles["tRREFD"], hbm3.cycles["tREFIpb"]) == (320, 8, 195)
    params = spec.kernel_params()
    assert params[K.P_PER_BANK_REF] == 1 and params[K.P_REFI] == 243
    assert params[K.P_RFC] == 160 and params[K.P_RREFD] == 8
    assert spec_from_dict({"preset": "hbm2_2000"}).kernel_params()[K.P_PER_BANK_REF] == 0


def test_refreshed_bank_waits_tRFCpb_other_banks_only_tRREFD():
    """A read to the bank whose REFpb issues first waits tRFCpb for its ACT; a read to another
    bank of the same pseudo channel waits only tRREFD (all-bank refresh would block it for tRFC)."""
    spec = per_bank_spec()
    c = spec.cycles
    refi = spec.refresh_interval_cycles
    unloaded = 1 + (c["tRCDRD"] + 1) + c["tCL"] + c["tBL"]   # ACT, RD (2-cycle ACT), data
    # slot at tick tREFIpb refreshes bank 0 of each pseudo channel; the read arrives that tick
    res = replay(spec, spec.new_state(), [line_of(spec, 0, 0, 0)], start_tick=refi)
    assert res.done[0] - res.arrive[0] == unloaded + c["tRFCpb"]     # REFpb at +1, ACT tRFCpb on
    res = replay(spec, spec.new_state(), [line_of(spec, 0, 1, 0)], start_tick=refi)
    assert res.done[0] - res.arrive[0] == unloaded + c["tRREFD"]
    res = replay(spec, spec.new_state(), [line_of(spec, 0, 1, 0)], start_tick=refi // 2)
    assert res.done[0] - res.arrive[0] == unloaded                   # no refresh due: unloaded
    all_bank = spec_from_dict({"preset": "hbm2_2000", "channels": 1})
    res = replay(all_bank, all_bank.new_state(), [line_of(spec, 0, 1, 0)],
                 start_tick=all_bank.cycles["tREFI"])
    assert res.done[0] - res.arrive[0] >= unloaded + c["tRFC"] - 1


def test_refreshed_bank_is_not_activated_during_tRFCpb():
    """Many reads to the refreshed bank (other rows) and to its neighbours: no ACT reaches the
    refreshed bank before the REFpb + tRFCpb, while the neighbours' reads go on meanwhile."""
    spec = per_bank_spec()
    c = spec.cycles
    refi = spec.refresh_interval_cycles
    target = [line_of(spec, 0, 0, 0, row) for row in range(1, 5)]
    others = [line_of(spec, 0, bg, 1) for bg in range(1, 4)]
    res = replay(spec, spec.new_state(), target + others, start_tick=refi)
    ref_tick = refi + 1                                  # the slot's REFpb, first row command
    first_target_rd = res.done[:len(target)].min() - c["tCL"] - c["tBL"]
    assert first_target_rd >= ref_tick + c["tRFCpb"] + c["tRCDRD"]
    served_meanwhile = res.done[len(target):] < ref_tick + c["tRFCpb"]
    assert served_meanwhile.all()                        # the other banks kept serving


def test_row_hits_do_not_starve_a_pending_refpb():
    """A stream of row hits to the bank whose REFpb falls due: the bank takes no new hits once the
    REFpb is pending, so it is precharged and refreshed at once (tRFCpb gap in the reads),
    instead of after the hits run out."""
    spec = per_bank_spec(mapping="RoBaRaCoCh")       # consecutive accesses share a row
    c = spec.cycles
    refi = spec.refresh_interval_cycles
    lines = np.arange(300) % spec.accesses_per_row                 # bank 0, row 0, over and over
    assert (spec.map_lines(lines)[3] == 0).all() and (spec.map_lines(lines)[1] == 0).all()
    res = replay(spec, spec.new_state(), lines, start_tick=refi - 100)
    done = np.sort(res.done)
    gap = int(np.argmax(np.diff(done)))
    assert done[gap + 1] - done[gap] >= c["tRFCpb"]               # the refresh window
    assert done[gap] < refi + c["tRTP"] + c["tCL"] + c["tBL"] + 4  # it starts at the slot
    assert done[-1] > refi + 600                                   # hits were still coming


def test_round_robin_one_bank_per_pseudo_channel_per_slot():
    """After k slots on an idle device (refreshes due while idle happen at the next batch), banks
    0 .. k-1 of every pseudo channel are closed and the others keep their open rows."""
    spec = per_bank_spec()
    refi = spec.refresh_interval_cycles
    banks = spec.bank_groups * spec.banks_per_group
    every_bank = [line_of(spec, pc, bg, ba) for pc in range(spec.pseudo_channels)
                  for bg in range(spec.bank_groups) for ba in range(spec.banks_per_group)]
    keep = line_of(spec, 1, spec.bank_groups - 1, spec.banks_per_group - 1)   # PC 1's last bank
    for k in (1, 5, banks, banks + 3):
        state = spec.new_state()
        res = replay(spec, state, every_bank)
        assert res.last_tick < refi and (state["open_row"] >= 0).all()
        replay(spec, state, [keep], start_tick=k * refi + 1)
        expect_closed = np.array([b < k for _ in range(spec.pseudo_channels)
                                  for b in range(banks)])
        expect_closed[banks + banks - 1] = False     # `keep` reads it (re-opens it if refreshed)
        assert ((state["open_row"] < 0) == expect_closed).all(), k
        assert state["chst"][0, K.S_REFS] == k * spec.pseudo_channels


def test_refpb_pending_at_the_end_of_a_batch_happens_while_idle():
    """A batch can end with a REFpb pending (its bank still open); when the device resumes after
    an idle gap, that REFpb and every slot due in the gap have happened (all counted, the banks
    closed), instead of the schedule catching up one slot per tick."""
    spec = per_bank_spec()
    refi = spec.refresh_interval_cycles
    state = spec.new_state()
    replay(spec, state, [line_of(spec, 0, 0, 0)], start_tick=refi - 5)   # opens bank 0 (PC 0)
    assert state["pq_n"][0] == spec.pseudo_channels and state["open_row"][0] >= 0
    res = replay(spec, state, [line_of(spec, 0, 0, 0)], start_tick=20 * refi + 7)
    assert state["chst"][0, K.S_REFS] == 20 * spec.pseudo_channels and state["pq_n"][0] == 0
    assert state["next_ref"][0] == 21 * refi
    c = spec.cycles
    assert res.outcome[0] == K.MISS        # refreshed (closed); the ACT no longer waits
    assert res.done[0] - res.arrive[0] == 1 + (c["tRCDRD"] + 1) + c["tCL"] + c["tBL"]


def test_refresh_count_over_a_window():
    """A long stream: one REFpb per pseudo channel per tREFIpb (every bank once per tREFI)."""
    spec = per_bank_spec()
    n = 30000
    state = spec.new_state()
    res = replay(spec, state, np.arange(n))
    refs = int(state["chst"][0, K.S_REFS])
    due = spec.pseudo_channels * (res.last_tick // spec.refresh_interval_cycles)
    assert due - spec.pseudo_channels <= refs <= due   # the last slot's may still be pending
    assert res.last_tick > 4 * spec.cycles["tREFI"]


def test_per_bank_refresh_hides_refresh_from_a_stream():
    """Stream bandwidth: per-bank refresh recovers most of what all-bank refresh costs (the model
    without refresh is the ceiling)."""
    n = 8 * 6240 * 16 * 2 // 2          # 8 x tREFI at peak rate: 16 channels x 2 PCs per tBL

    def bandwidth(**kw):
        spec = spec_from_dict({"preset": "hbm3_6400", "read_queue": 64, **kw})
        res = replay(spec, spec.new_state(), np.arange(n))
        return n / (res.last_tick - res.first_tick)

    all_bank = bandwidth(refresh="all_bank")
    per_bank = bandwidth(refresh="per_bank")
    none = bandwidth(tREFI_cycles=1 << 40)
    assert all_bank < 0.93 * none                 # all-bank: ~tRFC / tREFI = 9 % lost
    assert per_bank > 0.97 * none > all_bank


def test_bad_refresh_settings_are_rejected(tmp_path: Path):
    with pytest.raises(ConfigError, match="all_bank, per_bank"):
        spec_from_dict({"preset": "hbm2_2000", "refresh": "per-bank"})
    with pytest.raises(ConfigError, match="per-bank refresh only"):
        spec_from_dict({"preset": "hbm2_2000", "tRFCpb_ns": 100})
    text = (PRESET_DIR / "hbm2_2000.yaml").read_text()
    stripped = "\n".join(l for l in text.splitlines() if not l.strip().startswith("tRFCpb"))
    preset = tmp_path / "no_refpb.yaml"
    preset.write_text(stripped + "\n")
    spec_from_dict({"preset": str(preset)})                  # all-bank: not needed
    with pytest.raises(ConfigError, match="needs tRFCpb"):
        spec_from_dict({"preset": str(preset), "refresh": "per_bank"})
    spec = spec_from_dict({"preset": str(preset), "refresh": "per_bank", "tRFCpb_ns": 160})
    assert spec.cycles["tRFCpb"] == 160


def test_per_bank_refresh_with_pim_is_refused_at_load():
    """The PIM units refresh all banks on their own schedule: per-bank refresh of the same banks
    is not modelled, so it is refused rather than silently mixed."""
    from accelsim.arch.config import load_arch

    with pytest.raises(ConfigError, match="memory.refresh.*not modelled with PIM"):
        load_arch("neupims_npu_hbm", overrides={"memory.refresh": "per_bank"})
