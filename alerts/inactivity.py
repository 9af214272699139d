"""Routine-aware inactivity: when this resident's silence is worth a question, and an alert.

Owns the timing of the routine rule (``inactivity_rule: routine`` in the policy) once the
resident's routine is learned (:mod:`alerts.routine`), and the plain Korean reason staff read
for every inactivity alert. The engine (:mod:`alerts.engine`) asks :func:`plan` for the next
step and fires it; until the routine is learned, and for ``inactivity_rule: fixed``, the fixed
rules there (``checkin_due``, ``guardian_after``) apply unchanged.

The steps, for a silence begun at ``T`` (the last sign of life):

1. **Ask.** When the silence reaches 1-in-``routine_checkin_odds`` for this resident (on all
   signals, or on the resident's own), every speaker asks "괜찮으세요?"; unanswered after
   ``routine_checkin_wait`` it asks once more. An answer is a sign of life and ends it all.
2. **Tell the guardian** when the silence reaches 1-in-``routine_alert_odds``. Each check-in
   left unanswered counts as evidence too, as much as this resident's own record says: the
   first question of a round by the share of first questions they leave unanswered
   (:func:`unanswered_evidence`: one who answers nine in ten gives ln 10), the one asked
   again minutes later by the share of such repeats they leave unanswered
   (:func:`repeat_evidence`). The two are not independent (whoever is out or asleep misses
   both), so counting the first's figure twice, as this rule once did, paged about every
   outing: in the simulator four in five false alarms in homes with a speaker and a phone
   came 20 minutes after a second unanswered question. Unanswered questions may page
   before the silence alone is unusual: that is what they are asked for (a fall in the
   afternoon is told that day, not the next morning). A floor at the resident's own most
   surprising normal silence was measured and dropped: it cut false alarms by a tenth and
   told falls about an hour later (seed 1, 1,000 households × 60 days: median 6.75 h
   against 5.66 h without it; speaker-only homes 12.3 h against 10.3 h).
3. **Night.** When the silence began in the resident's usual sleep (no evidence of harm: they
   went to bed), nothing is asked or sent while they usually sleep; it waits for their usual
   first activity plus a margin. A silence begun in their waking hours is evidence of harm
   and is acted on at any hour.
4. **Urgency.** Each hour of the silence in which the resident is usually awake lowers the
   odds both steps wait for, by ``routine_urgency`` of them by ``T + control_center_after``
   (on all signals, at home: not on the resident's own signals alone, not after a door).
5. **Checked.** Once a person has closed the last alert (they checked on the resident) and
   nothing has been heard since, the resident is most likely not at home (a stay in
   hospital nobody announced, a night at a child's): the silence counts as after a door, and
   the guardian, who has just been told, is not paged again before the centre's time from
   that check. In the simulator one unannounced stay paged a guardian up to eight times.
6. **Caps** (the fixed rule as the outer bound): the alert opens no later than
   ``T + control_center_after``, when the control centre is paged as under the fixed rule.

An alert raised on the resident's own signals alone (a radio on a timer or a pet's motion kept
"activity" going) is closed only by one of the resident's own signals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from alerts.calendar import WorkingCalendar
from alerts.messages import format_time
from alerts.night import after_night
from alerts.routine import (
    OWN_SOURCES,
    RestDay,
    Routine,
    Silence,
    asleep_at,
    surprise,
    usual_wake,
)
from alerts.state import ResidentState

__all__ = [
    "Plan",
    "checkin_answered",
    "checkin_asked",
    "fixed_reason",
    "plan",
    "repeat_evidence",
    "routine_ready",
    "unanswered_evidence",
]

_MISS_RATE_BOUNDS = (0.05, 0.8)
CHECKIN_MEMORY = 0.95
"""Each routine check-in weighs the resident's earlier ones by this (about 20 remembered)."""


def unanswered_evidence(state: ResidentState) -> float:
    """Nats of evidence an unanswered check-in gives: ``-ln(share this resident leaves
    unanswered)``. A resident who answers nine in ten gives ln 10 = 2.3; one often out, asleep
    or hard of hearing gives less, so their silence itself must say more."""
    lo, hi = _MISS_RATE_BOUNDS
    rate = state.checkins_missed / max(state.checkins_asked, 1e-9)
    return -math.log(min(hi, max(lo, rate)))


