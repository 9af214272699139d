"""The escalation engine: one resident's state + one input + ``now`` -> new state and actions.

Owns the rules of the default escalation policy (check-in, guardian, control centre,
device health, monitoring lost, activity resumed, vitals out of range) and the order they
fire in; an emergency's own rules (re-alerts, the supervisor, the official) are
:mod:`alerts.emergency`'s, a blind device's and water left running :mod:`alerts.sensing`'s,
fired from here. Pure: no I/O, no clock; the same arguments
always give the same :class:`Decision`, so a hub that crashes before committing can simply
decide again.

Each rule is one function named as the domain names it. A timed rule returns a
:class:`_Due` (when it is due, and what firing it does) or ``None`` when nothing is pending;
:meth:`Escalation.decide` fires everything due at ``now`` in time order and reports the
earliest future due time as ``next_due``, so the rules and the wake-up time can't disagree.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import assert_never

from alerts import emergency, sensing, trends
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
from alerts.inactivity import (
    Plan,
    checkin_answered,
    checkin_asked,
    fixed_reason,
    plan,
    routine_ready,
    routine_reason,
)
from alerts.inputs import (
    Acknowledge,
    Activity,
    CheckinAnswer,
    DeviceStatus,
    Emergency,
    Heartbeat,
    Input,
    RecordStep,
    RegisterDevice,
    Resolve,
    Tick,
    VitalReading,
)
from alerts.night import night_end
from alerts.routine import OWN_SOURCES, close_day, day_figures, ended_silence, observe
from alerts.state import AlertState, DeviceState, ResidentState
from alerts.timers import timer_signal, watched
from alerts.unattended import unattended
from alerts.vitals import Finding, classify, record_weight
from protocol.vocab import ONE_TIME_STEPS, RESIDENT_WAS_FINE, AlertKind, Stage
from protocol.vocab import ContactRole as Role

__all__ = [
    "Decision",
    "Escalation",
    "checkin_request_id",
    "inactivity_basis",
    "make_alert_id",
]

# Fixed forever: alert ids derived from it must be the same after a restart or an upgrade.
_ID_NAMESPACE = uuid.UUID("725dd0d5-a393-4c30-99dd-5e2cd9415d08")

# Roles whose acknowledgement means "the centre has it" and stops emergency re-alerts.
_CENTRE_ROLES: frozenset[Role] = frozenset({"control_center", "supervisor"})

# How many closed emergency ids to remember; redeliveries come within hours, not weeks.
_CLOSED_EMERGENCIES_KEPT = 20

# How long after a device comes back the routine rule waits for its outbox to replay.
_REPLAY_GRACE = timedelta(minutes=10)

# Every firing retires its rule or moves it past ``now``, so a decision needs only a handful;
# the bound turns a rule bug into an error instead of a hung hub.
_MAX_FIRINGS = 1000


@dataclass(frozen=True)
class Decision:
    """The outcome of one :meth:`Escalation.decide` call.

    ``next_due`` is when the hub must call ``decide(state, Tick(), next_due)`` next, or
    ``None`` when nothing is pending.
    """

    state: ResidentState
    actions: tuple[Action, ...]
    next_due: datetime | None


class Escalation:
    """Applies the escalation rules; holds the (immutable) working calendar, and for the
    length of one call a state handed over to it (:meth:`hand_over`)."""

    def __init__(self, calendar: WorkingCalendar) -> None:
        self.calendar = calendar
        self._handed_over: ResidentState | None = None

    def hand_over(self, state: ResidentState | None) -> None:
        """The next :meth:`decide` of ``state`` may work on it in place instead of a copy:
        the caller gives it up (a state this engine returned that nothing else holds, as in
        one transaction of the hub's). Decides exactly the same; saves the copy. ``None``
        withdraws an offer not taken."""
        self._handed_over = state

    def decide(self, state: ResidentState, event: Input, now: datetime) -> Decision:
        """Apply ``event`` at ``now``, then fire every rule due at or before ``now``.

        ``state`` is not modified; the returned state is a new object (unless ``state`` was
        handed over, see :meth:`hand_over`: then it is that one, decided on in place).
        """
        handed_over = state is self._handed_over
        self._handed_over = None
        turn = _Turn(state if handed_over else state.clone(), _utc(now), self.calendar)
        learn_days(turn)
        _apply(turn, event)
        pending = _settle(turn)
        watch_untrusted(turn)
        return Decision(turn.state, tuple(turn.actions), _next_due(turn, pending))


# --- identities -------------------------------------------------------------------------


def make_alert_id(resident: str, kind: AlertKind, discriminator: str) -> str:
    """A deterministic alert id, so deciding again after a crash yields the same id."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{resident}|{kind}|{discriminator}"))


def checkin_request_id(resident: str, basis: datetime, attempt: int = 0) -> str:
    """A deterministic check-in request id: 40 characters of ``[a-z0-9-]``.

    ``attempt`` numbers the routine rule's questions within one silence (0: the fixed rule's).
    """
    key = f"{resident}|checkin|{_iso(basis)}" + (f"|{attempt}" if attempt else "")
    return "checkin-" + uuid.uuid5(_ID_NAMESPACE, key).hex


