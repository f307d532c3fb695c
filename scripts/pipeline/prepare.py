"""Stage 1, prepare: validate the raw CSV, split it chronologically, write a data version.

A data version's identity is the hash of its inputs (raw sha256, the code that ran, the
data and features params). Rerunning a known combination reuses that version, so
reverting a parameter brings back the old version and creates no duplicate.
"""
from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from scripts.core import features as F
from scripts.core.artifacts import (
    check_sha,
    data_meta_path,
    data_split_paths,
    data_versions,
    read_data_meta,
    relative,
    write_outputs_include,
)
from scripts.core.config import ROOT, ClockworkError, cli, load_params, repo_path
from scripts.core.contract import Contract
from scripts.core.expressions import parse
from scripts.core.rawdata import read_raw, validate_rows
from scripts.core.store import (
    atomic_write_bytes,
    code_identity,
    ensure_line,
    git_info,
    locked,
    next_version,
    remove_stale,
    sha256_bytes,
    sha256_file,
    sha256_obj,
    sweep_temp,
    utc_now,
    write_if_changed,
    write_json,
)

log = logging.getLogger("clockwork.prepare")
# The params sections this stage reads (retrain and model only with --extra; model only when the
# labelled rows belong to a reference epoch); its Makefile rule is stamped on these.
PARAMS = ("paths", "data", "dataset", "features", "retrain", "model")


def split(frame: pd.DataFrame, data: dict, contract) -> dict[str, pd.DataFrame]:  # noqa: ANN001
    """Train window (whose tail is the test set) and the production tail: in the order column's order
    when the contract names one, else in a seeded, stratified random order (data.seed)."""
    window, test_rows, production_rows = data["train_window_rows"], data["test_rows"], data["production_rows"]
    if window + production_rows > len(frame):
        raise ClockworkError(
            f"params data: train_window_rows + production_rows = {window + production_rows} exceeds the {len(frame)} raw rows")
    if contract.order is None:
        frame = frame.iloc[stratified_order(frame[contract.label].to_numpy(), data["seed"])]
    return {
        "train": frame.iloc[: window - test_rows],
        "test": frame.iloc[window - test_rows : window],
        "production": frame.iloc[len(frame) - production_rows :],
    }


def stratified_order(labels: np.ndarray, seed: int) -> np.ndarray:
    """A seeded permutation of the rows in which every stretch holds each class in about its share:
    each class's rows are shuffled and spread evenly over (0, 1), and the rows sorted by that place."""
    rng = np.random.default_rng(seed)
    place = np.empty(len(labels))
    for value in np.unique(labels):
        rows = np.flatnonzero(labels == value)
        place[rng.permutation(rows)] = (np.arange(len(rows)) + rng.random(len(rows))) / len(rows)
    return np.argsort(place, kind="stable")


def apply_quirk_policy(train: pd.DataFrame, quirks: dict) -> tuple[pd.DataFrame, dict]:
    """Drop the training rows a quirk picks whose policy says 'drop'; count every quirk either way.
    Each quirk's condition (params data.label_quirks) reads the split's columns."""
    report = {}
    keep = pd.Series(True, index=train.index)
    for name, quirk in quirks.items():
        mask = parse(quirk["when"], list(train.columns), condition=True)(train)
        report[name] = {"policy": quirk["policy"], "rows": int(mask.sum())}
        if quirk["policy"] == "drop":
            keep &= ~mask
    return train[keep], report


def enrich(parts: dict[str, pd.DataFrame], contract, feats: dict) -> dict[str, pd.DataFrame]:  # noqa: ANN001
    """Add the derived features and fix the column order of every split: the raw file's columns in
    its order, the derived features right after the last input."""
    names = [c.name for c in contract.kept]
    last_input = max(names.index(name) for name in contract.input_names)
    ordered = [*names[: last_input + 1], *feats["derived"], *names[last_input + 1 :]]
    expressions = contract.derived_texts(feats["derived"])
    out = {}
    for name, part in parts.items():
        enriched = F.add_derived(part, feats["derived"], contract.input_names, expressions)
        for column in names:
            if column not in contract.input_names:
                enriched[column] = part[column].to_numpy() if column in part else None
        out[name] = enriched[ordered].reset_index(drop=True)
    return out


def build_splits(frame: pd.DataFrame, contract, data: dict, feats: dict) -> tuple[dict[str, pd.DataFrame], dict]:  # noqa: ANN001
    """Pure part of prepare: split, apply the quirk policy, add the derived features."""
    parts = split(frame, data, contract)
    parts["train"], quirks = apply_quirk_policy(parts["train"], data["label_quirks"])
    return enrich(parts, contract, feats), quirks


