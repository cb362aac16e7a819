"""Shared fixtures: the reference data folder and the validation size switch.

Validation tests (marker ``validation``) compare against ``../shared/reference``. They run at a
reduced size by default (what CI runs); ``pytest --full-validation`` runs the full size.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def reference_root() -> Path:
    """``$ACCELSIM_REFERENCE`` or ``../shared/reference`` beside the checkout."""
    env = os.environ.get("ACCELSIM_REFERENCE")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "reference"


def pytest_addoption(parser):
    parser.addoption("--full-validation", action="store_true", default=False,
                     help="run validation tests at full size (slow)")


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    root = reference_root()
    if not root.is_dir():
        pytest.fail(f"reference data not found at {root}; set ACCELSIM_REFERENCE")
    return root


@pytest.fixture(scope="session")
def full_validation(request) -> bool:
    return bool(request.config.getoption("--full-validation"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT
