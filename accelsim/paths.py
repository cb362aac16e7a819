"""Where the shipped declarative folders live (``arch_configs/``, ``traces/``, ``envs/``,
``docs/silicon/``)."""

from __future__ import annotations

import os
from pathlib import Path


def data_root() -> Path:
    """``$ACCELSIM_HOME`` if set; else the checkout this package runs from (a checkout or an
    editable install); else the copy a wheel carries (``accelsim/_shipped``, setup.py)."""
    home = os.environ.get("ACCELSIM_HOME")
    if home:
        return Path(home)
    package = Path(__file__).resolve().parent
    checkout = package.parent
    if (checkout / "arch_configs").is_dir():
        return checkout
    return package / "_shipped"
