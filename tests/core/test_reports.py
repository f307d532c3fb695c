"""The monitor-report reader: the latest report is read again only when the monitor log changed."""
from __future__ import annotations

import pytest

from scripts.core import reports
from scripts.core.config import ClockworkError


def test_the_latest_report_is_reread_only_when_the_log_changes(tmp_path, monkeypatch):
    log = tmp_path / "monitor_log.csv"
    reads: list[str] = []

    def fake_latest(monitor: dict) -> dict:
        reads.append(log.read_text())
        if "bad" in reads[-1]:
            raise ClockworkError("report: not valid")
        return {"rows": len(reads[-1].splitlines())}

    monkeypatch.setattr(reports, "latest_report", fake_latest)
    cache = reports.LatestReport({"monitor_log": str(log), "reports_dir": str(tmp_path)})
    assert cache.get() is None and reads == [], "no log: no report, nothing read"
    log.write_text("report_id\nr1\n")
    assert cache.get() == {"rows": 2} and cache.get() == {"rows": 2} and len(reads) == 1
    with open(log, "a") as handle:
        handle.write("bad\n")
    with pytest.raises(ClockworkError):
        cache.get()
    with pytest.raises(ClockworkError):
        cache.get()  # a failed read is not remembered: the next one tries again
    assert len(reads) == 3
    log.write_text("report_id\nr1\nr2\nr3\n")
    assert cache.get() == {"rows": 4}
    log.unlink()
    assert cache.get() is None


def test_no_monitor_log_means_no_runs_and_no_report(tmp_path):
    monitor = {"monitor_log": str(tmp_path / "absent.csv"), "reports_dir": str(tmp_path)}
    assert reports.monitor_runs(monitor) == [] and reports.latest_report(monitor) is None


def test_the_suspect_reads_as_a_sentence():
    suspect = {"sensor": "torque_nm", "fault": "gain", "estimate": 1.128, "interval": [1.115, 1.142],
               "starts_at": {"prediction_id": "p-1", "time": "2026-01-01T00:00:00Z"}}
    assert reports.suspect_text(suspect) == "torque_nm reads 1.128x [1.115, 1.142] since prediction p-1 (2026-01-01T00:00:00Z)"
