"""How to retrain after a concept drift, measured: `make bench-epoch`.

For each scenario whose truth is concept_drift (params `scenarios.list`), its labelled rows are
split as make retrain splits them for a new reference epoch (the most recent
`retrain.concept.reference_fraction` are the reference rows, never trained on), and four models
are fitted with the params' model section:
- the history alone (what production knew before the change);
- the history and the older labelled rows;
- the history less the rows those labelled rows contradict, and the labelled rows (what a
  reference epoch trains on; scripts/core/epoch.py);
- the older labelled rows alone.
Each is scored on the reference rows and on the scenario's fresh rows (later rows of the same
relation, which neither the retrain nor its gates see). Writes logs/bench/epoch-<time>.json
(schemas/bench_epoch.schema.json) and prints the table.

  python -m scripts.dev.bench_epoch --data POINTER --sims POINTER
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from scripts.core import features as F
from scripts.core.artifacts import load_split, read_data_meta, read_pointer
from scripts.core.config import ClockworkError, cli, load_params, repo_path
from scripts.core.contract import Contract
from scripts.core.epoch import contradicted_rows, mark_reference
from scripts.core.estimator import fit
from scripts.core.metrics import score
from scripts.core.store import compact_time, sha256_obj, utc_now, write_json


def training_sets(history: pd.DataFrame, newer: pd.DataFrame, contradicted: pd.Series) -> dict[str, pd.DataFrame]:
    """The four ways to train after the change. Pure."""
    return {
        "history alone (before the change)": history,
        "history and the new rows": pd.concat([history, newer], ignore_index=True),
        "history less contradicted rows, and the new rows (the epoch's choice)": pd.concat([history[~contradicted], newer],
                                                                                           ignore_index=True),
        "the new rows alone": newer,
    }


def study(name: str, frames: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], params: dict) -> dict:
    """One concept-drift scenario: every training set's F1 on the epoch's reference rows and on fresh rows."""
    history, rows, fresh = frames
    model, concept = params["model"], params["retrain"]["concept"]
    contract = Contract.from_params(params["dataset"])
    feats = F.spec(contract, params["features"])
    labelled = mark_reference(rows, concept["reference_fraction"])
    marked = labelled["reference"] == 1
    columns = [contract.id.name, *contract.scored]
    newer, reference = labelled[~marked][columns], labelled[marked]
    contradicted = contradicted_rows(history, newer, feats, model, concept["conflict_probability"])
    variants = []
    for label, frame in training_sets(history[columns], newer, contradicted).items():
        fitted = fit(frame, feats, model)
        variants.append({"training": label, "rows": len(frame),
                         "f1_reference": score(fitted, reference, model["threshold"], feats["label"])["f1"],
                         "f1_fresh": score(fitted, fresh, model["threshold"], feats["label"])["f1"]})
        print(f"  {name}: {label}: F1 {variants[-1]['f1_reference']} on the reference rows, "
              f"{variants[-1]['f1_fresh']} on fresh rows", flush=True)
    return {"scenario": name, "reference_rows": int(marked.sum()), "reference_failures": int(reference[contract.label].sum()),
            "fresh_rows": len(fresh), "contradicted_rows": int(contradicted.sum()), "variants": variants}


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="make's prepare pointer (the data version of the history)")
    parser.add_argument("--sims", type=Path, required=True, help="make's simulate pointer (dataset -> file)")
    args = parser.parse_args(argv)
    params = load_params()
    names = [n for n, s in params["scenarios"]["list"].items() if s["truth"] == "concept_drift"]
    if not names:
        raise ClockworkError("params scenarios.list: no scenario with truth concept_drift to measure")
    version = read_pointer(args.data)
    contract = Contract.from_params(params["dataset"])
    history = load_split(read_data_meta(params["paths"], version), "train", [contract.id.name, *contract.scored])
    known = json.loads(args.sims.read_text())
    started = utc_now()
    results = [study(n, (history, pd.read_csv(repo_path(known[n])), pd.read_csv(repo_path(known[n + "_fresh"]))), params)
               for n in names]
    doc = {"kind": "epoch", "started_at": started, "data_version": version,
           "params_sha256": sha256_obj({k: params[k] for k in ("features", "model", "retrain")}), "scenarios": results}
    out = repo_path(params["paths"]["logs_dir"]) / "bench" / f"epoch-{compact_time(started)}.json"
    write_json(out, doc, "bench_epoch")
    for result in results:
        print(f"{result['scenario']}: {result['reference_rows']} reference rows ({result['reference_failures']} failures), "
              f"{result['fresh_rows']} fresh rows, {result['contradicted_rows']} history rows contradicted")
        print("| trained on | rows | F1 on the reference rows | F1 on fresh rows |\n|---|---|---|---|")
        for v in result["variants"]:
            print(f"| {v['training']} | {v['rows']} | {_f(v['f1_reference'])} | {_f(v['f1_fresh'])} |")
    print(f"written to {out.relative_to(repo_path('.'))}")
    return 0


if __name__ == "__main__":
    cli(main)
