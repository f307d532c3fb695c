"""The notebook API, on a built project and on a remote it was pushed to, in a fresh process as a
notebook would use it."""
from __future__ import annotations

import json
import subprocess

from tests.conftest import copy_of

SCRIPT = """
import json, sys
from scripts.api import load_model, registry, datasets
remote = sys.argv[1] or None
model = load_model("production", remote=remote)
data = datasets("v1", remote=remote)
test = data.frames["test"]
probabilities = model.predict_proba(test)[:, 1]
print(json.dumps({"production": registry(remote)["aliases"]["production"], "splits": sorted(data.frames),
                  "rows": len(test), "sha": data.meta["outputs"]["test"]["sha256"],
                  "same_v1": load_model("v1", remote=remote).predict_proba(test)[:, 1].tolist() == probabilities.tolist(),
                  "mean": float(probabilities.mean())}))
"""

BAD = """
from scripts.api import load_model
load_model("v99")
"""


def run(repo, script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(repo.path / ".venv/bin/python"), "-c", script, *args], cwd=repo.path,
                          capture_output=True, text=True)


def test_the_api_reads_the_same_from_the_clone_and_from_a_remote(built, tmp_path):
    repo = copy_of(built, tmp_path / "repo")
    assert repo.make("push", f"REMOTE={tmp_path / 'remote'}").code == 0
    local, remote = (run(repo, SCRIPT, arg) for arg in ("", str(tmp_path / "remote")))
    assert local.returncode == 0 and remote.returncode == 0, local.stderr + remote.stderr
    assert json.loads(local.stdout) == json.loads(remote.stdout)
    doc = json.loads(local.stdout)
    assert doc["production"] == "v1" and doc["splits"] == ["production", "test", "train"] and doc["same_v1"]
    assert doc["rows"] == repo.params()["data"]["test_rows"]


def test_a_damaged_model_is_refused_before_it_is_unpickled(built, tmp_path):
    repo = copy_of(built, tmp_path / "repo")
    model = repo.path / "models/model_v1.joblib"
    model.write_bytes(model.read_bytes() + b"x")
    done = run(repo, "from scripts.api import load_model\nload_model('production')")
    assert done.returncode != 0 and "refusing to load it" in done.stderr
    done = run(repo, BAD)
    assert "v99: neither an alias (production" in done.stderr


def test_only_a_version_the_registry_vouches_for_is_unpickled_locally_or_from_a_remote(built, tmp_path):
    import hashlib

    from tests.conftest import plant_model

    repo = copy_of(built, tmp_path / "repo")
    marker = tmp_path / "unpickled"
    plant_model(repo, "v99", marker)
    done = run(repo, "from scripts.api import load_model\nload_model('v99')")
    assert done.returncode != 0 and "v99: neither an alias" in done.stderr and not marker.exists()

    remote = tmp_path / "remote"
    (repo.path / "models/model_v99.joblib").unlink()
    assert repo.make("push", f"REMOTE={remote}").code == 0
    index = json.loads((remote / "index.json").read_text())
    # An attacker with write access to the remote swaps v1's object and card, and the index naming them.
    blob = plant_model(repo, "v98", marker).read_bytes()
    sha = hashlib.sha256(blob).hexdigest()
    (remote / "objects" / sha).write_bytes(blob)
    card = json.loads((repo.path / "models/model_v98.json").read_text()) | {"version": "v1"}
    card["artifact"]["path"] = "models/model_v1.joblib"
    card_blob = json.dumps(card).encode()
    card_sha = hashlib.sha256(card_blob).hexdigest()
    (remote / "objects" / card_sha).write_bytes(card_blob)
    index["files"]["models/model_v1.joblib"] = {**index["files"]["models/model_v1.joblib"], "sha256": sha, "bytes": len(blob)}
    index["files"]["models/model_v1.json"] = {**index["files"]["models/model_v1.json"], "sha256": card_sha, "bytes": len(card_blob)}
    (remote / "index.json").write_text(json.dumps(index))
    done = run(repo, f"from scripts.api import load_model\nload_model('v1', remote={str(remote)!r})")
    assert done.returncode != 0 and "not the" in done.stderr and "its registry recorded; refused" in done.stderr, done.stderr
    assert not marker.exists(), "the payload ran"
