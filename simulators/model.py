"""A seeded resident model: one household's device events over days, in virtual time.

This module owns the *behaviour* the fleet simulator replays: a resident's daily
:class:`Routine` (wake, meals, radio/TV, phone, senior-centre afternoons, sleep; weekdays
differ from weekends, and Korean public holidays are lived like Sundays), the household's
device mix, device faults (battery, Wi-Fi drop, power cut) and incidents (fall, emergency
call, hospital stay, …). :func:`simulate` turns a :class:`Household` into a time-ordered
iterator of :class:`SimEvent` plus the ground truth
(:class:`Incident` list) a what-if report measures detection times against.

Pure: stdlib + pydantic (and the protocol's literal types, and the core's cached holiday
table); no I/O, no wall clock. Every
random draw comes from one ``random.Random`` seeded with ``(seed, resident)``, so a household
is reproducible and independent of how many other households are generated beside it.

Volume and speed (designed for 1,000 households x 30 days in seconds, not minutes):

* Activity is folded like the edge outbox does, but coarser: at most one message per
  ``(device, source)`` per fixed 10-minute window (:data:`FOLD_S`), stamped with the window's
  latest signal and carrying ``count``. A household-day is ~10-30 messages for a speaker alone
  and ~100-150 with Zigbee sensors (motion dominates).
* Heartbeats are *spans*, not messages: one ``heartbeat`` event says "this device beat every
  ``interval_s`` from ``at`` until before ``until``". Spans break at local midnight and at every
  outage, so there are about one per device per day. :meth:`SimEvent.beats` and
  :func:`expand_heartbeats` turn them into single beats lazily for a consumer that needs them.
* Times are integer epoch seconds inside; ``datetime`` objects are made only for events that
  are yielded. Days are generated one at a time and sorted (a few hundred records), so memory
  stays flat however long the run.

Times are in Asia/Seoul. Korea has kept UTC+09:00 without daylight saving since 1988, so a
fixed offset is exact for any simulated date and needs no tz database.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alerts.calendar import public_holidays
from protocol.models import ActivitySource, DeviceState, EmergencyTrigger
from protocol.topics import ID_PATTERN

__all__ = [
    "DEVICE_MIXES",
    "FAULT_KINDS",
    "FOLD_S",
    "HEARTBEAT_S",
    "INCIDENT_KINDS",
    "KST",
    "Battery",
    "DeviceMix",
    "DeviceName",
    "EmergencyCall",
    "EmergencyThenCancel",
    "Fall",
    "FaultRates",
    "FaultSpec",
    "HospitalStay",
    "Household",
    "Incident",
    "IncidentSpec",
    "PhoneLeftAtHome",
    "PowerCut",
    "Routine",
    "SimEvent",
    "SimKind",
    "Simulation",
    "SlowDecline",
    "SpeakerUnplugged",
    "WifiDrop",
    "expand_heartbeats",
    "random_household",
    "simulate",
]

KST = timezone(timedelta(hours=9), "KST")
FOLD_S = 600
HEARTBEAT_S = 300
DAY_S = 86_400

DeviceMix = Literal["speaker", "speaker+phone", "sensors", "all"]
DeviceName = Literal["speaker", "phone", "sensors"]
SimKind = Literal["activity", "heartbeat", "emergency", "status"]

DEVICE_MIXES: dict[str, tuple[DeviceName, ...]] = {
    "speaker": ("speaker",),
    "speaker+phone": ("speaker", "phone"),
    # A 2G feature-phone user: the phone cannot run the app, so Zigbee sensors behind one
    # gateway device are the only signal.
    "sensors": ("sensors",),
    "all": ("speaker", "phone", "sensors"),
}
# The phone falls back to LTE, so a home Wi-Fi drop only silences these.
WIFI_DEVICES: tuple[DeviceName, ...] = ("speaker", "sensors")
INCIDENT_KINDS = (
    "fall",
    "emergency_call",
    "emergency_then_cancel",
    "hospital_stay",
    "phone_left_at_home",
    "speaker_unplugged",
    "slow_decline",
)
FAULT_KINDS = ("battery", "wifi_drop", "power_cut")
_FOREVER = 2**62


# --------------------------------------------------------------------------- routine


def _no_bare_numbers(value: Any) -> Any:
    # YAML 1.1 reads an unquoted 10:00 as the sexagesimal integer 600, which pydantic would
    # accept as 00:10; refusing numbers turns that silent shift into a clear error.
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"got the number {value}; write times quoted, e.g. '10:00'")
    return value


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def _clock(minutes: float) -> time:
    m = int(minutes) % (24 * 60)
    return time(m // 60, m % 60)


class Routine(BaseModel):
    """One resident's habits. Times are local (Asia/Seoul); each day jitters around them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    wake_weekday: time = time(6, 0)
    wake_weekend: time = time(6, 40)
    breakfast: time = time(7, 0)
    lunch: time = time(12, 0)
    dinner: time = time(18, 0)
    sleep: time = time(21, 30)
    jitter_min: float = Field(20, ge=0, le=120, description="std dev of daily wake/sleep shift")
    morning_radio: bool = Field(True, description="radio on the speaker after waking")
    afternoon_music: bool = Field(False, description="music on the speaker at 14:00-15:30")
    evening_tv: bool = Field(True, description="TV from after dinner to bedtime (power plug)")
    voice_per_day: float = Field(3.0, ge=0, le=50, description="spoken requests to the speaker")
    phone_checks_per_day: float = Field(8.0, ge=0, le=200, description="screen unlocks")
    calls_per_day: float = Field(1.5, ge=0, le=30, description="weekday mean; weekends x1.8")
    senior_centre_days: frozenset[Annotated[int, Field(ge=0, le=6)]] = Field(
        frozenset({0, 2, 4}),
        description="weekdays (Monday=0) spent at the 경로당 13:00-16:30, away from home",
    )
    night_trip_prob: float = Field(0.5, ge=0, le=1, description="bathroom trip around 03:00")
    sunday_outing_prob: float = Field(0.4, ge=0, le=1, description="church/market 09:30-12:30")
    market_prob: float = Field(0.25, ge=0, le=1, description="an afternoon errand, any day")

    _times = field_validator(
        "wake_weekday", "wake_weekend", "breakfast", "lunch", "dinner", "sleep", mode="before"
    )(_no_bare_numbers)

    @model_validator(mode="after")
    def _ordered(self) -> Routine:
        if not (max(self.wake_weekday, self.wake_weekend) < self.lunch < self.dinner < self.sleep):
            raise ValueError("need wake_weekday/wake_weekend < lunch < dinner < sleep")
        if self.sleep < time(19, 0):
            raise ValueError("sleep must be 19:00 or later (nights past midnight not modelled)")
        return self

    @classmethod
    def sample(cls, rng: random.Random) -> Routine:
        """A plausible routine for an older person living alone, drawn from ``rng``."""
        wake = min(max(rng.gauss(6 * 60, 40), 4 * 60 + 30), 8 * 60)
        visits = 0 if rng.random() < 0.5 else rng.randint(2, 5)
        return cls(
            wake_weekday=_clock(wake),
            wake_weekend=_clock(wake + rng.uniform(20, 70)),
            breakfast=_clock(wake + rng.uniform(30, 70)),
            lunch=_clock(rng.gauss(12 * 60, 15)),
            dinner=_clock(rng.gauss(18 * 60, 20)),
            sleep=_clock(min(max(rng.gauss(21 * 60 + 30, 40), 20 * 60), 23 * 60 + 30)),
            jitter_min=rng.uniform(10, 35),
            morning_radio=rng.random() < 0.7,
            afternoon_music=rng.random() < 0.4,
            evening_tv=rng.random() < 0.9,
            voice_per_day=rng.uniform(0.5, 6),
            phone_checks_per_day=rng.uniform(2, 15),
            calls_per_day=rng.uniform(0.3, 3),
            senior_centre_days=frozenset(rng.sample(range(5), visits)),
            night_trip_prob=rng.uniform(0.2, 0.9),
            sunday_outing_prob=rng.uniform(0, 0.7),
            market_prob=rng.uniform(0.1, 0.4),
        )


