"""Off-chip memory behind one small interface, and the simple models that fill the slot.

Implementations register by name in ``MEMORIES`` and are chosen in the architecture YAML with
``memory: {impl: <name>, ...}``:

* ``ideal``      — fixed latency, unbounded bandwidth; isolates the other blocks.
* ``analytical`` — channels x per-channel bandwidth plus a fixed latency, FIFO-shared by all
  requesters (the bandwidth-only model; the default).
* ``hbm``        — bank-level HBM (``accelsim.hw.hbm``), registered when that module is imported.

Units: engine time in integer picoseconds, bandwidth in GB/s (= bytes/ns), latency in ns.
"""

from __future__ import annotations

import abc
from typing import Any, Generator, NamedTuple

import simpy

from ..arch.fields import Section
from ..registry import Registry
from ..units import bytes_to_ps, ns_to_ps

MEMORIES: Registry[type["MemoryModel"]] = Registry("memory")

#: Timeline track whose slices ``(name: "read"/"write", args: {"bytes": n})`` the Perfetto export
#: turns into a bandwidth counter (each transfer's bytes spread evenly over its duration).
BANDWIDTH_TRACK = "memory bandwidth"


class Strided(NamedTuple):
    """``rows`` runs of ``row_bytes`` contiguous bytes, run ``i`` at ``address + i * stride_bytes``
    (one operand tile of a row-major tensor; ``rows == 1`` is a contiguous extent)."""

    address: int
    row_bytes: int
    stride_bytes: int
    rows: int

    @property
    def nbytes(self) -> int:
        return self.row_bytes * self.rows


class MemoryModel(abc.ABC):
    """What the engine needs from off-chip memory.

    Contract (every registered model; ``tests/hw/memory_contract.py`` checks it):

    * bytes are conserved: ``stats()["bytes_read"] + stats()["bytes_written"]`` equals the bytes
      passed to ``transfer``;
    * a transfer never completes faster than ``unloaded_transfer_ps`` of the same request;
    * the same sequence of requests gives the same times (deterministic);
    * ``transfer`` is a SimPy process body: ``yield env.process(mem.transfer(...))``.

    Lifecycle: ``from_config`` (validate) -> ``bind(env)`` (one SimPy environment per run) ->
    ``transfer`` calls -> ``stats()``.
    """

    impl_name: str = ""
    description: str = ""
    #: Optional ``recorder(track, name, start_ps, end_ps, args)`` set by the engine when a
    #: timeline is requested; models call it with occupancy slices that do not overlap per track.
    recorder = None

    @classmethod
    @abc.abstractmethod
    def from_config(cls, section: Section) -> "MemoryModel":
        """Build from the ``memory:`` section of an architecture YAML (validates every key)."""

    @abc.abstractmethod
    def transfer(self, nbytes: int, *, write: bool = False, address: int = 0
                 ) -> Generator[simpy.Event, Any, int]:
        """SimPy process body: move ``nbytes`` starting at byte ``address``; returns ``nbytes``."""

    def transfer_pattern(self, segments: tuple[Strided, ...], *, write: bool = False
                         ) -> Generator[simpy.Event, Any, int]:
        """SimPy process body: move the bytes of ``segments`` (in order) as one transfer.

        Models without addresses (ideal, analytical) see one transfer of the total size; the
        bank-level model (``hbm``) replays the segments' own access order.
        """
        nbytes = sum(s.nbytes for s in segments)
        return (yield from self.transfer(nbytes, write=write,
                                         address=segments[0].address if segments else 0))

    @property
    def uses_addresses(self) -> bool:
        """Whether ``transfer_pattern`` looks at addresses (then the engine lays tensors out)."""
        return type(self).transfer_pattern is not MemoryModel.transfer_pattern

    @abc.abstractmethod
    def peak_bandwidth_gbps(self) -> float:
        """Aggregate peak data bandwidth in GB/s."""

    #: Device capacity in bytes (``capacity_gib`` in the YAML); 0 = not stated (no check).
    capacity_bytes: int = 0

    def sustained_bandwidth_gbps(self) -> float:
        """Bandwidth a long stream of transfers achieves (the peak unless the model says less)."""
        return self.peak_bandwidth_gbps()

    def unloaded_transfer_ps(self, nbytes: int, *, write: bool = False) -> int:
        """Closed-form time of one transfer on an idle memory (used by the analytical fidelity)."""
        return ns_to_ps(self.latency_ns()) + bytes_to_ps(nbytes, self.sustained_bandwidth_gbps())

    def latency_ns(self) -> float:
        """Unloaded access latency in ns."""
        return 0.0

    def bind(self, env: simpy.Environment) -> None:
        """Attach to a SimPy environment and reset all state and statistics."""
        self.env = env
        self.bytes_read = 0
        self.bytes_written = 0
        self.busy_ps = 0

    #: Names of additive integer statistics (``counters``/``add_counters``); subclasses extend.
    counter_names: tuple[str, ...] = ("bytes_read", "bytes_written", "busy_ps")

    def counters(self) -> dict[str, int]:
        """Snapshot of the additive statistics (the engine replays their deltas on reuse)."""
        return {name: int(getattr(self, name)) for name in self.counter_names}

    def add_counters(self, delta: dict[str, int]) -> None:
        """Add a recorded delta, as if the same transfers had been simulated again."""
        for name, value in delta.items():
            setattr(self, name, getattr(self, name) + value)

    def stats(self) -> dict[str, Any]:
        """Statistics for the report, keyed like the YAML section (bytes, busy time, ...)."""
        return {"impl": self.impl_name, "bytes_read": self.bytes_read,
                "bytes_written": self.bytes_written, "busy_ps": self.busy_ps,
                "peak_bandwidth_gbps": self.peak_bandwidth_gbps()}

    def describe(self) -> dict[str, Any]:
        """The configuration as a plain dict (goes into the report's ``arch`` section)."""
        return {"impl": self.impl_name}


