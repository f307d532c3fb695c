"""The dashboard, /compare, /api/... and make report, on a real server over a project with a history
(two experiments, then the whole demo: drift, retrain, recovery), and in a real browser."""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from scripts.core.config import ROOT, validate
from tests.conftest import Repo, Run, copy_of
from tests.serving.test_serve import Server, call

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SCREENSHOTS = ROOT / "logs" / "screenshots"


# Every scenario of params, with the widest texts a run writes: the table must fit 1280 px.
SCENARIO_ROWS = [
    ("no_drift", "covariate_drift", [], "none (ok)"), ("torque_gain", "sensor_fault", ["torque_nm"], "retrain refused: sensor fault"),
    ("rpm_gain", "sensor_fault", ["rotational_speed_rpm"], "none (ok)"),
    ("air_bias", "sensor_fault", ["air_temperature_k"], "retrain refused: sensor fault"),
    ("process_bias", "sensor_fault", ["process_temperature_k"], "retrain refused: sensor fault"),
    ("torque_stuck", "sensor_fault", ["torque_nm"], "retrain refused: sensor fault"),
    ("rpm_noise", "sensor_fault", ["rotational_speed_rpm"], "retrain refused: sensor fault"),
    ("two_sensors", "sensor_fault", ["air_temperature_k", "torque_nm"], "retrain refused: sensor fault"),
    ("type_mix", "covariate_drift", [], "none (ok)"),
    ("label_shift", "label_shift", [], "retrained; v27 not promoted (holdout: 6 failures, not enough evidence)"),
    ("concept_power", "concept_drift", [], "retrained on a new reference epoch; v29 promoted"),
]


def scenarios_run() -> dict:
    rows = [{"scenario": name, "truth": truth, "truth_sensors": sensors, "verdict": "retrain_required", "diagnosis": truth,
             "suspect_sensors": sensors, "correct": True, "action": action, "production_after": "v1",
             "f1": {"before": 0.825, "during": 0.5, "after": 0.857},
             "reference_f1": {"first_model": 0.808, "after": 0.808, "original_after": 0.367,
                              "rows": {"data_version": "v24", "rows": 900, "epoch": name == "concept_power"}}}
            for name, truth, sensors, action in SCENARIO_ROWS]
    targets = [{"target": "every sensor fault diagnosed, the right sensors named and no innocent one", "held": True, "broken_by": []}]
    doc = {"created_at": "2026-11-25T22:52:03Z", "first_model": "v1", "params_sha256": "0" * 64, "scenarios": rows, "targets": targets}
    validate(doc, "scenarios", "a scenarios run")
    return doc


@pytest.fixture(scope="module")
def site(demoed: tuple[Repo, Run], tmp_path_factory):
    repo = copy_of(demoed[0], tmp_path_factory.mktemp("site") / "repo")
    (repo.path / "logs/scenarios").mkdir(parents=True, exist_ok=True)
    (repo.path / "logs/scenarios/20261125T225203Z.json").write_text(json.dumps(scenarios_run()))
    server = Server(repo).start()
    yield repo, server
    server.stop()


def monitor_runs(repo: Repo) -> list[dict]:
    with open(repo.path / "logs/monitor_log.csv") as handle:
        return list(csv.DictReader(handle))


def test_dashboard_shows_the_live_model_and_every_section(site):
    repo, server = site
    status, page = call(server.port, "GET", "/")
    assert status == 200 and page.startswith("<!doctype html>")
    registry = repo.json("models/registry.json")
    production = registry["aliases"]["production"]
    assert re.search(rf'id="live-version"><a href="/api/models/{production}">{production}</a>', page)
    assert page.count("<tr class=") >= len(registry["versions"]), "one registry row per version"
    for version in registry["versions"]:
        assert f'data-version="{version}"' in page
    assert page.count('class="point"') == len(monitor_runs(repo)), "one chart point per monitor run"
    assert page.count('class="bar"') == 9, "one drift bar per feature"
    report = repo.json(f"logs/monitor/{monitor_runs(repo)[-1]['report_id']}.json")
    measured = [c for c in report["chunks"] if c["judged"]]
    assert page.count('class="cell"') == len(measured) * (len(measured[-1]["drift"]) + 1), "drift map: columns x chunks"
    assert page.count('class="realized"') == sum("realized" in c for c in measured), "a dot per labelled chunk"
    multivariate = [c["multivariate"] for c in measured if c["multivariate"]]
    assert len(re.findall(r'<circle class="measure( drifted)?"', page)) == len(multivariate) > 1, "the measure per chunk"
    assert page.count('<circle class="measure drifted"') == sum(m["drifted"] for m in multivariate)
    latest = measured[-1]  # the distribution card: by default the latest chunk's first drifted column
    default = (latest["drifted"] or sorted(latest["distributions"]))[0]
    assert f'id="distribution" data-column="{default}" data-chunk="{latest["index"]}"' in page
    assert page.count('class="share reference"') == len(latest["distributions"][default]["bins"])
    status, chosen = call(server.port, "GET", f"/?column=type&chunk={measured[0]['index']}")
    assert status == 200 and f'data-column="type" data-chunk="{measured[0]["index"]}"' in chosen
    assert chosen.count('class="share current"') == 3, "one bar a side per Type"
    for query, field in (("column=nope", "column"), ("chunk=99999", "chunk")):
        status, refused = call(server.port, "GET", f"/?{query}")
        assert status == 404 and refused["field"] == field, (query, refused)
    assert "small-rf" in page and "logreg" in page, "the experiments"
    assert page.count('class="node"') >= len(registry["versions"]) + 2, "lineage: inputs, data versions, models"
    assert "Some records could not be read" not in page
    assert page.count("data-scenario=") == 11 and 'id="challenger"' not in page
    assert "<script" not in page and "http://" not in page and "https://" not in page, "offline: nothing external"