# ------------------------------------------------------------------ incidents and faults


class _When(BaseModel):
    """When something starts: a day of the run (1 = the start date) and a local time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    day: int = Field(ge=1, description="day of the run, 1-based")
    at: time = Field(description="local time (Asia/Seoul), quoted: '10:00'")

    _at = field_validator("at", mode="before")(_no_bare_numbers)


class Fall(_When):
    """The resident falls and lies still: no activity from any device from then on."""

    kind: Literal["fall"]
    duration: timedelta | None = Field(None, description="until found; none = rest of the run")
    detected: bool = Field(False, description="a fall sensor on the gateway raises an emergency")


class EmergencyCall(_When):
    """The resident asks for help (speaker: voice; else phone app; else gateway button)."""

    kind: Literal["emergency_call"]
    text: str = Field("살려줘", max_length=500)
    device: DeviceName | None = None


class EmergencyThenCancel(_When):
    """An emergency taken back shortly after (often a mis-heard wake word)."""

    kind: Literal["emergency_then_cancel"]
    cancel_after: timedelta = timedelta(seconds=30)
    text: str = Field("살려줘", max_length=500)
    device: DeviceName | None = None


class HospitalStay(_When):
    """Away from home; the hub should hold ``away_until`` (= start + duration)."""

    kind: Literal["hospital_stay"]
    duration: timedelta
    takes_phone: bool = Field(True, description="the phone goes along and stays in use")


class PhoneLeftAtHome(_When):
    """The resident is out (e.g. visiting family) and the phone stays at home unused."""

    kind: Literal["phone_left_at_home"]
    duration: timedelta


class SpeakerUnplugged(_When):
    """The speaker loses power (plug pulled for a heater); other devices carry on."""

    kind: Literal["speaker_unplugged"]
    duration: timedelta | None = Field(None, description="none = never plugged back in")


class SlowDecline(_When):
    """Activity fades over days: fewer signals, later rising, earlier bed, fewer outings."""

    kind: Literal["slow_decline"]
    over: timedelta = Field(timedelta(days=14), description="time to reach `floor`")
    floor: float = Field(0.3, gt=0, le=1, description="activity left at the end, 1 = none lost")


class Battery(_When):
    """A battery-powered device dies: no activity, no heartbeats, until replaced."""

    kind: Literal["battery"]
    device: DeviceName = "sensors"
    duration: timedelta | None = Field(None, description="until replaced; none = never")


class WifiDrop(_When):
    """Home Wi-Fi is down: devices buffer activity (sent on reconnect), heartbeats stop."""

    kind: Literal["wifi_drop"]
    duration: timedelta
    device: DeviceName | None = Field(None, description="none = every Wi-Fi device (not phone)")


class PowerCut(_When):
    """Mains power is off: every device is silent and nothing is buffered."""

    kind: Literal["power_cut"]
    duration: timedelta


IncidentSpec = Annotated[
    Fall
    | EmergencyCall
    | EmergencyThenCancel
    | HospitalStay
    | PhoneLeftAtHome
    | SpeakerUnplugged
    | SlowDecline,
    Field(discriminator="kind"),
]
FaultSpec = Annotated[Battery | WifiDrop | PowerCut, Field(discriminator="kind")]


class Household(BaseModel):
    """One resident, the devices they have, and what happens to them during the run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resident: str = Field(pattern=ID_PATTERN)
    devices: DeviceMix = "speaker"
    routine: Routine | None = Field(None, description="none = drawn from the seed")
    seed: int | None = Field(None, description="overrides the run's seed for this household")
    incidents: tuple[IncidentSpec, ...] = ()
    faults: tuple[FaultSpec, ...] = ()

    @model_validator(mode="after")
    def _devices_exist(self) -> Household:
        have = DEVICE_MIXES[self.devices]
        for spec in (*self.incidents, *self.faults):
            needs: str | None = getattr(spec, "device", None)
            if spec.kind == "speaker_unplugged":
                needs = "speaker"
            if isinstance(spec, Fall) and spec.detected:
                needs = "sensors"
            if needs is not None and needs not in have:
                raise ValueError(
                    f"{spec.kind} on day {spec.day} needs a {needs!r}, "
                    f"but devices {self.devices!r} has only {list(have)}"
                )
        return self


