"""The ``accelsim`` command.

Sub-commands live in ``accelsim/commands/<name>.py``; each module defines
``register(subparsers) -> argparse.ArgumentParser`` and sets ``run=<function(args) -> int>`` as the
parser default. Exit codes: 0 ok, 2 user error (one line on stderr), 1 internal error,
3 ``validate`` ran but a comparison missed its goal.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import AccelsimError

# Order is the order of ``accelsim --help``. A module that does not exist yet is skipped.
COMMANDS = ("simulate", "serve", "report", "trace", "cost", "dse", "validate", "memtest", "noctest", "list")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="accelsim",
        description="Cycle-approximate simulator of AI accelerators for LLM inference.")
    parser.add_argument("--version", action="version", version=f"accelsim {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"accelsim.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"accelsim.commands.{name}":
                continue
            raise
        module.register(subparsers)
    return parser



def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except AccelsimError as exc:
        print(f"accelsim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("accelsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - the one place internal errors are turned into exit 1
        import traceback

        traceback.print_exc()
        print(f"accelsim: internal error: {type(exc).__name__}: {exc}\n"
              "This is a bug in accelsim; please report it with the command line above.",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
