"""Staff browser sessions as rows (hub/api/sessions.py decides what they mean).

Owns the ``browser_sessions`` table: a session is found by the SHA-256 of its cookie's
random id, live while not ended and not expired.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select, update

from hub.store.tables import browser_sessions

_KEEP_ENDED = timedelta(days=1)


@dataclass(frozen=True)
class SessionRow:
    """A live session: whose token it stands for and its CSRF value."""

    subject: str
    csrf: str


def open_session(
    conn: Connection, *, id_hash: str, subject: str, csrf: str, now: datetime, ttl: timedelta
) -> None:
    """Keep a new session; sessions ended or expired more than a day ago go at the same time."""
    conn.execute(delete(browser_sessions).where(browser_sessions.c.expires_at < now - _KEEP_ENDED))
    conn.execute(
        insert(browser_sessions).values(
            id_hash=id_hash, subject=subject, csrf=csrf, created_at=now, expires_at=now + ttl
        )
    )


def live_session(conn: Connection, id_hash: str, now: datetime) -> SessionRow | None:
    row = conn.execute(
        select(browser_sessions.c.subject, browser_sessions.c.csrf)
        .where(browser_sessions.c.id_hash == id_hash)
        .where(browser_sessions.c.ended_at.is_(None))
        .where(browser_sessions.c.expires_at > now)
    ).first()
    return None if row is None else SessionRow(row.subject, row.csrf)


def end_session(conn: Connection, id_hash: str, now: datetime) -> None:
    conn.execute(
        update(browser_sessions)
        .where(browser_sessions.c.id_hash == id_hash)
        .where(browser_sessions.c.ended_at.is_(None))
        .values(ended_at=now)
    )
