"""What every registered memory model must do (``MemoryModel``'s contract), as a reusable suite.

Subclass ``MemoryContract`` and override the ``memory`` fixture::

    class TestHbm(MemoryContract):
        @pytest.fixture
        def memory(self):
            return build_memory({"impl": "hbm", "preset": "hbm3_6400", "channels": 1})
"""

from __future__ import annotations

import pytest
import simpy

# (nbytes, write, address) requests the contract replays; small enough for any model.
REQUESTS = [(4096, False, 0), (256, True, 1 << 20), (32, False, 12345 * 32), (65536, False, 1 << 22),
            (1000, True, 7)]


def run_requests(memory, requests, *, concurrent: bool = False) -> list[int]:
    """Bind a fresh environment, replay ``requests``; return each transfer's duration in ps."""
    env = simpy.Environment()
    memory.bind(env)
    durations: list[int] = []

    def one(nbytes, write, address):
        start = env.now
        moved = yield env.process(memory.transfer(nbytes, write=write, address=address))
        assert moved == nbytes
        durations.append(env.now - start)

    def sequential():
        for req in requests:
            yield from one(*req)

    if concurrent:
        for req in requests:
            env.process(one(*req))
    else:
        env.process(sequential())
    env.run()
    return durations


class MemoryContract:
    """Bytes are conserved, nothing beats the unloaded time, same requests give the same times."""

    @pytest.fixture
    def memory(self):
        raise NotImplementedError("override the `memory` fixture")

    def test_bytes_are_conserved(self, memory):
        run_requests(memory, REQUESTS, concurrent=True)
        stats = memory.stats()
        assert stats["bytes_read"] == sum(n for n, w, _ in REQUESTS if not w)
        assert stats["bytes_written"] == sum(n for n, w, _ in REQUESTS if w)

    @pytest.mark.parametrize("concurrent", [False, True])
    def test_never_faster_than_unloaded(self, memory, concurrent):
        durations = run_requests(memory, REQUESTS, concurrent=concurrent)
        if not concurrent:   # sequential: durations are in request order
            for (nbytes, write, _), took in zip(REQUESTS, durations):
                assert took >= memory.unloaded_transfer_ps(nbytes, write=write)
        else:
            fastest = min(memory.unloaded_transfer_ps(n, write=w) for n, w, _ in REQUESTS)
            assert min(durations) >= fastest

    def test_same_requests_same_times(self, memory):
        first = run_requests(memory, REQUESTS, concurrent=True)
        second = run_requests(memory, REQUESTS, concurrent=True)
        assert first == second
        assert run_requests(memory, REQUESTS) == run_requests(memory, REQUESTS)

    def test_zero_bytes_is_free_or_fast(self, memory):
        (took,) = run_requests(memory, [(0, False, 0)])
        assert took >= 0

    def test_peak_and_latency_are_sane(self, memory):
        assert memory.peak_bandwidth_gbps() > 0
        assert memory.latency_ns() >= 0
        assert memory.describe()["impl"] == memory.impl_name
