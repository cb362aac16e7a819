"""The handouts' numbers are produced by the lab code: every ``<!-- labN:name -->`` block must
match what the solution produces now. If this fails after a simulator change, run
``python scripts/build_labs.py`` and commit the updated handouts (check that the handout's
prose still fits the new numbers)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

LABS_DIR = Path(__file__).resolve().parents[2] / "docs" / "labs"
LABS = sorted(int(re.match(r"lab(\d+)_", d.name).group(1))
              for d in LABS_DIR.glob("lab[0-9]*_*") if (d / "solution.py").is_file())


@pytest.mark.parametrize("n", LABS)
def test_handout_blocks_are_fresh(n, lab_factory, build_labs):
    results = lab_factory(n).results(graded=False)
    assert not results.get("skipped"), (
        f"lab {n} ran without {', '.join(results.get('skipped', []))}; the handout is built with "
        "every optional package: pip install -e '.[dev]'")
    problems = build_labs.build(n, results, write=False)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("n", LABS)
def test_lab_has_all_files(n, build_labs):
    d = build_labs.lab_dirs()[n]
    for name in ("handout.md", "starter.py", "lab.py", "solution.py"):
        assert (d / name).is_file(), f"{d.name}/{name} is missing"
    assert (build_labs.REPO / "tests" / "labs" / f"test_lab{n}.py").is_file()
