"""A discrete-event, virtual-time run of simulated households through the real escalation core.

Owns the fleet run: :func:`run_household` replays one :class:`~simulators.model.Simulation`
through :meth:`alerts.engine.Escalation.decide`, merging three time-ordered sources in one
loop (the household's :class:`~simulators.model.SimEvent` stream, the core's ``next_due``
timer, and what people do in reply, :class:`~simulators.people.People`: the centre working
emergencies and inactivity alerts, guardians phoning and visiting, away mode set for an
announced hospital stay). It records every alert, page, check-in and trend finding with its
virtual time and scores them against the model's ground truth (:mod:`simulators.scoring`).

Also owns the fleet population (:func:`population`: ``random_household`` plus seeded
incidents, so every policy in a what-if sees the very same residents and incidents) and
:func:`run_fleet`, which spreads households over worker processes and keeps the results in
household order, so the figures depend only on the seed.

Heartbeats are *not* expanded: each model span becomes one ``Heartbeat`` whose
``interval_s`` is stretched so the core's offline timer (``device_offline_after_heartbeats``
missed intervals after the span start) falls exactly where it would with single beats, at
the span's last beat + ``missed x 300 s``. See :func:`_span_heartbeat` for why that is safe.
Activity is coalesced while no alert is open and every device is online (:func:`_quiet`): a
batch's first signal is decided as it comes; the signals after it are held while they fall
in the same local hour with no half-hour gap and before the step that first signal left due,
and reach the core as each device and source's latest (the counts of the rest folded in).
That gives the same alerts and the same learned routine (a test compares, under both rules)
with fewer ``decide`` calls.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from alerts.actions import (
    Action,
    ChangeStage,
    NoteTrend,
    Notify,
    OpenAlert,
    QueueDigest,
    ResolveAlert,
    SendCheckin,
)
from alerts.calendar import WorkingCalendar
from alerts.engine import Escalation
from alerts.inputs import (
    Activity,
    CheckinAnswer,
    DeviceStatus,
    Emergency,
    Heartbeat,
    Input,
    RegisterDevice,
    Tick,
)
from alerts.policy import DEFAULT_POLICY, Policy
from alerts.state import ResidentState
from alerts.timers import judged
from alerts.unattended import judged as unattended_judged
from protocol.vocab import DeviceKind
from simulators.model import (
    DEVICE_MIXES,
    HEARTBEAT_S,
    KST,
    Household,
    SimEvent,
    Simulation,
    random_household,
    simulate,
)
from simulators.people import People, Responders
from simulators.scoring import (
    DETECTABLE,
    AlertRecord,
    HouseholdResult,
    IncidentOutcome,
    score,
)

__all__ = [
    "DEFAULT_START",
    "DETECTABLE",
    "AlertRecord",
    "FleetResult",
    "HouseholdResult",
    "IncidentOutcome",
    "IncidentRates",
    "Responders",
    "fleet_summary",
    "household_result",
    "population",
    "run_fleet",
    "run_household",
]

DEFAULT_START = date(2026, 12, 7)
"""A Monday in Asia/Seoul; fixed so a seed names one set of figures. A 30-day run holds two
public holidays (Christmas, New Year's Day), lived like Sundays."""


@dataclass(frozen=True, slots=True)
class IncidentRates:
    """Chance per household-month of each incident kind in the fleet population.

    At most one incident per household, so each alert has one candidate explanation.
    """

    fall: float = 0.06
    emergency_call: float = 0.03
    emergency_then_cancel: float = 0.06
    hospital_stay: float = 0.03
    nights_away: float = 0.05
    phone_left_at_home: float = 0.04
    speaker_unplugged: float = 0.03
    slow_decline: float = 0.01


@dataclass(slots=True)
class FleetResult:
    """A whole fleet run under one policy."""

    households: list[HouseholdResult]
    days: int
    start: date
    seed: int

    @property
    def household_months(self) -> float:
        return len(self.households) * self.days / 30


# --------------------------------------------------------------------------- population


def population(
    households: int,
    days: int,
    seed: int,
    rates: IncidentRates | None = None,
) -> list[Household]:
    """The fleet: ``random_household`` (device mix, routine, faults) plus at most one incident.

    Seeded per resident, like the model, so household 7 is the same whatever the fleet size.
    Incidents start no later than two days before the end (when the run is long enough) so an
    inactivity alert has time to fire: otherwise a late fall would count as missed by every
    policy and hide the difference between them.
    """
    rates = rates or IncidentRates()
    out = []
    for n in range(households):
        resident = f"r{n:05d}"
        base = random_household(resident, seed, days)
        rng = random.Random(f"anbu-virtual:{seed}:{resident}")
        incident = _draw_incident(rng, base, days, rates)
        if incident is not None:
            base = Household.model_validate({**base.model_dump(), "incidents": [incident]})
        out.append(base)
    return out


def _draw_incident(
    rng: random.Random, hh: Household, days: int, rates: IncidentRates
) -> dict[str, Any] | None:
    months = days / 30
    kinds = [(name, getattr(rates, name) * months) for name in IncidentRates.__dataclass_fields__]
    pick = rng.random()
    kind = None
    for name, p in kinds:
        if pick < p:
            kind = name
            break
        pick -= p
    if kind is None:
        return None
    have = DEVICE_MIXES[hh.devices]
    if kind == "speaker_unplugged" and "speaker" not in have:
        return None
    last_day = max(1, days - 2)
    minute = int(rng.uniform(7 * 60, 21 * 60)) if kind != "fall" else int(rng.uniform(0, 1440))
    spec: dict[str, Any] = {
        "kind": kind,
        "day": rng.randint(1, last_day),
        "at": time(minute // 60, minute % 60).isoformat(timespec="minutes"),
    }
    if kind == "fall":
        # Half lie until the run ends; the rest are found by someone after a few hours to
        # a day and a half, which is what makes a shorter guardian_after matter.
        if rng.random() < 0.5:
            spec["duration"] = f"PT{rng.randint(4, 36)}H"
        spec["detected"] = hh.devices in ("sensors", "all") and rng.random() < 0.3
    elif kind == "hospital_stay":
        spec["duration"] = f"P{rng.randint(2, 6)}D"
        # Half the time nobody tells the hub: no away mode.
        spec["announced"] = rng.random() < 0.5
    elif kind == "nights_away":
        spec["at"] = f"{rng.randint(13, 18):02d}:00"
        spec["duration"] = f"PT{rng.randint(1, 3) * 24 - rng.randint(0, 6)}H"
    elif kind == "phone_left_at_home":
        spec["duration"] = f"PT{rng.randint(6, 20)}H"
    elif kind == "speaker_unplugged":
        spec["duration"] = f"PT{rng.randint(2, 48)}H"
    return spec


# ------------------------------------------------------------------------------ running


_DEVICE_KIND: dict[str, DeviceKind] = {"speaker": "speaker", "phone": "phone", "sensors": "sensors"}


def run_household(
    sim: Simulation,
    policy: Policy = DEFAULT_POLICY,
    engine: Escalation | None = None,
    responders: Responders | None = None,
    coalesce: bool = True,
) -> HouseholdResult:
    """Drive one simulated household through the core from its first to its last second.

    Each step takes the earliest of: the next device event, the next people's action, and
    the core's ``next_due`` (fed as ``Tick``). On a tie the input goes first: ``decide``
    applies it and then fires whatever is due at that same ``now``, as the hub would.
    ``coalesce=False`` feeds every activity signal on its own (slow; the tests compare).
    The run stops early when people find the resident unable to get up (a rescue).
    """
    run = _Run(sim, policy, engine or Escalation(WorkingCalendar()), responders or Responders())
    run.loop(coalesce)
    return household_result(run, policy)


def household_result(run: _Run, policy: Policy) -> HouseholdResult:
    """The scored result of a finished run."""
    sim = run.sim
    for alert_id, at in run.people.checked.items():
        record = run.alerts.get(alert_id)
        if record is not None:
            record.checked_at = at
    records = sorted(run.alerts.values(), key=lambda a: (a.opened_at, a.alert_id))
    return HouseholdResult(
        resident=sim.household.resident,
        devices=sim.household.devices,
        alerts=records,
        incidents=score(records, sim.ground_truth, sim, policy),
        official_pages_out_of_hours=run.out_of_hours,
        decide_calls=run.calls,
        sim_events=run.n_events,
        checkins_answered=run.answered,
        checkins=run.checkins,
        guardian_sms=run.guardian_sms,
        trends=run.trends,
        rescued_at=run.people.rescued_at,
    )


# Held activity of one (device, source) within a batch: its latest delivery and device time,
# and the count of its signals other than the batch's first.
_Held = list[Any]
_FOLD_GAP = timedelta(minutes=30)


class _Run:
    """One household's run in progress: the core's state, its timer and what it said."""

    def __init__(
        self, sim: Simulation, policy: Policy, engine: Escalation, responders: Responders
    ) -> None:
        self.sim = sim
        self.engine = engine
        self.t0 = datetime.combine(sim.start, time(0), KST).astimezone(UTC)
        self.t_end = self.t0 + timedelta(days=sim.days)
        self.state = ResidentState.new(sim.household.resident, policy, self.t0)
        self.missed = policy.device_offline_after_heartbeats
        self.next_due: datetime | None = None
        self.alerts: dict[str, AlertRecord] = {}
        self.out_of_hours = 0
        self.calls = 0
        self.n_events = 0
        self.answered = 0
        self.checkins: list[datetime] = []
        self.guardian_sms: list[tuple[datetime, bool]] = []
        self.held_sms: dict[str, list[datetime]] = {}
        self.trends: list[tuple[datetime, str]] = []
        self.people = People(sim, responders)
        # (device, source) -> [latest delivery, latest device time, count but the first's]
        self.held: dict[tuple[str, str], _Held] = {}
        self.batch_open = False
        self.held_hour: int | None = None
        self.held_latest = self.t0
        for inc in sim.ground_truth:
            if inc.kind == "hospital_stay" and inc.away_until is not None:
                # The guardian sets away mode as the stay begins; the hub applies a policy
                # change to the stored state, not through decide.
                self.people.later(inc.start, None, inc.away_until)

    def loop(self, coalesce: bool) -> None:
        for dev in DEVICE_MIXES[self.sim.household.devices]:
            self.decide(RegisterDevice(dev, _DEVICE_KIND[dev]), self.t0)
        events: Iterator[SimEvent] = iter(self.sim.events())
        ev = next(events, None)
        while self.people.rescued_at is None:
            t_ev = ev.at if ev is not None else None
            t_people = self.people.next_at()
            now = min(
                (t for t in (t_ev, t_people, self.next_due) if t is not None and t < self.t_end),
                default=None,
            )
            if now is None:
                break
            if ev is not None and t_ev == now:
                if self.take(ev, now, coalesce):
                    ev = next(events, None)
            elif self.batch_open:
                self.flush()  # a step or an action comes first: what is held goes in now
            elif t_people == now:
                _, _, inp, away_until = self.people.pop()
                if inp is None:
                    self.set_away(away_until, now)
                elif self._open(inp):
                    self.decide(inp, now)
                    self.people.resolved(inp, now)
            else:
                self.decide(Tick(), now)
        self.flush()

    def take(self, ev: SimEvent, now: datetime, coalesce: bool) -> bool:
        """Feed, hold or start a batch with a device event; False when what is held had to
        be decided first (it may move the next step), and the loop must choose again."""
        quiet = (
            coalesce
            and ev.kind == "activity"
            and _quiet(self.state)
            and not _opens_appliance_day(self.state, ev)
        )
        if self.batch_open and not (quiet and self.joins(ev)):
            self.flush()
            return False
        self.n_events += 1
        if not quiet:
            self.feed(ev, now)
        elif self.batch_open:
            self.hold(ev)
        else:
            self.open_batch(ev, now)
        return True

    def _open(self, inp: Input) -> bool:
        """People act on alerts that are still open (activity may have closed one)."""
        alert_id = getattr(inp, "alert_id", None)
        return alert_id is None or alert_id in self.state.alerts

    def feed(self, ev: SimEvent, now: datetime) -> None:
        """A device event, as it arrives."""
        self.decide(_to_input(ev, self.missed), now)

    def set_away(self, away_until: datetime | None, now: datetime) -> None:
        """A guardian sets away mode: the hub changes the stored policy, not through decide."""
        policy = self.state.policy.with_overrides({"away_until": away_until})
        self.state = self.state.model_copy(update={"policy": policy})
        self.decide(Tick(), now)  # the new policy moves next_due (away ends)

    def answer(self, checkin: SendCheckin, now: datetime) -> None:
        """The resident may answer the first speaker that asks (the model decides)."""
        self.checkins.append(now)
        for device in checkin.devices:
            at = self.sim.checkin_answer(device, now)
            if at is not None and at < checkin.expires_at:
                self.people.later(at, CheckinAnswer(device, at, checkin.request_id, answered=True))
                self.answered += 1
                return

    def joins(self, ev: SimEvent) -> bool:
        """Whether ``ev`` may be held in the open batch: the same local hour, no half-hour gap
        (so folding changes nothing the routine learns: hour bits, counts per part of the
        day; the gaps it scores are all between batches), and before the next step that the
        batch's first signal left due (so no step that signal planned is passed over)."""
        return (
            int(ev.device_ts.timestamp()) // 3600 == self.held_hour
            and ev.device_ts - self.held_latest < _FOLD_GAP
            and (self.next_due is None or ev.at < self.next_due)
        )

    def open_batch(self, ev: SimEvent, now: datetime) -> None:
        """Decide a batch's first signal as it comes (the gap before it is what the routine
        scores, and it plans the next step); later ones are held while they join."""
        self.feed(ev, now)
        self.batch_open = True
        self.held_hour = int(ev.device_ts.timestamp()) // 3600
        self.held_latest = ev.device_ts

    def hold(self, ev: SimEvent) -> None:
        self.held_latest = max(self.held_latest, ev.device_ts)
        key = (ev.device, ev.source or "other")
        held = self.held.get(key)
        if held is None:
            self.held[key] = [ev.at, ev.device_ts, ev.count]
        else:
            held[0], held[1] = ev.at, max(held[1], ev.device_ts)
            held[2] += ev.count

    def flush(self) -> None:
        """Close the batch: each device and source's latest signal, carrying the counts of
        the rest, in the order they came."""
        feed = [
            (at, n, Activity(dev, ts, source, max(count, 1)))
            for n, ((dev, source), (at, ts, count)) in enumerate(self.held.items())
        ]
        self.held.clear()
        self.batch_open = False
        for at, _, activity in sorted(feed, key=lambda item: (item[0], item[1])):
            self.decide(activity, at)

    def decide(self, event: Input, now: datetime) -> None:
        self.calls += 1
        decision = self.engine.decide(self.state, event, now)
        self.state = decision.state
        self.next_due = decision.next_due
        for action in decision.actions:
            self.record(action, now)

    def record(self, action: Action, now: datetime) -> None:
        if isinstance(action, SendCheckin):
            self.answer(action, now)
            return
        if isinstance(action, NoteTrend):
            self.trends.append((now, action.kind))
            return
        if isinstance(action, Notify) and action.not_before is not None:
            now = max(now, action.not_before)  # held for the guardians' night: it goes then
        self.people.seen(action, now)
        if isinstance(action, OpenAlert):
            # The same silence may open again (same id) once its alert was worked: its SMS,
            # held or not, belong to the record before.
            self.held_sms.pop(action.alert_id, None)
            self.alerts[action.alert_id] = AlertRecord(
                action.alert_id,
                action.kind,
                action.reason,
                now,
                stages=[(action.stage, now)],
                explanation=action.explanation,
            )
            return
        rec = self.alerts.get(getattr(action, "alert_id", ""))
        if rec is None:
            return
        if isinstance(action, Notify):
            self.record_notify(rec, action, now)
        elif isinstance(action, QueueDigest):
            rec.told.setdefault(action.role, action.deliver_at)
        elif isinstance(action, ChangeStage):
            rec.stages.append((action.stage, now))
        elif isinstance(action, ResolveAlert) and rec.resolved_at is None:
            rec.resolved_at = now
            rec.resolved_reason = action.reason
            self.settle_held(rec, now, action.resident_fine)

    def record_notify(self, rec: AlertRecord, action: Notify, now: datetime) -> None:
        """A page as the hub sends it (``now``: when it goes, after any hold)."""
        resumed = action.message == "activity_resumed" and action.role == "guardian"
        if resumed and not any(role == "guardian" for role, _ in rec.pages):
            return  # the hub sends no all-clear to a guardian never told
        rec.told.setdefault(action.role, now)
        rec.pages.append((action.role, now))
        if action.role == "guardian":
            self.guardian_sms.append((now, action.kind == "emergency"))
            if action.not_before is not None:
                self.held_sms.setdefault(action.alert_id, []).append(now)
        if action.role == "official" and not self.engine.calendar.is_working_time(now):
            self.out_of_hours += 1

    def settle_held(self, rec: AlertRecord, now: datetime, fine: bool) -> None:
        """As the hub does when an alert ends: a guardian's SMS still held for the night is
        withdrawn if the resident was found well, and sent now otherwise."""
        later = [at for at in self.held_sms.pop(rec.alert_id, []) if at > now]
        for at in later:
            self.guardian_sms.remove((at, False))
            rec.pages.remove(("guardian", at))
            if not fine:
                self.guardian_sms.append((now, False))
                rec.pages.append(("guardian", now))
        if later and rec.told.get("guardian", now) > now:
            if fine:
                del rec.told["guardian"]
            else:
                rec.told["guardian"] = now


def _opens_appliance_day(state: ResidentState, ev: SimEvent) -> bool:
    """Whether the routine rule judges ``ev`` as a possible timer (alerts.timers) or an
    appliance nobody attends (alerts.unattended): such a signal goes in as it came, never
    folded, after the motion held before it."""
    rule = state.policy.inactivity_rule
    source = ev.source or "other"
    return judged(state.timers, rule, ev.device, source, ev.device_ts, KST) or (
        unattended_judged(rule, source, state.last_motion_at)
    )


def _quiet(state: ResidentState) -> bool:
    """Whether activity now would do nothing but move the inactivity basis and "last seen".

    True with no open alert (nothing to resolve) and every device online (nothing to mark
    back online, no monitoring_lost to close). Then a run of activity signals with no timer,
    other event or person in between can be fed as each device's latest signal alone: the
    core calls drop from ~35 to a few per household-day, which is what makes a 1,000 x 30
    fleet fit in a minute (one decide costs ~0.1 ms).
    """
    return not state.alerts and all(dev.online for dev in state.devices.values())


def _to_input(ev: SimEvent, missed: int) -> Input:
    if ev.kind == "activity":
        return Activity(ev.device, ev.device_ts, ev.source or "other", ev.count)
    if ev.kind == "heartbeat":
        return Heartbeat(ev.device, ev.at, _span_heartbeat(ev, missed))
    if ev.kind == "status":
        return DeviceStatus(ev.device, ev.at, online=ev.state == "online")
    return Emergency(ev.device, ev.device_ts, ev.id or "", ev.trigger or "", ev.cancel_of)


def _span_heartbeat(ev: SimEvent, missed: int) -> int:
    """The ``interval_s`` that makes one Heartbeat stand for a whole span.

    The core marks a device offline ``missed x interval_s`` after it was last seen. Single
    beats would put that at the span's last beat + ``missed x 300 s``; this interval puts it
    there too when nothing else is heard. Activity in between moves "last seen" later and
    so the (stretched) timer further out, but in the model every span that ends early ends
    with the device's Last Will (``status offline``), which the core takes at once, so the
    heartbeat timer is only the backstop it is in production. Spans also break at midnight
    and the next span's Heartbeat resets the interval, so the stretch never exceeds a day.
    """
    if ev.until is None or ev.interval_s is None:
        return HEARTBEAT_S
    span = (ev.until - ev.at).total_seconds()
    beats = max(1, math.ceil(span / ev.interval_s))
    last_beat = (beats - 1) * ev.interval_s
    return max(ev.interval_s, math.ceil((last_beat + missed * ev.interval_s) / missed))


# -------------------------------------------------------------------------------- fleet


_Chunk = tuple[list[Household], date, int, int, Policy, str | None]


def _run_chunk(args: _Chunk) -> list[HouseholdResult]:
    # A module-level function so a worker process can unpickle it; one engine per chunk
    # shares the calendar's holiday cache across that chunk's households.
    hhs, start, days, seed, policy, db_url = args
    engine = Escalation(WorkingCalendar())
    if db_url is not None:
        from simulators.stored import run_stored

        return run_stored(hhs, start, days, seed, policy, engine, db_url)
    return [run_household(simulate(hh, start, days, seed), policy, engine) for hh in hhs]


def run_fleet(
    households: Sequence[Household],
    days: int,
    seed: int,
    policy: Policy = DEFAULT_POLICY,
    start: date = DEFAULT_START,
    workers: int | None = None,
    store: Path | None = None,
) -> FleetResult:
    """Run every household under ``policy``; results come back in household order.

    Households are independent, so they are split into contiguous chunks over worker
    processes (``workers=None``: one per CPU; ``1``: in this process, as tests do).
    With ``store`` (a folder), each chunk runs through the hub's own ingest, state and
    outbox on a SQLite file there (:mod:`simulators.stored`) instead of the bare core.
    """
    workers = workers or os.cpu_count() or 1
    hhs = list(households)

    def db(n: int) -> str | None:
        return None if store is None else f"sqlite:///{store / f'chunk-{n:04d}.db'}"

    if store is not None:
        store.mkdir(parents=True, exist_ok=True)
    if workers <= 1 or len(hhs) < 2 * workers:
        results = _run_chunk((hhs, start, days, seed, policy, db(0)))
    else:
        # Several chunks per worker so a slow chunk (many alerts) does not idle the others.
        size = max(1, math.ceil(len(hhs) / (workers * 4)))
        chunks = [
            (hhs[i : i + size], start, days, seed, policy, db(n))
            for n, i in enumerate(range(0, len(hhs), size))
        ]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = [r for part in pool.map(_run_chunk, chunks) for r in part]
    return FleetResult(results, days, start, seed)


def fleet_summary(fleet: FleetResult) -> dict[str, Any]:
    """Counts for one fleet run: alerts by kind, incidents detected, false alarms, paging."""
    alerts_by_kind: dict[str, int] = {}
    for hh in fleet.households:
        for a in hh.alerts:
            alerts_by_kind[a.kind] = alerts_by_kind.get(a.kind, 0) + 1
    incidents: dict[str, dict[str, int]] = {}
    for hh in fleet.households:
        for inc in hh.incidents:
            row = incidents.setdefault(inc.kind, {"count": 0, "detected": 0})
            row["count"] += 1
            row["detected"] += int(inc.detected)
    return {
        "households": len(fleet.households),
        "days": fleet.days,
        "seed": fleet.seed,
        "start": fleet.start.isoformat(),
        "alerts_opened": dict(sorted(alerts_by_kind.items())),
        "incidents": dict(sorted(incidents.items())),
        "false_alarms": sum(len(hh.false_alarms) for hh in fleet.households),
        "official_pages_out_of_hours": sum(
            hh.official_pages_out_of_hours for hh in fleet.households
        ),
        "decide_calls": sum(hh.decide_calls for hh in fleet.households),
        "sim_events": sum(hh.sim_events for hh in fleet.households),
        "checkins_answered": sum(hh.checkins_answered for hh in fleet.households),
    }


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()
