"""Technology files: per-action energies and per-component areas, with node scaling.

A technology file (``accelsim/data/tech/<name>.yaml``; the default is ``7nm``) stores every number
as ``{value, conf, src}`` (confidence H/M/L and a key of its ``sources:`` table). ``load_tech``
validates the whole file through ``arch.fields.Section``, so a missing or malformed key is a
``ConfigError`` that names the file and the key path.

Node scaling (``load_tech("5nm")`` or ``load_tech("7nm", node=16)``) multiplies the base file's
constants by the ratio of the ``scaling:`` tables at the target and the base node:

================================  ==========================================================
``scaling.logic_energy``          MAC, PE register, vector op, register file, NoC router energy
``scaling.logic_area``            PE, vector lane and router area; register files, core front
                                  ends, scalar ALUs, crossbar ports; DRAM and I/O controllers
``scaling.sram_energy_from_22nm`` SRAM read/write energy (the table is relative to 22 nm)
``scaling.sram_area``             SRAM (scratchpad and cache) mm2/MiB, the minimum macro area
not scaled                        DRAM / PIM / chip-to-chip energy (off the logic die), wire
                                  pJ/bit/mm (capacitance per mm is roughly node-independent),
                                  PHY areas (analog, do not shrink), leakage densities
================================  ==========================================================

Tables are interpolated log-log in the node; outside their range the end segment's slope is
extended (nodes 2..45 nm are accepted). Units are in every accessor's name.

Example:
    >>> t = load_tech()
    >>> t.mac_pj("bf16"), round(t.sram_read_pj_per_byte(1 << 20), 3)
    (0.6, 0.7)
    >>> round(load_tech("5nm").mac_pj("bf16"), 3)
    0.42
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from ..arch.fields import Section
from ..errors import ConfigError, unknown_name

CONFIDENCES = ("H", "M", "L")
MAC_DTYPES = ("int4", "int8", "fp8", "fp16", "bf16", "fp32")
IO_PHYS = ("pcie4_lane", "pcie5_lane", "nvlink3_link", "nvlink4_link", "ddr5_link")
DRAM_FIELDS = ("pj_per_bit", "gbps_per_stack", "phy_area_mm2_per_stack",
               "controller_mm2_per_stack")
SRAM_KINDS = ("scratchpad", "cache")
NODE_RANGE_NM = (2.0, 45.0)
DEFAULT_TECH = "7nm"


def tech_dir() -> Path:
    """Folder of shipped technology files (``accelsim/data/tech``)."""
    return Path(__file__).resolve().parents[1] / "data" / "tech"


def tech_names() -> list[str]:
    return sorted(p.stem for p in tech_dir().glob("*.yaml"))


@dataclass(frozen=True)
class Constant:
    """One number of a technology file, with where it came from."""

    path: str
    value: Any
    conf: str
    src: tuple[str, ...]


@dataclass(frozen=True)
class Technology:
    """A validated technology file, scaled to ``node_nm``. Build with ``load_tech``."""

    name: str
    node_nm: float
    base_node_nm: float
    file: str
    constants: Mapping[str, Constant]
    sources: Mapping[str, str]
    description: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    # ---------------------------------------------------------------- raw access + scaling
    def raw(self, path: str) -> Any:
        """The base-node value at ``path`` (as stored in the file)."""
        return self.constants[path].value

    def scale(self, table: str) -> float:
        """Factor of scaling table ``table`` from the file's node to ``node_nm``."""
        values = self.raw(f"scaling.{table}")
        return _interp(values, self.node_nm) / _interp(values, self.base_node_nm)

    def low_confidence(self) -> list[Constant]:
        """Constants tagged L (assumptions), in file order."""
        return [c for c in self.constants.values() if c.conf == "L"]

    # ---------------------------------------------------------------- compute
    def mac_pj(self, dtype: str) -> float:
        return self.raw(f"compute.mac_pj.{_mac_key(dtype)}") * self.scale("logic_energy")

    def pe_register_pj_per_mac(self) -> float:
        return self.raw("compute.pe_register_pj_per_mac") * self.scale("logic_energy")

    def idle_pe_fraction(self) -> float:
        return self.raw("compute.idle_pe_fraction_of_active")

    def vector_op_pj(self) -> float:
        return self.raw("compute.vector_op_pj") * self.scale("logic_energy")

    def vector_register_pj_per_op(self) -> float:
        return self.raw("compute.vector_operand_bits_per_op") * self.register_pj_per_bit()

    def register_pj_per_bit(self) -> float:
        return self.raw("register_file.pj_per_bit") * self.scale("logic_energy")

    # ---------------------------------------------------------------- SRAM
    def sram_bank_bytes(self) -> int:
        return int(self.raw("sram.max_bank_kib")) * 1024

    def sram_wire_mm(self, capacity_bytes: float) -> float:
        """Mean wire distance from the array port to a bank of a banked buffer, in mm.

        The buffer's banks tile a square of side ``s = sqrt(area)``, fed from its centre; the mean
        Manhattan distance to a uniformly placed bank centre is ``s/2`` for many banks and 0 for
        one, so ``0.5 * (sqrt(area) - sqrt(bank area))`` (continuous at one bank).
        """
        bank = self.sram_bank_bytes()
        if capacity_bytes <= bank:
            return 0.0
        return 0.5 * (math.sqrt(self.sram_area_mm2(capacity_bytes))
                      - math.sqrt(self.sram_area_mm2(bank)))

    def _sram_pj_per_byte(self, capacity_bytes: float, kind: str) -> float:
        if capacity_bytes <= 0:
            return 0.0
        bank_kib = min(capacity_bytes, self.sram_bank_bytes()) / 1024
        a = self.raw(f"sram.{kind}_a_22nm_pj_per_byte")
        b = self.raw(f"sram.{kind}_b")
        bank = a * bank_kib ** b * _interp(self.raw("scaling.sram_energy_from_22nm"), self.node_nm)
        return bank + 8 * self.wire_pj_per_bit_mm() * self.sram_wire_mm(capacity_bytes)

    def sram_read_pj_per_byte(self, capacity_bytes: float) -> float:
        """Energy to read one byte from a buffer of ``capacity_bytes`` (banked, plus wire)."""
        return self._sram_pj_per_byte(capacity_bytes, "read")

    def sram_write_pj_per_byte(self, capacity_bytes: float) -> float:
        return self._sram_pj_per_byte(capacity_bytes, "write")

    def sram_area_mm2(self, capacity_bytes: float, kind: str = "scratchpad") -> float:
        """Area of a buffer of ``capacity_bytes``: a ``scratchpad`` (dense SRAM macros) or a
        ``cache`` built like a GPU's L1/L2 (tags, ECC, high-performance cells)."""
        if capacity_bytes <= 0:
            return 0.0
        density = {"scratchpad": "sram.area_mm2_per_mib", "cache": "sram.cache_area_mm2_per_mib"}
        mib = capacity_bytes / (1 << 20)
        area = max(mib * self.raw(density[kind]), self.raw("sram.min_macro_area_mm2"))
        return area * self.scale("sram_area")

    def sram_leakage_w(self, capacity_bytes: float) -> float:
        return capacity_bytes / (1 << 20) * self.raw("sram.leakage_mw_per_mib") * 1e-3

    # ---------------------------------------------------------------- DRAM, PIM, NoC
    def dram_standards(self) -> list[str]:
        return sorted({p.split(".")[2] for p in self.constants if p.startswith("dram.standards.")})

    def dram(self, standard: str, what: str) -> float:
        """``what`` in ``pj_per_bit``, ``gbps_per_stack``, ``phy_area_mm2_per_stack``."""
        if standard not in self.dram_standards():
            raise unknown_name("DRAM standard", standard, self.dram_standards(), file=self.file,
                               key="dram.standards")
        return self.raw(f"dram.standards.{standard}.{what}")

    def dram_controller_area_mm2(self, standard: str) -> float:
        """Memory controller area per stack (logic, scaled with the node)."""
        return self.dram(standard, "controller_mm2_per_stack") * self.scale("logic_area")

    def default_dram_standard(self) -> str:
        return self.raw("dram.default_standard")

    def activate_pj(self) -> float:
        """Energy of one row activation (+ precharge), in pJ."""
        return self.activate_share_pj_per_bit() * 8 * self.raw("dram.row_bytes_per_activate")

    def activate_share_pj_per_bit(self) -> float:
        return self.raw("dram.activate_share_pj_per_bit")

    def pim_pj_per_bit(self, level: str) -> float:
        return self.raw(f"pim.{level}_pj_per_bit")

    def pim_mac_pj(self) -> float:
        return self.raw("pim.mac_fp16_pj")

    def wire_pj_per_bit_mm(self) -> float:
        return self.raw("noc.wire_pj_per_bit_mm")

    def router_pj_per_bit(self) -> float:
        return self.raw("noc.router_pj_per_bit") * self.scale("logic_energy")

    def router_area_mm2(self) -> float:
        return self.raw("noc.router_area_mm2") * self.scale("logic_area")

    def chip_to_chip_pj_per_bit(self) -> float:
        return self.raw("noc.chip_to_chip_pj_per_bit")

    # ---------------------------------------------------------------- area, leakage
    def pe_area_mm2(self, dtype: str) -> float:
        return self.raw(f"area.pe_um2.{_mac_key(dtype)}") * 1e-6 * self.scale("logic_area")

    def vector_lane_area_mm2(self) -> float:
        return self.raw("area.vector_lane_um2") * 1e-6 * self.scale("logic_area")

    def control_overhead_fraction(self) -> float:
        return self.raw("area.control_overhead_fraction")

    def io_phy_area_mm2(self, phy: str) -> float:
        return self.raw(f"area.io_phy_mm2.{phy}")

    def io_controller_area_mm2(self, phy: str) -> float:
        return self.raw(f"area.io_controller_mm2.{phy}") * self.scale("logic_area")

    def register_file_area_mm2(self, capacity_bytes: float) -> float:
        return capacity_bytes / (1 << 20) * self.raw("register_file.area_mm2_per_mib") \
            * self.scale("logic_area")

    def core_front_end_area_mm2_per_lane(self) -> float:
        return self.raw("area.core.front_end_um2_per_lane") * 1e-6 * self.scale("logic_area")

    def fp64_unit_area_mm2(self) -> float:
        return self.raw("area.core.fp64_unit_um2") * 1e-6 * self.scale("logic_area")

    def int32_unit_area_mm2(self) -> float:
        return self.raw("area.core.int32_unit_um2") * 1e-6 * self.scale("logic_area")

    def crossbar_port_area_mm2(self) -> float:
        return self.raw("area.core.crossbar_port_mm2") * self.scale("logic_area")

    def logic_leakage_w_per_mm2(self) -> float:
        return self.raw("leakage.logic_mw_per_mm2") * 1e-3

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "node_nm": self.node_nm, "base_node_nm": self.base_node_nm,
                "file": self.file}


