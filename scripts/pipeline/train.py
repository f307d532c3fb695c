"""Stage 2, train: fit one scikit-learn Pipeline (features + model) on a data version.

A model version's identity is the hash of the data version, the train params, the code
and the pinned requirements. The same inputs reuse the existing version; joblib dumps of
a seeded fit are byte-identical, which is what lets `make verify` compare sha256.
"""
from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

import pandas as pd

from scripts.core import features as F
from scripts.core.artifacts import (
    MODEL_ARTIFACT,
    MODEL_TRAIN_RECORD,
    load_split,
    model_path,
    model_versions,
    read_data_meta,
    read_pointer,
    read_train_record,
    relative,
    write_outputs_include,
)
from scripts.core.config import ROOT, ClockworkError, cli, experiment_params, load_params, repo_path
from scripts.core.contract import Contract
from scripts.core.estimator import dump, effective_params, fit
from scripts.core.store import (
    atomic_write_bytes,
    code_identity,
    environment,
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

log = logging.getLogger("clockwork.train")

# The params sections this stage reads (and with --experiment, the experiments grid as well);
# its Makefile rules are stamped on these.
PARAMS = ("paths", "data", "dataset", "features", "model")
EXPERIMENT_PARAMS = (*PARAMS, "experiments")


def find_version(paths: dict, key: str) -> str | None:
    """The existing model version with this identity key, if any."""
    for version in model_versions(paths):
        if read_train_record(paths, version)["key"] == key:
            return version
    return None


def check_data_matches_params(data_meta: dict, params: dict) -> None:
    """Training must use the data version params.yaml specifies: refuse a stale pointer."""
    for section in ("data", "dataset", "features"):
        if sha256_obj(data_meta["params"][section]) != sha256_obj(params[section]):
            raise ClockworkError(f"data version {data_meta['version']} was prepared with other '{section}' params "
                                 f"than params.yaml holds now; run make prepare (or make train) first")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, help="pointer file naming the data version (from prepare)")
    parser.add_argument("--out", type=Path, help="pointer file naming the trained model version (written only on change)")
    parser.add_argument("--reproduce", type=Path, metavar="SPEC",
                        help="refit from a JSON spec {train_csv, features, model} and write the joblib bytes to --artifact "
                             "(used by make verify; reads no params.yaml)")
    parser.add_argument("--artifact", type=Path)
    parser.add_argument("--experiment", metavar="NAME", help="train with the model overrides of params experiments.grid.NAME")
    parser.add_argument("--outputs", type=Path, help="make include naming the version's artifact (written only on change)")
    args = parser.parse_args(argv)
    if args.reproduce:
        return reproduce(args.reproduce, args.artifact)
    if not args.data:
        raise ClockworkError("--data: missing (the pointer file written by prepare)")
    params = load_params(sections=EXPERIMENT_PARAMS if args.experiment else PARAMS)
    if args.experiment:
        params = experiment_params(params, args.experiment)
    paths = params["paths"]
    data_meta = read_data_meta(paths, read_pointer(args.data))
    check_data_matches_params(data_meta, params)
    requirements = ROOT / "requirements.txt"
    params = type(params)({**params, "features": F.spec(Contract.from_params(params["dataset"]), params["features"])})
    key = sha256_obj({
        "data": data_meta["key"], "code": code_identity(__spec__.name)["sha256"], "features": params["features"],
        "model": effective_params(params["model"]), "requirements": sha256_file(requirements),
    })
    version = train_version(params, data_meta, key, requirements)
    if args.out:
        write_if_changed(args.out, version + "\n")
    if args.outputs:
        write_outputs_include(args.outputs, "TRAIN_OUTPUTS", [model_path(paths, version, MODEL_ARTIFACT)])
    print(version)
    return 0


def reproduce(spec_path: Path, artifact: Path | None) -> int:
    """Refit from a recorded spec, in whatever checkout this code lives in; write the model bytes."""
    import json

    if artifact is None:
        raise ClockworkError("--artifact: missing (where to write the refitted model)")
    spec = json.loads(spec_path.read_text())
    frame = pd.read_csv(spec["train_csv"])
    atomic_write_bytes(artifact, dump(fit(frame, spec["features"], spec["model"])))
    return 0


