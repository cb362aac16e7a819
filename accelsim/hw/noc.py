"""Network-on-chip: a 2-D mesh of input-queued routers with XY routing, and an ideal NoC.

Implementations register by name in ``NOCS`` and are chosen with ``noc: {impl: <name>, ...}``:

* ``mesh``  — k x l mesh, dimension-order (XY) routing, wormhole / virtual cut-through flow
  control with virtual channels, iSLIP switch allocation, per-link contention (validated against
  BookSim 2 in ``scripts/validate_noc.py``);
* ``ideal`` — zero latency, unbounded bandwidth; isolates the other blocks.

What the mesh models: a router pipeline of ``router_pipeline_cycles`` stages (routing, VC
allocation, switch allocation, switch traversal), links of ``link_latency_cycles`` carrying one
flit of ``flit_bytes`` per cycle per direction, ``num_vcs`` virtual channels of ``vc_buffer_flits``
per input port with credit flow control (a VC is returned ``credit_delay_cycles`` after its tail
leaves), a 5x5 iSLIP switch allocator with speedup 1 (one flit per cycle per input and output
port), injection and ejection channels of one flit per cycle, and an infinite FIFO source queue
per node. What it ignores: flit-level timing inside an allocation chunk, adaptive routing, link
errors, power. Units: cycles of the NoC clock (``clock_mhz``) everywhere; the SimPy API converts
to the engine's integer picoseconds once, through ``accelsim.units``.

Two ways to drive it:

1. **Synthetic traffic** (``accelsim noctest``): :func:`run_synthetic` builds a Bernoulli packet
   trace (uniform, transpose or hotspot), runs the numba kernel
   (:func:`accelsim.hw.noc_kernel.simulate_mesh_kernel`) and measures like BookSim's latency mode:
   warm-up, a measurement window, then a drain until every packet created in the window is out.
   Packet latency is creation to tail ejection, source queueing included.
2. **SimPy** (the workload mode): ``noc = build_noc(raw); noc.bind(env)`` then
   ``yield env.process(noc.send(src, dst, nbytes))``. A message is cut into chunks of
   ``chunk_bytes``, each one packet: at every stop it takes a VC of the next input port (credit
   flow control: ``num_vcs`` per port, a VC returned ``credit_delay_cycles`` after the tail left
   it), the directed link (a FIFO ``simpy.Resource``) and its crossbar input, each for its
   serialization time, while its head moves on after one router + link delay (wormhole
   pipelining), so hot links and full ports delay the traffic behind them. Checked against the
   kernel on the same traces (``link_model_done_cycles``, ``tests/hw/test_noc_link_model.py``).
   Events per chunk: about four per hop, never one per flit or cycle.

Node ids are ``y * columns + x``. Ports: 0 local (injection in / ejection out), 1 east (+x),
2 west (-x), 3 north (+y), 4 south (-y). ``link_utilization`` arrays have shape
``(nodes, 5)``: the share of cycles each output port (0 = ejection channel) carried a flit.

Example:
    >>> cfg = MeshConfig(columns=4, rows=4)
    >>> zero_load_latency_cycles(cfg, hops=2, flits=1)
    14
    >>> xy_route(cfg, 0, 5)
    [(0, 1), (1, 3), (5, 0)]
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Generator, Iterable

import numpy as np
import simpy

from ..arch.fields import Section
from ..errors import AccelsimError, ConfigError
from ..registry import Registry
from ..units import cycles_to_ps

NOCS: Registry[type["NoCModel"]] = Registry("noc")

PORT_NAMES = ("local", "east", "west", "north", "south")
#: Input port a flit arrives on after leaving through an output port (5 = injection: local).
_INPUT_OF = (0, 2, 1, 4, 3, 0)
TRAFFIC_PATTERNS = ("uniform", "transpose", "hotspot")
MC_PLACEMENTS = ("none", "edges", "corners", "columns", "explicit")


# --------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class MeshConfig:
    """Validated ``noc:`` section of impl ``mesh``. Defaults are BookSim 2's stock meshconfig."""

    columns: int
    rows: int
    router_pipeline_cycles: int = 3
    link_latency_cycles: int = 1
    flit_bytes: int = 16
    clock_mhz: float = 1000.0
    injection_latency_cycles: int = 1
    ejection_latency_cycles: int = 1
    ni_latency_cycles: int = 1
    # Input buffers and credits (also the workload link model's): BookSim 2 runfiles/meshconfig
    # num_vcs = 16, vc_buf_size = 8, credit_delay = 2 (Jiang et al., ISPASS 2013).
    num_vcs: int = 16
    vc_buffer_flits: int = 8
    credit_delay_cycles: int = 2
    alloc_iters: int = 2
    interleave_flits: int = 1
    chunk_bytes: int = 4096
    routing: str = "xy"
    memory_controllers: tuple[int, ...] = ()
    #: Raw ``multicore:`` mapping (workload mode: how operators are split over the cores). Kept
    #: raw here because hardware never imports the mapping layer; validated by
    #: ``accelsim.mapping.partition.build_multicore``.
    multicore: Any = field(default=None, compare=False)

    @property
    def nodes(self) -> int:
        return self.columns * self.rows

    def node_roles(self) -> list[str]:
        """``"memory_controller"`` or ``"core"`` per node id."""
        mcs = set(self.memory_controllers)
        return ["memory_controller" if n in mcs else "core" for n in range(self.nodes)]


