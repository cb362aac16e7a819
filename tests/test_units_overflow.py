"""Cycle -> picosecond conversion never overflows int64 silently (a 10^12-token context ran into
a negative SimPy delay before)."""

import numpy as np
import pytest

from accelsim.errors import SimulationError
from accelsim.units import MAX_PS, cycles_to_ps, cycles_to_ps_array


@pytest.mark.parametrize("mhz", [1000, 1470, 1830.5])
def test_large_cycle_counts_convert_exactly(mhz):
    cycles = np.array([0, 1, 10**13, 2 * 10**14, 3 * 10**15 + 7], dtype=np.int64)
    assert cycles_to_ps_array(cycles, mhz).tolist() == [cycles_to_ps(int(c), mhz) for c in cycles]
    assert (cycles_to_ps_array(cycles, mhz) >= 0).all()


def test_beyond_64_bit_picoseconds_is_a_clear_error():
    with pytest.raises(SimulationError, match="64-bit picosecond"):
        cycles_to_ps_array(np.array([MAX_PS // 1000 * 10], dtype=np.int64), 1000)
    with pytest.raises(SimulationError, match="64-bit picosecond"):
        cycles_to_ps(MAX_PS, 1000)


def test_a_trillion_token_context_simulates():
    from accelsim.cli import main

    assert main(["simulate", "--model", "llama2-7b", "--context", "1000000000000", "--layers", "1",
                 "--quiet", "--no-progress"]) == 0
