"""``/health`` and ``anbu_database_up`` tell the truth about storing, and answer in time.

Two faults, each with a steady stream of QoS 1 events, no mocks:

* A full disk under SQLite: the hub's database lives on a small tmpfs of its own that the
  test fills with a file until ``ENOSPC``, then deletes the file. Mounting needs root
  (CAP_SYS_ADMIN); without it the test is skipped and says so.
* A frozen PostgreSQL connection: the hub reaches PostgreSQL through a loopback TCP proxy
  that the test pauses: connections stay open, bytes stop moving both ways, no error comes
  (a half-open connection).

In both, ``/health`` answers 503 within 2 s of the fault and every answer comes within 2 s;
nothing is acknowledged to the broker meanwhile (the worker's ``processed``, which counts
acknowledgements, does not move); once the fault ends every event is stored exactly once.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url

from hub.health import SCRAPE_TIMEOUT_S
from hub.store.db import open_engine
from hub.store.tables import events
from tests.hub.conftest import RunningHub
from tests.hub.support import wait_until

# Timing is part of what this checks: it runs alone, after the parallel part of the suite
# (scripts/test.sh), so other tests' load cannot fail it.
pytestmark = pytest.mark.serial

EVENTS = 40
ANSWER_WITHIN_S = 2.0


class FreezableProxy:
    """Forwards loopback TCP to ``target``; :meth:`freeze` stops moving bytes (both ways,
    new connections included) without closing anything, :meth:`thaw` resumes."""

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def freeze(self) -> None:
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    def close(self) -> None:
        self._closed.set()
        self._flowing.set()
        self._listener.close()
        for sock in self._sockets:
            sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            self._sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                # Frozen: hold what arrived; the sender sees no error, only silence.
                self._flowing.wait()
                if not data or self._closed.is_set():
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def _timed_health(running: RunningHub) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    response = httpx.get(f"{running.base}/health", timeout=10)
    return response.status_code, response.json(), time.monotonic() - started


def _stored(engine: Engine, device: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(events).where(events.c.device_id == device)
            ).scalar_one()
        )


def _health_turns(running: RunningHub, code: int, within_s: float) -> dict[str, Any]:
    """Poll ``/health`` until it answers ``code``; every answer must come in time."""
    deadline = time.monotonic() + within_s
    while True:
        status, body, took = _timed_health(running)
        assert took < ANSWER_WITHIN_S, f"/health took {took:.2f} s"
        if status == code:
            return body
        assert time.monotonic() < deadline, f"/health still {status} after {within_s} s: {body}"
        time.sleep(0.05)


def _metric(running: RunningHub, name: str) -> tuple[float, float]:
    started = time.monotonic()
    page = httpx.get(f"{running.base}/metrics", timeout=10).text
    took = time.monotonic() - started
    for line in page.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1]), took
    raise AssertionError(f"{name} not on /metrics")


def _outage(
    running: RunningHub,
    counting: Engine,
    begin: Callable[[], None],
    end: Callable[[], None],
) -> dict[str, Any]:
    """Events sent during an outage: none acknowledged meanwhile, all stored once after."""
    running.resident("r-health", {"spk1": "speaker"})
    device = running.device("r-health", "spk1")
    try:
        running.taken(device)
        assert _timed_health(running)[0] == 200
        before = _stored(counting, "spk1")
        processed = running.hub.worker.processed
        begin()
        try:
            for _ in range(EVENTS):
                device.activity(wait=False)
            body = _health_turns(running, 503, ANSWER_WITHIN_S)
            up, took = _metric(running, "anbu_database_up")
            assert up == 0
            # Bounded by the scrape's own limit (2 s) plus rendering; well inside
            # Prometheus's default 10 s scrape timeout even on a loaded 2-core runner
            # (3.4 s seen once with the whole suite running beside it).
            assert took < SCRAPE_TIMEOUT_S + 3.0, f"/metrics took {took:.2f} s"
            wait_until(device.published, 10)  # the broker has them all
            # Still down a while later: nothing stored, nothing acknowledged to the broker.
            body = _health_turns(running, 503, ANSWER_WITHIN_S)
            assert _stored(counting, "spk1") == before
            assert running.hub.worker.processed == processed
        finally:
            end()
        wait_until(lambda: _stored(counting, "spk1") == before + EVENTS, 30)
        _health_turns(running, 200, 15)
        assert running.hub.worker.processed == processed + EVENTS
        return body
    finally:
        device.close()


class SmallDisk:
    """A tmpfs of :data:`DISK_MB` mounted at ``path``; :meth:`fill` takes all its room."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._filler = path / "filler"

    def fill(self, db: Path) -> None:
        # An empty WAL first: a WAL reset after a checkpoint rewrites blocks it already has,
        # so the next commit must grow the file, and the disk has no room for that.
        with sqlite3.connect(db) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        # Unbuffered: a buffered file keeps what did not fit and fails again as it closes
        # (the test failed so once, at the end of the `with`).
        with self._filler.open("wb", buffering=0) as out:
            try:
                while True:
                    out.write(b"\0" * 65536)
            except OSError as error:
                assert error.errno == errno.ENOSPC
        assert shutil.disk_usage(self.path).free < 65536

    def free(self) -> None:
        self._filler.unlink()


DISK_MB = 32


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"a full disk needs a tmpfs of its own and mounting one failed: {made.stderr}")
    try:
        yield SmallDisk(mount)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sqlite_on_a_full_disk_is_not_healthy_and_loses_nothing(
    small_disk: SmallDisk, start_hub: Callable[..., RunningHub]
) -> None:
    db = small_disk.path / "anbu.db"
    url = f"sqlite:///{db}"
    running = start_hub(db_url=url)
    counting = open_engine(url)
    try:
        body = _outage(running, counting, lambda: small_disk.fill(db), small_disk.free)
    finally:
        counting.dispose()
    # It reads (the probe answers) but cannot store: that is what makes it unhealthy.
    assert body["database"] is True
    assert body["writes_ok"] is False
    assert body["write_error"] == "OperationalError"
    assert "last_write_failed" in body["problems"]


@pytest.fixture
def frozen_pg(pg_url: str) -> Iterator[tuple[FreezableProxy, str]]:
    url = make_url(pg_url)
    proxy = FreezableProxy((url.host or "127.0.0.1", url.port or 5432))
    try:
        yield proxy, url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
    finally:
        proxy.close()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_frozen_postgresql_connection_gives_503_in_time_and_loses_nothing(
    start_hub: Callable[..., RunningHub],
    pg_url: str,
    frozen_pg: tuple[FreezableProxy, str],
) -> None:
    proxy, proxied = frozen_pg
    running = start_hub(db_url=proxied)
    counting = open_engine(pg_url)  # straight to PostgreSQL, past the proxy
    try:
        body = _outage(running, counting, proxy.freeze, proxy.thaw)
    finally:
        counting.dispose()
    assert body["database"] is False
    assert "database_unreachable" in body["problems"]


def test_postgresql_connections_carry_statement_and_lock_limits(pg_url: str) -> None:
    engine = open_engine(pg_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "30s"
            assert conn.execute(text("SHOW lock_timeout")).scalar() == "10s"
    finally:
        engine.dispose()