def inactivity_basis(state: ResidentState) -> datetime:
    """T: the time inactivity is counted from.

    The latest of the last activity (or the start of monitoring), the end of away mode
    (so while away, every inactivity rule lies after ``away_until``) and the moment a
    person last closed an inactivity alert by hand.
    """
    basis = state.last_activity_at or state.monitoring_since
    for later in (state.policy.away_until, state.inactivity_reset_at):
        if later is not None and later > basis:
            basis = later
    return _utc(basis)


# --- the working copy of one decision ---------------------------------------------------


class _Turn:
    """One decision in progress: a private copy of the state, ``now`` and the actions so far."""

    def __init__(self, state: ResidentState, now: datetime, calendar: WorkingCalendar) -> None:
        self.state = state
        self.now = now
        self.calendar = calendar
        self.actions: list[Action] = []

    def emit(self, action: Action) -> None:
        self.actions.append(action)

    def open_alert(
        self,
        alert_id: str,
        kind: AlertKind,
        stage: Stage,
        basis: datetime,
        reason: str,
        next_realert_at: datetime | None = None,
        explanation: str | None = None,
    ) -> AlertState:
        """Open an alert with the policy snapshot of this moment, and say so."""
        alert = AlertState(
            alert_id=alert_id,
            kind=kind,
            stage=stage,
            opened_at=self.now,
            basis_at=basis,
            policy=self.state.policy,
            next_realert_at=next_realert_at,
        )
        self.state.alerts[alert_id] = alert
        self.emit(OpenAlert(alert_id, kind, stage, reason=reason, explanation=explanation))
        return alert

    def tell(
        self,
        alert: AlertState,
        role: Role,
        message: MessageKey,
        step: str,
        about: datetime,
        *,
        urgent: bool = False,
    ) -> None:
        """Notify ``role``; a guardian's quiet hours never hold it past the centre's time."""
        latest = None
        if alert.kind == "inactivity" and alert.basis_at is not None:
            latest = _utc(alert.basis_at) + alert.policy.control_center_after
        not_before = None
        if role == "guardian" and alert.kind != "emergency" and not urgent:
            not_before = night_end(alert.policy.guardian_night, self.now, self.calendar.zone)
            if not_before is not None and latest is not None and latest > self.now:
                # Before the centre's time a hold never passes it; from then on the centre
                # is working the alert and the guardians' SMS may wait for the morning.
                not_before = min(not_before, latest)
            if not_before is not None and not_before <= self.now:
                not_before = None
        self.emit(
            Notify(
                alert_id=alert.alert_id,
                kind=alert.kind,
                stage=alert.stage,
                role=role,
                message=message,
                step=step,
                event_at=about,
                urgent=urgent,
                hold_until_latest=latest,
                not_before=not_before,
            )
        )
        _mark_told(alert, role)

    def route(
        self, alert: AlertState, role: Role, message: MessageKey, step: str, about: datetime
    ) -> None:
        """Tell ``role`` in working hours; otherwise queue it for their next working-day
        digest (officials and the health centre are paged only in working hours)."""
        if self.calendar.is_working_time(self.now):
            self.tell(alert, role, message, step, about)
            return
        deliver_at = self.calendar.next_working_start(self.now)
        self.emit(
            QueueDigest(
                alert.alert_id, alert.kind, alert.stage, role, message, step, deliver_at, about
            )
        )
        _mark_told(alert, role)


@dataclass(frozen=True)
class _Due:
    at: datetime
    fire: Callable[[], None]


def _mark_told(alert: AlertState, role: Role) -> None:
    if role not in alert.told:
        alert.told.append(role)


# --- inputs -----------------------------------------------------------------------------


def _apply(turn: _Turn, event: Input) -> None:
    match event:
        case RegisterDevice():
            register_device(turn, event)
        case Acknowledge():
            acknowledge(turn, event)
        case Resolve():
            resolve(turn, event)
        case RecordStep():
            record_step(turn, event)
        case Tick():
            pass
        case _:
            _apply_device_message(turn, event)


def _apply_device_message(
    turn: _Turn,
    event: Activity | Heartbeat | DeviceStatus | Emergency | CheckinAnswer | VitalReading,
) -> None:
    match event:
        case Activity():
            device_seen(turn, event.device)
            if not appliance_timer(turn, event) and not unattended_appliance(turn, event):
                resident_active(turn, event.at, event.source, event.count)
            motion_seen(turn, event)
        case Heartbeat():
            heartbeat(turn, event)
        case DeviceStatus():
            device_status(turn, event)
        case Emergency():
            device_seen(turn, event.device)
            if event.cancel_of is None:
                emergency_raised(turn, event)
            else:
                emergency_cancel_requested(turn, event)
        case CheckinAnswer():
            device_seen(turn, event.device)
            if event.answered:
                checkin_answered(turn.state)
                resident_active(turn, event.at, "checkin")
        case VitalReading():
            device_seen(turn, event.device)
            vital_reading(turn, event)
        case _:
            assert_never(event)


