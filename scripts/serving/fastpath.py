"""An exact fast path for a fitted random-forest Pipeline: same numbers, no per-call framework cost.

scikit-learn's predict_proba for one row of a 200-tree forest spends most of its time in
per-call machinery: DataFrame handling, input validation for the Pipeline and again for
every tree, joblib dispatch. The arithmetic is small: derive the declared features, one-hot
the category inputs, standardise, cast to float32, sum each tree's leaf values in tree order, divide by
the number of trees. FastForest does exactly that with numpy and each tree's own compiled
`tree_.apply` (which finds the leaves without holding the GIL), reading every parameter from the
fitted Pipeline. A large batch's trees are shared between threads; each thread sums its trees
in order, so the result differs from predict_proba's by rounding alone (a test bounds it by 1e-12).

compile() returns None for anything it does not cover (another estimator, another
transformer layout), and the caller falls back to the plain Pipeline. A test proves
equality with Pipeline.predict_proba on every test and production row.
"""
from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping, Sequence

import numpy as np

from scripts.core import features as F


def real_thread_pool(n: int) -> Any:
    """An executor of n OS threads, also in a gevent worker, where `threading` is patched into greenlets
    that would run the trees one after another (gevent's own pool runs real threads)."""
    if "gevent" in sys.modules:
        from gevent import monkey

        if monkey.is_module_patched("threading"):
            from gevent.threadpool import ThreadPoolExecutor as NativeThreads

            return NativeThreads(n)
    return ThreadPoolExecutor(n, thread_name_prefix="fastforest")


class FastForest:
    """The fitted transform and trees of a Pipeline(features, RandomForestClassifier)."""

    def __init__(self, derived: list, categories: list[tuple[str, list[str]]], numeric: list[str],
                 mean: np.ndarray | None, scale: np.ndarray | None, trees: list, n_classes: int, positive: int):
        """derived: (name, Expression) pairs; categories: (column, its one-hot values) pairs."""
        self.derived, self.categories, self.numeric = derived, categories, numeric
        self.mean, self.scale, self.trees = mean, scale, trees
        self.n_classes, self.positive = n_classes, positive
        self.width = sum(len(values) for _, values in categories) + len(numeric)
        # each leaf's share of the positive class: the very numbers tree_.predict returns for that column
        self.leaves = [np.ascontiguousarray(tree.value[:, 0, positive]) for tree in trees]
        self.threads, self.parallel_min_rows, self._pool = 1, 0, None

    def parallel(self, threads: int, min_rows: int) -> "FastForest":
        """Share the trees of batches of at least min_rows rows among threads (1 = never)."""
        self.threads, self.parallel_min_rows = max(int(threads), 1), int(min_rows)
        return self

    @classmethod
    def compile(cls, pipeline: Any) -> "FastForest | None":
        """Read the fitted parameters; None if the Pipeline is not the shape this path reproduces."""
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

        try:
            if list(pipeline.named_steps["features"].named_steps) != ["derive", "encode"]:
                return None  # e.g. a step that fills missing values first: the Pipeline serves it
            model = pipeline.named_steps["model"]
            derive = pipeline.named_steps["features"].named_steps["derive"]
            encode = pipeline.named_steps["features"].named_steps["encode"]
        except (AttributeError, KeyError):
            return None
        if type(model) is not RandomForestClassifier or model.n_outputs_ != 1 or list(model.classes_) != [0, 1]:
            return None
        if derive.func is not F.add_derived:
            return None
        _, derived = F.expressions_of(derive.kw_args)
        categories, numeric, mean, scale = [], None, None, None
        for name, transformer, columns in encode.transformers_:
            if name == "remainder":
                continue
            if type(transformer) is OneHotEncoder and transformer.drop is None and not categories:
                categories = [(column, [str(c) for c in values]) for column, values in zip(columns, transformer.categories_, strict=True)]
            elif name == "numeric" and (transformer == "passthrough"
                                        or type(transformer) is FunctionTransformer and transformer.func is None):
                numeric = list(columns)  # a fitted "passthrough" is an identity FunctionTransformer
            elif name == "numeric" and type(transformer) is StandardScaler and transformer.with_mean and transformer.with_std:
                numeric, mean, scale = list(columns), transformer.mean_.copy(), transformer.scale_.copy()
            else:
                return None
        if numeric is None:
            return None
        expected = [f"{column}_{c}" for column, values in categories for c in values] + numeric
        if list(pipeline.named_steps["features"].get_feature_names_out()) != expected:
            return None
        return cls(derived, categories, numeric, mean, scale, [e.tree_ for e in model.estimators_],
                   int(model.n_classes_), 1)

    def transform(self, columns: Mapping[str, Sequence], arrays: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """The feature matrix the estimator sees (float64), computed as the Pipeline computes it; arrays
        holds numeric columns already converted to float64."""
        arrays = arrays or {}
        made = {name for name, _ in self.derived}
        numbers = {c: arrays[c] if c in arrays else np.asarray(columns[c], dtype="float64") for c in self.numeric if c not in made}
        for name, expression in self.derived:
            numbers[name] = expression(numbers)
        n = len(next(iter(numbers.values()))) if numbers else len(columns[self.categories[0][0]])
        out = np.empty((n, self.width), dtype="float64")
        at = 0
        for column, values in self.categories:
            given = np.asarray(columns[column], dtype=object)
            for value in values:
                out[:, at] = given == value
                at += 1
        for i, name in enumerate(self.numeric):
            values = numbers[name]
            out[:, at + i] = values if self.mean is None else (values - self.mean[i]) / self.scale[i]
        return out

    def _sum(self, x: np.ndarray, start: int, stop: int) -> np.ndarray:
        total = np.zeros(len(x), dtype="float64")
        for tree, leaves in zip(self.trees[start:stop], self.leaves[start:stop], strict=True):
            total += leaves[tree.apply(x)]
        return total

    def probabilities(self, columns: Mapping[str, Sequence], arrays: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """Failure probability per row: the mean of the trees' leaf values, as the forest computes it."""
        x = np.ascontiguousarray(self.transform(columns, arrays), dtype=np.float32)
        n_trees = len(self.trees)
        if self.threads < 2 or len(x) < self.parallel_min_rows:
            return self._sum(x, 0, n_trees) / n_trees
        if self._pool is None:  # made on first use, so each forked worker has its own threads
            self._pool = real_thread_pool(self.threads)
        cuts = np.linspace(0, n_trees, self.threads + 1).astype(int)
        parts = [self._pool.submit(self._sum, x, a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
        return sum((part.result() for part in parts), np.zeros(len(x))) / n_trees

    def predict_proba(self, readings: list[dict]) -> np.ndarray:
        """Failure probability per reading (a list of reading dicts)."""
        return self.probabilities({name: [r[name] for r in readings] for name in readings[0]} if readings else {})
