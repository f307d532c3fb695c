"""`make synth ROWS=N`: a raw file of any size like synth.reference, for scale runs.

What it writes is declared in params' `synth.columns`, in order; nothing here knows a column. Each
entry names a column (`name`, used by later entries' expressions; `header`, its CSV header, the name
by default) and gives one recipe:
- `sequence: START`: START, START + 1, ...
- `times: {start, step_s}`: time stamps from START, STEP_S seconds apart;
- `choice: {VALUE: SHARE, ...}`: drawn at those shares;
- `text: "TEMPLATE"`: e.g. "{type}{row}", the earlier columns' values and the row number from `row_from`;
- `walk: {mean, sd}`: a random walk normalised to that mean and sd, plus an expression if `plus`;
- `normal: reference` (the reference file's same-named column's mean and sd) or `{mean, sd}`;
- `line: {from: COLUMN}`: the least-squares line of this column on COLUMN in the reference file, plus
  its residual noise (keeps the two columns' coupling);
- `tool: {step: {column, values}, limit: [LOW, HIGH], failure_share}`: a counter that grows by a
  per-category step each row and restarts at a random limit between LOW and HIGH, where it failed
  with failure_share (`tool_failure: COLUMN` writes that flag);
- `map: {column, values}`: a number per category;
- `condition: "EXPRESSION"`: 1 where the condition holds (scripts/core/expressions.py), else 0;
- `random: SHARE`: 1 in that share of the rows, at random.
and optionally `round` (digits), `clip: [LOW, HIGH]` (null: no bound), `integer: true`, `keep: false`
(a helper column, not written). The columns are written in the reference file's order.
Deterministic for a seed. The output goes under synth.out_dir, never over the real raw file; point
paths.raw and data.raw_sha256 at it to run the pipeline on it.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pandas as pd

from scripts.core.config import ClockworkError, cli, load_params, missing, repo_path
from scripts.core.contract import Contract
from scripts.core.rawdata import read_raw
from scripts.core.store import atomic_write_text, sha256_file
from scripts.pipeline.generate import synthesize

log = logging.getLogger("clockwork.synth")


def in_reference_order(frame: pd.DataFrame, reference: Path) -> pd.DataFrame:
    """The columns in the reference file's header order, any it lacks after."""
    header = pd.read_csv(reference, nrows=0).columns.tolist()
    return frame[[c for c in header if c in frame] + [c for c in frame if c not in header]]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=missing("ROWS", "make synth ROWS=100000"), required=True)
    args = parser.parse_args(argv)
    if not args.rows.isdigit():
        raise ClockworkError(f"ROWS={args.rows!r}: not a whole number of rows")
    args.rows = int(args.rows)
    if args.rows < 100:
        raise ClockworkError(f"ROWS={args.rows}: at least 100 rows")
    params = load_params()
    settings = params["synth"]
    path = repo_path(settings["reference"])
    reference = read_raw(path, Contract.from_params(params["dataset"]))
    frame = in_reference_order(synthesize(args.rows, settings["seed"], settings["columns"], reference), path)
    out = repo_path(settings["out_dir"]) / f"{path.stem}-synth-{args.rows}-seed{settings['seed']}.csv"
    atomic_write_text(out, frame.to_csv(index=False, float_format="%.1f"))
    window = int(args.rows * 0.7)
    target = Contract.from_params(params["dataset"]).target.source
    numeric = target in frame and pd.api.types.is_numeric_dtype(frame[target])
    rate = f", positive rate {frame[target].mean():.4f}" if numeric else ""
    print(f"wrote {out.relative_to(repo_path('.'))}: {args.rows} rows{rate}")
    print("to run the pipeline on it, set in params.yaml:")
    print(f"  paths.raw: {out.relative_to(repo_path('.'))}\n  data.raw_sha256: {sha256_file(out)}")
    print(f"  data.train_window_rows: {window}  data.test_rows: {int(window * 0.2)}  data.production_rows: {args.rows - window}")
    return 0


if __name__ == "__main__":
    cli(main)