def _mac_key(dtype: str) -> str:
    if dtype == "int32":
        return "fp32"           # a 32-bit integer MAC costs about what the fp32 one does (L)
    if dtype not in MAC_DTYPES:
        raise ConfigError(f"no MAC energy for datatype {dtype!r}; known: {', '.join(MAC_DTYPES)}")
    return dtype


def mac_dtype(*dtypes: str, tech: Technology | None = None) -> str:
    """The MAC type of an operator: the most expensive of its operand types (by MAC energy)."""
    order = {d: i for i, d in enumerate(("int4", "int8", "fp8", "bf16", "fp16", "int32", "fp32"))}
    return max(dtypes, key=lambda d: order.get(d, len(order)))


def _interp(table: Mapping[float, float], node_nm: float) -> float:
    """Log-log interpolation of ``{node: factor}``; end-segment slope outside the range."""
    pts = sorted((float(k), float(v)) for k, v in table.items())
    if len(pts) == 1:
        return pts[0][1]
    i = 0
    while i < len(pts) - 2 and node_nm > pts[i + 1][0]:
        i += 1
    (n0, f0), (n1, f1) = pts[i], pts[i + 1]
    slope = (math.log(f1) - math.log(f0)) / (math.log(n1) - math.log(n0))
    return math.exp(math.log(f0) + slope * (math.log(node_nm) - math.log(n0)))


