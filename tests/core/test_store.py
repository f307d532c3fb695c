"""Atomic writes, the filechk idiom, canonical hashes, O_APPEND logs and locks."""
from __future__ import annotations

import multiprocessing
import os
import re
import time

import pytest

from scripts.core import store
from scripts.core.config import ClockworkError


def test_atomic_write_failure_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "a.json"
    store.atomic_write_text(target, "old")
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("disk gone")))
    with pytest.raises(ClockworkError, match=r"a\.json: cannot write: disk gone"):  # one line naming the file
        store.atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_write_if_changed_leaves_mtime_alone_when_equal(tmp_path):
    target = tmp_path / "stamp"
    assert store.write_if_changed(target, "abc\n")
    before = target.stat().st_mtime_ns
    time.sleep(0.01)
    assert not store.write_if_changed(target, "abc\n")
    assert target.stat().st_mtime_ns == before
    assert store.write_if_changed(target, "abd\n")


def test_canonical_hash_ignores_key_order():
    assert store.sha256_obj({"a": 1, "b": [1, 2]}) == store.sha256_obj({"b": [1, 2], "a": 1})
    assert store.sha256_obj({"a": 1}) != store.sha256_obj({"a": 2})


def test_write_json_refuses_a_document_that_breaks_its_schema(tmp_path):
    with pytest.raises(ClockworkError, match="missing required key"):
        store.write_json(tmp_path / "r.json", {"schema_version": 1}, "registry")
    assert not (tmp_path / "r.json").exists()


def test_read_json_names_a_corrupt_file(tmp_path):
    path = tmp_path / "registry.json"
    path.write_text("{not json")
    with pytest.raises(ClockworkError, match="corrupt JSON"):
        store.read_json(path, "registry")


def _append_many(path, worker):
    for i in range(300):
        store.append_line(path, f"{worker}:{i}:" + "x" * 500)


