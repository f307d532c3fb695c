"""The registry library: every model version, its status, the production alias and its history.

models/registry.json is the one place that says which model is in production. Every
change happens under a lock, is written atomically, and appends to the history, so "what
was live when, and why" is always answerable. Gates are applied here, at registration,
because they compare a candidate with whatever is in production at that moment. The commands
are scripts/pipeline/register.py (the make stage) and scripts/pipeline/release.py (promote,
rollback, show).
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from scripts.core.artifacts import MODEL_CARD, load_model, load_split, model_versions, read_card, read_data_meta
from scripts.core.config import ClockworkError, repo_path
from scripts.core.contract import Contract
from scripts.core.gates import baseline_rule, f1_difference, judge, seen_rows, segment_recalls, udi_ranges
from scripts.core.gates import describe as describe_gates
from scripts.core.metrics import predict_failure, score
from scripts.core.store import (
    actor,
    atomic_write_bytes,
    canonical_json,
    ensure_line,
    locked,
    read_json,
    sha256_obj,
    utc_now,
    version_number,
    write_json,
)

log = logging.getLogger("clockwork.registry")
SCHEMA = "registry"


def empty_registry() -> dict:
    """A registry with no versions and nothing in production."""
    return {"schema_version": 2, "aliases": {"production": None}, "versions": {}, "history": []}


def load(paths: dict) -> dict:
    """Read the registry; a missing file is only acceptable before any model was registered."""
    path = repo_path(paths["registry"])
    if not path.exists():
        log_path = repo_path(paths["metadata_log"])
        if log_path.exists() and log_path.stat().st_size:
            raise ClockworkError(f"{path}: missing, but {paths['metadata_log']} shows versions were registered; "
                                 "restore the registry from a backup (it is the record of what was in production)")
        return empty_registry()
    return parse(read_json(path, SCHEMA), str(path))


def parse(doc: dict, source: str) -> dict:
    """A schema-checked registry document (ours, or a remote's) as one whose history holds: chained
    (one written before chaining is chained here, and on disk at its next change), and every alias,
    status and entry what the history says. Raises ClockworkError naming the first bad event."""
    registry = doc if doc["schema_version"] == 2 else chained(doc)
    check_history(registry, source)
    return registry


def production_card(paths: dict, purpose: str) -> tuple[dict, dict]:
    """The registry and the production model's card; a one-line error if nothing is in production."""
    registry = load(paths)
    version = registry["aliases"]["production"]
    if version is None:
        raise ClockworkError(f"{paths['registry']}: no production model to {purpose} (run make train)")
    return registry, read_card(paths, version)


def event_hash(event: dict) -> str:
    """What the next event's `prev` holds: the sha256 of this one's canonical JSON. Pure."""
    return sha256_obj(event)


def entry_hash(entry: dict) -> str:
    """What a register event's `entry` holds: the version's entry, less the status the history decides. Pure."""
    return sha256_obj({k: v for k, v in entry.items() if k != "status"})


def chained(doc: dict) -> dict:
    """A registry written before chaining (schema_version 1), with each event chained to the one before
    and each register event committed to its entry as it stands. Pure."""
    history, prev = [], None
    for event in doc["history"]:
        event = {**event, "prev": prev}
        if event["action"] == "register" and event["to"] in doc["versions"]:
            event["entry"] = entry_hash(doc["versions"][event["to"]])
        history.append(event)
        prev = event_hash(event)
    return {**doc, "schema_version": 2, "history": history}


def load_registered(paths: dict, version: str, registry: dict | None = None) -> tuple[Any, dict]:
    """A registered version's fitted model and card. Unpickled only when the version is in the registry
    (whose chain holds), its card names the sha256 the registry recorded at registration, and the
    file's bytes have that sha256: a file nobody registered is never loaded, whatever its card says."""
    registry = registry if registry is not None else load(paths)
    entry = registry["versions"].get(version)
    if entry is None:
        raise ClockworkError(f"model {version}: not in the registry ({paths['registry']}); only a registered version is loaded")
    card = read_card(paths, version)
    if card["artifact"]["sha256"] != entry["sha256"]:
        raise ClockworkError(f"model {version}: its card names sha256 {card['artifact']['sha256'][:16]}..., the registry "
                             f"{entry['sha256'][:16]}...; refusing to load it")
    return load_model(card), card


def check_history(registry: dict, source: str) -> None:
    """The history is one unbroken chain, every entry is what its register event recorded, and the
    aliases and statuses are the ones the history's events make; else one line naming the first bad event."""
    history, prev, registered = registry["history"], None, {}
    for number, event in enumerate(history, 1):
        if event.get("prev", "missing") != prev:
            raise ClockworkError(f"{source}: history event {number} ({_describe(event)}) does not follow event {number - 1}: "
                                 "an event was deleted, changed or moved (the chain's hashes differ); restore the registry "
                                 "from a backup or a remote (make pull)")
        if event["action"] == "register":
            if event["to"] in registered or "entry" not in event:
                raise ClockworkError(f"{source}: history event {number} ({_describe(event)}) registers {event['to']} again")
            registered[event["to"]] = (number, event["entry"])
        prev = event_hash(event)
    for version, entry in registry["versions"].items():
        if version not in registered:
            raise ClockworkError(f"{source}: versions.{version} has no register event in the history: added by hand")
        number, digest = registered[version]
        if entry_hash(entry) != digest:
            raise ClockworkError(f"{source}: versions.{version} differs from what history event {number} registered "
                                 "(its sha256, metrics or gates were edited)")
    for version, (number, _) in registered.items():
        if version not in registry["versions"]:
            raise ClockworkError(f"{source}: {version}, registered by history event {number}, is gone from versions")
    _check_aliases(registry, source)


def _check_aliases(registry: dict, source: str) -> None:
    """Each alias and status is what replaying the history makes it."""
    made = replay(registry["history"], {v: e["gates"]["passed"] for v, e in registry["versions"].items()})
    for alias, (number, derived) in made["aliases"].items():
        value = registry["aliases"].get(alias)
        if value != derived:
            where = f"history event {number} made it {derived or 'null'}" if number else "no history event sets it"
            raise ClockworkError(f"{source}: aliases.{alias} is {value or 'null'} but {where}: "
                                 "an alias moved without an event (edited by hand?)")
    for version, entry in registry["versions"].items():
        if entry["status"] != made["status"][version]:
            raise ClockworkError(f"{source}: versions.{version}.status is {entry['status']} but the history makes it "
                                 f"{made['status'][version]}")


def replay(history: list[dict], passed: dict[str, bool]) -> dict:
    """The aliases (with the number of the event that set each) and every version's status the history
    makes, given whether each version passed its gates. Pure."""
    values: dict[str, str | None] = {"production": None, "challenger": None}
    setters: dict[str, int] = {"production": 0, "challenger": 0}
    promoted: set[str] = set()
    for number, event in enumerate(history, 1):
        if event["action"] in ("promote", "rollback"):
            values["production"], setters["production"] = event["to"], number
            promoted.add(event["to"])
            if values["challenger"] == event["to"]:
                values["challenger"], setters["challenger"] = None, number
        elif event["action"] == "challenge":
            values["challenger"], setters["challenger"] = event["to"], number
    status = {v: "production" if v == values["production"] else "archived" if v in promoted
              else "candidate" if ok else "rejected" for v, ok in passed.items()}
    return {"aliases": {k: (setters[k], values[k]) for k in values}, "status": status}


def _describe(event: dict) -> str:
    return f"{event.get('action')} {event.get('to') or event.get('from') or ''} at {event.get('at')} by {event.get('actor')}"


def _lock_path(paths: dict) -> Path:
    """The lock every writer of the registry and of the metadata log holds."""
    path = repo_path(paths["registry"])
    return path.with_name(path.name + ".lock")


@contextmanager
def transaction(paths: dict) -> Iterator[dict]:
    """Load the registry under its lock, let the caller change it, then write it atomically."""
    path = repo_path(paths["registry"])
    with locked(_lock_path(paths)):
        for debris in path.parent.glob(f".{path.name}.*.tmp"):  # a writer killed mid-write; we hold the lock
            debris.unlink(missing_ok=True)
        registry = load(paths)
        before = canonical_json(registry)
        yield registry
        if canonical_json(registry) != before:
            check_history(registry, str(path))
            write_json(path, registry, SCHEMA)


def replace(paths: dict, registry: dict, source: str, keep_as: Path | None = None) -> None:
    """Write another registry whole (one a remote holds), under the registry's lock, after its own
    consistency check; with keep_as, the one it replaces is copied there first."""
    path = repo_path(paths["registry"])
    registry = parse(registry, source)
    with locked(_lock_path(paths)):
        if keep_as is not None:
            atomic_write_bytes(keep_as, path.read_bytes())
        write_json(path, registry, SCHEMA)


def _event(registry: dict, action: str, source: str | None, target: str | None, reason: str) -> None:
    """Append an event chained to the one before it; a register event commits to the entry it adds."""
    history = registry["history"]
    event = {"at": utc_now(), "action": action, "from": source, "to": target, "reason": reason, "actor": actor(),
             "prev": event_hash(history[-1]) if history else None}
    if action == "register":
        event["entry"] = entry_hash(registry["versions"][target])
    history.append(event)


def _set_production(registry: dict, version: str, action: str, reason: str) -> None:
    previous = registry["aliases"]["production"]
    if previous is not None:
        registry["versions"][previous]["status"] = "archived"
    registry["versions"][version]["status"] = "production"
    registry["aliases"]["production"] = version
    if registry["aliases"].get("challenger") == version:  # the challenger won: it serves now, and shadows no one
        registry["aliases"]["challenger"] = None
    _event(registry, action, previous, version, reason)


def gates_for(paths: dict, card: dict, params: dict) -> tuple[dict, dict[str, float], str]:
    """The gates, the lower-bound margin of each compared set of rows, and the gate set's name: a
    model retrained on labelled production data is also compared on its holdout; one that starts a
    new reference epoch (after a concept drift) must beat production on the new reference rows."""
    gates = params["evaluate"]["gates"]
    meta = read_data_meta(paths, card["data"]["version"])
    gain = params["retrain"]["gates"]["min_f1_gain"]
    if starts_epoch(meta):
        return gates, {"reference": gain}, "epoch"
    limits = {"reference": -gates["max_f1_regression"]}
    if "holdout" in meta["outputs"]:
        return gates, {**limits, "holdout": gain}, "retrain"
    return gates, limits, "evaluate"


def reference_for(paths: dict, card: dict, registry: dict) -> dict:
    """The data version whose test rows judge a candidate. Its own, unless production was judged on
    a reference epoch's rows (a concept drift changed what the old rows' labels mean) and the
    candidate starts none: then that epoch's rows judge it too."""
    own = card["data"]["version"]
    meta = read_data_meta(paths, own)
    live = live_reference(registry)
    if live.get("epoch") and not starts_epoch(meta):
        return live
    test = meta["outputs"]["test"]
    return {"data_version": own, "rows": test["rows"], "sha256": test["sha256"], "epoch": starts_epoch(meta)}


def live_reference(registry: dict) -> dict:
    """The rows production was judged on (its entry's `reference`); {} with nothing in production or
    for an entry from before references were recorded."""
    production = registry["aliases"]["production"]
    return (registry["versions"][production].get("reference") or {}) if production else {}


def starts_epoch(meta: dict) -> bool:
    """Is this data version's test split a new reference epoch's rows (made after a concept drift)? Pure."""
    return bool((meta.get("reference_epoch") or {}).get("starts"))


def register(paths: dict, version: str, params: dict) -> dict:
    """Add an evaluated version: gate it against production, auto-promote the first that passes.
    Its metadata-log line is derived from the card and the entry, so a rerun after a kill between
    the registry write and the line writes the line (and never a second one)."""
    card = read_card(paths, version)
    gating = (*gates_for(paths, card, params), Contract.from_params(params["dataset"]))
    with transaction(paths) as registry:
        known = version in registry["versions"]
        if not known:
            _add(paths, registry, version, card, gating)
        entry = registry["versions"][version]
    with locked(_lock_path(paths)):
        _log_version(paths, version, card, entry)
    if known:
        log.info("model %s is already registered (status %s)", version, entry["status"])
    elif entry["gates"]["passed"]:
        log.info("model %s %s; status %s", version, describe_gates(entry["gates"]), entry["status"])
    else:
        log.warning("model %s rejected: %s", version, describe_gates(entry["gates"]))
    return entry


def _add(paths: dict, registry: dict, version: str, card: dict, gating: tuple) -> None:
    """The registry entry of a new version, gated against production on the same rows.
    gating: (gates, limits, gate set, the data set contract)."""
    gates, limits, gate_set, contract = gating
    production = registry["aliases"]["production"]
    trained = trained_ranges(paths, card, contract.id.name)
    reference = reference_for(paths, card, registry)
    test = card["metrics"]["test"]
    if production:
        comparisons, segments, measured = compare_with_production(paths, card, production, registry, (gates, reference, contract))
        comparisons = {name: comparisons[name] for name in limits}
        live_metrics = measured["production"]
        if reference["data_version"] != card["data"]["version"]:  # judged on an epoch's rows, not its own test rows
            test = measured["candidate"]
    else:  # the first model of this data set: it must beat the best trivial rule, with evidence
        comparisons, segments, live_metrics = {"baseline": compare_with_baseline(paths, card, (gates, reference, contract))}, \
            None, None
        limits = {"baseline": gates["min_gain_over_baseline"]}
    verdict = judge(test, comparisons, segments, gates, limits)
    verdict["compared_with"] = production
    verdict["gate_set"] = gate_set
    verdict["production_metrics"] = live_metrics
    registry["versions"][version] = {
        "status": "candidate" if verdict["passed"] else "rejected",
        "registered_at": utc_now(),
        "card": f"{paths['models_dir']}/{MODEL_CARD.format(v=version)}",
        "sha256": card["artifact"]["sha256"],
        "data_version": card["data"]["version"],
        "algorithm": card["algorithm"],
        "metrics": {k: test[k] for k in ("f1", "recall", "precision", "roc_auc", "error_rate")},
        "trained_on": trained,
        "reference": reference,
        "gates": verdict,
    }
    _event(registry, "register", None, version, describe_gates(verdict))
    if verdict["passed"] and production is None:
        _set_production(registry, version, "promote", "first model to pass the gates (automatic)")


def trained_ranges(paths: dict, card: dict, identity: str) -> list[list[int]]:
    """The row ids (runs of the id column) a model trained on, from its data version's train split."""
    return udi_ranges(load_split(read_data_meta(paths, card["data"]["version"]), "train", [identity])[identity])


def compare_with_production(paths: dict, card: dict, production: str, registry: dict,
                            judging: tuple) -> tuple[dict, dict, dict]:
    """Candidate and production on the same rows: the reference rows (the test rows of the data
    version `reference_for` chose) and, when the candidate has one, its holdout. Each comparison:
    paired F1 interval and rows either model trained on; per-segment recalls and both models'
    metrics on the reference rows. judging: (gates, the reference rows' record, the contract)."""
    gates, reference, contract = judging
    identity, label = contract.id.name, contract.label
    models = {"candidate": (load_model(card), card), production: load_registered(paths, production, registry)}
    seen_by = {name: registry["versions"].get(c["version"], {}).get("trained_on") or trained_ranges(paths, c, identity)
               for name, (_, c) in models.items()}
    sets = {"reference": (read_data_meta(paths, reference["data_version"]), "test"),
            "holdout": (read_data_meta(paths, card["data"]["version"]), "holdout")}
    comparisons, segments, measured = {}, None, {}
    for name, (meta, split) in sets.items():
        if split not in meta["outputs"]:
            continue
        rows = load_split(meta, split, list(dict.fromkeys([identity, *contract.scored, *contract.segments])))
        y = rows[label].to_numpy() == 1
        mine, theirs = (predict_failure(m, rows) >= c["threshold"] for m, c in models.values())
        comparison = f1_difference(y, mine, theirs, gates["bootstrap"])
        seen = {who: seen_rows(rows[identity], ranges) for who, ranges in seen_by.items()}
        comparison["seen"] = max(seen.values())
        comparison["seen_by"] = [who for who, n in seen.items() if n]
        comparisons[name] = comparison
        if name == "reference":
            masks = contract.segment_masks(rows)
            segments = {"candidate": segment_recalls(y, mine, masks), "production": segment_recalls(y, theirs, masks)}
            measured = {who: _headline(score(m, rows, c["threshold"], label)) for who, (m, c) in
                        zip(("candidate", "production"), models.values(), strict=True)}
    return comparisons, segments, measured


def compare_with_baseline(paths: dict, card: dict, judging: tuple) -> dict:
    """The candidate against the best trivial rule learned on its own training rows (gates.baseline_rule),
    on the same reference rows, with the paired F1 interval. judging: (gates, the reference rows'
    record, the contract)."""
    gates, reference, contract = judging
    train = load_split(read_data_meta(paths, card["data"]["version"]), "train", contract.scored)
    rows = load_split(read_data_meta(paths, reference["data_version"]), "test", contract.scored)
    rule, theirs = baseline_rule(train, rows, contract)
    mine = predict_failure(load_model(card), rows) >= card["threshold"]
    comparison = f1_difference(rows[contract.label].to_numpy() == 1, mine, theirs, gates["bootstrap"])
    return {**comparison, "seen": 0, "seen_by": [], "baseline": rule}


def _headline(metrics: dict) -> dict:
    return {k: metrics[k] for k in ("f1", "recall", "precision", "roc_auc", "error_rate")}


def _log_version(paths: dict, version: str, card: dict, entry: dict) -> None:
    """One human-readable line per version in models/model_metadata.log."""
    m, git = entry["metrics"], card["git"]
    hyper = ",".join(f"{k}={v}" for k, v in sorted(card["params"]["hyperparameters"].items()))
    gates = "pass" if entry["gates"]["passed"] else "fail:" + ",".join(entry["gates"]["failed"])
    ensure_line(repo_path(paths["metadata_log"]), version,
                f"{version} {card['created_at']} status={entry['status']} algorithm={card['algorithm']} {hyper} "
                f"seed={card['params']['seed']} threshold={card['threshold']} data={card['data']['version']} "
                f"f1={m['f1']} recall={m['recall']} precision={m['precision']} gates={gates} "
                f"sha256={card['artifact']['sha256'][:16]} commit={(git['commit'] or 'none')[:12]}{'+dirty' if git['dirty'] else ''}")


def promote(paths: dict, version: str, reason: str, force: bool = False) -> str:
    """Point production at a registered version; a rejected one needs force. Returns what happened."""
    version_number(version)
    with transaction(paths) as registry:
        entry = registry["versions"].get(version)
        if entry is None:
            known = ", ".join(sorted(registry["versions"], key=version_number)) or "none"
            raise ClockworkError(f"VERSION={version}: not in the registry (registered: {known})")
        if entry["status"] == "production":
            return f"{version} is already in production"
        if entry["status"] == "rejected" and not force:
            raise ClockworkError(f"VERSION={version}: rejected at registration ({describe_gates(entry['gates'])}); "
                                 "use FORCE=1 to promote it anyway")
        stale = _judged_before_epoch(registry, entry)
        if stale and not force:
            raise ClockworkError(f"VERSION={version}: {stale}; use FORCE=1 to promote it anyway")
        forced = " (forced past failed gates)" if entry["status"] == "rejected" else " (forced: judged before the epoch)" if stale else ""
        _set_production(registry, version, "promote", reason + forced)
    return f"production -> {version}"


def _judged_before_epoch(registry: dict, entry: dict) -> str | None:
    """Why a candidate's gates no longer speak (None if they do): production was judged on a reference
    epoch's rows, and the candidate on others, registered before the concept drift moved the reference."""
    live = live_reference(registry)
    mine = entry.get("reference") or {}
    if entry["status"] != "candidate" or not live.get("epoch") or mine.get("sha256") == live["sha256"]:
        return None
    return (f"its gates were measured on other reference rows ({mine.get('data_version', 'its own')} test) than the "
            f"reference epoch production was judged on ({live['data_version']} test, {live['rows']} rows)")


def challenge(paths: dict, version: str | None, reason: str) -> str:
    """Point the challenger alias at a registered version (None clears it). The server scores every
    request with it too, in shadow: its predictions are logged (deployment.shadow_log), never returned."""
    with transaction(paths) as registry:
        previous = registry["aliases"].get("challenger")
        if version is not None:
            version_number(version)
            entry = registry["versions"].get(version)
            if entry is None:
                known = ", ".join(sorted(registry["versions"], key=version_number)) or "none"
                raise ClockworkError(f"VERSION={version}: not in the registry (registered: {known})")
            if entry["status"] == "production":
                raise ClockworkError(f"VERSION={version}: is the production model; a challenger is another version")
        if previous == version:
            return f"challenger is already {version or 'none'}"
        registry["aliases"]["challenger"] = version
        _event(registry, "challenge", previous, version, reason)
    return f"challenger -> {version or 'none'}" + (f" (was {previous})" if previous else "")


def production_stack(history: list[dict]) -> list[str]:
    """Replay the history: promotions push a version, rollbacks pop one."""
    stack: list[str] = []
    for event in history:
        if event["action"] == "promote":
            stack.append(event["to"])
        elif event["action"] == "rollback" and stack:
            stack.pop()
    return stack


def rollback(paths: dict, reason: str) -> str:
    """Return production to the version that was live before the current one. Returns what happened."""
    with transaction(paths) as registry:
        stack = production_stack(registry["history"])
        if len(stack) < 2:
            raise ClockworkError(f"{paths['registry']}: no earlier production version to roll back to")
        _set_production(registry, stack[-2], "rollback", reason)
        target = stack[-2]
    return f"production -> {target} (rolled back from {stack[-1]})"


def table(paths: dict) -> str:
    """The registry as a text table, newest first."""
    registry = load(paths)
    production = registry["aliases"]["production"]
    lines = [f"production: {production or '(none)'}",
             f"{'version':8} {'status':10} {'data':5} {'algorithm':23} {'f1':>8} {'recall':>8} {'precision':>9}  gates"]
    rows = {v: (e.get("reference") or {}).get("sha256") or test_rows(paths, v) for v, e in registry["versions"].items()}
    for version in sorted(registry["versions"], key=version_number, reverse=True):
        e = registry["versions"][version]
        m = e["metrics"]
        other = "*" if production and rows[version] != rows[production] else " "
        lines.append(f"{version:8} {e['status']:10} {e['data_version']:5} {e['algorithm']:23} {m['f1']!s:>8}{other}{m['recall']!s:>8} "
                     f"{m['precision']!s:>9}  {describe_gates(e['gates'])}")
    if production and any(rows[v] != rows[production] for v in rows):
        lines.append(f"* measured on other test rows than {production}'s: not comparable with it "
                     "(make metrics or /compare score them on the same rows)")
    unregistered = [v for v in model_versions(paths) if v not in registry["versions"]]
    if unregistered:
        lines.append(f"trained but not registered: {', '.join(unregistered)}")
    return "\n".join(lines)


def test_rows(paths: dict, version: str) -> str | None:
    """The sha256 of the rows a version's test metrics were measured on (None if its card is unreadable)."""
    try:
        return read_card(paths, version)["data"]["test"]["sha256"]
    except ClockworkError:
        return None
