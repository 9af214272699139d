"""The local feed: how a device platform hands signals to the agent (format in FEED.md).

Two transports carry the same JSON events: HTTP (``POST /events`` on loopback, for skills
and automation apps) and one JSON object per stdin line (for a platform that pipes). A
``200`` answer means the event is on disk in the outbox; an optional ``id`` lets the sender
retry safely. Bad input gets a ``400`` with a reason, never a crash. Only the standard
library is used: this runs on a speaker.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, Any

import structlog

from alerts.clock import Clock
from edge.adapter import Adapter, FeedError

log = structlog.get_logger(__name__)

MAX_BODY = 64 * 1024
MAX_EVENTS = 100
MAX_REF = 128
# Device clocks drift; a small lead is tolerated, a large one is a broken clock.
MAX_FUTURE = timedelta(minutes=5)


class FeedProcessor:
    """Validates feed events and hands them to the adapter."""

    def __init__(
        self, adapter: Adapter, clock: Clock, status: Callable[[], dict[str, Any]]
    ) -> None:
        self.adapter = adapter
        self.clock = clock
        self.status = status
        self._lock = threading.Lock()

    def process(self, event: object) -> dict[str, str]:
        """One event; raises FeedError with a message for the sender."""
        if not isinstance(event, dict):
            msg = "each event must be a JSON object"
            raise FeedError(msg)
        at = self._time(event.get("ts"))
        ref = event.get("id")
        if ref is not None and (not isinstance(ref, str) or not 1 <= len(ref) <= MAX_REF):
            msg = f"'id' must be a string of 1-{MAX_REF} characters"
            raise FeedError(msg)
        with self._lock:  # one event at a time: folding and check-in state are sequential
            result = self.adapter.handle_feed(event, at, ref)
        out = {"outcome": result.outcome}
        if result.detail:
            out["detail"] = result.detail
        return out

    def process_body(self, body: bytes) -> list[dict[str, str]]:
        """A request body: one event or a list of up to MAX_EVENTS."""
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            msg = "body is not JSON"
            raise FeedError(msg) from None
        events = data if isinstance(data, list) else [data]
        if len(events) > MAX_EVENTS:
            msg = f"at most {MAX_EVENTS} events per request"
            raise FeedError(msg)
        return [self.process(event) for event in events]

    def _time(self, value: object) -> datetime:
        now = self.clock.now()
        if value is None:
            return now
        if not isinstance(value, str):
            msg = "'ts' must be an RFC 3339 string with an offset"
            raise FeedError(msg)
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            msg = f"'ts' is not RFC 3339: {value[:40]!r}"
            raise FeedError(msg) from None
        if at.tzinfo is None:
            msg = "'ts' needs a UTC offset (e.g. +09:00)"
            raise FeedError(msg)
        if at > now + MAX_FUTURE:
            msg = "'ts' is in the future; is the sender's clock right?"
            raise FeedError(msg)
        return at


class HttpFeed:
    """``POST /events`` and ``GET /status`` on a loopback port."""

    def __init__(self, processor: FeedProcessor, host: str, port: int) -> None:
        handler = _handler_for(processor)
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="anbu-edge-feed", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler_for(processor: FeedProcessor) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "anbu-edge-feed"

        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/events":
                self._reply(HTTPStatus.NOT_FOUND, {"error": "POST /events"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "body too large"})
                return
            try:
                results = processor.process_body(self.rfile.read(length))
            except FeedError as exc:
                self._reply(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
                return
            except Exception:
                log.exception("feed event failed")
                self._reply(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "not stored; retry"})
                return
            self._reply(HTTPStatus.OK, {"results": results})

        def do_GET(self) -> None:
            if self.path.rstrip("/") != "/status":
                self._reply(HTTPStatus.NOT_FOUND, {"error": "GET /status"})
                return
            self._reply(HTTPStatus.OK, processor.status())

        def _reply(self, status: HTTPStatus, body: object) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Requests are not logged: their bodies can hold what the resident said."""

    return Handler


def read_lines(processor: FeedProcessor, stream: IO[str]) -> None:
    """Feed from a stream of JSON lines until it ends; bad lines are logged and skipped."""
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            processor.process_body(line.encode())
        except FeedError as exc:
            log.error("bad feed line", line=number, error=str(exc))
        except Exception:
            log.exception("feed line failed", line=number)
