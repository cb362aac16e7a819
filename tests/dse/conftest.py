from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
TINY = str(DATA / "tiny-latency.yaml")


@pytest.fixture
def tiny_env():
    from accelsim.dse import load_env

    return load_env(TINY)