def repeat_evidence(state: ResidentState) -> float:
    """Nats of evidence the check-in asked again a few minutes after an unanswered one gives:
    ``-ln(share of such repeats this resident leaves unanswered)``. Not the first question's
    figure again: the two are not independent (a resident out shopping or asleep misses both),
    so the second counts only as much as this resident's record says a repeat adds."""
    lo = _MISS_RATE_BOUNDS[0]
    routine = state.routine
    asked, missed, _ = routine.repeats
    rate = missed / max(asked, 1e-9)
    return -math.log(min(_REPEAT_MISS_MAX, max(lo, rate)))


_REPEAT_MISS_MAX = 0.95
"""Even a resident who always misses the repeat (out whenever asked) gives it a little
weight, as :data:`_MISS_RATE_BOUNDS` does the first: ln(1/0.95) = 0.05 nats."""


def _is_repeat(state: ResidentState) -> bool:
    """The check-in just asked (the last of ``state.asked``) follows one still unanswered
    within two waits: the same round of questions."""
    asked = state.asked
    if not state.checkin_open or len(asked) < 2:
        return False
    return asked[-1] - asked[-2] <= 2 * state.policy.routine_checkin_wait


def checkin_asked(state: ResidentState) -> None:
    """A routine check-in went out (already the last of ``state.asked``): counted as missed
    until an answer comes, with the first questions of a round or with the repeats."""
    routine = state.routine
    if _is_repeat(state):
        asked, missed, _ = routine.repeats
        routine.repeats = [
            round(asked * CHECKIN_MEMORY + 1, 3),
            round(missed * CHECKIN_MEMORY + 1, 3),
            1.0,
        ]
    else:
        state.checkins_asked = state.checkins_asked * CHECKIN_MEMORY + 1
        state.checkins_missed = state.checkins_missed * CHECKIN_MEMORY + 1
        routine.repeats = [*routine.repeats[:2], 0.0]
    state.checkin_open = True


def checkin_answered(state: ResidentState) -> None:
    """The resident answered the routine check-in still waiting."""
    if state.checkin_open:
        routine = state.routine
        asked, missed, repeat_open = routine.repeats
        if repeat_open:
            routine.repeats = [asked, round(max(0.0, missed - 1), 3), 0.0]
        else:
            state.checkins_missed = max(0.0, state.checkins_missed - 1)
        state.checkin_open = False


_SLEEP_MARGIN_MIN = 30
_PEAK_MARGIN = 1.5
"""The alert waits for a silence half again as surprising as the resident's worst normal one."""
_MORNING_MARGIN_MIN = 45
_NIGHT_HARM_MARGIN_MIN = 90
_NIGHT_EVIDENCE = math.log(10)


@dataclass(frozen=True, slots=True)
class Plan:
    """The routine rule's next steps for the current silence."""

    basis: datetime
    """T on the channel that decides (all signals, or the resident's own)."""
    own_only: bool
    """Decided on the resident's own signals while other signals went on."""
    checkin_at: datetime | None
    """When the next check-in is asked; None when none is left to ask (or no speaker)."""
    guardian_at: datetime | None
    """When the alert opens (never later than ``T + control_center_after``); None while
    every device is offline."""
    harm: bool
    """The silence began in the resident's usual waking hours: act on it at any hour."""


def routine_ready(state: ResidentState) -> bool:
    """Whether the routine rule decides for this resident (policy, and enough days learned)."""
    policy = state.policy
    return (
        policy.inactivity_rule == "routine"
        and state.routine.learned_days >= policy.routine_learning_days
    )


