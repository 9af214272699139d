"""Time-series servers for the telemetry tests.

* :class:`VictoriaMetrics` - Debian's ``victoria-metrics`` binary on a free loopback port with
  its data in a temporary folder; it accepts the InfluxDB v2 write API at ``/api/v2/write``
  (metric name ``{measurement}_{field}``, tags as labels; the bucket is not a label) and is
  read back through ``/api/v1/export`` (one JSON series per line).
* :class:`LineServer` - a tiny HTTP server speaking just ``POST /api/v2/write``, whose
  answer (status, delay) the test chooses; it records every request.
* :func:`failed_writes` - counts a :class:`~hub.telemetry.Telemetry`'s failed write attempts,
  so a test waits for "it has retried a few times" instead of sleeping.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from hub.telemetry import Telemetry
from tests.conftest import free_port

VM_BINARY = "victoria-metrics"


def find_victoria_metrics() -> str | None:
    found = shutil.which(VM_BINARY)
    if found is None and Path("/usr/bin/victoria-metrics").exists():
        found = "/usr/bin/victoria-metrics"
    return found


class VictoriaMetrics:
    """One VictoriaMetrics process; ``stop``/``start`` again keep its port and data."""

    def __init__(self, workdir: Path, binary: str) -> None:
        self.workdir = workdir
        self.binary = binary
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    def start(self, timeout: float = 20.0) -> None:
        assert self._process is None, "already running"
        log = (self.workdir / "vm.log").open("ab")
        self._process = subprocess.Popen(
            [
                self.binary,
                f"-storageDataPath={self.workdir / 'data'}",
                f"-httpListenAddr=127.0.0.1:{self.port}",
                "-loggerLevel=WARN",
                "-retentionPeriod=100y",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                msg = f"victoria-metrics exited with {self._process.returncode}: {self.log_tail()}"
                raise RuntimeError(msg)
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        msg = f"victoria-metrics not healthy within {timeout} s: {self.log_tail()}"
        raise RuntimeError(msg)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def log_tail(self) -> str:
        path = self.workdir / "vm.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def export_text(self, match: str = '{__name__!=""}') -> str:
        # What was written becomes searchable only once VictoriaMetrics flushes its in-memory
        # buffers (some 10 s here); its test endpoint does that now, so a read-back is not
        # a wait on the server's timer.
        httpx.get(f"{self.url}/internal/force_flush", timeout=10).raise_for_status()
        response = httpx.post(f"{self.url}/api/v1/export", data={"match[]": match}, timeout=10)
        response.raise_for_status()
        return response.text

    def export(self, match: str = '{__name__!=""}') -> list[dict[str, Any]]:
        """Every series matching: ``{"metric": {labels}, "values": [...], "timestamps": [...]}``."""
        return [json.loads(line) for line in self.export_text(match).splitlines() if line]


@dataclass
class Request:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: str


class LineServer:
    """``POST /api/v2/write`` answered with ``status`` after ``delay_s``; requests recorded."""

    def __init__(self, status: int = 204, delay_s: float = 0.0) -> None:
        self.status = status
        self.delay_s = delay_s
        self.requests: list[Request] = []
        self.statuses: list[int] = []  # per request, overrides ``status`` while not empty
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode()
                parts = urlsplit(self.path)
                server.requests.append(
                    Request(parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
                )
                if server.delay_s:
                    time.sleep(server.delay_s)
                status = server.statuses.pop(0) if server.statuses else server.status
                payload = b'{"code":"invalid","message":"refused by the test"}'
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload) if status >= 300 else 0))
                    self.end_headers()
                    if status >= 300:
                        self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up waiting

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def lines(self) -> list[str]:
        return [line for request in self.requests for line in request.body.splitlines() if line]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def failed_writes(telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The errors of ``telemetry``'s write attempts that fail from now on, one per attempt.

    Wraps the one call its retry loop makes per attempt (``_post``): the sink counts no
    attempts of its own. Install it before the points that will fail are offered.
    """
    failures: list[str] = []
    post = telemetry._post

    def counted(body: str) -> None:
        try:
            post(body)
        except Exception as error:
            failures.append(type(error).__name__)
            raise

    monkeypatch.setattr(telemetry, "_post", counted)
    return failures
