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
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from protocol.models import ActivitySource, DeviceState, EmergencyTrigger
from protocol.vocab import DEVICE_KINDS, ID_PATTERN, KST, DeviceKind
from simulators.days import DAY_S, FOLD_S, HEARTBEAT_S, DayBuilder, minutes, poisson, union

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
    "Home",
    "HospitalStay",
    "Household",
    "Incident",
    "IncidentSpec",
    "NightsAway",
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


DeviceMix = Literal["speaker", "speaker+phone", "kit", "sensors", "all"]
DeviceName = DeviceKind
SimKind = Literal["activity", "heartbeat", "emergency", "status"]

DEVICE_MIXES: dict[str, tuple[DeviceName, ...]] = {
    "speaker": ("speaker",),
    "speaker+phone": ("speaker", "phone"),
    # A 2G feature-phone user with the cheap kit a district can afford: one door sensor and
    # one smart plug behind a gateway; the phone cannot run the app.
    "kit": ("sensors",),
    # A 2G feature-phone user with the full Zigbee kit: motion, door, plug, a help button.
    "sensors": ("sensors",),
    "all": DEVICE_KINDS,
}
SENSOR_KITS: dict[str, frozenset[str]] = {
    "kit": frozenset({"door", "power"}),
    "sensors": frozenset({"motion", "door", "power", "button"}),
    "all": frozenset({"motion", "door", "power", "button"}),
}
"""What the gateway of each mix carries (nothing for the mixes without one)."""
# The phone falls back to LTE, so a home Wi-Fi drop only silences these.
WIFI_DEVICES: tuple[DeviceName, ...] = ("speaker", "sensors")
INCIDENT_KINDS = (
    "fall",
    "emergency_call",
    "emergency_then_cancel",
    "hospital_stay",
    "nights_away",
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


_minutes = minutes


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
    sleep: time = Field(time(21, 30), description="bedtime; 00:00-03:00 means after midnight")
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
    night_trip_prob: float = Field(0.5, ge=0, le=1, description="chance of getting up at night")
    extra_night_trips: float = Field(
        0.3, ge=0, le=6, description="mean further trips on a night they get up"
    )
    nap: bool = Field(False, description="a nap after lunch on most days (30-90 min, still)")
    sunday_outing_prob: float = Field(0.4, ge=0, le=1, description="church/market 09:30-12:30")
    market_prob: float = Field(0.25, ge=0, le=1, description="an afternoon errand, any day")

    _times = field_validator(
        "wake_weekday", "wake_weekend", "breakfast", "lunch", "dinner", "sleep", mode="before"
    )(_no_bare_numbers)

    @model_validator(mode="after")
    def _ordered(self) -> Routine:
        late = self.sleep <= time(3, 0)
        if not (max(self.wake_weekday, self.wake_weekend) < self.lunch < self.dinner):
            raise ValueError("need wake_weekday/wake_weekend < lunch < dinner")
        if not late and not self.dinner < self.sleep:
            raise ValueError("need dinner < sleep")
        if not late and self.sleep < time(19, 0):
            raise ValueError("sleep must be 19:00-03:00 (00:00-03:00 means after midnight)")
        return self

    @classmethod
    def sample(cls, rng: random.Random) -> Routine:
        """A plausible routine for an older person living alone, drawn from ``rng``."""
        # About one in eight keeps late hours: up after eight, to bed after midnight.
        owl = rng.random() < 0.12
        if owl:
            wake = rng.uniform(8 * 60, 9 * 60 + 30)
            bedtime = rng.uniform(24 * 60, 26 * 60 + 30)
        else:
            wake = min(max(rng.gauss(6 * 60, 40), 4 * 60 + 30), 8 * 60)
            bedtime = min(max(rng.gauss(21 * 60 + 30, 40), 20 * 60), 23 * 60 + 30)
        visits = 0 if rng.random() < 0.5 else rng.randint(2, 5)
        return cls(
            wake_weekday=_clock(wake),
            wake_weekend=_clock(wake + rng.uniform(20, 70)),
            breakfast=_clock(wake + rng.uniform(30, 70)),
            lunch=_clock(max(rng.gauss(12 * 60, 15), wake + 150)),
            dinner=_clock(rng.gauss(18 * 60, 20)),
            sleep=_clock(bedtime),
            jitter_min=rng.uniform(10, 35),
            morning_radio=rng.random() < 0.7,
            afternoon_music=rng.random() < 0.4,
            evening_tv=rng.random() < 0.9,
            voice_per_day=rng.uniform(0.5, 6),
            phone_checks_per_day=rng.uniform(2, 15),
            calls_per_day=rng.uniform(0.3, 3),
            senior_centre_days=frozenset(rng.sample(range(5), visits)),
            night_trip_prob=rng.uniform(0.4, 0.95),
            extra_night_trips=rng.uniform(0, 0.8),
            nap=rng.random() < 0.4,
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
    announced: bool = Field(True, description="someone sets away mode; false: nobody does")


class NightsAway(_When):
    """Nights at a child's home, nobody setting away mode; the phone goes along."""

    kind: Literal["nights_away"]
    duration: timedelta


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
    | NightsAway
    | PhoneLeftAtHome
    | SpeakerUnplugged
    | SlowDecline,
    Field(discriminator="kind"),
]
FaultSpec = Annotated[Battery | WifiDrop | PowerCut, Field(discriminator="kind")]


class Home(BaseModel):
    """What else lives in the household: things that make signals the resident did not."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pet: bool = Field(False, description="a cat or dog sets off the motion sensor now and then")
    radio_timer: time | None = Field(None, description="the speaker plays the radio at this time")
    rice_cooker_timer: time | None = Field(None, description="a plug switches on at this time")
    leaky_phone: bool = Field(False, description="the app reports a ringing phone as screen use")
    tv_flicker: bool = Field(False, description="a TV left on hovers at the plug's threshold")
    carer_days: frozenset[Annotated[int, Field(ge=0, le=6)]] = Field(
        frozenset(), description="weekdays (Monday=0) a home-care worker visits 10:00-13:00"
    )
    family_visit_prob: float = Field(0.0, ge=0, le=1, description="family on a weekend afternoon")
    hears: float = Field(1.0, ge=0, le=1, description="chance the speaker hears a call for help")

    _times = field_validator("radio_timer", "rice_cooker_timer", mode="before")(_no_bare_numbers)

    @classmethod
    def sample(cls, rng: random.Random) -> Home:
        """A household's others, drawn from ``rng``: most homes have none of them."""
        carer = rng.random() < 0.15  # 장기요양 방문요양: a few mornings a week
        return cls(
            pet=rng.random() < 0.12,
            radio_timer=_clock(rng.uniform(5 * 60, 7 * 60)) if rng.random() < 0.1 else None,
            rice_cooker_timer=(
                _clock(rng.uniform(5 * 60, 6 * 60 + 30)) if rng.random() < 0.15 else None
            ),
            leaky_phone=rng.random() < 0.2,
            tv_flicker=rng.random() < 0.2,
            carer_days=frozenset(rng.sample(range(5), rng.randint(2, 5))) if carer else frozenset(),
            family_visit_prob=rng.uniform(0, 0.3),
            hears=rng.uniform(0.7, 0.95),
        )


class Household(BaseModel):
    """One resident, the devices they have, and what happens to them during the run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resident: str = Field(pattern=ID_PATTERN)
    devices: DeviceMix = "speaker"
    routine: Routine | None = Field(None, description="none = drawn from the seed")
    seed: int | None = Field(None, description="overrides the run's seed for this household")
    home: Home = Field(default_factory=Home)
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
    found_by: str | None = None
    """Who ended it without the system: ``visitor`` (a carer or family found the resident),
    ``someone`` (an unnamed person, the spec's duration); None if nobody did."""


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
        self.t_stop = self.t_end
        self.ground_truth: list[Incident] = []
        # Local day start -> (wake, sleep, outings, previous bedtime), filled as events()
        # builds each day.
        self.days_lived: dict[int, tuple[int, int, list[tuple[int, int]], int]] = {}
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
        self.sensor_kit = SENSOR_KITS.get(self.household.devices, frozenset())
        self.visits = self._plan_visits()
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
        self.down = {d: union(self.dead[d] + self.buffered[d]) for d in self.devices}
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
            found_by = None if end is None else "someone"
            visit = next((a for a, _ in self.visits if a > t), None)
            if visit is not None and (end is None or visit < end):
                end, found_by = visit, "visitor"
            self.incapable.append((t, _FOREVER if end is None else end))
            if inc.detected:
                self.emergencies.append((t + 5, "sensors", "fall", self._eid(n), None, None))
            self._truth("fall", t, end, found_by=found_by)
        elif isinstance(inc, EmergencyCall | EmergencyThenCancel):
            dev, trigger = self._emergency_device(inc.device)
            eid = self._eid(n)
            heard = self._heard(t, dev, n)
            if heard is not None:
                self.emergencies.append((heard, dev, trigger, eid, inc.text, None))
            end = None
            if isinstance(inc, EmergencyThenCancel):
                end = t + int(inc.cancel_after.total_seconds())
                if heard is not None:
                    cancel = (max(end, heard + 10), dev, trigger, f"{eid}-c", None, eid)
                    self.emergencies.append(cancel)
            self._truth(inc.kind, t, end, device=dev)
        elif isinstance(inc, HospitalStay | PhoneLeftAtHome | NightsAway):
            end = t + int(inc.duration.total_seconds())
            along = isinstance(inc, NightsAway) or (
                isinstance(inc, HospitalStay) and inc.takes_phone
            )
            self.away.append(_Away(t, end, along))
            away_until = self._dt(end) if isinstance(inc, HospitalStay) and inc.announced else None
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

    def _heard(self, t: int, dev: str, n: int) -> int | None:
        """When a call for help reaches the hub: a speaker may not catch it (distance, dialect,
        the TV), and the resident tries again up to twice, a minute or two apart."""
        if dev != "speaker":
            return t
        rng = self._rng(f"heard:{n}")
        for attempt in range(3):
            if rng.random() < self.household.home.hears:
                return t
            if attempt < 2:
                t += rng.randint(60, 150)
        return None

    def _plan_visits(self) -> list[tuple[int, int]]:
        """Visitors: a home-care worker on their weekdays, family on some weekend afternoons."""
        home, rng = self.household.home, self._rng("visits")
        out = []
        for d in range(self.days):
            day0 = self.t0 + d * DAY_S
            weekday = (self.start + timedelta(days=d)).weekday()
            if weekday in home.carer_days:
                a = day0 + 10 * 3600 + rng.randint(-900, 900)
                out.append((a, a + 3 * 3600))
            if weekday >= 5 and rng.random() < home.family_visit_prob:
                a = day0 + 14 * 3600 + rng.randint(0, 7200)
                out.append((a, a + rng.randint(3600, 3 * 3600)))
        return out

    def visits_on(self, day0: int) -> list[tuple[int, int]]:
        return [(a, b) for a, b in self.visits if day0 <= a < day0 + DAY_S]

    def incapable_since(self, a: int, b: int) -> int | None:
        """When the resident became unable to move within [a, b), if they did."""
        return next((s for s, _ in self.incapable if a <= s < b), None)

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
        sleep_min = _minutes(self.routine.sleep) - (0 if self.routine.sleep < time(12) else 1440)
        prev_sleep = self.t0 + sleep_min * 60
        for d in range(self.days):
            day0 = self.t0 + d * DAY_S
            day1 = day0 + DAY_S
            recs = DayBuilder(self, day_rng, seq, d, day0, prev_sleep).build(next_hb)
            prev_sleep = self.days_lived[day0][1]
            if d == 0:  # each agent announces itself (retained "online") as it connects
                recs += [(self.t0, next(seq), "status", dev, "online") for dev in self.devices]
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
        if device not in self.devices or device == "phone" or not self.awake_at_home(t):
            return None
        if any(a <= t < b for a, b in self.down[device]):
            return None
        rng = self._rng(f"checkin:{device}:{t}")
        if rng.random() >= 0.9 * self.vitality(t):
            return None
        return datetime.fromtimestamp(t + rng.randint(20, 180), UTC)

    def _lived(self, t: int) -> tuple[int, int, list[tuple[int, int]], int] | None:
        """The day whose waking hours or night before contain ``t``."""
        day0 = t - (t - self.t0) % DAY_S
        for start in (day0, day0 - DAY_S):
            lived = self.days_lived.get(start)
            if lived is not None and lived[3] <= t < lived[1]:
                return lived
        return None

    def away_until(self, t: int) -> int | None:
        """The end of the absence (a stay away from home) ``t`` falls in, if any."""
        return next((a.end for a in self.away if a.start < t < a.end), None)

    def able(self, t: int) -> bool:
        return not any(a <= t < b for a, b in self.incapable)

    def home(self, t: int) -> bool:
        lived = self._lived(t)
        outings = lived[2] if lived is not None else []
        return not any(a < t < b for a, b in outings) and not any(
            a.start < t < a.end for a in self.away
        )

    def awake_at_home(self, t: int) -> bool:
        """Awake (not asleep or napping), at home and able to answer. The day must have been
        generated by :meth:`events` already."""
        lived = self._lived(t)
        if lived is None or not lived[0] <= t < lived[1]:
            return False
        return self.able(t) and self.home(t)

    def answers_phone(self, t: int) -> bool:
        """Whether the resident picks up a call at ``t``: able, and at home or carrying the
        phone (a 2G phone goes along more often than not), awake or woken by it."""
        if not self.able(t):
            return False
        rng = self._rng(f"phone:{t}")
        away = next((a for a in self.away if a.start < t < a.end), None)
        if away is not None:
            return away.phone_along and rng.random() < 0.9
        if not self.home(t) and rng.random() >= 0.7:
            return False
        lived = self._lived(t)
        asleep = lived is None or not lived[0] <= t < lived[1]
        return rng.random() < (0.6 if asleep else 0.95)

    def vitality(self, t: int) -> float:
        """1.0 normally; falls linearly to the decline's floor (epoch seconds ``t``)."""
        if self.decline is None or t < self.decline[0]:
            return 1.0
        start, over, floor = self.decline
        return 1.0 - (1.0 - floor) * min(1.0, (t - start) / over)


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
    """A fleet member: a random device mix, routine and home, with faults drawn at ``rates``.

    Mix shares follow the pilots: speakers are most common (alone, or with a smartphone);
    2G-phone users get the cheap kit (door + plug) more often than the full one.
    """
    rng = random.Random(f"anbu-fleet:{seed}:{resident}")
    rates = rates or FaultRates()
    mix: DeviceMix = (
        devices
        or rng.choices(("speaker", "speaker+phone", "kit", "sensors"), weights=(35, 30, 20, 15))[0]
    )
    faults: list[FaultSpec] = []

    def when() -> dict[str, Any]:
        return {"day": rng.randint(1, days), "at": _clock(rng.uniform(0, 24 * 60))}

    for _ in range(poisson(rng, rates.wifi_drop_per_day * days)):
        hours = rng.uniform(0.25, 8)
        faults.append(WifiDrop(kind="wifi_drop", duration=timedelta(hours=hours), **when()))
    for _ in range(poisson(rng, rates.power_cut_per_day * days)):
        hours = rng.uniform(0.5, 4)
        faults.append(PowerCut(kind="power_cut", duration=timedelta(hours=hours), **when()))
    if "sensors" in DEVICE_MIXES[mix] and rng.random() < rates.battery_per_sensor_day * days:
        faults.append(Battery(kind="battery", duration=timedelta(days=2), **when()))
    routine = Routine.sample(rng)
    return Household(
        resident=resident,
        devices=mix,
        routine=routine,
        seed=rng.randrange(2**31),
        home=Home.sample(rng),
        faults=tuple(faults),
    )
