"""Make behaviour, proved with the real make in a temporary copy of the repository."""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import time

import pandas as pd

from tests.conftest import Repo, fresh_copy


def test_full_build_from_scratch_creates_one_of_everything(built: Repo):
    assert built.data_versions == ["v1.json"]
    assert built.model_versions == ["model_v1.joblib"]
    registry = built.json("models/registry.json")
    assert registry["aliases"]["production"] == "v1"
    assert [e["action"] for e in registry["history"]] == ["register", "promote"]
    assert len((built.path / "data/manifest.txt").read_text().splitlines()) == 1
    assert len((built.path / "models/model_metadata.log").read_text().splitlines()) == 1


def test_second_run_is_a_noop_and_starts_no_python(repo: Repo):
    run = repo.make("train", "PY=false")  # any recipe that ran Python would fail
    assert run.code == 0, run.err
    assert run.stages == []
    assert "Nothing to be done for 'train'" in run.out
    assert repo.data_versions == ["v1.json"] and repo.model_versions == ["model_v1.joblib"]


def test_touch_rehashes_once_and_rebuilds_nothing(repo: Repo):
    time.sleep(0.01)
    for name in ["data/raw/ai4i2020.csv", "params.yaml", "requirements.txt", "scripts/pipeline/train.py", "scripts/core/store.py"]:
        os.utime(repo.path / name)
    run = repo.make("train")
    assert run.code == 0, run.err
    assert run.stages == []
    again = repo.make("train", "PY=false")  # checked markers: nothing is hashed a second time
    assert again.code == 0 and "Nothing to be done" in again.out


def test_comment_and_key_order_changes_rebuild_nothing(repo: Repo):
    text = (repo.path / "params.yaml").read_text()
    sections = text.split("\n\n")
    reordered = "# a new comment\n" + "\n\n".join([sections[0], *reversed(sections[1:])])
    reordered = reordered.replace("  seed: 42", "  seed: 42   # same value, new comment")
    (repo.path / "params.yaml").write_text(reordered)
    run = repo.make("train")
    assert run.code == 0, run.err
    assert run.stages == []


def test_hyperparameter_change_reruns_train_and_evaluate_not_prepare(repo: Repo):
    repo.set_param("model", "n_estimators", 60)
    run = repo.make("train")
    assert run.code == 0, run.err
    assert run.stages == ["train", "evaluate", "register"]
    assert repo.data_versions == ["v1.json"]
    assert repo.model_versions == ["model_v1.joblib", "model_v2.joblib"]
    card = repo.json("models/model_v2.json")
    assert card["params"]["hyperparameters"]["n_estimators"] == 60
    assert card["data"]["version"] == "v1"


def test_data_param_change_makes_a_new_data_version_and_revert_reuses_the_old(repo: Repo):
    repo.set_param("data", "test_rows", 1400)
    run = repo.make("train")
    assert run.code == 0, run.err
    assert run.stages == ["prepare", "train", "evaluate", "register"]
    assert repo.data_versions == ["v1.json", "v2.json"]
    assert repo.json("data/processed/v2.json")["outputs"]["test"]["rows"] == 1400
    assert repo.model_versions == ["model_v1.joblib", "model_v2.joblib"]

    repo.set_param("data", "test_rows", 1500)
    run = repo.make("train")
    assert run.code == 0, run.err
    assert repo.data_versions == ["v1.json", "v2.json"], "reverting must not create a duplicate data version"
    assert repo.model_versions == ["model_v1.joblib", "model_v2.joblib"], "nor a duplicate model version"
    assert (repo.path / ".make/out/prepare").read_text().strip() == "v1"
    assert (repo.path / ".make/out/train").read_text().strip() == "v1"
    assert len((repo.path / "data/manifest.txt").read_text().splitlines()) == 2


def test_missing_params_file_stops_with_one_clear_line(repo: Repo):
    (repo.path / "params.yaml").unlink()
    run = repo.make("train")
    assert run.code != 0
    assert "params.yaml: file not found" in run.err
    assert "Traceback" not in run.err


