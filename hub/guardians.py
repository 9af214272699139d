"""What guardians can do without an account: a signed link, or a reply to the SMS.

A guardian acts on one alert of one resident: "I'm going" (acknowledge; for an inactivity
alert that holds the control centre for ``ack_resolve_within``, for an emergency it holds
nothing: 보호자 확인 중, the centre goes on), "they are fine" (resolve an inactivity alert; an
emergency is closed only by the control centre, which calls anyway), or away mode ("in
hospital", "at my home") until a last day at most :data:`AWAY_MAX_DAYS` ahead. All reach the
escalation core as the guardian's own inputs or policy change and land on the alert's
timeline with the guardian's name. Runs on the hub's single writer thread, like every state
change. :class:`AlertView` is the facts a guardian's page is built from; the words are the
page's (:mod:`hub.api.guardian`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from alerts.engine import ack_resolve_overdue
from alerts.inputs import Acknowledge, RecordStep, Resolve
from alerts.state import AlertState
from hub import links
from hub.service import ConflictError, HubCore, NotFoundError
from hub.store import guardian_links
from hub.store.db import reading, writing
from hub.store.rows import add_timeline
from protocol.vocab import KOREA_TZ, ONE_TIME_STEPS, normalise_phone

GuardianAction = Literal["ack", "resolve"]
AwayReason = Literal["hospital", "family", "other"]
REPLY_CODES: dict[str, GuardianAction] = {"1": "ack", "2": "resolve"}
GUARDIAN_OUTCOME = "resolved_by_guardian"
AWAY_MAX_DAYS = 60
"""The furthest last day of away mode a guardian may set, in days from today: longer would
leave a resident unwatched on one tap (the centre and the district set longer ones)."""
_AWAY_NOTE: dict[AwayReason, str] = {
    "hospital": "입원",
    "family": "가족 집에 머묾",
    "other": "외출",
}
_REPLY_LOOKBACK = 2000  # guardian messages of open alerts searched for the sender
_MARKS = frozenset({"acknowledged", "guardian_checking", "resolved", *ONE_TIME_STEPS})

Checking = Literal["me", "other"] | None


class LinkRefused(PermissionError):  # noqa: N818 - reads as what happened to the request
    """The link is bad, expired or for another alert; ``reason`` is safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AwayDayError(ValueError):
    """Away mode asked for a day out of bounds; the message is Korean, for the guardian."""


@dataclass(frozen=True)
class AlertView:
    """What a guardian's page is built from: plain facts, no health details.

    ``checking``: a guardian said they are checking ("me": the one holding this link, as far
    as names tell). ``centre_has_it``: the centre acknowledged (접수). ``next_centre_at``: an
    inactivity alert not yet the centre's reaches it then (the policy copy the alert opened
    with; a guardian's acknowledgement moves it), ``after_ack`` says which. ``realert_every``:
    an emergency not yet acknowledged is re-sent to the centre at this interval.
    ``quiet_since``: an open inactivity alert's T, the time its SMS named.
    ``closed_reason``: why it closed (``resolved`` by a person, ``activity_resumed``, ...).
    """

    resident_name: str
    alert_id: str
    kind: str
    state: str
    stage: str
    opened_at: datetime
    can_resolve: bool
    last_activity_at: datetime | None = None
    quiet_since: datetime | None = None
    resident_phone: str | None = None
    outcome: str | None = None
    resolved_at: datetime | None = None
    closed_reason: str | None = None
    checking: Checking = None
    centre_has_it: bool = False
    steps: frozenset[str] = field(default_factory=frozenset)
    next_centre_at: datetime | None = None
    after_ack: bool = False
    realert_every: timedelta | None = None
    away_until: datetime | None = None
    can_set_away: bool = False


def away_end(last_day: date, tz: str) -> datetime:
    """Away mode for a last day ends at the midnight after it, local time."""
    return datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=ZoneInfo(tz))


def away_bounds(now: datetime, tz: str) -> tuple[date, date]:
    """The first and last day a guardian may choose as away mode's last day."""
    today = now.astimezone(ZoneInfo(tz)).date()
    return today, today + timedelta(days=AWAY_MAX_DAYS)


def _centre_next(alert: AlertState | None) -> tuple[datetime | None, bool]:
    """When an inactivity alert at the guardian stage goes to the centre (as the engine's
    ``control_center_after`` rule times it), and whether a guardian's ack set that time."""
    if alert is None or alert.kind != "inactivity" or alert.stage != "guardian":
        return None, False
    held = ack_resolve_overdue(alert)
    if held is not None:
        return held, True
    if alert.basis_at is None:
        return None, False
    return alert.basis_at + alert.policy.control_center_after, False