def appliance_timer(turn: _Turn, event: Activity) -> bool:
    """Under the routine rule, a signal that starts an appliance's day at its usual minute
    is a timer's, not a sign of life (:mod:`alerts.timers`)."""
    state = turn.state
    at = _event_time(event.at, turn.now)
    zone = turn.calendar.zone
    if not watched(state.policy.inactivity_rule, event.source):
        return False
    return timer_signal(state.timers, event.device, event.source, at, event.count, zone)


def unattended_appliance(turn: _Turn, event: Activity) -> bool:
    """Under the routine rule, a plug switching while the home's motion sensor sees nobody
    is an appliance left on, not a sign of life (:mod:`alerts.unattended`)."""
    state = turn.state
    at = _event_time(event.at, turn.now)
    return unattended(state.policy.inactivity_rule, event.source, at, state.last_motion_at)


def motion_seen(turn: _Turn, event: Activity) -> None:
    """Remember the latest motion: it vouches for the appliances used near it."""
    if event.source != "motion":
        return
    at = _event_time(event.at, turn.now)
    state = turn.state
    if state.last_motion_at is None or at > state.last_motion_at:
        state.last_motion_at = at


def resident_active(turn: _Turn, at: datetime, source: str = "other", count: int = 1) -> None:
    """Resident activity at ``at`` is learned, moves the inactivity basis and may end an alert.

    An alert raised on the resident's own signals alone ends only with one of them.
    """
    state = turn.state
    at = _event_time(at, turn.now)
    zone, rest = turn.calendar.zone, _rest(turn)
    observe(state.routine, at, state.last_activity_at, source, count, zone)
    own = source in OWN_SOURCES
    if state.last_activity_at is None or at > state.last_activity_at:
        if state.last_activity_at is not None:
            out = state.last_source == "door"
            ended_silence(state.routine, state.last_activity_at, at, zone, rest, own=False, out=out)
        state.last_activity_at = at
        state.last_source = source
    if own and (state.last_own_activity_at is None or at > state.last_own_activity_at):
        if state.last_own_activity_at is not None:
            ended_silence(
                state.routine,
                state.last_own_activity_at,
                at,
                zone,
                _rest(turn),
                own=True,
                out=False,
            )
        state.last_own_activity_at = at
    alert = _open_alert(state, "inactivity")
    if alert is None or (alert.own_only and not own):
        return
    latest = state.last_own_activity_at if alert.own_only else state.last_activity_at
    if latest is not None:
        activity_resumed(turn, alert, latest)


def activity_resumed(turn: _Turn, alert: AlertState, latest: datetime) -> None:
    """An inactivity alert resolves itself once activity newer than its basis is seen.

    Only if that activity is recent: an old buffered event (sent late by a phone that was
    off) says the resident was fine back then, not that they are fine now.
    """
    if alert.basis_at is None or latest <= alert.basis_at:
        return
    if turn.now - latest >= alert.policy.guardian_after:
        return
    turn.emit(ResolveAlert(alert.alert_id, alert.kind, reason="activity_resumed"))
    del turn.state.alerts[alert.alert_id]
    for role in list(alert.told):
        if role == "official":
            route_official(turn, alert, "activity_resumed", "resumed", latest)
        else:
            # With a guardians' night the good news is never held: a guardian who was told
            # may be on the way (one whose SMS was still held gets none: the hub withdrew it
            # as this alert ended). Without one, a contact's own quiet hours hold it as ever.
            urgent = role == "guardian" and alert.policy.guardian_night is not None
            turn.tell(alert, role, "activity_resumed", "resumed", latest, urgent=urgent)


def register_device(turn: _Turn, event: RegisterDevice) -> None:
    """Add a device, or change the kind of a known one."""
    device = turn.state.devices.get(event.device)
    if device is None:
        turn.state.devices[event.device] = DeviceState(kind=event.kind)
    else:
        device.kind = event.kind


def heartbeat(turn: _Turn, event: Heartbeat) -> None:
    """A heartbeat is not resident activity; it only keeps the device counted as online.

    Unless it says the device cannot see: then the device counts as offline
    (:mod:`alerts.sensing`), before anything else, so a blind device that was offline does
    not look back for a moment. Its water sensors are read either way.
    """
    device = turn.state.devices.get(event.device)
    if device is None:
        return
    if event.interval_s > 0:
        device.interval_s = event.interval_s
    if event.sensing:
        sensing.sees_again(turn, device)
    else:
        sensing.gone_blind(turn, event.device, device)
    device_seen(turn, event.device)
    sensing.water_report(turn, event)


def device_status(turn: _Turn, event: DeviceStatus) -> None:
    """The retained status topic: "online" on connect, "offline" as the broker's Last Will.

    The Last Will is composed at connect time, so its ``at`` is stale: it means offline now.
    A retained "online" is replayed to the hub on every reconnect with its old ``at``; it
    only counts as news when it is newer than anything already known about the device.
    """
    device = turn.state.devices.get(event.device)
    if device is None:
        return
    if not event.online:
        if device.online:
            device.online = False
            device.offline_since = turn.now
            turn.emit(MarkDevice(event.device, online=False, since=turn.now))
        return
    known = [t for t in (device.last_seen_at, device.offline_since) if t is not None]
    if not known or _event_time(event.at, turn.now) > max(known):
        device_seen(turn, event.device)


