"""Digests for the roles paged only in working hours, and trend findings for officials.

Owns :class:`Digests`: an official's or the health centre's step outside working hours is
held as a digest item (:meth:`Digests.queue`), a lasting change in a resident's routine
goes on the officials' work list and into their next digest (:meth:`Digests.note_trend`),
and at the next working-day start every item due goes out as one SMS per phone and role
(:meth:`Digests.deliver`). Items are keyed, so queueing one again adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import cast

from alerts.actions import MessageKey, NoteTrend, QueueDigest
from alerts.calendar import WorkingCalendar
from alerts.messages import DigestItem, render_digest
from hub.notify.compose import Composer
from hub.settings import Settings
from hub.store.db import Connection
from hub.store.digest_queue import (
    QueuedItem,
    add_digest_item,
    add_trend_finding,
    items_due,
    mark_delivered,
)
from hub.store.rows import add_outbox, add_timeline
from hub.store.rows import idempotency_key as _key
from protocol.vocab import ContactRole as Role

__all__ = ["Digests"]


class Digests:
    """Digest items in, digest SMS out (see the module docstring)."""

    def __init__(
        self,
        composer: Composer,
        calendar: WorkingCalendar,
        settings: Settings,
        name_of: Callable[[str], str],
    ) -> None:
        self._composer = composer
        self._calendar = calendar
        self._settings = settings
        self._name_of = name_of

    def queue(self, conn: Connection, resident_id: str, action: QueueDigest, now: datetime) -> None:
        self._items(
            conn,
            resident_id,
            ("digest", action.alert_id, action.step),
            alert_id=action.alert_id,
            role=action.role,
            message=action.message,
            queued_at=action.event_at or now,
            deliver_at=action.deliver_at,
        )
        add_timeline(conn, action.alert_id, now, "digest_queued", None, action.role)

    def note_trend(
        self, conn: Connection, resident_id: str, action: NoteTrend, now: datetime
    ) -> None:
        """A lasting change goes on the officials' work list and into their next digest,
        never into an SMS of its own: even in working hours it waits for the next day's."""
        new = add_trend_finding(
            conn,
            action.finding_id,
            resident_id=resident_id,
            kind=action.kind,
            detected_at=action.at,
            detail=action.detail,
        )
        if not new:
            return
        calendar = self._calendar
        tomorrow = (now.astimezone(calendar.zone) + timedelta(days=1)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        self._items(
            conn,
            resident_id,
            ("trend", action.finding_id),
            alert_id=action.finding_id,
            role="official",
            message=cast(MessageKey, f"trend_{action.kind}"),
            queued_at=action.at,
            deliver_at=calendar.next_working_start(tomorrow),
        )

    def _items(
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
        for recipient in self._composer.recipients(conn, resident_id, role):
            phone = recipient.phone
            add_digest_item(
                conn,
                _key(*key_parts, phone),
                resident_id=resident_id,
                alert_id=alert_id,
                recipient=phone,
                role=role,
                message=message,
                queued_at=queued_at,
                deliver_at=deliver_at,
            )

    def deliver(self, conn: Connection, now: datetime) -> int:
        """One SMS per phone and role with every item due by ``now``; items marked delivered."""
        rows = items_due(conn, now)
        # One digest per phone and role: a number that is both an official's and the
        # health centre's gets each digest under its own role.
        by_recipient: dict[tuple[str, str], list[QueuedItem]] = {}
        for row in rows:
            by_recipient.setdefault((row.recipient, row.role), []).append(row)
        for (phone, role), items in by_recipient.items():
            body = render_digest(
                [
                    DigestItem(
                        resident_name=self._name_of(item.resident_id),
                        message=cast(MessageKey, item.message),
                        at=item.queued_at,
                    )
                    for item in items
                ],
                deliver_at=now,
                tz=self._settings.tz,
            )
            add_outbox(
                conn,
                _key("digest", phone, *(str(item.id) for item in items)),
                channel="sms",
                role=role,
                recipient=phone,
                kind="digest",
                body=body,
                created_at=now,
            )
        mark_delivered(conn, [row.id for row in rows])
        return len(by_recipient)
