"""Generated files against their records, cheaply: a stat cache decides when a file is hashed again.

Like DVC's and git's, the cache keeps each file's size, mtime and inode beside its sha256; a file
whose stat is unchanged is not read. So checking every data version and model on every
`make status` costs a stat per file once the cache is warm, and a damaged file is still named.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Iterator

from scripts.core import registry as R
from scripts.core.artifacts import (
    MODEL_CARD,
    data_meta_path,
    data_versions,
    model_path,
    model_versions,
    read_card,
    read_data_meta,
    read_train_record,
)
from scripts.core.config import ROOT, ClockworkError
from scripts.core.store import atomic_write_text, sha256_file


class StatCache:
    """sha256 of files, re-read only when (size, mtime, inode) changed since the last look."""

    def __init__(self, path: Path):
        self.path, self.changed = path, False
        try:
            self.entries = json.loads(path.read_text())
        except (OSError, ValueError):
            self.entries = {}  # a missing or damaged cache only costs a re-hash
        if not isinstance(self.entries, dict):
            self.entries = {}

    def sha256(self, path: Path) -> str | None:
        """The file's sha256, or None if it is missing."""
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        key, cached = [st.st_size, st.st_mtime_ns, st.st_ino], self.entries.get(str(path))
        if isinstance(cached, list) and cached[:3] == key:
            return cached[3]
        digest = sha256_file(path)
        self.entries[str(path)] = key + [digest]
        self.changed = True
        return digest

    def save(self) -> None:
        if self.changed:
            atomic_write_text(self.path, json.dumps(self.entries, sort_keys=True))


def _readable(versions: list[str], read: Callable[[str], dict], problems: list[str]) -> Iterator[tuple[str, dict]]:
    """(version, record) for each version whose record reads; the others' reasons go to problems."""
    for version in versions:
        try:
            yield version, read(version)
        except ClockworkError as exc:
            problems.append(str(exc))


def recorded_files(paths: dict) -> tuple[list[tuple[Path, str, str]], list[str]]:
    """(file, recorded sha256, the record that holds it) for every data version and model artifact,
    and the records that could not be read."""
    files, problems = [], []
    for version, meta in _readable(data_versions(paths), lambda v: read_data_meta(paths, v), problems):
        owner = os.path.relpath(data_meta_path(paths, version), ROOT)
        files += [(ROOT / out["path"], out["sha256"], owner) for out in meta["outputs"].values()]
    for version, record in _readable(model_versions(paths), lambda v: read_train_record(paths, v), problems):
        files.append((ROOT / record["artifact"]["path"], record["artifact"]["sha256"], f"model {version}'s training record"))
    return files, problems


def card_problems(paths: dict, registry: dict | None) -> list[str]:
    """Cards that cannot be read or disagree with their training record, and registry entries that
    disagree with their card."""
    problems = []
    for version in model_versions(paths):
        if not model_path(paths, version, MODEL_CARD).exists():
            continue
        try:
            card, record = read_card(paths, version), read_train_record(paths, version)
        except ClockworkError as exc:
            problems.append(str(exc))
            continue
        if card["artifact"]["sha256"] != record["artifact"]["sha256"]:
            problems.append(f"{os.path.relpath(model_path(paths, version, MODEL_CARD), ROOT)}: names another artifact sha256 "
                            "than its training record")
        entry = (registry or {"versions": {}})["versions"].get(version)
        if entry and entry["sha256"] != card["artifact"]["sha256"]:
            problems.append(f"{paths['registry']}: {version}'s sha256 differs from its card")
    return problems


def damaged(paths: dict, cache: StatCache, collected: dict[str, str] | None = None) -> list[str]:
    """One line per generated file whose content no longer matches its record (a file make gc
    collected, named with its sha256 in collected, is not one)."""
    files, problems = recorded_files(paths)
    for path, expected, owner in files:
        actual = cache.sha256(path)
        shown = os.path.relpath(path, ROOT)
        if actual is None and (collected or {}).get(shown) == expected:
            continue
        if actual is None:
            problems.append(f"{shown}: missing (recorded in {owner})")
        elif actual != expected:
            problems.append(f"{shown}: sha256 {actual[:12]} differs from {expected[:12]} recorded in {owner}")
    registry = None
    try:
        registry = R.load(paths)
    except ClockworkError as exc:
        problems.append(str(exc))
    return problems + card_problems(paths, registry)


def check(paths: dict, cache_path: Path, collected: dict[str, str] | None = None) -> list[str]:
    """damaged() with the stat cache loaded and saved."""
    cache = StatCache(cache_path)
    try:
        return damaged(paths, cache, collected)
    finally:
        cache.save()
