"""make profile-batch: each phase of a 3000-row request, in a built copy (a run that times nothing)."""
from __future__ import annotations

from tests.conftest import Repo, copy_of


def test_profile_batch_names_each_phase_and_the_reference(built: Repo, tmp_path):
    repo = copy_of(built, tmp_path / "repo")
    run = repo.make("profile-batch")
    assert run.code == 0, run.err
    labels = [line.rsplit(None, 2)[0].strip() for line in run.out.splitlines() if line.endswith(" ms")]
    assert labels == ["parse", "validate", "score", "format log lines", "append log lines", "total",
                      "predict_proba on the same rows"]
    assert not (repo.path / "logs/predictions.jsonl").exists(), "the profile's traffic stays out of the logs"
