"""`make metrics`, `make metrics-diff` and `make params-diff`: model versions side by side.

Reads model cards, data-version metadata and the registry; writes nothing.
"""
from __future__ import annotations

import argparse
from typing import Any

from scripts.core import registry as R
from scripts.core.artifacts import MODEL_CARD, model_path, model_versions, read_card
from scripts.core.config import ClockworkError, cli, load_params
from scripts.core.store import version_number
from scripts.inspect.provenance import diff, flatten, inputs_of

TABLE = [("accuracy", "acc"), ("precision", "prec"), ("recall", "recall"), ("f1", "f1"), ("roc_auc", "auc"), ("log_loss", "logloss")]


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def _groups(card: dict) -> dict:
    """Test metrics per category value ("Type L"); a card written before the data set contract has per_type."""
    return card["metrics"].get("per_group") or card["metrics"].get("per_type") or {}


def metrics_table(paths: dict) -> str:
    """Every evaluated version's test metrics, recall per category value and training error."""
    registry = R.load(paths)
    production = registry["aliases"]["production"]
    live_rows = R.test_rows(paths, production) if production else None
    versions = sorted(model_versions(paths), key=version_number, reverse=True)
    cards = {v: read_card(paths, v) for v in versions if model_path(paths, v, MODEL_CARD).exists()}
    groups = list(dict.fromkeys(name for card in cards.values() for name in _groups(card)))
    header = f"{'version':8} {'status':10} {'data':5} {'algorithm':23}" + "".join(f"{h:>8}" for _, h in TABLE)
    header += "".join(f"  rec {name}" for name in groups) + f"{'train_err':>10}"
    rows, other = [header], False
    for version in versions:
        if version not in cards:
            rows.append(f"{version:8} (trained, not evaluated yet)")
            continue
        card = cards[version]
        test, recall = card["metrics"]["test"], {k: g["recall"] for k, g in _groups(card).items()}
        status = registry["versions"].get(version, {}).get("status", "unregistered")
        mark = "*" if live_rows and card["data"]["test"]["sha256"] != live_rows else " "
        other = other or mark == "*"
        row = f"{version + mark:8} {status:10} {card['data']['version']:5} {card['algorithm']:23}"
        row += "".join(f"{_fmt(test[k]):>8}" for k, _ in TABLE)
        row += "".join(f"{_fmt(recall.get(name)):>{len(name) + 6}}" for name in groups)
        row += f"{_fmt(card['metrics']['train']['error_rate']):>10}"
        rows.append(row)
    if other:
        rows.append(f"* measured on other test rows than {production}'s: not comparable with it "
                    "(/compare scores versions on the same rows)")
    return "\n".join(rows)


def _card(paths: dict, name: str, version: str, usage: str) -> dict:
    """The card of version A or B, with a one-line error naming the argument if it is wrong."""
    if not version:
        raise ClockworkError(f"{name}: missing (usage: make {usage} A=v1 B=v2)")
    version_number(version)
    if version not in model_versions(paths):
        raise ClockworkError(f"{name}={version}: no such model version (known: {', '.join(model_versions(paths)) or 'none'})")
    if not model_path(paths, version, MODEL_CARD).exists():
        raise ClockworkError(f"{name}={version}: not evaluated yet (run make train)")
    return read_card(paths, version)


def metrics_diff(paths: dict, a: str, b: str) -> str:
    """Every metric of A and B with the change; unchanged ones are listed too, marked '='."""
    card_a, card_b = _card(paths, "A", a, "metrics-diff"), _card(paths, "B", b, "metrics-diff")
    flat_a, flat_b = flatten(card_a["metrics"]), flatten(card_b["metrics"])
    lines = [f"{'metric':36} {a:>10} {b:>10} {'change':>10}"]
    for key in sorted(set(flat_a) | set(flat_b)):
        va, vb = flat_a.get(key), flat_b.get(key)
        if isinstance(va, (int, float)) and isinstance(vb, (int, float)) and not isinstance(va, bool):
            change = "=" if va == vb else f"{vb - va:+.4f}" if isinstance(vb - va, float) else f"{vb - va:+d}"
        else:
            change = "=" if va == vb else "changed"
        lines.append(f"{key:36} {_fmt(va):>10} {_fmt(vb):>10} {change:>10}")
    return "\n".join(lines)


def params_diff(paths: dict, a: str, b: str) -> str:
    """The inputs that differ between two model versions: params, data, code, environment."""
    card_a, card_b = _card(paths, "A", a, "params-diff"), _card(paths, "B", b, "params-diff")
    changes = diff(flatten(inputs_of(paths, card_a)), flatten(inputs_of(paths, card_b)))
    if not changes:
        return f"{a} and {b} were produced from identical params, data, code and environment"
    width = max(len(k) for k, _, _ in changes)
    lines = [f"{'input':{width}}  {a}  ->  {b}"]
    lines += [f"{key:{width}}  {_fmt(va)}  ->  {_fmt(vb)}" for key, va, vb in changes]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["metrics", "metrics-diff", "params-diff"])
    parser.add_argument("a", nargs="?", default="")
    parser.add_argument("b", nargs="?", default="")
    args = parser.parse_args(argv)
    paths = load_params()["paths"]
    if args.command == "metrics":
        print(metrics_table(paths))
    elif args.command == "metrics-diff":
        print(metrics_diff(paths, args.a, args.b))
    else:
        print(params_diff(paths, args.a, args.b))
    return 0


if __name__ == "__main__":
    cli(main)
