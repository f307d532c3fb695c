"""Hash stamps for make: rewrite a stamp only when the content hash changes (the filechk idiom).

GNU make re-stats a target after its recipe, so a stamp left untouched rebuilds nothing
downstream: a `touch`, an edited comment or reordered keys in params.yaml cost one hash
pass and no rebuild. Imports only the standard library and yaml (jsonschema only when
params.yaml changed), because this runs whenever an input's mtime moves.

  python -m scripts.core.stamp file SRC STAMP
  python -m scripts.core.stamp files STAMP_DIR MARKER SRC...   (every input in one process)
  python -m scripts.core.stamp same SRC STAMP      (exit 0 if STAMP holds SRC's sha256)
  python -m scripts.core.stamp params PARAMS STAMP_DIR MAKE_INCLUDE
"""
from __future__ import annotations

import argparse
import logging
import os
import re
import time
from pathlib import Path

from scripts.core.config import ClockworkError, cli, experiment_params, load_params
from scripts.core.store import sha256_file, sha256_obj, write_if_changed

log = logging.getLogger("clockwork.stamp")


def stamp_file(source: Path, stamp: Path) -> bool:
    """Stamp one input file with its sha256; True when an existing stamp changed."""
    existed = stamp.exists()
    return write_if_changed(stamp, sha256_file(source) + "\n") and existed


def stamp_files(stamp_dir: Path, marker: Path, sources: list[Path]) -> list[Path]:
    """Stamp every source that moved since marker was last touched (or has no stamp yet) in one
    process, then touch marker with the time this pass began: a file edited during the pass is
    newer than the marker and is hashed again next time. Returns the sources whose stamp changed."""
    since = marker.stat().st_mtime_ns if marker.exists() else -1
    began = time.time_ns()
    changed = []
    for source in sources:
        stamp = stamp_dir / f"{source}.sha"
        if source.stat().st_mtime_ns >= since or not stamp.exists():
            stamp.parent.mkdir(parents=True, exist_ok=True)
            if stamp_file(source, stamp):
                changed.append(source)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    os.utime(marker, ns=(began, began))
    return changed


def section_hashes(params: dict) -> dict[str, str]:
    """sha256 of each params section in canonical form: comments and key order don't count.

    Each experiment gets its own entry (exp-NAME: its effective model section), so editing one
    experiment, or adding one, leaves the others' stamps and make targets untouched."""
    hashes = {section: sha256_obj(value) for section, value in params.items()}
    for name in params["experiments"]["grid"]:
        hashes[f"exp-{name}"] = sha256_obj(experiment_params(params, name)["model"])
    return hashes


# What make accepts in a file name it handles itself (the Makefile's NAME_CHARS): `$`, `:`, `%`, `#`, `;`
# and spaces mean something to make, so a params value holding one is refused, never written into make's text.
MAKE_NAME = re.compile(r"[A-Za-z0-9._+/@,=~-]+")


def make_include(params: dict, source: Path) -> str:
    """The make variables the Makefile needs from params.yaml (a generated include). Every value is
    data to make: a path is checked to be one plain file name, the follower flag is 1 or empty."""
    raw = params["paths"]["raw"]
    if not MAKE_NAME.fullmatch(raw):
        raise ClockworkError(f"{source}: paths.raw: {raw!r} is not one plain file name "
                             "(letters, digits and . _ - + / @ , = ~ only; make reads this path)")
    return ("# generated from params.yaml by scripts/core/stamp.py; do not edit\n"
            f"RAW_FILE := {raw}\n"
            f"EXPERIMENTS := {' '.join(params['experiments']['grid'])}\n"
            f"FOLLOWS := {'1' if params['deployment']['registry'] else ''}\n")


def stamp_params(source: Path, stamp_dir: Path, include: Path) -> list[str]:
    """Validate params.yaml, then write one stamp per section and the make include, each only on change."""
    params = load_params(source)
    text = make_include(params, source)  # refused before anything is written
    changed = []
    for section, digest in section_hashes(params).items():
        stamp = stamp_dir / f"params-{section}.sha"
        existed = stamp.exists()
        if write_if_changed(stamp, digest + "\n") and existed:
            changed.append(section)
    write_if_changed(include, text)
    return changed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="kind", required=True)
    one = sub.add_parser("file")
    one.add_argument("source", type=Path)
    one.add_argument("stamp", type=Path)
    same = sub.add_parser("same")
    same.add_argument("source", type=Path)
    same.add_argument("stamp", type=Path)
    batch = sub.add_parser("files")
    batch.add_argument("stamp_dir", type=Path)
    batch.add_argument("marker", type=Path)
    batch.add_argument("sources", type=Path, nargs="*")
    many = sub.add_parser("params")
    many.add_argument("source", type=Path)
    many.add_argument("stamp_dir", type=Path)
    many.add_argument("include", type=Path)
    args = parser.parse_args(argv)
    if args.kind == "same":
        return 0 if args.stamp.exists() and args.stamp.read_text().strip() == sha256_file(args.source) else 1
    if args.kind == "file":
        if stamp_file(args.source, args.stamp):
            log.info("changed: %s", args.source)
    elif args.kind == "files":
        for source in stamp_files(args.stamp_dir, args.marker, args.sources):
            log.info("changed: %s", source)
    else:
        for section in stamp_params(args.source, args.stamp_dir, args.include):
            # an experiment's stamp follows the model section it inherits: only make experiments runs it
            (log.debug if section.startswith("exp-") else log.info)("changed: %s section '%s'", args.source, section)
    return 0


if __name__ == "__main__":
    cli(main)
