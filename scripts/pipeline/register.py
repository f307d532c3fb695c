"""Stage 4, register: gate the evaluated model against production and record it in the registry.

The first version to pass its gates becomes production automatically; later ones become
candidates for `make promote`. The work is done by the registry library (scripts/core/registry.py).

  python -m scripts.pipeline.register --model POINTER [--out POINTER]
"""
from __future__ import annotations

import argparse
from pathlib import Path

from scripts.core import registry as R
from scripts.core.artifacts import read_pointer
from scripts.core.config import cli, load_params
from scripts.core.store import write_if_changed

# The params sections this stage reads; its Makefile rule is stamped on exactly these.
PARAMS = ("paths", "dataset", "evaluate", "retrain")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="pointer file naming the evaluated model version")
    parser.add_argument("--out", type=Path, help="pointer file naming the registered version (written only on change)")
    args = parser.parse_args(argv)
    params = load_params(sections=PARAMS)
    version = read_pointer(args.model)
    R.register(params["paths"], version, params)
    if args.out:
        write_if_changed(args.out, version + "\n")
    return 0


if __name__ == "__main__":
    cli(main)
