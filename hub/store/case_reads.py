"""What the case summary (통합지원회의 사례 요약) reads about one resident.

Owns the reads behind ``GET /residents/{id}/summary``: the resident's alerts of a window
(and every one still open) with the timeline rows that tell response times, centre steps
and notes; what each device's messages say of its link (receipt time, heartbeat interval,
Last Will), for uptime; activity signals; trend findings; contacts by role and name only
(never a phone number). SQLAlchemy Core, SQLite and PostgreSQL alike; only committed rows.

What the store does not keep, and the page says so: policy history (``residents`` holds the
current policy and its version number only), a review mark on trend findings, and hospital
stays as such (away mode's end is in the current policy; a guardian's "입원" reason goes on
an alert's timeline as a note).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, case, or_, select

from hub.case_summary import Signal
from hub.store.tables import (
    alert_timeline,
    alerts,
    contacts,
    devices,
    events,
    residents,
    trend_findings,
)

__all__ = [
    "CaseAlert",
    "CaseDevice",
    "CaseResident",
    "TimelineRow",
    "activity_signals",
    "alerts_for_case",
    "contact_names",
    "device_signals",
    "devices_for_case",
    "resident_for_case",
    "timelines_of",
    "trend_findings_of",
]


@dataclass(frozen=True)
class CaseAlert:
    id: str
    kind: str
    state: str
    stage: str
    reason: str
    explanation: str | None
    opened_at: datetime
    resolved_at: datetime | None
    outcome: str | None


@dataclass(frozen=True)
class TimelineRow:
    alert_id: str
    at: datetime
    what: str
    by: str | None
    note: str | None


@dataclass(frozen=True)
class CaseDevice:
    id: str
    kind: str
    registered_at: datetime
    online: bool


def alerts_for_case(conn: Connection, resident_id: str, since: datetime) -> list[CaseAlert]:
    """The resident's alerts opened from ``since`` on, and any older one still open; oldest
    first."""
    rows = conn.execute(
        select(
            alerts.c.id,
            alerts.c.kind,
            alerts.c.state,
            alerts.c.stage,
            alerts.c.reason,
            alerts.c.explanation,
            alerts.c.opened_at,
            alerts.c.resolved_at,
            alerts.c.outcome,
        )
        .where(alerts.c.resident_id == resident_id)
        .where(or_(alerts.c.opened_at >= since, alerts.c.state != "resolved"))
        .order_by(alerts.c.opened_at, alerts.c.id)
    )
    return [CaseAlert(**row._mapping) for row in rows]


def timelines_of(conn: Connection, alert_ids: Collection[str]) -> dict[str, list[TimelineRow]]:
    """Each alert's timeline rows, in the order they were written."""
    found: dict[str, list[TimelineRow]] = {alert_id: [] for alert_id in alert_ids}
    ids = sorted(alert_ids)
    for start in range(0, len(ids), 500):
        rows = conn.execute(
            select(
                alert_timeline.c.alert_id,
                alert_timeline.c.at,
                alert_timeline.c.what,
                alert_timeline.c.by,
                alert_timeline.c.note,
            )
            .where(alert_timeline.c.alert_id.in_(ids[start : start + 500]))
            .order_by(alert_timeline.c.id)
        )
        for row in rows:
            found[row.alert_id].append(TimelineRow(**row._mapping))
    return found


def devices_for_case(conn: Connection, resident_id: str) -> list[CaseDevice]:
    rows = conn.execute(
        select(devices.c.id, devices.c.kind, devices.c.registered_at, devices.c.online)
        .where(devices.c.resident_id == resident_id)
        .order_by(devices.c.id)
    )
    return [CaseDevice(**row._mapping) for row in rows]


_INTERVAL = re.compile(r'"interval_s"\s*:\s*(\d+)')


