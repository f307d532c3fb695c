"""make push, make pull, make status's remote lines: the project's state to and from a remote.

A push uploads every object the remote lacks (each under its sha256, never half-visible), then
swaps the remote's index in one conditional write: until that write, the remote reads as before,
so a push killed anywhere leaves it whole and the next push completes it. A second push with
nothing new writes nothing. A push that relied on an object being there checks, after its swap,
that every object it named still is, and sends again any a concurrent make gc set aside. A pull
checks everything it is about to do before it writes, then writes artifacts (each checked
against its sha256 and moved into place), extends the logs, and takes the registry last, so the
registry never names a model that is not on disk.
"""
from __future__ import annotations

import json
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable

from scripts.core import registry as R
from scripts.core.config import ROOT, ClockworkError, validate
from scripts.core.outputs import StatCache
from scripts.core.store import (
    actor,
    canonical_json,
    settled_size,
    sha256_bytes,
    sha256_file,
    utc_now,
)
from scripts.remote import logs, plan
from scripts.remote.location import TRASH, Conflict, Remote, open_remote

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


def _archived(files: dict[str, dict], relative: str) -> Callable[[dict], bool]:
    """Whether an archived artifact (logs/archive/<time>/<same name>) holds a log's exchanged start."""
    name = relative.rsplit("/", 1)[-1]

    def check(mine: dict) -> bool:
        for candidate, record in files.items():
            if candidate.endswith("/" + name) and candidate != relative and record["bytes"] >= mine["synced"] \
                    and (ROOT / candidate).exists() and logs.head(ROOT / candidate, mine["synced"]) == mine["head"]:
                return True
        return False
    return check


def _registry_bytes(params: dict) -> bytes | None:
    path = ROOT / params["paths"]["registry"]
    return path.read_bytes() if path.exists() else None


def _our_registry(params: dict, data: bytes | None) -> dict | None:
    """This clone's registry from its bytes, its chain and aliases checked (None if there is none)."""
    if data is None:
        return None
    source = params["paths"]["registry"]
    doc = json.loads(data)
    validate(doc, "registry", source)
    return R.parse(doc, source)


def _our_history(params: dict, data: bytes | None) -> list[dict] | None:
    ours = _our_registry(params, data)
    return ours["history"] if ours else None


def _same_registry(params: dict, theirs: dict) -> bool:
    """Whether this clone's registry is, key for key, the one given."""
    ours = _our_registry(params, _registry_bytes(params))
    return ours is not None and canonical_json(ours) == canonical_json(theirs)


def remote_registry(remote: Remote, entry: dict | None) -> dict | None:
    """A remote's registry, schema-checked and its chain and aliases held, as R.parse gives it (None if it has none)."""
    if entry is None:
        return None
    doc = json.loads(remote.get_bytes(entry["sha256"]))
    source = f"remote {remote.url}: the registry"
    validate(doc, "registry", source)
    return R.parse(doc, source)


def _push_registry(remote: Remote, params: dict, entry: dict | None, present: set[str]) -> tuple[dict | None, str]:
    """The registry's record on the remote after this push, and what happened to it in words."""
    data = _registry_bytes(params)
    if data is None or entry and entry["sha256"] == sha256_bytes(data):
        return entry, ""
    ours = _our_history(params, data)
    registry_there = remote_registry(remote, entry)
    theirs = (registry_there or {"history": []})["history"]
    relation = plan.registry_relation(ours, theirs)
    if relation == "behind":
        return entry, f"the remote's registry is {len(theirs) - len(ours)} events ahead of ours (make pull brings it)"
    if relation == "same" and not _same_registry(params, registry_there):
        raise ClockworkError(f"{params['paths']['registry']}: the same history as the remote's, but other content "
                             "(edited by hand?); nothing was pushed")
    if relation not in ("ahead", "same"):  # the same: ours, chained, replaces one written before chaining
        raise ClockworkError(plan.divergence(params["paths"]["registry"], f"remote {remote.url}", ours, theirs)
                             + "; make pull KEEP=theirs takes the remote's and sets ours aside")
    if sha256_bytes(data) not in present:
        remote.put_bytes(data)
    return {"sha256": sha256_bytes(data), "events": len(ours)}, f"{len(ours) - len(theirs)} new events"


