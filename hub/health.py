"""What ``/health`` says, and the time limit on every look at the database it takes.

``/health`` is ok only when all of these hold: the broker is connected; the database
answers a trivial query within :data:`PROBE_TIMEOUT_S` (on a connection of its own, never
one from the writers' pool); the ingest worker's last write committed; and the write it is
doing now (if any) has not gone longer than ``ANBU_HEALTH_MAX_BEHIND_S`` without
committing. A database that reads but cannot store (a full disk) fails the third; one whose
connection froze fails the second within the time limit, and the fourth.

:class:`Bounded` runs one database look at a time on a thread of its own and waits for it
at most a given time: a look that hangs (a half-open connection answers neither data nor
an error) makes the answer "unreachable" in time, and while it still hangs the next asks
get the same answer at once instead of piling up threads behind it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Final, Generic, TypeVar

import structlog

from hub.store.db import Engine, reachable

log = structlog.get_logger(__name__)
T = TypeVar("T")

PROBE_TIMEOUT_S: Final = 1.0
"""How long ``/health`` waits for the database's answer."""
SCRAPE_TIMEOUT_S: Final = 2.0
"""How long a ``/metrics`` scrape waits for its database reads."""


class WriteRecord:
    """How the worker's writes are going, for ``/health`` and ``/metrics``.

    Set only by the worker thread, read by others: each field is one assignment, so a
    reader sees either the old or the new value. Times are ``time.monotonic()``: how long
    ago something happened must not move when the wall clock is set.
    """

    def __init__(self) -> None:
        self.ok: bool | None = None
        """Whether the last write (a batch of messages or due timers) committed; None: none yet."""
        self.error: str | None = None
        """The last failed write's exception type, kept until a write commits again."""
        self.last_ok_at: float | None = None
        self.busy_since: float | None = None
        """When the write in progress began (its first attempt); None while idle."""

    def began(self) -> None:
        # Kept from an earlier write that has not committed yet: behind since the oldest.
        if self.busy_since is None:
            self.busy_since = time.monotonic()

    def succeeded(self) -> None:
        self.ok = True
        self.error = None
        self.last_ok_at = time.monotonic()
        self.busy_since = None

    def failed(self, error: BaseException) -> None:
        # Only the type: a message can hold data from the rows (never logged or served).
        self.error = type(error).__name__
        self.ok = False

    def behind_s(self) -> float:
        """How long the write in progress has gone without committing (0 when idle)."""
        since = self.busy_since
        return 0.0 if since is None else max(0.0, time.monotonic() - since)


class NoAnswerError(Exception):
    """The database look did not finish in time (or one before it still hangs)."""


class Bounded(Generic[T]):
    """Runs ``fn`` on a thread of its own, one call at a time, waiting at most ``timeout_s``.

    Daemon threads, not an executor: a look that hangs must not hold up the process's exit.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._inflight: Future[T] | None = None
        self._inflight_since = 0.0

    def run(self, fn: Callable[[], T], timeout_s: float) -> T:
        with self._lock:
            if self._inflight is not None and not self._inflight.done():
                waited = time.monotonic() - self._inflight_since
                msg = f"an earlier look has waited {waited:.1f} s for the database"
                raise NoAnswerError(msg)
            future: Future[T] = Future()
            self._inflight, self._inflight_since = future, time.monotonic()
        threading.Thread(target=_settle, args=(future, fn), name=self._name, daemon=True).start()
        try:
            return future.result(timeout=timeout_s)
        except FutureTimeout:
            msg = f"no answer from the database within {timeout_s} s"
            raise NoAnswerError(msg) from None


def _settle(future: Future[T], fn: Callable[[], T]) -> None:
    try:
        future.set_result(fn())
    except BaseException as error:  # handed to the caller, who decides
        future.set_exception(error)


class Health:
    """Composes the ``/health`` answer for one hub."""

    def __init__(self, probe_engine: Engine, max_behind_s: float) -> None:
        self.engine = probe_engine
        """Connections of their own for the probe and the metrics' reads (no pool)."""
        self.max_behind_s = max_behind_s
        self._probe: Bounded[bool] = Bounded("anbu-db-probe")

    def database_answers(self) -> bool:
        """Whether the database answered ``SELECT 1`` within :data:`PROBE_TIMEOUT_S`."""
        try:
            return self._probe.run(lambda: reachable(self.engine), PROBE_TIMEOUT_S)
        except NoAnswerError as error:
            log.warning("health.database_no_answer", why=str(error))
            return False

    def report(self, *, mqtt: bool, backlog: int, writes: WriteRecord) -> dict[str, Any]:
        database = self.database_answers()
        behind_s = writes.behind_s()
        writes_ok = writes.ok is not False
        problems = [
            name
            for name, bad in (
                ("mqtt_disconnected", not mqtt),
                ("database_unreachable", not database),
                ("last_write_failed", not writes_ok),
                ("writes_behind", behind_s > self.max_behind_s),
            )
            if bad
        ]
        last_ok = writes.last_ok_at
        return {
            "status": "degraded" if problems else "ok",
            "mqtt": mqtt,
            "database": database,
            "backlog": backlog,
            "writes_ok": writes_ok,
            "write_error": writes.error,
            "behind_s": round(behind_s, 3),
            "max_behind_s": self.max_behind_s,
            "last_write_ago_s": None if last_ok is None else round(time.monotonic() - last_ok, 3),
            "problems": problems,
        }

    def close(self) -> None:
        self.engine.dispose()
