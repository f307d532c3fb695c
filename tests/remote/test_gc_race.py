"""make gc on a remote against a concurrent push, in the two orders that can lose an object.

A push lists the remote's objects and skips those already there; a remote gc deletes the objects
no index entry names. Each order is forced by running the two library calls in one process,
in a copy of the project, with the second started from inside the first at the exact step."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import Repo, copy_of, fresh_copy
from tests.remote.test_sync import ok

GC_INSIDE_PUSH = r'''
import sys
from pathlib import Path
from scripts.core.config import load_params
from scripts.remote import sync
from scripts.remote.location import Remote

params, url = load_params(), sys.argv[1]
listing, state = Remote.objects, {"done": False}

def objects(self, folder="objects"):
    found = listing(self, folder)
    if folder == "objects" and not state["done"]:  # the push has just listed: gc runs to the end now
        state["done"] = True
        print(sync.collect_remote(params, url, set(), True))
    return found

Remote.objects = objects
print(sync.push(params, url, Path(".make/statcache.json")))
'''

PUSH_INSIDE_GC = r'''
import json, sys
from scripts.core.config import load_params
from scripts.remote import sync
from scripts.remote.location import Remote

params, url, orphan, size = load_params(), sys.argv[1], sys.argv[2], int(sys.argv[3])
set_aside = Remote.set_aside

def racing(self, shas, back=False):
    set_aside(self, shas, back)
    if not back:  # a push that found the orphan there swaps in an index naming it, before gc reads again
        index, token = self.read_index()
        index["files"]["logs/late.txt"] = {"sha256": orphan, "bytes": size}
        self.swap_index(json.dumps(index).encode(), token)

Remote.set_aside = racing
print(sync.collect_remote(params, url, set(), True))
'''


def run(repo: Repo, code: str, *args: str, env: dict | None = None) -> str:
    done = subprocess.run([str(repo.path / ".venv/bin/python"), "-c", code, *args], cwd=repo.path,
                          capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def named(remote: Path) -> set[str]:
    index = json.loads((remote / "index.json").read_text())
    shas = {r["sha256"] for r in index["files"].values()} | {s["sha256"] for e in index["logs"].values() for s in e["segments"]}
    return shas | ({index["registry"]["sha256"]} if index["registry"] else set())


def test_a_gc_between_a_pushs_listing_and_its_swap_loses_nothing(built, tmp_path):
    source, remote = copy_of(built, tmp_path / "source"), tmp_path / "remote"
    ok(source.make("push", f"REMOTE={remote}"))  # a push killed before its swap would leave these objects, unnamed
    (remote / "index.json").unlink()
    shutil.rmtree(source.path / "logs/.remote")  # and the record of what was exchanged, as before any push
    out = run(source, GC_INSIDE_PUSH, str(remote))
    assert "deleted " in out and "objects again that a concurrent make gc had set aside" in out, out
    assert named(remote) <= {p.name for p in (remote / "objects").iterdir()}, "the index names a deleted object"
    assert not any((remote / "trash").iterdir())
    clone = fresh_copy(tmp_path / "clone")
    ok(clone.make("pull", f"REMOTE={remote}"), "pulled ")
    ok(clone.make("verify-all"), "PASS")


def test_an_object_a_push_names_while_gc_sets_it_aside_is_put_back(built, tmp_path):
    source, remote = copy_of(built, tmp_path / "source"), tmp_path / "remote"
    ok(source.make("push", f"REMOTE={remote}"))
    data = b"an object a push found here\n"
    orphan = hashlib.sha256(data).hexdigest()
    (remote / "objects" / orphan).write_bytes(data)
    stray = hashlib.sha256(b"left by a killed gc\n").hexdigest()
    (remote / "trash").mkdir()
    (remote / "trash" / stray).write_bytes(b"left by a killed gc\n")
    # a killed gc had set aside an object the index names: the registry, which gc reads first
    kept = json.loads((remote / "index.json").read_text())["registry"]["sha256"]
    shutil.move(remote / "objects" / kept, remote / "trash" / kept)
    out = run(source, PUSH_INSIDE_GC, str(remote), orphan, str(len(data)))
    assert "deleted 1 objects" in out, out  # the stray one; the orphan was named meanwhile and came back
    objects = {p.name for p in (remote / "objects").iterdir()}
    assert {orphan, kept} <= objects and named(remote) <= objects and not any((remote / "trash").iterdir())


def test_the_same_on_s3(built, tmp_path, objectstore):
    import s3fs
    fs = s3fs.S3FileSystem(endpoint_url=objectstore["AWS_ENDPOINT_URL"], key="any", secret="any", skip_instance_cache=True,
                           use_listings_cache=False)
    source, prefix = copy_of(built, tmp_path / "source"), "clockwork/gcrace"
    ok(source.make("push", f"REMOTE=s3://{prefix}", **objectstore))
    fs.rm_file(f"{prefix}/index.json")
    shutil.rmtree(source.path / "logs/.remote")
    out = run(source, GC_INSIDE_PUSH, f"s3://{prefix}", env=objectstore)
    assert "objects again that a concurrent make gc had set aside" in out, out
    index = json.loads(fs.cat_file(f"{prefix}/index.json"))
    objects = {name.rsplit("/", 1)[-1] for name in fs.ls(f"{prefix}/objects", detail=False)}
    assert {r["sha256"] for r in index["files"].values()} <= objects, "the index names a deleted object"
    assert not [n for n in fs.ls(f"{prefix}/trash", detail=False) if len(n.rsplit("/", 1)[-1]) == 64]
    clone = fresh_copy(tmp_path / "clone")
    ok(clone.make("pull", f"REMOTE=s3://{prefix}", **objectstore), "pulled ")
    ok(clone.make("verify-all"), "PASS")