def plan(
    state: ResidentState,
    basis: datetime,
    has_speaker: bool,
    calendar: WorkingCalendar,
    *,
    dark: bool = False,
) -> Plan:
    """The next check-in and the alert time for the silence begun at ``basis`` (see
    :func:`_plan`). Remembered per inputs: a heartbeat or a second look at the same silence
    asks again what nothing has changed."""
    routine = state.routine
    key = (
        state.resident,
        basis,
        has_speaker,
        dark,
        calendar,
        state.policy,
        state.last_own_activity_at,
        state.last_source,
        tuple(state.asked),
        state.checkins_asked,
        state.checkins_missed,
        state.blackout_ended_at,
        state.monitoring_since,
        state.inactivity_reset_at,
        _fingerprint(routine),
    )
    found = _PLANS.get(key)
    if found is None:
        found = _plan(state, basis, has_speaker, calendar, dark=dark)
        if len(_PLANS) >= _PLANS_KEPT:
            _PLANS.pop(next(iter(_PLANS)))
        _PLANS[key] = found
    return found


# Memo of plans by everything a plan depends on: the whole routine (a profile changes once a
# day) and the parts of the state that plan reads.
_PLANS: dict[tuple[object, ...], Plan] = {}
_PLANS_KEPT = 20_000


def _fingerprint(routine: Routine) -> tuple[object, ...]:
    # Every field, so a field added to Routine can never be left out of the memo's key.
    return tuple(tuple(v) if isinstance(v, list) else v for v in routine.__dict__.values())


def _plan(
    state: ResidentState,
    basis: datetime,
    has_speaker: bool,
    calendar: WorkingCalendar,
    *,
    dark: bool = False,
) -> Plan:
    """The next check-in and the alert time for the silence begun at ``basis``.

    ``basis`` is the fixed rule's T (all signals, away mode and resets applied); the
    resident's own channel starts at their last own signal or ``basis``'s resets. ``dark``:
    every device is offline, so the silence says nothing about the resident (no data is not
    no activity): nothing is planned, and ``monitoring_lost`` tells the centre. After such a
    blackout the silence is counted from its end, the cap still from ``basis``.
    """
    policy = state.policy
    routine = state.routine
    zone = calendar.zone
    cap = basis + policy.control_center_after
    if dark:
        return Plan(basis, False, None, None, False)
    if state.blackout_ended_at is not None and state.blackout_ended_at > basis:
        basis = state.blackout_ended_at
    # Starting no lower than the resident's own most surprising normal silences of recent
    # weeks; only a long waking silence's urgency lowers them (see alerts.routine).
    ask = max(math.log(policy.routine_checkin_odds), routine.peak)
    alert = max(math.log(policy.routine_alert_odds), routine.peak * _PEAK_MARGIN)
    own_ask = max(math.log(policy.routine_checkin_odds), routine.own_peak)
    own_alert = max(math.log(policy.routine_alert_odds), routine.own_peak * _PEAK_MARGIN)
    rest = _rest_day(calendar)
    # Gone out: the last sign of life was a door, or a person closed the last alert (they
    # checked: the resident was fine) and nothing has been heard since, so the resident is
    # probably not at home (a stay in hospital, a night at a child's) and the silence says
    # as little as one after a door.
    reset = state.inactivity_reset_at
    last = state.last_activity_at
    checked = reset is not None and (last is None or last < reset)
    out = state.last_source == "door" or checked
    own_basis = _own_basis(state, basis)

    when = _Asker(routine, zone, rest, cap, policy.routine_urgency)

    ask_any = when(basis, ask, False, out)
    ask_own = when(own_basis, own_ask, True, checked) if own_basis < basis else None
    own_only = ask_own is not None and (ask_any is None or ask_own < ask_any)
    decided_from = own_basis if own_only else basis
    first_ask = ask_own if own_only else ask_any
    harm = not asleep_at(routine, decided_from, zone, _SLEEP_MARGIN_MIN)

    asked = [t for t in state.asked if t >= decided_from]
    checkin_at: datetime | None = None
    if has_speaker and len(asked) < 2:
        if asked:
            checkin_at = asked[-1] + policy.routine_checkin_wait
        elif first_ask is not None:
            checkin_at = _awake(routine, first_ask, harm, calendar)
        if checkin_at is not None and checkin_at >= cap:
            checkin_at = None

    # The guardian: the silence alone past 1 in routine_alert_odds, or with the unanswered
    # check-ins counted in, whichever comes first.
    alert = own_alert if own_only else alert
    away = checked if own_only else out
    candidates = [when(decided_from, alert, own_only, away)]
    if has_speaker and first_ask is not None:
        candidates.append(
            _with_questions(state, asked, checkin_at, when, decided_from, alert, own_only, away)
        )
    found = [t for t in candidates if t is not None]
    guardian_at = _awake(routine, min(found), harm, calendar) if found else cap
    if checked:
        # A person found the resident fine and nothing has been heard since: they are away,
        # and the routine has nothing to say about a home they are not in. The fixed outer
        # bound (the centre's time from that check) stays; no earlier page to the guardian
        # who has just been told.
        guardian_at = cap
    if policy.guardian_night is not None:
        stronger = when(decided_from, alert + _NIGHT_EVIDENCE, own_only, away, urgent=False)
        guardian_at = _past_guardians_night(
            state, guardian_at, cap, harm, decided_from, stronger, zone
        )
    return Plan(decided_from, own_only, checkin_at, min(guardian_at, cap), harm)


