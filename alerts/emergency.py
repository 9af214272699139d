"""An emergency's life: raised, re-alerted, answered by the centre, closed.

Owns the emergency rules of the default escalation policy and who hears what when:

- **Raised** ("살려줘", a button, a fall): the centre and the guardians are told at once.
  Further evidence while it is open goes on its timeline (:func:`repeated`).
- **The centre's answer** (접수, an acknowledgement by the centre or a supervisor) is due
  ``emergency_ack_within`` after the call. Until it comes the centre is alerted again every
  ``emergency_ack_within`` (:func:`realert`). A guardian's tap (보호자 확인 중) is not it.
- **The supervisor** is told once per alert, when the centre misses its answer target
  (:func:`tell_supervisor`), then only on a real change *for a supervisor woken at night*:
  the centre has answered after all (:func:`answered`: "접수되었습니다", they may stand
  down), or the alert was closed before any answer (:func:`closed`: "종료"); and if a new
  call for help under an emergency the centre had answered goes unanswered in time again,
  that is a new miss and they are told again. Not a change for them: more re-alerts, a
  second "살려줘" or a fall while it is unanswered (the same unanswered alert), the
  resident's cancel (the centre must still phone), a guardian's tap (the centre still has
  not answered), the centre's own steps, the closing of an alert they were already told is
  answered. An emergency has no stage beyond ``control_center``, so none escalates further.
- **The official** (paged in working hours only, otherwise in their next working-day digest)
  hears once, and only once the centre has the emergency: at the centre's answer, "관제센터
  확인 중" (:func:`answered`). Never answered, they still hear: as it closes (:func:`closed`,
  "관제센터가 종료했습니다"), or, still open and unanswered ``control_center_after`` after
  the call (when a silence would have reached the centre too), "접수되지 않았습니다"
  (:func:`tell_official_unanswered`). Nothing is dropped: every emergency reaches its
  official by one of the three.
- **Open past its hold** (``control_center_after``): it no longer holds the resident's
  inactivity watch back (:func:`hold_end`), and a new call for help re-alerts the centre.
- **Closed** with an outcome: guardians who were told hear it ended; the resident's
  inactivity alert of the same incident is folded into it (:func:`fold_incident`).

Pure, like :mod:`alerts.engine`, which calls these from its inputs and timed rules; a timed
rule here is a pair ``*_at`` (when, or None) and the function that fires it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from alerts.actions import Action, MessageKey, RecordTimeline, ResolveAlert
from alerts.state import AlertState, ResidentState
from protocol.vocab import AlertKind, Stage
from protocol.vocab import ContactRole as Role

__all__ = [
    "Turn",
    "answered",
    "cancel_requested",
    "closed",
    "fold_incident",
    "guardian_checking",
    "hold_end",
    "official_unanswered_at",
    "raised",
    "realert",
    "realert_at",
    "repeated",
    "supervisor_at",
    "tell_official_unanswered",
    "tell_supervisor",
]


class Turn(Protocol):
    """What the engine's decision in progress offers these rules."""

    state: ResidentState
    now: datetime

    def emit(self, action: Action) -> None: ...

    def open_alert(
        self,
        alert_id: str,
        kind: AlertKind,
        stage: Stage,
        basis: datetime,
        reason: str,
        next_realert_at: datetime | None = None,
        explanation: str | None = None,
    ) -> AlertState: ...

    def tell(
        self,
        alert: AlertState,
        role: Role,
        message: MessageKey,
        step: str,
        about: datetime,
        *,
        urgent: bool = False,
    ) -> None: ...

    def route(
        self, alert: AlertState, role: Role, message: MessageKey, step: str, about: datetime
    ) -> None:
        """Tell ``role`` in working hours, else queue it for their next digest."""
        ...


# --- raised -----------------------------------------------------------------------------


def raised(turn: Turn, alert_id: str, trigger: str, at: datetime) -> None:
    """A new emergency: the centre and the guardians at once; the centre's answer is due."""
    due = turn.now + turn.state.policy.emergency_ack_within
    alert = turn.open_alert(alert_id, "emergency", "control_center", at, trigger, due)
    alert.answer_due_at = due
    turn.tell(alert, "control_center", "emergency_alert", "open", at)
    turn.tell(alert, "guardian", "emergency_alert", "open", at)


def repeated(turn: Turn, alert: AlertState, device: str, trigger: str) -> None:
    """More evidence under an open emergency goes on its timeline; nobody is paged again.

    Open past its hold (acknowledged and forgotten), a new call for help must not vanish
    into the timeline: the centre is re-alerted now and every interval until someone
    acknowledges again, and its answer is due anew (missed, the supervisor hears).
    """
    turn.emit(RecordTimeline(alert.alert_id, "emergency_repeated", by=device, note=trigger))
    if hold_end(alert, turn.now) is not None:
        return
    alert.next_realert_at = turn.now
    if alert.answer_due_at is None:
        alert.answer_due_at = turn.now + alert.policy.emergency_ack_within