def device_seen(turn: _Turn, device_id: str) -> None:
    """Anything from a device proves it is connected now.

    Receipt time is used, not the device's ``at``: device clocks drift and buffered events
    carry old timestamps, but they arrive over a live connection.
    """
    state = turn.state
    device = state.devices.get(device_id)
    if device is None:
        return
    if device.last_seen_at is None or turn.now > device.last_seen_at:
        device.last_seen_at = turn.now
    if device.online or not device.sensing:
        return  # a blind device comes back only with a heartbeat that sees
    if not any(d.online for d in state.devices.values()):
        state.blackout_ended_at = turn.now
    device.online = True
    device.offline_since = None
    state.reconnected_at = turn.now
    turn.emit(MarkDevice(device_id, online=True, since=turn.now))
    alert = _open_alert(state, "monitoring_lost")
    if alert is not None:
        monitoring_restored(turn, alert)


def monitoring_restored(turn: _Turn, alert: AlertState) -> None:
    """A device is back: the monitoring_lost alert resolves and the centre is told."""
    turn.emit(ResolveAlert(alert.alert_id, alert.kind, reason="monitoring_restored"))
    del turn.state.alerts[alert.alert_id]
    turn.tell(alert, "control_center", "monitoring_restored", "resumed", turn.now)


def emergency_raised(turn: _Turn, event: Emergency) -> None:
    """Help was asked for: the centre and guardians at once (:func:`emergency.raised`; the
    official hears once the centre has it).

    While an emergency alert is open, further evidence (a second "살려줘", a fall after a
    button press) goes on its timeline (:func:`emergency.repeated`). An event that already
    had its alert closed is a redelivery and changes nothing.
    """
    state = turn.state
    existing = _open_alert(state, "emergency")
    if existing is not None:
        emergency.repeated(turn, existing, event.device, event.trigger)
        return
    alert_id = make_alert_id(state.resident, "emergency", f"{event.device}|{event.event_id}")
    if alert_id in state.closed_emergencies:
        return  # the same event delivered again after it was handled and closed
    emergency.raised(turn, alert_id, event.trigger, _event_time(event.at, turn.now))


def emergency_cancel_requested(turn: _Turn, event: Emergency) -> None:
    """The resident takes an emergency back (:func:`emergency.cancel_requested`)."""
    alert = _open_alert(turn.state, "emergency")
    if alert is None or event.cancel_of is None:
        return
    about = _event_time(event.at, turn.now)
    emergency.cancel_requested(turn, alert, event.device, event.cancel_of, about)


def vital_reading(turn: _Turn, event: VitalReading) -> None:
    """A reading from a home health device, judged against the resident's current ranges.

    Not resident activity: it was not before vitals had rules (the hub passed them to nobody),
    and a scale that syncs on its own says little about whether the resident is up. It does
    prove the device is connected, like anything a device sends.

    One ``vital_out_of_range`` alert per resident at a time. Out of range with none open:
    :func:`vitals_out_of_range`; critical with none open: :func:`critical_vitals`; critical
    while one is open below the control-centre stage: :func:`critical_vitals_escalate`.
    Anything else while one is open (another out-of-range reading, a critical one after the
    centre already has it, a reading back in range) only goes on its timeline: nobody is paged
    twice for the same episode, and a reading back in range does not close it, because a nurse
    should still follow up; a person resolves it (:func:`resolve`).
    """
    state = turn.state
    at = _event_time(event.at, turn.now)
    finding = classify(replace(event, at=at), state.policy, state.weights, turn.calendar.tz)
    if event.kind == "weight":
        state.weights = record_weight(state.weights, at, event.value, turn.calendar.tz)
    if finding is None:
        return
    alert = _open_alert(state, "vital_out_of_range")
    if alert is None:
        if finding.level == "critical":
            critical_vitals(turn, event, finding, at)
        elif finding.level == "out_of_range":
            vitals_out_of_range(turn, event, finding, at)
        return
    if finding.level == "critical" and alert.stage != "control_center":
        critical_vitals_escalate(turn, alert, event, finding, at)
        return
    what = "vital_in_range" if finding.level == "normal" else "vital_repeated"
    turn.emit(RecordTimeline(alert.alert_id, what, by=event.device, note=finding.rule))


def vitals_out_of_range(turn: _Turn, event: VitalReading, finding: Finding, at: datetime) -> None:
    """Outside the resident's range: an alert at stage ``health_center``, and the health
    centre is told in working hours, otherwise in its next working-day digest."""
    alert_id = make_alert_id(turn.state.resident, "vital_out_of_range", _vital_key(event))
    alert = turn.open_alert(alert_id, "vital_out_of_range", "health_center", at, finding.rule)
    route_health_center(turn, alert, "vital_health_center", "open", at)


def critical_vitals(turn: _Turn, event: VitalReading, finding: Finding, at: datetime) -> None:
    """A critical value: the control centre is paged at once, any hour; the health centre is
    told as for any vital alert (working hours, else its digest)."""
    alert_id = make_alert_id(turn.state.resident, "vital_out_of_range", _vital_key(event))
    alert = turn.open_alert(alert_id, "vital_out_of_range", "control_center", at, finding.rule)
    turn.tell(alert, "control_center", "vital_critical_control_center", "open", at)
    route_health_center(turn, alert, "vital_critical_health_center", "open", at)


