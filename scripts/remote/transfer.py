"""`make push`, `make pull` and the remote lines of `make status`.

  python -m scripts.remote.transfer push [--remote NAME-OR-URL]
  python -m scripts.remote.transfer pull [--remote NAME-OR-URL] [--keep theirs]
  python -m scripts.remote.transfer status [--remote NAME-OR-URL] [--quiet-if-none]

The remote is REMOTE= (a name from params remote.remotes, a directory, file://, s3:// or ssh://),
else remote.default. See scripts/remote/sync.py for what travels and how.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from scripts.core.config import cli, load_params
from scripts.remote import sync

SECTIONS = ("paths", "remote")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["push", "pull", "status"])
    parser.add_argument("--remote", default=None, help="a remote's name in params, or a URL or directory")
    parser.add_argument("--keep", choices=["theirs"], help="pull: on a diverged registry take the remote's, set ours aside")
    parser.add_argument("--cache", type=Path, required=True, help="the stat cache of file hashes (make passes it)")
    parser.add_argument("--quiet-if-none", action="store_true", help="status: say nothing when no remote is named")
    args = parser.parse_args(argv)
    params = load_params(sections=SECTIONS)
    if args.command == "push":
        print(sync.push(params, args.remote, args.cache))
    elif args.command == "pull":
        print(sync.pull(params, args.remote, args.cache, args.keep))
    elif args.remote or params["remote"]["default"] or not args.quiet_if_none:
        print("\n".join(sync.status(params, args.remote, args.cache)))
    return 0


if __name__ == "__main__":
    cli(main)
