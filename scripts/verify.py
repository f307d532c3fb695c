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

from scripts import registry as R
from scripts.artifacts import check_sha, read_card, read_data_meta
from scripts.config import ROOT, ClockworkError, cli, load_params
from scripts.store import environment, sha256_file

log = logging.getLogger("clockwork.verify")


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


def verify(paths: dict, version: str | None) -> tuple[bool, list[str]]:
    """Refit a version (default: production) in a temp dir; return (passed, report lines)."""
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
    check_sha(train_csv, card["data"]["train"]["sha256"], f"model {version}")
    report = [f"model {version}: data {card['data']['version']}, {card['algorithm']}, seed {card['params']['seed']}"]
    with tempfile.TemporaryDirectory(prefix="clockwork-verify-") as tmp:
        work = Path(tmp)
        report.append(f"code: {checkout_code(card, work)}")
        spec = {
            "train_csv": str(train_csv),
            "features": {k: card["features"][k] for k in ("derived", "scaling", "one_hot_type")},
            "model": {k: v for k, v in card["params"].items() if k != "hyperparameters"} | card["params"]["hyperparameters"],
        }
        (work / "spec.json").write_text(json.dumps(spec))
        rebuilt = work / "model.joblib"
        done = subprocess.run([sys.executable, "-m", "scripts.train", "--reproduce", "spec.json", "--artifact", str(rebuilt)],
                              cwd=work, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"})
        if done.returncode:
            return False, report + [f"refit failed: {(done.stderr.strip().splitlines() or ['no output'])[-1]}"]
        sha = sha256_file(rebuilt)
    on_disk = sha256_file(ROOT / card["artifact"]["path"])
    diffs = differences(card, sha)
    if on_disk != card["artifact"]["sha256"]:
        diffs.append(f"artifact file {card['artifact']['path']}: sha256 {on_disk} differs from the registered one")
    report.append(f"registered sha256 {card['artifact']['sha256']}")
    report.append(f"rebuilt    sha256 {sha}")
    report.append(f"on disk    sha256 {on_disk}")
    return sha == card["artifact"]["sha256"] == on_disk, report + diffs


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--version", help="model version to verify (default: production)")
    args = parser.parse_args(argv)
    passed, report = verify(load_params()["paths"], args.version)
    print("\n".join(report))
    print("PASS" if passed else "FAIL")
    return 0 if passed else 1


if __name__ == "__main__":
    cli(main)
