"""Time: the residents' due steps and the digests, fired when their time has come.

Owns the hub's timer side: when the next step or digest falls due (the worker sleeps until
then), and firing the steps due at a time **in batches**: one call claims up to ``limit``
due residents with their states in one query (``FOR UPDATE SKIP LOCKED`` on PostgreSQL),
has the pure core decide each (:class:`hub.unit_of_work.Decider`) and commits the batch's
decisions, outbox rows and states in one transaction — all of them or none, so a crash
mid-batch leaves nothing half-done and the next run decides the same residents again (the
unique keys of the rows make that harmless). The worker calls it again, between the
queue's messages, until nothing is due (:mod:`hub.worker` sizes the batches).

A step that fails (not the database: an error of that resident's) fails its batch; the
batch is then decided again one resident per transaction, so the others go through and the
failing one is postponed, never retried in a tight loop. An unreachable database stops the
round so the worker can retry it whole.
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
from hub.store.rows import outbox_in_bulk
from hub.store.states import claim_due, due_now, due_times, earliest_due, postpone
from hub.unit_of_work import Decider

__all__ = ["BATCH", "TICK_RETRY", "Timers"]

log = structlog.get_logger(__name__)

TICK_RETRY = timedelta(seconds=30)
BATCH = 500
"""Residents decided in one transaction unless the caller says otherwise."""


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

    def run_due(self, now: datetime, limit: int = BATCH, only: str | None = None) -> int:
        """Fire one batch of up to ``limit`` resident steps due at ``now`` (the steps of
        resident ``only`` alone when given: a stored simulator run schedules its household
        on its own), then, once no more steps are due, the digests due; returns how many
        fired. Steps still due after it are the next call's."""
        try:
            fired = self._batch(now, limit, only)
        except UNREACHABLE:
            raise
        except Exception:
            # One resident's step failed the whole batch (rolled back, nothing of it kept):
            # decide the same residents one per transaction, so only that one waits.
            log.exception("tick.batch_failed", limit=limit)
            fired = self._one_by_one(now, limit, only)
        if fired >= limit:
            return fired  # more steps wait: the digests (a transaction of their own) after
        return fired + self._deliver_digests(now)

    def _batch(self, now: datetime, limit: int, only: str | None) -> int:
        with self._decider.unit(now) as (conn, work), outbox_in_bulk(conn):
            claimed = claim_due(conn, now, limit, only)
            self._decider.prime(work, {one.resident_id: one.state for one in claimed})
            for one in claimed:
                self._decider.decide(conn, one.resident_id, Tick(), now, work)
                work.ledger.tally.lags.append((now - one.due_at).total_seconds())
        return len(claimed)

    def _one_by_one(self, now: datetime, limit: int, only: str | None) -> int:
        fired = 0
        with reading(self._engine) as conn:
            due = [resident_id for resident_id, _ in due_now(conn, now, limit, only)]
        for resident_id in due:
            try:
                fired += self._batch(now, 1, resident_id)
            except UNREACHABLE:
                raise
            except Exception:
                # A step that keeps failing must not spin the worker: look again later.
                log.exception("tick.failed", resident=resident_id)
                self._decider.forget(resident_id)
                with writing(self._engine) as conn:
                    postpone(conn, resident_id, now + TICK_RETRY)
        return fired

    def _deliver_digests(self, now: datetime) -> int:
        with writing(self._engine) as conn:
            return self._digests.deliver(conn, now)
