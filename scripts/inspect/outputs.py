"""`make status`, second half: name every generated file whose content no longer matches its record.

Data version files against their metadata, model artifacts against their training records, cards
against both, the registry against the cards. A stat cache (.make's, passed as --cache) keeps it
cheap: only files whose size, mtime or inode changed are hashed again. Prints nothing but a
summary line when all is well.

  python -m scripts.inspect.outputs --cache .make/statcache.json
"""
from __future__ import annotations

import argparse
from pathlib import Path

from scripts.core import retention
from scripts.core.config import cli, load_params
from scripts.core.outputs import check


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, required=True, help="the stat cache file (make's bookkeeping)")
    args = parser.parse_args(argv)
    params = load_params()
    problems = check(params["paths"], args.cache, retention.collected(params["retention"]))
    for problem in problems:
        print(f"damaged   {problem}")
    if problems:
        print("make train rebuilds the damaged files of the versions it builds now, from their inputs (byte-identical, "
              "checked against the record); an older version's come back with make train under the params that made it")
    else:
        print("outputs   every data version, model, card and the registry match their records")
    return 0


if __name__ == "__main__":
    cli(main)
