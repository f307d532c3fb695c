"""A serving replica's follower: keeps this clone's registry, and the models its aliases name, in
step with a remote's, so the workers (which follow the local registry) hot-swap when the remote's
alias moves. Started by `make serve` when deployment.registry names a remote; exits with its parent.

  python -m scripts.remote.follow --remote NAME-OR-URL [--once]

Every deployment.reload_interval_s it reads the remote's index; when the index changed and the registry there did,
it fetches the cards, training records and artifacts of the aliased versions (each checked against
its sha256 before it is moved into place), then replaces the local registry atomically. A remote
that cannot be reached, or that names a damaged file, is logged and retried; the server keeps
serving what it has.
"""
from __future__ import annotations

import argparse
import logging
import os
import time

from scripts.core.config import ClockworkError, cli, load_params
from scripts.remote import sync

log = logging.getLogger("clockwork.follow")
SECTIONS = ("paths", "remote", "deployment")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--remote", required=True, help="the remote whose registry this replica follows")
    parser.add_argument("--once", action="store_true", help="follow once and exit (errors exit non-zero)")
    args = parser.parse_args(argv)
    params = load_params(sections=SECTIONS)
    if args.once:
        said, _ = sync.follow(params, args.remote)
        print(said or f"in step with {args.remote}")
        return 0
    parent, seen = os.getppid(), None
    while os.getppid() == parent:  # the server that started us is gone: so are we
        try:
            said, seen = sync.follow(params, args.remote, seen)
            if said:
                log.info("registry updated: %s", said)
        except ClockworkError as exc:
            seen = None  # try the whole way again next time
            log.error("following %s: %s (the server keeps serving what it has)", args.remote, exc)
        time.sleep(params["deployment"]["reload_interval_s"])
    return 0


if __name__ == "__main__":
    cli(main)
