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
from typing import Iterator

from scripts.core.artifacts import MODEL_CARD, load_model, load_split, model_versions, read_card, read_data_meta
from scripts.core.config import ClockworkError, repo_path
from scripts.core.gates import describe as describe_gates
from scripts.core.gates import f1_difference, judge, seen_rows, segment_recalls, udi_ranges
from scripts.core.metrics import predict_failure, score
from scripts.core.store import (
    actor,
    atomic_write_bytes,
    canonical_json,
    ensure_line,
    locked,
    read_json,
    utc_now,
    version_number,
    write_json,
)

log = logging.getLogger("clockwork.registry")
SCHEMA = "registry"


def empty_registry() -> dict:
    """A registry with no versions and nothing in production."""
    return {"schema_version": 1, "aliases": {"production": None}, "versions": {}, "history": []}


def load(paths: dict) -> dict:
    """Read the registry; a missing file is only acceptable before any model was registered."""
    path = repo_path(paths["registry"])
    if not path.exists():
        log_path = repo_path(paths["metadata_log"])
        if log_path.exists() and log_path.stat().st_size:
            raise ClockworkError(f"{path}: missing, but {paths['metadata_log']} shows versions were registered; "
                                 "restore the registry from a backup (it is the record of what was in production)")
        return empty_registry()
    registry = read_json(path, SCHEMA)
    check_consistent(registry, str(path))
    return registry


def production_card(paths: dict, purpose: str) -> tuple[dict, dict]:
    """The registry and the production model's card; a one-line error if nothing is in production."""
    registry = load(paths)
    version = registry["aliases"]["production"]
    if version is None:
        raise ClockworkError(f"{paths['registry']}: no production model to {purpose} (run make train)")
    return registry, read_card(paths, version)


def check_consistent(registry: dict, source: str) -> None:
    """Rules the schema can't express: the alias names a registered production version, and a
    challenger is another registered version."""
    production = registry["aliases"]["production"]
    live = [v for v, entry in registry["versions"].items() if entry["status"] == "production"]
    if production is None and live or production is not None and live != [production]:
        raise ClockworkError(f"{source}: aliases.production is {production} but versions marked production are {live}")
    challenger = registry["aliases"].get("challenger")
    if challenger is not None and (challenger not in registry["versions"] or challenger == production):
        raise ClockworkError(f"{source}: aliases.challenger is {challenger}, which is not another registered version")


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
            check_consistent(registry, str(path))
            write_json(path, registry, SCHEMA)


def replace(paths: dict, registry: dict, source: str, keep_as: Path | None = None) -> None:
    """Write another registry whole (one a remote holds), under the registry's lock, after its own
    consistency check; with keep_as, the one it replaces is copied there first."""
    path = repo_path(paths["registry"])
    check_consistent(registry, source)
    with locked(_lock_path(paths)):
        if keep_as is not None:
            atomic_write_bytes(keep_as, path.read_bytes())
        write_json(path, registry, SCHEMA)


def _event(registry: dict, action: str, source: str | None, target: str | None, reason: str) -> None:
    registry["history"].append({"at": utc_now(), "action": action, "from": source, "to": target,
                                "reason": reason, "actor": actor()})


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
    gating = gates_for(paths, card, params)
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


def _add(paths: dict, registry: dict, version: str, card: dict, gating: tuple[dict, dict, str]) -> None:
    """The registry entry of a new version, gated against production on the same rows."""
    gates, limits, gate_set = gating
    production = registry["aliases"]["production"]
    trained = trained_ranges(paths, card)
    reference = reference_for(paths, card, registry)
    test = card["metrics"]["test"]
    if production:
        comparisons, segments, measured = compare_with_production(paths, card, production, registry, (gates, reference))
        comparisons = {name: comparisons[name] for name in limits}
        live_metrics = measured["production"]
        if reference["data_version"] != card["data"]["version"]:  # judged on an epoch's rows, not its own test rows
            test = measured["candidate"]
    else:
        comparisons, segments, live_metrics = {}, None, None
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


def trained_ranges(paths: dict, card: dict) -> list[list[int]]:
    """The row ids (UDI runs) a model trained on, from its data version's train split."""
    return udi_ranges(load_split(read_data_meta(paths, card["data"]["version"]), "train", ["udi"])["udi"])


def compare_with_production(paths: dict, card: dict, production: str, registry: dict,
                            judging: tuple[dict, dict]) -> tuple[dict, dict, dict]:
    """Candidate and production on the same rows: the reference rows (the test rows of the data
    version `reference_for` chose) and, when the candidate has one, its holdout. Each comparison:
    paired F1 interval and rows either model trained on; per-segment recalls and both models'
    metrics on the reference rows."""
    from scripts.core import features as F  # pandas: only a registration that gates needs it

    gates, reference = judging
    live_card = read_card(paths, production)
    models = {"candidate": (load_model(card), card), production: (load_model(live_card), live_card)}
    seen_by = {name: registry["versions"].get(c["version"], {}).get("trained_on") or trained_ranges(paths, c)
               for name, (_, c) in models.items()}
    sets = {"reference": (read_data_meta(paths, reference["data_version"]), "test"),
            "holdout": (read_data_meta(paths, card["data"]["version"]), "holdout")}
    comparisons, segments, measured = {}, None, {}
    for name, (meta, split) in sets.items():
        if split not in meta["outputs"]:
            continue
        rows = load_split(meta, split, ["udi", *F.SCORED_COLUMNS, *F.FAILURE_MODES])
        y = rows[F.LABEL].to_numpy() == 1
        mine, theirs = (predict_failure(m, rows) >= c["threshold"] for m, c in models.values())
        comparison = f1_difference(y, mine, theirs, gates["bootstrap"])
        seen = {who: seen_rows(rows["udi"], ranges) for who, ranges in seen_by.items()}
        comparison["seen"] = max(seen.values())
        comparison["seen_by"] = [who for who, n in seen.items() if n]
        comparisons[name] = comparison
        if name == "reference":
            segments = _segments(rows, y, mine, theirs)
            measured = {who: _headline(score(m, rows, c["threshold"])) for who, (m, c) in
                        zip(("candidate", "production"), models.values(), strict=True)}
    return comparisons, segments, measured


def _segments(rows, y, mine, theirs) -> dict:
    """Both models' recall on each failure mode and each product Type of the reference rows."""
    from scripts.core import features as F

    masks = {mode.upper(): rows[mode].fillna(0).to_numpy() == 1 for mode in F.FAILURE_MODES if mode != "rnf"}
    masks |= {f"Type {t}": rows["type"].to_numpy() == t for t in F.TYPES}
    return {"candidate": segment_recalls(y, mine, masks), "production": segment_recalls(y, theirs, masks)}


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
