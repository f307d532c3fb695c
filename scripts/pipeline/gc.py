"""`make gc`: free the disk that versions nobody needs any more take, keeping their records.

  python -m scripts.pipeline.gc [--confirm] [--remote NAME-OR-URL]

What is kept follows params retention (see scripts/core/retention.py): production and every
alias, the version each alias moved from, the newest keep_last versions, whatever the deployment
log shows served in the last keep_days, and the data versions kept models trained on. Of the
rest, only the bulky files go: a model's joblib, a data version's splits. The registry, the
history, the cards, the training records and the data versions' metadata stay, so the history
still reads, `make verify-all` reports each collected file as collected, and
`make verify VERSION=vN` rebuilds a collected model from its records.

Without --confirm nothing is deleted: it prints what would go and the bytes freed. With --remote,
the same files also leave the remote's index, and objects no index entry names are deleted (the
local registry must be the remote's: make pull first).
"""
from __future__ import annotations

import argparse
from datetime import datetime, timezone

from scripts.core import registry as R
from scripts.core import retention
from scripts.core.artifacts import data_versions, model_versions, read_data_meta, read_train_record
from scripts.core.config import ROOT, ClockworkError, cli, load_params, repo_path
from scripts.core.store import read_csv_rows, sha256_file

SECTIONS = ("paths", "retention", "deployment", "remote")


def plan(params: dict) -> tuple[list[dict], dict[str, str], dict[str, str]]:
    """(files to collect, model versions kept and why, data versions kept and why)."""
    paths, section = params["paths"], params["retention"]
    records = {v: read_train_record(paths, v) for v in model_versions(paths)}
    log_path = repo_path(params["deployment"]["deployment_log"])
    served = [(row["time"], row["model_version"]) for row in (read_csv_rows(log_path) if log_path.exists() else [])]
    registry = R.load(paths)
    kept_models = retention.retained_models(registry, list(records), served, datetime.now(timezone.utc).replace(tzinfo=None),
                                            section["keep_last"], section["keep_days"])
    data = data_versions(paths)
    judged_on = {v: e["reference"]["data_version"] for v, e in registry["versions"].items() if e.get("reference")}
    kept_data = retention.retained_data({v: r["data"]["version"] for v, r in records.items()}, kept_models, data,
                                        section["keep_last"], judged_on)
    items = [{"owner": f"model {v}", **r["artifact"]} for v, r in records.items() if v not in kept_models]
    for version in (d for d in data if d not in kept_data):
        items += [{"owner": f"data {version}", "path": out["path"], "sha256": out["sha256"]}
                  for out in read_data_meta(paths, version)["outputs"].values()]
    items = [{**item, "bytes": (ROOT / item["path"]).stat().st_size} for item in items if (ROOT / item["path"]).exists()]
    return items, kept_models, kept_data


def collect(params: dict, items: list[dict]) -> None:
    """Delete each file after recording it; a file that no longer matches its record is left, and named."""
    damaged = [item["path"] for item in items if sha256_file(ROOT / item["path"]) != item["sha256"]]
    if damaged:
        raise ClockworkError(f"{damaged[0]}: differs from its record; not collected (make verify-all says more)")
    for item in items:
        retention.record_collected(params["retention"], item["path"], item["sha256"], item["bytes"], item["owner"])
        (ROOT / item["path"]).unlink()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--confirm", action="store_true", help="delete (without it: say what would go)")
    parser.add_argument("--remote", help="collect on this remote too (a name in params or a URL)")
    args = parser.parse_args(argv)
    params = load_params(sections=SECTIONS)
    items, kept_models, kept_data = plan(params)
    owners = sorted({item["owner"] for item in items}, key=lambda o: (o.split()[0], int(o.split()[1][1:])))
    freed = sum(item["bytes"] for item in items)
    for name, kept in (("models", kept_models), ("data versions", kept_data)):
        print(f"kept {name}: " + (", ".join(f"{v} ({why})" for v, why in sorted(kept.items())) or "none"))
    verb = "collected" if args.confirm else "would collect"
    print(f"{verb}: {', '.join(owners) or 'nothing'} ({len(items)} files, {freed / 1e6:.1f} MB)")
    if args.confirm:
        collect(params, items)
    if args.remote:
        from scripts.remote.sync import collect_remote
        print(collect_remote(params, args.remote, {item["path"] for item in items} |
                             set(retention.collected(params["retention"])), args.confirm))
    if not args.confirm and (items or args.remote):
        print("nothing was deleted: make gc CONFIRM=1 deletes")
    return 0


if __name__ == "__main__":
    cli(main)