def train_version(params: dict, data_meta: dict, key: str, requirements: Path) -> str:
    """The model version for this identity key: reused if it exists, else fitted and written.

    The fit runs outside the models lock, so `make -j2 experiments` fits two models at once;
    the version number is taken, and the artifact and record written, under the lock. A
    concurrent run that fitted the same key first wins; this fit is then dropped."""
    paths = params["paths"]
    lock = repo_path(paths["models_dir"]) / ".lock"
    with locked(lock):
        sweep_temp(repo_path(paths["models_dir"]), ".model_*.tmp")  # left by a killed writer (writers hold this lock)
        version = find_version(paths, key)
    if version:
        log.info("model version %s already holds these inputs; reusing it", version)
        repair(paths, version, params, data_meta)
        return version
    frame = load_split(data_meta, "train", _scored(params["features"]))
    started = time.perf_counter()
    pipeline = fit(frame, params["features"], params["model"])
    seconds = round(time.perf_counter() - started, 3)
    with locked(lock):
        version = find_version(paths, key)
        if version:
            log.info("model version %s was written by a concurrent run; reusing it", version)
            return version
        return _write(paths, params, data_meta, key, requirements, pipeline, {"seconds": seconds, "rows": len(frame)})


def _scored(feature_spec: dict) -> list[str]:
    """The columns a fit reads from a split: the inputs and the label."""
    return [*feature_spec["inputs"], feature_spec["label"]]


def repair(paths: dict, version: str, params: dict, data_meta: dict) -> None:
    """A reused version whose artifact no longer matches its record is refitted from the same inputs: the
    artifact is replaced only when the refit reproduces the recorded bytes; otherwise one line says how out."""
    record = read_train_record(paths, version)
    artifact, expected = ROOT / record["artifact"]["path"], record["artifact"]["sha256"]
    if artifact.exists() and sha256_file(artifact) == expected:
        return
    blob = dump(fit(load_split(data_meta, "train", _scored(params["features"])), params["features"], params["model"]))
    if sha256_bytes(blob) != expected:
        raise ClockworkError(f"{artifact}: differs from its training record, and refitting it from the same inputs gives other "
                             f"bytes (another environment?); restore it from a backup, or delete "
                             f"{model_path(paths, version, MODEL_TRAIN_RECORD)} to train the version again")
    atomic_write_bytes(artifact, blob)
    log.warning("repaired %s: refitted from its inputs; sha256 matches its training record", relative(artifact))


def _write(paths: dict, params: dict, data_meta: dict, key: str, requirements: Path, pipeline: Any, training: dict) -> str:
    """Write the artifact, then the training record last as the commit marker (caller holds the lock)."""
    version = next_version(model_versions(paths))
    blob = dump(pipeline)
    artifact = model_path(paths, version, MODEL_ARTIFACT)
    atomic_write_bytes(artifact, blob)
    record = {
        "version": version,
        "key": key,
        "created_at": utc_now(),
        "data": {
            "version": data_meta["version"],
            "key": data_meta["key"],
            "train": data_meta["outputs"]["train"],
            "test": data_meta["outputs"]["test"],
        },
        "algorithm": params["model"]["algorithm"],
        "params": effective_params(params["model"]),
        "features": {
            **params["features"],
            "model_inputs": [str(n) for n in pipeline.named_steps["features"].get_feature_names_out()],
        },
        "threshold": params["model"]["threshold"],
        "artifact": {"path": relative(artifact), "sha256": sha256_bytes(blob), "bytes": len(blob)},
        "code": code_identity(__spec__.name),
        "git": git_info(),
        "environment": environment(),
        "requirements_sha256": sha256_file(requirements),
        "training": training,
    }
    try:
        write_json(model_path(paths, version, MODEL_TRAIN_RECORD), record, "model_train")
    except BaseException:  # no artifact without its record
        remove_stale(artifact)
        raise
    log.info("trained model %s (%s on data %s, %.1fs)", version, record["algorithm"], data_meta["version"], training["seconds"])
    return version


if __name__ == "__main__":
    cli(main)
