"""What a push or pull has to do, decided from what each side holds. Pure: no I/O here.

Three kinds of state travel, each with its own rule:
- artifacts (data versions, models, cards, reports) never change once written: a path names one
  sha256 on both sides, or the two clones made different files under one name (refused);
- logs only grow: the remote keeps a log as segments, and a side may only add what extends the
  other's bytes (a log that was archived and restarted starts a new generation);
- the registry's history only grows: one side's history must be a prefix of the other's, else the
  two diverged and the first events that differ are named.
"""
from __future__ import annotations

from typing import Any


def empty_index() -> dict:
    return {"schema_version": 1, "files": {}, "logs": {}, "registry": None}


def file_conflicts(local: dict[str, dict], remote: dict[str, dict]) -> list[str]:
    """Paths both sides hold with different content, one line each."""
    return [f"{path}: ours has sha256 {local[path]['sha256'][:12]}, the remote's {remote[path]['sha256'][:12]} "
            "(two clones wrote different files under one name)"
            for path in sorted(set(local) & set(remote)) if local[path]["sha256"] != remote[path]["sha256"]]


def log_entry(previous: dict | None, through: str, size: int, segment: dict | None, restarted: bool) -> dict:
    """The remote's record of a log after a push that added segment (or restarted the log)."""
    entry = {"bytes": 0, "sha256": None, "segments": [], "earlier": []} if previous is None else {
        **previous, "segments": list(previous["segments"]), "earlier": list(previous.get("earlier", []))}
    if restarted:
        entry["earlier"].append({"bytes": previous["bytes"], "sha256": previous["sha256"]})
        entry["segments"] = []
    if segment is not None:
        entry["segments"].append({**segment, "through": through})
    entry["bytes"], entry["sha256"] = size, through
    return entry


def pull_from(entry: dict, local_size: int, local_sha: str | None) -> int | None:
    """Index of the first segment a pull must append to a local log of local_size bytes with that
    sha256; len(segments) when there is nothing to add; None when the local log does not lead into the
    remote's (the caller then looks for why)."""
    if local_size == 0:
        return 0
    end = 0
    for number, segment in enumerate(entry["segments"]):
        end += segment["bytes"]
        if end == local_size and segment["through"] == local_sha:
            return number + 1
    return None


def registry_relation(ours: list[dict] | None, theirs: list[dict] | None) -> str:
    """'same', 'ahead' (theirs is a prefix of ours), 'behind', or 'diverged', for two histories."""
    ours, theirs = ours or [], theirs or []
    common = len(ours) if len(ours) <= len(theirs) else len(theirs)
    if ours[:common] != theirs[:common]:
        return "diverged"
    if len(ours) == len(theirs):
        return "same"
    return "ahead" if len(ours) > len(theirs) else "behind"


def describe_event(event: dict) -> str:
    """One event in words: 'promote v3 (root@box, 2026-11-25T12:00:00Z: reason)'."""
    target = event.get("to") or event.get("from") or ""
    return f"{event['action']} {target} ({event.get('actor', '?')}, {event.get('at', '?')}: {event.get('reason', '')})".strip()


def shared_events(ours: list[dict], theirs: list[dict]) -> int:
    """How many events two histories share from their start."""
    return next((i for i, (mine, other) in enumerate(zip(ours, theirs, strict=False)) if mine != other), min(len(ours), len(theirs)))


def divergence(registry_name: str, where: str, ours: list[dict], theirs: list[dict]) -> str:
    """The one-line error for two registries whose histories parted, naming both sides' first own events."""
    shared = shared_events(ours, theirs)
    mine, other = (describe_event(h[shared]) if len(h) > shared else "nothing more" for h in (ours, theirs))
    return f"{registry_name}: diverged from {where} after {shared} shared events: ours has {mine}; the remote has {other}"


def summary(counts: dict[str, Any]) -> str:
    """'3 files (1.2 MB), 2 log segments, the registry' from counts; 'nothing' when all are zero."""
    parts = []
    if counts.get("files"):
        parts.append(f"{counts['files']} file{'s' * (counts['files'] != 1)} ({counts.get('bytes', 0) / 1e6:.1f} MB)")
    if counts.get("segments"):
        parts.append(f"{counts['segments']} log segment{'s' * (counts['segments'] != 1)}")
    if counts.get("registry"):
        parts.append(f"the registry ({counts['registry']})")
    return ", ".join(parts) or "nothing"
