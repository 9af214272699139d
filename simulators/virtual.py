"""A discrete-event, virtual-time run of simulated households through the real escalation core.

Owns the fleet run: :func:`run_household` replays one :class:`~simulators.model.Simulation`
through :meth:`alerts.engine.Escalation.decide`, merging three time-ordered sources in one
loop (the household's :class:`~simulators.model.SimEvent` stream, the core's ``next_due``
timer, and a small heap of things people do: the control centre acknowledging and closing an
emergency, a guardian setting away mode for a hospital stay). It records every
``OpenAlert``/``ChangeStage``/``Notify``/``QueueDigest``/``ResolveAlert`` with its virtual
time and then scores the alerts against the model's ground truth: which incidents were
detected and how fast, which alerts no incident explains (false alarms), and whether an
official was ever paged outside working hours (the core must route those to the digest).

Also owns the fleet population (:func:`population`: ``random_household`` plus seeded
incidents, so every policy in a what-if sees the very same residents and incidents) and
:func:`run_fleet`, which spreads households over worker processes and keeps the results in
household order, so the figures depend only on the seed.

Heartbeats are *not* expanded: each model span becomes one ``Heartbeat`` whose
``interval_s`` is stretched so the core's offline timer (``device_offline_after_heartbeats``
missed intervals after the span start) falls exactly where it would with single beats, at
the span's last beat + ``missed x 300 s``. See :func:`_span_heartbeat` for why that is safe.
Activity is coalesced while no alert is open and every device is online (:func:`_quiet`):
only each device's latest signal before the next timer or other input reaches the core,
which gives the same alerts (a test compares) with ~6x fewer ``decide`` calls.
"""

from __future__ import annotations

import heapq
import itertools
import math
import os
import random
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from alerts.actions import (
    Action,
    ChangeStage,
    Notify,
    OpenAlert,
    QueueDigest,
    ResolveAlert,
    SendCheckin,
)
from alerts.calendar import WorkingCalendar
from alerts.engine import Escalation
from alerts.inputs import (
    Acknowledge,
    Activity,
    CheckinAnswer,
    DeviceKind,
    DeviceStatus,
    Emergency,
    Heartbeat,
    Input,
    RegisterDevice,
    Resolve,
    Tick,
)
from alerts.policy import DEFAULT_POLICY, Policy
from alerts.state import ResidentState
from simulators.model import (
    DEVICE_MIXES,
    HEARTBEAT_S,
    KST,
    Household,
    Incident,
    SimEvent,
    Simulation,
    random_household,
    simulate,
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
    "population",
    "run_fleet",
    "run_household",
]

DEFAULT_START = date(2026, 11, 2)
"""A Monday in Asia/Seoul; fixed so a seed names one set of figures (weekends, holidays)."""

DETECTABLE = ("fall", "emergency_call", "emergency_then_cancel", "slow_decline")
"""Incidents someone should be told about; time to detect is measured for these."""

# Incidents after which the resident is fine: an alert during one is a false alarm, but the
# report names the cause so a policy's noise can be told apart from its blind spots.
_BENIGN = ("hospital_stay", "phone_left_at_home")
# Device faults: they explain a monitoring_lost alert, nothing else.
_DEVICE_FAULTS = ("speaker_unplugged", "battery", "wifi_drop", "power_cut")
# Who counts as "told" for time to detect: the people who can go and look.
_RESPONDERS = ("guardian", "control_center")


@dataclass(frozen=True, slots=True)
class Responders:
    """How fast people act on alerts in the simulation.

    Without a centre that acknowledges, an emergency re-alerts every ``emergency_ack_within``
    for the rest of the run; real centres answer within a minute or two and close the alert
    once they have spoken to the resident.
    """

    centre_ack_after: timedelta = timedelta(seconds=45)
    centre_resolve_after: timedelta = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class IncidentRates:
    """Chance per household-month of each incident kind in the fleet population.

    At most one incident per household, so each alert has one candidate explanation.
    """

    fall: float = 0.06
    emergency_call: float = 0.03
    emergency_then_cancel: float = 0.06
    hospital_stay: float = 0.03
    phone_left_at_home: float = 0.06
    speaker_unplugged: float = 0.03
    slow_decline: float = 0.01


@dataclass(slots=True)
class AlertRecord:
    """One alert the core opened, and what happened to it, in virtual time."""

    alert_id: str
    kind: str
    reason: str
    opened_at: datetime
    told: dict[str, datetime] = field(default_factory=dict)
    """Role -> first time that role was told (an official's digest counts at delivery)."""
    stages: list[tuple[str, datetime]] = field(default_factory=list)
    pages: list[tuple[str, datetime]] = field(default_factory=list)
    """Every Notify to a person, (role, when): time to detect looks past the first."""
    resolved_at: datetime | None = None
    resolved_reason: str | None = None
    explained_by: str | None = None
    """The ground-truth incident kind behind it; None means a false alarm from routine."""
    false_alarm: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "kind": self.kind,
            "reason": self.reason,
            "opened_at": _iso(self.opened_at),
            "told": {role: _iso(at) for role, at in sorted(self.told.items())},
            "stages": [[stage, _iso(at)] for stage, at in self.stages],
            "resolved_at": None if self.resolved_at is None else _iso(self.resolved_at),
            "resolved_reason": self.resolved_reason,
            "explained_by": self.explained_by,
            "false_alarm": self.false_alarm,
        }


