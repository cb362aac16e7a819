"""Every loader, fed valid-but-wrong input and random bytes, loads or raises AccelsimError
naming the file — never another exception. Bounded here; scripts/fuzz.py runs more examples."""

import pytest
from hypothesis import HealthCheck, given, settings

from fuzzing import TARGETS

EXAMPLES = 150
SLOW = {"technology_file": 30, "operator_trace": 80, "request_trace": 80}   # big files per example


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_loader_never_raises_a_traceback(name):
    strategy, target = TARGETS[name]

    @settings(max_examples=SLOW.get(name, EXAMPLES), deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy())
    def run(data):
        target(data)

    run()
