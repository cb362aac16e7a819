"""The architecture schema: YAML -> typed, validated, frozen dataclasses.

An architecture file looks like (every key but ``systolic.rows/cols`` and ``memory`` has a default)::

    name: npu-128x128-bf16-hbm2
    source: "why these numbers"
    clock_mhz: 1000
    dtypes: {act: bf16, weight: bf16, kv: bf16, accum: fp32}
    systolic: {rows: 128, cols: 128, dataflow: ws, count: 1, fold_pipelining: false}
    vector: {lanes: 128, ops_per_lane_per_cycle: 1, pipeline_latency_cycles: 8}
    sram: {mode: separate, ifmap_kib: 8192, filter_kib: 8192, ofmap_kib: 4096,
           bandwidth_bytes_per_cycle: 1024}
    memory: {impl: analytical, channels: 8, channel_bandwidth_gbps: 32, latency_ns: 100}

``load_arch`` accepts a path, a preset name (a file in ``arch_configs/``) or a SCALE-Sim ``.cfg``;
``overrides`` are dotted ``key=value`` strings (the CLI's ``--set``), typed by YAML rules.
"""

from __future__ import annotations

import copy
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from ..errors import ConfigError, unknown_name
from ..io import input_problem
from .dtypes import DTYPES, dtype_bytes
from .fields import Section

SYSTOLIC_DATAFLOWS = ("os", "ws", "is")
SRAM_MODES = ("separate", "unified")
SHARED_BUFFER_KINDS = ("cache", "scratchpad")
ATTENTION_LOWERINGS = ("fused", "unfused")


def arch_configs_dir() -> Path:
    """Folder of shipped presets: ``$ACCELSIM_HOME/arch_configs`` or the repo's ``arch_configs``."""
    from ..paths import data_root

    return data_root() / "arch_configs"


@dataclass(frozen=True)
class DtypeConfig:
    act: str = "bf16"
    weight: str = "bf16"
    kv: str = "bf16"
    accum: str = "fp32"

    def bytes(self, role: str) -> float:
        """Bytes per element of the operand ``role`` (act, weight, kv, accum)."""
        return dtype_bytes(getattr(self, role))


@dataclass(frozen=True)
class SystolicConfig:
    rows: int
    cols: int
    dataflow: str = "ws"
    count: int = 1                 # identical arrays; an op's tiles are spread over them
    fold_pipelining: bool = False  # False = SCALE-Sim: every fold pays full fill + drain

    @property
    def pes(self) -> int:
        return self.rows * self.cols * self.count


@dataclass(frozen=True)
class VectorConfig:
    lanes: int = 128
    ops_per_lane_per_cycle: int = 1
    pipeline_latency_cycles: int = 8

    @property
    def ops_per_cycle(self) -> int:
        return self.lanes * self.ops_per_lane_per_cycle


@dataclass(frozen=True)
class SramConfig:
    """On-chip buffers in KiB. ``separate``: SCALE-Sim-style ifmap/filter/ofmap buffers;
    ``unified``: one buffer shared by all operands. Each buffer is double-buffered (half in use,
    half being filled). ``bandwidth_bytes_per_cycle``: SRAM <-> array bandwidth (0 = unlimited).
    ``accumulator_kib``: storage for output-tile accumulators apart from these buffers (a GPU's
    register file); 0 = accumulators live in the ofmap / unified buffer."""

    mode: str = "separate"
    ifmap_kib: int = 64
    filter_kib: int = 64
    ofmap_kib: int = 64
    unified_kib: int = 0
    bandwidth_bytes_per_cycle: int = 0
    accumulator_kib: int = 0

    def capacity_bytes(self) -> dict[str, int]:
        """Bytes per buffer: keys ``ifmap, filter, ofmap`` or ``unified``."""
        if self.mode == "unified":
            return {"unified": self.unified_kib * 1024}
        return {"ifmap": self.ifmap_kib * 1024, "filter": self.filter_kib * 1024,
                "ofmap": self.ofmap_kib * 1024}

    @property
    def total_kib(self) -> int:
        return self.unified_kib if self.mode == "unified" else (
            self.ifmap_kib + self.filter_kib + self.ofmap_kib)


