"""`make profile-batch`: where one 3000-row POST /predict spends its time, in-process (no socket).

Each phase is timed around the function that does it, in the WSGI app over the production
model: the median of 15 requests after one warm-up, with the production Pipeline's own
predict_proba on the same rows as the reference. `--phase module:attribute:label` names the
functions (the defaults are this code's), so the same script profiles another checkout when
run with that checkout on PYTHONPATH and its function names given. The prediction log and
deployment log go to a throwaway folder.
"""
from __future__ import annotations

import argparse
import importlib
import io
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from scripts.core.artifacts import load_split, read_data_meta
from scripts.core.config import cli, load_params

PHASES = ["scripts.serving.context:Context.body:parse", "scripts.serving.inference:Requests.predict:validate",
          "scripts.serving.scoring:probabilities:score", "scripts.serving.scoring:log_text:format log lines",
          "scripts.serving.scoring:append_chunks:append log lines"]
REQUESTS = 15


def wrap(spec: str, spent: dict[str, float]) -> None:
    """Replace module:attribute (or module:Class.method) with a version that adds its time to spent[label]."""
    module_name, attribute, label = spec.split(":")
    module = importlib.import_module(module_name)
    owner: Any = module
    for part in attribute.split(".")[:-1]:
        owner = getattr(owner, part)
    name = attribute.split(".")[-1]
    original: Callable = getattr(owner, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[label] = spent.get(label, 0.0) + time.perf_counter() - started
    setattr(owner, name, timed)


def build(params: dict, folder: Path) -> tuple[Any, Any, Any]:
    """(app, holder, the production window's first 3000 rows) with the logs in folder."""
    from scripts.serving import live as L
    from scripts.serving.app import create_app

    params["deployment"]["predictions_log"] = str(folder / "predictions.jsonl")
    options = {"fast": L.fast_options(params["deployment"])} if hasattr(L, "fast_options") else {}
    holder = L.ModelHolder(params["paths"], params["model"]["threshold"],
                           L.DeploymentLog(folder / "deployment_log.csv", "profile:1"), **options)
    holder.refresh()
    meta = read_data_meta(params["paths"], holder.live.card["data"]["version"])
    frame = load_split(meta, "production", holder.live.card["features"]["inputs"]).iloc[:3000]
    return create_app(params, holder), holder, frame


def profile(phases: list[str]) -> dict[str, float]:
    spent: dict[str, float] = {}
    for spec in phases:
        wrap(spec, spent)
    with tempfile.TemporaryDirectory(prefix="clockwork-profile-") as tmp:
        params = load_params()
        app, holder, frame = build(params, Path(tmp))
        body = json.dumps({"instances": frame.to_dict("records")}).encode()
        runs = []
        for _ in range(REQUESTS + 1):
            spent.clear()
            environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/predict", "CONTENT_TYPE": "application/json",
                       "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), "SERVER_NAME": params["deployment"]["allowed_hosts"][0],
                       "SERVER_PORT": "1", "wsgi.url_scheme": "http", "SERVER_PROTOCOL": "HTTP/1.1"}
            started = time.perf_counter()
            b"".join(app(environ, lambda status, headers: None))
            runs.append({**spent, "total": time.perf_counter() - started})
        reference = []
        for _ in range(REQUESTS):
            started = time.perf_counter()
            holder.live.pipeline.predict_proba(frame)
            reference.append(time.perf_counter() - started)
    out = {label: round(statistics.median(run.get(label, 0.0) for run in runs[1:]) * 1000, 2) for label in runs[1]}
    out["predict_proba on the same rows"] = round(statistics.median(reference) * 1000, 2)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phase", action="append", help="module:attribute:label to time (repeatable)")
    args = parser.parse_args(argv)
    for label, ms in profile(args.phase or PHASES).items():
        print(f"{label:32} {ms:8.2f} ms")
    return 0


if __name__ == "__main__":
    cli(main)
