"""`make init RAW=data.csv TARGET=column [POSITIVE=value] [ID=column] [ORDER=column] [PARAMS=file.yaml]`.

From a CSV to a params file to review: the file is copied into data/raw/ (immutable, its
sha256 pinned), its contract inferred (scripts/core/profile.py), and a params file written
with every other section at this project's defaults and paths of the data set's own, so its
versions, models, registry and logs never mix with another's. Each decision is printed and
written as a comment. Then `CLOCKWORK_PARAMS=file.yaml make train`.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import yaml

from scripts.core.config import ClockworkError, cli, load_params, missing, repo_path
from scripts.core.contract import Contract
from scripts.core.profile import Profile, ProfileError, profile, snake
from scripts.core.store import atomic_write_bytes, atomic_write_text, sha256_file
from scripts.pipeline import propose


def read_any_csv(path: Path) -> pd.DataFrame:
    """The CSV as pandas reads it (missing cells as NaN), or one line saying why not."""
    try:
        return pd.read_csv(path, encoding="utf-8-sig")
    except FileNotFoundError:
        raise ClockworkError(f"RAW={path}: file not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ClockworkError(f"RAW={path}: not a readable CSV: {str(exc).splitlines()[0]}") from None


def own_paths(value: object, name: str) -> object:
    """Every generated path of the defaults moved under the data set's own folders (raw files stay)."""
    if isinstance(value, dict):
        return {k: own_paths(v, name) for k, v in value.items()}
    if isinstance(value, list):  # e.g. the remote's file patterns
        return [own_paths(v, name) for v in value]
    if isinstance(value, str):
        for top in ("logs/", "models/"):
            if value.startswith(top) or value == top.rstrip("/"):
                return f"{top}{name}/{value[len(top):]}".rstrip("/")
        if value.startswith("data/") and not value.startswith("data/raw"):
            return f"data/{name}/{value[len('data/'):]}"
    return value


def split_sizes(rows: int, settings: dict) -> dict:
    production = round(rows * settings["production_share"])
    window = rows - production
    return {"train_window_rows": window, "test_rows": round(window * settings["test_share"]), "production_rows": production}


def build(defaults: dict, found: Profile, raw: str, order: str | None) -> dict:
    """The new params: the defaults with this data set's paths, split, contract and prior-based gates."""
    name = Path(raw).stem
    rows = found.rows
    params = own_paths({k: v for k, v in defaults.items()}, snake(name, set()))
    params["paths"] = {**params["paths"], "raw": raw}
    params["data"] = {**defaults["data"], "raw_sha256": found.sha256, **split_sizes(rows, defaults["init"]), "label_quirks": {}}
    names = {c["column"]: c["name"] for c in found.columns}
    judged = [c["name"] for c in found.columns if c["role"] == "input" and c["kind"] in ("category", "boolean")]
    params["dataset"] = {"columns": found.columns, "order": names[order] if order else None, "positive": found.positive,
                         "derived": {}, "segments": judged}
    params["features"] = {**defaults["features"], "derived": []}
    prior = found.prior
    gates = params["evaluate"]["gates"]  # floors a trivial model meets: calling every row positive, or guessing at the prior
    params["evaluate"] = {**params["evaluate"], "gates": {**gates, "min_f1": round(2 * prior / (1 + prior), 3),
                                                          "min_recall": round(prior, 3)}}
    return params


def describe(found: Profile, params: dict) -> list[str]:
    """What init decided and why, one line each (printed, and written as comments)."""
    data, gates = params["data"], params["evaluate"]["gates"]
    lines = [f"{c['column']} -> {c['name']}: {found.reasons[c['name']]}" for c in found.columns]
    lines.append(f"positive class: {found.positive!r} ({found.prior:.1%} of rows)")
    order = params["dataset"]["order"]
    lines.append(f"split: {'in ' + order + ' order' if order else 'seeded random order, stratified by the target'}: "
                 f"{data['train_window_rows'] - data['test_rows']} train, {data['test_rows']} test, "
                 f"{data['production_rows']} production rows")
    lines.append(f"gates: min_f1 {gates['min_f1']} (F1 of calling every row positive), min_recall {gates['min_recall']} "
                 "(recall of guessing at the positive rate): raise them to what you need")
    lines.append(f"scenarios (make scenarios): {', '.join(params['scenarios']['list'])}")
    return lines + [f"warning: {w}" for w in found.warnings]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    usage = "make init RAW=file.csv TARGET=column [PARAMS=file.yaml]"
    for option in ("raw", "target"):
        parser.add_argument(f"--{option}", required=True, type=missing(option.upper(), usage))
    parser.add_argument("--params", help="the params file to write (default: the CSV's name with .yaml, here)")
    for option in ("positive", "id", "order"):
        parser.add_argument(f"--{option}")
    args = parser.parse_args(argv)
    args.params = args.params or f"{Path(args.raw).stem}.yaml"
    out = Path(args.params)
    if out.exists():
        raise ClockworkError(f"PARAMS={args.params}: already exists; name another file (make init never overwrites one)")
    defaults = load_params()
    frame = read_any_csv(Path(args.raw))
    try:
        found = profile(frame, args.target, {"positive": args.positive, "id": args.id, "order": args.order}, defaults["init"])
    except ProfileError as exc:
        raise ClockworkError(str(exc)) from None
    raw = copy_raw(Path(args.raw), defaults)
    found.sha256 = sha256_file(repo_path(raw))
    params = build(defaults, found, raw, args.order)
    contract = Contract.from_params(params["dataset"])  # what was inferred is a contract that works
    rows = frame.rename(columns=contract.renames)
    rows[contract.label] = (frame[args.target].astype(str) == str(found.positive)).astype(int)
    params |= propose.sections(rows, contract, params["data"]["production_rows"], params)
    params["synth"] = propose.synth_section(frame, contract, raw, params)
    test_positives = round(params["data"]["test_rows"] * found.prior)
    if test_positives < params["evaluate"]["gates"]["min_positives"]:
        found.warnings.append(f"about {test_positives} positives in the test rows, fewer than evaluate.gates.min_positives "
                              f"({params['evaluate']['gates']['min_positives']}): the gates cannot judge a second model")
    lines = describe(found, params)
    header = "".join(f"# {line}\n" for line in [f"Written by make init from {args.raw}; review, then "
                                                 f"CLOCKWORK_PARAMS={args.params} make train", *lines])
    atomic_write_text(out, header + yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    print("\n".join(lines))
    print(f"wrote {args.params}; review it, then: CLOCKWORK_PARAMS={args.params} make train")
    return 0


def copy_raw(source: Path, defaults: dict) -> str:
    """The raw file's immutable copy under the raw folder; refused if one of that name differs."""
    target = str(Path(defaults["paths"]["raw"]).parent / source.name)
    if repo_path(target).exists():
        if sha256_file(repo_path(target)) != sha256_file(source):
            raise ClockworkError(f"{target}: exists with other content; raw files are immutable (rename the new file)")
        return target
    atomic_write_bytes(repo_path(target), source.read_bytes())
    return target

if __name__ == "__main__":
    cli(main)
