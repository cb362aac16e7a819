"""The serving validation rows (``accelsim validate --only serving``) pass and discriminate."""

from __future__ import annotations

import pytest

from accelsim.validation.serving import ITERATION_MS, WAIT_TOL, check


@pytest.mark.validation
def test_md1_rows_pass_and_a_loop_without_queueing_would_fail_them(tmp_path):
    rows = check(tmp_path, quick=True)
    assert len(rows) == 6 and all(r.passed for r in rows), rows
    for r in rows:
        if r.metric.startswith("mean TTFT"):
            # the null model: TTFT = the iteration time, no queueing
            assert abs(ITERATION_MS / r.expected - 1) > WAIT_TOL
