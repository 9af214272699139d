"""Alert rows as the worker writes them: opened, changed, and read back to announce them.

Owns the ``alerts`` writes of carrying out a decision and the two small reads the worker
makes of one alert (who it belongs to, and its head for the alert-change message). The
board's and work lists' reads are in :mod:`hub.store.alert_reads`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, insert, select, update

from hub.store.tables import alerts
from protocol.models import AlertState
from protocol.vocab import AlertKind, Stage

__all__ = ["AlertHead", "add_alert", "alert_head", "alert_state", "update_alert"]


@dataclass(frozen=True, slots=True)
class AlertHead:
    """What an alert-change message says of an alert."""

    id: str
    resident_id: str
    kind: AlertKind
    state: AlertState
    stage: Stage


def add_alert(conn: Connection, alert_id: str, **values: Any) -> bool:
    """A new alert row unless ``alert_id`` exists; whether it was new."""
    if conn.execute(select(alerts.c.id).where(alerts.c.id == alert_id)).first() is not None:
        return False
    conn.execute(insert(alerts).values(id=alert_id, **values))
    return True


def update_alert(conn: Connection, alert_id: str, now: datetime, **values: Any) -> None:
    conn.execute(update(alerts).where(alerts.c.id == alert_id).values(updated_at=now, **values))


def alert_head(conn: Connection, alert_id: str) -> AlertHead | None:
    row = conn.execute(
        select(
            alerts.c.id, alerts.c.resident_id, alerts.c.kind, alerts.c.state, alerts.c.stage
        ).where(alerts.c.id == alert_id)
    ).first()
    if row is None:
        return None
    return AlertHead(
        row.id,
        row.resident_id,
        cast(AlertKind, row.kind),
        cast(AlertState, row.state),
        cast(Stage, row.stage),
    )


def alert_state(conn: Connection, alert_id: str) -> tuple[str, AlertState] | None:
    """Whose alert ``alert_id`` is and its state, or ``None`` when there is none."""
    row = conn.execute(
        select(alerts.c.resident_id, alerts.c.state).where(alerts.c.id == alert_id)
    ).first()
    return None if row is None else (row.resident_id, cast(AlertState, row.state))
