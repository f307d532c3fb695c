"""`make promote`, `make rollback`, `make challenge` and `make registry`: move an alias by hand, or show them.

Every move is a registry transaction (locked, atomic, appended to the history with the reason
and who made it); a running server follows the alias within deployment.reload_interval_s.

  python -m scripts.pipeline.release promote VERSION [--reason TEXT] [--force]
  python -m scripts.pipeline.release rollback [--reason TEXT]
  python -m scripts.pipeline.release challenge VERSION [--reason TEXT] | --clear
  python -m scripts.pipeline.release show
"""
from __future__ import annotations

import argparse

from scripts.core import registry as R
from scripts.core.config import ClockworkError, cli, load_params, missing


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    pro = sub.add_parser("promote", help="make VERSION the production model")
    pro.add_argument("version", type=missing("VERSION", "make promote VERSION=v3"))
    pro.add_argument("--reason", default="manual promotion")
    pro.add_argument("--force", action="store_true", help="promote a version that failed its gates")
    rol = sub.add_parser("rollback", help="return to the previous production model")
    rol.add_argument("--reason", default="manual rollback")
    cha = sub.add_parser("challenge", help="score VERSION in shadow beside production (or --clear)")
    cha.add_argument("version", nargs="?")
    cha.add_argument("--clear", action="store_true", help="stop the shadow scoring")
    cha.add_argument("--reason", default="manual challenge")
    sub.add_parser("show", help="print the registry")
    args = parser.parse_args(argv)
    paths = load_params()["paths"]
    if args.command == "promote":
        print(R.promote(paths, args.version, args.reason, args.force))
    elif args.command == "challenge":
        if bool(args.version) == args.clear:
            raise ClockworkError("make challenge: give VERSION=vN, or CLEAR=1 to stop the shadow scoring")
        print(R.challenge(paths, None if args.clear else args.version, args.reason))
    elif args.command == "rollback":
        print(R.rollback(paths, args.reason))
    else:
        print(R.table(paths))
    return 0


if __name__ == "__main__":
    cli(main)
