"""HTTP plumbing every route group shares: JSON replies, request bodies and ids, and one Bottle
plugin that turns a refused request into its JSON answer.

Each route group builds its own Bottle app with json_app(), so the plugin applies to every route
it declares (bottle keeps a merged route's owner, and with it the owner's plugins).
"""
from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any, Callable, Iterable, Iterator

import bottle
import orjson

from scripts.core.config import ClockworkError, printable

log = logging.getLogger("clockwork.serve")
DUMPS_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
JSON = "application/json"
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestError(Exception):
    """A request the service refuses: an HTTP status, the field at fault, and why."""

    def __init__(self, status: int, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.status, self.field, self.reason = status, field, reason

    def body(self) -> dict:
        return {"error": f"{self.field}: {self.reason}", "field": self.field}


class Replies:
    """Writes a JSON answer: status, content type, and the live model's version as a header."""

    def __init__(self, holder: Any):
        self.holder = holder

    def __call__(self, status: int, doc: Any) -> bytes:
        bottle.response.status = status
        bottle.response.content_type = JSON
        live = self.holder.live
        if live:
            bottle.response.set_header("X-Model-Version", live.version)
        return dumps(doc)

    def stream(self, status: int, doc: dict, key: str, parts: Iterable[list]) -> Iterator[bytes]:
        """A JSON answer whose doc[key] is the concatenation of parts, written part by part: a large
        answer is never held whole. doc must not hold key; it comes last in the answer."""
        head = self(status, {**doc, key: []})
        if not head.endswith(b"[]}"):
            raise ValueError(f"{key} is not the last field of the answer")
        yield head[:-2]
        sep = b""
        for part in parts:
            if part:
                yield sep + dumps(part)[1:-1]
                sep = b","
        yield b"]}"


def dumps(doc: Any) -> bytes:
    """JSON bytes: orjson's encoder (numpy arrays and numbers included); the standard library's for
    what orjson refuses (an integer beyond 64 bits)."""
    try:
        return orjson.dumps(doc, option=DUMPS_OPTIONS)
    except TypeError:
        return json.dumps(doc).encode()


class JsonErrors:
    """Bottle plugin: RequestError -> its JSON answer; any other ClockworkError -> a logged bare 500."""
    name, api = "json_errors", 2

    def __init__(self, reply: Callable[[int, Any], str]):
        self.reply = reply

    def apply(self, callback: Callable[..., Any], route: Any) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return callback(*args, **kwargs)
            except RequestError as exc:
                return self.reply(exc.status, exc.body())
            except ClockworkError as exc:
                log.error("request failed: %s", exc)
                return self.reply(500, {"error": "internal error"})
        return wrapper


def error_page(res: bottle.HTTPError) -> str:
    """Bottle's own errors (no route, wrong method, a crash) as JSON, never an HTML page or a traceback."""
    bottle.response.content_type = JSON
    reason = {404: "no such endpoint", 405: f"method not allowed (allowed: {res.headers.get('Allow', '')})"}
    return json.dumps({"error": reason.get(res.status_code, res.body if isinstance(res.body, str) and res.body
                                           and res.status_code < 500 else "internal error")})


def json_app(reply: Callable[[int, Any], str]) -> bottle.Bottle:
    """A Bottle app for one route group, with the JSON-errors plugin installed."""
    app = bottle.Bottle()
    app.install(JsonErrors(reply))
    app.default_error_handler = error_page
    return app


def _no_constants(name: str) -> Any:
    raise RequestError(400, "body", f"{name} is not allowed: numbers must be finite")


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


def nesting_depth(raw: bytes, limit: int) -> int:
    """How deeply a JSON text's arrays and objects nest, or limit when it cannot be more (a body with at
    most limit brackets). Counted in C-speed passes: brackets inside strings are counted first, and
    only when that count exceeds limit are the strings taken out and the count made again. Pure."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return limit
    depth = _bracket_depth(raw)
    return depth if depth <= limit else _bracket_depth(_JSON_STRING.sub(b'""', raw))


def _bracket_depth(raw: bytes, chunk: int = 1 << 22) -> int:
    """The deepest running count of [ and { less ] and }, a few MB at a time. Pure."""
    import numpy as np

    step = np.zeros(256, dtype=np.int8)
    step[[ord("["), ord("{")]], step[[ord("]"), ord("}")]] = 1, -1
    deepest = level = 0
    for start in range(0, len(raw), chunk):
        text = np.frombuffer(raw, dtype=np.uint8, count=min(chunk, len(raw) - start), offset=start)
        running = np.cumsum(step[text], dtype=np.int32)
        deepest = max(deepest, level + int(running.max()))
        level += int(running[-1])
    return deepest


def parse_json(raw: bytes, max_depth: int) -> Any:
    """Decode a JSON body with orjson; what it refuses goes through the standard library's decoder for
    the message (and for what only it takes: integers beyond 64 bits). NaN and Infinity are refused, and
    so are arrays and objects nested deeper than max_depth (before any parser or validator recurses)."""
    depth = nesting_depth(raw, max_depth)
    if depth > max_depth:
        raise RequestError(400, "body", f"arrays and objects nested {depth} deep; at most {max_depth} are accepted")
    try:  # (orjson reads an integer beyond 64 bits as a float: the schemas bound every integer below that)
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except UnicodeDecodeError:
        raise RequestError(400, "body", "not UTF-8") from None
    except ValueError as exc:
        raise RequestError(400, "body", f"not valid JSON: {exc}") from None


def media_type() -> str:
    """The request's Content-Type without parameters, lower case ('' when absent)."""
    return (bottle.request.content_type or "").split(";")[0].strip().lower()


def read_bytes(max_body: int, discard_max: int) -> bytes:
    """The request body, at most max_body bytes. A larger one is read and discarded (up to
    discard_max bytes) before the 413, so a client that writes its whole body before reading the
    answer (urllib, requests) gets the 413 rather than a reset connection."""
    length = bottle.request.content_length
    stream = bottle.request.environ["wsgi.input"]
    if length > max_body:
        _discard(stream, min(length, discard_max))
        raise RequestError(413, "body", f"{length} bytes exceed the limit of {max_body}")
    raw = stream.read(length if length >= 0 else max_body + 1)
    if len(raw) > max_body:
        _discard(stream, discard_max)
        raise RequestError(413, "body", f"more than the limit of {max_body} bytes")
    return raw


def _discard(stream: Any, most: int) -> None:
    left = most
    while left > 0:
        chunk = stream.read(min(left, 1 << 16))
        if not chunk:
            return
        left -= len(chunk)


def read_body(limits: tuple[int, int, int], type_optional: bool = False) -> Any:
    """The request's JSON body: application/json (or no Content-Type, when type_optional), valid JSON
    within limits: (most bytes, most bytes read and dropped before a 413, deepest nesting)."""
    content_type = media_type()
    if content_type != JSON and not (type_optional and not content_type):
        raise RequestError(415, "Content-Type", f"{content_type or 'none'}: send application/json")
    max_body, discard_max, max_depth = limits
    return parse_json(read_bytes(max_body, discard_max), max_depth)


def request_ids(preferred: Any = None) -> tuple[str, str | None]:
    """The service's own id for this request (new and unique: prediction ids, which labels attach to,
    are made from it) and the client's, if it sent one (preferred, an id in the body, else the
    X-Request-ID header; a safe token only): kept in its own field and echoed, never a key."""
    client = next((c for c in (preferred, bottle.request.get_header("X-Request-ID"))
                   if isinstance(c, str) and REQUEST_ID.match(c)), None)
    return uuid.uuid4().hex, client


# Pages are self-contained: inline styles, no script, nothing fetched from anywhere.
PAGE_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'self'; "
               "frame-ancestors 'none'")


