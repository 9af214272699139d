"""What guardians can do without an account: a signed link, or a reply to the SMS.

A guardian acts on one alert of one resident: "I'm going" (acknowledge; for an inactivity
alert that holds the control centre for ``ack_resolve_within``) or "they are fine" (resolve an
inactivity alert; an emergency is closed only by the control centre, which calls anyway).
Both reach the escalation core as the guardian's own inputs and land on the alert's timeline
with the guardian's name. Runs on the hub's single writer thread, like every state change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from alerts.inputs import Acknowledge, Resolve
from hub import links
from hub.service import ConflictError, HubCore, NotFoundError
from hub.store import guardian_links
from hub.store.db import reading, writing
from protocol.vocab import normalise_phone

GuardianAction = Literal["ack", "resolve"]
REPLY_CODES: dict[str, GuardianAction] = {"1": "ack", "2": "resolve"}
GUARDIAN_OUTCOME = "resolved_by_guardian"
_REPLY_LOOKBACK = 2000  # guardian messages of open alerts searched for the sender


class LinkRefused(PermissionError):  # noqa: N818 - reads as what happened to the request
    """The link is bad, expired or for another alert; ``reason`` is safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AlertView:
    """What a guardian's page shows: plain facts, no health details."""

    resident_name: str
    alert_id: str
    kind: str
    state: str
    stage: str
    opened_at: datetime
    can_resolve: bool
    last_activity_at: datetime | None = None


class GuardianDesk:
    """Link and reply handling on top of the hub core."""

    def __init__(self, core: HubCore) -> None:
        self.core = core

    def view(self, token: str, now: datetime) -> AlertView:
        link = self._link(token, now)
        with reading(self.core.engine) as conn:
            row = guardian_links.guardian_alert(conn, link.alert_id)
        if row is None or row.resident_id != link.resident_id:
            raise LinkRefused("unknown")
        return AlertView(
            resident_name=row.resident_name,
            alert_id=row.id,
            kind=row.kind,
            state=row.state,
            stage=row.stage,
            opened_at=row.opened_at,
            can_resolve=row.kind == "inactivity" and row.state != "resolved",
            last_activity_at=self._last_activity(link.resident_id),
        )

    def _last_activity(self, resident_id: str) -> datetime | None:
        state = self.core.state_of(resident_id)
        return state.last_activity_at if state else None

    def act(self, token: str, action: GuardianAction, now: datetime) -> AlertView:
        """The guardian tapped a button on the link's page."""
        link = self._link(token, now)
        by = self._guardian_name(link.contact_id)
        self._apply(link.alert_id, action, by, now)
        with writing(self.core.engine) as conn:
            guardian_links.mark_used(conn, link.id, now)
        return self.view(token, now)

    def reply(self, phone: str, text: str, now: datetime) -> tuple[str, GuardianAction]:
        """An SMS reply forwarded by the provider: ``1`` = going, ``2`` = they are fine.

        Applies to the newest unresolved alert this number was paged about as a guardian.
        """
        code = text.strip()[:1]
        action = REPLY_CODES.get(code)
        if action is None:
            msg = "reply must start with 1 (가볼게요) or 2 (괜찮아요)"
            raise ValueError(msg)
        sender = normalise_phone(phone)
        with reading(self.core.engine) as conn:
            candidates = guardian_links.guardian_pages(conn, _REPLY_LOOKBACK)
        # Providers forward the sender as "01012345678", "+821012345678" or with hyphens;
        # contacts may be stored in any of those forms.
        row = next(
            (c for c in candidates if sender and normalise_phone(c.recipient) == sender), None
        )
        if row is None:
            msg = "no open alert was sent to this number"
            raise NotFoundError(msg)
        self._apply(row.alert_id, action, self._guardian_name(row.contact_id), now)
        return row.alert_id, action

    def _apply(self, alert_id: str, action: GuardianAction, by: str, now: datetime) -> None:
        with reading(self.core.engine) as conn:
            row = guardian_links.alert_status(conn, alert_id)
        if row is None:
            raise LinkRefused("unknown")
        if row.state == "resolved":
            raise ConflictError("the alert is already closed")
        if action == "ack":
            if row.state == "acknowledged":
                return  # a second tap changes nothing
            self.core.operator_input(
                alert_id, Acknowledge(alert_id=alert_id, by=by, role="guardian"), now
            )
            return
        if row.kind != "inactivity":
            raise ConflictError("the control centre closes emergencies after calling")
        self.core.operator_input(
            alert_id, Resolve(alert_id=alert_id, by=by, outcome=GUARDIAN_OUTCOME), now
        )

    def _link(self, token: str, now: datetime) -> links.Link:
        # A transaction: the first link checked may generate and store the hub's link key.
        with writing(self.core.engine) as conn:
            try:
                return links.lookup(conn, self.core.composer.signer(conn), token, now)
            except links.LinkError as error:
                raise LinkRefused(error.reason) from None

    def _guardian_name(self, contact_id: int | None) -> str:
        if contact_id is None:
            return "보호자"
        with reading(self.core.engine) as conn:
            name = guardian_links.contact_name(conn, contact_id)
        return f"보호자 {name}" if name else "보호자"
