"""The reads behind the metrics page: open alerts and the outbox's depth, each one grouped query.

Owns the queries :mod:`hub.metrics` makes on every scrape, and :data:`StoreError`, what any of
them raises when the database cannot be read (the scrape then reports the database down
instead of failing).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import SQLAlchemyError as StoreError

from hub.store.tables import alerts, outbox

__all__ = ["OpenAlerts", "StoreError", "open_alerts", "pending_by_channel"]


@dataclass(frozen=True)
class OpenAlerts:
    """How many alerts not yet resolved share a kind, state and stage."""

    kind: str
    state: str
    stage: str
    count: int


def open_alerts(conn: Connection) -> list[OpenAlerts]:
    """Unresolved alerts counted by kind, state and stage."""
    rows = conn.execute(
        select(alerts.c.kind, alerts.c.state, alerts.c.stage, func.count())
        .where(alerts.c.state != "resolved")
        .group_by(alerts.c.kind, alerts.c.state, alerts.c.stage)
    )
    return [OpenAlerts(kind, state, stage, count) for kind, state, stage, count in rows]


def pending_by_channel(conn: Connection) -> dict[str, int]:
    """Outbox rows waiting to be sent, by channel (channels with none are left out)."""
    # ix_outbox_state makes this a range count, however long the history.
    rows = conn.execute(
        select(outbox.c.channel, func.count())
        .where(outbox.c.state == "pending")
        .group_by(outbox.c.channel)
    )
    return {channel: count for channel, count in rows}
