"""Read SCALE-Sim v2/v3 inputs unchanged: ``.cfg`` architecture files.

SCALE-Sim words are 1 byte (hard-coded there), so an imported architecture uses int8 operands and
its ``...SramSzkB`` values are KiB of 1-byte words. In ``CALC`` bandwidth mode SCALE-Sim never
stalls on DRAM (bandwidth is reported as a requirement), which is accelsim's ``ideal`` memory; in
``USER`` mode DRAM delivers ``Bandwidth`` words per cycle (``analytical`` memory at that rate).
SCALE-Sim has no clock; cycles are taken at 1 GHz so that ns == cycles.
"""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..io import input_problem

_REQUIRED = {
    "architecture_presets": ("ArrayHeight", "ArrayWidth", "IfmapSramSzkB", "FilterSramSzkB",
                             "OfmapSramSzkB", "Dataflow"),
}


def read_scalesim_cfg(path: Path) -> dict[str, Any]:
    """Translate a SCALE-Sim ``.cfg`` into an accelsim architecture mapping."""
    parser = configparser.ConfigParser(interpolation=None)   # values are data, never expanded
    problem = input_problem(path)
    if problem:
        raise ConfigError(f"SCALE-Sim config {problem}", file=str(path))
    try:
        text = Path(path).read_text(encoding="utf-8")
        parser.read_string(text, source=str(path))
    except FileNotFoundError:
        raise ConfigError("file not found", file=str(path)) from None
    except (configparser.Error, UnicodeDecodeError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"malformed SCALE-Sim config: {first}", file=str(path)) from None

    def get(section: str, key: str, default: str | None = None) -> str:
        if parser.has_option(section, key):
            return parser.get(section, key).strip()
        if default is None:
            raise ConfigError("required key is missing", file=str(path), key=f"[{section}] {key}")
        return default

    def get_int(section: str, key: str, default: str | None = None) -> int:
        value = get(section, key, default)
        try:
            number = float(value)
            if not number.is_integer():         # 32.9, inf, 1e999, nan: never truncated
                raise ValueError(value)
            number = int(number)
        except (ValueError, OverflowError):     # text, a fraction, or inf / 1e999
            raise ConfigError(f"expected an integer, got {value!r}", file=str(path),
                              key=f"[{section}] {key}") from None
        if number < 1:
            raise ConfigError(f"expected a positive integer, got {value!r}", file=str(path),
                              key=f"[{section}] {key}")
        return number

    arch = "architecture_presets"
    for key in _REQUIRED[arch]:
        get(arch, key)
    bw_mode = get("run_presets", "InterfaceBandwidth", "CALC").upper()
    if bw_mode not in ("CALC", "USER"):
        raise ConfigError(f"expected CALC or USER, got {bw_mode!r}", file=str(path),
                          key="[run_presets] InterfaceBandwidth")
    if bw_mode == "CALC":
        memory: dict[str, Any] = {"impl": "ideal", "latency_ns": 0.0}
    else:
        words_per_cycle = get_int(arch, "Bandwidth", "10")
        memory = {"impl": "analytical", "channels": 1,
                  "channel_bandwidth_gbps": float(words_per_cycle), "latency_ns": 1.0}
    run_name = get("general", "run_name", Path(path).stem)
    return {
        "name": run_name,
        "source": f"imported from SCALE-Sim config {Path(path).name} ({bw_mode} bandwidth mode)",
        "clock_mhz": 1000,
        "dtypes": {"act": "int8", "weight": "int8", "kv": "int8", "accum": "int8"},
        "systolic": {"rows": get_int(arch, "ArrayHeight"), "cols": get_int(arch, "ArrayWidth"),
                     "dataflow": get(arch, "Dataflow").lower()},
        "sram": {"mode": "separate", "ifmap_kib": get_int(arch, "IfmapSramSzkB"),
                 "filter_kib": get_int(arch, "FilterSramSzkB"),
                 "ofmap_kib": get_int(arch, "OfmapSramSzkB")},
        "memory": memory,
    }
