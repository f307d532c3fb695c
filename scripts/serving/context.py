"""What every route group is given: the settings, the live model, request parsing, replies and scoring."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from scripts.core.web import Replies, read_body, read_bytes
from scripts.serving.inference import Requests
from scripts.serving.scoring import Scorer
from scripts.serving.telemetry import Metrics
from scripts.serving.worker import body_deadline


@dataclass(frozen=True)
class Context:
    params: dict
    holder: Any  # a ModelHolder, or anything with a .live attribute
    metrics: Metrics
    requests: Requests
    reply: Replies
    score: Scorer
    model_name: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "model_name", self.params["deployment"]["model_name"])

    def body(self, type_optional: bool = False) -> Any:
        """The request's JSON body, within deployment.max_body_bytes and body_timeout_s."""
        deployment = self.params["deployment"]
        with body_deadline(deployment["body_timeout_s"]):
            return read_body((deployment["max_body_bytes"], deployment["max_discard_bytes"], deployment["max_json_depth"]),
                             type_optional)

    def raw_body(self) -> bytes:
        """The request's body as bytes, within deployment.max_body_bytes and body_timeout_s."""
        deployment = self.params["deployment"]
        with body_deadline(deployment["body_timeout_s"]):
            return read_bytes(deployment["max_body_bytes"], deployment["max_discard_bytes"])

    def answer(self, doc: dict, key: str, items: Callable[[int, int], list], n: int) -> bytes | Iterator[bytes]:
        """A 200 answer whose doc[key] lists items(start, stop) for rows 0..n: whole up to
        deployment.stream_rows rows, else written slice by slice (never the whole text in memory)."""
        size = self.params["deployment"]["stream_rows"]
        parts = (items(start, min(start + size, n)) for start in range(0, n, size))
        stream = self.reply.stream(200, doc, key, parts)
        return b"".join(stream) if n <= size else stream

    @staticmethod
    def clock() -> float:
        return time.perf_counter()
