"""What `make gc` keeps and what it may collect, and the record of what it collected.

A collected version keeps its records (the data version's vN.json, the model's training record
and card, its registry entry and history): only the bulky files go (a data version's splits, a
model's joblib). Each collected file is one line of retention.log, so `make verify-all` and
`make status` report it as collected rather than missing, and `make verify VERSION=vN` can
rebuild it from its records. The policy, pure (retained, collectable), lives apart from the I/O.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from scripts.core.config import repo_path, validate
from scripts.core.store import actor, append_line, canonical_json, iter_lines, parse_json_line, utc_now, version_number


def retained_models(registry: dict, versions: list[str], served: list[tuple[str, str]], now: datetime,
                    keep_last: int, keep_days: float) -> dict[str, str]:
    """Model versions to keep, each with why: every alias's version and the one it moved from (what
    a rollback returns to), the newest keep_last, and any the deployment log shows served in the last
    keep_days ((time, version) rows). Pure."""
    keep: dict[str, str] = {}
    for alias, version in registry["aliases"].items():
        if version:
            keep.setdefault(version, f"the {alias} alias")
            moves = [e for e in registry["history"] if e["to"] == version and e.get("from")]
            if moves:
                keep.setdefault(moves[-1]["from"], f"{alias} moved from it (a rollback returns to it)")
    for version in sorted(versions, key=version_number)[-keep_last:] if keep_last else []:
        keep.setdefault(version, f"one of the newest {keep_last}")
    since = now - timedelta(days=keep_days)
    for time, version in served:
        if version and datetime.strptime(time, "%Y-%m-%dT%H:%M:%SZ") >= since:
            keep.setdefault(version, f"served within {keep_days:g} days")
    return keep


def retained_data(model_data: dict[str, str], kept_models: dict[str, str], versions: list[str], keep_last: int,
                  judged_on: dict[str, str] | None = None) -> dict[str, str]:
    """Data versions to keep: those a kept model trained on, those whose test rows a kept model was
    judged on (a reference epoch's, which later candidates are judged on too), and the newest
    keep_last. Pure."""
    keep = {model_data[m]: f"model {m} trained on it" for m in sorted(kept_models, key=version_number) if m in model_data}
    for m in sorted(kept_models, key=version_number):
        if (judged_on or {}).get(m):
            keep.setdefault(judged_on[m], f"model {m} was judged on its test rows")
    for version in sorted(versions, key=version_number)[-keep_last:] if keep_last else []:
        keep.setdefault(version, f"one of the newest {keep_last}")
    return keep


def collected(section: dict) -> dict[str, str]:
    """path -> sha256 of every file make gc collected (and nothing has put back since, the caller checks)."""
    path = repo_path(section["log"])
    return {record["path"]: record["sha256"] for record in (parse_json_line(path, n, line) for n, line in iter_lines(path))}


def was_collected(section: dict, relative: str, sha: str, cache: dict | None = None) -> bool:
    """True if make gc collected that file with that content (the caller has seen it missing)."""
    table = cache if cache is not None else collected(section)
    return table.get(relative) == sha


def record_collected(section: dict, relative: str, sha: str, size: int, owner: str) -> None:
    """One schema-checked line per collected file, appended before the file goes."""
    line = {"at": utc_now(), "actor": actor(), "path": relative, "sha256": sha, "bytes": size, "owner": owner}
    validate(line, "collected", section["log"])
    append_line(repo_path(section["log"]), canonical_json(line))