def build_retrain_splits(frame: pd.DataFrame, contract, data: dict, feats: dict, labelled: pd.DataFrame,  # noqa: ANN001
                         settings: tuple[dict, dict | None]) -> tuple[dict[str, pd.DataFrame], dict, dict | None]:
    """A retrain version: the training rows plus the older labelled production rows to train on
    (only the most recent retrain.recent_rows of them all, if set); the most recent labelled rows as
    the holdout. The test set stays the clean reference rows, which no version ever trains on.

    Labelled rows with a `reference` column follow a newer relation than the history (a reference
    epoch, after a concept drift): the history rows labelled 'no failure' that a model of the
    labelled training rows alone calls failures are left out (scripts/core/epoch.py), and rows
    marked 1 start a new epoch: they are the test rows, and there is no holdout. Returns the
    splits, the quirk counts and what the epoch changed (None outside one)."""
    retrain, model = settings
    parts = split(frame, data, contract)
    clean, quirks = apply_quirk_policy(parts["train"], data["label_quirks"])
    columns = [contract.id.name, *contract.input_names, contract.label]
    E = _epochs()
    if E.new_epoch(labelled):
        marked = labelled["reference"].to_numpy() == 1
        newer, test, holdout = labelled[~marked][columns], labelled[marked][columns], None
    else:
        held = max(1, round(len(labelled) * retrain["holdout_fraction"]))
        if held >= len(labelled):
            raise ClockworkError(f"retrain.holdout_fraction: leaves no labelled production rows to train on ({len(labelled)} rows)")
        newer, test, holdout = labelled.iloc[:-held][columns], parts["test"], labelled.iloc[-held:][columns]
    epoch = None
    if E.in_epoch(labelled):
        contradicted = E.contradicted_rows(clean, newer, F.spec(contract, feats), model, retrain["concept"]["conflict_probability"])
        epoch = E.epoch_record(clean[contract.id.name][contradicted], len(test) if holdout is None else 0, len(newer))
        clean = clean[~contradicted]
    train = pd.concat([clean, newer], ignore_index=True)
    if retrain["recent_rows"]:
        train = train.iloc[-retrain["recent_rows"]:]
    parts = {"train": train, "test": test, **({"holdout": holdout} if holdout is not None else {}),
             "production": parts["production"]}
    return enrich(parts, contract, feats), quirks, epoch


def labelled_columns(contract) -> list[str]:  # noqa: ANN001
    """The columns retrain writes for each labelled production row."""
    return ["prediction_id", "dataset", contract.id.name, *contract.input_names, contract.label]


def _epochs():
    """scripts.core.epoch, imported only for a retrain version (before the stage's code identity is
    taken): a plain data version's identity never depends on it or on the estimator it fits."""
    from scripts.core import epoch

    return epoch


def read_labelled(path: Path, contract) -> pd.DataFrame:  # noqa: ANN001
    """Labelled production rows written by retrain: the columns it promises, labels 0/1, each category
    input within its declared values, and the optional `reference` column (0/1): present when the
    rows belong to a reference epoch, 1 on the rows that start a new one."""
    try:
        frame = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ClockworkError(f"{path}: not a readable CSV: {str(exc).splitlines()[0]}") from None
    missing = [c for c in labelled_columns(contract) if c not in frame.columns]
    if missing:
        raise ClockworkError(f"{path}: missing column(s): {', '.join(missing)}")
    if frame.empty or not frame[contract.label].isin([0, 1]).all():
        raise ClockworkError(f"{path}: needs at least one row and labels 0/1 in column {contract.label}")
    for column in contract.inputs:
        if column.kind == "category" and not frame[column.name].astype(str).isin([str(v) for v in column.values]).all():
            raise ClockworkError(f"{path}: column {column.name}: values must be one of {'/'.join(map(str, column.values))}")
    if "reference" in frame.columns and not frame["reference"].isin([0, 1]).all():
        raise ClockworkError(f"{path}: column reference: values must be 0 or 1")
    return frame


def find_version(paths: dict, key: str) -> str | None:
    """The existing data version with this identity key, if any."""
    for version in data_versions(paths):
        if read_data_meta(paths, version)["key"] == key:
            return version
    return None