def test_invalid_params_name_the_file_and_key(repo: Repo):
    cases = [
        ("model", "n_estimators", -5, "model.n_estimators: -5 is less than the minimum of 1"),
        ("model", "algorithm", "xgboost", "model.algorithm: 'xgboost' is not one of"),
        ("data", "train_window_rows", "many", "data.train_window_rows: 'many' is not of type 'integer'"),
    ]
    original = (repo.path / "params.yaml").read_text()
    for section, key, value, message in cases:
        (repo.path / "params.yaml").write_text(original)
        repo.set_param(section, key, value)
        run = repo.make("train")
        assert run.code != 0, (key, run.out)
        assert message in run.err, run.err
        assert "Traceback" not in run.err
    head, model = original.split("\nmodel:\n", 1)
    (repo.path / "params.yaml").write_text(head + "\nmodel:\n" + model.replace("  seed: 42", "", 1))
    run = repo.make("train")
    assert run.code != 0 and "model.seed: missing required key" in run.err, run.err
    assert repo.model_versions == ["model_v1.joblib"], "a bad params.yaml must leave the versions untouched"


def test_killed_training_leaves_no_partial_artifact_and_next_run_recovers(repo: Repo):
    repo.set_param("model", "n_estimators", 3000)  # long enough to kill mid-fit
    proc = subprocess.Popen(["make", "train"], cwd=repo.path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        if any(p for p in _children(proc.pid) if "scripts.pipeline.train" in p[1]):
            break
        time.sleep(0.1)
    time.sleep(1.0)
    for pid, command in _children(proc.pid):
        if "scripts.pipeline.train" in command:
            os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    assert repo.model_versions == ["model_v1.joblib"], "no model file may appear from a killed fit"
    assert not list((repo.path / "models").glob(".*.tmp"))
    assert not (repo.path / ".make/out/train.done").exists() or \
        (repo.path / ".make/out/train.done").stat().st_mtime < (repo.path / ".make/stamps/params-model.sha").stat().st_mtime

    repo.set_param("model", "n_estimators", 40)
    run = repo.make("train")
    assert run.code == 0, run.err
    assert run.stages == ["train", "evaluate", "register"]
    assert repo.model_versions == ["model_v1.joblib", "model_v2.joblib"]
    assert "v2" in repo.json("models/registry.json")["versions"]


def _children(parent: int) -> list[tuple[int, str]]:
    """(pid, command line) of every process below parent."""
    out = subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True).stdout
    table = [(int(p), int(pp), args) for p, pp, args in (line.split(None, 2) for line in out.splitlines() if line.strip())]
    found, frontier = [], {parent}
    while frontier:
        nxt = {p for p, pp, _ in table if pp in frontier}
        found += [(p, a) for p, pp, a in table if pp in frontier]
        frontier = nxt
    return found


def test_failed_stage_leaves_no_target_and_no_half_version(repo: Repo):
    (repo.path / "data/raw/ai4i2020.csv").write_text("UDI,Type\n1,L\n")
    repo.set_param("data", "raw_sha256", __import__("hashlib").sha256(b"UDI,Type\n1,L\n").hexdigest())
    run = repo.make("train")
    assert run.code != 0
    assert "missing column(s)" in run.err
    assert repo.data_versions == ["v1.json"]
    assert (repo.path / ".make/out/prepare").read_text().strip() == "v1"
    assert not list((repo.path / "data/processed").glob(".v*"))


def test_raw_file_with_other_sha256_is_refused(repo: Repo):
    raw = repo.path / "data/raw/ai4i2020.csv"
    raw.write_bytes(raw.read_bytes().replace(b"298.1,308.6", b"298.2,308.6", 1))
    run = repo.make("train")
    assert run.code != 0
    assert "differs from data.raw_sha256" in run.err and "immutable" in run.err


