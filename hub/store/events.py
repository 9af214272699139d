"""Stored events and dead letters: what ingest writes, and the keys it has already.

Owns the ``events`` and ``dead_letters`` rows and the dedup look-up of ingest (a resident's
event, once stored, is never stored or decided again; the look-up returns what was stored,
so ingest can tell a redelivery from another message under a reused id), written per
database for speed (see the comment on the queries).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Dialect, func, insert, select, tuple_

from hub.store.tables import dead_letters, events

__all__ = ["add_dead_letter", "add_events", "last_seq", "stored_payloads"]

_CHUNK = 300
# The dedup look-up, per backend, because the portable ``(a, b, c) IN ((...), ...)`` is
# slow on both: SQLite cannot use the primary key for a row-value IN list and scans every
# stored event per batch (the cost grows with the history), and PostgreSQL spends longer
# planning a 300-way OR than looking the keys up. Driving the join from the batch's keys
# makes both search the primary key once per key; raw SQL because compiling the
# equivalent Core construct per batch costs as much as the scan it avoids. The payload comes
# along so ingest can tell a redelivery from a different message under a reused id.
_POSTGRES_STORED_SQL = (
    "SELECT e.resident_id, e.device_id, e.event_id, e.payload"
    " FROM unnest(%s::text[], %s::text[], %s::text[]) AS k(r, d, i)"
    " JOIN events AS e ON e.resident_id = k.r AND e.device_id = k.d AND e.event_id = k.i"
)


@functools.cache
def _sqlite_stored_sql(count: int) -> str:
    # Only placeholders are interpolated; the keys travel as bound parameters.
    rows = ", ".join(["(?, ?, ?)"] * count)
    return (
        f"WITH k(r, d, i) AS (VALUES {rows})"  # noqa: S608
        " SELECT e.resident_id, e.device_id, e.event_id, e.payload"
        " FROM k JOIN events AS e"
        " ON e.resident_id = k.r AND e.device_id = k.d AND e.event_id = k.i"
    )


def stored_payloads(
    conn: Connection, keys: Sequence[tuple[str, str, str]]
) -> dict[tuple[str, str, str], str]:
    """The keys among ``keys`` that are stored already, each with its stored payload."""
    found: dict[tuple[str, str, str], str] = {}
    backend = conn.dialect.name
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        rows: Any
        if backend == "sqlite":
            flat = tuple(part for key in chunk for part in key)
            rows = conn.exec_driver_sql(_sqlite_stored_sql(len(chunk)), flat)
        elif backend == "postgresql":
            columns = tuple(list(column) for column in zip(*chunk, strict=True))
            rows = conn.exec_driver_sql(_POSTGRES_STORED_SQL, columns)
        else:
            key = (events.c.resident_id, events.c.device_id, events.c.event_id)
            rows = conn.execute(select(*key, events.c.payload).where(tuple_(*key).in_(chunk)))
        found.update(((row[0], row[1], row[2]), row[3]) for row in rows)
    return found


def last_seq(conn: Connection) -> int:
    """The order number of the newest stored event (0 when none is)."""
    return int(conn.execute(select(func.max(events.c.seq))).scalar() or 0)


_EVENT_COLUMNS = (
    "seq",
    "resident_id",
    "device_id",
    "event_id",
    "kind",
    "ts",
    "received_at",
    "payload",
)
_PICK = operator.itemgetter(*_EVENT_COLUMNS)
_SQLITE_ADD_EVENTS = (
    f"INSERT INTO events ({', '.join(_EVENT_COLUMNS)})"  # noqa: S608 (names, not values)
    f" VALUES ({', '.join('?' * len(_EVENT_COLUMNS))})"
)


def add_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """A batch's event rows in one statement.

    On SQLite straight to the driver, each value bound by its column's own type: a replay
    writes tens of thousands of rows a minute of virtual time, and the statement machinery
    around an executemany cost more than the database's work.
    """
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(insert(events), list(rows))
        return
    binds = [(i, _binder(name, conn.dialect)) for i, name in enumerate(_EVENT_COLUMNS)]
    typed = [(i, bind) for i, bind in binds if bind is not None]
    params: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(_PICK(row))
        for i, bind in typed:
            values[i] = bind(values[i])
        params.append(tuple(values))
    conn.exec_driver_sql(_SQLITE_ADD_EVENTS, params)


def _binder(name: str, dialect: Dialect) -> Callable[[Any], Any] | None:
    """What the column's type does to a value before the driver gets it (None: nothing)."""
    return events.c[name].type.dialect_impl(dialect).bind_processor(dialect)


def add_dead_letter(
    conn: Connection, *, received_at: Any, topic: str, reason: str, detail: str, payload: str
) -> None:
    conn.execute(
        insert(dead_letters).values(
            received_at=received_at, topic=topic, reason=reason, detail=detail, payload=payload
        )
    )
