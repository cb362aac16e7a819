"""Small helpers shared by the lab scripts (tables, output folders, the repository root).

Every lab's ``lab.py`` does ``sys.path.insert(0, <docs/labs>)`` and ``import labkit``; nothing
here simulates anything, so a student can ignore this file.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Iterable, Sequence

LABS_DIR = Path(__file__).resolve().parent
REPO = LABS_DIR.parents[1]            # docs/labs -> repository root


def repo_path(*parts: str) -> Path:
    """A path inside the repository (traces/, envs/, arch_configs/), independent of the cwd."""
    return REPO.joinpath(*parts)


def md_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub-markdown table; cells are written with ``str`` (format numbers before)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def parse_args(description: str) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--out", default=None,
                    help="folder for plots and intermediate files (default: a temporary folder, "
                         "no plots kept)")
    return ap.parse_args()


@contextlib.contextmanager
def work_dir(out: str | Path | None):
    """``out`` created if given, else a temporary folder removed afterwards."""
    if out is not None:
        path = Path(out)
        path.mkdir(parents=True, exist_ok=True)
        yield path
    else:
        with tempfile.TemporaryDirectory(prefix="accelsim-lab-") as tmp:
            yield Path(tmp)


def run_cli(argv: list[str]) -> str:
    """Run ``accelsim ARGV...`` in this process (same code path as the shell command) and
    return what it printed; raises if it failed."""
    from accelsim.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(argv)
    if rc != 0:
        raise RuntimeError(f"accelsim {' '.join(argv)} exited with {rc}:\n{buf.getvalue()}")
    return buf.getvalue()


def have(module: str) -> bool:
    """Whether an optional package (matplotlib, optuna, stable_baselines3) is installed."""
    return importlib.util.find_spec(module) is not None


def default_impl(lab_file: str) -> ModuleType:
    """The functions ``python docs/labs/labN_<name>/lab.py`` runs with: the reference
    ``solution.py`` beside ``lab.py`` when there is one (the instructor's copy). A student's copy
    has none: then exit with a note to run the starter, which passes its own functions."""
    lab_dir = Path(lab_file).resolve().parent
    path = lab_dir / "solution.py"
    if not path.is_file():
        starter = lab_dir / "starter.py"
        if starter.is_relative_to(REPO):
            starter = starter.relative_to(REPO)
        out = lab_dir.name.split("_")[0] + "_out"
        raise SystemExit(f"lab.py is the lab's harness; the functions it runs are yours, in "
                         f"starter.py. Run\n\n    python {starter} --out {out}\n")
    return load_module(path, f"{lab_dir.name}_solution")


def load_module(path: Path, name: str) -> ModuleType:
    """Import a lab file under a unique module name (every lab has a ``lab.py``, a
    ``starter.py`` and a ``solution.py``); once per name."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[name]          # not half a module for the next caller
        raise
    return mod


def lab_main(lab: ModuleType, impl: ModuleType | None, outputs: str) -> None:
    """A lab's ``main``: run ``lab`` with ``impl``'s functions (the starter passes itself;
    ``python lab.py`` uses the reference solution beside it) and print its tables. ``outputs``
    says where the written files are, ``{out}`` standing for the output folder."""
    args = parse_args(lab.__doc__.splitlines()[0])
    if impl is None:
        impl = default_impl(lab.__file__)
    res = lab.run(args.out, impl)
    print_blocks(lab.blocks(res))
    if args.out:
        print("\n" + outputs.format(out=args.out))


def print_blocks(blocks: dict[str, str]) -> None:
    for name, text in blocks.items():
        print(f"\n## {name}\n\n{text}")
