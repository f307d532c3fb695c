"""Stamps rewrite only on a content change (the filechk idiom), so make sees no change otherwise."""
from __future__ import annotations

import os

import pytest
import yaml

from scripts.core.config import ROOT, ClockworkError
from scripts.core.stamp import make_include, section_hashes, stamp_file, stamp_params


def frozen(path) -> int:
    os.utime(path, ns=(1, 1))
    return path.stat().st_mtime_ns


def test_a_file_stamp_changes_only_when_the_content_does(tmp_path):
    source, stamp = tmp_path / "raw.csv", tmp_path / "stamps/raw.csv.sha"
    source.write_text("a\n1\n")
    assert stamp_file(source, stamp) is False, "a new stamp is not a change"
    before = frozen(stamp)
    os.utime(source)  # a touch
    assert stamp_file(source, stamp) is False and stamp.stat().st_mtime_ns == before
    source.write_text("a\n2\n")
    assert stamp_file(source, stamp) is True and stamp.stat().st_mtime_ns != before


def test_section_hashes_ignore_comments_and_key_order():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    reordered = {section: dict(reversed(list(value.items()))) if isinstance(value, dict) else value
                 for section, value in reversed(list(params.items()))}
    assert section_hashes(params) == section_hashes(reordered)
    changed = {**params, "model": {**params["model"], "n_estimators": 7}}
    differ = {k for k, v in section_hashes(params).items() if section_hashes(changed)[k] != v}
    assert differ == {"model"} | {f"exp-{name}" for name, grid in params["experiments"]["grid"].items() if "n_estimators" not in grid}


def test_each_experiment_has_its_own_stamp():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    grid = dict(params["experiments"]["grid"])
    first = next(iter(grid))
    changed = {**params, "experiments": {**params["experiments"], "grid": {**grid, first: {"n_estimators": 3}}}}
    differ = {k for k, v in section_hashes(params).items() if section_hashes(changed)[k] != v}
    assert differ == {"experiments", f"exp-{first}"}


def test_stamp_params_reports_what_changed_and_writes_the_make_include(tmp_path):
    source = tmp_path / "params.yaml"
    text = (ROOT / "params.yaml").read_text()
    source.write_text(text)
    assert stamp_params(source, tmp_path / "stamps", tmp_path / "params.mk") == []
    include = (tmp_path / "params.mk").read_text()
    assert include == make_include(yaml.safe_load(text), tmp_path / "params.yaml") and "RAW_FILE := data/raw/ai4i2020.csv" in include
    source.write_text("# a comment\n" + text.replace("seed: 42", "seed: 42   # same value"))
    assert stamp_params(source, tmp_path / "stamps", tmp_path / "params.mk") == []
    source.write_text(text.replace("  port: 8000", "  port: 8001"))
    assert stamp_params(source, tmp_path / "stamps", tmp_path / "params.mk") == ["deployment"]


def test_an_invalid_params_file_stamps_nothing(tmp_path):
    source = tmp_path / "params.yaml"
    source.write_text((ROOT / "params.yaml").read_text().replace("  port: 8000", "  port: eight"))
    with pytest.raises(ClockworkError, match="deployment.port"):
        stamp_params(source, tmp_path / "stamps", tmp_path / "params.mk")
    assert not (tmp_path / "stamps").exists() and not (tmp_path / "params.mk").exists()
