"""What every route group is given: the settings, the live model, request parsing, replies and scoring."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from scripts.core.web import Replies, read_body
from scripts.serving.inference import Requests
from scripts.serving.scoring import Scorer
from scripts.serving.telemetry import Metrics


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

    def body(self) -> Any:
        """The request's JSON body, within deployment.max_body_bytes."""
        return read_body(self.params["deployment"]["max_body_bytes"])

    @staticmethod
    def clock() -> float:
        return time.perf_counter()
