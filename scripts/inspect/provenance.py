"""What produced a model, as flat documents that can be compared key by key.

Used by `make params-diff` (compare.py), the compare page and `make live`.
"""
from __future__ import annotations

from typing import Any

from scripts.core.artifacts import read_data_meta


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts to {'a.b.c': leaf}, so two documents can be compared key by key."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def diff(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """Keys whose values differ between two flat documents (missing counts as None)."""
    return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def inputs_of(paths: dict, card: dict) -> dict[str, Any]:
    """What produced a model: its params, features, data version and the data params behind it."""
    data_meta = read_data_meta(paths, card["data"]["version"])
    return {
        "model": card["params"],
        "features": {k: card["features"][k] for k in ("derived", "scaling", "one_hot_type")},
        "data_version": card["data"]["version"],
        "data": data_meta["params"]["data"],
        "raw_sha256": data_meta["inputs"]["raw"]["sha256"],
        "code_sha256": card["code"]["sha256"],
        "git_commit": card["git"]["commit"],
        "requirements_sha256": card["requirements_sha256"],
        "libraries": card["environment"]["libraries"],
        "python": card["environment"]["python"],
    }
