"""Each numeric column as a line on the others (scripts/core/lines.py)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from scripts.core.lines import fit_lines


def test_a_column_the_others_explain_gets_its_line_and_an_unrelated_one_none():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, 500)
    frame = pd.DataFrame({"a": a, "b": 3 * a + 1 + rng.normal(0, 0.01, 500), "c": rng.normal(0, 1, 500)})
    frame.loc[7, "c"] = np.nan  # a row without every value is left out
    lines = fit_lines(frame, ["a", "b", "c"], 0.5)
    assert set(lines) == {"a", "b"} and lines["b"]["others"] == ["a", "c"] and lines["b"]["r2"] > 0.999
    assert np.allclose(lines["b"]["coefficients"][:2], [1, 3], atol=0.01) and len(lines["b"]["residuals"]) == 499
    assert set(fit_lines(frame, ["a", "b", "c"], 0.5, skip={"a"})) == {"b"}
    assert fit_lines(frame, ["a", "b", "c"], 0.5, min_rows=1000) == {} and fit_lines(frame, ["a"], 0.5) == {}
