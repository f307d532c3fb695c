"""`make verify`: rebuild the production model from its records and compare sha256.

The production model's card names its data version, params, code (file hashes and git
commit) and environment. verify refits it in a temporary directory from exactly those:
the recorded data split (sha-checked), the recorded params, and the recorded code (the
working tree's if its hashes match, else the files at the recorded commit). A seeded fit
dumps byte-identical joblib, so equal sha256 proves the registered artifact is what its
records say. Prints PASS, or FAIL with the fields that differ.
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

from scripts import MOVED
from scripts.core import registry as R
from scripts.core import retention
from scripts.core.artifacts import (
    MODEL_ARTIFACT,
    MODEL_CARD,
    MODEL_TRAIN_RECORD,
    check_sha,
    data_versions,
    model_path,
    model_versions,
    read_card,
    read_data_meta,
    read_train_record,
)
from scripts.core.config import ROOT, ClockworkError, cli, load_params, validate
from scripts.core.store import (
    atomic_write_bytes,
    environment,
    iter_lines,
    read_csv_rows,
    read_json,
    read_jsonl,
    sha256_bytes,
    sha256_file,
)

log = logging.getLogger("clockwork.verify")
TRAIN_MODULE = "scripts.pipeline.train"


def train_entry(recorded: dict) -> str:
    """The train module by the name the model's recorded code gives it: today's, or the name it had
    before a move (scripts.MOVED), so a model trained before a move still refits from its own code."""
    for name in (TRAIN_MODULE, *(old for old, new in MOVED.items() if new == TRAIN_MODULE)):
        if name.replace(".", "/") + ".py" in recorded:
            return name
    raise ClockworkError(f"the model's code record names no train module ({TRAIN_MODULE} or an earlier name of it)")


def checkout_code(card: dict, into: Path) -> str:
    """Put the model's recorded code in into/scripts; return where it came from."""
    recorded = card["code"]["files"]
    if all((ROOT / f).exists() and sha256_file(ROOT / f) == digest for f, digest in recorded.items()):
        for name in recorded:
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, into / name)
        return "working tree (hashes match the record)"
    commit = card["git"]["commit"]
    if not commit or card["git"]["dirty"]:
        raise ClockworkError(f"model {card['version']}: its code differs from the working tree and was trained from "
                             f"{'a dirty work tree' if commit else 'outside git'}, so it cannot be recovered")
    archive = subprocess.run(["git", "archive", commit, *recorded], cwd=ROOT, capture_output=True)
    if archive.returncode:
        raise ClockworkError(f"git archive {commit[:12]}: {archive.stderr.decode().strip().splitlines()[-1]}")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    for name, digest in recorded.items():
        check_sha(into / name, digest, f"the code record of model {card['version']}")
    return f"git commit {commit[:12]}"


def differences(card: dict, sha: str) -> list[str]:
    """Fields that differ between the record and this rebuild."""
    out = []
    if sha != card["artifact"]["sha256"]:
        out.append(f"artifact.sha256: recorded {card['artifact']['sha256']}, rebuilt {sha}")
    now = environment()
    if now["python"] != card["environment"]["python"]:
        out.append(f"environment.python: recorded {card['environment']['python']}, now {now['python']}")
    for name, version in card["environment"]["libraries"].items():
        if now["libraries"].get(name) != version:
            out.append(f"environment.libraries.{name}: recorded {version}, now {now['libraries'].get(name)}")
    return out


def restore_data(params: dict, version: str, relative: str, sha: str) -> str | None:
    """If make gc collected a data version's split, rebuild it (prepare --restore: byte-identical or
    refused); the line to report, or None if the split was never collected. Raises with prepare's reason."""
    if (ROOT / relative).exists() or not retention.was_collected(params["retention"], relative, sha):
        return None
    done = subprocess.run([sys.executable, "-m", "scripts.pipeline.prepare", "--restore", version], cwd=ROOT,
                          capture_output=True, text=True)
    if done.returncode:
        raise ClockworkError(f"restoring data {version}: {(done.stderr.strip().splitlines() or ['no output'])[-1]}")
    return f"data {version}: make gc had collected its splits; rebuilt from the raw file, byte-identical"


def put_back(params: dict, card: dict, blob: bytes) -> str:
    """The artifact's state on disk; a collected one whose refit matches its record is put back."""
    relative, sha = card["artifact"]["path"], card["artifact"]["sha256"]
    if (ROOT / relative).exists():
        return sha256_file(ROOT / relative)
    if retention.was_collected(params["retention"], relative, sha) and sha256_bytes(blob) == sha:
        atomic_write_bytes(ROOT / relative, blob)
        return sha
    return "missing"