def test_clean_bookkeeping_then_rebuild_reuses_every_version(repo: Repo):
    assert repo.make("clean").code == 0
    run = repo.make("train")
    assert run.code == 0, run.err
    assert repo.data_versions == ["v1.json"] and repo.model_versions == ["model_v1.joblib"]
    assert len(repo.json("models/registry.json")["history"]) == 2


def test_help_is_default_and_lists_every_target(repo: Repo):
    run = repo.make()
    assert run.code == 0
    for target in ["train", "prepare", "evaluate", "register", "promote", "rollback", "dag", "status", "metrics",
                   "metrics-diff", "params-diff", "verify", "test", "registry"]:
        assert f"make {target} " in run.out, target


def test_dag_prints_the_stages_and_their_inputs(repo: Repo):
    run = repo.make("dag")
    assert run.code == 0, run.err
    assert "prepare ─► train ─► evaluate ─► register" in run.out
    assert "scripts/pipeline/train.py" in run.out and "model" in run.out


def test_status_names_the_stale_stage_and_the_reason(repo: Repo):
    run = repo.make("status")
    assert run.code == 0, run.err
    stages, outputs = run.out.strip().splitlines()[:4], run.out.strip().splitlines()[4:]
    assert all(line.endswith("up to date") for line in stages), run.out
    assert outputs == ["outputs   every data version, model, card and the registry match their records"]
    repo.set_param("model", "n_estimators", 70)
    lines = dict(line.split(None, 1) for line in repo.make("status").out.strip().splitlines()[:4])
    assert lines["prepare"] == "up to date"
    assert "params.yaml section 'model' changed" in lines["train"]
    assert "upstream train is stale" in lines["evaluate"]
    os.utime(repo.path / "scripts/pipeline/prepare.py")
    assert "prepare   up to date" in repo.make("status").out, "a touch is not a change"


def fresh_git_repo(tmp_path) -> Repo:
    repo = fresh_copy(tmp_path / "git")
    subprocess.run("git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm init",
                   shell=True, cwd=repo.path, check=True)
    return repo


def test_verify_refits_production_and_compares_sha256(tmp_path):
    repo = fresh_git_repo(tmp_path)
    repo.set_param("model", "n_estimators", 30)
    subprocess.run("git -c user.name=t -c user.email=t@t commit -qam small", shell=True, cwd=repo.path, check=True)
    assert repo.make("train").code == 0
    card = repo.json("models/model_v1.json")
    assert card["git"]["dirty"] is False and len(card["git"]["commit"]) == 40
    run = repo.make("verify")
    assert run.code == 0, run.out + run.err
    assert run.out.strip().endswith("PASS")
    assert "working tree" in run.out

    # Edit the code afterwards: verify must fetch the recorded commit's code and still pass.
    train_py = repo.path / "scripts/pipeline/train.py"
    train_py.write_text(train_py.read_text() + "\n# an edit after training\n")
    run = repo.make("verify")
    assert run.code == 0 and "git commit" in run.out and run.out.strip().endswith("PASS"), run.out + run.err

    # Tamper with the artifact: the registry's sha256 no longer matches the file.
    model = repo.path / "models/model_v1.joblib"
    model.write_bytes(model.read_bytes() + b"\0")
    run = repo.make("verify")
    assert run.code != 0 and "FAIL" in run.out and "artifact" in run.out, run.out + run.err


def test_metadata_that_breaks_its_schema_fails_the_stage_and_leaves_nothing(repo: Repo):
    schema_path = repo.path / "schemas/data_version.schema.json"
    schema = schema_path.read_text()
    strict = json.loads(schema)
    strict["required"].insert(0, "reviewed_by")
    schema_path.write_text(json.dumps(strict))
    repo.set_param("data", "test_rows", 1300)
    run = repo.make("train")
    assert run.code != 0
    assert "reviewed_by: missing required key" in run.err
    assert repo.data_versions == ["v1.json"]
    assert sorted(p.name for p in (repo.path / "data/processed").iterdir()) == [".lock", "v1", "v1.json"]
    assert sorted(p.name for p in (repo.path / "data/production").iterdir()) == ["v1"]
    assert len((repo.path / "data/manifest.txt").read_text().splitlines()) == 1

    schema_path.write_text(schema)
    run = repo.make("train")
    assert run.code == 0, run.err
    assert repo.data_versions == ["v1.json", "v2.json"]


