"""``accelsim list``: what is registered and shipped (presets, models, plug-ins)."""

from __future__ import annotations

import argparse


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("list", help="list presets, models and plug-in implementations")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..arch.config import load_arch, preset_names
    from ..hw.memory import memory_impls
    from ..workload.models import models_dir

    print("architecture presets (arch_configs/):")
    for name in preset_names():
        try:
            desc = load_arch(name).description
        except Exception as exc:  # noqa: BLE001 - a broken preset is listed, not fatal
            desc = f"(invalid: {exc})"
        print(f"  {name:28s} {desc}")
    print("\nmodels (traces/models/):")
    print("  " + ", ".join(sorted(p.stem for p in models_dir().glob("*.yaml"))))
    from ..hw.noc import NOCS
    from ..hw.pim import PIMS
    from ..mapping.mappers import MAPPERS, mapper_names
    from ..mapping.partition import MULTICORE_MAPPINGS
    from ..mapping.schedulers import SCHEDULERS

    mapper_names()                       # registers the built-in mappers

    registries = [("memory impls (memory: {impl: ...})", memory_impls()),
                  ("mappers (mapping: {impl: ...}; auto: tiled on one core, waves on several)",
                   MAPPERS.describe()),
                  ("NoC impls (noc: {impl: ...})", NOCS.describe()),
                  ("multi-core mappings (noc: {multicore: {mapping: ...}})",
                   MULTICORE_MAPPINGS.describe()),
                  ("PIM impls (pim: {impl: ...})", PIMS.describe()),
                  ("NPU+PIM system schedulers (arch_configs/pim/system_*.yaml)",
                   SCHEDULERS.describe())]
    for title, entries in registries:
        print(f"\n{title}:")
        for name, desc in entries.items():
            print(f"  {name:12s} {desc}")
    print("\nsystolic dataflows: os (output stationary), ws (weight stationary), "
          "is (input stationary)")
    return 0
