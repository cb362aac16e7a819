"""The simple memory models (`ideal`, `analytical`) against the memory contract, and the registry."""

from __future__ import annotations

import pytest

from accelsim.errors import ConfigError, UnknownImplError
from accelsim.hw.memory import MEMORIES, build_memory

from memory_contract import MemoryContract  # tests/hw is on sys.path (rootdir-less test dirs)


class TestIdeal(MemoryContract):
    @pytest.fixture
    def memory(self):
        return build_memory({"impl": "ideal", "latency_ns": 50.0})


class TestAnalytical(MemoryContract):
    @pytest.fixture
    def memory(self):
        return build_memory({"impl": "analytical", "channels": 8, "channel_bandwidth_gbps": 32.0,
                             "latency_ns": 100.0})


def test_registry_lists_hbm():
    from accelsim.hw.memory import memory_impls

    assert {"ideal", "analytical", "hbm"} <= set(memory_impls())


def test_unknown_impl_names_choices():
    with pytest.raises(UnknownImplError, match="did you mean 'hbm'"):
        build_memory({"impl": "hmb"}, file="arch.yaml")


def test_unknown_key_is_an_error():
    with pytest.raises(ConfigError, match="arch.yaml: memory.latncy_ns: unknown key"):
        build_memory({"impl": "ideal", "latncy_ns": 3}, file="arch.yaml")
