"""A stuck simulation becomes a clear error naming the blocked operators; long runs stream
iterations with bounded caches."""

import pytest

import accelsim
from accelsim.engine.cache import LRUCache
from accelsim.serving.stream import StreamSimulation
from accelsim.errors import SimulationError
from accelsim.hw.memory import AnalyticalMemory


def test_deadlock_is_a_clear_error_naming_what_is_blocked(monkeypatch):
    def never_completes(self, nbytes, *, write=False, address=0):
        yield self.env.event()          # nobody will ever trigger this
        return nbytes

    monkeypatch.setattr(AnalyticalMemory, "transfer", never_completes)
    trace = accelsim.generate_trace("tiny-llama-gqa-test", "decode", batch=2, context=16)
    with pytest.raises(SimulationError) as err:
        accelsim.simulate("npu_128x128_bf16_hbm2", trace)
    message = str(err.value)
    assert "deadlocked" in message and "op_id 0 (embedding): running on the dma unit" in message
    assert "waiting for its dependencies" in message


def _iterations(n):
    for i in range(n):
        yield accelsim.generate_trace("tiny-llama-gqa-test", "decode", batch=4, context=16 + i)


def test_stream_matches_the_materialised_run_and_bounds_its_caches():
    arch = accelsim.load_arch("npu_128x128_bf16_hbm2")
    result = StreamSimulation(arch, max_cached_shapes=8, progress=False).run(_iterations(12))
    assert list(result.iterations.iteration) == list(range(12))
    assert result.caches["plans"]["entries"] <= 8 and result.caches["plans"]["evictions"] > 0
    # each iteration takes what simulating it on its own takes
    for i, row in result.iterations.iterrows():
        alone = accelsim.simulate(arch, next(_iterations_from(i)))
        assert row.duration_ns == pytest.approx(alone.total_time_ns, abs=1e-3)
    assert result.total_time_ns == pytest.approx(result.iterations.duration_ns.sum(), abs=1e-3)


def _iterations_from(i):
    yield accelsim.generate_trace("tiny-llama-gqa-test", "decode", batch=4, context=16 + i)


def test_lru_cache_counts():
    cache = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)                    # evicts b, the least recently used
    assert cache.get("b") is None and cache.get("c") == 3
    assert cache.stats() == {"entries": 2, "capacity": 2, "hits": 2, "misses": 1, "evictions": 1}
    with pytest.raises(ValueError):
        LRUCache(0)