def snapshot(repo: Repo) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for d in ("models", "data/processed") for p in (repo.path / d).rglob("*") if p.is_file()}


def test_every_link_on_the_dashboard_answers_and_nothing_changes(site):
    repo, server = site
    before = snapshot(repo)
    page = call(server.port, "GET", "/")[1]
    links = sorted(set(re.findall(r'href="([^"]+)"', page)))
    assert sum(link.startswith("/api/") for link in links) >= 8
    for link in links:
        status, body = call(server.port, "GET", link.replace("&amp;", "&"))
        assert status == 200, link
        if link.startswith("/api/"):
            assert isinstance(body, dict), f"{link} is JSON"
    assert snapshot(repo) == before, "the pages only read: registry, cards and data untouched"


def test_api_documents_match_the_records(site):
    repo, server = site
    production = repo.json("models/registry.json")["aliases"]["production"]
    assert call(server.port, "GET", "/api/registry")[1] == repo.json("models/registry.json")
    card = call(server.port, "GET", f"/api/models/{production}")[1]
    assert card == repo.json(f"models/model_{production}.json")
    latest = call(server.port, "GET", "/api/monitor/latest")[1]
    validate(latest, "monitor_report", "latest")
    assert latest["report_id"] == monitor_runs(repo)[-1]["report_id"]
    runs = call(server.port, "GET", "/api/monitor")[1]["runs"]
    assert runs == monitor_runs(repo) and len(runs) >= 2
    assert call(server.port, "GET", "/api/monitor?last=2")[1]["runs"] == runs[-2:], "the newest, oldest first"
    assert call(server.port, "GET", f"/api/monitor?last={len(runs) + 5}")[1]["runs"] == runs
    lineage = call(server.port, "GET", "/api/lineage")[1]
    assert (f"data:{card['data']['version']}", f"model:{production}") in [tuple(e) for e in lineage["edges"]]


@pytest.mark.parametrize("path,status", [
    ("/api/models/v999", 404), ("/api/models/..%2F..%2Fetc%2Fpasswd", 404), ("/api/models/registry", 404),
    ("/api/data/v999", 404), ("/api/monitor/..%2Fmonitor_log", 404), ("/api/monitor/20990101T000000Z-deadbeef", 404),
    ("/api/monitor?last=0", 400), ("/api/monitor?last=-1", 400), ("/api/monitor?last=2x", 400), ("/api/monitor?last=", 400),
    ("/compare", 400), ("/compare?versions=", 400), ("/compare?versions=v1,../x", 400), ("/compare?versions=v1,v999", 404),
    ("/compare?versions=" + ",".join(f"v{i}" for i in range(1, 9)), 400),
])
def test_bad_requests_get_a_json_error_and_read_no_path(site, path, status):
    _, server = site
    got, body = call(server.port, "GET", path)
    assert got == status and isinstance(body, dict) and body["error"], (path, got, body)