class FaultRates(BaseModel):
    """How often :func:`random_household` injects faults (expected events per day)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    wifi_drop_per_day: float = Field(0.02, ge=0, le=1)
    power_cut_per_day: float = Field(0.002, ge=0, le=1)
    battery_per_sensor_day: float = Field(1 / 365, ge=0, le=1)


# ------------------------------------------------------------------------------ output


class SimEvent(NamedTuple):
    """One thing the hub would receive from a device, at virtual time ``at`` (UTC).

    ``heartbeat`` events are spans: beats at ``at``, ``at + interval_s``, … strictly before
    ``until``. ``ts`` is set only when the device clock time differs from ``at`` (activity
    buffered through a Wi-Fi drop keeps its original time and arrives on reconnect).

    A NamedTuple rather than a frozen dataclass: a million of these are built per fleet run,
    and tuple construction is several times cheaper than a frozen dataclass's ``__init__``.
    """

    at: datetime
    resident: str
    device: str
    kind: SimKind
    source: ActivitySource | None = None
    # Shadows tuple.count on purpose: the field keeps the protocol's name for folded signals.
    count: int = 1  # type: ignore[assignment]
    ts: datetime | None = None
    trigger: EmergencyTrigger | None = None
    id: str | None = None
    cancel_of: str | None = None
    text: str | None = None
    state: DeviceState | None = None
    until: datetime | None = None
    interval_s: int | None = None
    battery_pct: int | None = None

    @property
    def device_ts(self) -> datetime:
        """The ``ts`` the device stamps on the message."""
        return self.at if self.ts is None else self.ts

    def beats(self) -> Iterator[datetime]:
        """Each heartbeat a span stands for (just ``at`` for any other event)."""
        if self.until is None or self.interval_s is None:
            yield self.at
            return
        step = timedelta(seconds=self.interval_s)
        t = self.at
        while t < self.until:
            yield t
            t += step


@dataclass(frozen=True, slots=True)
class Incident:
    """Ground truth: something happened from ``start`` (UTC) to ``end`` (None: open)."""

    kind: str
    start: datetime
    end: datetime | None = None
    device: str | None = None
    away_until: datetime | None = None


def expand_heartbeats(events: Iterable[SimEvent]) -> Iterator[SimEvent]:
    """The same stream with every heartbeat span replaced by its single beats, in time order.

    Lazy: spans are expanded while the rest of the stream is read, so only the beats that are
    due before the next event are held in memory.
    """
    due: list[tuple[datetime, int, SimEvent]] = []
    seq = itertools.count()
    for ev in events:
        while due and due[0][0] <= ev.at:
            yield _next_beat(due, seq)
        if ev.kind == "heartbeat" and ev.until is not None:
            heapq.heappush(due, (ev.at, next(seq), ev))
        else:
            yield ev
    while due:
        yield _next_beat(due, seq)


def _next_beat(due: list[tuple[datetime, int, SimEvent]], seq: Iterator[int]) -> SimEvent:
    at, _, span = heapq.heappop(due)
    assert span.interval_s is not None and span.until is not None  # noqa: S101 - spans only
    nxt = at + timedelta(seconds=span.interval_s)
    if nxt < span.until:
        heapq.heappush(due, (nxt, next(seq), span))
    return SimEvent(
        at=at,
        resident=span.resident,
        device=span.device,
        kind="heartbeat",
        interval_s=span.interval_s,
        battery_pct=span.battery_pct,
    )


# ------------------------------------------------------------------------------ engine


@dataclass(frozen=True, slots=True)
class _Away:
    start: int
    end: int
    phone_along: bool


class Simulation:
    """One household over ``days`` days from ``start`` (local date): events and ground truth.

    :meth:`events` can be called more than once; each call replays the same stream.
    """

    def __init__(self, household: Household, start: date, days: int, seed: int = 0) -> None:
        if days < 1:
            raise ValueError("days must be at least 1")
        self.household = household
        self.start = start
        self.days = days
        self.seed = household.seed if household.seed is not None else seed
        self.routine = household.routine or Routine.sample(self._rng("routine"))
        self.t0 = int(datetime.combine(start, time(0), KST).timestamp())
        self.t_end = self.t0 + days * DAY_S
        self.ground_truth: list[Incident] = []
        # Local day start -> (wake, sleep, outings), filled as events() builds each day.
        self.days_lived: dict[int, tuple[int, int, list[tuple[int, int]]]] = {}
        self._plan()

    def _rng(self, stream: str) -> random.Random:
        # A string seed is hashed with SHA-512 by random.seed, so it is stable across runs
        # and Python processes (unlike hash()).
        return random.Random(f"anbu-sim:{self.seed}:{self.household.resident}:{stream}")

    def _abs(self, spec: _When) -> int:
        return self.t0 + (spec.day - 1) * DAY_S + _minutes(spec.at) * 60 + spec.at.second

    def _dt(self, t: int | None) -> datetime | None:
        return None if t is None else datetime.fromtimestamp(t, UTC)

    # -- planning: specs to epoch-second intervals, done once per household

    def _plan(self) -> None:
        self.devices = DEVICE_MIXES[self.household.devices]
        self.incapable: list[tuple[int, int]] = []
        self.away: list[_Away] = []
        self.dead: dict[str, list[tuple[int, int]]] = {d: [] for d in self.devices}
        self.buffered: dict[str, list[tuple[int, int]]] = {d: [] for d in self.devices}
        self.down: dict[str, list[tuple[int, int]]] = {}
        # (t, device, trigger, id, text, cancel_of)
        self.emergencies: list[tuple[int, str, str, str, str | None, str | None]] = []
        self.decline: tuple[int, int, float] | None = None
        for n, inc in enumerate(self.household.incidents):
            self._plan_incident(n, inc)
        for fault in self.household.faults:
            self._plan_fault(fault)
        self.down = {d: _union(self.dead[d] + self.buffered[d]) for d in self.devices}
        self.battery_low = [
            (self._abs(f) - 3 * DAY_S, self._abs(f))
            for f in self.household.faults
            if isinstance(f, Battery)
        ]
        self.ground_truth.sort(key=lambda i: i.start)

    def _end(self, start: int, duration: timedelta | None) -> int | None:
        return None if duration is None else start + int(duration.total_seconds())

    def _truth(self, kind: str, start: int, end: int | None, **kw: Any) -> None:
        if start < self.t_end:
            self.ground_truth.append(
                Incident(kind, datetime.fromtimestamp(start, UTC), self._dt(end), **kw)
            )

    def _plan_incident(self, n: int, inc: IncidentSpec) -> None:
        t = self._abs(inc)
        if isinstance(inc, Fall):
            end = self._end(t, inc.duration)
            self.incapable.append((t, _FOREVER if end is None else end))
            if inc.detected:
                self.emergencies.append((t + 5, "sensors", "fall", self._eid(n), None, None))
            self._truth("fall", t, end)
        elif isinstance(inc, EmergencyCall | EmergencyThenCancel):
            dev, trigger = self._emergency_device(inc.device)
            eid = self._eid(n)
            self.emergencies.append((t, dev, trigger, eid, inc.text, None))
            end = None
            if isinstance(inc, EmergencyThenCancel):
                end = t + int(inc.cancel_after.total_seconds())
                self.emergencies.append((end, dev, trigger, f"{eid}-c", None, eid))
            self._truth(inc.kind, t, end, device=dev)
        elif isinstance(inc, HospitalStay | PhoneLeftAtHome):
            end = t + int(inc.duration.total_seconds())
            along = isinstance(inc, HospitalStay) and inc.takes_phone
            self.away.append(_Away(t, end, along))
            away_until = self._dt(end) if isinstance(inc, HospitalStay) else None
            self._truth(inc.kind, t, end, away_until=away_until)
        elif isinstance(inc, SpeakerUnplugged):
            end = self._end(t, inc.duration)
            self.dead["speaker"].append((t, _FOREVER if end is None else end))
            self._truth(inc.kind, t, end, device="speaker")
        else:
            self.decline = (t, max(1, int(inc.over.total_seconds())), inc.floor)
            self._truth(inc.kind, t, None)

    def _plan_fault(self, fault: FaultSpec) -> None:
        t = self._abs(fault)
        if isinstance(fault, Battery):
            end = self._end(t, fault.duration)
            self.dead[fault.device].append((t, _FOREVER if end is None else end))
            self._truth("battery", t, end, device=fault.device)
        elif isinstance(fault, WifiDrop):
            end = t + int(fault.duration.total_seconds())
            targets = [fault.device] if fault.device else [d for d in WIFI_DEVICES]
            for dev in targets:
                if dev in self.buffered:
                    self.buffered[dev].append((t, end))
            self._truth("wifi_drop", t, end, device=fault.device)
        else:
            end = t + int(fault.duration.total_seconds())
            for dev in self.devices:
                self.dead[dev].append((t, end))
            self._truth("power_cut", t, end)

    def _eid(self, n: int) -> str:
        return f"e-{self.household.resident}-{n}"

    def _emergency_device(self, wanted: DeviceName | None) -> tuple[str, EmergencyTrigger]:
        triggers: dict[str, EmergencyTrigger] = {
            "speaker": "voice",
            "phone": "app",
            "sensors": "button",
        }
        dev = wanted or self.devices[0]
        return dev, triggers[dev]

    # -- generation

    def events(self) -> Iterator[SimEvent]:
        """Every event of the run in delivery order (``at``; ties keep generation order)."""
        day_rng = self._rng("days")
        seq = itertools.count()
        pending: list[tuple[Any, ...]] = []  # buffered deliveries that land on a later day
        next_hb: dict[str, int] = {
            d: self.t0 + day_rng.randrange(HEARTBEAT_S) for d in self.devices
        }
        resident = self.household.resident
        dt = datetime.fromtimestamp
        for d in range(self.days):
            day0 = self.t0 + d * DAY_S
            day1 = day0 + DAY_S
            recs = _DayBuilder(self, day_rng, seq, d, day0).build(next_hb)
            for rec in recs:
                if rec[0] >= day1:
                    heapq.heappush(pending, rec)
            recs = [r for r in recs if r[0] < day1]
            while pending and pending[0][0] < day1:
                recs.append(heapq.heappop(pending))
            recs.sort()
            for rec in recs:
                yield _to_event(rec, resident, dt)

    def __iter__(self) -> Iterator[SimEvent]:
        return self.events()

    def checkin_answer(self, device: str, at: datetime) -> datetime | None:
        """When the resident answers "괜찮으세요?" spoken by ``device`` at ``at``; None if never.

        They answer when awake, at home, able to, and the speaker works and reaches the hub;
        not always (a radio on loud, a nap): 90 % when well, less as a decline sets in. The
        answer comes 20 s to 3 min later. The day must already have been generated by
        :meth:`events` (a run asks about the present, which it has already read past).
        """
        t = int(at.timestamp())
        lived = self.days_lived.get(t - (t - self.t0) % DAY_S)
        if device not in self.devices or device == "phone" or lived is None:
            return None
        wake, sleep, outings = lived
        if not wake <= t < sleep or any(a < t < b for a, b in outings):
            return None
        if any(a <= t < b for a, b in self.incapable) or any(
            a.start < t < a.end for a in self.away
        ):
            return None
        if any(a <= t < b for a, b in self.down[device]):
            return None
        rng = self._rng(f"checkin:{device}:{t}")
        if rng.random() >= 0.9 * self.vitality(t):
            return None
        return datetime.fromtimestamp(t + rng.randint(20, 180), UTC)

    def vitality(self, t: int) -> float:
        """1.0 normally; falls linearly to the decline's floor (epoch seconds ``t``)."""
        if self.decline is None or t < self.decline[0]:
            return 1.0
        start, over, floor = self.decline
        return 1.0 - (1.0 - floor) * min(1.0, (t - start) / over)


