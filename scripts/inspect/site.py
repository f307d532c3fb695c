"""The dashboard site: GET /, /compare and the read-only /api/... routes, as a Bottle app of its own.

`make serve` merges it into the prediction service (scripts/serving/serve.py passes it to the app
factory). The data and the HTML come from dashboard.py and views.py; these handlers only check
what a client names (version numbers and report ids, against a pattern, then looked up) and
answer. No client-supplied path ever reaches the file system.
"""
from __future__ import annotations

import re

import bottle

from scripts.core import registry as R
from scripts.core.artifacts import MODEL_CARD, data_versions, model_path, read_card, read_data_meta
from scripts.core.config import repo_path
from scripts.core.reports import monitor_runs, read_report, report_path
from scripts.core.runs import read_runs
from scripts.core.store import read_csv_rows, read_jsonl
from scripts.core.web import Replies, RequestError, html, json_app
from scripts.inspect import views
from scripts.inspect.dashboard import REPORT_ID, VERSION, Problems, collect, compare_view, lineage, served_link


def parse_versions(query: str | None, limit: int) -> list[str]:
    """`v1,v3` -> ['v1', 'v3']; a 400 naming the problem otherwise."""
    if not query:
        raise RequestError(400, "versions", "missing (use ?versions=v1,v2)")
    versions = [v.strip() for v in query.split(",") if v.strip()]
    bad = [v for v in versions if not VERSION.match(v)]
    if bad:
        raise RequestError(400, "versions", f"{bad[0][:40]!r} is not a version like v3")
    versions = list(dict.fromkeys(versions))
    if not 1 <= len(versions) <= limit:
        raise RequestError(400, "versions", f"give 1 to {limit} versions, not {len(versions)}")
    return versions


def parse_last(query: str | None) -> int | None:
    """`?last=N` (a positive whole number) -> N; absent -> None (every run); a 400 naming `last` otherwise."""
    if query is None:
        return None
    if not re.fullmatch(r"[1-9][0-9]{0,8}", query):
        raise RequestError(400, "last", f"{query[:20]!r} is not a whole number from 1 (the newest runs to return)")
    return int(query)


def card_of(paths: dict, version: str) -> dict:
    """An evaluated model's card, or a 404 (a corrupt card is the server's problem: a logged 500)."""
    if not VERSION.match(version) or not model_path(paths, version, MODEL_CARD).exists():
        raise RequestError(404, "version", f"no evaluated model {version[:40]!r}")
    return read_card(paths, version)


def report_named(params: dict, report_id: str) -> dict:
    """A monitor report by id, or the latest; a 404 if there is none."""
    if report_id == "latest":
        runs = monitor_runs(params["monitor"], 1)
        if not runs:
            raise RequestError(404, "report", "no monitor report yet (make monitor)")
        report_id = runs[-1]["report_id"]
    if not REPORT_ID.match(report_id) or not report_path(params["monitor"], report_id).exists():
        raise RequestError(404, "report", f"no monitor report {report_id[:40]!r}")
    return read_report(params["monitor"], report_id)


def routes(params: dict, reply: Replies) -> bottle.Bottle:
    app = json_app(reply)
    paths, title = params["paths"], params["dashboard"]["title"]

    @app.get("/")
    def dashboard_page() -> str:
        view = collect(params)
        asked = (bottle.request.query.get("column") or None, bottle.request.query.get("chunk") or None)
        try:
            views.pick_distribution(((view["monitor"] or {}).get("chunks")) or [], *asked)
        except KeyError as exc:
            raise RequestError(404, *exc.args) from None
        return html(views.dashboard_html(view, served_link, title, asked))

    @app.get("/compare")
    def compare_page() -> str:
        versions = parse_versions(bottle.request.query.get("versions"), params["dashboard"]["compare_max"])
        registered = R.load(paths)["versions"]
        for version in versions:
            card_of(paths, version)
            if version not in registered:  # only a version the registry vouches for is ever unpickled
                raise RequestError(404, "version", f"{version} is not a registered version")
        return html(views.compare_html(compare_view(params, versions), served_link, f"{title}: compare"))

    app.get("/api/dashboard", callback=lambda: reply(200, collect(params)))
    app.get("/api/registry", callback=lambda: reply(200, R.load(paths)))
    app.get("/api/models/<version>", callback=lambda version: reply(200, card_of(paths, version)))
    app.get("/api/monitor", callback=lambda: reply(200, {
        "runs": monitor_runs(params["monitor"], parse_last(bottle.request.query.get("last")))}))
    app.get("/api/monitor/<report_id>", callback=lambda report_id: reply(200, report_named(params, report_id)))
    app.get("/api/deployments",
            callback=lambda: reply(200, {"events": read_csv_rows(repo_path(params["deployment"]["deployment_log"]))}))
    app.get("/api/runs", callback=lambda: reply(200, {"runs": read_runs(paths)}))
    app.get("/api/experiments", callback=lambda: reply(200, {"metric": params["experiments"]["metric"],
                                                            "runs": read_jsonl(repo_path(paths["experiments_log"]))}))

    @app.get("/api/data/<version>")
    def api_data(version: str) -> str:
        if not VERSION.match(version) or version not in data_versions(paths):
            raise RequestError(404, "version", f"no data version {version[:40]!r}")
        return reply(200, read_data_meta(paths, version))

    @app.get("/api/lineage")
    def api_lineage() -> str:
        problems = Problems()
        return reply(200, {**lineage(paths, R.load(paths), problems.attempt), "problems": problems})

    return app
