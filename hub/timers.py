"""Time: the residents' due steps and the digests, fired when their time has come.

Owns the hub's timer side: when the next step or digest falls due (the worker sleeps until
then), and firing every step due at a time, each resident in a transaction of its own. A
step that keeps failing is postponed, never retried in a tight loop; an unreachable
database stops the round so the worker can retry it whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import structlog

from alerts.inputs import Tick
from hub.digests import Digests
from hub.store.db import Engine, reading, writing
from hub.store.digest_queue import next_digest_at
from hub.store.errors import UNREACHABLE
from hub.store.states import due_now, due_times, earliest_due, postpone
from hub.unit_of_work import Decider

__all__ = ["TICK_RETRY", "Timers"]

log = structlog.get_logger(__name__)

TICK_RETRY = timedelta(seconds=30)


class Timers:
    """Due steps and digests (see the module docstring)."""

    def __init__(self, engine: Engine, decider: Decider, digests: Digests) -> None:
        self._engine = engine
        self._decider = decider
        self._digests = digests

    def next_due(self, resident_id: str | None = None) -> datetime | None:
        """The earliest due step (and digest); of one resident only when ``resident_id``."""
        with reading(self._engine) as conn:
            due = earliest_due(conn, resident_id)
            digest = next_digest_at(conn)
        candidates = [t for t in (due, digest) if t is not None]
        return min(candidates) if candidates else None

    def due_of(self, resident_ids: Iterable[str]) -> dict[str, datetime | None]:
        """Each resident's next due step (a replay schedules residents one by one)."""
        with reading(self._engine) as conn:
            return due_times(conn, resident_ids)

    def next_digest(self) -> datetime | None:
        """When the next digest falls due, if any waits."""
        with reading(self._engine) as conn:
            return next_digest_at(conn)

    def run_due(self, now: datetime, limit: int = 500, only: str | None = None) -> int:
        """Fire every resident step and digest due at ``now`` (the steps of resident ``only``
        alone when given: a stored simulator run schedules its household on its own);
        returns how many fired."""
        with reading(self._engine) as conn:
            due = due_now(conn, now, limit, only)
        fired = 0
        for resident_id, due_at in due:
            try:
                with self._decider.unit(now) as (conn, work):
                    self._decider.decide(conn, resident_id, Tick(), now, work)
                    work.ledger.tally.lags.append((now - due_at).total_seconds())
            except UNREACHABLE:
                raise
            except Exception:
                # A step that keeps failing must not spin the worker: look again later.
                log.exception("tick.failed", resident=resident_id)
                self._decider.forget(resident_id)
                with writing(self._engine) as conn:
                    postpone(conn, resident_id, now + TICK_RETRY)
                continue
            fired += 1
        return fired + self._deliver_digests(now)

    def _deliver_digests(self, now: datetime) -> int:
        with writing(self._engine) as conn:
            return self._digests.deliver(conn, now)
