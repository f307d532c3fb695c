"""make push, make pull, make status's remote lines: the project's state to and from a remote.

A push uploads every object the remote lacks (each under its sha256, never half-visible), then
swaps the remote's index in one conditional write: until that write, the remote reads as before,
so a push killed anywhere leaves it whole and the next push completes it. A second push with
nothing new writes nothing. A pull checks everything it is about to do before it writes, then
writes artifacts (each checked against its sha256 and moved into place), extends the logs, and
takes the registry last, so the registry never names a model that is not on disk.
"""
from __future__ import annotations

import json
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable

from scripts.core.config import ROOT, ClockworkError, validate
from scripts.core.outputs import StatCache
from scripts.core.store import (
    CHUNK,
    actor,
    append_chunks,
    atomic_write_bytes,
    canonical_json,
    locked,
    settled_size,
    sha256_bytes,
    sha256_file,
    utc_now,
    write_json,
)
from scripts.remote import plan
from scripts.remote.location import Conflict, Remote, open_remote

SCHEMA = "remote_index"
ATTEMPTS = 8  # index swaps lost to another writer before a push gives up


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _matches(patterns: Iterable[str]) -> list[Path]:
    found = {p for pattern in patterns for p in ROOT.glob(pattern) if p.is_file()}
    return sorted(p for p in found if not p.name.startswith(".") and not p.name.endswith((".lock", ".tmp")))


def local_logs(section: dict) -> list[Path]:
    return _matches(section["logs"])


def local_files(params: dict, cache: StatCache) -> dict[str, dict]:
    """Every artifact the remote section names: relative path -> sha256 and size."""
    section, logs = params["remote"], set(local_logs(params["remote"]))
    registry = ROOT / params["paths"]["registry"]
    files = [p for p in _matches(section["artifacts"]) if p not in logs and p != registry]
    return {_relative(p): {"sha256": cache.sha256(p), "bytes": p.stat().st_size} for p in files}


def _safe(relative: str) -> Path:
    """A path the remote names, refused unless it lies inside the project."""
    path = (ROOT / relative).resolve()
    if relative.startswith("/") or ".." in Path(relative).parts or ROOT.resolve() not in path.parents:
        raise ClockworkError(f"remote index: {relative!r} is not a path inside the project; refused")
    return ROOT / relative


def _parallel(jobs: int, work: Callable, items: list) -> None:
    if items:
        with ThreadPoolExecutor(max(1, min(jobs, len(items)))) as pool:
            list(pool.map(work, items))


def _read_index(remote: Remote) -> tuple[dict, str | None]:
    index, token = remote.read_index()
    if index is not None:
        validate(index, SCHEMA, f"remote {remote.url}: index.json")
    return index or plan.empty_index(), token


def _log_hashes(path: Path, cut: int, size: int) -> tuple[str, str, bytes]:
    """sha256 of a log's first cut bytes and of its first size bytes, and the bytes between."""
    import hashlib
    digest, tail, done = hashlib.sha256(), bytearray(), 0
    at_cut = digest.hexdigest() if cut == 0 else None
    with open(path, "rb") as handle:
        while done < size:
            block = handle.read(min(CHUNK, (cut if done < cut else size) - done))
            if not block:
                raise ClockworkError(f"{_relative(path)}: shorter than {size} bytes while read")
            digest.update(block)
            done += len(block)
            if done > cut:
                tail += block
            if done == cut:
                at_cut = digest.hexdigest()
    return at_cut or "", digest.hexdigest(), bytes(tail)


def _archived_copy(relative: str, entry: dict, files: dict[str, dict]) -> str | None:
    """An artifact that starts with the remote's copy of a log (the log was archived, then restarted)."""
    name = relative.rsplit("/", 1)[-1]
    for candidate, record in sorted(files.items()):
        path = ROOT / candidate
        if candidate.endswith("/" + name) and candidate != relative and record["bytes"] >= entry["bytes"] \
                and path.exists() and _log_hashes(path, entry["bytes"], entry["bytes"])[0] == entry["sha256"]:
            return candidate
    return None


