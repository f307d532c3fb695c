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


def test_a_log_entry_grows_by_segments_and_its_chain_names_the_sequence():
    one, two = ({"sha256": sha256_bytes(d), "bytes": len(d)} for d in (b"a\n", b"bb\n"))
    entry = plan.extend_log(plan.extend_log(None, one, "a"), two, None)
    assert entry["bytes"] == 5 and entry["first_line"] == "a" and entry["segments"] == [one, two]
    other = plan.extend_log(plan.extend_log(None, two, "bb"), one, None)
    assert other["chain"] != entry["chain"], "the same segments in another order are another stream"
    first = plan.extend_log(None, one, "a")
    plan.extend_log(first, two, None)
    assert first["segments"] == [one], "the previous entry is not changed in place"


def test_a_repeated_header_is_dropped_and_nothing_else():
    assert plan.first_line(b"time,event\n1,2\n") == "time,event" and plan.first_line(b"no newline") is None
    assert plan.without_header(b"time,event\n1,2\n", "time,event") == b"1,2\n"
    assert plan.without_header(b'{"a": 1}\n', "time,event") == b'{"a": 1}\n'
    assert plan.without_header(b"time,event\n", None) == b"time,event\n"


def test_summary_counts_in_words():
    assert plan.summary({}) == "nothing"
    assert plan.summary({"files": 1, "bytes": 2_500_000, "segments": 2, "registry": "3 new events"}) == \
        "1 file (2.5 MB), 2 log segments, the registry (3 new events)"