def _push_once(remote: Remote, params: dict, files: dict[str, dict], mine: dict) -> dict:
    index, token = _read_index(remote)
    conflicts = plan.file_conflicts(files, index["files"])
    if conflicts:
        raise ClockworkError(conflicts[0] + (f" (and {len(conflicts) - 1} more)" if len(conflicts) > 1 else "")
                             + "; nothing was pushed")
    present = remote.objects()
    sending = {record["sha256"]: path for path, record in files.items() if record["sha256"] not in present}
    sources: dict[str, Path | bytes] = {record["sha256"]: ROOT / path for path, record in files.items()}
    _parallel(params["remote"]["jobs"], lambda item: remote.put(ROOT / item[1], item[0]), sorted(sending.items()))
    entries, records, segments = dict(index["logs"]), {}, 0
    for path in local_logs(params["remote"]):
        relative = _relative(path)
        entry, records[relative], sent = logs.push_log(remote, path, index["logs"].get(relative), mine["logs"].get(relative),
                                                       _archived(files, relative), present, sources)
        if entry is not None:
            entries[relative] = entry
        segments += sent
    registry, note = _push_registry(remote, params, index["registry"], present)
    new = {**index, "files": {**index["files"], **files}, "logs": entries, "registry": registry}
    counts = {"files": len(sending), "bytes": sum(files[p]["bytes"] for p in sending.values()),
              "segments": segments, "registry": note if registry != index["registry"] else "", "note": note}
    if canonical_json({**new, "updated_at": None, "by": None}) != canonical_json({**index, "updated_at": None, "by": None}):
        new.update(updated_at=utc_now(), by=actor())
        validate(new, SCHEMA, "the index to push")
        remote.swap_index(json.dumps(new, indent=1, sort_keys=True).encode() + b"\n", token)
        registry_data = _registry_bytes(params)
        if registry_data is not None:
            sources[sha256_bytes(registry_data)] = registry_data
        counts["resent"] = _settle(remote, _referenced(new), sources)
    counts["records"] = records
    return counts


def _settle(remote: Remote, named: set[str], sources: dict[str, Path | bytes]) -> int:
    """After a swap: send again each object the new index names that is gone (a concurrent make gc set
    it aside after this push found it there) and that this clone holds. How many were sent."""
    missing = sorted((named & set(sources)) - remote.objects())
    for sha in missing:
        source = sources[sha]
        if isinstance(source, bytes):
            remote.put_bytes(source)
        else:
            remote.put(source, sha)
    return len(missing)


def push(params: dict, spec: str | None, cache_path: Path) -> str:
    """Send what the remote lacks; one line saying what went where."""
    name, remote = open_remote(spec, params["remote"])
    cache = StatCache(cache_path)
    try:
        files = local_files(params, cache)
    finally:
        cache.save()
    where = logs.record_path(params["paths"], remote.url)
    mine = logs.read_record(where, remote.url)
    for _ in range(ATTEMPTS):
        try:
            counts = _push_once(remote, params, files, mine)
            break
        except Conflict:
            continue  # another writer swapped the index first: read theirs and try again
    else:
        raise ClockworkError(f"remote {remote.url}: index.json kept changing under {ATTEMPTS} attempts; push again")
    logs.write_record(where, {**mine, "logs": {**mine["logs"], **counts["records"]}})
    note = f"; {counts['note']}" if counts["note"] and not counts["registry"] else ""
    if counts.get("resent"):
        note += f"; sent {counts['resent']} objects again that a concurrent make gc had set aside"
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


