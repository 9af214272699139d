"""What the staff pages' alert history reads: closed alerts, filtered, a page at a time.

Owns the reads behind ``GET /history`` (resolved alerts with their resident, the centre's
접수 time, the closing reason and the last operator memo) and ``GET /history/{id}`` (one
alert with its resident's name). Everything here has committed; alert work goes through
the hub core. The timeline and the notification log of one alert are
:mod:`hub.store.alert_reads`' (``timeline_of``, ``list_notifications``).

A ``districts`` argument limits a read to residents of those districts (an official's own);
``None`` means every district.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, func, select

from hub.store.resident_reads import within_districts
from hub.store.tables import alert_timeline, alerts, residents

__all__ = [
    "NO_OUTCOME",
    "ClosedAlert",
    "HistoryFilter",
    "closed_alerts",
    "count_closed",
    "history_alert",
]

NO_OUTCOME = "none"
"""The outcome filter's value for alerts that closed without a person's outcome (the
resident's own activity ended an inactivity alert, a device came back)."""

# Who counts as the centre's 접수 (alerts/engine.py's centre roles): a guardian's tap also
# writes "acknowledged" on the timeline, with its role as the note, and is not the centre's.
_CENTRE_ROLES = ("control_center", "supervisor")


@dataclass(frozen=True)
class HistoryFilter:
    """What the history shows: each field given narrows it; ``None`` leaves it open.

    ``opened_from``/``opened_before``: UTC instants (the page turns local days into them);
    ``outcome`` is an outcome or :data:`NO_OUTCOME`.
    """

    districts: Collection[str] | None = None
    district: str | None = None
    kind: str | None = None
    outcome: str | None = None
    opened_from: datetime | None = None
    opened_before: datetime | None = None
    resident: str | None = None


@dataclass(frozen=True)
class ClosedAlert:
    """A resolved alert as the history lists it.

    ``centre_ack_at``: the centre's first 접수 (None: closed before the centre took it);
    ``close_reason``: the timeline's reason for closing (``resolved`` by a person,
    ``activity_resumed``, ...); ``note``: the last memo an operator wrote on it.
    """

    alert_id: str
    resident_id: str
    name: str
    district: str
    kind: str
    stage: str
    opened_at: datetime
    centre_ack_at: datetime | None
    resolved_at: datetime | None
    resolved_by: str | None
    outcome: str | None
    close_reason: str | None
    note: str | None


def _centre_ack() -> Any:
    return (
        select(func.min(alert_timeline.c.at))
        .where(alert_timeline.c.alert_id == alerts.c.id)
        .where(alert_timeline.c.what == "acknowledged")
        .where(alert_timeline.c.note.in_(_CENTRE_ROLES))
        .scalar_subquery()
    )


def _last_note(what: str) -> Any:
    return (
        select(alert_timeline.c.note)
        .where(alert_timeline.c.alert_id == alerts.c.id)
        .where(alert_timeline.c.what == what)
        .order_by(alert_timeline.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _filtered(query: Select[Any], given: HistoryFilter) -> Select[Any]:
    query = within_districts(
        query.join(residents, residents.c.id == alerts.c.resident_id).where(
            alerts.c.state == "resolved"
        ),
        given.districts,
    )
    if given.district is not None:
        query = query.where(residents.c.district == given.district)
    if given.kind is not None:
        query = query.where(alerts.c.kind == given.kind)
    if given.outcome == NO_OUTCOME:
        query = query.where(alerts.c.outcome.is_(None))
    elif given.outcome is not None:
        query = query.where(alerts.c.outcome == given.outcome)
    if given.opened_from is not None:
        query = query.where(alerts.c.opened_at >= given.opened_from)
    if given.opened_before is not None:
        query = query.where(alerts.c.opened_at < given.opened_before)
    if given.resident is not None:
        query = query.where(alerts.c.resident_id == given.resident)
    return query


def count_closed(conn: Connection, given: HistoryFilter) -> int:
    """How many resolved alerts ``given`` lets through (for the pages' count)."""
    query = _filtered(select(func.count()).select_from(alerts), given)
    return int(conn.execute(query).scalar_one())


def _columns() -> tuple[Any, ...]:
    return (
        alerts.c.id,
        alerts.c.resident_id,
        residents.c.name,
        residents.c.district,
        alerts.c.kind,
        alerts.c.stage,
        alerts.c.opened_at,
        _centre_ack().label("centre_ack_at"),
        alerts.c.resolved_at,
        alerts.c.resolved_by,
        alerts.c.outcome,
        _last_note("resolved").label("close_reason"),
        _last_note("note").label("note"),
    )


def _closed(row: Any) -> ClosedAlert:
    return ClosedAlert(
        alert_id=row.id,
        resident_id=row.resident_id,
        name=row.name,
        district=row.district,
        kind=row.kind,
        stage=row.stage,
        opened_at=row.opened_at,
        centre_ack_at=row.centre_ack_at,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        outcome=row.outcome,
        close_reason=row.close_reason,
        note=row.note,
    )


def closed_alerts(
    conn: Connection, given: HistoryFilter, *, limit: int, offset: int = 0
) -> list[ClosedAlert]:
    """Resolved alerts ``given`` lets through, newest opened first, ``limit`` from ``offset``."""
    query = _filtered(select(*_columns()).select_from(alerts), given)
    # The id breaks ties so that pages never repeat or skip an alert opened at the same time.
    query = query.order_by(alerts.c.opened_at.desc(), alerts.c.id.desc())
    return [_closed(row) for row in conn.execute(query.limit(limit).offset(offset))]


def history_alert(conn: Connection, alert_id: str) -> ClosedAlert | None:
    """One alert (open or closed) in the history's shape, or ``None``.

    The detail page reads it whatever its state: a link kept from the board may name an
    alert that is still open (its ``resolved_at`` is then ``None``).
    """
    query = (
        select(*_columns())
        .join(residents, residents.c.id == alerts.c.resident_id)
        .where(alerts.c.id == alert_id)
    )
    row = conn.execute(query).first()
    return None if row is None else _closed(row)
