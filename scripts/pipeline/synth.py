"""`make synth ROWS=N`: an AI4I-like raw file of any size, for scale runs.

The one module that knows AI4I's columns and physics by name: it makes more of that data set,
not of yours (for another table, scale runs use your own rows).

It has the same columns and formats as the real file. The failure labels follow the data
set's published rules exactly (shared data README):
- TWF: the tool fails or is replaced at a random wear between 200 and 240 min;
- HDF: process minus air temperature below 8.6 K at a speed below 1380 rpm;
- PWF: power below 3500 W or above 9000 W;
- OSF: wear × torque above 11,000 / 12,000 / 13,000 min·Nm for L / M / H;
- RNF: 0.1 % at random.

The readings follow the UCI description of how the data was generated:
- Type is L/M/H at 60/30/10 %;
- the air temperature is a random walk normalised to 300 K ± 2 K;
- the process temperature is the air temperature + 10 K, plus its own walk of ± 1 K;
- the speed is normal with the mean and sd measured on the real file, and torque follows it
  by the linear fit of torque on speed measured on the real file, plus its residual noise
  (this keeps the strong negative speed-torque coupling of the real data);
- the tool wear grows 2/3/5 min per process for L/M/H.

Deterministic for a seed. The output goes under synth.out_dir, never over the real raw
file; point paths.raw and data.raw_sha256 at it to run the pipeline on it.
"""
from __future__ import annotations

import argparse
import logging
import math

import numpy as np
import pandas as pd

from scripts.core.config import ClockworkError, cli, load_params, missing, repo_path
from scripts.core.contract import Contract
from scripts.core.rawdata import read_raw
from scripts.core.store import atomic_write_text, sha256_file

log = logging.getLogger("clockwork.synth")
TYPES = ("L", "M", "H")  # AI4I's product Types, as its published generator draws them
WEAR_STEP = {"L": 2, "M": 3, "H": 5}
OSF_LIMIT = {"L": 11000, "M": 12000, "H": 13000}


def _walk(rng: np.random.Generator, n: int, mean: float, sd: float) -> np.ndarray:
    steps = np.cumsum(rng.normal(0.0, 1.0, n))
    spread = steps.std() or 1.0
    return mean + sd * (steps - steps.mean()) / spread


def reference_shape(real: pd.DataFrame) -> dict[str, float]:
    """The speed distribution and the torque-on-speed line of the real file."""
    slope, intercept = np.polyfit(real["rotational_speed_rpm"], real["torque_nm"], 1)
    residual = real["torque_nm"] - (intercept + slope * real["rotational_speed_rpm"])
    return {"rpm_mean": float(real["rotational_speed_rpm"].mean()), "rpm_sd": float(real["rotational_speed_rpm"].std()),
            "slope": float(slope), "intercept": float(intercept), "residual_sd": float(residual.std())}


def synthesize(n: int, seed: int, shape: dict[str, float]) -> pd.DataFrame:
    """n AI4I-like rows, labels by the published failure rules. Pure."""
    rng = np.random.default_rng(seed)
    types = rng.choice(np.array(TYPES), size=n, p=[0.6, 0.3, 0.1])
    air = np.round(_walk(rng, n, 300.0, 2.0), 1)
    process = np.round(air + 10.0 + _walk(rng, n, 0.0, 1.0), 1)
    rpm = np.round(rng.normal(shape["rpm_mean"], shape["rpm_sd"], n)).clip(1000, 3000).astype(int)
    torque = np.round(shape["intercept"] + shape["slope"] * rpm + rng.normal(0.0, shape["residual_sd"], n), 1).clip(0.1, None)
    wear = np.zeros(n, dtype=int)
    twf = np.zeros(n, dtype=int)
    level, limit = 0, rng.integers(200, 241)
    steps = np.vectorize(WEAR_STEP.get)(types)
    for i in range(n):  # one tool through the process sequence, replaced or failing at its random limit
        wear[i] = level
        if level >= limit:
            twf[i] = int(rng.random() < 0.43)  # in the real data 51 of 120 tool changes were failures
            level, limit = 0, rng.integers(200, 241)
        else:
            level += steps[i]
    real_power = torque * rpm * 2 * math.pi / 60
    hdf = ((process - air) < 8.6) & (rpm < 1380)
    pwf = (real_power < 3500) | (real_power > 9000)
    osf = wear * torque > np.vectorize(OSF_LIMIT.get)(types)
    rnf = rng.random(n) < 0.001
    frame = pd.DataFrame({
        "UDI": np.arange(1, n + 1), "Product ID": [f"{t}{47000 + i}" for i, t in enumerate(types)], "Type": types,
        "Air temperature [K]": air, "Process temperature [K]": process, "Rotational speed [rpm]": rpm,
        "Torque [Nm]": torque, "Tool wear [min]": wear,
        "Machine failure": (twf.astype(bool) | hdf | pwf | osf | rnf).astype(int),
        "TWF": twf, "HDF": hdf.astype(int), "PWF": pwf.astype(int), "OSF": osf.astype(int), "RNF": rnf.astype(int),
    })
    return frame


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
    reference = read_raw(repo_path(settings["reference"]), Contract.from_params(params["dataset"]))
    frame = synthesize(args.rows, settings["seed"], reference_shape(reference))
    out = repo_path(settings["out_dir"]) / f"ai4i-synth-{args.rows}-seed{settings['seed']}.csv"
    atomic_write_text(out, frame.to_csv(index=False, float_format="%.1f"))
    window = int(args.rows * 0.7)
    print(f"wrote {out.relative_to(repo_path('.'))}: {args.rows} rows, failure rate {frame['Machine failure'].mean():.4f}")
    print("to run the pipeline on it, set in params.yaml:")
    print(f"  paths.raw: {out.relative_to(repo_path('.'))}\n  data.raw_sha256: {sha256_file(out)}")
    print(f"  data.train_window_rows: {window}  data.test_rows: {int(window * 0.2)}  data.production_rows: {args.rows - window}")
    return 0


if __name__ == "__main__":
    cli(main)