@dataclass(frozen=True, slots=True)
class IncidentOutcome:
    """A ground-truth incident and whether (and how fast) a responder was told."""

    kind: str
    start: datetime
    end: datetime | None
    detected: bool
    time_to_detect_s: float | None
    alert_id: str | None
    under_open_alert: bool = False
    """An alert of a matching kind was already open when the incident began."""

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "start": _iso(self.start),
            "end": None if self.end is None else _iso(self.end),
            "detected": self.detected,
            "time_to_detect_s": self.time_to_detect_s,
            "alert_id": self.alert_id,
            "under_open_alert": self.under_open_alert,
        }


@dataclass(slots=True)
class HouseholdResult:
    """Everything one household's run produced, already scored against the ground truth."""

    resident: str
    devices: str
    alerts: list[AlertRecord]
    incidents: list[IncidentOutcome]
    official_pages_out_of_hours: int
    decide_calls: int
    sim_events: int
    checkins_answered: int = 0

    @property
    def false_alarms(self) -> list[AlertRecord]:
        return [a for a in self.alerts if a.false_alarm]

    def to_json(self) -> dict[str, Any]:
        return {
            "resident": self.resident,
            "devices": self.devices,
            "alerts": [a.to_json() for a in self.alerts],
            "incidents": [i.to_json() for i in self.incidents],
            "false_alarms": len(self.false_alarms),
            "official_pages_out_of_hours": self.official_pages_out_of_hours,
            "decide_calls": self.decide_calls,
            "sim_events": self.sim_events,
            "checkins_answered": self.checkins_answered,
        }


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
        spec["detected"] = "sensors" in have and rng.random() < 0.3
    elif kind == "hospital_stay":
        spec["duration"] = f"P{rng.randint(2, 6)}D"
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
    """
    run = _Run(sim, policy, engine or Escalation(WorkingCalendar()), responders or Responders())
    run.loop(coalesce)
    return _household_result(run, policy)


def _household_result(run: _Run, policy: Policy) -> HouseholdResult:
    sim = run.sim
    records = sorted(run.alerts.values(), key=lambda a: (a.opened_at, a.alert_id))
    return HouseholdResult(
        resident=sim.household.resident,
        devices=sim.household.devices,
        alerts=records,
        incidents=_score(records, sim.ground_truth, sim, policy),
        official_pages_out_of_hours=run.out_of_hours,
        decide_calls=run.calls,
        sim_events=run.n_events,
        checkins_answered=run.answered,
    )


# A person's action: (when, tie-break, input; or None with away_until = a policy change).
_PeopleItem = tuple[datetime, int, Input | None, datetime | None]


class _Run:
    """One household's run in progress: the core's state, its timer and what it said."""

    def __init__(
        self, sim: Simulation, policy: Policy, engine: Escalation, responders: Responders
    ) -> None:
        self.sim = sim
        self.engine = engine
        self.responders = responders
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
        self.seq = itertools.count()
        self.people: list[_PeopleItem] = []
        # Activity held back while it can only move the inactivity basis (see _quiet):
        # device -> (delivery time of its latest signal, latest device-clock time, source).
        self.held: dict[str, tuple[datetime, datetime, str]] = {}
        for inc in sim.ground_truth:
            if inc.kind == "hospital_stay" and inc.away_until is not None:
                # The guardian sets away mode as the stay begins; the hub applies a policy
                # change to the stored state, not through decide.
                self.later(inc.start, None, inc.away_until)

    def later(self, at: datetime, inp: Input | None, away_until: datetime | None = None) -> None:
        heapq.heappush(self.people, (at, next(self.seq), inp, away_until))

    def loop(self, coalesce: bool) -> None:
        for dev in DEVICE_MIXES[self.sim.household.devices]:
            self.decide(RegisterDevice(dev, _DEVICE_KIND[dev]), self.t0)
        events: Iterator[SimEvent] = iter(self.sim.events())
        ev = next(events, None)
        while True:
            t_ev = ev.at if ev is not None else None
            t_people = self.people[0][0] if self.people else None
            now = min(
                (t for t in (t_ev, t_people, self.next_due) if t is not None and t < self.t_end),
                default=None,
            )
            if now is None:
                break
            if ev is not None and t_ev == now:
                self.n_events += 1
                if coalesce and ev.kind == "activity" and _quiet(self.state):
                    self.hold(ev)
                else:
                    self.flush()
                    self.feed(ev, now)
                ev = next(events, None)
            elif self.held:
                self.flush()  # it can move next_due, so choose the next step again
            elif t_people == now:
                _, _, inp, away_until = heapq.heappop(self.people)
                if inp is None:
                    self.set_away(away_until, now)
                else:
                    self.decide(inp, now)
            else:
                self.decide(Tick(), now)
        self.flush()

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
        for device in checkin.devices:
            at = self.sim.checkin_answer(device, now)
            if at is not None and at < checkin.expires_at:
                self.later(at, CheckinAnswer(device, at, checkin.request_id, answered=True))
                self.answered += 1
                return

    def hold(self, ev: SimEvent) -> None:
        prev = self.held.get(ev.device)
        ts = ev.device_ts if prev is None else max(prev[1], ev.device_ts)
        self.held[ev.device] = (ev.at, ts, ev.source or "unknown")

    def flush(self) -> None:
        # Each device's latest signal, at its own delivery time: the core ends up in the
        # state it would reach from every signal one by one.
        for dev, (at, ts, source) in sorted(self.held.items(), key=lambda kv: kv[1][0]):
            self.decide(Activity(dev, ts, source), at)
        self.held.clear()

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
        if isinstance(action, OpenAlert):
            self.alerts[action.alert_id] = AlertRecord(
                action.alert_id, action.kind, action.reason, now, stages=[(action.stage, now)]
            )
            if action.kind == "emergency":
                who = "sim-centre"
                ack = Acknowledge(action.alert_id, who, "control_center")
                self.later(now + self.responders.centre_ack_after, ack)
                done = Resolve(action.alert_id, who, "resolved_by_phone")
                self.later(now + self.responders.centre_resolve_after, done)
            return
        rec = self.alerts.get(getattr(action, "alert_id", ""))
        if rec is None:
            return
        if isinstance(action, Notify):
            rec.told.setdefault(action.role, now)
            rec.pages.append((action.role, now))
            if action.role == "official" and not self.engine.calendar.is_working_time(now):
                self.out_of_hours += 1
        elif isinstance(action, QueueDigest):
            rec.told.setdefault(action.role, action.deliver_at)
        elif isinstance(action, ChangeStage):
            rec.stages.append((action.stage, now))
        elif isinstance(action, ResolveAlert) and rec.resolved_at is None:
            rec.resolved_at = now
            rec.resolved_reason = action.reason


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
        return Activity(ev.device, ev.device_ts, ev.source or "unknown")
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


# ------------------------------------------------------------------------------ scoring


def _score(
    alerts: list[AlertRecord], truth: Sequence[Incident], sim: Simulation, policy: Policy
) -> list[IncidentOutcome]:
    """Match alerts to incidents; mark the rest as false alarms; time each detection.

    An alert is explained by an incident when it opens inside the incident's window: from
    its start to its end plus ``control_center_after`` (an inactivity alert counts T from
    the last activity, which comes before a fall, so it can open long after the fall ended
    only in that window). Emergency alerts match emergency incidents and detected falls;
    inactivity alerts match falls and slow decline; monitoring_lost alerts match device faults.
    Time to detect runs from the incident's start to the first page of a guardian or the
    control centre about a matching alert, sent at or after that start.
    """
    grace = policy.control_center_after
    end_of_run = datetime.combine(sim.start, time(0), KST).astimezone(UTC) + timedelta(
        days=sim.days
    )
    wants = {
        "emergency": {"fall", "emergency_call", "emergency_then_cancel"},
        "inactivity": {"fall", "slow_decline", *_BENIGN},
        "monitoring_lost": {*_DEVICE_FAULTS, "hospital_stay"},
    }

    def window(inc: Incident) -> tuple[datetime, datetime]:
        end = inc.end or end_of_run
        return inc.start, end + grace

    for alert in alerts:
        for inc in truth:
            lo, hi = window(inc)
            if inc.kind in wants.get(alert.kind, set()) and lo <= alert.opened_at <= hi:
                alert.explained_by = inc.kind
                break
        alert.false_alarm = alert.explained_by is None or alert.explained_by in _BENIGN

    outcomes = []
    for inc in truth:
        if inc.kind not in DETECTABLE:
            continue
        lo, hi = window(inc)
        # Besides alerts opened in the window, an alert already open when the incident
        # began (a false alarm the night before a fall) covers it too: the core keeps one
        # inactivity alert at a time, so its later escalation is what reaches people.
        covering = [
            a
            for a in alerts
            if inc.kind in wants.get(a.kind, set())
            and a.opened_at <= hi
            and (a.opened_at >= lo or a.resolved_at is None or a.resolved_at > lo)
        ]
        pages = [
            (at, a.alert_id)
            for a in covering
            for role, at in a.pages
            if role in _RESPONDERS and at >= lo
        ]
        first = min(pages, default=None)
        already = any(a.opened_at < lo for a in covering)
        outcomes.append(
            IncidentOutcome(
                kind=inc.kind,
                start=inc.start,
                end=inc.end,
                detected=first is not None,
                time_to_detect_s=None if first is None else (first[0] - lo).total_seconds(),
                alert_id=None if first is None else first[1],
                under_open_alert=already,
            )
        )
    return outcomes


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