def critical_vitals_escalate(
    turn: _Turn, alert: AlertState, event: VitalReading, finding: Finding, at: datetime
) -> None:
    """A critical value while an out-of-range alert is open: that alert (no second one) moves
    to the control centre, which is paged at once; the health centre learns the centre has it."""
    alert.stage = "control_center"
    turn.emit(RecordTimeline(alert.alert_id, "vital_critical", by=event.device, note=finding.rule))
    turn.emit(ChangeStage(alert.alert_id, alert.kind, "control_center", reason=finding.rule))
    turn.tell(alert, "control_center", "vital_critical_control_center", "critical", at)
    route_health_center(turn, alert, "vital_critical_health_center", "critical", at)


def _vital_key(event: VitalReading) -> str:
    return f"{event.device}|{event.event_id}"


def acknowledge(turn: _Turn, event: Acknowledge) -> None:
    """Someone took the alert on; only the centre's acknowledgement stops emergency re-alerts.

    Two kinds that never look alike: the centre's (접수) and, on an emergency, a guardian's
    (보호자 확인 중): a guardian on the way is not the centre answering, so the emergency
    stays open for the centre (it was shown as 접수됨 while the centre was still being
    re-alerted). The centre's acknowledgement after a guardian's on an inactivity alert
    makes it the centre's (the guardian's resolve timer no longer runs).
    """
    alert = turn.state.alerts.get(event.alert_id)
    if alert is None:
        return
    centre = event.role in _CENTRE_ROLES
    if alert.kind == "emergency" and not centre:
        emergency.guardian_checking(turn, alert, event.by)
        return
    if alert.state == "acknowledged" and (alert.acknowledged_role in _CENTRE_ROLES or not centre):
        if centre and alert.kind == "emergency":
            emergency.answered(turn, alert)  # again, after a new call re-alerted the centre
        return  # taken on already: a second acknowledgement records nothing
    turn.emit(AcknowledgeAlert(alert.alert_id, alert.kind, event.by, event.role))
    if alert.state == "open" or centre:
        alert.state = "acknowledged"
        alert.acknowledged_by = event.by
        alert.acknowledged_at = turn.now
        alert.acknowledged_role = event.role
    if centre and alert.kind == "emergency":
        emergency.answered(turn, alert)


def resolve(turn: _Turn, event: Resolve) -> None:
    """A person closed the alert with an outcome.

    Closing an inactivity alert restarts inactivity counting from now: someone has just
    checked on the resident, and without a new basis the same alert would reopen at once.
    """
    state = turn.state
    alert = state.alerts.pop(event.alert_id, None)
    if alert is None:
        return
    turn.emit(
        ResolveAlert(
            alert.alert_id, alert.kind, reason="resolved", by=event.by, outcome=event.outcome
        )
    )
    if alert.kind == "emergency":
        kept = [*state.closed_emergencies, alert.alert_id]
        state.closed_emergencies = kept[-_CLOSED_EMERGENCIES_KEPT:]
        emergency.closed(turn, alert)
        emergency.fold_incident(turn, alert, event.by, event.outcome)
    if alert.kind == "inactivity":
        state.inactivity_reset_at = turn.now
        state.asked = []
        if event.outcome not in RESIDENT_WAS_FINE:
            state.routine.blind = True  # an incident's day is not the resident's routine


def record_step(turn: _Turn, event: RecordStep) -> None:
    """A control-centre step (called, no answer, dispatched, 119) goes on the timeline."""
    alert = turn.state.alerts.get(event.alert_id)
    if alert is None:
        return
    if event.step in ONE_TIME_STEPS:
        if event.step in alert.steps_taken:
            return
        alert.steps_taken = [*alert.steps_taken, event.step]
    turn.emit(RecordTimeline(event.alert_id, event.step, by=event.by, note=event.note))


# --- timed rules --------------------------------------------------------------------------


def checkin_due(turn: _Turn) -> _Due | None:
    """T + checkin_after: every speaker asks "괜찮으세요?", once per T.

    Skipped (but still marked as done) when there is no speaker, or when the guardian stage
    is already due, as after a hub outage: a question nobody can answer in time only adds
    noise.
    """
    state = turn.state
    basis = inactivity_basis(state)
    if state.checkin_sent_for is not None and _utc(state.checkin_sent_for) == basis:
        return None
    if sensing.blind_home(state):
        return None  # the silence is the gateway's (alerts.sensing)

    def fire() -> None:
        state.checkin_sent_for = basis
        expires_at = basis + state.policy.guardian_after
        speakers = tuple(sorted(d for d, dev in state.devices.items() if dev.kind == "speaker"))
        if speakers and expires_at > turn.now:
            request_id = checkin_request_id(state.resident, basis)
            turn.emit(SendCheckin(speakers, request_id, expires_at))

    return _Due(basis + state.policy.checkin_after, fire)


