"""Where the shipped declarative folders live (``arch_configs/``, ``traces/``, ``envs/``)."""

from __future__ import annotations

import os
from pathlib import Path


def data_root() -> Path:
    """``$ACCELSIM_HOME`` if set, else the checkout this package was installed from."""
    home = os.environ.get("ACCELSIM_HOME")
    return Path(home) if home else Path(__file__).resolve().parents[1]
