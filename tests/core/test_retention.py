"""What make gc keeps (scripts/core/retention.py), on registries with a known answer."""
from __future__ import annotations

from datetime import datetime

from scripts.core.retention import retained_data, retained_models


def registry(production: str, moves: list[tuple[str | None, str]]) -> dict:
    return {"aliases": {"production": production, "challenger": None},
            "history": [{"action": "promote", "from": a, "to": b} for a, b in moves]}


def test_aliases_the_version_they_moved_from_the_newest_and_the_recently_served_are_kept():
    now = datetime(2026, 11, 25)
    kept = retained_models(registry("v5", [(None, "v1"), ("v1", "v5")]), [f"v{i}" for i in range(1, 9)],
                           [("2026-11-20T00:00:00Z", "v2"), ("2026-09-01T00:00:00Z", "v3")], now, keep_last=2, keep_days=30)
    assert kept == {"v5": "the production alias", "v1": "production moved from it (a rollback returns to it)",
                    "v7": "one of the newest 2", "v8": "one of the newest 2", "v2": "served within 30 days"}


def test_data_a_kept_model_trained_on_or_was_judged_on_is_kept():
    model_data = {"v1": "v1", "v2": "v1", "v3": "v4"}
    kept = retained_data(model_data, {"v2": "", "v3": ""}, ["v1", "v2", "v3", "v4", "v5"], keep_last=1,
                         judged_on={"v2": "v3", "v3": "v4", "v1": "v2"})
    assert kept == {"v1": "model v2 trained on it", "v4": "model v3 trained on it",
                    "v3": "model v2 was judged on its test rows", "v5": "one of the newest 1"}
    assert "v2" not in kept, "v1 is not kept, so the rows it was judged on are not either"