def verify(params: dict, version: str | None) -> tuple[bool, list[str]]:
    """Refit a version (default: production) in a temp dir; return (passed, report lines)."""
    paths = params["paths"]
    registry = R.load(paths)
    version = version or registry["aliases"]["production"]
    if not version:
        raise ClockworkError(f"{paths['registry']}: no production model to verify")
    if version not in registry["versions"]:
        raise ClockworkError(f"VERSION={version}: not in the registry")
    card = read_card(paths, version)
    if card["artifact"]["sha256"] != registry["versions"][version]["sha256"]:
        return False, [f"registry sha256 {registry['versions'][version]['sha256']} differs from the card's {card['artifact']['sha256']}"]
    data_meta = read_data_meta(paths, card["data"]["version"])
    train_csv = ROOT / data_meta["outputs"]["train"]["path"]
    report = [f"model {version}: data {card['data']['version']}, {card['algorithm']}, seed {card['params']['seed']}"]
    restored = restore_data(params, card["data"]["version"], data_meta["outputs"]["train"]["path"], card["data"]["train"]["sha256"])
    report += [restored] if restored else []
    check_sha(train_csv, card["data"]["train"]["sha256"], f"model {version}")
    with tempfile.TemporaryDirectory(prefix="clockwork-verify-") as tmp:
        work = Path(tmp)
        report.append(f"code: {checkout_code(card, work)}")
        spec = {
            "train_csv": str(train_csv),
            # the card's feature spec (what the recorded code's fit reads: a card written before the
            # data set contract holds only derived names, scaling and one_hot_type, all that code read)
            "features": {k: v for k, v in card["features"].items() if k != "model_inputs"},
            "model": {k: v for k, v in card["params"].items() if k != "hyperparameters"} | card["params"]["hyperparameters"],
        }
        (work / "spec.json").write_text(json.dumps(spec))
        rebuilt = work / "model.joblib"
        done = subprocess.run([sys.executable, "-m", train_entry(card["code"]["files"]), "--reproduce", "spec.json", "--artifact", str(rebuilt)],
                              cwd=work, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"})
        if done.returncode:
            return False, report + [f"refit failed: {(done.stderr.strip().splitlines() or ['no output'])[-1]}"]
        sha, blob = sha256_file(rebuilt), rebuilt.read_bytes()
    collected = not (ROOT / card["artifact"]["path"]).exists()
    on_disk = put_back(params, card, blob)
    diffs = differences(card, sha)
    if on_disk != card["artifact"]["sha256"]:
        diffs.append(f"artifact file {card['artifact']['path']}: sha256 {on_disk} differs from the registered one")
    report.append(f"registered sha256 {card['artifact']['sha256']}")
    report.append(f"rebuilt    sha256 {sha}")
    report.append(f"on disk    sha256 {on_disk}" + (" (make gc had collected it; put back)" if collected and on_disk == sha else ""))
    return sha == card["artifact"]["sha256"] == on_disk, report + diffs


def main(argv: list[str]) -> int:
    if argv[:1] == ["--all"]:
        return main_all(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--version", help="model version to verify (default: production)")
    parser.add_argument("--all", action="store_true", help="check the whole chain instead (make verify-all)")
    args = parser.parse_args(argv)
    passed, report = verify(load_params(), args.version)
    print("\n".join(report))
    print("PASS" if passed else "FAIL")
    return 0 if passed else 1



class Chain:
    """Every link from the raw file to the labels; each check appends one line per mismatch."""

    def __init__(self, params: dict):
        self.params, self.paths, self.problems = params, params["paths"], []
        self.gc_log = retention.collected(params["retention"])
        self.collected: list[str] = []  # files make gc deleted on purpose: reported, not mismatches
        self.notes: list[str] = []  # states worth saying that are not mismatches

    def present(self, relative: str, sha: str, message: str) -> bool:
        """True if the file is there; a file make gc collected is noted, anything else missing is a mismatch."""
        if (ROOT / relative).exists():
            return True
        if retention.was_collected(self.params["retention"], relative, sha, self.gc_log):
            self.collected.append(relative)
            return False
        return self.check(False, message)

    def check(self, condition: bool, message: str) -> bool:
        if not condition:
            self.problems.append(message)
        return condition

    def attempt(self, what: str, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except ClockworkError as exc:
            self.problems.append(f"{what}: {exc}")
            return None

    def file_matches(self, record: dict, owner: str, name: str) -> None:
        path = ROOT / record["path"]
        if self.present(record["path"], record["sha256"], f"{owner}: {name} file {record['path']} is missing"):
            self.check(sha256_file(path) == record["sha256"], f"{owner}: {record['path']} sha256 differs from its metadata")

    def raw(self) -> None:
        raw_sha = self.attempt("raw", lambda: sha256_file(ROOT / self.paths["raw"]))
        self.check(raw_sha == self.params["data"]["raw_sha256"], f"{self.paths['raw']}: sha256 differs from data.raw_sha256")

    def data_versions(self) -> None:
        for version in data_versions(self.paths):
            meta = self.attempt(f"data {version}", lambda v=version: read_data_meta(self.paths, v))
            for name, record in {**meta["inputs"], **meta["outputs"]}.items() if meta else ():
                self.file_matches(record, f"data {version}", name)

    def simulated(self) -> None:
        for meta_path in sorted((ROOT / self.paths["production_dir"] / "simulated").glob("*/v*.json")):
            meta = self.attempt(str(meta_path.relative_to(ROOT)), lambda p=meta_path: read_json(p, "simulated_dataset"))
            if meta:
                out = ROOT / meta["output"]["path"]
                self.check(out.exists() and sha256_file(out) == meta["output"]["sha256"],
                           f"{meta['output']['path']}: missing or sha256 differs from {meta_path.name}")

    def model(self, version: str) -> None:
        record = self.attempt(f"model {version}", lambda: read_train_record(self.paths, version))
        if not record:
            return
        artifact = ROOT / record["artifact"]["path"]
        if self.present(record["artifact"]["path"], record["artifact"]["sha256"],
                        f"model {version}: {record['artifact']['path']} is missing"):
            self.check(sha256_file(artifact) == record["artifact"]["sha256"], f"model {version}: artifact sha256 differs from its record")
        data = self.attempt(f"model {version}", lambda: read_data_meta(self.paths, record["data"]["version"]))
        if data:
            self.check(data["outputs"]["train"]["sha256"] == record["data"]["train"]["sha256"],
                       f"model {version}: trained on data whose sha256 is not data {record['data']['version']}'s train split")
        if model_path(self.paths, version, MODEL_CARD).exists():
            card = self.attempt(f"model {version}", lambda: read_card(self.paths, version))
            if card:
                self.check(card["artifact"]["sha256"] == record["artifact"]["sha256"], f"model {version}: card and record disagree on sha256")

    def registry(self) -> dict | None:
        registry = self.attempt("registry", lambda: R.load(self.paths))
        for version, entry in (registry or {"versions": {}})["versions"].items():
            card = self.attempt(f"registry {version}", lambda v=version: read_card(self.paths, v))
            if card:
                self.check(card["artifact"]["sha256"] == entry["sha256"], f"registry {version}: sha256 differs from the model card")
        for event in (registry or {"history": []})["history"]:
            for version in (event["from"], event["to"]):
                self.check(version is None or version in registry["versions"], f"registry history names unknown version {version}")
        return registry

    def unregistered(self, registry: dict | None, pending: str | None = None) -> None:
        """Files in the models folder that no registry entry accounts for: never loaded, named here. The
        version make's train pointer names (pending) is the pipeline's own, awaiting make register: a note."""
        folder = ROOT / self.paths["models_dir"]
        registry_path = ROOT / self.paths["registry"]
        known = {registry_path.with_name(registry_path.name + ".lock")} | {ROOT / path for path in self.paths.values()}
        registered = set((registry or {"versions": {}})["versions"])
        for version in registered | ({pending} - {None}):
            known |= {model_path(self.paths, version, pattern) for pattern in (MODEL_ARTIFACT, MODEL_CARD, MODEL_TRAIN_RECORD)}
        if pending is not None and pending not in registered and model_path(self.paths, pending, MODEL_TRAIN_RECORD).exists():
            self.notes.append(f"model {pending}: trained by make, not registered yet (make train or make register registers it)")
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.name.startswith(".") and path not in known and path.suffix != ".lock" \
                    and not path.name.startswith(registry_path.name + ".ours-"):
                self.problems.append(f"{path.relative_to(ROOT)}: no registry entry vouches for it, so nothing loads it "
                                     "(make train registers what a killed run left; otherwise it was put there by hand)")

    def deployments(self, registry: dict) -> None:
        log_path = ROOT / self.params["deployment"]["deployment_log"]
        if log_path.exists():
            for number, row in enumerate(read_csv_rows(log_path), 2):
                doc = {**row, "pid": int(row["pid"]) if row["pid"].isdigit() else row["pid"],
                       **{k: row[k] or None for k in ("model_version", "model_sha256", "data_version", "git_commit")}}
                try:
                    validate(doc, "deployment_event", f"{log_path.name}:{number}")
                except ClockworkError as exc:
                    self.problems.append(str(exc))
                    continue
                version = row["model_version"]
                if version and row["event"] != "refused":
                    known = registry["versions"].get(version)
                    self.check(known is not None and known["sha256"] == row["model_sha256"],
                               f"{log_path.name}:{number}: {row['event']} of {version} with a sha256 the registry does not hold")

    def experiments(self, registry: dict) -> None:
        log_name = self.paths["experiments_log"]
        for run in self.attempt("experiments", lambda: read_jsonl(ROOT / log_name)) or []:
            if run["version"] is None:  # a run that failed names no model
                continue
            entry = registry["versions"].get(run["version"])
            self.check(entry is not None and entry["data_version"] == run["data_version"],
                       f"{log_name}: experiment {run['name']} names {run['version']}, which the registry does not hold "
                       f"with data {run['data_version']}")

    def labels(self) -> None:
        predictions = {p["prediction_id"] for p in self.attempt(
            "predictions", lambda: read_jsonl(ROOT / self.params["deployment"]["predictions_log"])) or []}
        labels = self.attempt("labels", lambda: read_jsonl(ROOT / self.params["replay"]["labels_log"])) or []
        unknown = [label["prediction_id"] for label in labels if label["prediction_id"] not in predictions]
        self.check(not unknown, f"{self.params['replay']['labels_log']}: {len(unknown)} labels refer to unknown predictions "
                                f"(first: {unknown[0] if unknown else ''})")


    def records(self, registry: dict | None) -> None:
        """The manifest names every data version and simulated dataset once; the metadata log every
        registered model version once."""
        simulated = ROOT / self.paths["production_dir"] / "simulated"
        expected = {self.paths["manifest"]: data_versions(self.paths) + [
            f"simulated/{p.parent.name}/{p.stem}" for p in sorted(simulated.glob("*/v*.json"))]}
        if registry:
            expected[self.paths["metadata_log"]] = sorted(registry["versions"])
        for log_name, keys in expected.items():
            seen = [line.split(" ", 1)[0] for _, line in iter_lines(ROOT / log_name)]
            for key in keys:
                count = seen.count(key)
                self.check(count == 1, f"{log_name}: {key} has {count} lines, expected 1"
                                       + (" (make train writes a missing one again)" if count == 0 else ""))

    def temp_files(self) -> None:
        """Temp files a killed writer left behind (the next run of the stage sweeps them)."""
        for key in ("processed_dir", "production_dir", "models_dir"):
            for path in sorted((ROOT / self.paths[key]).rglob(".*.tmp")):
                self.problems.append(f"{path.relative_to(ROOT)}: a temp file a killed writer left (the next make train sweeps it)")


def verify_chain(params: dict, pending: str | None = None) -> tuple[list[str], list[str]]:
    """Every link from the raw file to the deployment log: (one line per mismatch, files make gc collected);
    with pending (make's train pointer), a note line joins the second list when that version awaits register."""
    chain = Chain(params)
    chain.raw()
    chain.data_versions()
    chain.simulated()
    for version in model_versions(chain.paths):
        chain.model(version)
    registry = chain.registry()
    chain.unregistered(registry, pending)
    if registry:
        chain.deployments(registry)
        chain.experiments(registry)
    chain.labels()
    chain.records(registry)
    chain.temp_files()
    return chain.problems, chain.collected + chain.notes


def main_all(argv: list[str]) -> int:
    """`make verify-all`: print every mismatch in the chain, or PASS."""
    parser = argparse.ArgumentParser(description="make verify-all")
    parser.add_argument("--pointer", type=Path, help="make's train pointer: the version the pipeline trained last")
    args = parser.parse_args(argv)
    params = load_params()
    pending = args.pointer.read_text().split()[0] if args.pointer and args.pointer.is_file() and args.pointer.read_text().split() else None
    problems, reported = verify_chain(params, pending)
    notes = [line for line in reported if line.startswith(f"model {pending}: ")]
    collected = [line for line in reported if line not in notes]
    for problem in problems:
        print(f"MISMATCH {problem}")
    for note in notes:
        print(f"note: {note}")
    if collected:
        print(f"collected: {len(collected)} files make gc deleted on purpose ({params['retention']['log']}); "
              "their records stand, make verify VERSION=vN rebuilds a model")
    print("PASS: raw -> data versions -> models -> registry -> deployment log -> manifest and metadata log all agree" if not problems
          else f"FAIL: {len(problems)} mismatch(es)")
    return 1 if problems else 0
if __name__ == "__main__":
    cli(main)