def _with_questions(
    state: ResidentState,
    asked: list[datetime],
    checkin_at: datetime | None,
    when: _Asker,
    decided_from: datetime,
    alert: float,
    own_only: bool,
    away: bool,
) -> datetime | None:
    """When the guardian is told with the round's unanswered questions counted in; None
    while no round of two is asked or planned."""
    sent = asked or ([checkin_at] if checkin_at is not None else [])
    if not (len(sent) == 2 or (len(sent) == 1 and checkin_at is not None)):
        return None
    second = sent[-1] if len(sent) == 2 else checkin_at
    assert second is not None  # noqa: S101 - narrowed just above
    after = second + state.policy.routine_checkin_wait
    missing = alert - unanswered_evidence(state) - repeat_evidence(state)
    reached = when(decided_from, max(missing, 0.0), own_only, away)
    if reached is None:
        return None
    return max(after, reached)


class _Asker:
    """When a silence reaches a threshold, for one plan: the same silence is asked for
    several thresholds, so each is measured once (answers as :func:`unusual_at`'s)."""

    def __init__(
        self, routine: Routine, zone: ZoneInfo, rest: RestDay, cap: datetime, urgency: float
    ) -> None:
        self._routine = routine
        self._zone = zone
        self._rest = rest
        self._cap = cap
        self._urgency = urgency
        self._silences: dict[tuple[datetime, object, bool, bool], Silence] = {}

    def __call__(
        self, start: datetime, threshold: float, own: bool, out: bool, urgent: bool = True
    ) -> datetime | None:
        # Urgency only on all signals, at home: a resident at home for days gives no door or
        # voice while the motion sensor sees them, and one who went out is not lying at home.
        lowered = urgent and not own and not out and self._urgency > 0
        key = (start, start.tzinfo, own, lowered)
        silence = self._silences.get(key)
        if silence is None:
            silence = self._silences[key] = Silence(
                self._routine,
                start,
                self._zone,
                self._rest,
                own=own,
                deadline=self._cap if lowered else None,
                urgency=self._urgency if lowered else 0.0,
            )
        return silence.reaches(threshold, out=out)


def _past_guardians_night(
    state: ResidentState,
    at: datetime,
    cap: datetime,
    harm: bool,
    began: datetime,
    stronger: datetime | None,
    zone: ZoneInfo,
) -> datetime:
    """The guardian step ``at`` moved out of the guardians' night (never past ``cap``) unless
    the evidence of harm is strong: a silence begun well before the resident's usual bedtime
    (an early night is not an incident) that reaches ten times the alert's unlikeliness
    (``stronger``) before the night ends."""
    ends = after_night(state.policy.guardian_night, at, cap, zone)
    if ends <= at:
        return at
    if not harm or asleep_at(state.routine, began, zone, _NIGHT_HARM_MARGIN_MIN):
        return ends
    return ends if stronger is None else min(ends, max(stronger, at))


def _own_basis(state: ResidentState, basis: datetime) -> datetime:
    """T on the resident's own signals: their last own signal, moved by away mode and resets."""
    own = state.last_own_activity_at or state.monitoring_since
    for later in (state.policy.away_until, state.inactivity_reset_at):
        if later is not None and later > own:
            own = later
    return min(own, basis)


