"""The compiled DRAM scheduler: the ctypes argument lists match the C prototypes, and a checkout
without the built extension gets one clear error instead of a crash."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from accelsim.errors import SimulationError
from accelsim.hw import dram_kernel as K

C_SOURCE = Path(K.__file__).with_suffix(".c")


def _prototypes() -> dict[str, tuple[str, str]]:
    """name -> (return type, argument kinds: 'p' pointer, 'i' integer) of every EXPORT."""
    out = {}
    for ret, name, args in re.findall(r"EXPORT\s+(\w+)\s+(\w+)\(([^)]*)\)", C_SOURCE.read_text()):
        kinds = "" if args.strip() == "void" else "".join("p" if "*" in a else "i"
                                                          for a in args.split(","))
        out[name] = (ret, kinds)
    return out


def test_ctypes_signatures_match_the_c_prototypes():
    protos = _prototypes()
    assert set(protos) == set(K._SIGNATURES)
    for name, kinds in K._SIGNATURES.items():
        assert protos[name][1] == kinds, name
    lib = K._library()
    for name, (ret, _) in protos.items():
        assert (getattr(lib, name).restype is None) == (ret == "void"), name


def test_a_missing_extension_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(K, "_lib", None)
    monkeypatch.setattr(K, "_EXTENSION", "accelsim.hw._no_such_kernel")
    with pytest.raises(SimulationError, match="pip install -e"):
        K._library()


def test_arrays_of_the_wrong_type_are_refused():
    import numpy as np

    with pytest.raises(TypeError, match="int64"):
        K._ptr(np.zeros(4, dtype=np.float64))
    with pytest.raises(TypeError, match="contiguous"):
        K._ptr(np.zeros((4, 4), dtype=np.int64)[:, 1])


def test_the_library_was_built_from_this_source():
    assert K._library().dram_source_hash().decode() == K.source_hash(C_SOURCE.read_bytes())


def test_a_library_built_from_another_source_is_refused(monkeypatch):
    """A checkout edited or pulled without rebuilding: its arrays may not match the library's."""
    monkeypatch.setattr(K, "_lib", None)
    monkeypatch.setattr(K, "source_hash", lambda source: "0" * 16)
    with pytest.raises(SimulationError, match="built from another version of dram_kernel.c"):
        K._library()


def test_pointers_of_writable_read_only_and_empty_arrays():
    """The fast path (buffer protocol) needs a writable, non-empty array; the others take the
    array interface: every one gives the array's own address."""
    import numpy as np

    for a in (np.arange(4, dtype=np.int64), np.zeros(0, dtype=np.int64),
              np.zeros(3, dtype=np.bool_)):
        assert K._ptr(a) == a.__array_interface__["data"][0]
    ro = np.arange(4, dtype=np.int64)
    ro.setflags(write=False)
    assert K._ptr(ro) == ro.__array_interface__["data"][0]