class GuardianDesk:
    """Link and reply handling on top of the hub core."""

    def __init__(self, core: HubCore, tz: str = KOREA_TZ) -> None:
        self.core = core
        self.tz = tz

    def view(self, token: str, now: datetime) -> AlertView:
        link = self._link(token, now)
        with reading(self.core.engine) as conn:
            row = guardian_links.guardian_alert(conn, link.alert_id)
            if row is None or row.resident_id != link.resident_id:
                raise LinkRefused("unknown")
            marks = guardian_links.marks_of(conn, row.id, _MARKS)
        me = self._guardian_name(link.contact_id)
        guardian_acks = [
            m.by for m in marks if m.what == "acknowledged" and m.note == "guardian"
        ] + [m.by for m in marks if m.what == "guardian_checking"]
        checking: Checking = None
        if guardian_acks:
            checking = "me" if me in guardian_acks else "other"
        state = self.core.state_of(link.resident_id)
        live = state.alerts.get(row.id) if state else None
        next_at, after_ack = _centre_next(live)
        away = state.policy.away_until if state else None
        open_emergency = row.kind == "emergency" and row.state != "resolved"
        return AlertView(
            resident_name=row.resident_name,
            alert_id=row.id,
            kind=row.kind,
            state=row.state,
            stage=row.stage,
            opened_at=row.opened_at,
            can_resolve=row.kind == "inactivity" and row.state != "resolved",
            last_activity_at=state.last_activity_at if state else None,
            quiet_since=live.basis_at if live is not None and live.kind == "inactivity" else None,
            resident_phone=row.resident_phone,
            outcome=row.outcome,
            resolved_at=row.resolved_at,
            closed_reason=next((m.note for m in marks if m.what == "resolved"), None),
            checking=checking,
            centre_has_it=any(m.what == "acknowledged" and m.note != "guardian" for m in marks),
            steps=frozenset(m.what for m in marks if m.what in ONE_TIME_STEPS),
            next_centre_at=next_at,
            after_ack=after_ack,
            realert_every=(
                live.policy.emergency_ack_within
                if live is not None and live.next_realert_at is not None
                else None
            ),
            away_until=away if away is not None and away > now else None,
            # While an emergency is open the page is about it; away mode never pauses one.
            can_set_away=link.role == "guardian" and not open_emergency,
        )

    def set_away(self, token: str, last_day: date, reason: AwayReason, now: datetime) -> AlertView:
        """Away mode until the midnight after ``last_day`` (local), set by the link's guardian.

        The guardian knows where the resident is, so the link's inactivity alert, if still
        open, is closed as the guardian's (with the reason on its timeline for the centre).
        Setting the same end again changes nothing (no new policy version).
        """
        link = self._link(token, now)
        first, last = away_bounds(now, self.tz)
        if not first <= last_day <= last:
            msg = f"외출 마지막 날은 오늘부터 {AWAY_MAX_DAYS}일 안에서 골라 주세요"
            raise AwayDayError(msg)
        view = self.view(token, now)
        if not view.can_set_away:
            msg = "긴급 호출이 끝난 뒤에 외출을 설정할 수 있습니다"
            raise ConflictError(msg)
        until = away_end(last_day, self.tz)
        by = self._guardian_name(link.contact_id)
        state = self.core.state_of(link.resident_id)
        if state is not None and state.policy.away_until == until:
            return view  # the same end again: nothing new to record
        day = f"{last_day.month}월 {last_day.day}일"
        # Always on the link's alert, open or closed: pausing the watch is the centre's to
        # know, whoever holds the link (a forwarded SMS too).
        note = f"{_AWAY_NOTE[reason]}: {day}까지 외출 설정 (보호자 링크)"
        if view.kind == "inactivity" and view.state != "resolved":
            self.core.operator_inputs(
                view.alert_id,
                [
                    RecordStep(alert_id=view.alert_id, by=by, step="note", note=note),
                    Resolve(alert_id=view.alert_id, by=by, outcome=GUARDIAN_OUTCOME),
                ],
                now,
            )
        else:
            with writing(self.core.engine) as conn:
                add_timeline(conn, view.alert_id, now, "note", by, note)
        state = self.core.state_of(link.resident_id)
        if state is None or state.policy.away_until != until:
            self.core.change_policy(link.resident_id, {"away_until": until.isoformat()}, now)
        with writing(self.core.engine) as conn:
            guardian_links.mark_used(conn, link.id, now)
        return self.view(token, now)

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
            raise ConflictError("이미 종료된 알림입니다")
        if action == "ack":
            if row.state == "acknowledged":
                return  # a second tap changes nothing
            self.core.operator_input(
                alert_id, Acknowledge(alert_id=alert_id, by=by, role="guardian"), now
            )
            return
        if row.kind != "inactivity":
            raise ConflictError("긴급 호출은 관제센터가 어르신과 연락한 뒤 종료합니다")
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
