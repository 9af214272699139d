"""Carrying out the core's decisions inside the hub's transaction: alerts, timelines, outbox.

Owns :class:`CarryOut`, which turns each :mod:`alerts.actions` action into rows, in the
transaction of the decision behind it: alert rows and their timeline, check-in commands and
alert changes for MQTT, notifications (composed by :mod:`hub.notify.compose`, held for quiet
hours or a guardians' night, withdrawn or released when the alert ends), digest items for
the roles paged only in working hours, and trend findings. Every row has a unique key, so
doing the same again (a batch retried after a crash) writes nothing twice. What a
transaction counted and saw (:class:`Ledger`) reaches metrics and telemetry only after it
commits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import structlog
from sqlalchemy import Connection, insert, select, update

from alerts.actions import (
    AcknowledgeAlert,
    Action,
    ChangeStage,
    MarkDevice,
    MessageKey,
    NoteTrend,
    Notify,
    OpenAlert,
    QueueDigest,
    RecordTimeline,
    ResolveAlert,
    SendCheckin,
)
from alerts.calendar import WorkingCalendar
from alerts.engine import Decision
from alerts.messages import checkin_prompt
from hub.metrics import Tally
from hub.notify.compose import Composer, Recipient, outbox_values
from hub.settings import Settings
from hub.store.tables import (
    alert_timeline,
    alerts,
    devices,
    digest_items,
    outbox,
    trend_findings,
)
from protocol import AlertChange, CheckinCommand, Event, to_json
from protocol.topics import ALERTS_TOPIC, cmd_topic
from protocol.vocab import ContactRole as Role

__all__ = ["CarryOut", "Ledger", "idempotency_key"]

log = structlog.get_logger(__name__)


def idempotency_key(*parts: str) -> str:
    """A row's unique key: a digest, so phone numbers never appear in keys or logs."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:48]


_key = idempotency_key


@dataclass(slots=True)
class Ledger:
    """What one transaction counted and saw; handed to metrics and telemetry on commit."""

    tally: Tally = field(default_factory=Tally)
    observed: list[Event | AlertChange] = field(default_factory=list)