def guardian_after(turn: _Turn) -> _Due | None:
    """T + guardian_after: an inactivity alert opens at stage guardian; guardians get SMS.

    Not while the home is blind (:func:`alerts.sensing.blind_home`), and after it sees again
    only once its outbox has had time to replay."""
    state = turn.state
    if _open_alert(state, "inactivity") is not None or sensing.blind_home(state):
        return None
    basis = inactivity_basis(state)

    def fire() -> None:
        alert_id = make_alert_id(state.resident, "inactivity", _iso(basis))
        explanation = fixed_reason(basis, state.policy.guardian_after, turn.calendar.tz)
        alert = turn.open_alert(
            alert_id, "inactivity", "guardian", basis, "guardian_after", explanation=explanation
        )
        # On time on the board; the guardian's SMS waits out their night without evidence of
        # harm (see fixed_rule_harm).
        urgent = fixed_rule_harm(state, basis, turn)
        turn.tell(alert, "guardian", "inactivity_guardian", "guardian", basis, urgent=urgent)

    return _Due(sensing.replay_settled(state, basis + state.policy.guardian_after), fire)


def fixed_rule_harm(state: ResidentState, basis: datetime, turn: _Turn) -> bool:
    """Evidence of harm for the fixed rule, which only matters with a ``guardian_night``.

    No evidence while the home is dark (every device offline says nothing about the resident;
    ``monitoring_lost`` tells the centre). With half the learning days behind it, the
    routine learned so far judges, as the routine rule would: the silence began while the
    resident is usually up and is already improbable for them. Before that, a silence begun
    outside the guardians' night.
    """
    night = state.policy.guardian_night
    if night is None:
        return False
    if state.devices and not any(d.online for d in state.devices.values()):
        return False
    if 2 * state.routine.learned_days >= state.policy.routine_learning_days:
        chosen = plan(state, basis, bool(_speakers(state)), turn.calendar)
        return chosen.harm and chosen.guardian_at is not None and chosen.guardian_at <= turn.now
    return night_end(night, basis, turn.calendar.zone) is None


# --- the routine rule (alerts.inactivity plans it; these fire it) ------------------------


def _speakers(state: ResidentState) -> tuple[str, ...]:
    return tuple(sorted(d for d, dev in state.devices.items() if dev.kind == "speaker"))


def routine_checkin_due(turn: _Turn, chosen: Plan) -> _Due | None:
    """The routine rule asks "괜찮으세요?" when the silence is unusual for this resident."""
    state = turn.state
    at = chosen.checkin_at
    if at is None:
        return None

    def fire() -> None:
        attempt = 1 + sum(1 for t in state.asked if t >= chosen.basis)
        state.asked = [*state.asked[-3:], turn.now]
        checkin_asked(state)
        state.checkin_sent_for = inactivity_basis(state)
        request_id = checkin_request_id(state.resident, chosen.basis, attempt)
        expires_at = turn.now + state.policy.routine_checkin_wait
        turn.emit(SendCheckin(_speakers(state), request_id, expires_at))

    return _Due(at, fire)


def routine_guardian_due(turn: _Turn, chosen: Plan) -> _Due | None:
    """The routine rule tells the guardian: a silence (with unanswered check-ins) this unlikely
    for this resident; never later than the control centre's time."""
    state = turn.state

    def fire() -> None:
        basis = chosen.basis
        alert_id = make_alert_id(state.resident, "inactivity", _iso(basis))
        unanswered = sum(1 for t in state.asked if t >= basis)
        explanation = routine_reason(state, chosen, turn.now, unanswered, turn.calendar)
        alert = turn.open_alert(
            alert_id, "inactivity", "guardian", basis, "routine", explanation=explanation
        )
        alert.own_only = chosen.own_only
        turn.tell(alert, "guardian", "inactivity_guardian", "guardian", basis, urgent=chosen.harm)

    return None if chosen.guardian_at is None else _Due(chosen.guardian_at, fire)


def inactivity_rules(turn: _Turn) -> list[_Due | None]:
    """The fixed rule's check-in and guardian stage, or the routine rule's once it decides.

    None while an emergency is in hand (:func:`emergency_in_hand`): one incident, one alert.
    """
    state = turn.state
    held_until = emergency_hold_end(turn)
    if held_until is not None:
        return [_Due(held_until, lambda: None)]  # a wake-up: the watch resumes then
    if not routine_ready(state):
        return [checkin_due(turn), guardian_after(turn)]
    if _open_alert(state, "inactivity") is not None:
        return []
    speakers = bool(_speakers(state))
    dark = not any(d.online for d in state.devices.values())
    chosen = plan(state, inactivity_basis(state), speakers, turn.calendar, dark=dark)
    back = state.reconnected_at
    if back is not None and turn.now < _utc(back) + _REPLAY_GRACE:
        # A device that was offline replays its outbox: judge the silence once it is in.
        settle = _utc(back) + _REPLAY_GRACE
        checkin = chosen.checkin_at and max(chosen.checkin_at, settle)
        guardian = chosen.guardian_at and max(chosen.guardian_at, settle)
        chosen = replace(chosen, checkin_at=checkin, guardian_at=guardian)
    return [routine_checkin_due(turn, chosen), routine_guardian_due(turn, chosen)]