def _signal(kind: str, event_id: str, payload: str | None, at: datetime) -> Signal:
    if kind == "status":
        # A status is stored under "status:{state}:{ts}" (hub.intake).
        return Signal(at=at, offline=event_id.startswith("status:offline"))
    # A regular expression reads a heartbeat's interval at a fraction of json.loads' cost:
    # 90 days of 5-minute heartbeats are 26,000 rows a device. (An unknown extra field
    # holding its own "interval_s" ahead of the real one would be misread; none exists.)
    found = _INTERVAL.search(payload) if kind == "heartbeat" and payload else None
    return Signal(at=at, interval_s=int(found.group(1)) if found else None)


def device_signals(
    conn: Connection, resident_id: str, device_id: str, since: datetime, lookback: timedelta
) -> list[Signal]:
    """What the device's messages received from ``since`` on say of its link, in receipt
    order, led by the last message before ``since`` (and the last heartbeat, for its
    interval) within ``lookback``: the device's state as the window opens. ``lookback`` is
    the longest a message keeps a device online (the largest heartbeat interval times the
    heartbeats missed); nothing older can reach the window.

    Bounded by device time too (``ts``), so the resident's time index is used: a message
    buffered for longer than ``lookback`` before it arrived is not read, and the heartbeats
    that arrive with it carry the device's link anyway.
    """
    first = since - lookback
    rows = conn.execute(
        select(
            events.c.kind,
            events.c.event_id,
            case((events.c.kind == "heartbeat", events.c.payload), else_=None).label("payload"),
            events.c.received_at,
        )
        .where(events.c.resident_id == resident_id)
        .where(events.c.ts >= first)
        .where(events.c.device_id == device_id)
        .where(events.c.received_at >= first)
        .order_by(events.c.received_at, events.c.seq)
    ).all()
    lead = [row for row in rows if row.received_at < since]
    beats = [row for row in lead if row.kind == "heartbeat"]
    kept = [*beats[-1:], *lead[-1:]] + [row for row in rows if row.received_at >= since]
    return [_signal(row.kind, row.event_id, row.payload, row.received_at) for row in kept]


def activity_signals(
    conn: Connection, resident_id: str, since: datetime
) -> list[tuple[datetime, int]]:
    """The resident's activity messages from ``since`` on (device time) with the signals
    each folds (``count``, 1 when absent or unreadable)."""
    rows = conn.execute(
        select(events.c.ts, events.c.payload)
        .where(events.c.resident_id == resident_id)
        .where(events.c.kind == "activity")
        .where(events.c.ts >= since)
    )
    found = []
    for row in rows:
        try:
            count = json.loads(row.payload).get("count", 1)
        except (ValueError, AttributeError):
            count = 1
        found.append((row.ts, count if isinstance(count, int) and count >= 1 else 1))
    return found


def trend_findings_of(
    conn: Connection, resident_id: str, since: datetime
) -> list[tuple[str, datetime, str]]:
    """(kind, detected_at, detail) of the resident's findings from ``since`` on, oldest first."""
    rows = conn.execute(
        select(trend_findings.c.kind, trend_findings.c.detected_at, trend_findings.c.detail)
        .where(trend_findings.c.resident_id == resident_id)
        .where(trend_findings.c.detected_at >= since)
        .order_by(trend_findings.c.detected_at)
    )
    return [(row.kind, row.detected_at, row.detail) for row in rows]


def contact_names(conn: Connection, resident_id: str) -> list[tuple[str, str, bool]]:
    """(role, name, backup) of the resident's contacts: no phone number leaves this read."""
    rows = conn.execute(
        select(contacts.c.role, contacts.c.name, contacts.c.backup)
        .where(contacts.c.resident_id == resident_id)
        .order_by(contacts.c.id)
    )
    return [(row.role, row.name, bool(row.backup)) for row in rows]


@dataclass(frozen=True)
class CaseResident:
    id: str
    name: str
    district: str
    created_at: datetime


def resident_for_case(conn: Connection, resident_id: str) -> CaseResident | None:
    """The resident's name, district and registration time (no phone, no address)."""
    row = conn.execute(
        select(
            residents.c.id, residents.c.name, residents.c.district, residents.c.created_at
        ).where(residents.c.id == resident_id)
    ).first()
    return None if row is None else CaseResident(**row._mapping)