def _parse_nodes(sec: Section, key: str, columns: int, rows: int) -> list[int]:
    """A list of ``[x, y]`` pairs (or node ids) -> node ids, each checked against the mesh."""
    raw = sec.any(key)
    if not isinstance(raw, list) or not raw:
        raise sec.error(key, f"expected a non-empty list of [x, y] pairs, got {raw!r:.60}")
    nodes = []
    for i, item in enumerate(raw):
        if isinstance(item, list) and len(item) == 2 and all(
                isinstance(v, int) and not isinstance(v, bool) for v in item):
            x, y = item
            if not (0 <= x < columns and 0 <= y < rows):
                raise sec.error(f"{key}[{i}]", f"expected 0 <= x < {columns} and 0 <= y < {rows}, "
                                               f"got [{x}, {y}]")
            nodes.append(y * columns + x)
        elif isinstance(item, int) and not isinstance(item, bool) and 0 <= item < columns * rows:
            nodes.append(item)
        else:
            raise sec.error(f"{key}[{i}]", f"expected [x, y] or a node id < {columns * rows}, "
                                           f"got {item!r:.40}")
    if len(set(nodes)) != len(nodes):
        raise sec.error(key, "a node is listed twice")
    return nodes


def memory_controller_nodes(placement: str, columns: int, rows: int, *,
                            mc_columns: Iterable[int] = (), nodes: Iterable[int] = ()) -> list[int]:
    """Node ids of the memory controllers for a placement rule (sorted).

    ``edges``: every node on the west and east edges; ``corners``: the four corners; ``columns``:
    every node of the given columns; ``explicit``: ``nodes`` as given; ``none``: no controller.

    >>> memory_controller_nodes("corners", 4, 4)
    [0, 3, 12, 15]
    """
    if placement == "none":
        return []
    if placement == "edges":
        return sorted({y * columns + x for y in range(rows) for x in (0, columns - 1)})
    if placement == "corners":
        return sorted({y * columns + x for y in (0, rows - 1) for x in (0, columns - 1)})
    if placement == "columns":
        return sorted(y * columns + x for x in set(mc_columns) for y in range(rows))
    if placement == "explicit":
        return sorted(nodes)
    raise ValueError(f"unknown placement {placement!r}")


def mesh_config_from_section(sec: Section) -> MeshConfig:
    """Read and validate every key of a ``noc:`` section of impl ``mesh`` (unknown keys: error)."""
    columns = sec.int("columns", minimum=1, maximum=256)
    rows = sec.int("rows", minimum=1, maximum=256)
    kw: dict[str, Any] = dict(
        columns=columns, rows=rows,
        router_pipeline_cycles=sec.int("router_pipeline_cycles", default=3, minimum=1, maximum=64),
        link_latency_cycles=sec.int("link_latency_cycles", default=1, minimum=1, maximum=1024),
        flit_bytes=sec.int("flit_bytes", default=16, minimum=1, maximum=4096),
        clock_mhz=sec.float("clock_mhz", default=1000.0, minimum=0.0, exclusive_minimum=True),
        injection_latency_cycles=sec.int("injection_latency_cycles", default=1, minimum=0,
                                         maximum=1024),
        ejection_latency_cycles=sec.int("ejection_latency_cycles", default=1, minimum=0,
                                        maximum=1024),
        ni_latency_cycles=sec.int("ni_latency_cycles", default=1, minimum=0, maximum=1024),
        num_vcs=sec.int("num_vcs", default=16, minimum=1, maximum=64),
        vc_buffer_flits=sec.int("vc_buffer_flits", default=8, minimum=1, maximum=4096),
        credit_delay_cycles=sec.int("credit_delay_cycles", default=2, minimum=0, maximum=1024),
        alloc_iters=sec.int("alloc_iters", default=2, minimum=1, maximum=5),
        interleave_flits=sec.int("interleave_flits", default=1, minimum=1, maximum=4096),
        chunk_bytes=sec.int("chunk_bytes", default=4096, minimum=1),
        routing=sec.choice("routing", ("xy",), default="xy"),
    )
    if kw["interleave_flits"] > kw["vc_buffer_flits"]:
        raise sec.error("interleave_flits", f"expected a value <= vc_buffer_flits "
                                            f"({kw['vc_buffer_flits']}), got {kw['interleave_flits']}")
    if sec.has("memory_controllers"):
        mc = sec.section("memory_controllers")
        placement = mc.choice("placement", MC_PLACEMENTS)
        mc_columns: list[int] = []
        nodes: list[int] = []
        if placement == "columns":
            raw = mc.any("columns")
            if not isinstance(raw, list) or not raw or not all(
                    isinstance(c, int) and not isinstance(c, bool) and 0 <= c < columns for c in raw):
                raise mc.error("columns", f"expected a non-empty list of column indices "
                                          f"0..{columns - 1}, got {raw!r:.60}")
            mc_columns = raw
        elif placement == "explicit":
            nodes = _parse_nodes(mc, "nodes", columns, rows)
        mc.done()
        kw["memory_controllers"] = tuple(memory_controller_nodes(
            placement, columns, rows, mc_columns=mc_columns, nodes=nodes))
    else:
        sec.any("memory_controllers", default=None)
    if sec.has("inter_chip"):
        # Chip-to-chip links are the top-level ``interconnect`` section (ring collectives on the
        # ``link`` unit, engine/multicore.py); gateway links on the mesh are not simulated, so
        # the key is rejected rather than silently ignored (issue 17).
        raise sec.error("inter_chip", "chip-to-chip links are not simulated on the mesh; remove "
                                      "noc.inter_chip and describe them with the top-level "
                                      "interconnect: {link_bandwidth_gbps, link_latency_ns} "
                                      "(tensor-parallel collectives run over it)")
    multicore = sec.any("multicore", default=None)
    if multicore is not None and not isinstance(multicore, dict):
        raise sec.error("multicore", f"expected a mapping, got {multicore!r:.60}")
    kw["multicore"] = multicore
    return MeshConfig(**kw)