def test_compare_shows_versions_side_by_side_with_differences_highlighted(site):
    repo, server = site
    experiments = [json.loads(line) for line in (repo.path / "models/experiments.jsonl").read_text().splitlines()]
    a, b = (e["version"] for e in experiments[:2])
    status, page = call(server.port, "GET", f"/compare?versions={a},{b}")
    assert status == 200
    header = re.search(r'<table id="compare"><tr>(.*?)</tr>', page).group(1)
    assert f">{a}</a>" in header and f">{b}</a>" in header
    differing = re.findall(r'<tr class="differs"><td>([^<]+)</td>', page)
    assert "params.algorithm" in differing and "f1" in differing
    assert "params.seed" not in differing, "equal rows are not highlighted"
    assert re.search(r'class="num[^"]* best"', page), "the best test metric is marked"
    assert re.findall(r'<polyline class="pr" data-version="(v\d+)"', page) == [a, b], "a precision-recall curve each"
    assert "on the same rows: the test split of" in page and 'id="different-rows"' not in page


def test_versions_tested_on_other_rows_are_compared_on_the_same_rows_and_marked(built: Repo, tmp_path):
    repo = copy_of(built, tmp_path / "repo")
    repo.set_param("data", "test_rows", 1000)  # v2's test split holds other rows than v1's
    assert repo.make("train").code == 0
    table = repo.make("registry").out
    assert re.search(r"^v2 .*\*", table, re.M) and "* measured on other test rows than v1's" in table
    server = Server(repo).start()
    try:
        status, page = call(server.port, "GET", "/compare?versions=v1,v2")
        assert status == 200 and 'id="different-rows"' in page
        assert "on the same rows: the test split of v1 (1500 rows, 31 failures)" in page
        status, page = call(server.port, "GET", "/")
        assert 'id="other-rows"' in page
    finally:
        server.stop()


def test_compare_never_unpickles_a_model_the_registry_does_not_vouch_for(built: Repo, tmp_path):
    from tests.conftest import plant_model

    repo = copy_of(built, tmp_path / "repo")
    marker = tmp_path / "unpickled"
    plant_model(repo, "v99", marker)
    server = Server(repo).start()
    try:
        status, body = call(server.port, "GET", "/compare?versions=v1,v99")
        assert status == 404 and "v99 is not a registered version" in json.dumps(body), body
        assert not marker.exists(), "the planted model was unpickled"
    finally:
        server.stop()
    run = repo.make("verify-all")
    assert run.code != 0 and "MISMATCH models/model_v99.joblib: no registry entry vouches for it" in run.out, run.out
    assert "MISMATCH models/model_v99.json:" in run.out and "MISMATCH models/model_v99.train.json:" in run.out
    assert not marker.exists()


def test_make_report_writes_the_same_content_as_one_offline_file(site):
    repo, _ = site
    run = repo.make("report")
    assert run.code == 0, run.err
    page = (repo.path / "logs/report.html").read_text()
    meta = repo.json("logs/report.json")
    validate(meta, "report", "report.json")
    production = repo.json("models/registry.json")["aliases"]["production"]
    assert meta["production"] == production and f">{production}</a>" in page
    assert page.count('class="point"') == len(monitor_runs(repo)) and page.count('class="bar"') == 9
    assert "<script" not in page and "http://" not in page and "https://" not in page and " src=" not in page
    for link in set(re.findall(r'href="([^"]+)"', page)):
        assert (repo.path / "logs" / link).resolve().exists(), f"{link} points at a record file"


def test_make_report_shows_the_distribution_asked_for_and_names_a_wrong_one(site):
    repo, _ = site
    report = repo.json(f"logs/monitor/{monitor_runs(repo)[-1]['report_id']}.json")
    first = next(c for c in report["chunks"] if c["judged"])
    run = repo.make("report", "COLUMN=type", f"CHUNK={first['index']}")
    assert run.code == 0, run.err
    page = (repo.path / "logs/report.html").read_text()
    assert f'id="distribution" data-column="type" data-chunk="{first["index"]}"' in page and "<form" not in page
    assert page.count('class="share reference"') == len(first["distributions"]["type"]["bins"])
    for variable, value in (("COLUMN", "nope"), ("CHUNK", "99999")):
        run = repo.make("report", f"{variable}={value}")
        assert run.code == 2 and run.err.startswith(f"error: {variable}: '{value}' is not ") and \
            "Traceback" not in run.err, run.err


