"""io.py: atomic writes give files the mode a plain open() would, and leave nothing behind."""

from __future__ import annotations

import os
import stat

import pytest

from stance.io import atomic_output, write_jsonl


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_files_get_the_umask_mode(tmp_path, umask_027):
    assert mode(write_jsonl(tmp_path / "a.jsonl", [{"x": 1}])) == 0o640
    with atomic_output(tmp_path / "b.jsonl") as fh:
        fh.write("{}\n")
    assert mode(tmp_path / "b.jsonl") == 0o640


def test_a_replaced_file_keeps_its_mode(tmp_path, umask_027):
    target = tmp_path / "out.jsonl"
    target.write_text("old\n")
    target.chmod(0o604)
    write_jsonl(target, [{"x": 2}])
    assert mode(target) == 0o604 and target.read_text() == '{"x": 2}\n'


def test_an_interrupted_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.jsonl"
    with pytest.raises(KeyboardInterrupt), atomic_output(target) as fh:
        fh.write("half")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
