"""Alert rows as the worker writes them: opened, changed, and read back to announce them.

Owns the ``alerts`` writes of carrying out a decision and the two small reads the worker
makes of one alert (who it belongs to, and its head for the alert-change message). The
board's and work lists' reads are in :mod:`hub.store.alert_reads`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Update, bindparam, insert, select, update

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


# Built once: every decision carried out writes and reads these, and building, cache-keying
# and binding a fresh statement per alert cost more than the database work itself.
_ALERT_EXISTS = select(alerts.c.id).where(alerts.c.id == bindparam("b_id"))
_ADD_ALERT = insert(alerts)
_ALERT_HEAD = select(
    alerts.c.id, alerts.c.resident_id, alerts.c.kind, alerts.c.state, alerts.c.stage
).where(alerts.c.id == bindparam("b_id"))
_ALERT_STATE = select(alerts.c.resident_id, alerts.c.state).where(alerts.c.id == bindparam("b_id"))


@functools.cache
def _update_alert(names: tuple[str, ...]) -> Update:
    """The UPDATE that sets these columns (and ``updated_at``) of one alert, built once."""
    return (
        update(alerts)
        .where(alerts.c.id == bindparam("b_id"))
        .values({name: bindparam(f"b_{name}") for name in names})
    )


def add_alert(conn: Connection, alert_id: str, **values: Any) -> bool:
    """A new alert row unless ``alert_id`` exists; whether it was new."""
    if conn.execute(_ALERT_EXISTS, {"b_id": alert_id}).first() is not None:
        return False
    conn.execute(_ADD_ALERT, {"id": alert_id, **values})
    return True


def update_alert(conn: Connection, alert_id: str, now: datetime, **values: Any) -> None:
    values = {"updated_at": now, **values}
    statement = _update_alert(tuple(sorted(values)))
    conn.execute(statement, {"b_id": alert_id, **{f"b_{k}": v for k, v in values.items()}})


def alert_head(conn: Connection, alert_id: str) -> AlertHead | None:
    row = conn.execute(_ALERT_HEAD, {"b_id": alert_id}).first()
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
    row = conn.execute(_ALERT_STATE, {"b_id": alert_id}).first()
    return None if row is None else (row.resident_id, cast(AlertState, row.state))