def cancel_requested(turn: Turn, alert: AlertState, device: str, note: str, at: datetime) -> None:
    """The resident takes an emergency back; the centre is told but still confirms by phone.

    The alert stays open and re-alerts continue: a cancel can be said under duress or by
    someone else, so only a person closes an emergency.
    """
    turn.emit(RecordTimeline(alert.alert_id, "cancel_requested", by=device, note=note))
    if not alert.cancel_requested:
        alert.cancel_requested = True
        turn.tell(alert, "control_center", "emergency_cancel_requested", "cancel", at)


def hold_end(alert: AlertState, now: datetime) -> datetime | None:
    """When the open emergency stops holding the inactivity watch back; None: it does not."""
    end = alert.opened_at + alert.policy.control_center_after
    return end if now < end else None


# --- timed: re-alerts, the supervisor, the official's backstop ---------------------------


def realert_at(alert: AlertState) -> datetime | None:
    return alert.next_realert_at if alert.kind == "emergency" else None


def realert(turn: Turn, alert: AlertState) -> None:
    """Not acknowledged by the centre in time: alert the centre again.

    Repeats every ``emergency_ack_within`` counted from the re-alert, so a hub coming back
    from an outage sends one re-alert, not one per missed interval.
    """
    alert.realerts += 1
    alert.next_realert_at = turn.now + alert.policy.emergency_ack_within
    turn.tell(
        alert, "control_center", "emergency_realert", f"realert-{alert.realerts}", _call(alert)
    )


def supervisor_at(alert: AlertState) -> datetime | None:
    """When the supervisor is to hear that the centre's answer is late; None: not now."""
    if alert.kind != "emergency" or alert.supervisor_waiting:
        return None
    return alert.answer_due_at


def tell_supervisor(turn: Turn, alert: AlertState) -> None:
    """The centre missed its answer target: the supervisor is told, once for this miss."""
    alert.supervisor_misses += 1
    alert.supervisor_waiting = True
    step = f"supervisor-{alert.supervisor_misses}"
    turn.tell(alert, "supervisor", "emergency_supervisor", step, _call(alert))


def official_unanswered_at(alert: AlertState) -> datetime | None:
    """The official's backstop: still unanswered ``control_center_after`` after the call."""
    if alert.kind != "emergency" or "official" in alert.told or alert.answer_due_at is None:
        return None
    return alert.opened_at + alert.policy.control_center_after


def tell_official_unanswered(turn: Turn, alert: AlertState) -> None:
    turn.route(alert, "official", "emergency_official_unanswered", "official", _call(alert))


# --- people's inputs ----------------------------------------------------------------------


def guardian_checking(turn: Turn, alert: AlertState, by: str) -> None:
    """A guardian's tap (보호자 확인 중): on the timeline once; the centre still owes its answer."""
    if by not in alert.guardian_checking:
        alert.guardian_checking = [*alert.guardian_checking, by]
        turn.emit(RecordTimeline(alert.alert_id, "guardian_checking", by))


def answered(turn: Turn, alert: AlertState) -> None:
    """The centre has it (접수): re-alerts stop; a supervisor told of the miss may stand down;
    the official hears of the emergency now, if they have not yet (working hours, else their
    digest). A second acknowledgement changes nothing more."""
    alert.next_realert_at = None
    alert.answer_due_at = None
    about = _call(alert)
    if alert.supervisor_waiting:
        alert.supervisor_waiting = False
        step = f"supervisor-answered-{alert.supervisor_misses}"
        turn.tell(alert, "supervisor", "emergency_supervisor_answered", step, about)
    if "official" not in alert.told:
        turn.route(alert, "official", "emergency_official", "official", about)


def closed(turn: Turn, alert: AlertState) -> None:
    """A person closed the emergency: who was waiting to hear of it hears it ended."""
    if "guardian" in alert.told:
        turn.tell(alert, "guardian", "emergency_closed", "closed", turn.now)
    if alert.supervisor_waiting:
        # Closed before the centre acknowledged it: as good as an answer for the supervisor.
        alert.supervisor_waiting = False
        turn.tell(alert, "supervisor", "emergency_closed", "closed", turn.now)
    if "official" not in alert.told:
        turn.route(alert, "official", "emergency_official_closed", "official", _call(alert))


def fold_incident(turn: Turn, alert: AlertState, by: str, outcome: str) -> None:
    """The resident's inactivity alert of the same incident closes with the emergency.

    Opened before the emergency stopped holding the watch back, it is the same incident: it
    is closed with the emergency's outcome and silence counted from now (someone has just
    seen to the resident). One opened later is a new incident: resolving a forgotten
    emergency must not close it.
    """
    state = turn.state
    end = alert.opened_at + alert.policy.control_center_after
    same = [a for a in state.alerts.values() if a.kind == "inactivity" and a.opened_at < end]
    for folded in same:
        del state.alerts[folded.alert_id]
        reason = "folded_into_emergency"
        turn.emit(ResolveAlert(folded.alert_id, folded.kind, reason, by=by, outcome=outcome))
    if same or turn.now < end:
        state.inactivity_reset_at = turn.now
        state.asked = []


def _call(alert: AlertState) -> datetime:
    """The moment an emergency's messages speak of: the call."""
    return alert.basis_at or alert.opened_at
