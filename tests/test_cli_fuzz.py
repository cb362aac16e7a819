"""CLI fuzzer (issue 19, item 5): hypothesis drives ``accelsim.cli.main([...])`` with generated
command lines over every sub-command, with hostile values and generated files and paths.

Each case runs in a forked child inside its own temporary folder, under a time cap
(``TIME_CAP_S`` CPU seconds, ``WALL_CAP_S`` for a case blocked without using CPU) and a memory
cap (``RLIMIT_AS``). Contract: exit 0 or 2, no traceback, no hang,
no blow-up. The generator lives in ``tests/fuzzing.py``; ``python scripts/fuzz.py --cli N`` runs
it at scale. CI size: a few examples per sub-command (about a minute on two cores).
"""

from __future__ import annotations

import os
import sys

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from fuzzing import CLI_COMMANDS, HOSTILE_BYTES, REPO, FileSpec, cli_case, run_template

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
    # found by the 10,000-case runs (seeds 2 and 3)
    pytest.param(["cost", "--fidelity", "analytical", "--arch", "scalesim_default", "--trace",
                  FileSpec("bytes", "t.csv", b"op_id,layer,phase,name,op_class,M,K,N,flops,"
                           b"bytes_weight,bytes_act_in,bytes_act_out,bytes_kv_read,"
                           b"bytes_kv_write,repeat\n0,0,decode,g,gemm,64,64,64,524288,8192,8192,"
                           b"8192,0,0,100000000000\n")], id="cost-trace-huge-repeat"),
    pytest.param(["cost", "--arch", FileSpec("bytes", "a.yaml", b"42\n"), "--set",
                  "vector.lanes=4"], id="set-on-a-scalar-file"),
    pytest.param(["memtest", "--requests", "300", "--memory", "x" * 600],
                 id="memtest-memory-name-too-long"),
    pytest.param(["noctest", "--mesh", "2x2", "--warmup-cycles", "10", "--measure-cycles", "50",
                  "--drain-cycles", "99999999999999999999999999"], id="noctest-huge-drain"),
    # seed 4: a FIFO given as an input blocked in open() until killed (every reader now stats
    # the path first, io.input_problem)
    *[pytest.param(argv, id=f"fifo-{name}") for name, argv in [
        ("trace", ["simulate", "--quiet", "--arch", "scalesim_default", "--fidelity",
                   "analytical", "--trace", FileSpec("fifo", "t.csv")]),
        ("topology", ["simulate", "--quiet", "--arch", "scalesim_default", "--topology",
                      FileSpec("fifo", "t.csv")]),
        ("cost", ["cost", "--fidelity", "analytical", "--arch", "scalesim_default", "--cost",
                  FileSpec("fifo", "c.yaml")]),
        ("tech", ["cost", "--fidelity", "analytical", "--arch", "scalesim_default", "--tech",
                  FileSpec("fifo", "t.yaml")]),
        ("noc-config", ["noctest", "--config", FileSpec("fifo", "n.yaml")]),
        ("requests", ["trace", "serve", "--requests", FileSpec("fifo", "r.csv"), "-o",
                      FileSpec("out_new", "serve")]),
        ("env", ["dse", "check", FileSpec("fifo", "env.yaml")]),
        ("report", ["report", FileSpec("fifo", "r.json")]),
    ]],
    # seed 5: a generated env workload was built at any batch; a too-long --out name
    pytest.param(["dse", "eval", "--fidelity", "analytical", "--set",
                  "workload.generate.batch=1000000000", FileSpec("bytes", "env.yaml", (
                      REPO / "tests/dse/data/tiny-latency.yaml").read_bytes())],
                 id="dse-eval-huge-generated-batch"),
    pytest.param(["dse", "eval", "--fidelity", "analytical", "--set", "objectives=5",
                  FileSpec("bytes", "env.yaml", (REPO / "tests/dse/data/tiny-latency.yaml")
                           .read_bytes())], id="dse-eval-objectives-not-a-list"),
    pytest.param(["dse", "run", "--no-progress", "--budget", "2", "--out", "n" * 300,
                  FileSpec("bytes", "env.yaml", (REPO / "tests/dse/data/tiny-latency.yaml")
                           .read_bytes())], id="dse-run-out-name-too-long"),
    pytest.param(["report", "--plots", FileSpec("out_new", "p"),
                  FileSpec("bytes", "r.json", b'{"ops": [], "arch": {"name": "x"}, '
                           b'"clock_mhz": 1000, "total_cycles": 1, "memory": {}, '
                           b'"trace": {"name": "t"}}')], id="report-without-total-time"),
    # seed 13: a billion replicas ran out of memory; replicas per pool are now bounded
    pytest.param(["serve", "--no-progress", "--model", "tiny-llama-gqa-test", "--duration", "1",
                  "--rate", "4", "--replicas", "1000000000"], id="serve-a-billion-replicas"),
]


@pytest.mark.parametrize("template", REGRESSIONS)
def test_cli_fuzz_regressions(template):
    _check(template)