def _registry_plan(remote: Remote, params: dict, entry: dict | None, keep: str | None) -> tuple[str, dict | None]:
    """('take', the remote's registry) or ('keep', None), or the divergence refused."""
    theirs = remote_registry(remote, entry)
    data = _registry_bytes(params)
    if theirs is None:
        return "keep", None
    if data is None:
        return "take", theirs
    ours = _our_history(params, data)
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
    path, aside = ROOT / params["paths"]["registry"], None
    if action == "set-aside":
        aside = path.with_name(f"{path.name}.ours-{utc_now().replace(':', '')}-{len(registry['history'])}.json")
    R.replace(params["paths"], registry, "the remote's registry", aside)
    return f"{len(registry['history'])} events" + (f"; ours is kept as {_relative(aside)}" if aside else "")


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
    where = logs.record_path(params["paths"], remote.url)
    mine = logs.read_record(where, remote.url)
    plans = {rel: logs.pull_plan(_safe(rel), entry, mine["logs"].get(rel), _archived(index["files"], rel))
             for rel, entry in sorted(index["logs"].items())}
    registry_action, registry = _registry_plan(remote, params, index["registry"], keep)
    wanted = sorted((rel, record["sha256"]) for rel, record in index["files"].items() if rel not in ours)
    _parallel(params["remote"]["jobs"], lambda item: _fetch(remote, *item), wanted)
    for rel, (missing, holds, note) in plans.items():
        if not note and missing:
            mine["logs"][rel] = logs.pull_log(remote, _safe(rel), missing, holds)
    logs.write_record(where, mine)
    counts = {"files": len(wanted), "bytes": sum(index["files"][rel]["bytes"] for rel, _ in wanted),
              "segments": sum(len(missing) for missing, _, note in plans.values() if not note)}
    if registry_action != "keep":
        counts["registry"] = _take_registry(params, registry_action, registry)
    notes = [note for _, _, note in plans.values() if note]
    return "\n".join([f"pulled {plan.summary(counts)} from {name}", *notes])


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
    mine = logs.read_record(logs.record_path(params["paths"], remote.url), remote.url)["logs"]
    grown, missing_logs = [], []
    for path in local_logs(params["remote"]):
        rel = _relative(path)
        synced, _ = logs.local_state(path, index["logs"].get(rel), mine.get(rel), _archived(files, rel))
        if settled_size(path) > synced:
            grown.append(rel)
    for rel, entry in index["logs"].items():
        if logs.pull_plan(_safe(rel), entry, mine.get(rel), _archived(index["files"], rel))[0]:
            missing_logs.append(rel)
    ours = _our_history(params, _registry_bytes(params)) or []
    theirs = (remote_registry(remote, index["registry"]) or {"history": []})["history"]
    relation = plan.registry_relation(ours, theirs)
    lines = [f"remote {name} ({remote.url}):"]
    if ahead or grown or relation == "ahead":
        lines.append(f"  ahead: {len(ahead)} files, {len(grown)} logs with lines to send"
                     + (f", {len(ours) - len(theirs)} registry events" if relation == "ahead" else "") + " (make push)")
    if behind or missing_logs or relation == "behind":
        lines.append(f"  behind: {len(behind)} files, {len(missing_logs)} logs with lines to fetch"
                     + (f", {len(theirs) - len(ours)} registry events" if relation == "behind" else "") + " (make pull)")
    if relation == "diverged":
        lines.append("  " + plan.divergence(params["paths"]["registry"], "it", ours, theirs))
    if len(lines) == 1:
        lines.append("  in step: nothing to push or pull")
    return lines


def _fetch_version(remote: Remote, index: dict, paths: dict, version: str) -> None:
    """A model version's card, training record and artifact, each fetched only if missing here."""
    from scripts.core.artifacts import MODEL_CARD, MODEL_TRAIN_RECORD, model_path, relative
    records = [relative(model_path(paths, version, pattern)) for pattern in (MODEL_CARD, MODEL_TRAIN_RECORD)]
    for rel in records:
        if rel not in index["files"]:
            raise ClockworkError(f"remote {remote.url}: its registry names {version}, but it holds no {rel}")
        if not _safe(rel).exists():
            _fetch(remote, rel, index["files"][rel]["sha256"])
    artifact = json.loads(_safe(records[0]).read_text())["artifact"]
    if not _safe(artifact["path"]).exists():
        _fetch(remote, artifact["path"], artifact["sha256"])