def _write_version(paths: dict, version: str, parts: dict[str, pd.DataFrame], label: str) -> dict:
    """Write each version directory in a temp dir beside it, then rename it into place."""
    targets = data_split_paths(paths, version, parts)
    for directory in {t.parent for t in targets.values()}:
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{version}."))
        staging.chmod(0o755)  # mkdtemp makes 0700; generated folders are 0755 like their 0644 files
        try:
            for name, target in targets.items():
                if target.parent == directory:
                    parts[name].to_csv(staging / target.name, index=False)
            staging.rename(directory)
        except OSError as exc:  # a full disk: name the file, leave nothing half-written
            remove_stale(staging)
            raise ClockworkError(f"{directory}: cannot write the data version: {exc.strerror or exc}") from None
        except BaseException:
            remove_stale(staging)
            raise
    return {
        name: {
            "path": relative(target),
            "sha256": sha256_file(target),
            "rows": len(parts[name]),
            "label_rate": round(F.positive_rate(parts[name][label]), 6),
        }
        for name, target in targets.items()
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, help="pointer file naming the current data version (written only on change)")
    parser.add_argument("--extra", type=Path, help="labelled production rows to add (make retrain passes these)")
    parser.add_argument("--outputs", type=Path, help="make include naming the version's files (written only on change)")
    parser.add_argument("--restore", metavar="VERSION", help="rebuild a version's missing split files (make gc collected them) "
                        "from its recorded inputs and params: byte-identical, or refused")
    args = parser.parse_args(argv)
    params = load_params(sections=PARAMS)
    if args.restore:
        restore(params["paths"], args.restore, params["dataset"])
        return 0
    paths, data, feats = params["paths"], params["data"], params["features"]
    raw = repo_path(paths["raw"])
    raw_sha = sha256_file(raw)
    if raw_sha != data["raw_sha256"]:
        raise ClockworkError(f"{raw}: sha256 {raw_sha} differs from data.raw_sha256 {data['raw_sha256']}; the raw file is immutable")
    contract = _contract(params["dataset"])
    frame = read_table(raw, contract)
    used, extra = {"data": data, "dataset": params["dataset"], "features": feats}, None
    if args.extra:
        labelled = read_labelled(args.extra, contract)
        used["retrain"] = params["retrain"]
        if _epochs().in_epoch(labelled):
            used["model"] = params["model"]
        extra = {"path": relative(args.extra), "sha256": sha256_file(args.extra), "rows": len(labelled),
                 "frame": labelled}
    code = code_identity(__spec__.name, *([_epochs().__name__] if extra else []))  # the code this run declares
    identity = {"raw": raw_sha, "code": code["sha256"], "params": used}
    if extra:
        identity["extra"] = extra["sha256"]
    key = sha256_obj(identity)
    with locked(repo_path(paths["processed_dir"]) / ".lock"):
        for directory in (repo_path(paths["processed_dir"]), repo_path(paths["production_dir"])):
            sweep_temp(directory, "v*/.*.tmp")  # left by a killed writer of a version (writers hold this lock)
        sweep_temp(repo_path(paths["processed_dir"]), ".v*.tmp")
        version = find_version(paths, key)
        if version:
            log.info("data version %s already holds these inputs; reusing it", version)
            repair(paths, version, lambda: build_parts(frame, contract, extra, used)[0])
            ensure_line(repo_path(paths["manifest"]), version, manifest_line(read_data_meta(paths, version)))
        else:
            version = _create(paths, frame, contract, raw_sha, code, used, key, extra)
    if args.out:
        write_if_changed(args.out, version + "\n")
    if args.outputs:
        written = data_split_paths(paths, version, read_data_meta(paths, version)["outputs"])
        write_outputs_include(args.outputs, "PREPARE_OUTPUTS", list(written.values()))
    print(version)
    return 0


def restore(paths: dict, version: str, dataset: dict) -> None:
    """Rebuild a data version's missing splits from what its metadata records (raw file and labelled
    rows, each sha-checked; the params it was made with: a version made before the data set
    contract was declared is read with params' dataset section), with this code; each must come out
    byte-identical to its record, or nothing is written and one line says which differs."""
    meta = read_data_meta(paths, version)
    raw = ROOT / meta["inputs"]["raw"]["path"]
    check_sha(raw, meta["inputs"]["raw"]["sha256"], f"data version {version}")
    used, extra = meta["params"], None
    labelled = meta["inputs"].get("production_labelled")
    if labelled:
        check_sha(ROOT / labelled["path"], labelled["sha256"], f"data version {version}")
    contract = _contract(used.get("dataset", dataset))
    if labelled:
        extra = {**labelled, "frame": read_labelled(ROOT / labelled["path"], contract)}
    frame = read_table(raw, contract)
    with locked(repo_path(paths["processed_dir"]) / ".lock"):
        repair(paths, version, lambda: build_parts(frame, contract, extra, used)[0])


def build_parts(frame: pd.DataFrame, contract, extra: dict | None, used: dict) -> tuple[dict, dict, dict | None]:  # noqa: ANN001
    """The version's splits, quirk counts and reference-epoch record (None outside an epoch): a plain
    version, or a retrain version with labelled rows (which may belong to, or start, an epoch)."""
    data, feats = used["data"], used["features"]
    if extra:
        return build_retrain_splits(frame, contract, data, feats, extra["frame"], (used["retrain"], used.get("model")))
    return (*build_splits(frame, contract, data, feats), None)