def test_a_corrupt_record_is_named_on_the_page_not_a_failure(demoed, tmp_path):
    repo = copy_of(demoed[0], tmp_path / "repo")
    card = repo.path / "models/model_v2.json"
    card.write_text(card.read_text()[:100])
    run = repo.make("report")
    assert run.code == 0 and "1 unreadable records" in run.out, run.out + run.err
    page = (repo.path / "logs/report.html").read_text()
    assert "Some records could not be read" in page and "model_v2.json: corrupt JSON" in page


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if os.environ.get("CLOCKWORK_NO_BROWSER") == "1":
        pytest.skip("CLOCKWORK_NO_BROWSER=1: browser test skipped on request")
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail(f"{CHROMIUM} and {CHROMEDRIVER} are needed (apt-get install chromium chromium-driver; "
                    ".ci/run installs them), or set CLOCKWORK_NO_BROWSER=1 to skip this test explicitly")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1280,800", f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    chrome = driver.execute_script("return window.outerHeight - window.innerHeight")
    driver.set_window_size(1280, 800 + chrome)  # a 1280 x 800 viewport, as on a laptop
    yield driver
    driver.quit()


def test_in_a_real_browser_the_dashboard_renders_its_data_and_compare_works(site, browser):
    from selenium.webdriver.common.by import By

    repo, server = site
    production = repo.json("models/registry.json")["aliases"]["production"]
    browser.get(f"http://127.0.0.1:{server.port}/")
    assert browser.title == "Clockwork"
    assert browser.execute_script("return [window.innerWidth, window.innerHeight]") == [1280, 800]
    assert browser.find_element(By.ID, "live-version").text.startswith(production)
    points = browser.find_elements(By.CSS_SELECTOR, "svg.chart circle.point")
    assert len(points) == len(monitor_runs(repo)) >= 2
    assert all(p.is_displayed() and p.size["width"] > 0 for p in points), "the points are drawn"
    xs = {round(float(p.get_attribute("cx"))) for p in points}
    assert len(xs) == len(points), "each run at its own place on the time axis"
    assert {p.get_attribute("data-verdict") for p in points} >= {"ok", "retrain_required"}
    bars = browser.find_elements(By.CSS_SELECTOR, "svg.drift rect.bar")
    assert len(bars) == 9 and any(b.get_attribute("data-drifted") == "true" for b in bars)
    estimated = browser.find_element(By.CSS_SELECTOR, "svg.chunks polyline.estimated")
    assert estimated.is_displayed() and len(estimated.get_attribute("points").split()) >= 2, "F1 estimated per chunk"
    assert browser.find_element(By.CSS_SELECTOR, "svg.chunks polygon.band").is_displayed()
    interval = browser.find_element(By.CSS_SELECTOR, "svg.chunks polygon.interval")  # where the expected F1 lies
    assert len(interval.get_attribute("points").split()) == 2 * len(estimated.get_attribute("points").split())
    measure = browser.find_element(By.CSS_SELECTOR, "svg.multivariate polyline.measure")  # all inputs together
    assert measure.is_displayed() and len(measure.get_attribute("points").split()) >= 2
    assert browser.find_element(By.CSS_SELECTOR, "svg.multivariate polygon.accepted").is_displayed()
    shares = browser.find_elements(By.CSS_SELECTOR, "#distribution svg.distribution rect.share")
    assert shares and all(r.is_displayed() for r in shares[:4]), "a column's distribution, training against a chunk"
    cells = browser.find_elements(By.CSS_SELECTOR, "svg.drift-map rect.cell")
    assert cells and any(c.get_attribute("data-drifted") == "true" for c in cells) and cells[0].size["width"] > 2
    diagnosis = browser.find_element(By.ID, "diagnosis")  # the demo's last report: the torque sensor
    assert diagnosis.get_attribute("data-kind") == "sensor_fault" and diagnosis.is_displayed()
    assert [s.get_attribute("data-sensor") for s in diagnosis.find_elements(By.CSS_SELECTOR, "li.suspect")] == ["torque_nm"]
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 1280, f"no horizontal scrolling at 1280 px (page is {width} px wide)"
    table, box = browser.execute_script("const t = document.getElementById('scenarios');"
                                        "return [t.scrollWidth, t.parentElement.clientWidth]")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#scenarios tr[data-scenario]")) == 11
    assert table <= box, f"the scenarios table fits its card at 1280 px ({table} px in {box} px)"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOTS / "dashboard-1280x800.png"))

    browser.find_element(By.LINK_TEXT, "compare the top four").click()
    header = browser.find_element(By.CSS_SELECTOR, "table#compare tr").text
    versions = re.findall(r"v\d+", browser.current_url.split("versions=")[1])
    assert len(versions) >= 2 and all(v in header for v in versions)
    assert browser.find_elements(By.CSS_SELECTOR, "table#compare td.diff"), "differences are highlighted"
    assert browser.save_screenshot(str(SCREENSHOTS / "compare-1280x800.png"))
    shutil.copy(SCREENSHOTS / "dashboard-1280x800.png", repo.path / "logs" / "dashboard-1280x800.png")
