"""The rows every side effect writes: outbox entries, timeline entries, idempotency keys.

Owns the few writes that the carrying out of decisions, digests and delivery problems all
make, each keyed so that writing it again changes nothing, and the worker's reads of its own
outbox rows (a held message settled, whether a phone was told, a delivery problem's row).
The dispatcher's claims and results are in :mod:`hub.store.outbox`.

Inside :func:`outbox_in_bulk` (a batch of due steps) the outbox rows a transaction adds are
kept and written in one executemany when it ends, or before any read of the outbox in it,
so the transaction still reads its own rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Executable, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hub.store.tables import alert_timeline, outbox

__all__ = [
    "Sent",
    "add_outbox",
    "add_timeline",
    "ever_told",
    "has_outbox",
    "idempotency_key",
    "outbox_in_bulk",
    "sent_row",
    "settle_held",
]


@dataclass(frozen=True, slots=True)
class Sent:
    """An outbox row as a delivery problem sees it: what was said, to whom, about what."""

    alert_id: str | None
    resident_id: str | None
    kind: str | None
    stage: str | None
    role: str | None
    message: str | None
    step: str | None
    event_at: datetime | None


# Built once: every decision carried out writes these, and building, cache-keying and
# binding a fresh statement per row cost several times the database work itself.
_OUTBOX_BY_KEY = select(outbox.c.id).where(outbox.c.key == bindparam("b_key"))
_ADD_OUTBOX = insert(outbox)
_ADD_TIMELINE = insert(alert_timeline)
# The unique key decides: a row written again (a batch retried after a crash) is skipped.
_ADD_OUTBOX_UNLESS_THERE: dict[str, Executable] = {
    "sqlite": sqlite_insert(outbox).on_conflict_do_nothing(index_elements=[outbox.c.key]),
    "postgresql": postgresql_insert(outbox).on_conflict_do_nothing(index_elements=[outbox.c.key]),
}
# With RETURNING, SQLAlchemy sends an executemany as multi-row INSERTs ("insertmanyvalues"),
# one statement per page of rows instead of one per row: most of a batch's outbox cost on
# PostgreSQL. A row skipped for its key just returns no id.
_ADD_MANY_UNLESS_THERE: dict[str, Executable] = {
    name: statement.returning(outbox.c.id)  # type: ignore[attr-defined]
    for name, statement in _ADD_OUTBOX_UNLESS_THERE.items()
}
_EVER_TOLD = (
    select(outbox.c.id)
    .where(
        (outbox.c.alert_id == bindparam("b_alert"))
        & (outbox.c.recipient == bindparam("b_phone"))
        & (outbox.c.state != "withdrawn")
    )
    .limit(1)
)

# A guardian's non-emergency SMS held (their night, their quiet hours) about one alert.
# The alert's rows are found by their own index first: SQLite otherwise searches the state
# index for every pending row, and where nothing is ever sent (a replay; a dispatcher that
# is down) that is the whole outbox, once per resolved alert.
_MINE = outbox.alias("mine")
_OF_ALERT = select(_MINE.c.id).where(_MINE.c.alert_id == bindparam("b_alert"))
_HELD = (
    outbox.c.id.in_(_OF_ALERT.scalar_subquery())
    & (outbox.c.role == "guardian")
    & (outbox.c.kind != "emergency")
    & (outbox.c.state == "pending")
    & (outbox.c.attempts == 0)
    & outbox.c.calling.is_(None)
    & (outbox.c.next_attempt_at > bindparam("b_now"))
)
_WITHDRAW_HELD = (
    update(outbox)
    .where(_HELD)
    .values(state="withdrawn", error="the alert ended while the message was held")
)
_RELEASE_HELD = update(outbox).where(_HELD).values(next_attempt_at=bindparam("b_now"))


def idempotency_key(*parts: str) -> str:
    """A row's unique key: a digest, so phone numbers never appear in keys or logs."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:48]


_KEPT = "anbu.outbox_kept"
"""Where :func:`outbox_in_bulk` keeps a transaction's rows (the connection's ``info``)."""


