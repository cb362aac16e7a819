"""A wheel (what a non-editable ``pip install .`` installs) carries the folders the package reads:
the presets (``arch_configs/``), traces and request datasets (``traces/``), DSE environments
(``envs/``) and the silicon measured here (``docs/silicon/``), so an install outside the checkout
finds them without ``$ACCELSIM_HOME`` (``accelsim/paths.py``, ``setup.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = r"""
import json
from accelsim.paths import data_root
from accelsim.arch.config import load_arch
from accelsim.hw.hbm import preset_names
from accelsim.workload.models import load_model
arch = load_arch("h100_like")
print(json.dumps({"root": str(data_root()), "memory_presets": preset_names(),
                  "model": load_model("llama2-7b").name, "arch": arch.name}))
"""


def test_a_wheel_carries_the_folders_the_package_reads(tmp_path):
    # the build backend runs in this environment (setuptools: the dev extra), not in an
    # isolated one that pip would fill from the network
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps",
                    "-q", str(ROOT), "-w", str(wheels)], check=True, capture_output=True)
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), *map(str, wheels.glob("*.whl"))], check=True,
                   capture_output=True)
    env = {k: v for k, v in os.environ.items() if k != "ACCELSIM_HOME"}
    env["PYTHONPATH"] = str(target)
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, env=env, check=True,
                         capture_output=True, text=True).stdout
    found = json.loads(out)
    assert Path(found["root"]) == target / "accelsim" / "_shipped"
    assert "hbm2_2000" in found["memory_presets"]
    assert found["model"]
    assert found["arch"]
    for folder in ("arch_configs", "traces", "envs", "docs/silicon"):
        shipped = {p.relative_to(target / "accelsim" / "_shipped" / folder)
                   for p in (target / "accelsim" / "_shipped" / folder).rglob("*") if p.is_file()}
        in_checkout = {p.relative_to(ROOT / folder) for p in (ROOT / folder).rglob("*")
                       if p.is_file() and "__pycache__" not in p.parts}
        assert shipped == in_checkout, folder