def test_lint_passes_on_the_project_and_catches_secrets_and_binaries(tmp_path):
    import shutil

    from tests.conftest import ROOT

    repo = fresh_copy(tmp_path / "lint")
    for name in (".pre-commit-config.yaml", ".ruff.toml"):
        shutil.copy2(ROOT / name, repo.path / name)
    shutil.copytree(ROOT / "tests", repo.path / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    git = "git -c user.name=t -c user.email=t@t"
    subprocess.run(f"git init -q && {git} add -A && {git} commit -qm init", shell=True, cwd=repo.path, check=True)
    run = repo.make("lint")
    assert run.code == 0, run.out + run.err

    (repo.path / "deploy.yaml").write_text("service:\n  api_token: s3cr3t-value\n")
    (repo.path / "models/model_v9.joblib").write_bytes(b"\x80\x04fake")
    subprocess.run(f"git add -f deploy.yaml models/model_v9.joblib && {git} commit -qm bad", shell=True, cwd=repo.path, check=True)
    run = repo.make("lint")
    assert run.code != 0
    assert "deploy.yaml:2: 'token' set to a literal value" in run.out
    assert "models/model_v9.joblib: model binary" in run.out


def test_synth_file_runs_through_the_pipeline_via_params(repo: Repo):
    run = repo.make("synth", "ROWS=3000")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    raw = next(line.split(": ", 1)[1] for line in lines if line.strip().startswith("paths.raw:"))
    sha = next(line.split(": ", 1)[1] for line in lines if line.strip().startswith("data.raw_sha256:"))
    assert (repo.path / raw).exists() and raw.startswith("data/raw/synth/")
    synth = pd.read_csv(repo.path / raw)
    assert list(synth.columns) == list(pd.read_csv(repo.path / "data/raw/ai4i2020.csv", nrows=1).columns)
    # The labels follow the published rules exactly.
    power = synth["Torque [Nm]"] * synth["Rotational speed [rpm]"] * 2 * math.pi / 60
    assert ((power < 3500) | (power > 9000)).astype(int).equals(synth["PWF"])
    heat = ((synth["Process temperature [K]"] - synth["Air temperature [K]"]) < 8.6) & (synth["Rotational speed [rpm]"] < 1380)
    assert heat.astype(int).equals(synth["HDF"])
    text = (repo.path / "params.yaml").read_text()
    text = text.replace("raw: data/raw/ai4i2020.csv", f"raw: {raw}", 1)
    text = text.replace("ec4ed737b27c4e65730e3b875626ddb4db005d79733f0fc1f59d72db467cd670", sha)
    (repo.path / "params.yaml").write_text(text)
    repo.set_param("data", "train_window_rows", 2100)
    repo.set_param("data", "test_rows", 420)
    repo.set_param("data", "production_rows", 900)
    repo.set_param("model", "n_estimators", 30)
    run = repo.make("train")
    assert run.code == 0, run.err
    assert run.stages == ["prepare", "train", "evaluate", "register"]
    meta = repo.json("data/processed/v2.json")
    assert meta["inputs"]["raw"] == {"path": raw, "sha256": sha, "rows": 3000}


def test_an_unknown_goal_names_the_nearest_targets_in_one_line(repo: Repo):
    run = repo.make("trian")
    assert run.code == 2 and run.err.startswith("error: make trian: no such target; did you mean make train"), run.err
    run = repo.make("predict")
    assert run.code == 2 and run.err.startswith("error: make predict: no such target;") and "make help" in run.err
    assert run.stages == []
