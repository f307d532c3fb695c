"""The live model of one worker process, following the registry's production alias.

Each gunicorn worker loads the model that models/registry.json marks `production` (sha256
checked before unpickling) and watches the registry. When the alias moves, the new model is
loaded beside the old one and swapped in with one reference assignment, so in-flight requests
finish on the model they started with and none is dropped. A model that fails its checks is
refused and the old one keeps serving. Every start, swap, refusal and stop is one row in the
deployment log.
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.core import registry as R
from scripts.core.artifacts import read_card
from scripts.core.config import ClockworkError, repo_path, validate
from scripts.core.store import append_csv_row, utc_now, version_number
from scripts.serving.fastpath import FastForest

log = logging.getLogger("clockwork.serve")
KEEP_OTHERS = 2  # versions other than production a worker keeps loaded for requests that name them
DEPLOYMENT_COLUMNS = ["time", "event", "model_version", "model_sha256", "data_version", "git_commit",
                      "host_port", "pid", "detail"]


@dataclass(frozen=True)
class LiveModel:
    """One loaded model version; swapped as a whole, never mutated."""
    version: str
    card: dict
    pipeline: Any
    threshold: float
    loaded_at: str
    fast: FastForest | None = None  # the exact fast path, when the Pipeline's shape allows it


class DeploymentLog:
    """Rows of logs/deployment_log.csv: which model was live where, and when."""

    def __init__(self, path: Path, host_port: str, origin: str = ""):
        """origin: on a replica, which host it is and which remote's registry it follows (in every row's detail)."""
        self.path, self.host_port, self.origin = path, host_port, origin

    def write(self, event: str, card: dict | None, detail: str = "") -> None:
        row = {
            "time": utc_now(), "event": event,
            "model_version": card["version"] if card else None,
            "model_sha256": card["artifact"]["sha256"] if card else None,
            "data_version": card["data"]["version"] if card else None,
            "git_commit": card["git"]["commit"] if card else None,
            "host_port": self.host_port, "pid": os.getpid(),
            "detail": f"{detail} [{self.origin}]" if self.origin else detail,
        }
        validate(row, "deployment_event", str(self.path))
        append_csv_row(self.path, DEPLOYMENT_COLUMNS, row)


class ModelHolder:
    """The live model of this process, following the registry's production alias."""

    def __init__(self, paths: dict, threshold: float | str, events: DeploymentLog, fast: tuple[int, int] | None = (1, 0)):
        """fast: (threads, min_rows) for the exact fast path (see fast_options), or None for the Pipeline always."""
        self.paths, self.threshold, self.events, self.fast = paths, threshold, events, fast
        self.live: LiveModel | None = None
        self.challenger: LiveModel | None = None  # the registry's challenger alias, scored in shadow
        self._others: dict[str, LiveModel] = {}  # versions asked for by name, besides the live one
        self._seen: tuple | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def _registry_signature(self) -> tuple | None:
        try:
            stat = repo_path(self.paths["registry"]).stat()
        except FileNotFoundError:
            return None
        return stat.st_mtime_ns, stat.st_size, stat.st_ino

    def refresh(self) -> bool:
        """Load the production model if the alias moved; True if a model was swapped in."""
        with self._lock:
            signature = self._registry_signature()
            if signature is not None and signature == self._seen:
                return False
            self._seen = signature
            try:
                registry = R.load(self.paths)
            except ClockworkError as exc:
                log.error("registry unreadable, keeping the current model: %s", exc)
                self.events.write("refused", self.live.card if self.live else None, f"registry: {exc}")
                return False
            self._follow_challenger(registry)
            version = registry["aliases"]["production"]
            if version is None or (self.live and self.live.version == version):
                return False
            try:
                loaded = self._load(registry, version)
            except ClockworkError as exc:
                log.error("refusing model %s, keeping %s: %s", version, self.live and self.live.version, exc)
                self.events.write("refused", read_card_quietly(self.paths, version), str(exc))
                return False
            previous, card = self.live, loaded.card
            self.live = loaded
            self.events.write("swap" if previous else "start", card,
                              f"from {previous.version}" if previous else "model loaded")
            log.info("serving model %s%s", version, f" (was {previous.version})" if previous else "")
            return True

    def _follow_challenger(self, registry: dict) -> None:
        """Load the challenger alias's version (or drop it); a refused one is logged and not shadowed."""
        version = registry["aliases"].get("challenger")
        if (self.challenger.version if self.challenger else None) == version:
            return
        try:
            self.challenger = self._load(registry, version) if version else None
        except ClockworkError as exc:
            log.error("refusing challenger %s: %s", version, exc)
            self.events.write("refused", read_card_quietly(self.paths, version), f"challenger: {exc}")
            self.challenger = None
            return
        log.info("challenger %s", version or "cleared")

    def _load(self, registry: dict, version: str) -> LiveModel:
        """A registered version, its card's sha256 checked against the registry and the file's before
        unpickling, with its threshold and fast path. Raises ClockworkError saying what failed."""
        pipeline, card = R.load_registered(self.paths, version, registry)
        threshold = card["threshold"] if self.threshold == "model" else float(self.threshold)
        fast = FastForest.compile(pipeline) if self.fast else None
        return LiveModel(version, card, pipeline, threshold, utc_now(), fast and fast.parallel(*self.fast))

    def versions(self) -> list[str]:
        """Every registered version, oldest first (any of them can be asked for by name)."""
        try:
            return sorted(R.load(self.paths)["versions"], key=version_number)
        except ClockworkError:
            return [self.live.version] if self.live else []

    def model(self, version: str) -> LiveModel | None:
        """A registered version by name: the live one, or one loaded on demand (its sha256 checked
        against the registry before unpickling) and kept beside it; None if it is not registered."""
        live = self.live
        if live is not None and live.version == version:
            return live
        with self._lock:
            if version in self._others:
                return self._others[version]
            registry = R.load(self.paths)
            if version not in registry["versions"]:
                return None
            loaded = self._load(registry, version)
            kept = list(self._others.items())[-(KEEP_OTHERS - 1):] if KEEP_OTHERS > 1 else []
            self._others = {**dict(kept), version: loaded}
            return loaded

    def watch(self, interval: float) -> None:
        """Check the registry every interval seconds in a daemon thread."""
        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.refresh()
                except Exception:  # the watcher must outlive any one bad check
                    log.exception("registry check failed")
        threading.Thread(target=loop, name="registry-watch", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self.events.write("stop", self.live.card if self.live else None, "worker exiting")


def fast_options(deployment: dict) -> tuple[int, int] | None:
    """The fast path's (threads, min_rows) from the deployment params; None when it is turned off."""
    return (deployment["batch_threads"], deployment["batch_threads_min_rows"]) if deployment["fast_path"] else None


def read_card_quietly(paths: dict, version: str) -> dict | None:
    """A card for a log row about a refused model; None if even the card is unreadable."""
    try:
        return read_card(paths, version)
    except ClockworkError:
        return None
