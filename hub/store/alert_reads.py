"""What the API and board read about alerts and the messages sent for them.

Owns the reads of ``alerts`` and ``alert_timeline`` (the alert list and one alert's
history), of ``outbox`` for the notification log, and of ``digest_items`` for the officials'
out-of-hours digest list. Alert work itself goes through the hub core; these reads see only
what has committed.

The alert list adds two read-only fields so the board's queue needs no timeline per alert:
``guardian_checking`` (a guardian tapped 확인 and the centre has not acknowledged; a guardian's
tap is not the centre's 접수) and ``answer_due_at`` (an emergency the centre has not
acknowledged: when its answer is due, ``opened_at`` + the resident's ``emergency_ack_within``;
otherwise ``None``).

A ``districts`` argument limits a read to residents of those districts (an official's own);
``None`` means every district.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, exists, or_, select

from alerts.actions import MessageKey
from alerts.policy import Policy
from hub.store.resident_reads import within_districts
from hub.store.tables import alert_timeline, alerts, digest_items, outbox, residents

__all__ = [
    "DigestEntry",
    "TimelineEntry",
    "digest_entries_since",
    "find_alert",
    "list_alerts",
    "list_notifications",
    "timeline_of",
]

# The notification log's columns: everything but the outbox's internal bookkeeping (dedup
# key, what the core asked for, the provider call in progress).
_NOTIFICATION_COLUMNS = (
    outbox.c.id,
    outbox.c.alert_id,
    outbox.c.resident_id,
    outbox.c.role,
    outbox.c.recipient,
    outbox.c.kind,
    outbox.c.stage,
    outbox.c.body,
    outbox.c.state,
    outbox.c.attempts,
    outbox.c.created_at,
    outbox.c.sent_at,
    outbox.c.delivered_at,
    outbox.c.provider,
    outbox.c.error,
    outbox.c.next_attempt_at,
)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    what: str
    by: str | None
    note: str | None


@dataclass(frozen=True)
class DigestEntry:
    """A message waiting for (or sent in) an official's digest, with the resident's name."""

    resident_id: str
    alert_id: str
    message: MessageKey
    queued_at: datetime
    deliver_at: datetime
    delivered: bool
    name: str
    district: str


# A guardian's tap is timeline ``guardian_checking`` or an ``acknowledged`` noted
# ``guardian``; only an ``acknowledged`` without that note is the centre's own.
_GUARDIAN_TAP = exists().where(
    alert_timeline.c.alert_id == alerts.c.id,
    or_(
        alert_timeline.c.what == "guardian_checking",
        and_(alert_timeline.c.what == "acknowledged", alert_timeline.c.note == "guardian"),
    ),
)
_CENTRE_ACK = exists().where(
    alert_timeline.c.alert_id == alerts.c.id,
    alert_timeline.c.what == "acknowledged",
    or_(alert_timeline.c.note.is_(None), alert_timeline.c.note != "guardian"),
)


def list_alerts(
    conn: Connection,
    *,
    districts: Collection[str] | None,
    state: str | None,
    resident: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Alerts (every column, ``guardian_checking`` and ``answer_due_at``), newest first,
    filtered by whatever is given."""
    query = (
        select(
            alerts,
            _GUARDIAN_TAP.label("guardian_tapped"),
            _CENTRE_ACK.label("centre_acknowledged"),
            residents.c.policy.label("resident_policy"),
        )
        .join(residents, residents.c.id == alerts.c.resident_id)
        .order_by(alerts.c.opened_at.desc())
        .limit(limit)
    )
    if districts is not None:
        query = query.where(
            alerts.c.resident_id.in_(within_districts(select(residents.c.id), districts))
        )
    if state is not None:
        query = query.where(alerts.c.state == state)
    if resident is not None:
        query = query.where(alerts.c.resident_id == resident)
    return [_with_marks(dict(row._mapping)) for row in conn.execute(query)]


def _with_marks(row: dict[str, Any]) -> dict[str, Any]:
    tapped = bool(row.pop("guardian_tapped"))
    acknowledged = bool(row.pop("centre_acknowledged"))
    overrides = row.pop("resident_policy") or {}
    live = row["state"] != "resolved"
    row["guardian_checking"] = live and tapped and not acknowledged
    due = None
    if live and row["kind"] == "emergency" and not acknowledged:
        # The policy stored is the resident's overrides; the defaults fill the rest.
        due = row["opened_at"] + Policy.model_validate(overrides).emergency_ack_within
    row["answer_due_at"] = due
    return row


def find_alert(conn: Connection, alert_id: str) -> dict[str, Any] | None:
    """The alert's columns and its resident's ``district``, or ``None``."""
    row = conn.execute(
        select(alerts, residents.c.district)
        .join(residents, residents.c.id == alerts.c.resident_id)
        .where(alerts.c.id == alert_id)
    ).first()
    return None if row is None else dict(row._mapping)


def timeline_of(conn: Connection, alert_id: str) -> list[TimelineEntry]:
    """The alert's timeline in the order it was written."""
    rows = conn.execute(
        select(
            alert_timeline.c.at, alert_timeline.c.what, alert_timeline.c.by, alert_timeline.c.note
        )
        .where(alert_timeline.c.alert_id == alert_id)
        .order_by(alert_timeline.c.id)
    )
    return [TimelineEntry(at=row.at, what=row.what, by=row.by, note=row.note) for row in rows]


def list_notifications(
    conn: Connection, *, resident: str | None, alert_id: str | None, limit: int
) -> list[dict[str, Any]]:
    """SMS messages in the outbox, newest first, filtered by whatever is given."""
    query = (
        select(*_NOTIFICATION_COLUMNS)
        .where(outbox.c.channel == "sms")
        .order_by(outbox.c.id.desc())
        .limit(limit)
    )
    if resident is not None:
        query = query.where(outbox.c.resident_id == resident)
    if alert_id is not None:
        query = query.where(outbox.c.alert_id == alert_id)
    return [dict(row._mapping) for row in conn.execute(query)]


def digest_entries_since(
    conn: Connection, since: datetime, districts: Collection[str] | None
) -> list[DigestEntry]:
    """Officials' digest items queued from ``since`` on in ``districts``, newest first; one
    per official it waits for."""
    query = (
        select(
            digest_items.c.resident_id,
            digest_items.c.alert_id,
            digest_items.c.message,
            digest_items.c.queued_at,
            digest_items.c.deliver_at,
            digest_items.c.delivered,
            residents.c.name,
            residents.c.district,
        )
        .join(residents, residents.c.id == digest_items.c.resident_id)
        .where(digest_items.c.role == "official")
        .where(digest_items.c.queued_at >= since)
        .order_by(digest_items.c.queued_at.desc())
    )
    return [
        DigestEntry(
            resident_id=row.resident_id,
            alert_id=row.alert_id,
            message=row.message,
            queued_at=row.queued_at,
            deliver_at=row.deliver_at,
            delivered=row.delivered,
            name=row.name,
            district=row.district,
        )
        for row in conn.execute(within_districts(query, districts))
    ]