@dataclass(frozen=True)
class InterconnectConfig:
    """Chip-to-chip links used by collectives (tensor parallelism), as a ring of devices."""

    link_bandwidth_gbps: float          # per direction, per device
    link_latency_ns: float = 1000.0     # per ring step (software + link)

    def collective_ps(self, op_class: str, nbytes: int, group: int) -> int:
        """Time of one collective over ``group`` devices with ``nbytes`` payload per device.

        Ring algorithms: all-reduce = reduce-scatter + all-gather, ``2(p-1)`` steps of
        ``nbytes/p``; all-gather and all-to-all ``p-1`` steps; send/recv one step of ``nbytes``.
        """
        from ..units import bytes_to_ps, ns_to_ps

        if group <= 1:
            return 0
        step = -(-nbytes // group)
        steps = {"allreduce": 2 * (group - 1), "allgather": group - 1, "all2all": group - 1}.get(
            op_class)
        if steps is None:               # send / recv
            steps, step = 1, nbytes
        return steps * (ns_to_ps(self.link_latency_ns) + bytes_to_ps(step, self.link_bandwidth_gbps))


@dataclass(frozen=True)
class SharedBufferConfig:
    """The chip's shared on-chip buffer (global SRAM or L2) between the cores and off-chip
    memory. ``kind``: ``cache`` (an L2: what the mapping re-reads hits in it while it fits) or
    ``scratchpad`` (software-managed, same capacity rule). ``bandwidth_bytes_per_cycle``: its
    aggregate bandwidth to the cores (0 = unlimited)."""

    kib: int
    bandwidth_bytes_per_cycle: int = 0
    kind: str = "cache"

    @property
    def capacity_bytes(self) -> int:
        return self.kib * 1024


@dataclass(frozen=True)
class MappingConfig:
    """How operators are mapped (``mapping/mappers.py``): ``impl`` names a mapper of the
    ``MAPPERS`` registry (``auto``: ``tiled`` on one core, ``waves`` on several); ``attention``:
    ``fused`` (FlashAttention-2 style prefill, flash-decoding) or ``unfused`` (QK^T, softmax and
    PV as separate kernels through off-chip memory); ``multicast``: cores of a cluster that share
    one fetch of an operand tile from the shared buffer (Hopper TMA multicast; 1 = none)."""

    impl: str = "auto"
    attention: str = "fused"
    multicast: int = 1


@dataclass(frozen=True)
class LaunchConfig:
    """Fixed costs of launching kernels (0 for an NPU that runs a compiled graph).
    ``per_kernel_ns``: every operator (kernel) launched back to back on a busy device;
    ``idle_dispatch_ns``: the extra time before an operator with no dependencies starts, when the
    host dispatches it to an idle device (an eager framework call)."""

    per_kernel_ns: float = 0.0
    idle_dispatch_ns: float = 0.0


@dataclass(frozen=True)
class EngineConfig:
    max_tiles_per_op: int = 256   # tiles of one op beyond this are merged (event budget per op)


@dataclass(frozen=True)
class Arch:
    """A validated architecture. Build with ``load_arch``; ``memory`` is the raw (validated)
    mapping, turned into a fresh model per simulation by ``build_memory()``."""

    name: str
    clock_mhz: float
    systolic: SystolicConfig
    vector: VectorConfig
    sram: SramConfig
    memory: Mapping[str, Any]
    dtypes: DtypeConfig = field(default_factory=DtypeConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    interconnect: InterconnectConfig | None = None
    noc: Mapping[str, Any] | None = None     # multi-core: a mesh of cores (hw/noc.py schema)
    cost: Mapping[str, Any] = field(default_factory=dict)   # technology, DRAM, budget (accelsim.cost)
    pim: Mapping[str, Any] | None = None     # processing in memory (hw/pim.py schema; needs hbm)
    cores: int = 1                           # identical cores; systolic/vector/sram are per core
    shared_buffer: SharedBufferConfig | None = None
    mapping: MappingConfig = field(default_factory=MappingConfig)
    launch: LaunchConfig = field(default_factory=LaunchConfig)
    source: str = ""
    description: str = ""
    file: str | None = None

    def build_memory(self):
        from ..hw.memory import build_memory

        raw = dict(self.memory) if isinstance(self.memory, Mapping) else self.memory
        return build_memory(raw, file=self.file)

    def build_noc(self):
        """A fresh NoC model for a multi-core architecture (``None`` for a single core)."""
        if self.noc is None:
            return None
        from ..hw.noc import build_noc

        raw = dict(self.noc) if isinstance(self.noc, Mapping) else self.noc
        return build_noc(raw, file=self.file)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["memory"] = dict(self.memory)
        d["noc"] = dict(self.noc) if self.noc is not None else None
        d["cost"] = dict(self.cost) if isinstance(self.cost, Mapping) else self.cost
        d["pim"] = dict(self.pim) if isinstance(self.pim, Mapping) else self.pim
        d.pop("file")
        return d

    @property
    def peak_macs_per_cycle(self) -> int:
        """MACs per cycle of the whole chip (all cores)."""
        return self.systolic.pes * self.cores

    @property
    def vector_ops_per_cycle(self) -> int:
        """Vector ops per cycle of the whole chip (all cores)."""
        return self.vector.ops_per_cycle * self.cores


# ---------------------------------------------------------------------------------------- loading

def parse_arch(raw: Any, *, file: str | None = None) -> Arch:
    """Validate a raw mapping (already parsed YAML) and build the ``Arch``."""
    top = Section(raw, file=file)
    dt = top.section("dtypes", default={})
    dtypes = DtypeConfig(**{role: dt.choice(role, DTYPES, default=getattr(DtypeConfig, role))
                            for role in ("act", "weight", "kv", "accum")})
    dt.done()

    sa = top.section("systolic")
    systolic = SystolicConfig(
        rows=sa.int("rows", minimum=1, maximum=65536),
        cols=sa.int("cols", minimum=1, maximum=65536),
        dataflow=sa.choice("dataflow", SYSTOLIC_DATAFLOWS, default="ws"),
        count=sa.int("count", default=1, minimum=1, maximum=4096),
        fold_pipelining=sa.bool("fold_pipelining", default=False))
    sa.done()

    vu = top.section("vector", default={})
    vector = VectorConfig(
        lanes=vu.int("lanes", default=VectorConfig.lanes, minimum=1, maximum=1 << 20),
        ops_per_lane_per_cycle=vu.int("ops_per_lane_per_cycle", default=1, minimum=1, maximum=1024),
        pipeline_latency_cycles=vu.int("pipeline_latency_cycles", default=8, minimum=0,
                                       maximum=1 << 20))
    vu.done()

    sr = top.section("sram", default={})
    mode = sr.choice("mode", SRAM_MODES, default="separate")
    kib = dict(minimum=1, maximum=1 << 24)
    if mode == "separate":
        sram = SramConfig(mode=mode, ifmap_kib=sr.int("ifmap_kib", default=64, **kib),
                          filter_kib=sr.int("filter_kib", default=64, **kib),
                          ofmap_kib=sr.int("ofmap_kib", default=64, **kib),
                          bandwidth_bytes_per_cycle=sr.int("bandwidth_bytes_per_cycle", default=0,
                                                           minimum=0),
                          accumulator_kib=sr.int("accumulator_kib", default=0, minimum=0,
                                                 maximum=1 << 24))
    else:
        sram = SramConfig(mode=mode, ifmap_kib=0, filter_kib=0, ofmap_kib=0,
                          unified_kib=sr.int("unified_kib", **kib),
                          bandwidth_bytes_per_cycle=sr.int("bandwidth_bytes_per_cycle", default=0,
                                                           minimum=0),
                          accumulator_kib=sr.int("accumulator_kib", default=0, minimum=0,
                                                 maximum=1 << 24))
    sr.done()

    eng = top.section("engine", default={})
    engine = EngineConfig(max_tiles_per_op=eng.int("max_tiles_per_op", default=256, minimum=1,
                                                   maximum=1 << 20))
    eng.done()

    interconnect = None
    if top.has("interconnect"):
        ic = top.section("interconnect")
        interconnect = InterconnectConfig(
            link_bandwidth_gbps=ic.float("link_bandwidth_gbps", minimum=0.0, exclusive_minimum=True),
            link_latency_ns=ic.float("link_latency_ns", default=1000.0, minimum=0.0))
        ic.done()

    cores = 1
    if top.has("cores"):
        cs = top.section("cores")
        cores = cs.int("count", minimum=1, maximum=1 << 16)
        cs.done()
        if top.has("noc"):
            raise ConfigError("a mesh's cores are its nodes (noc:); drop the cores: section",
                              file=file, key="cores")

    shared_buffer = None
    if top.has("shared_buffer"):
        sb = top.section("shared_buffer")
        shared_buffer = SharedBufferConfig(
            kib=sb.int("kib", minimum=1, maximum=1 << 24),
            bandwidth_bytes_per_cycle=sb.int("bandwidth_bytes_per_cycle", default=0, minimum=0,
                                             maximum=1 << 30),
            kind=sb.choice("kind", SHARED_BUFFER_KINDS, default="cache"))
        sb.done()

    mp = top.section("mapping", default={})
    mapping = MappingConfig(
        impl=mp.str("impl", default="auto"),
        attention=mp.choice("attention", ATTENTION_LOWERINGS, default="fused"),
        multicast=mp.int("multicast", default=1, minimum=1, maximum=16))
    from ..mapping.mappers import check_mapper_name

    check_mapper_name(mapping.impl, file=file, key=mp.key_path("impl"))
    mp.done()

    la = top.section("launch", default={})
    launch = LaunchConfig(
        per_kernel_ns=la.float("per_kernel_ns", default=0.0, minimum=0.0, maximum=1e9),
        idle_dispatch_ns=la.float("idle_dispatch_ns", default=0.0, minimum=0.0, maximum=1e9))
    la.done()
    if top.has("noc") and (launch.per_kernel_ns or launch.idle_dispatch_ns):
        raise ConfigError("kernel launch costs are not modelled on a mesh (noc:); set them to 0 "
                          "or drop the launch: section", file=file, key="launch")

    noc_raw = top.any("noc", default=None)
    pim_raw = top.any("pim", default=None)
    cost_raw = top.any("cost", default={})
    if cost_raw:
        from ..cost.config import check_die, parse_cost_config

        cost_cfg = parse_cost_config(cost_raw, file=file)
        check_die(cost_cfg.die, systolic_count=systolic.count * cores,
                  vector_lanes=vector.lanes * cores, sram_kib=sram.total_kib * cores,
                  dram_stacks=cost_cfg.dram_stacks, file=file, arch_cores=cores)
    memory_raw = top.any("memory")
    arch = Arch(
        name=top.str("name", default=Path(file).stem if file else "arch"),
        clock_mhz=top.float("clock_mhz", default=1000.0, minimum=1.0, maximum=1e6),
        systolic=systolic, vector=vector, sram=sram, memory=memory_raw, dtypes=dtypes,
        engine=engine, interconnect=interconnect,
        noc=dict(noc_raw) if isinstance(noc_raw, Mapping) else noc_raw,
        cost=dict(cost_raw) if isinstance(cost_raw, Mapping) else cost_raw,
        pim=dict(pim_raw) if isinstance(pim_raw, Mapping) else pim_raw,
        cores=cores, shared_buffer=shared_buffer, mapping=mapping,
        launch=launch,
        source=top.str("source", default=""),
        description=top.str("description", default=""), file=file)
    top.done()
    memory_model = arch.build_memory()   # validates the memory section now, not mid-simulation
    _check_mesh_roles(arch.build_noc(), file)
    if arch.pim is not None:      # PIM without HBM, a bad scheduler, channel mismatch: here
        from ..mapping.pim import check_pim_section, hbm_channel_count

        check_pim_section(arch.pim, memory_raw, file=file,
                          hbm_channels=hbm_channel_count(memory_model))
        # the PIM units place their own all-bank refreshes (pim.tREFI / tRFC) in the same banks
        if arch.pim.get("impl", "none") != "none" \
                and memory_model.describe().get("refresh") == "per_bank":
            raise ConfigError("per-bank refresh is not modelled with PIM (the PIM units refresh "
                              "all banks every pim.tREFI); expected memory.refresh: all_bank, "
                              "got per_bank", file=file, key="memory.refresh")
    return arch


def _check_mesh_roles(noc, file: str | None) -> None:
    """A ``noc:`` section makes a multi-core chip: it needs cores and memory controllers."""
    cfg = getattr(noc, "cfg", None)
    if cfg is None or not hasattr(cfg, "node_roles"):
        return                                     # no mesh, or the ideal NoC
    roles = cfg.node_roles()
    if "core" not in roles:
        raise ConfigError(f"the {cfg.columns}x{cfg.rows} mesh has no core nodes (every node is a "
                          "memory controller); make the mesh larger or place fewer controllers",
                          file=file, key="noc.memory_controllers")
    if len(set(roles)) == 1:
        raise ConfigError("the mesh has no memory-controller nodes, so no data can reach the "
                          "cores; set noc.memory_controllers.placement (edges, corners, columns "
                          "or explicit)", file=file, key="noc.memory_controllers")


def _read_yaml(path: Path) -> Any:
    """Read a YAML file with the one reader (``accelsim.yamlio``); errors name the file."""
    from ..yamlio import load_file

    return load_file(path)


def preset_names() -> list[str]:
    return sorted(p.stem for p in arch_configs_dir().glob("*.yaml"))


def resolve_arch_path(path_or_name: str | os.PathLike) -> Path:
    """A file path as given, or a preset name looked up in ``arch_configs/``."""
    path = Path(path_or_name)
    try:
        path.exists()
    except OSError as exc:  # e.g. a name too long for the file system
        raise ConfigError(f"cannot use this path: {exc.strerror or exc}", file=str(path)[:200]) from None
    if path.suffix in (".yaml", ".yml", ".cfg") or path.exists():
        if not path.exists():
            raise ConfigError("file not found", file=str(path))
        problem = input_problem(path)
        if problem:
            raise ConfigError("expected an architecture file (.yaml or SCALE-Sim .cfg) or a "
                              f"preset name; this path {problem}", file=str(path))
        return path
    preset = arch_configs_dir() / f"{path_or_name}.yaml"
    if preset.exists():
        return preset
    raise unknown_name("architecture preset", str(path_or_name), preset_names())


def apply_overrides(raw: Any, overrides: Iterable[str] | Mapping[str, Any] | None,
                    *, file: str | None = None) -> Any:
    """Apply dotted-path overrides (``"systolic.rows=64"`` or ``{"systolic.rows": 64}``).

    Values given as strings are typed by YAML rules (``64`` -> int, ``true`` -> bool). The key
    path must lead through existing mappings; the leaf is validated by the schema afterwards.
    """
    if not overrides:
        return raw
    raw = copy.deepcopy(raw) if raw is not None else {}
    if not isinstance(raw, dict):
        raise ConfigError(f"expected a mapping of keys at the top of the file, got "
                          f"{type(raw).__name__}; cannot apply --set", file=file)
    items = overrides.items() if isinstance(overrides, Mapping) else (
        _split_override(o) for o in overrides)
    for key, value in items:
        if isinstance(value, str):
            from ..yamlio import parse_value

            value = parse_value(value, file="--set", key=key)
        parts = key.split(".")
        if not all(parts):
            raise ConfigError(f"malformed key path {key!r}", file="--set", key=key)
        node = raw
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"{'.'.join(parts[:depth + 1])} is not a mapping; cannot set {key}",
                                  file="--set", key=key)
            node = child
        node[parts[-1]] = value
    return raw


def _split_override(text: str) -> tuple[str, str]:
    if not isinstance(text, str) or "=" not in text:
        raise ConfigError(f"expected KEY.PATH=VALUE, got {text!r}", file="--set")
    key, value = text.split("=", 1)
    return key.strip(), value.strip()


def load_arch(path_or_name: str | os.PathLike, overrides: Iterable[str] | Mapping[str, Any] | None
              = None) -> Arch:
    """Load an architecture from a YAML file, a preset name, or a SCALE-Sim ``.cfg``.

    Example:
        >>> arch = load_arch("scalesim_default", overrides=["systolic.dataflow=os"])
        >>> arch.systolic.rows, arch.systolic.dataflow
        (32, 'os')
    """
    path = resolve_arch_path(path_or_name)
    if path.suffix == ".cfg":
        from .scalesim_import import read_scalesim_cfg

        raw = read_scalesim_cfg(path)
    else:
        raw = _read_yaml(path)
    raw = apply_overrides(raw, overrides, file=str(path))
    return parse_arch(raw, file=str(path))


def check_arch(path_or_name: str | os.PathLike) -> Arch:
    """Load and validate an architecture; raises ``ConfigError`` with the reason if it is wrong."""
    return load_arch(path_or_name)
