"""The one place where clock-domain conversions happen.

Engine time is integer picoseconds (exact, deterministic). Each component counts integer cycles in
its own clock; these functions are the only crossing points. Nothing else converts inline.
"""

from __future__ import annotations

PS_PER_NS = 1000


def ceil_div(a, b):
    """``ceil(a / b)`` for integers (or integer numpy arrays), without floats."""
    return -(-a // b)


#: Simulated times are int64 picoseconds: about 106 days.
MAX_PS = (1 << 63) - 1


def _too_long(ps) -> "Exception":
    from .errors import SimulationError

    return SimulationError(f"an operator would take {float(ps) / 1e12 / 86400:,.0f} days of "
                           f"simulated time, beyond the {MAX_PS / 1e12 / 86400:,.0f} days that "
                           "64-bit picosecond counters hold; check the trace's shapes "
                           "(context, batch, repeat)")


def cycles_to_ps(cycles: int, clock_mhz: float) -> int:
    """Duration of ``cycles`` cycles of a ``clock_mhz`` clock, in integer ps (rounded up)."""
    if cycles < 0:
        raise ValueError(f"negative cycle count {cycles}")
    ps = -(-int(cycles) * 1_000_000 // int(round(clock_mhz))) if float(clock_mhz).is_integer() \
        else int(-(-cycles * 1_000_000.0 // clock_mhz))
    if ps > MAX_PS:
        raise _too_long(ps)
    return ps


def cycles_to_ps_array(cycles, clock_mhz: float):
    """``cycles_to_ps`` over a numpy integer array (same rounding; no int64 overflow: a result
    beyond ``MAX_PS`` is a ``SimulationError``)."""
    import numpy as np

    cycles = np.asarray(cycles, dtype=np.int64)
    if (cycles < 0).any():
        raise ValueError("negative cycle count")
    if float(clock_mhz).is_integer():
        mhz = int(round(clock_mhz))
        q, r = np.divmod(cycles, mhz)              # cycles * 1e6 would overflow int64 first
        if len(q) and int(q.max()) > (MAX_PS - 1_000_000) // 1_000_000:
            raise _too_long(int(q.max()) * 1_000_000)
        return q * 1_000_000 + (-(-r * 1_000_000 // mhz))
    return np.array([cycles_to_ps(int(c), clock_mhz) for c in cycles], dtype=np.int64)


def ps_to_cycles(ps: int, clock_mhz: float) -> int:
    """Number of whole cycles of a ``clock_mhz`` clock that cover ``ps`` picoseconds (rounded up)."""
    if ps < 0:
        raise ValueError(f"negative duration {ps} ps")
    return int(-(-int(ps) * clock_mhz // 1_000_000))


def ps_to_cycles_array(ps, clock_mhz: float):
    """``ps_to_cycles`` over a numpy integer array (same rounding)."""
    import numpy as np

    ps = np.asarray(ps, dtype=np.int64)
    if float(clock_mhz).is_integer():
        return -(-ps * int(round(clock_mhz)) // 1_000_000)
    return np.array([ps_to_cycles(int(p), clock_mhz) for p in ps], dtype=np.int64)


def ns_to_ps(ns: float) -> int:
    """Nanoseconds (float) to integer picoseconds, rounded to nearest."""
    return int(round(ns * PS_PER_NS))


def ps_to_ns(ps: int) -> float:
    return ps / PS_PER_NS


def bytes_to_ps(nbytes: int, bandwidth_gbps: float) -> int:
    """Time to move ``nbytes`` at ``bandwidth_gbps`` GB/s (1 GB/s = 1 byte/ns), in ps, rounded up."""
    if nbytes < 0:
        raise ValueError(f"negative byte count {nbytes}")
    if bandwidth_gbps <= 0:
        raise ValueError(f"non-positive bandwidth {bandwidth_gbps} GB/s")
    return int(-(-nbytes * PS_PER_NS // bandwidth_gbps))


def ns_to_cycles(t_ns: float, tck_ps: float) -> int:
    """JEDEC-style: a timing in ns to cycles of a clock with period ``tck_ps``, rounded up."""
    # NOTE: subtract a tiny epsilon so values that are exact multiples do not round up on float noise.
    return int(-(-(t_ns * 1000.0 - 1e-6) // tck_ps))


#: (pJ per unit, unit name), largest first: an energy reads in the largest unit it reaches.
ENERGY_UNITS = ((1e12, "J"), (1e9, "mJ"), (1e6, "uJ"), (1e3, "nJ"), (1.0, "pJ"))


def energy_unit(pj: float) -> tuple[float, str]:
    """``(pJ per unit, unit)`` for showing ``pj`` picojoules: 2.3e12 pJ -> J, 2.3e9 -> mJ."""
    magnitude = abs(float(pj))
    for scale, unit in ENERGY_UNITS:
        if magnitude >= scale:
            return scale, unit
    return ENERGY_UNITS[-1]


def format_energy(pj: float, digits: int = 3) -> str:
    """``2,347,114 uJ`` reads as ``2.347 J``: the value in the unit of ``energy_unit``."""
    scale, unit = energy_unit(pj)
    return f"{pj / scale:,.{digits}f} {unit}"


def format_duration_ns(ns: float) -> str:
    """A duration in the unit it reaches: us, ms or s."""
    return (f"{ns / 1e9:,.3f} s" if ns >= 1e9 else f"{ns / 1e6:,.3f} ms" if ns >= 1e6
            else f"{ns / 1e3:,.2f} us")
