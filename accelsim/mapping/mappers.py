"""Mappers: how a matrix operator is spread over the chip (a plug-in, chosen in the arch YAML).

``mapping: {impl: NAME}`` picks one entry of ``MAPPERS``; ``auto`` (the default) is ``tiled`` on
a one-core chip and ``waves`` on a chip of several ``cores``:

* ``tiled``   — one core: SRAM tiling that minimises off-chip traffic (``tiling.py``) and the
  closed-form folds of ``hw.systolic`` (SCALE-Sim exact on one array). Several arrays of one core
  take whole instances, or split N when there are fewer instances than arrays.
* ``waves``   — several cores (``waves.py``): output tiles over cores in waves, split-K with a
  costed reduction, per-core tiles that fit the local SRAM, off-chip traffic from the raster
  order and what the shared buffer holds; tile sizes are the arrays' multiples.
* ``cutlass`` — ``waves`` restricted to the threadblock tiles and split-K factors of CUTLASS /
  cuBLAS kernels (128x256, 256x128, 128x128, 128x64, 64x128, 64x64; K step 64): the GPU presets.

A new mapper is one class with ``plan_matmul(op, arch, totals_only) -> OpPlan`` registered here.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any

from ..errors import unknown_name
from ..registry import Registry

if TYPE_CHECKING:
    from ..arch.config import Arch
    from .lower import OpPlan

MAPPERS: Registry[type["Mapper"]] = Registry("mapper")


class Mapper(abc.ABC):
    """Plans one matrix operator (``gemm``, ``gemv``, ``attention_score/context``) on a chip."""

    @abc.abstractmethod
    def plan_matmul(self, op: dict[str, Any], arch: "Arch", totals_only: bool) -> "OpPlan":
        """The tile plan of ``op`` (a trace row as a dict) on ``arch``."""


def mapper_names() -> list[str]:
    """Every registered mapper name (the built-in ones registered first)."""
    _register_builtin()
    return MAPPERS.names()


def check_mapper_name(name: str, *, file: str | None, key: str) -> None:
    if name != "auto" and name not in mapper_names():
        raise unknown_name("mapper", name, ["auto", *MAPPERS.names()], file=file, key=key)


def mapper_for(arch: "Arch") -> Mapper:
    """The mapper the arch names (``auto``: ``tiled`` on one core, ``waves`` on several)."""
    _register_builtin()
    name = arch.mapping.impl
    if name == "auto":
        name = "tiled" if arch.cores == 1 else "waves"
    return MAPPERS.get(name)()


def _register_builtin() -> None:
    from . import waves  # noqa: F401  (registers waves, cutlass)
    from . import lower  # noqa: F401  (registers tiled)