def follow(params: dict, spec: str, seen: str | None = None) -> tuple[str, str | None]:
    """Bring this clone's registry and the models its aliases name up to the remote's (a serving
    replica following a remote): what changed ('' if nothing) and the index's token, which a later
    call passes as seen to skip an unchanged index. A replica only follows: a registry with events
    the remote lacks is refused."""
    name, remote = open_remote(spec, params["remote"])
    index, token = _read_index(remote)
    if seen is not None and token == seen:
        return "", token
    theirs = remote_registry(remote, index["registry"])
    if theirs is None:
        raise ClockworkError(f"remote {name} ({remote.url}) holds no registry yet (make push from the clone that trains)")
    if _same_registry(params, theirs):
        return "", token
    data = _registry_bytes(params)
    if plan.registry_relation(_our_history(params, data), theirs["history"]) not in ("behind", "same"):
        raise ClockworkError(f"{params['paths']['registry']}: has events the registry on {name} lacks; a serving replica "
                             "follows the remote, it does not promote (make pull KEEP=theirs, then serve)")
    for version in sorted({v for v in theirs["aliases"].values() if v}):
        _fetch_version(remote, index, params["paths"], version)
    _take_registry(params, "take", theirs)
    return f"production {theirs['aliases']['production']} from {name}", token


def _referenced(index: dict) -> set[str]:
    """Every object an index names: files, log segments, the registry."""
    shas = {record["sha256"] for record in index["files"].values()}
    shas |= {segment["sha256"] for entry in index["logs"].values() for segment in entry["segments"]}
    return shas | ({index["registry"]["sha256"]} if index["registry"] else set())


def _sweep(remote: Remote, orphans: set[str]) -> int:
    """Delete the objects no index entry names without racing a push: set them aside, read the index
    again, put back those a push named meanwhile (it found them there before), delete the rest. A push
    that swaps later finds its objects gone and sends them again (_settle). Objects a killed gc left
    set aside go the same way. How many were deleted."""
    now, _ = _read_index(remote)
    remote.set_aside(sorted(orphans - _referenced(now)))
    after, _ = _read_index(remote)
    named, aside = _referenced(after), remote.objects(TRASH)
    remote.set_aside(sorted(aside & named), back=True)
    doomed = sorted(aside - named)
    remote.delete(doomed, TRASH)
    return len(doomed)


def collect_remote(params: dict, spec: str, paths: set[str], confirm: bool) -> str:
    """make gc REMOTE=...: drop collected paths from the remote's index, then delete the objects no
    entry names (those too that a killed push left). The remote's registry must be ours."""
    name, remote = open_remote(spec, params["remote"])
    for _ in range(ATTEMPTS):
        index, token = _read_index(remote)
        # a gc killed mid-way may have set aside objects the index names, the registry too: back first
        remote.set_aside(sorted(remote.objects(TRASH) & _referenced(index)), back=True)
        theirs = remote_registry(remote, index["registry"])
        if theirs is not None and not _same_registry(params, theirs):
            raise ClockworkError(f"remote {name}: its registry is not ours; make pull (or make push) first, then gc")
        gone = sorted(p for p in paths if p in index["files"])
        new = {**index, "files": {p: r for p, r in index["files"].items() if p not in set(gone)}}
        orphans = sorted(remote.objects() - _referenced(new))
        freed = sum(index["files"][p]["bytes"] for p in gone) / 1e6
        if not confirm:
            return f"on {name}: would drop {len(gone)} files ({freed:.1f} MB) from its index and delete {len(orphans)} objects"
        try:
            if gone:
                new.update(updated_at=utc_now(), by=actor())
                remote.swap_index(json.dumps(new, indent=1, sort_keys=True).encode() + b"\n", token)
        except Conflict:
            continue
        deleted = _sweep(remote, set(orphans))
        return f"on {name}: dropped {len(gone)} files ({freed:.1f} MB) from its index, deleted {deleted} objects"
    raise ClockworkError(f"remote {remote.url}: index.json kept changing under {ATTEMPTS} attempts; gc again")