def _union(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _overlapping(spans: Iterable[tuple[int, int]], a: int, b: int) -> list[tuple[int, int]]:
    return [(s, e) for s, e in spans if s < b and e > a]


def _to_event(rec: tuple[Any, ...], resident: str, dt: Any) -> SimEvent:
    # Records are (deliver_t, seq, kind, device, *payload); see _DayBuilder for each shape.
    t, kind, dev = rec[0], rec[2], rec[3]
    at = dt(t, UTC)
    if kind == "activity":
        # Positional: this is the hottest line of a fleet run (all but a few events per day).
        return SimEvent(
            at, resident, dev, kind, rec[4], rec[5], None if rec[6] == t else dt(rec[6], UTC)
        )
    if kind == "heartbeat":
        return SimEvent(
            at,
            resident,
            dev,
            kind,
            until=dt(rec[4], UTC),
            interval_s=HEARTBEAT_S,
            battery_pct=rec[5],
        )
    if kind == "status":
        return SimEvent(at, resident, dev, kind, state=rec[4])
    return SimEvent(
        at,
        resident,
        dev,
        kind,
        ts=None if rec[8] == t else dt(rec[8], UTC),
        trigger=rec[4],
        id=rec[5],
        text=rec[6],
        cancel_of=rec[7],
    )


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth's method: the means here are small (< 30), where it is exact and fast enough.
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class _DayBuilder:
    """Builds one local day's records: signals from the routine, then faults and incidents."""

    def __init__(
        self, sim: Simulation, rng: random.Random, seq: Iterator[int], d: int, day0: int
    ) -> None:
        self.sim = sim
        self.rng = rng
        self.seq = seq
        self.day0 = day0
        self.day1 = day0 + DAY_S
        day = sim.start + timedelta(days=d)
        self.weekday = day.weekday()
        # A public holiday (설날, 추석, 어린이날 …) is lived like a Sunday: the 경로당 is
        # closed, people sleep in and the family calls.
        self.holiday = day in public_holidays("KR", day.year)
        self.weekend = self.weekday >= 5 or self.holiday
        self.vit = sim.vitality(day0 + DAY_S // 2)
        # (window, device, source) -> [latest signal t, count]
        self.sig: dict[tuple[int, str, str], list[int]] = {}

    def add(self, t: int, dev: str, src: str, n: int = 1) -> None:
        key = (t // FOLD_S, dev, src)
        cur = self.sig.get(key)
        if cur is None:
            self.sig[key] = [t, n]
        else:
            cur[1] += n
            cur[0] = max(cur[0], t)

    def slots(self, a: int, b: int, p: float, dev: str, src: str, most: int = 1) -> None:
        """Each 10-minute window in [a, b) has a signal with probability p (1..most folded)."""
        rnd = self.rng.random
        for w in range(max(a, self.day0) // FOLD_S, min(b, self.day1) // FOLD_S):
            if rnd() < p:
                self.add(w * FOLD_S + int(rnd() * FOLD_S), dev, src, 1 + int(rnd() * most))

    def scatter(self, n: int, a: int, b: int, dev: str, src: str, most: int = 1) -> None:
        rnd = self.rng.random
        for _ in range(n):
            self.add(a + int(rnd() * (b - a)), dev, src, 1 + int(rnd() * most))

    def build(self, next_hb: dict[str, int]) -> list[tuple[Any, ...]]:
        sim, r, rng, day0 = self.sim, self.sim.routine, self.rng, self.day0
        lost = 1.0 - self.vit
        jitter = r.jitter_min * 60
        wake_min = _minutes(r.wake_weekend if self.weekend else r.wake_weekday)
        wake = day0 + wake_min * 60 + int(rng.gauss(0, jitter) + lost * 5400)
        sleep = day0 + _minutes(r.sleep) * 60 + int(rng.gauss(0, jitter) - lost * 3600)
        sleep = max(sleep, wake + 4 * 3600)
        self.outings = self._outings(wake, sleep)
        sim.days_lived[day0] = (wake, sleep, self.outings)
        if "sensors" in sim.devices:
            self._sensors(wake, sleep)
        if "speaker" in sim.devices:
            self._speaker(wake, sleep)
        if "phone" in sim.devices:
            self._phone(wake, sleep)
        recs = self._deliver()
        self._heartbeats(recs, next_hb)
        return recs

    def _outings(self, wake: int, sleep: int) -> list[tuple[int, int]]:
        r, rng, day0, vit = self.sim.routine, self.rng, self.day0, self.vit
        out: list[tuple[int, int]] = []
        if not self.holiday and self.weekday in r.senior_centre_days and rng.random() < 0.85 * vit:
            out.append(
                (
                    day0 + 13 * 3600 + int(rng.uniform(-900, 900)),
                    day0 + 16 * 3600 + 1800 + int(rng.uniform(-1200, 1200)),
                )
            )
        elif self.weekday == 6 and rng.random() < r.sunday_outing_prob * vit:
            out.append((day0 + 9 * 3600 + 1800, day0 + 12 * 3600 + 1800))
        elif rng.random() < r.market_prob * vit:
            a = day0 + _minutes(r.lunch) * 60 + 3600 + int(rng.random() * 7200)
            out.append((a, a + int(rng.uniform(3600, 7200))))
        return [(a, b) for a, b in out if wake < a and b < sleep]

    def _sensors(self, wake: int, sleep: int) -> None:
        r, rng, day0, vit = self.sim.routine, self.rng, self.day0, self.vit
        self.slots(wake, sleep, 0.7 * vit, "sensors", "motion", most=6)
        if rng.random() < r.night_trip_prob:
            t = day0 + 2 * 3600 + int(rng.random() * 9000)
            self.add(t, "sensors", "motion", 2)
        if rng.random() < 0.5 * vit:  # fetching the paper, taking out rubbish
            self.add(wake + int(rng.uniform(600, 3600)), "sensors", "door")
        for a, b in self.outings:
            self.add(a, "sensors", "door")
            self.add(b, "sensors", "door")
        for away in self.sim.away:
            for t in (away.start, away.end):
                if day0 <= t < self.day1:
                    self.add(t, "sensors", "door")
        breakfast = max(day0 + _minutes(r.breakfast) * 60, wake + 1200)
        for meal in (breakfast, day0 + _minutes(r.lunch) * 60, day0 + _minutes(r.dinner) * 60):
            if rng.random() < 0.9:  # kettle or rice cooker
                self.add(meal + int(rng.gauss(0, 900)), "sensors", "power")
        if r.evening_tv:
            self.slots(day0 + _minutes(r.dinner) * 60 + 1800, sleep - 900, 0.9, "sensors", "power")
        if self.weekend:  # weekend afternoon TV instead of the senior centre
            self.slots(day0 + 14 * 3600, day0 + 17 * 3600, 0.6 * vit, "sensors", "power")

    def _speaker(self, wake: int, sleep: int) -> None:
        r, rng, day0, vit = self.sim.routine, self.rng, self.day0, self.vit
        if r.morning_radio:
            self.slots(wake + 1200, wake + 6600, 0.9, "speaker", "speaker_use", most=3)
        if r.afternoon_music and not self.weekend:
            self.slots(
                day0 + 14 * 3600,
                day0 + 15 * 3600 + 1800,
                0.8 * vit,
                "speaker",
                "speaker_use",
                most=2,
            )
        if self.weekend:  # the long Sunday/Saturday radio programmes
            self.slots(
                day0 + 10 * 3600,
                day0 + 11 * 3600 + 1800,
                0.7 * vit,
                "speaker",
                "speaker_use",
                most=2,
            )
        self.scatter(_poisson(rng, r.voice_per_day * vit), wake, sleep, "speaker", "voice", 2)

    def _phone(self, wake: int, sleep: int) -> None:
        r, rng, vit = self.sim.routine, self.rng, self.vit
        calls = r.calls_per_day * (1.8 if self.weekend else 1.0) * vit
        self.scatter(
            _poisson(rng, r.phone_checks_per_day * vit), wake, sleep, "phone", "screen", most=3
        )
        self.scatter(_poisson(rng, calls), wake, sleep, "phone", "call")
        if rng.random() < 0.2 * vit:
            self.scatter(1, wake, sleep, "phone", "app")

    # -- faults and incidents decide what each signal becomes

    def _deliver(self) -> list[tuple[Any, ...]]:
        sim, day0, day1, seq = self.sim, self.day0, self.day1, self.seq
        outs = self.outings
        incap = _overlapping(sim.incapable, day0, day1)
        aways = [a for a in sim.away if a.start < day1 and a.end > day0]
        dead = {d: _overlapping(s, day0, day1) for d, s in sim.dead.items()}
        buf = {d: _overlapping(s, day0, day1) for d, s in sim.buffered.items()}
        # Most days have at most an outing; only then is each signal checked against the rest.
        simple = not (incap or aways or any(dead.values()) or any(buf.values()))
        recs: list[tuple[Any, ...]] = []
        for (_, dev, src), (t, n) in self.sig.items():
            # Door signals mark the leaving and returning themselves, so they survive an
            # absence that starts or ends at that very second.
            home = dev != "phone"
            if outs and home and src != "door" and any(a < t < b for a, b in outs):
                continue
            if simple:
                recs.append((t, next(seq), "activity", dev, src, n, t))
                continue
            if incap and any(a <= t < b for a, b in incap):
                continue
            if aways and any(a.start < t < a.end and (home or not a.phone_along) for a in aways):
                continue
            at = self._fate(t, dev, dead, buf)
            if at is not None:
                recs.append((at, next(seq), "activity", dev, src, n, t))
        self._device_records(recs, dead, buf)
        return recs

    def _device_records(
        self,
        recs: list[tuple[Any, ...]],
        dead: dict[str, list[tuple[int, int]]],
        buf: dict[str, list[tuple[int, int]]],
    ) -> None:
        """Emergencies (which fail or wait like any signal) and status changes at outages."""
        sim, day0, day1, seq = self.sim, self.day0, self.day1, self.seq
        for t, dev, trig, eid, text, cancel_of in sim.emergencies:
            if day0 <= t < day1:
                at = self._fate(t, dev, dead, buf)
                if at is not None:
                    recs.append((at, next(seq), "emergency", dev, trig, eid, text, cancel_of, t))
        for dev, segs in sim.down.items():
            for a, b in segs:
                if day0 <= a < day1:
                    recs.append((a, next(seq), "status", dev, "offline"))
                if day0 <= b < day1 and b < sim.t_end:
                    recs.append((b, next(seq), "status", dev, "online"))

    def _fate(
        self,
        t: int,
        dev: str,
        dead: dict[str, list[tuple[int, int]]],
        buf: dict[str, list[tuple[int, int]]],
    ) -> int | None:
        """When the hub gets a signal made at t: t, on reconnect, or never (None)."""
        if any(a <= t < b for a, b in dead[dev]):
            return None
        if any(a <= t < b for a, b in buf[dev]):
            for a, b in self.sim.down[dev]:
                if a <= t < b:
                    return b if b < self.sim.t_end else None
        return t

    def _heartbeats(self, recs: list[tuple[Any, ...]], next_hb: dict[str, int]) -> None:
        sim, day0, day1 = self.sim, self.day0, self.day1
        for dev in sim.devices:
            battery = None
            if dev == "sensors":
                low = any(a <= day0 < b for a, b in sim.battery_low)
                battery = 8 if low else 90 - (day0 - sim.t0) // (10 * DAY_S)
            cursor = day0
            for a, b in _overlapping(sim.down[dev], day0, day1):
                self._span(recs, next_hb, dev, cursor, a, battery)
                cursor = max(cursor, b)
            self._span(recs, next_hb, dev, cursor, day1, battery)

    def _span(
        self,
        recs: list[tuple[Any, ...]],
        next_hb: dict[str, int],
        dev: str,
        a: int,
        b: int,
        battery: int | None,
    ) -> None:
        if a >= b:
            return
        # After an outage the agent beats as soon as it reconnects; otherwise the phase of
        # its 300 s timer carries on across midnight.
        nh = max(next_hb[dev], a)
        if nh < b:
            recs.append((nh, next(self.seq), "heartbeat", dev, b, battery))
            nh += -(-(b - nh) // HEARTBEAT_S) * HEARTBEAT_S
        next_hb[dev] = nh


def simulate(household: Household, start: date, days: int, seed: int = 0) -> Simulation:
    """Plan ``household`` over ``days`` local days from ``start``; iterate it for events."""
    return Simulation(household, start, days, seed)


def random_household(
    resident: str,
    seed: int,
    days: int,
    devices: DeviceMix | None = None,
    rates: FaultRates | None = None,
) -> Household:
    """A fleet member: a random device mix and routine, with faults drawn at ``rates``.

    Mix shares follow the pilots: speakers are most common; a minority are 2G-phone users
    with sensors only.
    """
    rng = random.Random(f"anbu-fleet:{seed}:{resident}")
    rates = rates or FaultRates()
    mix: DeviceMix = (
        devices
        or rng.choices(("speaker", "speaker+phone", "sensors", "all"), weights=(40, 30, 15, 15))[0]
    )
    faults: list[FaultSpec] = []

    def when() -> dict[str, Any]:
        return {"day": rng.randint(1, days), "at": _clock(rng.uniform(0, 24 * 60))}

    for _ in range(_poisson(rng, rates.wifi_drop_per_day * days)):
        hours = rng.uniform(0.25, 8)
        faults.append(WifiDrop(kind="wifi_drop", duration=timedelta(hours=hours), **when()))
    for _ in range(_poisson(rng, rates.power_cut_per_day * days)):
        hours = rng.uniform(0.5, 4)
        faults.append(PowerCut(kind="power_cut", duration=timedelta(hours=hours), **when()))
    if "sensors" in DEVICE_MIXES[mix] and rng.random() < rates.battery_per_sensor_day * days:
        faults.append(Battery(kind="battery", duration=timedelta(days=2), **when()))
    return Household(
        resident=resident,
        devices=mix,
        routine=Routine.sample(rng),
        seed=rng.randrange(2**31),
        faults=tuple(faults),
    )