# ------------------------------------------------------------------------------------ loading

def _finite(x: Any) -> bool:
    """``math.isfinite`` that is also False for ints too large for a float."""
    try:
        return math.isfinite(x)
    except OverflowError:
        return False


def parse_node(value: Any, *, file: str | None = None, key: str = "node") -> float:
    """``5``, ``5.0`` or ``"5nm"`` -> 5.0 (nm), validated against ``NODE_RANGE_NM``."""
    given = value
    if isinstance(value, str):
        text = value.strip().lower().removesuffix("nm").strip()
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(f"expected a node like 7nm or 7, got {given!r}", file=file,
                              key=key) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
        raise ConfigError(f"expected a node like 7nm or 7, got {given!r}", file=file, key=key)
    lo, hi = NODE_RANGE_NM
    if not lo <= value <= hi:
        raise ConfigError(f"expected a node between {lo:g} and {hi:g} nm, got {given!r}",
                          file=file, key=key)
    return float(value)


def load_tech(spec: str | os.PathLike | Mapping[str, Any] | Technology | None = None, *,
              node: Any = None) -> Technology:
    """Load a technology file and scale it to a node.

    Args:
        spec: ``None`` (the default ``7nm``), a shipped name (``"7nm"``), a node with no file of
            its own (``"5nm"``: the default file scaled to 5 nm), a YAML path, a mapping
            ``{name: 7nm, node: 5nm}`` (the ``tech:`` key of a cost section), or a ``Technology``.
        node: target node (``5``, ``"16nm"``); overrides the one implied by ``spec``.

    Raises:
        ConfigError: file missing, malformed YAML, or a missing / malformed key (the message
            names the file and the key path).
    """
    if isinstance(spec, Technology):
        return spec if node is None else _scaled(spec, parse_node(node))
    if isinstance(spec, Mapping):
        sec = Section(spec, file=None, path="tech")
        name = sec.str("name", default=DEFAULT_TECH)
        node = sec.any("node", default=node)
        sec.done()
        spec = name
    name = str(spec) if spec is not None else DEFAULT_TECH
    path = Path(name)
    implied_node = None
    try:
        exists = path.exists()
        shipped = tech_dir() / f"{name}.yaml"
        shipped_exists = shipped.exists()
    except OSError as exc:                  # a name too long for the file system, ...
        raise ConfigError(f"cannot read technology {name[:60]!r}: {exc.strerror or exc}",
                          key="tech") from None
    if not (path.suffix in (".yaml", ".yml") or exists):
        if shipped_exists:
            path = shipped
        elif name.lower().endswith("nm"):
            implied_node = parse_node(name, key="tech")
            path = tech_dir() / f"{DEFAULT_TECH}.yaml"
        else:
            raise unknown_name("technology", name, tech_names(), key="tech")
    tech = _load_file(path)
    target = parse_node(node, key="tech.node") if node is not None else implied_node
    return tech if target is None else _scaled(tech, target)


