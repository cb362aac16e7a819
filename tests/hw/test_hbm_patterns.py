"""Strided transfers on the bank-level HBM model: access order, window + extrapolation, memo."""

import pytest
import simpy

from accelsim.hw.hbm_patterns import PATTERN_ERROR_BOUND, pattern_lines
from accelsim.hw.memory import Strided, build_memory

KV_HEAD = 2048 * 128 * 2          # one KV head of a 2048-token cache, bf16, head_dim 128
PATTERNS = {                       # the tile patterns of a Llama-2-7B layer (engine/layout.py)
    "weight tile": ((Strided(0, 4 << 20, 4 << 20, 1),), False),
    "attention K/V": (tuple(Strided(h * KV_HEAD + (32 * KV_HEAD if v else 0), 512 << 10,
                                    512 << 10, 1) for h in range(8) for v in (0, 1)), False),
    "A tile rows": ((Strided(0, 256, 8192, 8192),), False),
    "kv append": (tuple(Strided(r * 64 * KV_HEAD + h * KV_HEAD + 2047 * 256
                                + (32 * KV_HEAD if v else 0), 256, 256, 1)
                        for r in range(32) for h in range(32) for v in (0, 1)), True),
    "C tile rows": ((Strided(0, 1024, 24576, 512),), True),
}


DEVICES = {"hbm2 MOP4CLXOR": {"preset": "hbm2_2000", "channels": 8},
           "hbm2 RoBaRaCoCh": {"preset": "hbm2_2000", "channels": 8, "mapping": "RoBaRaCoCh"},
           "hbm3 MOP4CLXOR": {"preset": "hbm3_6400", "channels": 16}}


def _run(segments, write, **memory):
    memory = {"preset": "hbm2_2000", "channels": 8, **memory}
    mem = build_memory({"impl": "hbm", **memory})
    env = simpy.Environment()
    mem.bind(env)
    env.run(env.process(mem.transfer_pattern(segments, write=write)))
    return env.now, mem.stats()


def test_pattern_lines_follow_rows_and_strides():
    lines, total = pattern_lines((Strided(64, 64, 1024, 3), Strided(4096, 32, 32, 1)), 32, 100)
    assert lines.tolist() == [2, 3, 34, 35, 66, 67, 128] and total == 7
    lines, total = pattern_lines((Strided(0, 320, 320, 1),), 32, 4)
    assert lines.tolist() == [0, 1, 2, 3] and total == 10


@pytest.mark.parametrize("device", sorted(DEVICES))
@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_windowed_time_within_the_stated_bound_of_a_full_simulation(name, device):
    segments, write = PATTERNS[name]
    exact, full = _run(segments, write, max_simulated_requests=1 << 22, **DEVICES[device])
    windowed, stats = _run(segments, write, **DEVICES[device])
    assert full["extrapolated_requests"] == 0 and stats["extrapolated_requests"] > 0
    assert abs(windowed - exact) / exact <= PATTERN_ERROR_BOUND
    assert stats["extrapolation_error_bound_frac"] == pytest.approx(PATTERN_ERROR_BOUND, rel=1e-9)
    # every access lands in the statistics, extrapolated ones included
    n = sum(s.nbytes for s in segments) // 32
    assert stats["row_hits"] + stats["row_misses"] + stats["row_conflicts"] == \
        pytest.approx(n, rel=1e-3)


def test_a_repeated_pattern_replays_the_same_time_without_the_kernel():
    mem = build_memory({"impl": "hbm", "preset": "hbm2_2000", "channels": 8})
    env = simpy.Environment()
    mem.bind(env)
    tile = (Strided(0, 256, 8192, 512),)
    times = []
    for base in (0, 64 << 20, 128 << 20):                 # same offset in the mapping period
        t0 = env.now + 10_000_000                         # the device has drained
        env.run(until=t0)
        seg = (tile[0]._replace(address=base),)
        env.run(env.process(mem.transfer_pattern(seg, write=False)))
        times.append(env.now - t0)
    stats = mem.stats()
    assert times[0] == times[1] == times[2]
    assert stats["pattern_transfers_simulated"] == 1 and stats["pattern_transfers_replayed"] == 2
    assert stats["row_hits"] + stats["row_misses"] + stats["row_conflicts"] == 3 * 512 * 8


def test_strided_rows_cost_more_than_the_same_bytes_contiguous():
    # 256-B rows 8 KiB apart open a new row far more often than one contiguous run
    strided, s = _run((Strided(0, 256, 8192, 256),), False)
    contiguous, c = _run((Strided(0, 256 * 256, 256 * 256, 1),), False)
    assert s["row_hit_frac"] < c["row_hit_frac"] - 0.1
    assert strided > contiguous


def test_analytical_memory_sees_only_the_total():
    mem = build_memory({"impl": "analytical", "channels": 8, "channel_bandwidth_gbps": 32.0})
    env = simpy.Environment()
    mem.bind(env)
    env.run(env.process(mem.transfer_pattern((Strided(0, 256, 8192, 64),), write=False)))
    ref = build_memory({"impl": "analytical", "channels": 8, "channel_bandwidth_gbps": 32.0})
    env2 = simpy.Environment()
    ref.bind(env2)
    env2.run(env2.process(ref.transfer(256 * 64)))
    assert env.now == env2.now and mem.bytes_read == 256 * 64
