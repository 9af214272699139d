"""The ingest worker outlives a database outage that begins while a step is due.

The core here stands in for a hub whose database is away: its reads raise the error an
unreachable database raises. The worker thread must still be alive afterwards and take
what comes next (it died: the read of the next due time after a failed step was outside
any ``try``, so nothing was stored or acknowledged again until the hub was restarted).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import OperationalError

from alerts.clock import SystemClock
from hub.worker import IngestWorker
from tests.hub.support import wait_until


class _AwayDatabase:
    """A core whose database is unreachable until ``back`` is set."""

    def __init__(self) -> None:
        self.back = threading.Event()
        self.reads = 0

    def _unreachable(self) -> None:
        if not self.back.is_set():
            self.reads += 1
            raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    def next_due(self) -> datetime | None:
        self._unreachable()
        return None

    def run_due(self, now: datetime, limit: int = 500) -> int:
        self._unreachable()
        return 0

    def ingest(self, batch: list[Any], now: datetime) -> None:
        self._unreachable()


def test_the_worker_survives_an_outage_that_starts_with_a_step_due() -> None:
    core = _AwayDatabase()
    # A step is due at once: next_due answers "now" the first time, then the database goes.
    first = [True]

    def next_due() -> datetime | None:
        if first[0]:
            first[0] = False
            return datetime.now(UTC) - timedelta(seconds=1)
        return _AwayDatabase.next_due(core)

    core.next_due = next_due  # type: ignore[method-assign]
    worker = IngestWorker(core, SystemClock(), ack=lambda _m: None, wake_outbox=lambda: None)  # type: ignore[arg-type]
    worker.start()
    try:
        assert wait_until(lambda: core.reads >= 3, timeout=10), "the worker stopped looking"
        assert worker._thread.is_alive(), "the worker thread died in the outage"
        core.back.set()
        assert worker.call(lambda now: "served", timeout=10) == "served"
    finally:
        worker.stop()


def test_a_call_that_waited_too_long_is_withdrawn_and_never_runs() -> None:
    """A caller that timed out answers "try again" (the phone feed's 503): the work must not
    still be done behind its back, or the sender's retry stores it twice."""
    core = _AwayDatabase()
    core.back.set()
    worker = IngestWorker(core, SystemClock(), ack=lambda _m: None, wake_outbox=lambda: None)  # type: ignore[arg-type]
    worker.start()
    release = threading.Event()
    ran: list[str] = []
    try:
        blocker = threading.Thread(target=lambda: worker.call(lambda now: release.wait(10)))
        blocker.start()
        assert wait_until(lambda: worker.backlog() == 0, timeout=5)  # the worker is held
        try:
            worker.call(lambda now: ran.append("late"), timeout=0.2)
        except TimeoutError:
            pass
        else:
            raise AssertionError("the call should have timed out behind the held worker")
        release.set()
        blocker.join(timeout=10)
        assert worker.call(lambda now: "served", timeout=10) == "served"
        assert ran == []
    finally:
        release.set()
        worker.stop()
