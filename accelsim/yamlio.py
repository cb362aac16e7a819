"""The one YAML reader: ``yaml.safe_load`` semantics, with numbers read as numbers and limits.

Every YAML accelsim reads (architecture files, ``--set`` values, model files, technology files,
DSE env files, ``--design`` values) goes through ``load_file``, ``load_text`` or ``parse_value``.
Compared with PyYAML's safe loader:

* numbers in exponent form are numbers (``1e300``, ``1e-09``, ``5E3``, ``1.5e3``); PyYAML follows
  YAML 1.1 and reads those as strings unless they have a dot and a signed exponent;
* a float literal beyond the float range (``1e400``) and an integer beyond 64 bits are errors
  (they would otherwise become ``inf`` or fail deep inside a model);
* a key given twice in one mapping is an error naming the key and both lines (PyYAML keeps the
  last one silently); merge keys (``<<: *base``) still override as before;
* aliases, the node count (aliases expanded) and the nesting depth are bounded, so an alias bomb
  or a recursive alias fails at once with a clear message instead of taking minutes or GBs.

Only standard tags are accepted (the safe loader's constructors), so no arbitrary objects.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent

from .errors import ConfigError
from .io import input_problem

MAX_NODES = 1_000_000          # nodes of the document with every alias expanded
MAX_ALIASES = 10_000
MAX_DEPTH = 100                # nested mappings / sequences
INT_MIN, INT_MAX = -(1 << 63), (1 << 63) - 1

_MERGE_TAG = "tag:yaml.org,2002:merge"
_FLOAT_EXP = re.compile(r"""^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)[eE][-+]?[0-9]+$""")


class YamlLimitError(yaml.YAMLError):
    """A document that parses but breaks a rule of ours (duplicate key, range, size)."""

    def __init__(self, problem: str, mark=None):
        super().__init__(problem)
        self.problem, self.problem_mark = problem, mark


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


class _Loader(yaml.SafeLoader):
    """``SafeLoader`` with YAML 1.2 exponent floats, duplicate-key checks and size limits."""

    def __init__(self, stream):
        super().__init__(stream)
        self._nodes = 0
        self._aliases = 0
        self._depth = 0
        self._anchor_size: dict[str, int] = {}
        self._open_anchors: set[str] = set()

    # ---------------------------------------------------------------- composer: limits
    def _count(self, n: int, mark) -> None:
        self._nodes += n
        if self._nodes > MAX_NODES:
            raise YamlLimitError(f"the document has more than {MAX_NODES:,} nodes once its "
                                 "aliases are expanded (an alias bomb?)", mark)

    def compose_node(self, parent, index):
        if self.check_event(AliasEvent):
            event = self.peek_event()
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise YamlLimitError(f"more than {MAX_ALIASES:,} aliases", event.start_mark)
            if event.anchor in self._open_anchors:
                raise YamlLimitError(f"alias *{event.anchor} refers to a node that contains it "
                                     "(a recursive alias)", event.start_mark)
            self._count(self._anchor_size.get(event.anchor, 1), event.start_mark)
            return super().compose_node(parent, index)
        event = self.peek_event()
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise YamlLimitError(f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
        anchor = event.anchor
        start = self._nodes
        self._count(1, event.start_mark)
        if anchor is not None:
            self._open_anchors.add(anchor)
        try:
            node = super().compose_node(parent, index)
        finally:
            if anchor is not None:
                self._open_anchors.discard(anchor)
            self._depth -= 1
        if anchor is not None:
            self._anchor_size[anchor] = self._nodes - start
        return node

    # ---------------------------------------------------------------- constructor: values
    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:
                    continue
                if first is not None:
                    raise YamlLimitError(f"duplicate key {key!r} (first given on line {first})",
                                         key_node.start_mark)
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node):
        text = str(node.value)
        if _digits(text) > 40:
            raise YamlLimitError(f"integer with {_digits(text):,} digits is out of range "
                                 "(integers must be within -2**63 .. 2**63-1)", node.start_mark)
        value = super().construct_yaml_int(node)
        if not INT_MIN <= value <= INT_MAX:
            raise YamlLimitError(f"integer {text} is out of range (integers must be within "
                                 "-2**63 .. 2**63-1)", node.start_mark)
        return value

    def construct_yaml_float(self, node):
        value = super().construct_yaml_float(node)
        if value in (float("inf"), float("-inf")) and "inf" not in str(node.value).lower():
            raise YamlLimitError(f"number {str(node.value):.40} is out of range (the largest "
                                 "float is about 1.8e308)", node.start_mark)
        return value


_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_EXP, list("-+0123456789."))
_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _Loader.construct_yaml_float)


def _describe(exc: yaml.YAMLError, *, with_mark: bool = True) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark and with_mark else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{where}{problem}"


def _load(text: str) -> Any:
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def load_text(text: str, *, file: str | None = None) -> Any:
    """Parse one YAML document; any problem is a ``ConfigError`` naming ``file`` and the line."""
    try:
        return _load(text)
    except YamlLimitError as exc:
        raise ConfigError(_describe(exc), file=file) from None
    except (yaml.YAMLError, RecursionError) as exc:
        detail = _describe(exc) if isinstance(exc, yaml.YAMLError) else "nested too deeply"
        raise ConfigError(f"malformed YAML: {detail}", file=file) from None


def load_file(path: str | os.PathLike, *, what: str = "file") -> Any:
    """Read and parse a YAML file; a missing, unreadable or malformed file is a ``ConfigError``."""
    path = Path(path)
    problem = input_problem(path)
    if problem == "is a directory":
        raise ConfigError(f"expected a YAML {what}, got a directory", file=str(path))
    if problem:
        raise ConfigError(f"{what} {problem}", file=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} not found", file=str(path)) from None
    except IsADirectoryError:
        raise ConfigError(f"expected a YAML {what}, got a directory", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {what}: {exc}", file=str(path)) from None
    return load_text(text, file=str(path))


def parse_value(text: Any, *, file: str | None = "--set", key: str | None = None) -> Any:
    """Type a command-line value (``--set K=V``, ``--design K=V``) by the same YAML rules.

    A value that is not valid YAML (``a: b: c``) or is blank stays the string given; a value
    that breaks a rule (``1e400``, a 30-digit integer) is a ``ConfigError`` naming ``key``.
    """
    if not isinstance(text, str) or not text.strip():
        return text
    try:
        return _load(text)
    except YamlLimitError as exc:
        raise ConfigError(_describe(exc, with_mark="\n" in text.strip()), file=file,
                          key=key) from None
    except (yaml.YAMLError, RecursionError):
        return text


__all__ = ["load_file", "load_text", "parse_value", "MAX_NODES", "MAX_ALIASES", "MAX_DEPTH"]
