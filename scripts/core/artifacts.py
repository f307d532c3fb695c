"""Where data and model versions live and how to load them: the contract between stages.

Every load checks the sha256 recorded in the metadata first. A joblib load runs code, so
a model file that differs from its record is never unpickled.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Iterable

from scripts.core.config import ROOT, ClockworkError, repo_path
from scripts.core.store import existing_versions, read_json, sha256_bytes, sha256_file

MODEL_ARTIFACT = "model_{v}.joblib"
MODEL_TRAIN_RECORD = "model_{v}.train.json"  # written by train; marks a trained version
MODEL_CARD = "model_{v}.json"  # written by evaluate: the training record plus all metrics


def relative(path: Path) -> str:
    """A path as recorded in metadata: relative to the repository root."""
    return str(path.resolve().relative_to(ROOT))


# Every data version has these splits; a retrain version also has a "holdout" (its most recent
# labelled production rows), while its "test" stays the clean reference rows no version trains on.
SPLITS = ("train", "test", "production")


def data_split_paths(paths: dict, version: str, names: Iterable[str] = SPLITS) -> dict[str, Path]:
    """The files of one data version: train, test (and holdout) under processed/, production apart."""
    processed, production = repo_path(paths["processed_dir"]), repo_path(paths["production_dir"])
    every = {
        "train": processed / version / "train.csv",
        "test": processed / version / "test.csv",
        "holdout": processed / version / "holdout.csv",
        "production": production / version / "production.csv",
    }
    return {name: every[name] for name in names}


def data_meta_path(paths: dict, version: str) -> Path:
    """A data version's metadata; its presence marks the version as complete."""
    return repo_path(paths["processed_dir"]) / f"{version}.json"


def data_versions(paths: dict) -> list[str]:
    """All complete data versions, oldest first."""
    return existing_versions(repo_path(paths["processed_dir"]), "{v}.json")


def read_data_meta(paths: dict, version: str) -> dict:
    """A data version's metadata, schema-checked."""
    return read_json(data_meta_path(paths, version), "data_version")


def check_sha(path: Path, expected: str, owner: str) -> None:
    """Refuse a file whose bytes differ from the sha256 its metadata records."""
    actual = sha256_file(path)
    if actual != expected:
        raise ClockworkError(f"{path}: sha256 {actual[:16]}... differs from {expected[:16]}... recorded in {owner}")


def load_split(meta: dict, name: str, columns: list[str] | None = None) -> Any:
    """One split of a data version as a DataFrame, after its sha256 check; only the given columns
    when a caller names them (a million-row split's text columns are large in memory)."""
    import pandas as pd

    record = meta["outputs"][name]
    path = ROOT / record["path"]
    check_sha(path, record["sha256"], f"data version {meta['version']}")
    return pd.read_csv(path, usecols=columns)


def read_pointer(path: Path) -> str:
    """The version named in a make pointer file (written by the upstream stage)."""
    try:
        return path.read_text().strip().split()[0]
    except (OSError, IndexError):
        raise ClockworkError(f"{path}: missing or empty; run the upstream stage first (make train)") from None


def model_path(paths: dict, version: str, pattern: str) -> Path:
    """models/<pattern with the version filled in>."""
    return repo_path(paths["models_dir"]) / pattern.format(v=version)


def model_versions(paths: dict) -> list[str]:
    """All trained model versions (those with a training record), oldest first."""
    return existing_versions(repo_path(paths["models_dir"]), MODEL_TRAIN_RECORD)


def read_train_record(paths: dict, version: str) -> dict:
    """A model version's training record, schema-checked."""
    return read_json(model_path(paths, version, MODEL_TRAIN_RECORD), "model_train")


def read_card(paths: dict, version: str) -> dict:
    """A model version's card (training record + metrics), schema-checked."""
    return read_json(model_path(paths, version, MODEL_CARD), "model")


def load_model(meta: dict) -> Any:
    """Unpickle a model artifact only after its bytes match the recorded sha256."""
    import joblib

    path = ROOT / meta["artifact"]["path"]
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise ClockworkError(f"{path}: cannot read model artifact: {exc.strerror}") from None
    actual = sha256_bytes(blob)
    if actual != meta["artifact"]["sha256"]:
        raise ClockworkError(f"{path}: sha256 {actual[:16]}... differs from {meta['artifact']['sha256'][:16]}... "
                             f"recorded for model {meta['version']}; refusing to load it")
    return joblib.load(io.BytesIO(blob))


def write_outputs_include(path: Path, name: str, files: list[Path]) -> None:
    """A make include naming the files a stage's current version consists of (`NAME := a b c`), rewritten
    only on change: the Makefile makes the stage depend on them, so a damaged file reruns the stage."""
    from scripts.core.store import write_if_changed

    write_if_changed(path, f"{name} := {' '.join(relative(f) for f in files)}\n")


def label_of(paths: dict, card: dict) -> str:
    """The label column of a model: its card's feature spec, or (a card written before the data set
    contract) its data version's record."""
    return card["features"].get("label") or read_data_meta(paths, card["data"]["version"])["features"]["label"]
