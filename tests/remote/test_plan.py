"""The pure rules of push and pull: artifacts never change, logs only grow, histories only extend."""
from __future__ import annotations

from scripts.core.store import sha256_bytes
from scripts.remote import plan

A, B = {"at": "t1", "action": "promote", "to": "v2", "actor": "a@x", "reason": "one"}, \
    {"at": "t1", "action": "promote", "to": "v2", "actor": "b@y", "reason": "two"}
BASE = [{"at": "t0", "action": "register", "to": "v1", "actor": "a@x", "reason": "passed all gates"}]


def test_file_conflicts_name_paths_holding_different_content():
    ours = {"m/a": {"sha256": "1" * 64, "bytes": 1}, "m/b": {"sha256": "2" * 64, "bytes": 1}}
    theirs = {"m/a": {"sha256": "1" * 64, "bytes": 1}, "m/b": {"sha256": "3" * 64, "bytes": 1}, "m/c": {"sha256": "4" * 64, "bytes": 1}}
    [line] = plan.file_conflicts(ours, theirs)
    assert line.startswith("m/b: ours has sha256 222222222222, the remote's 333333333333")


def test_registry_relation_is_prefix_order():
    assert plan.registry_relation(BASE, BASE) == "same"
    assert plan.registry_relation(BASE + [A], BASE) == "ahead"
    assert plan.registry_relation(BASE, BASE + [A]) == "behind"
    assert plan.registry_relation(BASE + [A], BASE + [B]) == "diverged"
    assert plan.registry_relation(None, BASE) == "behind"


def test_divergence_names_both_events():
    line = plan.divergence("models/registry.json", "remote s3://b/p", BASE + [A], BASE + [B])
    assert "after 1 shared events" in line
    assert "ours has promote v2 (a@x, t1: one)" in line and "the remote has promote v2 (b@y, t1: two)" in line


def _segments(*chunks: bytes) -> dict:
    entry, whole = None, b""
    for chunk in chunks:
        whole += chunk
        entry = plan.log_entry(entry, sha256_bytes(whole), len(whole), {"sha256": sha256_bytes(chunk), "bytes": len(chunk)}, False)
    return entry


def test_a_pull_appends_from_the_segment_where_the_local_log_ends():
    entry = _segments(b"a\n", b"bb\n", b"ccc\n")
    assert entry["bytes"] == 9 and entry["sha256"] == sha256_bytes(b"a\nbb\nccc\n")
    assert plan.pull_from(entry, 0, None) == 0
    assert plan.pull_from(entry, 2, sha256_bytes(b"a\n")) == 1
    assert plan.pull_from(entry, 5, sha256_bytes(b"a\nbb\n")) == 2
    assert plan.pull_from(entry, 9, sha256_bytes(b"a\nbb\nccc\n")) == 3  # nothing to add
    assert plan.pull_from(entry, 5, sha256_bytes(b"a\nxx\n")) is None  # same length, other bytes
    assert plan.pull_from(entry, 4, sha256_bytes(b"a\nb\n")) is None  # not at a segment's end


def test_a_restarted_log_keeps_its_earlier_generation():
    entry = _segments(b"a\n", b"bb\n")
    restarted = plan.log_entry(entry, sha256_bytes(b"z\n"), 2, {"sha256": sha256_bytes(b"z\n"), "bytes": 2}, True)
    assert restarted["earlier"] == [{"bytes": 5, "sha256": sha256_bytes(b"a\nbb\n")}]
    assert [s["bytes"] for s in restarted["segments"]] == [2]
    assert entry["earlier"] == []  # the previous record is not changed in place


def test_summary_counts_in_words():
    assert plan.summary({}) == "nothing"
    assert plan.summary({"files": 1, "bytes": 2_500_000, "segments": 2, "registry": "3 new events"}) == \
        "1 file (2.5 MB), 2 log segments, the registry (3 new events)"