def _awake(routine: Routine, at: datetime, harm: bool, calendar: WorkingCalendar) -> datetime:
    """``at``, or, without evidence of harm, the resident's usual first activity plus a margin
    when ``at`` falls in their usual sleep or that margin after it (a late morning is not yet
    a worry)."""
    if harm or not asleep_at(routine, at, calendar.zone, _MORNING_MARGIN_MIN):
        return at
    return max(at, usual_wake(routine, at, calendar.zone, _MORNING_MARGIN_MIN))


def _rest_day(calendar: WorkingCalendar) -> RestDay:
    def rest(day: date) -> bool:
        return not calendar.is_working_day(day)

    return rest


# --------------------------------------------------------------------------- reasons


def routine_reason(
    state: ResidentState,
    chosen: Plan,
    now: datetime,
    unanswered: int,
    calendar: WorkingCalendar,
) -> str:
    """Why the routine rule opened the alert, in words staff read on the board."""
    routine = state.routine
    zone = calendar.zone
    since = format_time(chosen.basis, calendar.tz)
    hours = max(1, round((now - chosen.basis).total_seconds() / 3600))
    if chosen.own_only:
        text = (
            f"움직임·음악 같은 신호는 있지만 어르신 본인의 활동(말소리·전화·출입)이 "
            f"{since} 이후 {hours}시간째 없습니다."
        )
    elif asleep_at(routine, chosen.basis, zone) and routine.wake is not None:
        usual = _clock_words(routine.wake)
        until = f"{now.astimezone(zone):%H:%M}"
        text = f"평소 {usual} 전후에 첫 활동이 있는데 오늘은 {until}까지 활동이 없습니다."
    else:
        busy = _busiest_hours(state, chosen.basis, now, calendar)
        text = (
            f"평소 {busy}에는 거의 매일 활동이 있는데 {since} 이후 {hours}시간째 활동이 없습니다."
            if busy
            else f"{since} 이후 {hours}시간째 활동이 없습니다(평소보다 깁니다)."
        )
    if unanswered:
        text += f" 안부 확인 {unanswered}회에 응답이 없었습니다."
    return text


def fixed_reason(basis: datetime, after: timedelta, tz: str) -> str:
    """The fixed rule's reason: how long, since when."""
    hours = round(after.total_seconds() / 3600)
    return f"{format_time(basis, tz)} 이후 {hours}시간 동안 활동이 없습니다."


def _clock_words(minute: int) -> str:
    """A time of day as people say it, to the half hour: ``오전 6시 반``, ``오후 2시``."""
    halves = round(minute / 30) % 48
    hour, half = divmod(halves, 2)
    part = "오전" if hour < 12 else "오후"
    shown = hour if hour <= 12 else hour - 12
    return f"{part} {shown}시" + (" 반" if half else "")


def _busiest_hours(
    state: ResidentState, start: datetime, end: datetime, calendar: WorkingCalendar
) -> str:
    """The usual hours in the silence with the most activity, as ``오전 7시~9시``."""
    zone = calendar.zone
    rest = _rest_day(calendar)
    best: list[int] = []
    cursor = start.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    before = 0.0
    while cursor < end and len(best) < 48:
        nxt = cursor + timedelta(hours=1)
        # Differences of the silence's running surprise: surprise() never counts the hour a
        # silence begins in, so an hour measured on its own would always come out as zero.
        upto = surprise(state.routine, start, min(nxt, end), zone, rest)
        if upto - before >= 1.0:
            best.append(cursor.hour)
        before, cursor = upto, nxt
    if not best:
        return ""
    first, last = best[0], (best[-1] + 1) % 24
    if len(best) >= 12:
        return "하루 중 여러 시간대"
    begins, ends = _clock_words(first * 60), _clock_words(last * 60)
    if begins[:2] == ends[:2]:  # the same half of the day: "오전 7시~9시"
        ends = ends[3:]
    return f"{begins}~{ends}"


def is_own(source: str) -> bool:
    """Whether a signal can only come from the resident (see :data:`OWN_SOURCES`)."""
    return source in OWN_SOURCES
