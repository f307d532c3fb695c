"""make verify's pieces: which train module refits a model, what a rebuild reports, and the chain
of checks from the raw file to the labels."""
from __future__ import annotations

import pytest

from scripts.core.config import ClockworkError, load_params
from scripts.core.store import environment
from scripts.inspect.verify import Chain, differences, train_entry, verify_chain
from tests.conftest import Repo, copy_of


def test_a_model_refits_with_the_train_module_its_code_record_names():
    assert train_entry({"scripts/pipeline/train.py": "a", "scripts/core/store.py": "b"}) == "scripts.pipeline.train"
    assert train_entry({"scripts/train.py": "a", "scripts/store.py": "b"}) == "scripts.train", "trained before the move"
    with pytest.raises(ClockworkError, match="names no train module"):
        train_entry({"scripts/other.py": "a"})


def test_a_rebuild_reports_each_field_that_differs():
    env = environment()
    card = {"artifact": {"sha256": "a" * 64}, "environment": {**env, "libraries": {**env["libraries"], "numpy": "0.0.1"}}}
    found = differences(card, "b" * 64)
    assert found[0] == f"artifact.sha256: recorded {'a' * 64}, rebuilt {'b' * 64}"
    assert found[1].startswith("environment.libraries.numpy: recorded 0.0.1, now ")
    assert differences({**card, "environment": env}, "a" * 64) == []


def test_the_chain_passes_on_a_fresh_build_and_names_each_broken_link(built: Repo, tmp_path, monkeypatch):
    repo = copy_of(built, tmp_path / "repo")
    monkeypatch.setattr("scripts.inspect.verify.ROOT", repo.path)
    monkeypatch.setattr("scripts.core.config.ROOT", repo.path)
    params = load_params(repo.path / "params.yaml")
    assert verify_chain(params) == ([], [])
    (repo.path / "data/processed/v1/test.csv").write_text("udi\n1\n")
    (repo.path / "models/model_v1.joblib").write_bytes(b"not a model")
    problems, _ = verify_chain(params)
    assert "data v1: data/processed/v1/test.csv sha256 differs from its metadata" in problems
    assert "model v1: artifact sha256 differs from its record" in problems


def test_a_check_that_raises_is_recorded_not_fatal():
    chain = Chain(load_params())

    def broken() -> None:
        raise ClockworkError("registry.json: corrupt JSON")
    assert chain.attempt("registry", broken) is None
    assert chain.check(False, "x differs") is False
    assert chain.problems == ["registry: registry.json: corrupt JSON", "x differs"]