# --------------------------------------------------------------------------- pure timing / routing
def node_xy(cfg: MeshConfig, node: int) -> tuple[int, int]:
    """``(x, y)`` of a node id."""
    return node % cfg.columns, node // cfg.columns


def _check_node(cfg: MeshConfig, node: int, what: str) -> None:
    if isinstance(node, bool) or not isinstance(node, (int, np.integer)) or not 0 <= node < cfg.nodes:
        raise AccelsimError(f"noc: {what} node must be an integer in 0..{cfg.nodes - 1}, "
                            f"got {node!r}")


def xy_route(cfg: MeshConfig, src: int, dst: int) -> list[tuple[int, int]]:
    """Output ports a packet takes from ``src`` to ``dst``: ``[(router, port), ...]``.

    X first, then Y; the last entry is the ejection port (0) at ``dst``.
    """
    _check_node(cfg, src, "source")
    _check_node(cfg, dst, "destination")
    x, y = node_xy(cfg, src)
    dx, dy = node_xy(cfg, dst)
    hops = []
    while x != dx:
        port = 1 if dx > x else 2
        hops.append((y * cfg.columns + x, port))
        x += 1 if port == 1 else -1
    while y != dy:
        port = 3 if dy > y else 4
        hops.append((y * cfg.columns + x, port))
        y += 1 if port == 3 else -1
    hops.append((dst, 0))
    return hops


def hop_count(cfg: MeshConfig, src: int, dst: int) -> int:
    """Router-to-router links between two nodes (Manhattan distance)."""
    (x, y), (dx, dy) = node_xy(cfg, src), node_xy(cfg, dst)
    return abs(x - dx) + abs(y - dy)


