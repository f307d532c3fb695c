"""scripts/dev/loop.py: the demo's and the scenarios' shared steps."""
from __future__ import annotations

from scripts.dev.loop import _new_dir


def test_two_archives_within_one_second_get_a_directory_each(tmp_path):
    first = _new_dir(tmp_path / "archive", "20261204T171731Z")
    (first / "monitor").mkdir()
    second = _new_dir(tmp_path / "archive", "20261204T171731Z")
    assert second.name == "20261204T171731Z-2" and second.is_dir() and (first / "monitor").is_dir()
    assert _new_dir(tmp_path / "archive", "20261204T171731Z").name == "20261204T171731Z-3"