def _contract(dataset: dict):  # noqa: ANN202 - a Contract
    contract = Contract.from_params(dataset)
    if contract.id is None:
        raise ClockworkError("params dataset.columns: declare the row id column (role: id); prepare needs one to tell "
                             "rows apart across versions and labels")
    return contract


def read_table(raw: Path, contract) -> pd.DataFrame:  # noqa: ANN001
    """The raw file as the contract declares it, checked, its target as 1 (the positive class) or 0."""
    frame = read_raw(raw, contract)
    validate_rows(frame, raw, contract)
    positive = contract.positive if contract.target.kind != "category" else str(contract.positive)
    frame[contract.label] = (frame[contract.label] == positive).astype("int64")
    return frame


def repair(paths: dict, version: str, rebuild: Callable[[], dict[str, pd.DataFrame]]) -> None:
    """A reused version whose files no longer match its record is rebuilt from its inputs: a damaged
    file is replaced only when the rebuild reproduces the recorded bytes; otherwise one line says how out."""
    meta, record = read_data_meta(paths, version), data_meta_path(paths, version)
    targets = data_split_paths(paths, version, meta["outputs"])
    damaged = [name for name, out in meta["outputs"].items()
               if not targets[name].exists() or sha256_file(targets[name]) != out["sha256"]]
    parts = rebuild() if damaged else {}
    for name in damaged:
        blob = parts[name].to_csv(index=False).encode("utf-8")
        if sha256_bytes(blob) != meta["outputs"][name]["sha256"]:
            raise ClockworkError(f"{targets[name]}: differs from its record in {record.name}, and rebuilding it from the same "
                                 f"inputs gives other bytes; restore it from a backup, or delete {record} to build the version again")
        atomic_write_bytes(targets[name], blob)
        log.warning("repaired %s: rebuilt from its inputs; sha256 matches %s", relative(targets[name]), record.name)


def _create(paths: dict, frame: pd.DataFrame, contract, raw_sha: str, code: dict,  # noqa: ANN001
            used: dict, key: str, extra: dict | None) -> str:
    """Build a new data version; its metadata is written last, as the commit marker."""
    version = next_version(data_versions(paths))
    directories = {p.parent for p in data_split_paths(paths, version, ("train", "production")).values()}
    # A run killed before its metadata landed leaves a version dir or a staging dir: clear them.
    for directory in directories:
        remove_stale(directory)
        for staging in directory.parent.glob(".v*.*"):
            remove_stale(staging)
    parts, quirks, epoch = build_parts(frame, contract, extra, used)
    feats = used["features"]
    inputs = {"raw": {"path": paths["raw"], "sha256": raw_sha, "rows": len(frame)}}
    if extra:
        inputs["production_labelled"] = {k: extra[k] for k in ("path", "sha256", "rows")}
    try:
        outputs = _write_version(paths, version, parts, contract.label)
        meta = {
            "version": version,
            "key": key,
            "created_at": utc_now(),
            "inputs": inputs,
            "outputs": outputs,
            "script": {"path": "scripts/pipeline/prepare.py", "sha256": code["files"]["scripts/pipeline/prepare.py"], "code": code},
            "git": git_info(),
            "params": used,
            "params_sha256": sha256_obj(used),
            "label_quirks": quirks,
            **({"reference_epoch": epoch} if epoch else {}),
            "features": {"inputs": contract.input_names, "derived": feats["derived"], "label": contract.label},
        }
        write_json(data_meta_path(paths, version), meta, "data_version")
    except BaseException:  # a failed or interrupted version leaves nothing behind
        for directory in directories:
            remove_stale(directory)
        raise
    ensure_line(repo_path(paths["manifest"]), version, manifest_line(meta))
    log.info("created data version %s (%s)", version, manifest_line(meta).split(" train=", 1)[-1].join(["train=", ""]))
    return version


def manifest_line(meta: dict) -> str:
    """A data version's line in the manifest, derived from its metadata alone (so a rerun after a kill
    between the two writes can write it again). Pure."""
    raw, labelled = meta["inputs"]["raw"], meta["inputs"].get("production_labelled")
    files = " ".join(f"{n}={o['path']}:{o['sha256'][:12]}:{o['rows']}rows" for n, o in meta["outputs"].items())
    return (f"{meta['version']} {meta['created_at']} script={meta['script']['path']}:{meta['script']['sha256'][:12]} "
            f"commit={(meta['git']['commit'] or 'none')[:12]}{'+dirty' if meta['git']['dirty'] else ''} "
            f"params={meta['params_sha256'][:12]} input={raw['path']}:{raw['sha256'][:12]}"
            + (f" production_labelled={labelled['path']}:{labelled['sha256'][:12]}:{labelled['rows']}rows" if labelled else "")
            + f" {files}")


if __name__ == "__main__":
    cli(main)
