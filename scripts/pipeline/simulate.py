"""`make simulate`: build the "Day 2" datasets from the production window, each a data version.

A dataset is a row range of the production window, optionally with sensor drift: a scale
and a bias on chosen columns, from a chosen row on, for a chosen share of rows. Labels stay
those of the physical truth: a drifting sensor changes what the model sees, not whether the
machine failed. Identity = hash(source production file, the dataset's params, the code),
so rerunning reuses versions, like prepare.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from scripts.core.artifacts import read_data_meta, read_pointer, relative
from scripts.core.config import ClockworkError, cli, load_params, repo_path
from scripts.core.contract import Contract
from scripts.core.features import positive_rate
from scripts.core.store import (
    atomic_write_text,
    code_identity,
    ensure_line,
    existing_versions,
    git_info,
    locked,
    next_version,
    read_json,
    sha256_file,
    sha256_obj,
    sweep_temp,
    utc_now,
    write_if_changed,
    write_json,
)
from scripts.pipeline.faults import apply_scenario, scenario_datasets

log = logging.getLogger("clockwork.simulate")
# The params sections this stage reads; its Makefile rule is stamped on exactly these.
PARAMS = ("paths", "dataset", "simulation", "scenarios")


def simulate(production: pd.DataFrame, spec: dict, drift: dict, contract: Contract) -> pd.DataFrame:
    """One dataset: a row range of the production window, drifted if the spec says so, with a
    scenario's changes if it names any (faults.py); the contract's kept columns and `drifted`. Pure."""
    start, end = spec["rows"]
    if not 0 <= start < end <= len(production):
        raise ClockworkError(f"simulation.datasets: rows {spec['rows']} outside the {len(production)}-row production window")
    frame = production.iloc[start:end].reset_index(drop=True).copy()
    frame["drifted"] = 0
    if spec["drift"]:
        rng = np.random.default_rng(drift["seed"])
        affected = np.arange(len(frame)) >= drift["from_row"]
        affected &= rng.random(len(frame)) < drift["fraction"]
        for column, change in drift["columns"].items():
            values = frame[column].astype("float64")
            frame[column] = np.where(affected, values * change["scale"] + change["bias"], values)
        frame["drifted"] = affected.astype(int)
    if spec.get("scenario"):
        frame = apply_scenario(frame, spec["scenario"], spec.get("seed", drift["seed"]), contract)
    return frame[[*(c.name for c in contract.kept), "drifted"]]


def dataset_dir(paths: dict, name: str) -> Path:
    return repo_path(paths["production_dir"]) / "simulated" / name


def manifest_line(meta: dict) -> str:
    """A simulated dataset's manifest line, derived from its metadata alone (a rerun can write it again). Pure."""
    script = "scripts/pipeline/simulate.py"
    source, out = meta["inputs"]["production"], meta["output"]
    return (f"simulated/{meta['dataset']}/{meta['version']} {meta['created_at']} script={script}:"
            f"{meta['code']['files'].get(script, 'unknown')[:12]} params={sha256_obj(meta['params'])[:12]} "
            f"input={source['path']}:{source['sha256'][:12]} output={out['path']}:{out['sha256'][:12]}:{out['rows']}rows "
            f"drifted={out['drifted_rows']}")


def build(paths: dict, name: str, frame: pd.DataFrame, key: str, source: dict, used: dict, code: dict, label: str) -> str:
    """Reuse the version with this key, or write a new one (csv first, metadata last); label: the target column."""
    directory = dataset_dir(paths, name)
    with locked(directory / ".lock"):
        sweep_temp(directory, ".*.tmp")  # left by a killed writer (writers hold this lock)
        for version in existing_versions(directory, "{v}.json"):
            meta = read_json(directory / f"{version}.json", "simulated_dataset")
            if meta["key"] == key:
                ensure_line(repo_path(paths["manifest"]), f"simulated/{name}/{version}", manifest_line(meta))
                return version
        version = next_version(existing_versions(directory, "{v}.json"))
        csv_path = directory / f"{version}.csv"
        atomic_write_text(csv_path, frame.to_csv(index=False))
        meta = {
            "dataset": name, "version": version, "key": key, "created_at": utc_now(),
            "inputs": {"production": source},
            "output": {"path": relative(csv_path), "sha256": sha256_file(csv_path), "rows": len(frame),
                       "label_rate": round(positive_rate(frame[label]), 6), "drifted_rows": int(frame["drifted"].sum())},
            "params": used, "code": code, "git": git_info(),
        }
        write_json(directory / f"{version}.json", meta, "simulated_dataset")
        ensure_line(repo_path(paths["manifest"]), f"simulated/{name}/{version}", manifest_line(meta))
        log.info("created simulated dataset %s %s (%d rows, %d drifted)", name, version, len(frame), meta["output"]["drifted_rows"])
        return version


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="pointer file naming the data version (from prepare)")
    parser.add_argument("--out", type=Path, help="pointer file: dataset name -> version (written only on change)")
    args = parser.parse_args(argv)
    params = load_params(sections=PARAMS)
    paths, simulation = params["paths"], params["simulation"]
    data_meta = read_data_meta(paths, read_pointer(args.data))
    record = data_meta["outputs"]["production"]
    production_path = repo_path(record["path"])
    if sha256_file(production_path) != record["sha256"]:
        raise ClockworkError(f"{record['path']}: sha256 differs from data version {data_meta['version']}")
    production = pd.read_csv(production_path)
    contract = Contract.from_params(params["dataset"])
    code = code_identity(__spec__.name)
    built = {}
    for name, spec in {**simulation["datasets"], **scenario_datasets(params["scenarios"])}.items():
        used = {"dataset": spec, "drift": simulation["drift"] if spec["drift"] else None}
        key = sha256_obj({"source": record["sha256"], "params": used, "columns": params["dataset"]["columns"],
                          "code": code["sha256"]})
        version = build(paths, name, simulate(production, spec, simulation["drift"], contract), key,
                        {"path": record["path"], "sha256": record["sha256"], "rows": record["rows"],
                         "data_version": data_meta["version"]}, used, code, contract.label)
        built[name] = relative(dataset_dir(paths, name) / f"{version}.csv")
        print(f"{name}: {built[name]}")
    if args.out:
        write_if_changed(args.out, json.dumps(built, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    cli(main)
