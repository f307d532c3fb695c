"""Data quality of a real data version built by make: schema, ranges, no leakage, time order."""
from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from scripts.core import features as F
from scripts.core.config import ROOT, validate
from scripts.core.contract import Contract
from tests import ai4i as A
from tests.conftest import Repo

SHARED_RAW_SHA256 = "ec4ed737b27c4e65730e3b875626ddb4db005d79733f0fc1f59d72db467cd670"


@pytest.fixture(scope="module")
def version(built: Repo) -> tuple[dict, dict[str, pd.DataFrame]]:
    meta = built.json("data/processed/v1.json")
    splits = {name: pd.read_csv(built.path / record["path"]) for name, record in meta["outputs"].items()}
    return meta, splits


def test_raw_file_is_the_pinned_byte_identical_copy():
    digest = hashlib.sha256((ROOT / "data/raw/ai4i2020.csv").read_bytes()).hexdigest()
    assert digest == SHARED_RAW_SHA256


def test_metadata_validates_and_records_every_file(built: Repo, version):
    meta, splits = version
    validate(meta, "data_version", "v1.json")
    for name, record in meta["outputs"].items():
        assert hashlib.sha256((built.path / record["path"]).read_bytes()).hexdigest() == record["sha256"]
        assert record["rows"] == len(splits[name])
        assert record["label_rate"] == pytest.approx(splits[name][A.LABEL].mean(), abs=1e-6)
    assert meta["inputs"]["raw"] == {"path": "data/raw/ai4i2020.csv", "sha256": SHARED_RAW_SHA256, "rows": 10000}
    assert meta["label_quirks"]["unexplained_failure"]["rows"] + meta["label_quirks"]["rnf_without_failure"]["rows"] > 0


def test_split_sizes_follow_params(version):
    meta, splits = version
    data = meta["params"]["data"]
    assert len(splits["train"]) == data["train_window_rows"] - data["test_rows"]
    assert len(splits["test"]) == data["test_rows"]
    assert len(splits["production"]) == data["production_rows"]


def test_schema_types_ranges_and_no_nulls(version):
    meta, splits = version
    for frame in splits.values():
        assert not frame.isna().any().any()
        assert set(frame["type"]) <= set(A.TYPES)
        assert set(frame[A.LABEL]) <= {0, 1}
        for column, (low, high) in Contract.from_params(meta["params"]["dataset"]).ranges.items():
            assert frame[column].between(low, high).all(), column


def test_derived_features_match_the_model_pipeline_function(version):
    meta, splits = version
    frame = splits["test"]
    contract = Contract.from_params(meta["params"]["dataset"])
    names = meta["features"]["derived"]
    assert names == ["temp_diff_k", "power_w", "strain_min_nm"]
    recomputed = F.add_derived(frame, names, contract.input_names, contract.derived_texts(names))
    for name in names:
        assert (recomputed[name] - frame[name]).abs().max() < 1e-9


def test_no_udi_in_more_than_one_split(version):
    _, splits = version
    ids = [set(frame["udi"]) for frame in splits.values()]
    assert not ids[0] & ids[1] and not ids[0] & ids[2] and not ids[1] & ids[2]


def test_chronological_order_is_kept(version):
    _, splits = version
    for frame in splits.values():
        assert frame["udi"].is_monotonic_increasing
    assert splits["train"]["udi"].max() < splits["test"]["udi"].min() < splits["production"]["udi"].min()
    assert splits["production"]["udi"].max() == 10000


def test_failure_modes_are_never_model_features(built: Repo):
    card = built.json("models/model_v1.json")
    for column in [*A.FAILURE_MODES, A.LABEL, "udi", "product_id"]:
        assert not any(column in name for name in card["features"]["model_inputs"]), column
