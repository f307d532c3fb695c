"""`make chunks`: the live model's history in chunks, from the latest monitor report, as a table.

One line per chunk, oldest first: its number, its first prediction's time, its rows and labelled
rows, F1 estimated before labels with its interval and band, the realized F1 where labelled
enough, the multivariate measure, and what crossed its threshold. What the dashboard's charts show,
for a terminal over SSH. Read-only; `LAST=N` keeps the newest N.

  python -m scripts.inspect.history [--last N]
"""
from __future__ import annotations

import argparse

from scripts.core.config import ClockworkError, cli, load_params, printable
from scripts.core.reports import latest_report

HEADER = ("chunk", "first prediction", "rows", "labelled", "estimated F1 [interval]", "band", "realized",
          "multivariate", "alerts")


def chunk_row(chunk: dict) -> tuple[str, ...]:
    """One chunk's cells. Pure."""
    where = (str(chunk["index"]), chunk["first"]["time"][:19] + "Z", str(chunk["rows"]), str(chunk["labelled"]))
    if not chunk["judged"]:
        return (*where, "too few rows to measure", "-", "-", "-", "-")
    f1 = (chunk["estimated"] or {}).get("f1")
    estimate = f"{f1['value']:.3f} [{f1['interval'][0]:.3f}, {f1['interval'][1]:.3f}]" if f1 else "-"
    band = f"{f1['band'][0]:.3f} to {f1['band'][1]:.3f}" if f1 else "-"
    realized = (chunk.get("realized") or {}).get("f1")
    measure = chunk["multivariate"]
    multivariate = "-" if not measure else f"{measure['value']:.4g}{' drifted' if measure['drifted'] else ''}"
    return (*where, estimate, band, "-" if realized is None else f"{realized:.3f}", multivariate,
            printable(", ".join(chunk["alerts"])) or "none")


def table(report: dict, last: int | None) -> list[str]:
    """The heading line and one aligned line per chunk (the newest `last`, or all). Pure."""
    chunks, run = report.get("chunks") or [], report.get("history") or {}
    shown = chunks[-last:] if last else chunks
    head = (f"model {report['model_version']}: {run.get('predictions', 0)} predictions in {len(chunks)} chunks of "
            f"{run.get('chunk_size', '-')}; F1 limit {run['f1_limit']:.3f}; report {report['report_id']}"
            if chunks else f"model {report['model_version']}: no chunk yet (report {report['report_id']})")
    rows = [HEADER, *(chunk_row(c) for c in shown)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER) - 1)]
    lines = ["  ".join([*(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=True)), r[-1]]) for r in rows]
    more = [f"({len(chunks) - len(shown)} older chunks not shown)"] if len(shown) < len(chunks) else []
    return [head, *(lines if chunks else []), *more]


def newest(text: str) -> int:
    """LAST's value: a whole number from 1, else an error naming LAST."""
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise ClockworkError(f"LAST: {text[:20]!r} is not a whole number from 1 (the newest chunks to show)")
    return int(text)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--last", type=newest, help="only the newest N chunks (make chunks LAST=N)")
    args = parser.parse_args(argv)
    report = latest_report(load_params()["monitor"])
    if report is None:
        raise ClockworkError("no monitor report yet (run make monitor)")
    print("\n".join(table(report, args.last)))
    return 0


if __name__ == "__main__":
    cli(main)
