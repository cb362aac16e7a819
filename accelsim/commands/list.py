"""``accelsim list [WHAT]``: what is registered and shipped (presets, models, plug-ins)."""

from __future__ import annotations

import argparse

SECTIONS = ("presets", "models", "mappers", "memory", "noc", "multicore", "pim", "schedulers")


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("list", help="list presets, models and plug-in implementations")
    p.add_argument("what", nargs="?", choices=("all", *SECTIONS), default="all",
                   help="one section only (default: all)")
    p.set_defaults(run=run)
    return p


def _presets() -> dict[str, str]:
    from ..arch.config import load_arch, preset_names

    out = {}
    for name in preset_names():
        try:
            out[name] = load_arch(name).description
        except Exception as exc:  # noqa: BLE001 - a broken preset is listed, not fatal
            out[name] = f"(invalid: {exc})"
    return out


def _registries() -> dict[str, tuple[str, dict[str, str]]]:
    from ..hw.memory import memory_impls
    from ..hw.noc import NOCS
    from ..hw.pim import PIMS
    from ..mapping.mappers import MAPPERS, mapper_names
    from ..mapping.partition import MULTICORE_MAPPINGS
    from ..mapping.schedulers import SCHEDULERS

    mapper_names()                       # registers the built-in mappers
    return {
        "mappers": ("mappers (mapping: {impl: ...}; auto: tiled on one core, waves on several)",
                    MAPPERS.describe()),
        "memory": ("memory impls (memory: {impl: ...})", memory_impls()),
        "noc": ("NoC impls (noc: {impl: ...})", NOCS.describe()),
        "multicore": ("multi-core mappings (noc: {multicore: {mapping: ...}})",
                      MULTICORE_MAPPINGS.describe()),
        "pim": ("PIM impls (pim: {impl: ...})", PIMS.describe()),
        "schedulers": ("NPU+PIM schedulers (pim: {scheduler: {impl: ...}})",
                       SCHEDULERS.describe()),
    }


def run(args: argparse.Namespace) -> int:
    from ..workload.models import models_dir

    what = getattr(args, "what", "all")
    blocks = []
    if what in ("all", "presets"):
        blocks.append("architecture presets (arch_configs/):\n" + "\n".join(
            f"  {name:28s} {desc}" for name, desc in _presets().items()))
    if what in ("all", "models"):
        blocks.append("models (traces/models/):\n  " + ", ".join(
            sorted(p.stem for p in models_dir().glob("*.yaml"))))
    for key, (title, entries) in _registries().items():
        if what in ("all", key):
            blocks.append(f"{title}:\n" + "\n".join(f"  {name:12s} {desc}"
                                                     for name, desc in entries.items()))
    if what == "all":
        blocks.append("systolic dataflows: os (output stationary), ws (weight stationary), "
                      "is (input stationary)")
    print("\n\n".join(blocks))
    return 0