def emergency_in_hand(turn: _Turn) -> bool:
    """An emergency is open, and opened less than its ``control_center_after`` ago.

    The centre is already on it: a "괜찮으세요?" spoken a second after "살려줘", or an
    inactivity SMS beside the emergency SMS, only confuses the people working it. Bounded,
    because a stale alert must never hide a new incident: an emergency left open for a day
    (acknowledged and forgotten) no longer holds the resident's inactivity watch back.
    """
    return emergency_hold_end(turn) is not None


def emergency_hold_end(turn: _Turn) -> datetime | None:
    """When the open emergency stops holding the inactivity watch back; None: it does not."""
    alert = _open_alert(turn.state, "emergency")
    return None if alert is None else emergency.hold_end(alert, turn.now)


def _rest(turn: _Turn) -> Callable[[date], bool]:
    return lambda day: not turn.calendar.is_working_day(day)


# --- what the routine learns from ---------------------------------------------------------


def learn_days(turn: _Turn) -> None:
    """A new local day: the day gathered so far is learned (see :func:`watch_untrusted`).

    A day with an inactivity alert still open is learned too: a false alarm's day is the
    resident's real routine, and an incident's day only adds its hours before the incident;
    the silent days that follow have no sign of life and are never learned.
    """
    state = turn.state
    routine = state.routine
    today = turn.now.astimezone(turn.calendar.zone).date()
    if routine.day is None:
        routine.day = today
    if today <= routine.day:
        return
    figures = day_figures(routine) if routine.hours and not routine.blind else None
    close_day(routine, today, _rest(turn))
    if figures is None:
        return
    for finding in trends.daily(state.trends, figures):
        if state.policy.trend_watch:
            key = f"{state.resident}|trend|{finding.kind}|{finding.day.isoformat()}"
            finding_id = str(uuid.uuid5(_ID_NAMESPACE, key))
            turn.emit(NoteTrend(finding_id, finding.kind, finding.detail, turn.now))


def watch_untrusted(turn: _Turn) -> None:
    """Away mode, monitoring lost or every device offline: no data is not no activity, so
    today is not learned."""
    state = turn.state
    if state.routine.day is None:
        return
    away = state.policy.away_until
    dark = bool(state.devices) and not any(d.online for d in state.devices.values())
    if (
        dark
        or (away is not None and _utc(away) > turn.now)
        or _open_alert(state, "monitoring_lost") is not None
    ):
        state.routine.blind = True


def control_center_after(turn: _Turn, alert: AlertState) -> _Due | None:
    """basis + control_center_after (from the alert's own policy copy): the centre takes over.

    The centre gets it on the board and by SMS, the official in working hours (else in the
    digest), and guardians are reminded. A guardian who acknowledged holds this back: see
    :func:`ack_resolve_overdue`.
    """
    if alert.kind != "inactivity" or alert.stage != "guardian" or alert.basis_at is None:
        return None
    if emergency_in_hand(turn):
        return None  # the centre has the emergency: the same incident, not a second alert
    held = ack_resolve_overdue(alert)
    if held is not None:
        return _Due(held, lambda: _escalate_to_centre(turn, alert, "ack_resolve_within"))
    return _Due(
        alert.basis_at + alert.policy.control_center_after,
        lambda: _escalate_to_centre(turn, alert, "control_center_after"),
    )


def ack_resolve_overdue(alert: AlertState) -> datetime | None:
    """Acknowledged is not safe: when a guardian has taken an inactivity alert on ("I'm
    going"), the centre is not paged on the usual schedule, but if the guardian has not
    resolved it ``ack_resolve_within`` after acknowledging, it is; returns that time, or
    None when no guardian's acknowledgement holds the alert."""
    if alert.state != "acknowledged" or alert.acknowledged_role != "guardian":
        return None
    if alert.acknowledged_at is None:
        return None
    return _utc(alert.acknowledged_at) + alert.policy.ack_resolve_within


def _escalate_to_centre(turn: _Turn, alert: AlertState, reason: str) -> None:
    basis = alert.basis_at or alert.opened_at
    alert.stage = "control_center"
    turn.emit(ChangeStage(alert.alert_id, alert.kind, "control_center", reason=reason))
    if reason == "ack_resolve_within" and alert.acknowledged_at is not None:
        turn.tell(
            alert,
            "control_center",
            "inactivity_unresolved_after_ack",
            "control_center",
            alert.acknowledged_at,
        )
    else:
        turn.tell(alert, "control_center", "inactivity_control_center", "control_center", basis)
    route_official(turn, alert, "inactivity_official", "control_center", basis)
    turn.tell(alert, "guardian", "inactivity_guardian_reminder", "guardian_reminder", basis)


def emergency_rules(turn: _Turn, alert: AlertState) -> list[_Due | None]:
    """An open emergency's timed rules (:mod:`alerts.emergency`), in the order they fire
    when due together: the centre's re-alert, the supervisor, the official's backstop."""
    return [
        _timed(emergency.realert_at(alert), lambda: emergency.realert(turn, alert)),
        _timed(emergency.supervisor_at(alert), lambda: emergency.tell_supervisor(turn, alert)),
        _timed(
            emergency.official_unanswered_at(alert),
            lambda: emergency.tell_official_unanswered(turn, alert),
        ),
    ]


