"""Output files are written atomically: an interrupted write leaves the old file intact and no
temporary file behind."""

import os

import pytest

from accelsim.io import atomic_write_text


def test_interrupted_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "report.json"
    target.write_text("old contents")

    def crash(src, dst):
        raise KeyboardInterrupt              # e.g. Ctrl-C between write and rename

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(target, "new contents")
    assert target.read_text() == "old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_write_creates_parents_and_respects_umask(tmp_path):
    path = atomic_write_text(tmp_path / "a" / "b.txt", "x")
    assert path.read_text() == "x"
    mask = os.umask(0)
    os.umask(mask)
    assert (path.stat().st_mode & 0o777) == (0o666 & ~mask)
