"""``accelsim validate --quick`` (what CI runs): every registered comparison reports rows, and
every row meets its goal except the documented misses."""

import json

import pytest

from accelsim.cli import main
from accelsim.validation import VALIDATIONS

#: Rows that miss their goal today, with the reason (see the README's validation section).
# (model, metric fragment): misses a closing note explains (issue 15: the H100's energy at its
# measured sustained clock; PyTorch's vector kernels below the copy bandwidth)
KNOWN_MISSES: set[tuple[str, str]] = {("cost", "h100_like full-load power"),
                                      ("cost", "a100_like full-load power"),
                                      ("h100_like", "vector mape"), ("h200_like", "vector mape"),
                                      # all-bank refresh only (per-bank refresh not modelled)
                                      ("hbm", "stream bandwidth / peak, hbm3")}

pytestmark = pytest.mark.validation


def test_validate_quick_runs_every_comparison(capsys, reference_dir):
    rc = main(["validate", "--quick", "--json", "--reference", str(reference_dir)])
    rows = json.loads(capsys.readouterr().out)
    models = {r["model"] for r in rows}
    assert {"systolic", "HBM", "mesh NoC"} <= models
    assert len(VALIDATIONS) >= 4
    failed = [r for r in rows if not r["passed"]]
    unexplained = [r for r in failed
                   if not any(m in r["model"].lower() and w in r["metric"].lower()
                              for m, w in KNOWN_MISSES)]
    assert unexplained == [], unexplained
    assert rc == (3 if failed else 0)         # 3: a comparison missed its goal
