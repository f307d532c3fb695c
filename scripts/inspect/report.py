"""`make report`: the dashboard as one self-contained HTML file, for people who don't run the server.

The same view and the same HTML as GET / (scripts/inspect/dashboard.py, scripts/inspect/views.py), with
links pointing at the record files themselves instead of /api/..., so the file works when
opened from disk, offline. Beside it, a schema-checked JSON record of what it was built
from (the production version, the registry's sha256, the latest monitor report).
"""
from __future__ import annotations

import argparse
import logging

from scripts.core.config import cli, load_params, repo_path
from scripts.core.store import atomic_write_text, sha256_bytes, sha256_file, write_json
from scripts.inspect import views
from scripts.inspect.dashboard import collect, file_link

log = logging.getLogger("clockwork.report")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args(argv)
    params = load_params()
    settings = params["dashboard"]
    page = repo_path(settings["report"])
    view = collect(params)
    text = views.dashboard_html(view, file_link(params, page), settings["title"])
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
