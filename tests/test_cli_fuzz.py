"""CLI fuzzer (issue 19, item 5): hypothesis drives ``accelsim.cli.main([...])`` with generated
command lines over every sub-command, with hostile values and generated files and paths.

Each case runs in a forked child inside its own temporary folder, under a time cap
(``TIME_CAP_S``) and a memory cap (``RLIMIT_AS``). Contract: exit 0 or 2, no traceback, no hang,
no blow-up. The generator lives in ``tests/fuzzing.py``; ``python scripts/fuzz.py --cli N`` runs
it at scale. CI size: a few examples per sub-command (about a minute on two cores).
"""

from __future__ import annotations

import os
import sys

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from fuzzing import CLI_COMMANDS, HOSTILE_BYTES, FileSpec, cli_case, run_template

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin",
                                reason="the CLI fuzzer forks one child per case (Linux)")

#: Examples per sub-command in CI; scripts/fuzz.py --cli N runs thousands.
EXAMPLES = int(os.environ.get("ACCELSIM_CLI_FUZZ_EXAMPLES", "6"))


def _check(template: list) -> None:
    result = run_template(template)
    problem = result.problem()
    assert problem is None, (f"{problem} after {result.wall_s:.1f} s "
                             f"(peak RSS {result.peak_rss_bytes >> 20} MiB): accelsim "
                             f"{' '.join(result.argv)}\n{result.stderr[-3000:]}")


@pytest.mark.parametrize("command", sorted(CLI_COMMANDS))
def test_cli_fuzz(command):
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate])  # shrinking re-runs slow cases
    @given(cli_case([command]))
    def run(template):
        _check(template)

    run()


#: Hostile inputs that once gave a traceback (kept as fixed regressions).
LONG = FileSpec("long_name", "out.json")
REGRESSIONS = [
    pytest.param(["trace", "gen", "--model", "x" * 300, "-o", FileSpec("out_new", "o.csv")],
                 id="trace-gen-model-name-too-long"),
    pytest.param(["simulate", "--quiet", "--model", "tiny-llama-gqa-test", "--layers", "1",
                  "--fidelity", "analytical", "--json", LONG], id="simulate-json-name-too-long"),
    pytest.param(["validate", "--quick", "--reference", FileSpec("dir", "ref")],
                 id="validate-reference-without-data"),
    pytest.param(["memtest", "--requests", "300", "--memory",
                  FileSpec("bytes", "m.yaml", HOSTILE_BYTES["alias_bomb"])],
                 id="memtest-alias-bomb"),
    pytest.param(["simulate", "--quiet", "--fidelity", "analytical", "--arch",
                  FileSpec("fifo", "a.yaml")], id="simulate-arch-fifo"),
]


@pytest.mark.parametrize("template", REGRESSIONS)
def test_cli_fuzz_regressions(template):
    _check(template)
