"""Fill the result blocks of the lab handouts from the lab solutions.

    python scripts/build_labs.py [--lab 1 --lab 3] [--check] [--out DIR]

Each ``docs/labs/labN_*/lab.py`` (the lab's harness) has ``run(out_dir, impl) -> dict`` and
``blocks(results) -> {"labN:name": markdown}``; here ``impl`` is the lab's ``solution.py`` (the
functions the student writes in ``starter.py``, filled in). Every block is written between
``<!-- labN:name -->`` and ``<!-- /labN:name -->`` in that lab's ``handout.md`` (and in
``docs/labs/INSTRUCTOR.md`` when the block appears there). The handouts' numbers are therefore
produced by the code, never typed; ``tests/labs/test_handouts.py`` fails when a block no longer
matches what the code produces (rerun this script and commit the diff).

``--check`` writes nothing and exits 1 if a block is stale; ``--out DIR`` keeps the solutions'
plots and files there (one sub-folder per lab).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LABS = REPO / "docs" / "labs"
sys.path.insert(0, str(LABS))
from labkit import load_module  # noqa: E402  (one loader for the labs and this script)


def lab_dirs() -> dict[int, Path]:
    """``{N: docs/labs/labN_<name>}`` for every lab folder with a harness (``lab.py``)."""
    out = {}
    for d in sorted(LABS.glob("lab[0-9]*_*")):
        m = re.match(r"lab(\d+)_", d.name)
        if m and (d / "lab.py").is_file():
            out[int(m.group(1))] = d
    return out


def load_lab(n: int):
    """Lab ``n``'s harness: ``run(out_dir, impl)``, ``blocks(results)``, maybe ``missing()``."""
    return load_module(lab_dirs()[n] / "lab.py", f"accelsim_lab{n}_lab")


def load_solution(n: int):
    """Lab ``n``'s reference functions (absent from a student's copy of the labs)."""
    path = lab_dirs()[n] / "solution.py"
    if not path.is_file():
        raise FileNotFoundError(f"{path.relative_to(REPO)} is missing (a student copy?)")
    return load_module(path, f"accelsim_lab{n}_solution")


def load_starter(n: int):
    return load_module(lab_dirs()[n] / "starter.py", f"accelsim_lab{n}_starter")


def block_re(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- {re.escape(name)} -->\n)(.*?)(<!-- /{re.escape(name)} -->)", re.S)


def fill(text: str, blocks: dict[str, str]) -> str:
    """``text`` with every block present in it replaced by its new content."""
    for name, body in blocks.items():
        text = block_re(name).sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(3),
                                  text)
    return text


def names_in(text: str, n: int) -> set[str]:
    return set(re.findall(rf"<!-- (lab{n}:[\w-]+) -->", text))


def targets(n: int) -> list[Path]:
    files = [lab_dirs()[n] / "handout.md"]
    instr = LABS / "INSTRUCTOR.md"
    if instr.is_file():
        files.append(instr)
    return files


def build(n: int, results: dict, *, write: bool) -> list[str]:
    """Fill lab ``n``'s blocks; returns the problems (stale or missing blocks)."""
    blocks = load_lab(n).blocks(results)
    problems = []
    seen: set[str] = set()
    for path in targets(n):
        text = path.read_text()
        present = names_in(text, n)
        seen |= present
        unknown = present - set(blocks)
        problems += [f"{path.relative_to(REPO)}: block {b} is not produced by lab.py"
                     for b in sorted(unknown)]
        new = fill(text, blocks)
        if new != text:
            if write:
                path.write_text(new)
            else:
                problems.append(f"{path.relative_to(REPO)}: lab {n} blocks are stale "
                                f"(run python scripts/build_labs.py --lab {n})")
    missing = set(blocks) - seen
    problems += [f"lab {n}: block {b} appears in no handout" for b in sorted(missing)]
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lab", type=int, action="append", help="only this lab (repeatable)")
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    ap.add_argument("--out", default=None, help="keep plots and files here (labN/ sub-folders)")
    args = ap.parse_args()
    problems = []
    for n in args.lab or sorted(lab_dirs()):
        t0 = time.perf_counter()
        out = None if args.out is None else Path(args.out) / f"lab{n}"
        results = load_lab(n).run(out, impl=load_solution(n))
        problems += build(n, results, write=not args.check)
        print(f"lab {n}: {time.perf_counter() - t0:.1f} s", flush=True)
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
