"""``accelsim validate``: every comparison with the reference data, as one table."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("validate", help="compare every model with the reference data",
                              description="Run every comparison with ../shared/reference and "
                                          "print model | reference | metric | ours | reference | "
                                          "error | goal | pass.")
    p.add_argument("--quick", action="store_true", help="reduced sizes (what CI runs)")
    p.add_argument("--reference", type=Path, default=None,
                   help="reference data folder (default: $ACCELSIM_REFERENCE or ../shared/reference)")
    p.add_argument("--only", action="append", default=None, metavar="NAME",
                   help="run only this comparison (repeatable)")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.add_argument("--json", action="store_true", help="print JSON rows")
    p.set_defaults(run=run)
    return p


def _reference_dir(given: Path | None) -> Path:
    """The reference folder (``--reference``, else $ACCELSIM_REFERENCE or ../shared/reference),
    checked: it exists, is a directory and can be read."""
    import os
    import stat

    from ..errors import AccelsimError
    from ..validation import default_reference_dir

    if given is not None and not str(given).strip():
        raise AccelsimError("--reference: expected a folder, got an empty string")
    source = "--reference" if given is not None else (
        "$ACCELSIM_REFERENCE" if os.environ.get("ACCELSIM_REFERENCE") else "the default")
    path = Path(given) if given is not None else default_reference_dir()
    hint = ("point --reference (or $ACCELSIM_REFERENCE) at the project's shared reference "
            "data folder")
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise AccelsimError(f"{path}: reference data folder not found (from {source}); "
                            f"{hint}") from None
    except OSError as exc:
        raise AccelsimError(f"{path}: cannot read the reference data folder "
                            f"({exc.strerror or exc}); {hint}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise AccelsimError(f"{path}: not a directory (from {source}); {hint}")
    if not os.access(path, os.R_OK | os.X_OK):
        raise AccelsimError(f"{path}: permission denied (cannot read the reference data "
                            f"folder); fix its permissions or {hint}")
    return path


#: ``accelsim validate`` ran, and some comparison missed its goal (1 stays "internal error").
EXIT_COMPARISONS_FAILED = 3


def run(args: argparse.Namespace) -> int:
    from ..errors import AccelsimError
    from ..validation import as_dicts, format_table, run_all

    reference = _reference_dir(args.reference)
    try:
        rows = run_all(reference, quick=args.quick, only=args.only)
    except OSError as exc:       # a file the comparisons read is missing or unreadable
        name = getattr(exc, "filename", None)
        if name is None or not Path(name).resolve().is_relative_to(reference.resolve()):
            raise
        raise AccelsimError(f"{reference}: incomplete reference data: {name}: "
                            f"{exc.strerror or exc}; point --reference (or $ACCELSIM_REFERENCE) "
                            "at the project's shared reference data folder") from None
    if args.json:
        print(json.dumps(as_dicts(rows), indent=1))
    else:
        print(format_table(rows, markdown=args.markdown))
        failed = sum(not r.passed for r in rows)
        print(f"\n{len(rows) - failed} passed, {failed} failed")
    return 0 if all(r.passed for r in rows) else EXIT_COMPARISONS_FAILED
