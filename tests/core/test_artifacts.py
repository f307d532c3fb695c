"""Where versions live and how they load: every load checks the recorded sha256 first."""
from __future__ import annotations

import io
import pickle

import joblib
import pytest

from scripts.core.artifacts import (
    check_sha,
    data_meta_path,
    data_split_paths,
    data_versions,
    load_model,
    model_path,
    model_versions,
    read_pointer,
)
from scripts.core.config import ClockworkError
from scripts.core.store import sha256_bytes


class Tripwire:
    """Unpickling this runs code: it writes the file it names."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture
def paths(tmp_path) -> dict:
    return {"processed_dir": str(tmp_path / "processed"), "production_dir": str(tmp_path / "production"),
            "models_dir": str(tmp_path / "models")}


def test_a_model_whose_bytes_differ_from_its_record_is_never_unpickled(tmp_path):
    marker = tmp_path / "ran"
    artifact = tmp_path / "model_v1.joblib"
    buffer = io.BytesIO()
    joblib.dump(Tripwire(str(marker)), buffer)
    artifact.write_bytes(buffer.getvalue())
    meta = {"version": "v1", "artifact": {"path": str(artifact), "sha256": sha256_bytes(b"something else")}}
    with pytest.raises(ClockworkError, match=r"model_v1.joblib: sha256 .* differs .* recorded for model v1; refusing to load it"):
        load_model(meta)
    assert not marker.exists(), "the artifact was unpickled before its sha256 was checked"


def test_a_model_whose_bytes_match_loads(tmp_path):
    artifact = tmp_path / "model_v2.joblib"
    buffer = io.BytesIO()
    joblib.dump({"weights": [1, 2, 3]}, buffer)
    artifact.write_bytes(buffer.getvalue())
    assert load_model({"version": "v2", "artifact": {"path": str(artifact), "sha256": sha256_bytes(buffer.getvalue())}}) == \
        {"weights": [1, 2, 3]}


def test_an_unreadable_model_file_is_one_line(tmp_path):
    with pytest.raises(ClockworkError, match="cannot read model artifact"):
        load_model({"version": "v3", "artifact": {"path": str(tmp_path / "missing.joblib"), "sha256": "0" * 64}})


def test_check_sha_names_the_file_and_the_record(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("a,b\n1,2\n")
    check_sha(path, sha256_bytes(b"a,b\n1,2\n"), "data version v1")
    path.write_text("a,b\n1,3\n")
    with pytest.raises(ClockworkError, match=r"train.csv: sha256 .* recorded in data version v1"):
        check_sha(path, sha256_bytes(b"a,b\n1,2\n"), "data version v1")


def test_a_pointer_names_its_version_or_says_to_run_the_upstream_stage(tmp_path):
    pointer = tmp_path / "train"
    pointer.write_text("v7\n")
    assert read_pointer(pointer) == "v7"
    pointer.write_text("")
    with pytest.raises(ClockworkError, match="missing or empty; run the upstream stage first"):
        read_pointer(pointer)
    with pytest.raises(ClockworkError, match="missing or empty"):
        read_pointer(tmp_path / "nothing")


def test_only_committed_versions_count_and_in_numeric_order(paths, tmp_path):
    processed, models = tmp_path / "processed", tmp_path / "models"
    for version in ("v1", "v2", "v10", "v9"):
        data_meta_path(paths, version).parent.mkdir(parents=True, exist_ok=True)
        data_meta_path(paths, version).write_text("{}")
    (processed / "v11").mkdir()  # a version directory without its metadata: not committed
    (processed / ".v12.x").mkdir()
    assert data_versions(paths) == ["v1", "v2", "v9", "v10"]
    models.mkdir()
    for name in ("model_v1.train.json", "model_v3.train.json", "model_v2.joblib", "model_vx.train.json"):
        (models / name).write_text("{}")
    assert model_versions(paths) == ["v1", "v3"], "a version is trained once its training record exists"


def test_a_data_version_keeps_production_rows_apart(paths, tmp_path):
    files = data_split_paths(paths, "v4")
    assert files["train"] == tmp_path / "processed/v4/train.csv" and files["test"] == tmp_path / "processed/v4/test.csv"
    assert files["production"] == tmp_path / "production/v4/production.csv"
    assert model_path(paths, "v4", "model_{v}.json") == tmp_path / "models/model_v4.json"
    assert pickle.loads(pickle.dumps(files)) == files