@contextmanager
def outbox_in_bulk(conn: Connection) -> Iterator[None]:
    """Keep the outbox rows added in this block and write them together at its end.

    A row per statement costs a round trip each (on PostgreSQL most of a due step's time);
    kept, a batch of hundreds of residents writes its rows in one executemany. Rows kept
    are written before anything here reads or updates the outbox, so the transaction still
    sees its own rows; if the block raises they are dropped with the transaction.
    """
    conn.info[_KEPT] = {}
    try:
        yield
        _write_kept(conn)
    finally:
        conn.info.pop(_KEPT, None)


def _write_kept(conn: Connection) -> None:
    kept: dict[str, dict[str, Any]] | None = conn.info.get(_KEPT)
    if not kept:
        return
    rows = list(kept.values())
    kept.clear()
    # One executemany per run of rows naming the same columns (an executemany binds every
    # row to the first row's columns), in the order they were added: ids keep that order.
    start = 0
    for end in range(1, len(rows) + 1):
        if end == len(rows) or rows[end].keys() != rows[start].keys():
            _insert_rows(conn, rows[start:end])
            start = end


def _insert_rows(conn: Connection, rows: list[dict[str, Any]]) -> None:
    unless_there = _ADD_MANY_UNLESS_THERE.get(conn.dialect.name)
    if unless_there is not None:
        conn.execute(unless_there, rows).all()
        return
    for row in rows:
        if not has_outbox(conn, row["key"]):
            conn.execute(_ADD_OUTBOX, row)


def has_outbox(conn: Connection, key: str) -> bool:
    """Whether an outbox row with this key exists (sent, pending or withdrawn)."""
    _write_kept(conn)
    return conn.execute(_OUTBOX_BY_KEY, {"b_key": key}).first() is not None


def add_outbox(conn: Connection, key: str, **values: Any) -> None:
    """A pending outbox row, unless one with this key exists.

    One statement where the database can skip a row whose key it has (SQLite, PostgreSQL):
    every decision carried out writes a few, and a look-up before each cost as much again.
    """
    row = {"key": key, "state": "pending", "attempts": 0, **values}
    kept: dict[str, dict[str, Any]] | None = conn.info.get(_KEPT)
    if kept is not None:
        kept.setdefault(key, row)  # the first row with a key wins, as in the database
        return
    unless_there = _ADD_OUTBOX_UNLESS_THERE.get(conn.dialect.name)
    if unless_there is not None:
        conn.execute(unless_there, row)
        return
    if not has_outbox(conn, key):
        conn.execute(_ADD_OUTBOX, row)


def add_timeline(
    conn: Connection, alert_id: str, now: datetime, what: str, by: str | None, note: str | None
) -> None:
    """One line of an alert's timeline."""
    conn.execute(
        _ADD_TIMELINE, {"alert_id": alert_id, "at": now, "what": what, "by": by, "note": note}
    )


def sent_row(conn: Connection, row_id: int) -> Sent | None:
    _write_kept(conn)
    row = conn.execute(
        select(
            outbox.c.alert_id,
            outbox.c.resident_id,
            outbox.c.kind,
            outbox.c.stage,
            outbox.c.role,
            outbox.c.message,
            outbox.c.step,
            outbox.c.event_at,
        ).where(outbox.c.id == row_id)
    ).first()
    if row is None:
        return None
    return Sent(
        row.alert_id,
        row.resident_id,
        row.kind,
        row.stage,
        row.role,
        row.message,
        row.step,
        row.event_at,
    )


def settle_held(conn: Connection, alert_id: str, now: datetime, *, withdraw: bool) -> int:
    """A guardian's non-emergency SMS still held about ``alert_id``: withdrawn, or released
    now; returns how many rows changed."""
    _write_kept(conn)
    statement = _WITHDRAW_HELD if withdraw else _RELEASE_HELD
    return int(conn.execute(statement, {"b_alert": alert_id, "b_now": now}).rowcount)


def ever_told(conn: Connection, alert_id: str, phone: str) -> bool:
    """Whether this alert ever went (or goes) to ``phone``, not only held and withdrawn."""
    _write_kept(conn)
    found = conn.execute(_EVER_TOLD, {"b_alert": alert_id, "b_phone": phone}).first()
    return found is not None