def _push_log(remote: Remote, path: Path, entry: dict | None, files: dict, present: set[str]) -> tuple[dict | None, int]:
    """The log's new remote record (None: unchanged) and how many segments were sent."""
    relative, size = _relative(path), settled_size(path)
    restarted = False
    if entry is None:
        _, through, tail = _log_hashes(path, 0, size)
    else:
        at_cut, through, tail = _log_hashes(path, entry["bytes"], size) if size >= entry["bytes"] else ("", "", b"")
        if at_cut == entry["sha256"] and size == entry["bytes"]:
            return None, 0
        if at_cut != entry["sha256"]:
            if _archived_copy(relative, entry, files) is None:
                raise ClockworkError(f"{relative}: ours does not extend the remote's first {entry['bytes']} bytes "
                                     "(rewritten or cut short here?); nothing was pushed")
            restarted = True  # the remote's copy lives on in an archived artifact: start a new generation
            _, through, tail = _log_hashes(path, 0, size)
    segment = None
    if tail:
        segment = {"sha256": sha256_bytes(tail), "bytes": len(tail)}
        if segment["sha256"] not in present:
            remote.put_bytes(tail)
    return plan.log_entry(entry, through, size, segment, restarted), int(segment is not None)


def _registry_bytes(params: dict) -> bytes | None:
    path = ROOT / params["paths"]["registry"]
    return path.read_bytes() if path.exists() else None


def _remote_registry(remote: Remote, entry: dict | None) -> dict | None:
    if entry is None:
        return None
    doc = json.loads(remote.get_bytes(entry["sha256"]))
    validate(doc, "registry", f"remote {remote.url}: the registry")
    return doc


def _push_registry(remote: Remote, params: dict, entry: dict | None, present: set[str]) -> tuple[dict | None, str]:
    """The registry's record on the remote after this push, and what happened to it in words."""
    data = _registry_bytes(params)
    if data is None or entry and entry["sha256"] == sha256_bytes(data):
        return entry, ""
    ours = json.loads(data)["history"]
    theirs = (_remote_registry(remote, entry) or {"history": []})["history"]
    relation = plan.registry_relation(ours, theirs)
    if relation == "behind":
        return entry, f"the remote's registry is {len(theirs) - len(ours)} events ahead of ours (make pull brings it)"
    if relation != "ahead":
        raise ClockworkError(plan.divergence(params["paths"]["registry"], f"remote {remote.url}", ours, theirs)
                             + "; make pull KEEP=theirs takes the remote's and sets ours aside")
    if sha256_bytes(data) not in present:
        remote.put_bytes(data)
    return {"sha256": sha256_bytes(data), "events": len(ours)}, f"{len(ours) - len(theirs)} new events"


def _push_once(remote: Remote, params: dict, files: dict[str, dict]) -> dict:
    index, token = _read_index(remote)
    conflicts = plan.file_conflicts(files, index["files"])
    if conflicts:
        raise ClockworkError(conflicts[0] + (f" (and {len(conflicts) - 1} more)" if len(conflicts) > 1 else "")
                             + "; nothing was pushed")
    present = remote.objects()
    sending = {record["sha256"]: path for path, record in files.items() if record["sha256"] not in present}
    _parallel(params["remote"]["jobs"], lambda item: remote.put(ROOT / item[1], item[0]), sorted(sending.items()))
    logs, segments = dict(index["logs"]), 0
    for path in local_logs(params["remote"]):
        entry, sent = _push_log(remote, path, index["logs"].get(_relative(path)), files, present)
        logs[_relative(path)] = entry or index["logs"][_relative(path)]
        segments += sent
    registry, note = _push_registry(remote, params, index["registry"], present)
    new = {**index, "files": {**index["files"], **files}, "logs": logs, "registry": registry}
    counts = {"files": len(sending), "bytes": sum(files[p]["bytes"] for p in sending.values()),
              "segments": segments, "registry": note if registry != index["registry"] else "", "note": note}
    if canonical_json({**new, "updated_at": None, "by": None}) != canonical_json({**index, "updated_at": None, "by": None}):
        new.update(updated_at=utc_now(), by=actor())
        validate(new, SCHEMA, "the index to push")
        remote.swap_index(json.dumps(new, indent=1, sort_keys=True).encode() + b"\n", token)
    return counts


