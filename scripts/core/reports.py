"""Monitor reports: the monitor log's rows and the report files they name, and a suspect sensor of a
report's diagnosis as a sentence. The one reader that the dashboard, the site's API, /metrics, `make
live`, the demos and `make retrain` share. Each reads only the params' `monitor` section."""
from __future__ import annotations

import os
from pathlib import Path

from scripts.core.config import repo_path
from scripts.core.store import last_csv_rows, read_csv_rows, read_json


def monitor_runs(monitor: dict, last: int | None = None) -> list[dict]:
    """Every row of the monitor log, or its `last` rows (read from its end), oldest first ([] before the first run)."""
    log = repo_path(monitor["monitor_log"])
    return read_csv_rows(log) if last is None else last_csv_rows(log, last)


def report_path(monitor: dict, report_id: str) -> Path:
    return repo_path(monitor["reports_dir"]) / f"{report_id}.json"


def read_report(monitor: dict, report_id: str) -> dict:
    """One report, schema-checked."""
    return read_json(report_path(monitor, report_id), "monitor_report")


def latest_report(monitor: dict) -> dict | None:
    """The newest report (the monitor log's last row names it, read from the log's end), or None before
    the first run."""
    last = monitor_runs(monitor, 1)
    return read_report(monitor, last[0]["report_id"]) if last else None


class LatestReport:
    """latest_report, read again only when the monitor log has changed (a report file is never
    rewritten: each run writes a new one and appends its row), so a frequent reader such as a
    Prometheus scrape costs one stat while nothing new has been judged."""

    def __init__(self, monitor: dict):
        self.monitor = monitor
        self._key: tuple | None = None
        self._report: dict | None = None

    def get(self) -> dict | None:
        try:
            stat = os.stat(repo_path(self.monitor["monitor_log"]))
        except FileNotFoundError:
            self._key, self._report = None, None
            return None
        key = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if key != self._key:
            self._report = latest_report(self.monitor)  # raises before the key is kept: a bad read is retried
            self._key = key
        return self._report


def suspect_text(suspect: dict) -> str:
    """'<sensor> reads 1.128x [1.115, 1.142] since prediction P (time)' and the like."""
    low, high = suspect["interval"]
    size = {"gain": f"reads {suspect['estimate']}x [{low}, {high}]",
            "bias": f"reads {suspect['estimate']:+} {suspect.get('unit', '')} [{low:+}, {high:+}] off",
            "noise": f"jitters {suspect['estimate']}x [{low}, {high}] as much as in training",
            "stuck": f"is stuck at {suspect['estimate']:g}"}[suspect["fault"]]
    start = suspect.get("starts_at") or {}
    return f"{suspect['sensor']} {size} since prediction {start.get('prediction_id')} ({start.get('time')})"
