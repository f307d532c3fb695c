"""The latest monitor report as Prometheus gauges on /metrics: what the report says, promtool-clean,
and the alerting rules beside the README page on it (promtool test rules)."""
from __future__ import annotations

import csv
import json
import re
import subprocess

import yaml

from scripts.core.config import ROOT
from scripts.serving.telemetry import monitor_families
from tests.conftest import Repo, Run, copy_of
from tests.serving.test_serve import PROMTOOL, Server, call

RULES = ROOT / "prometheus-alerts.yml"


def gauges(text: str) -> dict[str, float]:
    """Each sample line of an exposition, name{labels} -> value."""
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.startswith("clockwork_monitor_")}


def test_metrics_carry_the_latest_report_promtool_clean_and_the_rules_page_on_it(demoed: tuple[Repo, Run], tmp_path):
    repo = copy_of(demoed[0], tmp_path / "repo")
    with open(repo.path / "logs/monitor_log.csv") as handle:
        latest = list(csv.DictReader(handle))[-1]
    report = json.loads((repo.path / f"logs/monitor/{latest['report_id']}.json").read_text())
    server = Server(repo).start()
    try:
        status, text = call(server.port, "GET", "/metrics")
    finally:
        server.stop()
    assert status == 200
    check = subprocess.run([str(PROMTOOL), "check", "metrics"], input=text, capture_output=True, text=True)
    assert (check.returncode, check.stdout + check.stderr) == (0, ""), "promtool: no errors and no warnings"
    seen, version = gauges(text), report["model_version"]
    assert seen["clockwork_monitor_report_available"] == 1
    assert seen[f'clockwork_monitor_verdict{{model_version="{version}",verdict="retrain_required"}}'] == 1  # the demo's last verdict
    assert seen[f'clockwork_monitor_verdict{{model_version="{version}",verdict="ok"}}'] == 0
    assert seen[f'clockwork_monitor_diagnosis{{kind="sensor_fault",model_version="{version}"}}'] == 1
    assert seen['clockwork_monitor_column_drifted{column="torque_nm"}'] == report["drift"]["features"]["torque_nm"]["drifted"]
    assert seen['clockwork_monitor_quality{kind="realized",metric="f1"}'] == report["quality"]["overall"]["f1"]
    assert seen['clockwork_monitor_window_predictions{which="labelled"}'] == report["window"]["labelled"]
    chunk = [c for c in report["chunks"] if c["judged"]][-1]  # the latest measured chunk
    f1 = chunk["estimated"]["f1"]
    assert seen['clockwork_monitor_chunk{which="index"}'] == chunk["index"]
    assert [seen[f'clockwork_monitor_estimated{{bound="{bound}",metric="f1"}}'] for bound in
            ("estimate", "interval_low", "interval_high", "low", "high")] == [f1["value"], *f1["interval"], *f1["band"]]
    assert seen["clockwork_monitor_f1_limit"] == report["history"]["f1_limit"]
    assert seen['clockwork_monitor_multivariate{which="drifted"}'] == chunk["multivariate"]["drifted"]
    assert {name for name in seen if name.startswith("clockwork_monitor_chunk_alert")} == \
        {f'clockwork_monitor_chunk_alert{{alert="{a}"}}' for a in chunk["alerts"]}
    for column, record in chunk["drift"].items():  # the latest chunk's drift, column by column
        assert seen[f'clockwork_monitor_chunk_column_drifted{{column="{column}"}}'] == record["drifted"]
        assert seen[f'clockwork_monitor_chunk_column_statistic{{column="{column}",test="{record["test"]}"}}'] == \
            record["statistic"]
    labelled = [c for c in report["chunks"] if c.get("realized")][-1]  # the demo labels its traffic
    realized = labelled["realized"]["f1"]
    assert seen["clockwork_monitor_chunk_latest_labelled"] == labelled["index"]
    assert seen['clockwork_monitor_chunk_realized{metric="f1",which="latest_labelled"}'] == realized
    assert ('clockwork_monitor_chunk_realized{metric="f1",which="latest"}' in seen) == ("realized" in chunk)

    # the rules, fed the very samples the service exposed
    series = [{"series": name, "values": f"{value:g}x90"} for name, value in seen.items()
              if name.startswith(("clockwork_monitor_verdict", "clockwork_monitor_diagnosis", "clockwork_monitor_column_drifted",
                                  "clockwork_monitor_estimated", "clockwork_monitor_f1_limit",
                                  "clockwork_monitor_chunk_realized"))]
    drifted = sorted(re.findall(r'clockwork_monitor_column_drifted\{column="(\w+)"\}', " ".join(n for n, v in seen.items() if v == 1)))
    cases = {"interval": "1m", "input_series": series, "alert_rule_test": [
        {"eval_time": "5m", "alertname": "ClockworkRetrainRequired", "exp_alerts": [
            {"exp_labels": {"severity": "page", "verdict": "retrain_required", "model_version": version},
             "exp_annotations": {"summary": f"Clockwork: the monitor says retrain_required for model {version}",
                                 "description": "Read the latest report (make live; logs/monitor/). If the diagnosis is "
                                                "not a sensor fault, run make retrain."}}]},
        {"eval_time": "5m", "alertname": "ClockworkSensorFault", "exp_alerts": [
            {"exp_labels": {"severity": "page", "kind": "sensor_fault", "model_version": version},
             "exp_annotations": {"summary": f"Clockwork: a sensor fault is diagnosed for model {version}",
                                 "description": "Fix or recalibrate the sensor the report names; make retrain refuses "
                                                "to learn the fault."}}]},
        {"eval_time": "5m", "alertname": "ClockworkEstimatedF1Drop", "exp_alerts": [
            {"exp_labels": {"severity": "ticket", "metric": "f1", "bound": "interval_high"}, "exp_annotations": {
                "summary": f"Clockwork: the latest chunk's F1, estimated before labels, is below the limit (expected at most {f1['interval'][1]:g})",
                "description": "The labels will confirm or withdraw it; make chunks shows every chunk."}}]
         if f1["interval"][1] < report["history"]["f1_limit"] else []},
        {"eval_time": "5m", "alertname": "ClockworkRealizedF1Drop", "exp_alerts": [
            {"exp_labels": {"severity": "ticket", "metric": "f1", "which": "latest_labelled"}, "exp_annotations": {
                "summary": f"Clockwork: the newest labelled chunk's F1 is below the limit ({realized:g})",
                "description": "Labels confirm a drop; make chunks shows every chunk, the verdict whether a retrain is required."}}]
         if realized < report["history"]["f1_limit"] else []},
        {"eval_time": "30m", "alertname": "ClockworkColumnDrifted", "exp_alerts": []},  # not for an hour yet
        {"eval_time": "75m", "alertname": "ClockworkColumnDrifted", "exp_alerts": [
            {"exp_labels": {"severity": "ticket", "column": column},
             "exp_annotations": {"summary": f"Clockwork: column {column} has drifted for an hour"}} for column in drifted]},
    ]}
    assert drifted == sorted(report["drift"]["drifted"]) and drifted, "the demo's last window drifted"
    suite = tmp_path / "rules_test.yml"
    silent = {"interval": "1m", "input_series": [{"series": "clockwork_monitor_report_available", "values": "0x40"}],
              "alert_rule_test": [{"eval_time": "10m", "alertname": "ClockworkMonitorSilent", "exp_alerts": []},
                                  {"eval_time": "20m", "alertname": "ClockworkMonitorSilent", "exp_alerts": [
                                      {"exp_labels": {"severity": "ticket"}, "exp_annotations": {
                                          "summary": "Clockwork: no monitor report in six hours (or none readable)"}}]}]}
    dropped = {"interval": "1m", "input_series": [  # both F1 rules fire, whatever the demo's figures, with their labels
        {"series": 'clockwork_monitor_estimated{metric="f1",bound="interval_high"}', "values": "0.5x10"},
        {"series": 'clockwork_monitor_chunk_realized{metric="f1",which="latest_labelled"}', "values": "0.25x10"},
        {"series": "clockwork_monitor_f1_limit", "values": "0.7x10"}], "alert_rule_test": [
        {"eval_time": "2m", "alertname": "ClockworkEstimatedF1Drop", "exp_alerts": [
            {"exp_labels": {"severity": "ticket", "metric": "f1", "bound": "interval_high"}, "exp_annotations": {
                "summary": "Clockwork: the latest chunk's F1, estimated before labels, is below the limit (expected at most 0.5)",
                "description": "The labels will confirm or withdraw it; make chunks shows every chunk."}}]},
        {"eval_time": "2m", "alertname": "ClockworkRealizedF1Drop", "exp_alerts": [
            {"exp_labels": {"severity": "ticket", "metric": "f1", "which": "latest_labelled"}, "exp_annotations": {
                "summary": "Clockwork: the newest labelled chunk's F1 is below the limit (0.25)",
                "description": "Labels confirm a drop; make chunks shows every chunk, the verdict whether a retrain is required."}}]}]}
    suite.write_text(yaml.safe_dump({"rule_files": [str(RULES)], "evaluation_interval": "1m",
                                     "tests": [cases, silent, dropped]}))
    done = subprocess.run([str(PROMTOOL), "test", "rules", str(suite)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert subprocess.run([str(PROMTOOL), "check", "rules", str(RULES)], capture_output=True).returncode == 0


def test_without_a_readable_report_the_gauges_say_so_and_metrics_still_answer(repo: Repo):
    assert [f.name for f in monitor_families(None)] == ["clockwork_monitor_report_available"]
    server = Server(repo).start()
    try:
        assert gauges(call(server.port, "GET", "/metrics")[1]) == {"clockwork_monitor_report_available": 0}
        (repo.path / "logs/monitor").mkdir(parents=True, exist_ok=True)
        (repo.path / "logs/monitor_log.csv").write_text("time,report_id\n2026-01-01T00:00:00Z,20260101T000000Z-0123abcd\n")
        (repo.path / "logs/monitor/20260101T000000Z-0123abcd.json").write_text('{"verdict": ')
        status, text = call(server.port, "GET", "/metrics")
        assert status == 200 and gauges(text) == {"clockwork_monitor_report_available": 0}
        assert "clockwork_requests_total" in text
    finally:
        server.stop()