def test_concurrent_appends_never_tear_or_lose_lines(tmp_path):
    path = tmp_path / "log.jsonl"
    procs = [multiprocessing.Process(target=_append_many, args=(path, w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    lines = path.read_text().splitlines()
    assert len(lines) == 1200
    assert all(line.count(":") == 2 and line.endswith("x" * 500) for line in lines)


def _hold_lock(path, marker):
    with store.locked(path):
        marker.write_text(f"{time.time()}")
        time.sleep(0.5)


def test_lock_serialises_holders(tmp_path):
    lock, marker = tmp_path / ".lock", tmp_path / "m"
    holder = multiprocessing.Process(target=_hold_lock, args=(lock, marker))
    holder.start()
    while not marker.exists():
        time.sleep(0.01)
    started = time.time()
    with store.locked(lock):
        waited = time.time() - started
    holder.join()
    assert waited > 0.3


def test_versions(tmp_path):
    for name in ["v1.json", "v10.json", "v2.json", "vx.json", "notes.json"]:
        (tmp_path / name).write_text("{}")
    assert store.existing_versions(tmp_path, "{v}.json") == ["v1", "v2", "v10"]
    assert store.next_version(["v1", "v2", "v10"]) == "v11"
    assert store.next_version([]) == "v1"
    with pytest.raises(ClockworkError):
        store.version_number("latest")


def test_a_torn_last_line_is_not_a_record_and_is_set_aside_whole(tmp_path):
    log = tmp_path / "predictions.jsonl"
    log.write_text('{"a": 1}\n{"a": 2}\n{"a": 3, "cut')
    assert [line for _, line in store.iter_lines(log)] == ['{"a": 1}\n', '{"a": 2}\n']
    aside = store.set_aside_torn_tail(log)
    assert aside is not None and aside.read_text() == '{"a": 3, "cut' and log.read_text() == '{"a": 1}\n{"a": 2}\n'
    assert store.set_aside_torn_tail(log) is None, "a clean log is left alone"
    store.append_lines(log, ['{"a": 4}'])
    assert [line for _, line in store.iter_lines(log)][-1] == '{"a": 4}\n'


def test_derived_record_lines_are_written_once(tmp_path):
    log = tmp_path / "manifest.txt"
    assert store.ensure_line(log, "v1", "v1 first") is True
    assert store.ensure_line(log, "v1", "v1 again") is False
    assert store.ensure_line(log, "v10", "v10 other") is True
    assert log.read_text() == "v1 first\nv10 other\n"


def test_a_torn_csv_row_is_not_a_row(tmp_path):
    log = tmp_path / "deployment_log.csv"
    log.write_text("time,event\n2026-01-01T00:00:00Z,start\n2026-01-01T00:00:01Z,sw")
    assert store.read_csv_rows(log) == [{"time": "2026-01-01T00:00:00Z", "event": "start"}]
    assert store.read_csv_rows(tmp_path / "missing.csv") == []


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 16])
def test_the_last_csv_rows_are_read_from_the_end_and_agree_with_reading_all(tmp_path, block):
    log = tmp_path / "monitor_log.csv"
    assert store.last_csv_rows(log, 1, block) == [], "no log"
    header = ["time", "report_id", "drifted_features"]
    texts = ["", "time,report_id,drifted_features\n", "time,report_id,drifted_features\n2026,r-0,a b",
             "time,report_id,drifted_features\n2026,r-0,\"a, b\"\n2026,r-1,c",  # the last torn: the one before
             "time,report_id,drifted_features\r\n2026,r-0,\r\n"]
    for text in texts:
        log.write_bytes(text.encode())
        rows = store.read_csv_rows(log)
        for count in (1, 2, 5):
            assert store.last_csv_rows(log, count, block) == rows[-count:], (text, count)
    for n in (1, 2, 50):
        log.unlink()
        for i in range(n):
            store.append_csv_row(log, header, {"time": f"2026-12-04T{i:06d}Z", "report_id": f"r-{i}", "drifted_features": "x y"})
        rows = store.read_csv_rows(log)
        assert rows[-1] == {"time": f"2026-12-04T{n - 1:06d}Z", "report_id": f"r-{n - 1}", "drifted_features": "x y"}
        for count in (1, 3, 50, 60):
            assert store.last_csv_rows(log, count, block) == rows[-count:], (n, count)


def test_an_append_whose_writer_was_killed_part_way_is_rolled_back_by_the_next(tmp_path):
    log = tmp_path / "predictions.jsonl"
    store.append_chunks(log, [b'{"a":1}\n'])
    assert not (tmp_path / ".predictions.jsonl.pending").exists(), "a finished append leaves no marker"
    # what a SIGKILLed writer leaves: its start offset, then a cut write
    (tmp_path / ".predictions.jsonl.pending").write_text(f"{log.stat().st_size} 4242\n")
    with open(log, "ab") as handle:
        handle.write(b'{"b":2}\n{"c":')
    store.append_chunks(log, [b'{"d":4}\n'])
    assert log.read_bytes() == b'{"a":1}\n{"d":4}\n', "the killed append left nothing, the next one landed whole"
    (tmp_path / ".predictions.jsonl.pending").write_text("1")  # killed while writing its marker: no log bytes yet
    assert store.settled_size(log) == log.stat().st_size, "a marker cut short guards nothing"
    store.append_chunks(log, [b'{"e":5}\n'])
    assert log.read_bytes() == b'{"a":1}\n{"d":4}\n{"e":5}\n'


def test_settled_size_stops_where_a_killed_append_began(tmp_path):
    log = tmp_path / "predictions.jsonl"
    assert store.settled_size(log) == 0
    store.append_chunks(log, [b'{"a":1}\n'])
    (tmp_path / ".predictions.jsonl.pending").write_text(f"{log.stat().st_size} 4242\n")
    with open(log, "ab") as handle:
        handle.write(b'{"b":')
    assert store.settled_size(log) == len(b'{"a":1}\n')


def test_a_chunked_append_that_fails_part_way_leaves_the_log_as_it_was(tmp_path):
    log = tmp_path / "log.jsonl"
    store.append_lines(log, ['{"a": 1}'])

    def chunks():
        yield b'{"a": 2}\n'
        raise RuntimeError("the producer failed")

    with pytest.raises(RuntimeError):
        store.append_chunks(log, chunks())
    with pytest.raises(ValueError):
        store.append_chunks(log, [b'{"a": 3}\n', b'{"a": 4'])
    assert log.read_bytes() == b'{"a": 1}\n'
    store.append_chunks(log, [b'{"a": 2}\n', b'{"a": 3}\n{"a": 4}\n'])
    assert log.read_bytes() == b"".join(b"{\"a\": %d}\n" % i for i in range(1, 5))


def test_a_compact_time_is_utc_now_without_dashes_and_colons():
    assert store.compact_time("2026-12-04T06:44:06Z") == "20261204T064406Z"
    assert re.fullmatch(r"\d{8}T\d{6}Z", store.compact_time())