def push(params: dict, spec: str | None, cache_path: Path) -> str:
    """Send what the remote lacks; one line saying what went where."""
    name, remote = open_remote(spec, params["remote"])
    cache = StatCache(cache_path)
    try:
        files = local_files(params, cache)
    finally:
        cache.save()
    for _ in range(ATTEMPTS):
        try:
            counts = _push_once(remote, params, files)
            break
        except Conflict:
            continue  # another writer swapped the index first: read theirs and try again
    else:
        raise ClockworkError(f"remote {remote.url}: index.json kept changing under {ATTEMPTS} attempts; push again")
    note = f"; {counts['note']}" if counts["note"] and not counts["registry"] else ""
    return f"pushed {plan.summary(counts)} to {name}{note}"


def _fetch(remote: Remote, relative: str, sha: str) -> None:
    """Download one artifact beside its place, check its sha256, then move it in."""
    target = _safe(relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        remote.get_file(sha, temp)
        actual = sha256_file(temp)
        if actual != sha:
            raise ClockworkError(f"{relative}: the remote's copy has sha256 {actual[:12]}, its index says {sha[:12]}; refused")
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def _log_plan(relative: str, entry: dict, files: dict[str, dict]) -> tuple[str, int | None]:
    """('append', first segment) / ('ahead'|'same', None) / ('replace', 0) for one remote log, or an error."""
    path = _safe(relative)
    size = settled_size(path)
    at_total, whole, _ = _log_hashes(path, min(entry["bytes"], size), size) if size else ("", "", b"")
    start = plan.pull_from(entry, size, whole)
    if start is not None:
        return ("same" if start == len(entry["segments"]) else "append"), start
    if size >= entry["bytes"] and at_total == entry["sha256"]:
        return "ahead", None
    earlier = {"bytes": size, "sha256": whole}
    if earlier in entry.get("earlier", []) or _archived_copy(relative, earlier, files):
        return "replace", 0
    raise ClockworkError(f"{relative}: ours ({size} bytes) and the remote's ({entry['bytes']} bytes) differ before "
                         "either ends; nothing was pulled")


def _apply_log(remote: Remote, relative: str, entry: dict, action: str, start: int) -> int:
    path, segments = _safe(relative), entry["segments"][start:]
    if action == "replace":
        atomic_write_bytes(path, b"".join(remote.get_bytes(s["sha256"]) for s in entry["segments"]))
        return len(entry["segments"])
    size = settled_size(path)
    append_chunks(path, (remote.get_bytes(s["sha256"]) for s in segments), at=size)
    return len(segments)


def _registry_plan(remote: Remote, params: dict, entry: dict | None, keep: str | None) -> tuple[str, dict | None]:
    """('take', the remote's registry) or ('keep', None), or the divergence refused."""
    theirs = _remote_registry(remote, entry)
    data = _registry_bytes(params)
    if theirs is None:
        return "keep", None
    if data is None:
        return "take", theirs
    ours = json.loads(data)["history"]
    relation = plan.registry_relation(ours, theirs["history"])
    if relation == "behind":
        return "take", theirs
    if relation == "diverged":
        if keep == "theirs":
            return "set-aside", theirs
        raise ClockworkError(plan.divergence(params["paths"]["registry"], f"remote {remote.url}", ours, theirs["history"])
                             + "; make pull KEEP=theirs takes the remote's and sets ours aside (nothing was pulled)")
    return "keep", None


def _take_registry(params: dict, action: str, registry: dict) -> str:
    from scripts.core import registry as R
    path = ROOT / params["paths"]["registry"]
    R.check_consistent(registry, "the remote's registry")
    with locked(path.with_name(path.name + ".lock")):
        aside = ""
        if action == "set-aside":
            copy = path.with_name(f"{path.name}.ours-{utc_now().replace(':', '')}-{len(registry['history'])}.json")
            atomic_write_bytes(copy, path.read_bytes())
            aside = f"; ours is kept as {_relative(copy)}"
        write_json(path, registry, "registry")
    return f"{len(registry['history'])} events{aside}"


def pull(params: dict, spec: str | None, cache_path: Path, keep: str | None = None) -> str:
    """Bring what the remote holds and we lack; refuse before writing anything if the two disagree."""
    name, remote = open_remote(spec, params["remote"])
    index, _ = _read_index(remote)
    if not index["files"] and not index["logs"] and index["registry"] is None:
        raise ClockworkError(f"remote {name} ({remote.url}) holds nothing yet (make push sends this project's state)")
    cache = StatCache(cache_path)
    try:
        ours = {rel: {"sha256": cache.sha256(_safe(rel)), "bytes": 0} for rel in index["files"] if _safe(rel).exists()}
    finally:
        cache.save()
    conflicts = plan.file_conflicts(ours, index["files"])
    if conflicts:
        raise ClockworkError(conflicts[0] + "; nothing was pulled")
    logs = {rel: _log_plan(rel, entry, index["files"]) for rel, entry in sorted(index["logs"].items())}
    registry_action, registry = _registry_plan(remote, params, index["registry"], keep)
    wanted = sorted((rel, record["sha256"]) for rel, record in index["files"].items() if rel not in ours)
    _parallel(params["remote"]["jobs"], lambda item: _fetch(remote, *item), wanted)
    segments = sum(_apply_log(remote, rel, index["logs"][rel], action, start)
                   for rel, (action, start) in logs.items() if action in ("append", "replace"))
    counts = {"files": len(wanted), "bytes": sum(index["files"][rel]["bytes"] for rel, _ in wanted), "segments": segments}
    if registry_action != "keep":
        counts["registry"] = _take_registry(params, registry_action, registry)
    return f"pulled {plan.summary(counts)} from {name}"


def status(params: dict, spec: str | None, cache_path: Path) -> list[str]:
    """Lines saying what a push would send and what a pull would bring."""
    name, remote = open_remote(spec, params["remote"])
    index, _ = _read_index(remote)
    cache = StatCache(cache_path)
    try:
        files = local_files(params, cache)
    finally:
        cache.save()
    ahead = [p for p, record in files.items() if index["files"].get(p, {}).get("sha256") != record["sha256"]]
    behind = [p for p in index["files"] if p not in files and not _safe(p).exists()]
    grown = [_relative(p) for p in local_logs(params["remote"])
             if settled_size(p) != index["logs"].get(_relative(p), {}).get("bytes")]
    missing_logs = [rel for rel, e in index["logs"].items() if settled_size(_safe(rel)) < e["bytes"]]
    ours = json.loads(_registry_bytes(params) or b'{"history": []}')["history"]
    theirs = (_remote_registry(remote, index["registry"]) or {"history": []})["history"]
    relation = plan.registry_relation(ours, theirs)
    lines = [f"remote {name} ({remote.url}):"]
    if ahead or grown or relation == "ahead":
        lines.append(f"  ahead: {len(ahead)} files, {len(grown)} logs differ in length"
                     + (f", {len(ours) - len(theirs)} registry events" if relation == "ahead" else "") + " (make push)")
    if behind or missing_logs or relation == "behind":
        lines.append(f"  behind: {len(behind)} files, {len(missing_logs)} logs shorter here"
                     + (f", {len(theirs) - len(ours)} registry events" if relation == "behind" else "") + " (make pull)")
    if relation == "diverged":
        lines.append("  " + plan.divergence(params["paths"]["registry"], "it", ours, theirs))
    if len(lines) == 1:
        lines.append("  in step: nothing to push or pull")
    return lines
