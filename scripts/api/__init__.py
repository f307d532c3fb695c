"""Clockwork from Python, for notebooks: the registry, a model, a data version, from this clone
or straight from a remote (what MLflow's `models:/name@alias` gives its users).

    from scripts.api import load_model, registry, datasets
    model = load_model("production")                  # the fitted Pipeline, after its sha256 check
    old = load_model("v3", remote="s3://bucket/clockwork")
    registry()["history"][-1]                         # who promoted what, when and why
    train = datasets("v2").frames["train"]            # DataFrames, each checked, with their metadata

Run from the project's directory (its params.yaml names every path), with its .venv.
`remote` is a name from params remote.remotes, a directory, or an s3:// or ssh:// URL; nothing
is written to this clone when reading from a remote.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

from scripts.core import registry as R
from scripts.core.artifacts import MODEL_CARD, data_meta_path, load_split, model_path, read_data_meta, relative
from scripts.core.config import ClockworkError, load_params, validate
from scripts.core.store import sha256_bytes
from scripts.remote import sync
from scripts.remote.location import Remote, open_remote

__all__ = ["Dataset", "datasets", "load_model", "registry"]


@dataclass
class Dataset:
    """A data version: its metadata (the schema-checked vN.json) and one DataFrame per split."""

    version: str
    meta: dict
    frames: dict[str, Any]


def _params() -> dict:
    return load_params()


def _remote(spec: str) -> tuple[Remote, dict]:
    params = _params()
    _, remote = open_remote(spec, params["remote"])
    index, _ = remote.read_index()
    if index is None:
        raise ClockworkError(f"remote {remote.url} holds nothing yet (make push sends a project's state)")
    validate(index, "remote_index", f"remote {remote.url}: index.json")
    return remote, index


def _remote_file(remote: Remote, index: dict, path: str) -> bytes:
    record = index["files"].get(path)
    if record is None:
        raise ClockworkError(f"remote {remote.url}: holds no {path}")
    return remote.get_bytes(record["sha256"])


def registry(remote: str | None = None) -> dict:
    """The registry: versions with their gates and metrics, aliases, and the whole history (its chain
    and aliases checked)."""
    if remote is None:
        return R.load(_params()["paths"])
    return _remote_registry(*_remote(remote))


def _remote_registry(remote: Remote, index: dict) -> dict:
    """A remote's registry (its chain and aliases checked by sync.remote_registry), every version it
    shares with ours registered alike in both (the same entry, so the same sha256)."""
    theirs = sync.remote_registry(remote, index["registry"])
    if theirs is None:
        raise ClockworkError(f"remote {remote.url}: holds no registry yet")
    ours = R.load(_params()["paths"])
    for version in sorted(set(theirs["versions"]) & set(ours["versions"])):
        there, here = theirs["versions"][version], ours["versions"][version]
        if R.entry_hash(there) != R.entry_hash(here):
            raise ClockworkError(f"remote {remote.url}: the registry: {version} is registered there otherwise than here (sha256 "
                                 f"{there['sha256'][:16]}... against ours {here['sha256'][:16]}...); refused")
    return theirs


def _version(ref: str, doc: dict) -> str:
    """An alias ('production', 'challenger') or a version name, as a version name."""
    if ref in doc["aliases"]:
        if doc["aliases"][ref] is None:
            raise ClockworkError(f"the registry's {ref} alias names no version")
        return doc["aliases"][ref]
    if ref not in doc["versions"]:
        raise ClockworkError(f"{ref}: neither an alias ({', '.join(doc['aliases'])}) nor a registered version")
    return ref


def load_model(ref: str = "production", remote: str | None = None) -> Any:
    """The fitted Pipeline of an alias or version, unpickled only when the registry vouches for it: the
    version is registered (on a remote, in a registry whose chain holds and that agrees with ours on
    every version both know) and the file's sha256 is the one the registry recorded."""
    import joblib
    paths = _params()["paths"]
    if remote is None:
        local = R.load(paths)
        return R.load_registered(paths, _version(ref, local), local)[0]
    remote_, index = _remote(remote)
    doc = _remote_registry(remote_, index)
    version = _version(ref, doc)
    vouched = doc["versions"][version]["sha256"]
    card = json.loads(_remote_file(remote_, index, relative(model_path(paths, version, MODEL_CARD))))
    validate(card, "model", f"remote {remote_.url}: model {version}'s card")
    blob = _remote_file(remote_, index, card["artifact"]["path"])
    if not sha256_bytes(blob) == card["artifact"]["sha256"] == vouched:
        raise ClockworkError(f"remote {remote_.url}: model {version}'s artifact has sha256 {sha256_bytes(blob)[:16]}..., "
                             f"not the {vouched[:16]}... its registry recorded; refused")
    return joblib.load(io.BytesIO(blob))


def datasets(version: str, remote: str | None = None) -> Dataset:
    """A data version's splits as DataFrames (each checked against its sha256) with its metadata."""
    import pandas as pd
    paths = _params()["paths"]
    if remote is None:
        meta = read_data_meta(paths, version)
        return Dataset(version, meta, {name: load_split(meta, name) for name in meta["outputs"]})
    remote_, index = _remote(remote)
    meta = json.loads(_remote_file(remote_, index, relative(data_meta_path(paths, version))))
    validate(meta, "data_version", f"remote {remote_.url}: data version {version}")
    frames = {}
    for name, record in meta["outputs"].items():
        blob = _remote_file(remote_, index, record["path"])
        if sha256_bytes(blob) != record["sha256"]:
            raise ClockworkError(f"remote {remote_.url}: {record['path']} differs from its recorded sha256; refused")
        frames[name] = pd.read_csv(io.BytesIO(blob))
    return Dataset(version, meta, frames)
