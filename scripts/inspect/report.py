"""`make report`: the dashboard as one self-contained HTML file, for people who don't run the server.

The same view and the same HTML as GET / (scripts/inspect/dashboard.py, scripts/inspect/views.py), with
links pointing at the record files themselves instead of /api/..., so the file works when
opened from disk, offline. The distribution card shows the column and chunk given (COLUMN=,
CHUNK=; by default the latest chunk's first drifted column), with no form. Beside it, a
schema-checked JSON record of what it was built from (the production version, the registry's
sha256, the latest monitor report).
"""
from __future__ import annotations

import argparse
import logging

from scripts.core.config import ClockworkError, cli, load_params, repo_path
from scripts.core.store import atomic_write_text, sha256_bytes, sha256_file, write_json
from scripts.inspect import views
from scripts.inspect.dashboard import collect, file_link

log = logging.getLogger("clockwork.report")


def chosen(view: dict, column: str | None, chunk: str | None) -> tuple[str | None, str | None]:
    """The column and chunk asked for the distribution card, checked against the latest report; a
    wrong one is an error naming the make variable (COLUMN, CHUNK)."""
    try:
        views.pick_distribution((view["monitor"] or {}).get("chunks") or [], column, chunk)
    except KeyError as exc:
        field, why = exc.args
        raise ClockworkError(f"{field.upper()}: {why}") from None
    return column, chunk


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--column", help="the column whose distribution to show (make report COLUMN=...)")
    parser.add_argument("--chunk", help="the chunk to set against the training rows (make report CHUNK=...)")
    args = parser.parse_args(argv)
    params = load_params()
    settings = params["dashboard"]
    page = repo_path(settings["report"])
    view = collect(params)
    asked = chosen(view, args.column, args.chunk)
    text = views.dashboard_html(view, file_link(params, page), settings["title"], asked, form=False)
    atomic_write_text(page, text)
    registry = repo_path(params["paths"]["registry"])
    write_json(page.with_suffix(".json"), {
        "generated_at": view["generated_at"], "html": settings["report"], "sha256": sha256_bytes(text.encode("utf-8")),
        "production": view["live"]["version"] if view["live"] else None,
        "registry_sha256": sha256_file(registry) if registry.exists() else None,
        "monitor_report": view["monitor"]["report_id"] if view["monitor"] else None,
        "versions": len(view["versions"]), "problems": list(view["problems"]),
    }, "report")
    print(f"wrote {settings['report']} ({len(text) // 1024} KiB; production {view['live']['version'] if view['live'] else 'none'}"
          f"{'; ' + str(len(view['problems'])) + ' unreadable records listed in it' if view['problems'] else ''})")
    return 0


if __name__ == "__main__":
    cli(main)