class CarryOut:
    """The rows a decision's actions become (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        composer: Composer,
        calendar: WorkingCalendar,
        name_of: Callable[[str], str],
        on_action: Callable[[str, Action, datetime], None] | None = None,
    ) -> None:
        self._settings = settings
        self.composer = composer
        self._calendar = calendar
        self._name_of = name_of
        self._on_action = on_action

    def all(
        self, conn: Connection, resident_id: str, decision: Decision, now: datetime, work: Ledger
    ) -> None:
        """Every action of ``decision``, in order, in the caller's transaction."""
        for action in decision.actions:
            self._carry_out(conn, resident_id, action, now, work)
            if self._on_action is not None:
                self._on_action(resident_id, action, now)

    def _carry_out(
        self, conn: Connection, resident_id: str, action: Action, now: datetime, work: Ledger
    ) -> None:
        match action:
            case SendCheckin():
                self._send_checkin(conn, resident_id, action, now)
            case OpenAlert():
                self._open_alert(conn, resident_id, action, now, work)
            case ChangeStage():
                work.tally.stages[(action.kind, action.stage)] += 1
                self._update_alert(conn, action.alert_id, now, stage=action.stage)
                self.timeline(conn, action.alert_id, now, f"stage:{action.stage}", None, None)
                self._publish_change(conn, action.alert_id, now, action.reason, work)
            case AcknowledgeAlert():
                self._update_alert(
                    conn,
                    action.alert_id,
                    now,
                    state="acknowledged",
                    acknowledged_at=now,
                    acknowledged_by=action.by,
                )
                self.timeline(conn, action.alert_id, now, "acknowledged", action.by, action.role)
                self._publish_change(conn, action.alert_id, now, "acknowledged", work)
            case ResolveAlert():
                self._update_alert(
                    conn,
                    action.alert_id,
                    now,
                    state="resolved",
                    resolved_at=now,
                    resolved_by=action.by,
                    outcome=action.outcome,
                )
                self.timeline(conn, action.alert_id, now, "resolved", action.by, action.reason)
                self._settle_held(conn, action, now)
                self._publish_change(conn, action.alert_id, now, action.reason, work)
            case Notify():
                self._notify(conn, resident_id, action, now)
            case QueueDigest():
                self._queue_digest(conn, resident_id, action, now)
            case RecordTimeline():
                self.timeline(conn, action.alert_id, now, action.what, action.by, action.note)
            case NoteTrend():
                self._note_trend(conn, resident_id, action, now)
            case MarkDevice():
                conn.execute(
                    update(devices)
                    .where((devices.c.resident_id == resident_id) & (devices.c.id == action.device))
                    .values(online=action.online)
                )

    # ------------------------------------------------------------ side effects

    def outbox(self, conn: Connection, key: str, **values: Any) -> None:
        exists = conn.execute(select(outbox.c.id).where(outbox.c.key == key)).first()
        if exists is not None:
            return
        conn.execute(insert(outbox).values(key=key, state="pending", attempts=0, **values))

    def _send_checkin(
        self, conn: Connection, resident_id: str, action: SendCheckin, now: datetime
    ) -> None:
        for device in action.devices:
            command = CheckinCommand(
                v=1,
                id=action.request_id,
                ts=now,
                type="checkin",
                prompt=checkin_prompt(),
                expires_ts=action.expires_at,
            )
            self.outbox(
                conn,
                _key("checkin", resident_id, device, action.request_id),
                channel="mqtt",
                resident_id=resident_id,
                recipient=cmd_topic(resident_id, device),
                body=to_json(command).decode(),
                created_at=now,
            )

    def _open_alert(
        self, conn: Connection, resident_id: str, action: OpenAlert, now: datetime, work: Ledger
    ) -> None:
        exists = conn.execute(select(alerts.c.id).where(alerts.c.id == action.alert_id)).first()
        if exists is None:
            work.tally.opened[(action.kind, action.stage)] += 1
            conn.execute(
                insert(alerts).values(
                    id=action.alert_id,
                    resident_id=resident_id,
                    kind=action.kind,
                    state="open",
                    stage=action.stage,
                    reason=action.reason,
                    explanation=action.explanation,
                    opened_at=now,
                    updated_at=now,
                )
            )
        note = action.explanation or action.reason
        self.timeline(conn, action.alert_id, now, "opened", None, note)
        self._publish_change(conn, action.alert_id, now, action.reason, work)

    def _update_alert(self, conn: Connection, alert_id: str, now: datetime, **values: Any) -> None:
        conn.execute(update(alerts).where(alerts.c.id == alert_id).values(updated_at=now, **values))

    def timeline(
        self,
        conn: Connection,
        alert_id: str,
        now: datetime,
        what: str,
        by: str | None,
        note: str | None,
    ) -> None:
        conn.execute(
            insert(alert_timeline).values(alert_id=alert_id, at=now, what=what, by=by, note=note)
        )

    def _publish_change(
        self, conn: Connection, alert_id: str, now: datetime, reason: str, work: Ledger
    ) -> None:
        row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).first()
        if row is None:
            return
        change = AlertChange(
            v=1,
            alert_id=row.id,
            resident=row.resident_id,
            kind=row.kind,
            state=row.state,
            stage=row.stage,
            ts=now,
            reason=reason,
        )
        work.observed.append(change)
        self.outbox(
            conn,
            _key("change", row.id, row.state, row.stage, reason),
            channel="mqtt",
            alert_id=row.id,
            resident_id=row.resident_id,
            kind=row.kind,
            stage=row.stage,
            recipient=ALERTS_TOPIC,
            body=to_json(change).decode(),
            created_at=now,
        )

    def recipients(self, conn: Connection, resident_id: str, role: str) -> list[str]:
        return [r.phone for r in self.composer.recipients(conn, resident_id, role)]

    def _notify(self, conn: Connection, resident_id: str, action: Notify, now: datetime) -> None:
        if action.role == "control_center" and self._settings.notify_urls:
            self._notify_channels(conn, resident_id, action, now)
        targets = self.composer.recipients(conn, resident_id, action.role)
        if not targets:
            log.warning("notify.no_recipients", role=action.role, alert_id=action.alert_id)
            self.timeline(conn, action.alert_id, now, "no_recipients", None, action.role)
            return
        self.write_notifications(conn, resident_id, action, targets, now)

    def _settle_held(self, conn: Connection, action: ResolveAlert, now: datetime) -> None:
        """A guardian's SMS still held (their night, their quiet hours) about an alert that
        has ended: withdrawn when the resident was found well (it would wake them for
        nothing), sent now otherwise (a real incident: the family must hear of it)."""
        held = (
            (outbox.c.alert_id == action.alert_id)
            & (outbox.c.role == "guardian")
            & (outbox.c.kind != "emergency")
            & (outbox.c.state == "pending")
            & (outbox.c.attempts == 0)
            & outbox.c.calling.is_(None)
            & (outbox.c.next_attempt_at > now)
        )
        if action.resident_fine:
            values: dict[str, Any] = {
                "state": "withdrawn",
                "error": "the alert ended while the message was held",
            }
        else:
            values = {"next_attempt_at": now}
        changed = conn.execute(update(outbox).where(held).values(**values)).rowcount
        if changed:
            what = "held_withdrawn" if action.resident_fine else "held_released"
            self.timeline(conn, action.alert_id, now, what, None, "guardian")

    def _told(self, conn: Connection, alert_id: str, phone: str) -> bool:
        """Whether this alert ever went (or goes) to ``phone``, not only held and withdrawn."""
        found = conn.execute(
            select(outbox.c.id)
            .where(
                (outbox.c.alert_id == alert_id)
                & (outbox.c.recipient == phone)
                & (outbox.c.state != "withdrawn")
            )
            .limit(1)
        ).first()
        return found is not None

    def write_notifications(
        self,
        conn: Connection,
        resident_id: str,
        action: Notify,
        targets: list[Recipient],
        now: datetime,
    ) -> None:
        if action.message == "activity_resumed" and action.role == "guardian":
            # "활동이 다시 확인되었습니다" only to a guardian who was told there was none.
            targets = [t for t in targets if self._told(conn, action.alert_id, t.phone)]
        name = self._name_of(resident_id)
        plans = self.composer.plan(
            conn,
            resident_id=resident_id,
            resident_name=name,
            action=action,
            recipients=[
                t
                for t in targets
                if not self.has_row(conn, _key(action.alert_id, action.step, action.role, t.phone))
            ],
            now=now,
        )
        for plan in plans:
            key = _key(action.alert_id, action.step, action.role, plan.recipient.phone)
            self.outbox(conn, key, **outbox_values(plan, action, resident_id, now))
            if plan.hold_until is not None:
                self.timeline(
                    conn,
                    action.alert_id,
                    now,
                    "held_quiet_hours",
                    None,
                    action.role,
                )

    def _notify_channels(
        self, conn: Connection, resident_id: str, action: Notify, now: datetime
    ) -> None:
        """The centre's email and webhooks (ANBU_NOTIFY_URLS): one row for all of them."""
        (plan,) = self.composer.plan(
            conn,
            resident_id=resident_id,
            resident_name=self._name_of(resident_id),
            action=action,
            recipients=[Recipient("notify_urls")],
            now=now,
        )
        values = outbox_values(plan, action, resident_id, now)
        values["channel"] = "apprise"
        self.outbox(conn, _key(action.alert_id, action.step, action.role, "apprise"), **values)

    @staticmethod
    def has_row(conn: Connection, key: str) -> bool:
        return conn.execute(select(outbox.c.id).where(outbox.c.key == key)).first() is not None

    def _queue_digest(
        self, conn: Connection, resident_id: str, action: QueueDigest, now: datetime
    ) -> None:
        self._digest_items(
            conn,
            resident_id,
            ("digest", action.alert_id, action.step),
            alert_id=action.alert_id,
            role=action.role,
            message=action.message,
            queued_at=action.event_at or now,
            deliver_at=action.deliver_at,
        )
        self.timeline(conn, action.alert_id, now, "digest_queued", None, action.role)

    def _note_trend(
        self, conn: Connection, resident_id: str, action: NoteTrend, now: datetime
    ) -> None:
        """A lasting change goes on the officials' work list and into their next digest,
        never into an SMS of its own: even in working hours it waits for the next day's."""
        exists = conn.execute(
            select(trend_findings.c.id).where(trend_findings.c.id == action.finding_id)
        ).first()
        if exists is not None:
            return
        conn.execute(
            insert(trend_findings).values(
                id=action.finding_id,
                resident_id=resident_id,
                kind=action.kind,
                detected_at=action.at,
                detail=action.detail,
            )
        )
        calendar = self._calendar
        tomorrow = (now.astimezone(calendar.zone) + timedelta(days=1)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        self._digest_items(
            conn,
            resident_id,
            ("trend", action.finding_id),
            alert_id=action.finding_id,
            role="official",
            message=cast(MessageKey, f"trend_{action.kind}"),
            queued_at=action.at,
            deliver_at=calendar.next_working_start(tomorrow),
        )

    def _digest_items(
        self,
        conn: Connection,
        resident_id: str,
        key_parts: tuple[str, ...],
        *,
        alert_id: str,
        role: Role,
        message: MessageKey,
        queued_at: datetime,
        deliver_at: datetime,
    ) -> None:
        """One digest item per contact of ``role``, once each (keyed by ``key_parts``)."""
        for phone in self.recipients(conn, resident_id, role):
            key = _key(*key_parts, phone)
            if conn.execute(select(digest_items.c.id).where(digest_items.c.key == key)).first():
                continue
            conn.execute(
                insert(digest_items).values(
                    key=key,
                    resident_id=resident_id,
                    alert_id=alert_id,
                    recipient=phone,
                    role=role,
                    message=message,
                    queued_at=queued_at,
                    deliver_at=deliver_at,
                    delivered=False,
                )
            )