def build_memory(raw: Any, *, file: str | None = None, path: str = "memory") -> MemoryModel:
    """Validate a ``memory:`` mapping and build the model it names (default ``analytical``)."""
    section = Section(raw, file=file, path=path)
    impl = section.str("impl", default="analytical")
    if impl not in MEMORIES:
        _import_optional_models()
    cls = MEMORIES.get(impl, file=file, key=section.key_path("impl"))
    capacity_gib = section.float("capacity_gib", default=0.0, minimum=0.0, maximum=1 << 30)
    model = cls.from_config(section)
    model.capacity_bytes = int(capacity_gib * (1 << 30))
    section.done()
    return model


def memory_impls() -> dict[str, str]:
    """Every memory implementation, optional ones included: ``{name: description}``."""
    _import_optional_models()
    return MEMORIES.describe()


def _import_optional_models() -> None:
    """Import modules that register more memory models (kept lazy: the HBM model loads its
    compiled kernel and preset files)."""
    import importlib

    for module in ("accelsim.hw.hbm",):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:  # not built yet; a broken import is not hidden
            if exc.name != module:
                raise


@MEMORIES.register("ideal", "fixed latency, unbounded bandwidth; isolates the other blocks")
class IdealMemory(MemoryModel):
    def __init__(self, latency_ns: float = 0.0):
        self._latency_ns = latency_ns

    @classmethod
    def from_config(cls, section: Section) -> "IdealMemory":
        return cls(section.float("latency_ns", default=0.0, minimum=0.0))

    def peak_bandwidth_gbps(self) -> float:
        return float("inf")

    def latency_ns(self) -> float:
        return self._latency_ns

    def unloaded_transfer_ps(self, nbytes: int, *, write: bool = False) -> int:
        return ns_to_ps(self._latency_ns)

    def transfer(self, nbytes: int, *, write: bool = False, address: int = 0):
        if write:
            self.bytes_written += nbytes
        else:
            self.bytes_read += nbytes
        yield self.env.timeout(ns_to_ps(self._latency_ns))
        return nbytes

    def describe(self) -> dict[str, Any]:
        return {"impl": self.impl_name, "latency_ns": self._latency_ns}


@MEMORIES.register("analytical", "channels x bandwidth + fixed latency, FIFO-shared (bandwidth-only model)")
class AnalyticalMemory(MemoryModel):
    """Aggregate-bandwidth pipe: a transfer is striped over all channels.

    A transfer holds the pipe for ``nbytes / (channels * channel_bandwidth_gbps)`` and then spends
    ``latency_ns`` in flight with the pipe already free, so back-to-back transfers pipeline.
    ``efficiency`` is the fraction of the peak that streams sustain (refresh, bus turnarounds,
    controller overhead: take it from a copy microbenchmark or the bank-level model, never from
    the workload being scored); 1.0 (the default) is the ideal pipe.
    Ignores banks, row buffers and refresh (that is the ``hbm`` model's job).
    """

    def __init__(self, channels: int, channel_bandwidth_gbps: float, latency_ns: float,
                 efficiency: float = 1.0):
        self.channels = channels
        self.channel_bandwidth_gbps = channel_bandwidth_gbps
        self._latency_ns = latency_ns
        self.efficiency = efficiency

    @classmethod
    def from_config(cls, section: Section) -> "AnalyticalMemory":
        return cls(section.int("channels", minimum=1, maximum=4096),
                   section.float("channel_bandwidth_gbps", minimum=0.0, exclusive_minimum=True),
                   section.float("latency_ns", default=100.0, minimum=0.0),
                   section.float("efficiency", default=1.0, minimum=0.0, exclusive_minimum=True,
                                 maximum=1.0))

    def peak_bandwidth_gbps(self) -> float:
        return self.channels * self.channel_bandwidth_gbps

    def sustained_bandwidth_gbps(self) -> float:
        return self.peak_bandwidth_gbps() * self.efficiency

    def latency_ns(self) -> float:
        return self._latency_ns

    def bind(self, env: simpy.Environment) -> None:
        super().bind(env)
        self._free_at_ps = 0

    def transfer(self, nbytes: int, *, write: bool = False, address: int = 0):
        # NOTE(perf): a capacity-1 FIFO pipe grants in request order, so the grant time is
        # max(now, when the pipe frees): one timeout instead of a Resource request/release
        # (scripts/bench_serving.py). Same times as simpy.Resource(capacity=1); tested.
        busy = bytes_to_ps(nbytes, self.sustained_bandwidth_gbps())
        start = max(self.env.now, self._free_at_ps)
        self._free_at_ps = start + busy
        self.busy_ps += busy
        if write:
            self.bytes_written += nbytes
        else:
            self.bytes_read += nbytes
        if self.recorder is not None:
            self.recorder("memory", "write" if write else "read", start, start + busy,
                          {"bytes": nbytes})
        yield self.env.timeout(start + busy + ns_to_ps(self._latency_ns) - self.env.now)
        return nbytes

    def describe(self) -> dict[str, Any]:
        return {"impl": self.impl_name, "channels": self.channels,
                "channel_bandwidth_gbps": self.channel_bandwidth_gbps,
                "latency_ns": self._latency_ns, "efficiency": self.efficiency}