def _scaled(tech: Technology, node_nm: float) -> Technology:
    return Technology(tech.name, node_nm, tech.base_node_nm, tech.file, tech.constants,
                      tech.sources, tech.description, tech.notes + (
                          f"scaled from {tech.base_node_nm:g} nm to {node_nm:g} nm",))


_CACHE: dict[tuple[str, float], Technology] = {}


def _load_file(path: Path) -> Technology:
    try:
        stat = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise ConfigError("technology file not found", file=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the technology file: {exc.strerror or exc}",
                          file=str(path)) from None
    key = (str(path.resolve()), stat.st_mtime)
    if key not in _CACHE:
        from ..yamlio import load_file

        raw = load_file(path, what="technology file")
        _CACHE[key] = parse_tech(raw, file=str(path))
    return _CACHE[key]


def _confidence(sec: Section, key: str, value: Any) -> str:
    if not isinstance(value, str) or value.upper() not in CONFIDENCES:
        raise sec.error(key, f"expected a confidence tag, one of {', '.join(CONFIDENCES)}, "
                             f"got {value!r:.40}")
    return value.upper()


class _Reader:
    """Reads ``{value, conf, src}`` leaves and records them as ``Constant``s."""

    def __init__(self, sources: Mapping[str, str], file: str | None):
        self.sources, self.file = sources, file
        self.constants: dict[str, Constant] = {}

    def _tags(self, sec: Section, key: str, fields: tuple[str, ...] = ()) -> tuple[Any, tuple]:
        conf = sec.any("conf")
        if isinstance(conf, Mapping) and fields:
            cs = Section(conf, file=self.file, path=sec.key_path("conf"))
            conf = {f: _confidence(cs, f, cs.any(f)) for f in fields}
            cs.done()
        else:
            conf = _confidence(sec, "conf", conf)
        src = sec.any("src")
        srcs = (src,) if isinstance(src, str) else src
        if not isinstance(srcs, (list, tuple)) or not srcs or not all(
                isinstance(s, str) for s in srcs):
            raise sec.error("src", f"expected a source key or a list of them, got {src!r:.60}")
        for s in srcs:
            if s not in self.sources:
                raise sec.error("src", f"unknown source {s!r}; add it to sources:")
        return conf, tuple(srcs)

    def number(self, parent: Section, key: str, *, minimum: float = 0.0,
               exclusive: bool = False, maximum: float | None = None) -> float:
        sec = parent.section(key)
        value = sec.float("value", minimum=minimum, exclusive_minimum=exclusive, maximum=maximum)
        conf, src = self._tags(sec, key)
        sec.done()
        self.constants[sec.path] = Constant(sec.path, value, conf, src)
        return value

    def numbers(self, parent: Section, key: str, names: tuple[str, ...], **limits) -> None:
        """The subsection ``key`` holding exactly the numbers ``names`` (same ``limits``)."""
        sec = parent.section(key)
        for name in names:
            self.number(sec, name, **limits)
        sec.done()

    def choice(self, parent: Section, key: str, choices: tuple[str, ...]) -> str:
        sec = parent.section(key)
        value = sec.choice("value", choices)
        conf, src = self._tags(sec, key)
        sec.done()
        self.constants[sec.path] = Constant(sec.path, value, conf, src)
        return value

    def table(self, parent: Section, key: str) -> dict[float, float]:
        sec = parent.section(key)
        raw = sec.any("value")
        if not isinstance(raw, Mapping) or len(raw) < 1:
            raise sec.error("value", f"expected a mapping node_nm -> factor, got {raw!r:.60}")
        table = {}
        for node, factor in raw.items():
            where = f"{sec.key_path('value')}.{node}"
            if isinstance(node, bool) or not isinstance(node, (int, float)) or node <= 0 \
                    or not _finite(node):
                raise ConfigError(f"expected a node in nm (a positive number), got {node!r:.40}",
                                  file=self.file, key=where)
            if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not (
                    _finite(factor) and factor > 0):
                raise ConfigError(f"expected a positive factor, got {factor!r}", file=self.file,
                                  key=where)
            table[float(node)] = float(factor)
        conf, src = self._tags(sec, key)
        sec.done()
        self.constants[sec.path] = Constant(sec.path, table, conf, src)
        return table

    def record(self, parent: Section, key: str, fields: tuple[str, ...]) -> None:
        sec = parent.section(key)
        values = {f: sec.float(f, minimum=0.0, exclusive_minimum=True) for f in fields}
        conf, src = self._tags(sec, key, fields)
        sec.done()
        for f, v in values.items():
            c = conf[f] if isinstance(conf, dict) else conf
            path = sec.key_path(f)
            self.constants[path] = Constant(path, v, c, src)


