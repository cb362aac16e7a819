"""The NPU+PIM scheduler plug-ins (mapping/schedulers.py) and NeuPIMs-style batches
(mapping/pim_batches.py), as the one engine uses them."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.api import load_arch, simulate
from accelsim.errors import ConfigError, UnknownImplError
from accelsim.mapping.pim import pim_setup
from accelsim.mapping.pim_batches import decode_batch_from_requests, steady_state_batch
from accelsim.mapping.schedulers import SCHEDULERS, assign_channels, split_sub_batches
from accelsim.pim_decode import decode_trace
from accelsim.workload.models import load_model
from accelsim.workload.requests import load_requests


def test_registry_and_arch_keys():
    assert {"npu-only", "naive", "gmlbp", "neupims"} <= set(SCHEDULERS.names())
    with pytest.raises(UnknownImplError, match="did you mean"):
        load_arch("neupims_npu_hbm", overrides={"pim.scheduler.impl": "neupim"})
    with pytest.raises(ConfigError, match="inside HBM"):
        load_arch("neupims_npu_hbm", overrides={"memory": {"impl": "analytical", "channels": 32,
                                                           "channel_bandwidth_gbps": 32}})


def test_greedy_beats_round_robin_on_the_estimate():
    lengths = np.array([2000, 10, 10, 10, 1500, 10, 10, 10])
    rr, _ = assign_channels("rr", lengths, np.zeros(4), lambda s: s)
    gr, _ = assign_channels("greedy", lengths, np.zeros(4), lambda s: s)
    load = lambda ch: np.bincount(ch, weights=lengths, minlength=4).max()
    assert load(gr) < load(rr)


def test_sub_batches_halve_every_channel():
    ch = np.array([0, 1, 0, 1, 0, 2, 2, 1, 1])
    sb1, sb2 = split_sub_batches(ch)
    assert sorted(np.concatenate([sb1, sb2]).tolist()) == list(range(len(ch)))
    for c in range(3):
        a, b = (ch[sb1] == c).sum(), (ch[sb2] == c).sum()
        assert abs(a - b) <= 1
    assert abs(len(sb1) - len(sb2)) <= 1


def test_steady_state_batches_are_deterministic_and_balanced_by_greedy():
    arch = load_arch("neupims_npu_hbm")
    m = load_model("gpt3-7b")
    a = steady_state_batch("sharegpt", 128, model=m, tp=4, spec=pim_setup(arch).spec, seed=3,
                           warmup_steps=512)
    b = steady_state_batch("sharegpt", 128, model=m, tp=4, spec=pim_setup(arch).spec, seed=3,
                           warmup_steps=512)
    assert (a.seq_lens == b.seq_lens).all() and (a.channels["greedy"] == b.channels["greedy"]).all()
    load = {p: np.bincount(a.channels[p], weights=a.seq_lens, minlength=32).max()
            for p in ("rr", "greedy")}
    assert load["greedy"] < load["rr"]


def test_neupims_request_csv_places_requests_as_given(tmp_path):
    path = tmp_path / "share-gpt2-bs8-ms7B-tp4-clb-0.csv"
    path.write_text("seq_len,ch_idx\n" + "".join(f"{s},{c}\n" for s, c in
                                                  [(300, 0), (20, 1), (700, 1), (5, 0),
                                                   (2048, 2), (64, 3), (128, 3), (1, 2)]))
    b = decode_batch_from_requests(load_requests(path, fmt="neupims"))
    assert b.seq_lens.tolist()[:3] == [300, 20, 700] and b.channels["trace"][2] == 1
    arch = load_arch("neupims_npu_hbm", overrides={"pim.scheduler.impl": "gmlbp"})
    r = simulate(arch, decode_trace(arch, load_model("gpt3-7b"), b, tp=4, layers=1))
    assert r.result.pim["channel_requests"][:4] == [2, 2, 2, 2]
    assert sum(r.result.pim["channel_requests"]) == 8