def html(text: str) -> str:
    """An HTML page as the answer, under a Content-Security-Policy that lets it run and fetch nothing."""
    bottle.response.content_type = "text/html; charset=utf-8"
    bottle.response.set_header("Content-Security-Policy", PAGE_POLICY)
    return text


def host_name(value: str) -> str:
    """The host of a Host header or an origin's authority, without its port, lower case. Pure."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def guard(app: Callable, allowed_hosts: list[str]) -> Callable:
    """WSGI middleware against a browser turned on the service: a Host outside allowed_hosts (DNS
    rebinding) and an Origin other than the service's own (any other web page) get a 403 before any
    route runs; every answer says X-Content-Type-Options: nosniff. Clients that send no Origin (curl,
    tritonclient, MLflow's) are unaffected."""
    allowed = {host_name(h) for h in allowed_hosts}

    def refuse(start_response: Callable, field: str, reason: str) -> list[bytes]:
        body = dumps({"error": f"{field}: {reason}", "field": field})
        start_response("403 Forbidden", [("Content-Type", JSON), ("Content-Length", str(len(body))),
                                         ("X-Content-Type-Options", "nosniff")])
        return [body]

    def middleware(environ: dict, start_response: Callable) -> Any:
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        if host_name(host) not in allowed:
            return refuse(start_response, "Host", f"{printable(host[:100])!r} is not a name this service answers to "
                                                  "(params deployment.allowed_hosts)")
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and origin.lower() not in (f"http://{host.lower()}", f"https://{host.lower()}"):
            return refuse(start_response, "Origin", f"{printable(origin[:100])!r} is not this service's own origin; "
                                                    "requests from other web pages are refused")

        def with_nosniff(status: str, headers: list, exc_info: Any = None) -> Any:
            headers = [*headers, ("X-Content-Type-Options", "nosniff")]
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return app(environ, with_nosniff)
    middleware.bottle = getattr(app, "bottle", app)  # type: ignore[attr-defined]
    return middleware
