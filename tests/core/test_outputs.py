"""The stat cache: a file is hashed again only when its size, mtime or inode changed."""
from __future__ import annotations

import hashlib
import json
import os

from scripts.core.outputs import StatCache


def test_an_unchanged_file_is_not_read_again_and_a_changed_one_is(tmp_path, monkeypatch):
    data, cache_path = tmp_path / "train.csv", tmp_path / "statcache.json"
    data.write_text("a,b\n1,2\n")
    cache = StatCache(cache_path)
    assert cache.sha256(data) == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    cache.save()
    reads = []
    monkeypatch.setattr("scripts.core.outputs.sha256_file", lambda path: reads.append(path) or "0" * 64)
    warm = StatCache(cache_path)
    assert warm.sha256(data) == hashlib.sha256(b"a,b\n1,2\n").hexdigest() and reads == []
    with open(data, "a") as handle:
        handle.write("3,4\n")
    assert warm.sha256(data) == "0" * 64 and reads == [data], "a changed size means a new hash"
    os.utime(data, ns=(1, 1))
    assert warm.sha256(data) == "0" * 64 and len(reads) == 2, "a changed mtime too"


def test_a_missing_file_and_a_damaged_cache(tmp_path):
    cache_path = tmp_path / "statcache.json"
    cache_path.write_text("{ not json")
    cache = StatCache(cache_path)
    assert cache.sha256(tmp_path / "gone.csv") is None
    (tmp_path / "x").write_text("x")
    cache.sha256(tmp_path / "x")
    cache.save()
    assert list(json.loads(cache_path.read_text())) == [str(tmp_path / "x")]
