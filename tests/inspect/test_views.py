"""The pure HTML and SVG rendering: escaping, chart geometry, highlighting."""
from __future__ import annotations

import re

from scripts.inspect import views


def point(i: int, error: float | None, verdict: str = "ok") -> dict:
    return {"time": f"2026-11-23T04:{i:02d}:00Z", "model_version": "v1", "verdict": verdict, "error_rate": error, "baseline": 0.01}


def test_every_dynamic_value_is_escaped():
    hostile = '<script>alert("x")</script>'
    assert views.esc(hostile) == "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
    assert views.a('"><script>', hostile).count("<script") == 0
    assert views.a("", "plain") == "plain", "nothing to link to: plain text"
    chart = views.error_rate_chart([point(1, 0.02, hostile)])
    assert "<script" not in chart


def test_chart_has_one_point_per_run_and_higher_error_is_drawn_higher():
    chart = views.error_rate_chart([point(1, 0.01), point(2, 0.05, "retrain_required"), point(3, None, "insufficient_labels")])
    points = re.findall(r'<circle class="point" cx="([\d.]+)" cy="([\d.]+)"', chart)
    assert len(points) == 2, "a run without an error rate has no dot"
    (x1, y1), (x2, y2) = [(float(x), float(y)) for x, y in points]
    assert x2 > x1 and y2 < y1, "later is right, higher error is up"
    assert 'class="baseline"' in chart and "#cf222e" in chart
    assert "make monitor" in views.error_rate_chart([])


def test_axis_steps_are_tidy():
    assert [views.nice_step(v) for v in (0.013, 0.02, 0.021, 0.3, 7)] == [0.02, 0.02, 0.025, 0.5, 10]


def test_drift_bars_are_sorted_and_the_flagged_ones_red():
    features = {"a": {"psi": 0.01, "drifted": False, "test": "ks", "p_value": 0.5},
                "b": {"psi": 3.0, "drifted": True, "test": "ks", "p_value": 1e-9}}
    svg = views.drift_bars(features, 0.2)
    bars = re.findall(r'<rect class="bar" x="[\d.]+" y="[\d.]+" width="([\d.]+)" height="[\d.]+" fill="(#\w+)"', svg)
    assert len(bars) == 2 and float(bars[0][0]) > float(bars[1][0]) and bars[0][1] == "#cf222e"
    assert 'class="threshold"' in svg


def test_compare_highlights_only_rows_that_differ_and_marks_the_best():
    view = {"generated_at": "now", "versions": ["v1", "v2"], "same_rows": True,
            "curves": {"v1": [[0.0, 1.0], [1.0, 0.1]], "v2": [[0.0, 1.0], [1.0, 0.05]]}, "sections": [
        ("params", [("seed", [42, 42], None), ("algorithm", ["random_forest", "logistic_regression"], None)]),
        ("test metrics", [("f1", [0.8, 0.6], 0)])]}
    html = views.compare_html(view, lambda kind, key: f"/{kind}/{key}", "t")
    assert re.findall(r'<tr class="differs"><td>(\w+)</td>', html) == ["algorithm", "f1"]
    assert '<td class="num diff best">0.8000</td>' in html
    assert re.findall(r'<polyline class="pr" data-version="(v\d)"', html) == ["v1", "v2"]
    assert 'id="different-rows"' not in html
    assert 'id="different-rows"' in views.compare_html({**view, "same_rows": False}, lambda kind, key: "", "t")


def report_of(version: str, verdict: str = "retrain_required") -> dict:
    return {"verdict": verdict, "reasons": ["x"], "model_version": version, "report_id": "r1", "quality": None,
            "window": {"labelled": 0, "predictions": 11}, "baseline": {"error_rate": 0.01},
            "drift": {"features": {}, "drifted": [], "drifted_share": 0.0, "judged": False, "needed": 200}}


def test_a_verdict_on_a_model_that_no_longer_serves_says_so_in_grey():
    link = lambda kind, key: ""  # noqa: E731
    card = views.verdict_card({"monitor": report_of("v1"), "series": [], "live": {"version": "v10"}}, link)
    assert 'id="verdict-stale"' in card and "For v1, which no longer serves:" in card and "v10 is live" in card
    assert views.VERDICT_COLOUR["retrain_required"] not in card, "not red beside a model it did not judge"
    assert "drift not judged: 11 predictions, 200 needed" in card
    current = views.verdict_card({"monitor": report_of("v10"), "series": [], "live": {"version": "v10"}}, link)
    assert "verdict-stale" not in current and views.VERDICT_COLOUR["retrain_required"] in current


def test_the_experiments_card_knows_a_declared_grid_from_no_grid():
    link = lambda kind, key: ""  # noqa: E731
    declared = views.experiments_table({"experiments": [], "experiment_grid": ["hgb", "rf-100"]}, link)
    assert "2 declared in params.yaml" in declared and "hgb, rf-100" in declared and "make experiments" in declared
    assert "No experiments declared" in views.experiments_table({"experiments": [], "experiment_grid": []}, link)


def test_the_retrain_flag_says_when_it_rests_on_an_estimate():
    def card(flag: dict | None) -> str:
        return views.deployment_card({"deployments": [], "retrain_flag": flag}, lambda *parts: "#")
    assert "retrain flag raised on an estimate, before labels" in card({"basis": "estimated"})
    assert "retrain flag raised</span>" in card({"basis": "labels"}) and "on an estimate" not in card({"basis": "labels"})
    assert "retrain flag raised</span>" in card({}), "a flag written before its basis was recorded, or unreadable"
    assert "No retrain flag raised" in card(None)