def _timed(at: datetime | None, fire: Callable[[], None]) -> _Due | None:
    return None if at is None else _Due(at, fire)


def device_offline(turn: _Turn, device_id: str, device: DeviceState) -> _Due | None:
    """No heartbeat for ``device_offline_after_heartbeats`` intervals: the device is offline.

    Nobody is paged for one device; ``monitoring_lost`` covers the resident losing all of them.
    """
    if not device.online or device.last_seen_at is None or device.interval_s is None:
        return None
    missed = turn.state.policy.device_offline_after_heartbeats
    due = _utc(device.last_seen_at) + timedelta(seconds=device.interval_s * missed)

    def fire() -> None:
        device.online = False
        device.offline_since = due
        turn.emit(MarkDevice(device_id, online=False, since=due))

    return _Due(due, fire)


def monitoring_lost(turn: _Turn) -> _Due | None:
    """Every device offline for ``monitoring_lost_after``: the centre must know nobody watches."""
    state = turn.state
    if not state.devices or _open_alert(state, "monitoring_lost") is not None:
        return None
    offline = [d.offline_since for d in state.devices.values() if not d.online]
    if len(offline) != len(state.devices) or None in offline:
        return None
    since = _utc(max(t for t in offline if t is not None))
    if state.monitoring_lost_for is not None and _utc(state.monitoring_lost_for) == since:
        return None

    def fire() -> None:
        alert_id = make_alert_id(state.resident, "monitoring_lost", _iso(since))
        alert = turn.open_alert(alert_id, "monitoring_lost", "control_center", since, "all_offline")
        state.monitoring_lost_for = since
        turn.tell(alert, "control_center", "monitoring_lost", "open", since)

    return _Due(since + state.policy.monitoring_lost_after, fire)


def water_left_running(turn: _Turn) -> _Due | None:
    """A water sensor wet for the policy's ``water_running_after`` (:mod:`alerts.sensing`)."""
    found = sensing.water_running_at(turn.state)
    if found is None:
        return None
    at, key = found
    resident = turn.state.resident

    def alert_id(spell: str) -> str:
        return make_alert_id(resident, "water_running", spell)

    return _Due(at, lambda: sensing.water_running(turn, key, alert_id))


def route_official(
    turn: _Turn, alert: AlertState, message: MessageKey, step: str, about: datetime
) -> None:
    """Officials are paged only in working hours; otherwise it waits for their digest."""
    turn.route(alert, "official", message, step, about)


def route_health_center(
    turn: _Turn, alert: AlertState, message: MessageKey, step: str, about: datetime
) -> None:
    """The health centre, like officials, is paged only in working hours, else in a digest."""
    turn.route(alert, "health_center", message, step, about)


# --- firing in time order -----------------------------------------------------------------


def _pending(turn: _Turn) -> list[_Due]:
    state = turn.state
    found = [*inactivity_rules(turn), monitoring_lost(turn), water_left_running(turn)]
    found += [device_offline(turn, d, dev) for d, dev in sorted(state.devices.items())]
    for alert in state.alerts.values():
        found += [control_center_after(turn, alert), *emergency_rules(turn, alert)]
    return [due for due in found if due is not None]


def _settle(turn: _Turn) -> list[_Due]:
    """Fire due rules earliest first until none is due; return what is still pending.

    One at a time because firing one rule changes what the others see (an alert opened at
    T+12h is what the T+24h stage escalates).
    """
    for _ in range(_MAX_FIRINGS):
        pending = _pending(turn)
        due = [p for p in pending if p.at <= turn.now]
        if not due:
            return pending
        min(due, key=lambda p: p.at).fire()
    msg = f"escalation rules did not settle for resident {turn.state.resident!r}"
    raise RuntimeError(msg)


def _next_due(turn: _Turn, pending: list[_Due]) -> datetime | None:
    times = [p.at for p in pending]
    away_until = turn.state.policy.away_until
    if away_until is not None and away_until > turn.now:
        times.append(_utc(away_until))
    return min(times, default=None)


# --- small helpers ----------------------------------------------------------------------


def _open_alert(state: ResidentState, kind: AlertKind) -> AlertState | None:
    """The unresolved alert of ``kind``; the rules keep at most one per kind."""
    return next((a for a in state.alerts.values() if a.kind == kind), None)


def _utc(at: datetime) -> datetime:
    if at.utcoffset() is None:
        msg = f"need an aware datetime, got naive {at.isoformat()}"
        raise ValueError(msg)
    return at.astimezone(UTC)


def _event_time(at: datetime, now: datetime) -> datetime:
    """A device's timestamp, trusted only as far as it can be.

    Device clocks drift, so a time in the future is taken as now; buffered events keep their
    old time. A naive time is a device bug, and dropping the event (it may be an
    emergency) would be worse than taking it as now.
    """
    if at.utcoffset() is None:
        return now
    return min(at.astimezone(UTC), now)


def _iso(at: datetime) -> str:
    return _utc(at).isoformat()
