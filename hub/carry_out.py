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

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from alerts.actions import (
    AcknowledgeAlert,
    Action,
    ChangeStage,
    MarkDevice,
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
from hub.digests import Digests
from hub.metrics import Tally
from hub.notify.compose import Composer, Recipient, outbox_values
from hub.settings import Settings
from hub.store.alert_rows import add_alert, alert_head, update_alert
from hub.store.db import Connection
from hub.store.registry import set_device_online
from hub.store.rows import add_outbox, add_timeline, ever_told, has_outbox, settle_held
from hub.store.rows import idempotency_key as _key
from protocol import AlertChange, CheckinCommand, Event, to_json
from protocol.topics import ALERTS_TOPIC, cmd_topic

__all__ = ["CarryOut", "Ledger"]

log = structlog.get_logger(__name__)


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
        self._name_of = name_of
        self._on_action = on_action
        self.digests = Digests(composer, calendar, settings, name_of)

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
                update_alert(conn, action.alert_id, now, stage=action.stage)
                add_timeline(conn, action.alert_id, now, f"stage:{action.stage}", None, None)
                self._publish_change(conn, action.alert_id, now, action.reason, work)
            case AcknowledgeAlert():
                update_alert(
                    conn,
                    action.alert_id,
                    now,
                    state="acknowledged",
                    acknowledged_at=now,
                    acknowledged_by=action.by,
                )
                add_timeline(conn, action.alert_id, now, "acknowledged", action.by, action.role)
                self._publish_change(conn, action.alert_id, now, "acknowledged", work)
            case ResolveAlert():
                update_alert(
                    conn,
                    action.alert_id,
                    now,
                    state="resolved",
                    resolved_at=now,
                    resolved_by=action.by,
                    outcome=action.outcome,
                )
                add_timeline(conn, action.alert_id, now, "resolved", action.by, action.reason)
                self._settle_held(conn, action, now)
                self._publish_change(conn, action.alert_id, now, action.reason, work)
            case Notify():
                self._notify(conn, resident_id, action, now)
            case QueueDigest():
                self.digests.queue(conn, resident_id, action, now)
            case RecordTimeline():
                add_timeline(conn, action.alert_id, now, action.what, action.by, action.note)
            case NoteTrend():
                self.digests.note_trend(conn, resident_id, action, now)
            case MarkDevice():
                set_device_online(conn, resident_id, action.device, action.online)

    # ------------------------------------------------------------ side effects

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
            add_outbox(
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
        opened = add_alert(
            conn,
            action.alert_id,
            resident_id=resident_id,
            kind=action.kind,
            state="open",
            stage=action.stage,
            reason=action.reason,
            explanation=action.explanation,
            opened_at=now,
            updated_at=now,
        )
        if opened:
            work.tally.opened[(action.kind, action.stage)] += 1
        note = action.explanation or action.reason
        add_timeline(conn, action.alert_id, now, "opened", None, note)
        self._publish_change(conn, action.alert_id, now, action.reason, work)

    def _publish_change(
        self, conn: Connection, alert_id: str, now: datetime, reason: str, work: Ledger
    ) -> None:
        row = alert_head(conn, alert_id)
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
        add_outbox(
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

    def _notify(self, conn: Connection, resident_id: str, action: Notify, now: datetime) -> None:
        if action.role == "control_center" and self._settings.notify_urls:
            self._notify_channels(conn, resident_id, action, now)
        targets = self.composer.recipients(conn, resident_id, action.role)
        if not targets:
            log.warning("notify.no_recipients", role=action.role, alert_id=action.alert_id)
            add_timeline(conn, action.alert_id, now, "no_recipients", None, action.role)
            return
        self.write_notifications(conn, resident_id, action, targets, now)

    def _settle_held(self, conn: Connection, action: ResolveAlert, now: datetime) -> None:
        """A guardian's SMS still held (their night, their quiet hours) about an alert that
        has ended: withdrawn when the resident was found well (it would wake them for
        nothing), sent now otherwise (a real incident: the family must hear of it)."""
        if settle_held(conn, action.alert_id, now, withdraw=action.resident_fine):
            what = "held_withdrawn" if action.resident_fine else "held_released"
            add_timeline(conn, action.alert_id, now, what, None, "guardian")

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
            targets = [t for t in targets if ever_told(conn, action.alert_id, t.phone)]
        name = self._name_of(resident_id)
        plans = self.composer.plan(
            conn,
            resident_id=resident_id,
            resident_name=name,
            action=action,
            recipients=[
                t
                for t in targets
                if not has_outbox(conn, _key(action.alert_id, action.step, action.role, t.phone))
            ],
            now=now,
        )
        for plan in plans:
            key = _key(action.alert_id, action.step, action.role, plan.recipient.phone)
            add_outbox(conn, key, **outbox_values(plan, action, resident_id, now))
            if plan.hold_until is not None:
                add_timeline(
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
        add_outbox(conn, _key(action.alert_id, action.step, action.role, "apprise"), **values)
