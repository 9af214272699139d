"""The database server's own clock, for the hub's clock check (:mod:`hub.clock_check`).

PostgreSQL runs its own clock (``now()``, its server's); SQLite has none: it is a library
inside the hub's process, and ``CURRENT_TIMESTAMP`` is the hub's own clock read back, so
it is no reference and this answers ``None`` for it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, text

__all__ = ["database_now"]


def database_now(conn: Connection) -> datetime | None:
    """The database server's time (aware, UTC), or None when the database keeps none."""
    if conn.dialect.name != "postgresql":
        return None
    # clock_timestamp(), not now(): now() is the transaction's start.
    value = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
    if not isinstance(value, datetime):
        return None
    return value.astimezone(UTC)
