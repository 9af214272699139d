"""Residents' stored core states: written by the ingest worker in bulk, read as committed.

Owns ``resident_state``: the worker's writes of a batch's states and next due times (one
executemany per batch), the claim of a batch of due steps (with their states, in one query),
and the reads in bulk for everyone (the API and guardian links see what has committed, never
the worker's own cache), chunked to keep within the databases' parameter limits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, func, insert, select, update

from alerts.engine import Decision
from alerts.state import ResidentState
from hub.store.tables import resident_state

__all__ = [
    "Claimed",
    "claim_due",
    "due_now",
    "due_times",
    "earliest_due",
    "load_states",
    "postpone",
    "save_state",
    "save_states",
]

_CHUNK = 500

# Built once: a batch saves up to one state per resident, and building, cache-keying and
# binding a fresh UPDATE per resident cost more than the database work itself.
_SAVE_STATE = (
    update(resident_state)
    .where(resident_state.c.resident_id == bindparam("b_resident"))
    .values(
        state=bindparam("b_state"),
        next_due_at=bindparam("b_next_due_at"),
        last_activity_at=bindparam("b_last_activity_at"),
        updated_at=bindparam("b_updated_at"),
    )
)


def load_states(conn: Connection, resident_ids: Iterable[str]) -> dict[str, ResidentState]:
    """The stored state of each resident given that has one (others are left out)."""
    wanted = sorted(set(resident_ids))
    found: dict[str, ResidentState] = {}
    for start in range(0, len(wanted), _CHUNK):
        rows = conn.execute(
            select(resident_state.c.resident_id, resident_state.c.state).where(
                resident_state.c.resident_id.in_(wanted[start : start + _CHUNK])
            )
        )
        found.update(
            {row.resident_id: ResidentState.model_validate_json(row.state) for row in rows}
        )
    return found


def save_states(conn: Connection, decisions: list[Decision], now: datetime) -> None:
    """Write a batch's states in one executemany; rows missing are inserted one by one."""
    if not decisions:
        return
    rows = [
        {
            "b_resident": decision.state.resident,
            "b_state": decision.state.model_dump_json(),
            "b_next_due_at": decision.next_due,
            "b_last_activity_at": decision.state.last_activity_at,
            "b_updated_at": now,
        }
        for decision in decisions
    ]
    updated = conn.execute(_SAVE_STATE, rows).rowcount
    if updated != len(rows):
        # Only a resident whose state row is not there yet; both supported dialects
        # report an exact executemany rowcount. Saving again is idempotent.
        for decision in decisions:
            save_state(conn, decision, now)


def save_state(conn: Connection, decision: Decision, now: datetime) -> None:
    """Write one resident's state and next due time (inserted if the row is missing)."""
    state = decision.state
    values = {
        "state": state.model_dump_json(),
        "next_due_at": decision.next_due,
        "last_activity_at": state.last_activity_at,
        "updated_at": now,
    }
    updated = conn.execute(
        update(resident_state)
        .where(resident_state.c.resident_id == state.resident)
        .values(**values)
    ).rowcount
    if not updated:
        conn.execute(insert(resident_state).values(resident_id=state.resident, **values))


def due_times(conn: Connection, resident_ids: Iterable[str]) -> dict[str, datetime | None]:
    """Each resident's stored next due step (None: nothing due, or no state row)."""
    wanted = sorted(set(resident_ids))
    found: dict[str, datetime | None] = dict.fromkeys(wanted)
    for start in range(0, len(wanted), _CHUNK):
        rows = conn.execute(
            select(resident_state.c.resident_id, resident_state.c.next_due_at).where(
                resident_state.c.resident_id.in_(wanted[start : start + _CHUNK])
            )
        )
        found.update({row.resident_id: row.next_due_at for row in rows})
    return found


def earliest_due(conn: Connection, resident_id: str | None = None) -> datetime | None:
    """The earliest due step of anyone (or of ``resident_id``)."""
    query = select(func.min(resident_state.c.next_due_at))
    if resident_id is not None:
        query = query.where(resident_state.c.resident_id == resident_id)
    due: datetime | None = conn.execute(query).scalar()
    return due


def due_now(
    conn: Connection, now: datetime, limit: int, only: str | None = None
) -> list[tuple[str, datetime]]:
    """Residents whose step is due by ``now``, the most overdue first (at most ``limit``)."""
    query = (
        select(resident_state.c.resident_id, resident_state.c.next_due_at)
        .where(resident_state.c.next_due_at <= now)
        .order_by(resident_state.c.next_due_at)
        .limit(limit)
    )
    if only is not None:
        query = query.where(resident_state.c.resident_id == only)
    return [(row.resident_id, row.next_due_at) for row in conn.execute(query)]


@dataclass(frozen=True, slots=True)
class Claimed:
    """A resident whose step is due, claimed for this transaction, with its stored state
    (JSON, parsed only if the worker has no committed copy of its own)."""

    resident_id: str
    due_at: datetime
    state: str


def claim_due(
    conn: Connection, now: datetime, limit: int, only: str | None = None
) -> list[Claimed]:
    """Claim up to ``limit`` residents whose step is due by ``now``, most overdue first.

    On PostgreSQL the rows are locked until the transaction ends and rows another
    transaction holds are skipped (``FOR UPDATE SKIP LOCKED``): several workers can share
    the due steps, none waits for another and no step is decided twice at once. SQLite has
    one writer at a time (the transaction is the lock), so the clause is left out there.
    """
    query = (
        select(resident_state.c.resident_id, resident_state.c.next_due_at, resident_state.c.state)
        .where(resident_state.c.next_due_at <= now)
        # Ties (residents registered together) in one order, whoever claims them.
        .order_by(resident_state.c.next_due_at, resident_state.c.resident_id)
        .limit(limit)
    )
    if only is not None:
        query = query.where(resident_state.c.resident_id == only)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [Claimed(row.resident_id, row.next_due_at, row.state) for row in conn.execute(query)]


def postpone(conn: Connection, resident_id: str, until: datetime) -> None:
    """Look at a resident's step again at ``until`` (a step that failed)."""
    conn.execute(
        update(resident_state)
        .where(resident_state.c.resident_id == resident_id)
        .values(next_due_at=until)
    )
