"""`make chunks`: the live model's history in chunks, as a table for a terminal."""
from __future__ import annotations

from scripts.inspect.history import table


def _chunk(index: int, judged: bool = True, realized: float | None = None, alerts: tuple = ()) -> dict:
    f1 = {"value": 0.8, "interval": [0.78, 0.82], "band": [0.7, 0.9]}
    return {"index": index, "rows": 1000, "labelled": 1000 if realized is not None else 0, "judged": judged,
            "first": {"time": f"2026-12-04T10:0{index}:00.123456Z"},
            "estimated": {"f1": f1} if judged else None, "alerts": list(alerts),
            "multivariate": {"value": 1.5, "drifted": True} if judged else None,
            **({"realized": {"f1": realized}} if realized is not None else {})}


def test_each_chunk_is_a_line_with_its_estimate_its_truth_and_its_alerts():
    report = {"model_version": "v3", "report_id": "20261204T100000Z-0123abcd",
              "history": {"predictions": 2500, "chunk_size": 1000, "f1_limit": 0.708},
              "chunks": [_chunk(0, realized=0.5, alerts=("realized_f1", "drift:torque\x1b[2J")), _chunk(1), _chunk(2, judged=False)]}
    lines = table(report, None)
    assert lines[0] == "model v3: 2500 predictions in 3 chunks of 1000; F1 limit 0.708; report 20261204T100000Z-0123abcd"
    assert lines[1].split()[:3] == ["chunk", "first", "prediction"]
    assert lines[2].split() == ["0", "2026-12-04T10:00:00Z", "1000", "1000", "0.800", "[0.780,", "0.820]", "0.700", "to",
                                "0.900", "0.500", "1.5", "drifted", "realized_f1,", "drift:torque\\x1b[2J"], "no escape reaches the terminal"
    assert lines[3].split()[-1] == "none" and lines[3].split()[10] == "-", "no labels yet: no realized F1"
    assert "too few rows to measure" in lines[4]
    cells = ["first prediction", "2026-12-04T10:00", "2026-12-04T10:01", "2026-12-04T10:02"]
    assert len({line.index(cell) for line, cell in zip(lines[1:], cells, strict=True)}) == 1, "columns aligned"
    assert len({line.index(cell) for line, cell in zip(lines[1:], ["estimated", "0.800", "0.800", "too few"], strict=True)}) == 1
    newest = table(report, 2)
    assert [line.split()[0] for line in newest[2:4]] == ["1", "2"] and newest[-1] == "(1 older chunks not shown)"
    empty = table({"model_version": "v3", "report_id": "r", "history": {}, "chunks": []}, None)
    assert empty == ["model v3: no chunk yet (report r)"]


def test_make_chunks_prints_the_latest_report_and_names_a_bad_last(demoed):
    repo = demoed[0]
    run = repo.make("chunks")
    assert run.code == 0, run.err
    report = repo.json(f"logs/monitor/{run.out.split('report ')[1].split()[0]}.json")
    assert len(run.out.splitlines()) == 2 + len(report["chunks"])
    assert run.out.splitlines()[-1].split()[0] == str(report["chunks"][-1]["index"])
    assert len(repo.make("chunks", "LAST=1").out.splitlines()) == 2 + 1 + (len(report["chunks"]) > 1)
    for bad in ("0", "-1", "abc", "1.5"):
        run = repo.make("chunks", f"LAST={bad}")
        assert run.code == 2 and run.err.startswith(f"error: LAST: '{bad}' is not a whole number from 1"), run.err