def parse_tech(raw: Any, *, file: str | None = None) -> Technology:
    """Validate a parsed technology mapping and build the ``Technology`` (at its own node)."""
    top = Section(raw, file=file)
    srcs = top.section("sources")
    sources = {k: srcs.str(k) for k in list(srcs.raw)}
    srcs.done()
    r = _Reader(sources, file)
    name = top.str("name")
    node_nm = parse_node(top.any("node_nm"), file=file, key="node_nm")
    description = top.str("description", default="")

    sc = top.section("scaling")
    for key in ("logic_energy", "logic_area", "sram_energy_from_22nm", "sram_area"):
        r.table(sc, key)
    sc.done()

    co = top.section("compute")
    r.numbers(co, "mac_pj", MAC_DTYPES, exclusive=True)
    r.number(co, "pe_register_pj_per_mac")
    r.number(co, "idle_pe_fraction_of_active", maximum=1.0)
    r.number(co, "vector_op_pj", exclusive=True)
    r.number(co, "vector_operand_bits_per_op")
    co.done()

    rf = top.section("register_file")
    r.number(rf, "pj_per_bit")
    r.number(rf, "area_mm2_per_mib", exclusive=True)
    rf.done()

    sr = top.section("sram")
    for key in ("read_a_22nm_pj_per_byte", "read_b", "write_a_22nm_pj_per_byte", "write_b",
                "max_bank_kib", "area_mm2_per_mib", "cache_area_mm2_per_mib"):
        r.number(sr, key, exclusive=True)
    r.number(sr, "min_macro_area_mm2")
    r.number(sr, "leakage_mw_per_mib")
    sr.done()

    dr = top.section("dram")
    st = dr.section("standards")
    standards = list(st.raw)
    if not standards:
        raise ConfigError("expected at least one DRAM standard", file=file, key=st.path)
    for std in standards:
        r.record(st, std, DRAM_FIELDS)
    st.done()
    r.choice(dr, "default_standard", tuple(standards))
    r.number(dr, "activate_share_pj_per_bit")
    r.number(dr, "row_bytes_per_activate", exclusive=True)
    dr.done()

    r.numbers(top, "pim", ("bank_pj_per_bit", "bankgroup_pj_per_bit", "buffer_die_pj_per_bit",
                           "host_pj_per_bit", "mac_fp16_pj"))
    r.numbers(top, "noc", ("wire_pj_per_bit_mm", "router_pj_per_bit", "router_area_mm2",
                           "chip_to_chip_pj_per_bit"))

    ar = top.section("area")
    r.numbers(ar, "pe_um2", MAC_DTYPES, exclusive=True)
    r.number(ar, "vector_lane_um2", exclusive=True)
    r.number(ar, "control_overhead_fraction", maximum=10.0)
    r.numbers(ar, "io_phy_mm2", IO_PHYS)
    r.numbers(ar, "io_controller_mm2", IO_PHYS)
    r.numbers(ar, "core", ("front_end_um2_per_lane", "fp64_unit_um2", "int32_unit_um2",
                           "crossbar_port_mm2"))
    ar.done()

    r.numbers(top, "leakage", ("logic_mw_per_mm2",))

    bu = top.section("budgets")
    r.number(bu, "max_die_area_mm2", exclusive=True)
    r.number(bu, "power_density_w_per_mm2_max", exclusive=True)
    bu.done()
    top.done()
    return Technology(name, node_nm, node_nm, file or "<tech>", r.constants, sources, description)
