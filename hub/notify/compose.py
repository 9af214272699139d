"""What one notification becomes in the outbox: who gets it, with which text, and when.

The core says "tell the guardians about this alert"; this module turns that into one outbox
row per recipient: the contacts of that role (backup guardians only when another guardian
could not be reached), each guardian's own signed link, a reply hint when SMS replies are
on, and a later ``next_attempt_at`` when a guardian's quiet hours hold a routine message
(never one with evidence of harm, ``Notify.urgent``; never past the control centre's time,
``Notify.hold_until_latest``), and one the core holds for the guardians' night
(``Notify.not_before``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alerts.actions import Notify
from alerts.messages import render
from hub import links
from hub.notify.quiet import quiet_until
from hub.settings import Settings
from hub.store.db import Connection
from hub.store.outbox import contacts_of

# Guardian messages about an alert that is still open: they carry the one-tap link.
LINKED_MESSAGES = frozenset(
    {"inactivity_guardian", "inactivity_guardian_reminder", "emergency_alert"}
)
REPLY_HINT = "답장 1: 가볼게요 / 2: 괜찮아요"


@dataclass(frozen=True)
class Recipient:
    """One phone to tell, and the contact behind it when there is one."""

    phone: str
    contact_id: int | None = None
    quiet_hours: str | None = None


@dataclass(frozen=True)
class Planned:
    """One outbox row to write for a notification."""

    recipient: Recipient
    body: str
    hold_until: datetime | None


class Composer:
    """Builds notification rows; holds the link signer once the key has been read."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._signer: links.LinkSigner | None = None

    def signer(self, conn: Connection) -> links.LinkSigner:
        if self._signer is None:
            configured = self._settings.link_secret
            key = links.link_key(conn, configured.get_secret_value() if configured else None)
            self._signer = links.LinkSigner(key)
        return self._signer

    def recipients(
        self, conn: Connection, resident_id: str, role: str, *, backup: bool = False
    ) -> list[Recipient]:
        """The role's contacts in the order they were added (backups only if asked)."""
        found = [
            Recipient(c.phone, c.id, c.quiet_hours)
            for c in contacts_of(conn, resident_id, role, backup=backup)
        ]
        if not backup:
            extra = {
                "control_center": self._settings.control_center_phones,
                "health_center": self._settings.health_center_phones,
                "supervisor": self._settings.supervisor_phones,
            }.get(role, [])
            found += [Recipient(phone) for phone in extra]
        seen: set[str] = set()
        unique = []
        for recipient in found:
            if recipient.phone not in seen:
                seen.add(recipient.phone)
                unique.append(recipient)
        return unique

    def plan(
        self,
        conn: Connection,
        *,
        resident_id: str,
        resident_name: str,
        action: Notify,
        recipients: list[Recipient],
        now: datetime,
    ) -> list[Planned]:
        """The rows for ``action`` to ``recipients``."""
        planned = []
        at = action.event_at or now
        for recipient in recipients:
            link = None
            if action.role == "guardian" and action.message in LINKED_MESSAGES:
                token = links.issue(
                    conn,
                    self.signer(conn),
                    resident_id=resident_id,
                    alert_id=action.alert_id,
                    contact_id=recipient.contact_id,
                    role="guardian",
                    now=now,
                    ttl=self._settings.link_ttl,
                )
                link = f"{self._settings.link_base}/g/{token}"
            body = render(
                action.message, resident_name=resident_name, at=at, tz=self._settings.tz, link=link
            )
            if (
                action.role == "guardian"
                and action.kind == "inactivity"
                and self._settings.sms_reply_secret is not None
            ):
                body = f"{body}\n{REPLY_HINT}"
            hold = None
            if action.role == "guardian" and action.kind != "emergency" and not action.urgent:
                quiet = quiet_until(
                    recipient.quiet_hours, now, self._settings.tz, self._settings.quiet_hold_max
                )
                if quiet is not None and action.hold_until_latest is not None:
                    quiet = min(quiet, action.hold_until_latest)
                # The contact's own quiet hours or the policy's guardian night (which the
                # core has bounded already), the later.
                holds = [t for t in (quiet, action.not_before) if t is not None and t > now]
                hold = max(holds) if holds else None
            planned.append(Planned(recipient, body, hold))
        return planned


def outbox_values(plan: Planned, action: Notify, resident_id: str, now: datetime) -> dict[str, Any]:
    """Column values of the outbox row for one planned notification."""
    return {
        "channel": "sms",
        "alert_id": action.alert_id,
        "resident_id": resident_id,
        "role": action.role,
        "recipient": plan.recipient.phone,
        "contact_id": plan.recipient.contact_id,
        "kind": action.kind,
        "stage": action.stage,
        "body": plan.body,
        "created_at": now,
        "next_attempt_at": plan.hold_until,
        "message": action.message,
        "step": action.step,
        "event_at": action.event_at,
    }