def packet_flits(nbytes: int, flit_bytes: int) -> int:
    """Flits a payload of ``nbytes`` needs (at least one: a header-only packet is one flit)."""
    if nbytes < 0:
        raise ValueError(f"negative byte count {nbytes}")
    return max(1, -(-nbytes // flit_bytes))


def serialization_cycles(flits: int) -> int:
    """Cycles a packet of ``flits`` holds a link (one flit per cycle), also its tail's lag."""
    if flits < 1:
        raise ValueError(f"a packet has at least one flit, got {flits}")
    return flits


def zero_load_latency_cycles(cfg: MeshConfig, *, hops: int, flits: int) -> int:
    """Latency of one packet on an idle mesh, creation to tail ejection.

    ``T0 = t_NI + t_inj + (H+1) t_r + H t_l + t_ej + (P - 1)``; with BookSim's stock config this
    is ``6 + 4 H + (P - 1)``.
    """
    return (cfg.ni_latency_cycles + cfg.injection_latency_cycles
            + (hops + 1) * cfg.router_pipeline_cycles + hops * cfg.link_latency_cycles
            + cfg.ejection_latency_cycles + serialization_cycles(flits) - 1)


def mean_uniform_hops(columns: int, rows: int) -> float:
    """Mean Manhattan distance under uniform random traffic, destination may equal source."""
    return (columns * columns - 1) / (3 * columns) + (rows * rows - 1) / (3 * rows)


def traffic_matrix(cfg: MeshConfig, traffic: str, *, hotspot_fraction: float = 0.0,
                   hotspot_nodes: Iterable[int] = ()) -> np.ndarray:
    """``M[s, d]``: share of node s's packets that go to d (rows sum to 1)."""
    n = cfg.nodes
    if traffic == "uniform":
        return np.full((n, n), 1.0 / n)
    if traffic == "transpose":
        m = np.zeros((n, n))
        for s in range(n):
            x, y = node_xy(cfg, s)
            m[s, x * cfg.columns + y] = 1.0
        return m
    if traffic == "hotspot":
        hot = list(hotspot_nodes)
        m = np.full((n, n), (1.0 - hotspot_fraction) / n)
        m[:, hot] += hotspot_fraction / len(hot)
        return m
    raise ValueError(f"unknown traffic {traffic!r}")


def channel_loads(cfg: MeshConfig, matrix: np.ndarray) -> np.ndarray:
    """Flits per cycle on each output port (shape ``(nodes, 5)``) per unit injection rate.

    Multiply by the injection rate (flits/node/cycle) to get link loads; the largest entry gives
    the ideal saturation throughput ``1 / max``.
    """
    src, dst = np.nonzero(matrix > 0)
    return route_loads(cfg, src, dst, matrix[src, dst])[:, :5]


def route_loads(cfg: MeshConfig, src, dst, amount) -> np.ndarray:
    """What each directed link carries when ``amount[i]`` goes from ``src[i]`` to ``dst[i]`` by
    XY routing: shape ``(nodes, 6)``, output ports 0-4 (0 = ejection) and 5 = the injection
    channel. Vectorised (difference arrays along each row and column), the same routes as
    :func:`xy_route`; the analytical fidelity's channel-load term uses it."""
    src = np.asarray(src, np.int64)
    dst = np.asarray(dst, np.int64)
    amount = np.asarray(amount, np.float64)
    k, n = cfg.columns, cfg.nodes
    sx, sy, dx, dy = src % k, src // k, dst % k, dst // k
    loads = np.zeros((n, 6))
    np.add.at(loads[:, 0], dst, amount)
    np.add.at(loads[:, 5], src, amount)

    def span(port, line, lo, hi, along_x):
        """Add ``amount`` to routers ``lo..hi-1`` of each row (along_x) or column."""
        sel = lo < hi
        size = k if along_x else cfg.rows
        diff = np.zeros((cfg.rows if along_x else k, size + 1))
        np.add.at(diff, (line[sel], lo[sel]), amount[sel])
        np.add.at(diff, (line[sel], hi[sel]), -amount[sel])
        run = np.cumsum(diff[:, :size], axis=1)        # [line, position]
        if along_x:
            loads[:, port] += run.reshape(-1)           # node = y * k + x
        else:
            loads[:, port] += run.T.reshape(-1)         # run[x, y] -> node y * k + x

    span(1, sy, sx, dx, True)              # east: routers x = sx .. dx-1 of row sy
    span(2, sy, dx + 1, sx + 1, True)      # west: routers x = dx+1 .. sx
    span(3, dx, sy, dy, False)             # north: routers y = sy .. dy-1 of column dx
    span(4, dx, dy + 1, sy + 1, False)     # south: routers y = dy+1 .. sy
    return loads


def ideal_saturation_rate(cfg: MeshConfig, matrix: np.ndarray) -> float:
    """Channel-load bound on the injection rate (flits/node/cycle), incl. the injection port."""
    return float(min(1.0, 1.0 / channel_loads(cfg, matrix).max()))


# --------------------------------------------------------------------------- synthetic traffic
@dataclass
class SyntheticResult:
    """Outcome of one synthetic-traffic run (``accelsim noctest``)."""

    mesh: str
    traffic: str
    packet_flits: int
    seed: int
    offered_flits_per_node_cycle: float
    injected_flits_per_node_cycle: float
    accepted_flits_per_node_cycle: float
    avg_packet_latency_cycles: float
    avg_network_latency_cycles: float
    avg_hops: float
    zero_load_latency_cycles: float
    saturated: bool
    packets_measured: int
    warmup_cycles: int
    measure_cycles: int
    simulated_cycles: int
    flit_hops: int
    link_utilization: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``link_utilization`` as nested lists, shape ``(nodes, 5)``)."""
        out = {k: v for k, v in self.__dict__.items() if k != "link_utilization"}
        out["link_utilization"] = np.round(self.link_utilization, 6).tolist()
        out["link_utilization_ports"] = list(PORT_NAMES)
        return out


def generate_trace(cfg: MeshConfig, *, traffic: str, rate: float, packet_flits: int,
                   cycles: int, seed: int, hotspot_fraction: float = 0.1,
                   hotspot_nodes: Iterable[int] = ()) -> tuple[np.ndarray, ...]:
    """Bernoulli packet trace: each node starts a packet in a cycle with probability rate / P.

    Inter-arrival gaps are drawn as geometric variables (the same process, fewer draws). Returns
    ``(src, dst, ctime, flits, node_start)`` sorted by (source, cycle), as the kernel wants.
    Deterministic for a given seed.
    """
    rng = np.random.default_rng(seed)
    n = cfg.nodes
    p = rate / packet_flits
    srcs, times = [], []
    if p > 0:
        for node in range(n):
            expected = p * cycles
            gaps = rng.geometric(p, size=int(expected + 8 * math.sqrt(expected + 1) + 16))
            c = np.cumsum(gaps) - 1
            c = c[c < cycles]
            times.append(c)
            srcs.append(np.full(len(c), node, np.int32))
    src = np.concatenate(srcs).astype(np.int32) if srcs else np.zeros(0, np.int32)
    ctime = np.concatenate(times).astype(np.int64) if times else np.zeros(0, np.int64)
    if traffic == "uniform":
        dst = rng.integers(0, n, size=len(src))
    elif traffic == "transpose":
        x, y = src % cfg.columns, src // cfg.columns
        dst = x * cfg.columns + y
    elif traffic == "hotspot":
        hot = np.asarray(list(hotspot_nodes), np.int64)
        to_hot = rng.random(len(src)) < hotspot_fraction
        dst = np.where(to_hot, hot[rng.integers(0, len(hot), size=len(src))],
                       rng.integers(0, n, size=len(src)))
    else:
        raise ValueError(f"unknown traffic {traffic!r}")
    node_start = np.zeros(n + 1, np.int64)
    node_start[1:] = np.cumsum(np.bincount(src, minlength=n))
    return (src, dst.astype(np.int32), ctime, np.full(len(src), packet_flits, np.int32),
            node_start)


def simulate_trace(cfg: MeshConfig, src, dst, ctime, flits, node_start, *, measure_start: int = 0,
                   measure_end: int | None = None, t_end: int | None = None):
    """Run the kernel on a packet trace (see ``simulate_mesh_kernel`` for the returned tuple).

    ``measure_end`` defaults to after the last packet, ``t_end`` to a bound no run can exceed.
    """
    from .noc_kernel import simulate_mesh_kernel

    if measure_end is None:
        measure_end = int(ctime.max()) + 1 if len(ctime) else 1
    if t_end is None:
        t_end = (int(ctime.max()) if len(ctime) else 0) + 1 + int(np.sum(flits)) * (
            cfg.router_pipeline_cycles + cfg.link_latency_cycles + 2) * (cfg.columns + cfg.rows) \
            + zero_load_latency_cycles(cfg, hops=cfg.columns + cfg.rows, flits=1) + 16
    return simulate_mesh_kernel(
        cfg.columns, cfg.rows, cfg.router_pipeline_cycles, cfg.link_latency_cycles,
        cfg.injection_latency_cycles, cfg.ejection_latency_cycles, cfg.ni_latency_cycles,
        cfg.credit_delay_cycles, cfg.num_vcs, cfg.vc_buffer_flits, cfg.alloc_iters,
        cfg.interleave_flits, np.asarray(src, np.int32), np.asarray(dst, np.int32),
        np.asarray(ctime, np.int64), np.asarray(flits, np.int32),
        np.asarray(node_start, np.int64), int(measure_start), int(measure_end), int(t_end))


def packet_latencies(cfg: MeshConfig, packets: list[tuple[int, int, int, int]]) -> list[int]:
    """Latency (cycles, creation to tail ejection) of each ``(cycle, src, dst, flits)`` packet.

    The deterministic entry point for tests and small studies: no randomness, no warm-up.
    """
    order = sorted(range(len(packets)), key=lambda i: (packets[i][1], packets[i][0], i))
    for c, s, d, f in packets:
        _check_node(cfg, s, "source")
        _check_node(cfg, d, "destination")
        if c < 0 or f < 1:
            raise AccelsimError(f"noc: packet needs cycle >= 0 and flits >= 1, got {c}, {f}")
    src = np.array([packets[i][1] for i in order], np.int32)
    node_start = np.zeros(cfg.nodes + 1, np.int64)
    node_start[1:] = np.cumsum(np.bincount(src, minlength=cfg.nodes))
    done, *_ = simulate_trace(cfg, src, np.array([packets[i][2] for i in order], np.int32),
                              np.array([packets[i][0] for i in order], np.int64),
                              np.array([packets[i][3] for i in order], np.int32), node_start)
    lat = [0] * len(packets)
    for j, i in enumerate(order):
        lat[i] = int(done[j] - packets[i][0])
    return lat


def link_model_done_cycles(cfg: MeshConfig, src, dst, ctime, flits) -> np.ndarray:
    """Tail-arrival cycle of each packet of a trace through the *workload* link model
    (:class:`MeshNoC`'s SimPy ``send``, one chunk per packet), for comparison with the kernel on
    the same trace (``tests/hw/test_noc_link_model.py``)."""
    noc = MeshNoC(cfg if cfg.chunk_bytes >= int(np.max(flits, initial=1)) * cfg.flit_bytes
                  else replace(cfg, chunk_bytes=int(np.max(flits)) * cfg.flit_bytes))
    env = simpy.Environment()
    noc.bind(env)
    ps_per_cycle = cycles_to_ps(1, cfg.clock_mhz)
    done = np.full(len(src), -1, np.int64)

    def packet(i: int):
        yield env.timeout(int(ctime[i]) * ps_per_cycle)
        yield env.process(noc.send(int(src[i]), int(dst[i]), int(flits[i]) * cfg.flit_bytes))
        done[i] = env.now // ps_per_cycle

    for i in np.argsort(ctime, kind="stable").tolist():   # creation order: FIFO source queues
        env.process(packet(i))
    env.run()
    return done


def run_synthetic(cfg: MeshConfig, *, traffic: str = "uniform", rate: float, packet_flits: int = 1,
                  seed: int = 1, warmup_cycles: int = 3000, measure_cycles: int = 10000,
                  drain_cycles: int = 10000, hotspot_fraction: float = 0.1,
                  hotspot_nodes: Iterable[int] | None = None) -> SyntheticResult:
    """One synthetic-traffic run, measured the way BookSim's ``sim_type = latency`` measures.

    Packets created during ``[warmup, warmup + measure)`` are the measured ones; injection goes on
    while they drain (up to ``drain_cycles``). Latency = creation to tail ejection (source queueing
    included); accepted rate = flits ejected during the window per node per cycle. ``saturated``:
    some measured packet was still undelivered at the drain limit, or the accepted rate fell short
    of the offered rate by more than sampling noise (5 % or 4 sigma, whichever is larger).
    """
    _check_synthetic_args(cfg, traffic, rate, packet_flits, warmup_cycles, measure_cycles,
                          hotspot_fraction)
    if hotspot_nodes is None:
        hotspot_nodes = cfg.memory_controllers or ((cfg.rows // 2) * cfg.columns + cfg.columns // 2,)
    hotspot_nodes = tuple(hotspot_nodes)
    total = warmup_cycles + measure_cycles + drain_cycles
    src, dst, ctime, flits, node_start = generate_trace(
        cfg, traffic=traffic, rate=rate, packet_flits=packet_flits, cycles=total, seed=seed,
        hotspot_fraction=hotspot_fraction, hotspot_nodes=hotspot_nodes)
    m0, m1 = warmup_cycles, warmup_cycles + measure_cycles
    done, injected, hops, link_busy, ejected, t_stop = simulate_trace(
        cfg, src, dst, ctime, flits, node_start, measure_start=m0, measure_end=m1, t_end=total)
    measured = (ctime >= m0) & (ctime < m1)
    n_measured = int(measured.sum())
    delivered = done[measured] >= 0
    end = np.where(delivered, done[measured], t_stop)
    lat = float(np.mean(end - ctime[measured])) if n_measured else float("nan")
    # BookSim's network latency starts when the NI takes the packet: its pipeline cycle counts
    net_start = np.where(injected[measured] >= 0,
                         np.maximum(injected[measured] - cfg.ni_latency_cycles, ctime[measured]),
                         t_stop)
    net_lat = float(np.mean(end - net_start)) if n_measured else float("nan")
    node_cycles = measure_cycles * cfg.nodes
    accepted = ejected / node_cycles
    injected_rate = float(np.sum(flits[(injected >= m0) & (injected < m1)])) / node_cycles
    expected = rate * node_cycles
    shortfall = expected - ejected
    saturated = bool(not delivered.all() or shortfall > max(0.05 * expected,
                                                          4 * math.sqrt(expected + 1)))
    mean_hops = mean_uniform_hops(cfg.columns, cfg.rows) if traffic == "uniform" else float(
        np.mean(hops[measured])) if n_measured else 0.0
    return SyntheticResult(
        mesh=f"{cfg.columns}x{cfg.rows}", traffic=traffic, packet_flits=packet_flits, seed=seed,
        offered_flits_per_node_cycle=rate, injected_flits_per_node_cycle=injected_rate,
        accepted_flits_per_node_cycle=float(accepted), avg_packet_latency_cycles=lat,
        avg_network_latency_cycles=net_lat,
        avg_hops=float(np.mean(hops[measured])) if n_measured else 0.0,
        zero_load_latency_cycles=float(
            cfg.ni_latency_cycles + cfg.injection_latency_cycles + cfg.router_pipeline_cycles
            + cfg.ejection_latency_cycles + packet_flits - 1
            + mean_hops * (cfg.router_pipeline_cycles + cfg.link_latency_cycles)),
        saturated=saturated, packets_measured=n_measured, warmup_cycles=warmup_cycles,
        measure_cycles=measure_cycles, simulated_cycles=int(t_stop),
        flit_hops=int(np.sum(link_busy)), link_utilization=link_busy / measure_cycles)


def _check_synthetic_args(cfg, traffic, rate, packet_flits, warmup_cycles, measure_cycles,
                          hotspot_fraction) -> None:
    if traffic not in TRAFFIC_PATTERNS:
        raise AccelsimError(f"noctest: traffic must be one of {', '.join(TRAFFIC_PATTERNS)}, "
                            f"got {traffic!r}")
    if traffic == "transpose" and cfg.columns != cfg.rows:
        raise AccelsimError(f"noctest: transpose traffic needs a square mesh, got "
                            f"{cfg.columns}x{cfg.rows}")
    if not (isinstance(rate, (int, float)) and 0.0 < rate <= 1.0):
        raise AccelsimError(f"noctest: rate (flits/node/cycle) must be in (0, 1], got {rate!r}")
    if not (isinstance(packet_flits, int) and 1 <= packet_flits <= 4096):
        raise AccelsimError(f"noctest: packet flits must be in 1..4096, got {packet_flits!r}")
    if packet_flits > cfg.vc_buffer_flits * 64:
        raise AccelsimError(f"noctest: packet of {packet_flits} flits is too long for "
                            f"{cfg.vc_buffer_flits}-flit VC buffers")
    if warmup_cycles < 0 or measure_cycles < 1:
        raise AccelsimError(f"noctest: need warm-up >= 0 and measurement >= 1 cycles, got "
                            f"{warmup_cycles}, {measure_cycles}")
    if not 0.0 <= hotspot_fraction <= 1.0:
        raise AccelsimError(f"noctest: hotspot fraction must be in [0, 1], got {hotspot_fraction}")


def sweep_synthetic(cfg: MeshConfig, *, rates: Iterable[float] | None = None,
                    rate_step: float = 0.02, stop_after_saturated: int = 2,
                    **kwargs) -> list[SyntheticResult]:
    """Injection-rate sweep. Without ``rates``: step up from ``rate_step`` until the network has
    been saturated for ``stop_after_saturated`` points (or 1.0)."""
    results = []
    if rates is not None:
        return [run_synthetic(cfg, rate=r, **kwargs) for r in rates]
    saturated_points, i = 0, 1
    while saturated_points < stop_after_saturated:
        r = round(i * rate_step, 6)
        if r > 1.0:
            break
        res = run_synthetic(cfg, rate=r, **kwargs)
        results.append(res)
        saturated_points += res.saturated
        i += 1
    return results


def saturation_throughput(results: Iterable[SyntheticResult]) -> float:
    """Saturation throughput as BookSim sweeps report it: the largest accepted rate seen."""
    return max(r.accepted_flits_per_node_cycle for r in results)


# --------------------------------------------------------------------------- SimPy-facing models
class NoCModel(abc.ABC):
    """What the engine needs from a network-on-chip.

    Contract: ``send`` is a SimPy process body that returns ``nbytes`` once the last byte has
    arrived at ``dst``; it never finishes before ``unloaded_send_cycles``; the same sequence of
    sends gives the same times. Lifecycle: ``from_config`` -> ``bind(env)`` -> ``send`` -> ``stats``.
    """

    #: Optional ``recorder(track, name, start_ps, end_ps, args)`` set by the engine for timelines.
    recorder = None
    impl_name: str = ""
    description: str = ""

    @classmethod
    @abc.abstractmethod
    def from_config(cls, section: Section) -> "NoCModel":
        """Build from a ``noc:`` section (validates every key)."""

    @abc.abstractmethod
    def send(self, src: int, dst: int, nbytes: int) -> Generator[simpy.Event, Any, int]:
        """SimPy process body: move ``nbytes`` from node ``src`` to node ``dst``."""

    def bind(self, env: simpy.Environment) -> None:
        """Attach to a SimPy environment (engine time in integer ps) and reset statistics."""
        self.env = env
        self.bytes_sent = 0

    def stats(self) -> dict[str, Any]:
        return {"impl": self.impl_name, "bytes_sent": self.bytes_sent}

    def counters(self) -> dict[str, Any]:
        """Snapshot of the additive statistics (the engine replays their deltas on shape reuse)."""
        return {"bytes_sent": self.bytes_sent}

    def add_counters(self, delta: dict[str, Any]) -> None:
        """Add a recorded delta, as if the same messages had been sent again."""
        self.bytes_sent += delta["bytes_sent"]


@NOCS.register("ideal", "zero latency, unbounded bandwidth; isolates the other blocks")
class IdealNoC(NoCModel):
    @classmethod
    def from_config(cls, section: Section) -> "IdealNoC":
        return cls()

    def send(self, src: int, dst: int, nbytes: int):
        self.bytes_sent += nbytes
        yield self.env.timeout(0)
        return nbytes


@NOCS.register("mesh", "k x l mesh, XY routing, VC wormhole routers, per-link contention "
                       "(validated against BookSim 2)")
class MeshNoC(NoCModel):
    """The mesh behind the SimPy API; :func:`run_synthetic` drives the same config in the kernel.

    States of a link resource: free, or held by one chunk for its serialization time. A chunk
    moves ``request VC -> request link -> crossbar input free -> hold (released by a timer) ->
    head advances one hop``; a VC pool entry is held from the head's request until the tail left.
    """

    def __init__(self, cfg: MeshConfig):
        self.cfg = cfg

    @classmethod
    def from_config(cls, section: Section) -> "MeshNoC":
        return cls(mesh_config_from_section(section))

    def _cycles_ps(self, cycles: int) -> int:
        return cycles_to_ps(cycles, self.cfg.clock_mhz)

    def bind(self, env: simpy.Environment) -> None:
        super().bind(env)
        n = self.cfg.nodes
        # output ports (0 = ejection) plus one injection channel per node
        self._links = [[simpy.Resource(env, capacity=1) for _ in range(6)] for _ in range(n)]

        # VC pools of the input ports, [router][input port] (0 = local; _INPUT_OF numbering)
        self._vcs = [[simpy.Resource(env, capacity=self.cfg.num_vcs) for _ in range(5)]
                     for _ in range(n)]
        # when each crossbar input is next free (speedup 1: one flit a cycle), [router][input]
        self._xbar_free_ps = [[0] * 5 for _ in range(n)]
        self._busy_cycles = np.zeros((n, 6), np.int64)
        self.packets = 0               # chunks delivered (the SimPy API's packets)
        self.packet_latency_ps = 0     # their summed latency, send call to tail arrival

    def unloaded_send_cycles(self, src: int, dst: int, nbytes: int) -> int:
        """Cycles of a message on an idle mesh (chunks pipeline behind each other)."""
        flits = packet_flits(nbytes, self.cfg.flit_bytes)
        return zero_load_latency_cycles(self.cfg, hops=hop_count(self.cfg, src, dst), flits=flits)

    def send(self, src: int, dst: int, nbytes: int):
        route = xy_route(self.cfg, src, dst)
        if nbytes < 0:
            raise AccelsimError(f"noc: negative message size {nbytes}")
        chunks = []
        remaining = nbytes
        while True:
            size = min(remaining, self.cfg.chunk_bytes)
            chunks.append(self.env.process(self._send_chunk(src, route, size)))
            remaining -= size
            if remaining <= 0:
                break
        yield simpy.AllOf(self.env, chunks)
        self.bytes_sent += nbytes
        return nbytes

    def _input_vcs(self, router: int, port: int) -> simpy.Resource | None:
        """The VC pool a link out of ``router``'s ``port`` (5 = injection) feeds; ``None`` for
        ejection (the network interface sinks a flit per cycle)."""
        if port == 0:
            return None
        if port == 5:
            return self._vcs[router][0]
        x, y = node_xy(self.cfg, router)
        dx, dy = ((1, 0), (-1, 0), (0, 1), (0, -1))[port - 1]
        return self._vcs[(y + dy) * self.cfg.columns + x + dx][_INPUT_OF[port]]

    def _send_chunk(self, src: int, route: list[tuple[int, int]], nbytes: int):
        """One chunk (a packet of ``P`` flits) with credit flow control, as BookSim's routers.

        At each stop the chunk first takes a VC of the next router's input port: one packet
        per VC (``wait_for_tail_credit``), ``num_vcs`` per port, so a full port stops the
        packets behind it upstream (backpressure). Then the output link (one flit a cycle:
        busy ``P`` cycles; the VCs of a port share it) and the crossbar input it sits in
        (speedup 1: also one flit a cycle). A VC returns to its pool ``credit_delay_cycles``
        after the packet's tail has left it; a packet longer than its VC (``P >
        vc_buffer_flits = B``) cannot drain into a blocked head, so its tail leaves a VC no
        earlier than ``P - B`` cycles after the head got the next link.
        """
        cfg, env = self.cfg, self.env
        flits = packet_flits(nbytes, cfg.flit_bytes)
        hold_ps = self._cycles_ps(serialization_cycles(flits))
        wormhole = flits > cfg.vc_buffer_flits     # the packet cannot sit in one VC
        lag_ps = self._cycles_ps(flits - cfg.vc_buffer_flits) if wormhole else 0
        credit_ps = self._cycles_ps(cfg.credit_delay_cycles)
        stops = [(src, 5, cfg.ni_latency_cycles + cfg.injection_latency_cycles)]
        for router, port in route:
            wire = cfg.ejection_latency_cycles if port == 0 else cfg.link_latency_cycles
            stops.append((router, port, cfg.router_pipeline_cycles + wire))
        created = env.now
        if cfg.ni_latency_cycles:
            yield env.timeout(self._cycles_ps(cfg.ni_latency_cycles))
        vcs = [None, None]   # the VCs taken at the previous two stops: (pool, request) or None
        granted = 0          # when the previous stop got its link
        in_port = 0
        for j, (router, port, head_cycles) in enumerate(stops):
            pool = self._input_vcs(router, port)
            vc = None
            if pool is not None:
                vc = pool.request()
                yield vc
            link = self._links[router][port]
            grant = link.request()
            yield grant
            now = env.now
            if j:   # then the crossbar input the packet sits in (granted in link-grant order)
                # NOTE(perf): a free-at time, not a second simpy.Resource (no events)
                xbar = self._xbar_free_ps[router]
                now = max(now, xbar[in_port])
                xbar[in_port] = now + hold_ps
            env.timeout(now + hold_ps - env.now).callbacks.append(
                lambda _event, link=link, grant=grant: link.release(grant))
            if wormhole and j:       # its tail leaves the VC two stops back over link j-1
                self._free_vc(vcs[0], max(granted + hold_ps, now + lag_ps) + credit_ps)
            vcs = [vcs[1], (pool, vc) if pool is not None else None]
            if not wormhole:         # it fits in the VC: its tail leaves over this link
                self._free_vc(vcs[0], now + hold_ps + credit_ps)
            granted = now
            in_port = _INPUT_OF[port]
            self._busy_cycles[router, port] += flits
            if self.recorder is not None:     # timeline: occupancy of this directed link
                self.recorder(self._track(router, port), f"{nbytes} B", now, now + hold_ps,
                              {"bytes": nbytes})
            delay = head_cycles - (cfg.ni_latency_cycles if j == 0 else 0)
            yield env.timeout(now - env.now + self._cycles_ps(delay))
        if wormhole:                 # ejected: the tail leaves the last VC
            self._free_vc(vcs[0], granted + hold_ps + credit_ps)
        yield env.timeout(self._cycles_ps(flits - 1))   # the tail trails the head
        self.packets += 1
        self.packet_latency_ps += env.now - created
        return nbytes

    def _free_vc(self, held, at_ps: int) -> None:
        """Return a VC ``(pool, request)`` to its pool at time ``at_ps`` (now if past)."""
        if held is not None:
            pool, request = held
            self.env.timeout(max(0, at_ps - self.env.now)).callbacks.append(
                lambda _event: pool.release(request))

    _PORT_NAMES = ("eject", "east", "west", "north", "south", "inject")

    def _track(self, router: int, port: int) -> str:
        x, y = node_xy(self.cfg, router)
        return f"noc ({x},{y}) {self._PORT_NAMES[port]}"

    def counters(self) -> dict[str, Any]:
        out = super().counters()
        out.update(packets=self.packets, packet_latency_ps=self.packet_latency_ps,
                   busy_cycles=self._busy_cycles.copy())
        return out

    def add_counters(self, delta: dict[str, Any]) -> None:
        super().add_counters(delta)
        self.packets += delta["packets"]
        self.packet_latency_ps += delta["packet_latency_ps"]
        self._busy_cycles += delta["busy_cycles"]

    def link_utilization(self) -> np.ndarray:
        """Busy share of each output port since ``bind``, shape ``(nodes, 5)`` (0 = ejection)."""
        now_cycles = max(1.0, self.env.now * self.cfg.clock_mhz / 1e6)
        return self._busy_cycles[:, :5] / now_cycles

    def stats(self) -> dict[str, Any]:
        out = super().stats()
        out["link_utilization"] = self.link_utilization()
        out["packets"] = self.packets
        out["avg_packet_latency_cycles"] = (
            self.packet_latency_ps * self.cfg.clock_mhz / 1e6 / self.packets if self.packets
            else 0.0)
        out["flit_hops"] = int(self._busy_cycles[:, :5].sum())
        return out


# --------------------------------------------------------------------------- loading
def build_noc(raw: Any, *, file: str | None = None, path: str = "noc") -> NoCModel:
    """Validate a ``noc:`` mapping and build the model it names (default ``mesh``)."""
    section = Section(raw, file=file, path=path)
    impl = section.str("impl", default="mesh")
    cls = NOCS.get(impl, file=file, key=section.key_path("impl"))
    model = cls.from_config(section)
    section.done()
    return model


def load_noc_config(path: str | Path) -> MeshConfig:
    """Read a NoC preset file (``source:`` + ``noc:`` with impl ``mesh``) into a ``MeshConfig``."""
    from ..yamlio import load_file

    path = Path(path)
    raw = load_file(path)
    top = Section(raw, file=str(path))
    top.str("source", default="")
    model = build_noc(top.any("noc"), file=str(path))
    top.done()
    if not isinstance(model, MeshNoC):
        raise ConfigError(f"expected impl mesh, got {model.impl_name!r}", file=str(path),
                          key="noc.impl")
    return model.cfg


def parse_mesh(text: str) -> tuple[int, int]:
    """``"8x8"`` -> ``(8, 8)`` (columns x rows); raises ``AccelsimError`` on bad input."""
    parts = str(text).lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise AccelsimError(f"noctest: --mesh must look like 8x8 (columns x rows), got {text!r}")
    columns, rows = int(parts[0]), int(parts[1])
    if not (1 <= columns <= 256 and 1 <= rows <= 256):
        raise AccelsimError(f"noctest: mesh dimensions must be in 1..256, got {text!r}")
    return columns, rows
