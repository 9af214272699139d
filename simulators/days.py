"""One simulated local day of one household: the signals its devices send, and their fate.

Owns :class:`DayBuilder`, which :class:`simulators.model.Simulation` runs once per day: the
resident's routine becomes signals per device (what a real edge adapter would send), then
incidents, absences and device faults decide which of them reach the hub, and when.

What the devices see (kept close to real adapters, not to what detection would like):

* **Motion** (full sensor kit only): a PIR sees movement, not presence, so a resident
  sitting in front of the TV or napping is invisible. Each 10-minute window at home has a
  signal with a probability that follows the part of the day: busy after waking and around
  meals, sparse in the evening, none during a nap. Night-time trips to the bathroom are short
  bursts; older people get up once or more on most nights.
* **Plug** (``power``): the adapter reports a rise above its threshold, an edge, not a level:
  a kettle or rice cooker at meals, the TV once when it is switched on. A TV left on sends
  nothing more, unless its draw hovers around the threshold (``tv_flicker``).
* **Door**: leaving and coming back, fetching the paper, visitors.
* **Speaker**: radio and music (``speaker_use``), spoken requests (``voice``).
* **Phone**: unlocks and calls made or answered; a leaky automation app (``leaky_phone``)
  also reports the screen lighting up for an incoming call nobody answers.

Not from the resident, so they go on through a fall or an absence ("ambient"): a pet's motion,
a radio or rice cooker on a timer, a leaky phone ringing, a TV flickering at its threshold,
a visitor's movement. Records are tuples (see :meth:`DayBuilder.build`) for speed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator
from datetime import time, timedelta
from typing import TYPE_CHECKING, Any

from alerts.calendar import public_holidays

if TYPE_CHECKING:
    from simulators.model import Simulation

FOLD_S = 600
HEARTBEAT_S = 300
DAY_S = 86_400
HOUR_S = 3600


def minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def union(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def overlapping(spans: Iterable[tuple[int, int]], a: int, b: int) -> list[tuple[int, int]]:
    return [(s, e) for s, e in spans if s < b and e > a]


def poisson(rng: random.Random, lam: float) -> int:
    # Knuth's method: the means here are small (< 30), where it is exact and fast enough.
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def inside(t: int, spans: Iterable[tuple[int, int]]) -> bool:
    return any(a <= t < b for a, b in spans)


class DayBuilder:
    """Builds one local day's records: signals from the routine, then faults and incidents."""

    def __init__(
        self,
        sim: Simulation,
        rng: random.Random,
        seq: Iterator[int],
        d: int,
        day0: int,
        prev_sleep: int,
    ) -> None:
        self.sim = sim
        self.rng = rng
        self.seq = seq
        self.day0 = day0
        self.day1 = day0 + DAY_S
        self.prev_sleep = prev_sleep
        day = sim.start + timedelta(days=d)
        self.weekday = day.weekday()
        # A public holiday (설날, 추석, 어린이날 …) is lived like a Sunday: the 경로당 is
        # closed, people sleep in and the family calls.
        self.holiday = day in public_holidays("KR", day.year)
        self.weekend = self.weekday >= 5 or self.holiday
        self.vit = sim.vitality(day0 + DAY_S // 2)
        # (window, device, source) -> [latest signal t, count]; ambient ones apart.
        self.sig: dict[tuple[int, str, str], list[int]] = {}
        self.ambient: dict[tuple[int, str, str], list[int]] = {}
        self.outings: list[tuple[int, int]] = []
        self.nap: tuple[int, int] | None = None

    # -- signals

    def add(self, t: int, dev: str, src: str, n: int = 1, *, ambient: bool = False) -> None:
        table = self.ambient if ambient else self.sig
        key = (t // FOLD_S, dev, src)
        cur = table.get(key)
        if cur is None:
            table[key] = [t, n]
        else:
            cur[1] += n
            cur[0] = max(cur[0], t)

    def slots(self, a: int, b: int, p: float, dev: str, src: str, most: int = 1) -> None:
        """Each 10-minute window in [a, b) has a signal with probability p (1..most folded)."""
        rnd = self.rng.random
        for w in range(max(a, self.day0 - DAY_S) // FOLD_S, min(b, self.day1 + DAY_S) // FOLD_S):
            if rnd() < p:
                self.add(w * FOLD_S + int(rnd() * FOLD_S), dev, src, 1 + int(rnd() * most))

    def scatter(self, n: int, a: int, b: int, dev: str, src: str, most: int = 1) -> None:
        rnd = self.rng.random
        for _ in range(n):
            self.add(a + int(rnd() * (b - a)), dev, src, 1 + int(rnd() * most))

    def build(self, next_hb: dict[str, int]) -> list[tuple[Any, ...]]:
        """Records ``(deliver_t, seq, kind, device, *payload)`` for this day, unsorted."""
        sim, r, rng, day0 = self.sim, self.sim.routine, self.rng, self.day0
        lost = 1.0 - self.vit
        jitter = r.jitter_min * 60
        wake_min = minutes(r.wake_weekend if self.weekend else r.wake_weekday)
        wake = day0 + wake_min * 60 + int(rng.gauss(0, jitter) + lost * 5400)
        sleep_min = minutes(r.sleep) + (1440 if r.sleep < time(12) else 0)
        sleep = day0 + sleep_min * 60 + int(rng.gauss(0, jitter) - lost * 3600)
        sleep = max(sleep, wake + 4 * HOUR_S)
        wake = max(wake, self.prev_sleep + 3 * HOUR_S)
        self.outings = self._outings(wake, sleep)
        if r.nap and rng.random() < 0.7:
            start = day0 + minutes(r.lunch) * 60 + int(rng.uniform(1800, 5400))
            self.nap = (start, start + int(rng.uniform(1800, 5400)))
        sim.days_lived[day0] = (wake, sleep, self.outings, self.prev_sleep)
        trips = self._night_trips(wake)
        kit = sim.sensor_kit
        if "motion" in kit:
            self._motion(wake, sleep, trips)
        if "door" in kit:
            self._doors(wake)
        if "power" in kit:
            self._plug(wake, sleep)
        if "speaker" in sim.devices:
            self._speaker(wake, sleep)
        if "phone" in sim.devices:
            self._phone(wake, sleep)
        self._ambient(wake, sleep)
        recs = self._deliver()
        self._heartbeats(recs, next_hb)
        return recs

    def _outings(self, wake: int, sleep: int) -> list[tuple[int, int]]:
        r, rng, day0, vit = self.sim.routine, self.rng, self.day0, self.vit
        out: list[tuple[int, int]] = []
        if not self.holiday and self.weekday in r.senior_centre_days and rng.random() < 0.85 * vit:
            out.append(
                (
                    day0 + 13 * HOUR_S + int(rng.uniform(-900, 900)),
                    day0 + 16 * HOUR_S + 1800 + int(rng.uniform(-1200, 1200)),
                )
            )
        elif self.weekday == 6 and rng.random() < r.sunday_outing_prob * vit:
            out.append((day0 + 9 * HOUR_S + 1800, day0 + 12 * HOUR_S + 1800))
        elif rng.random() < r.market_prob * vit:
            a = day0 + minutes(r.lunch) * 60 + HOUR_S + int(rng.random() * 7200)
            out.append((a, a + int(rng.uniform(HOUR_S, 7200))))
        return [(a, b) for a, b in out if wake < a and b < sleep]

    def _night_trips(self, wake: int) -> list[int]:
        """Times the resident got up in the night before ``wake`` (bathroom, water)."""
        r, rng = self.sim.routine, self.rng
        if rng.random() >= r.night_trip_prob:
            return []
        extra = r.extra_night_trips + (1.0 - self.vit) * 1.5
        count = 1 + poisson(rng, extra)
        lo, hi = self.prev_sleep + 1800, wake - 1800
        if hi <= lo:
            return []
        return sorted(lo + int(rng.random() * (hi - lo)) for _ in range(count))

    def _motion(self, wake: int, sleep: int, trips: list[int]) -> None:
        r, rng, day0, vit = self.sim.routine, self.rng, self.day0, self.vit
        meals = [day0 + minutes(m) * 60 for m in (r.breakfast, r.lunch, r.dinner)]
        tv_from = day0 + minutes(r.dinner) * 60 + 1800 if r.evening_tv else sleep
        rnd = rng.random
        for w in range(wake // FOLD_S, sleep // FOLD_S):
            t = w * FOLD_S
            if self.nap is not None and self.nap[0] <= t < self.nap[1]:
                continue
            if t < wake + HOUR_S:
                p = 0.9
            elif any(m - 1200 <= t < m + 2400 for m in meals):
                p = 0.8
            elif t >= tv_from:
                p = 0.3
            else:
                p = 0.55
            if rnd() < p * vit:
                self.add(t + int(rnd() * FOLD_S), "sensors", "motion", 1 + int(rnd() * 6))
        for t in trips:
            self.add(t, "sensors", "motion", 2 + int(rnd() * 3))

    def _doors(self, wake: int) -> None:
        sim, rng, day0 = self.sim, self.rng, self.day0
        if rng.random() < 0.5 * self.vit:  # fetching the paper, taking out rubbish
            self.add(wake + int(rng.uniform(600, 3600)), "sensors", "door")
        for a, b in self.outings:
            self.add(a, "sensors", "door")
            self.add(b, "sensors", "door")
        for away in sim.away:
            for t in (away.start, away.end):
                if day0 <= t < self.day1:
                    self.add(t, "sensors", "door")

    def _plug(self, wake: int, sleep: int) -> None:
        r, rng, day0, vit = self.sim.routine, self.rng, self.day0, self.vit
        breakfast = max(day0 + minutes(r.breakfast) * 60, wake + 1200)
        meals = (
            (breakfast, 0.85),
            (day0 + minutes(r.lunch) * 60, 0.55),
            (day0 + minutes(r.dinner) * 60, 0.7),
        )
        # A resident in decline cooks and watches less, like everything else they do.
        for meal, p in meals:
            if rng.random() < p * vit:  # kettle or rice cooker switched on
                self.add(meal + int(rng.gauss(0, 600)), "sensors", "power")
        if r.evening_tv and rng.random() < 0.95 * vit:
            on = day0 + minutes(r.dinner) * 60 + 1800 + int(rng.gauss(0, 900))
            self.add(min(on, sleep - 600), "sensors", "power")
            if rng.random() < 0.3:  # switched off and on again later
                self.add(on + int(rng.uniform(HOUR_S, 2 * HOUR_S)), "sensors", "power")
        if self.weekend and rng.random() < 0.5 * vit:
            self.add(day0 + 14 * HOUR_S + int(rng.uniform(0, 7200)), "sensors", "power")

    def _speaker(self, wake: int, sleep: int) -> None:
        r, rng, day0, vit = self.sim.routine, self.rng, self.day0, self.vit
        if r.morning_radio:
            self.slots(wake + 1200, wake + 6600, 0.9 * vit, "speaker", "speaker_use", most=3)
        if r.afternoon_music and not self.weekend:
            self.slots(
                day0 + 14 * HOUR_S,
                day0 + 15 * HOUR_S + 1800,
                0.8 * vit,
                "speaker",
                "speaker_use",
                most=2,
            )
        if self.weekend:  # the long Sunday/Saturday radio programmes
            self.slots(
                day0 + 10 * HOUR_S,
                day0 + 11 * HOUR_S + 1800,
                0.7 * vit,
                "speaker",
                "speaker_use",
                most=2,
            )
        self.scatter(poisson(rng, r.voice_per_day * vit), wake, sleep, "speaker", "voice", 2)

    def _phone(self, wake: int, sleep: int) -> None:
        r, rng, vit = self.sim.routine, self.rng, self.vit
        calls = r.calls_per_day * (1.8 if self.weekend else 1.0) * vit
        self.scatter(
            poisson(rng, r.phone_checks_per_day * vit), wake, sleep, "phone", "screen", most=3
        )
        self.scatter(poisson(rng, calls), wake, sleep, "phone", "call")
        if rng.random() < 0.2 * vit:
            self.scatter(1, wake, sleep, "phone", "app")

    def _ambient(self, wake: int, sleep: int) -> None:
        """Signals that do not come from the resident and so go on through anything."""
        sim, home, rng, day0 = self.sim, self.sim.household.home, self.rng, self.day0
        if home.pet and "motion" in sim.sensor_kit:
            for _ in range(poisson(rng, 6.0)):
                self.add(day0 + int(rng.random() * DAY_S), "sensors", "motion", ambient=True)
        if home.radio_timer is not None and "speaker" in sim.devices:
            at = day0 + minutes(home.radio_timer) * 60 + int(rng.uniform(0, 120))
            self.add(at, "speaker", "speaker_use", 3, ambient=True)
        if home.rice_cooker_timer is not None and "power" in sim.sensor_kit:
            at = day0 + minutes(home.rice_cooker_timer) * 60 + int(rng.uniform(0, 60))
            self.add(at, "sensors", "power", ambient=True)
        if home.leaky_phone and "phone" in sim.devices:
            for _ in range(poisson(rng, 1.0)):
                at = day0 + 8 * HOUR_S + int(rng.random() * 13 * HOUR_S)
                self.add(at, "phone", "screen", ambient=True)
        self._visitors()
        if home.tv_flicker and "power" in sim.sensor_kit:
            self._tv_left_on(sleep)
        del wake

    def _visitors(self) -> None:
        """A carer or family at the door, moving about the flat."""
        sim, rng = self.sim, self.rng
        for a, b in sim.visits_on(self.day0):
            if "door" in sim.sensor_kit:
                self.add(a, "sensors", "door", ambient=True)
                self.add(b, "sensors", "door", ambient=True)
            if "motion" in sim.sensor_kit:
                for w in range(a // FOLD_S, b // FOLD_S):
                    if rng.random() < 0.8:
                        t = w * FOLD_S + int(rng.random() * FOLD_S)
                        self.add(t, "sensors", "motion", 3, ambient=True)

    def _tv_left_on(self, sleep: int) -> None:
        """A resident who falls while the TV is on leaves it on; a draw hovering around the
        plug's threshold makes an edge every half hour or so through the night."""
        sim, rng, day0 = self.sim, self.rng, self.day0
        fell = sim.incapable_since(day0, self.day1)
        if fell is None or not sim.routine.evening_tv:
            return
        if not day0 + minutes(sim.routine.dinner) * 60 + 1800 <= fell < sleep:
            return
        t = fell + int(rng.uniform(1800, 5400))
        while t < fell + 12 * HOUR_S:
            self.add(t, "sensors", "power", ambient=True)
            t += int(rng.uniform(1800, 5400))

    # -- faults and incidents decide what each signal becomes

    def _deliver(self) -> list[tuple[Any, ...]]:
        sim, day0, day1, seq = self.sim, self.day0, self.day1, self.seq
        outs = self.outings
        lo, hi = day0 - DAY_S, day1 + DAY_S
        incap = overlapping(sim.incapable, lo, hi)
        aways = [a for a in sim.away if a.start < hi and a.end > lo]
        dead = {d: overlapping(s, lo, hi) for d, s in sim.dead.items()}
        buf = {d: overlapping(s, lo, hi) for d, s in sim.buffered.items()}
        stop = sim.t_stop
        # Most days have at most an outing; only then is each signal checked against the rest.
        simple = not (incap or aways or any(dead.values()) or any(buf.values()))
        recs: list[tuple[Any, ...]] = []
        for (_, dev, src), (t, n) in self.sig.items():
            if t >= stop:
                continue
            # Door signals mark the leaving and returning themselves, so they survive an
            # absence that starts or ends at that very second.
            home = dev != "phone"
            if outs and home and src != "door" and any(a < t < b for a, b in outs):
                continue
            if simple:
                recs.append((t, next(seq), "activity", dev, src, n, t))
                continue
            if incap and inside(t, incap):
                continue
            if aways and any(a.start < t < a.end and (home or not a.phone_along) for a in aways):
                continue
            at = self._fate(t, dev, dead, buf)
            if at is not None:
                recs.append((at, next(seq), "activity", dev, src, n, t))
        for (_, dev, src), (t, n) in self.ambient.items():
            at = self._fate(t, dev, dead, buf) if t < stop else None
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
            if day0 <= t < day1 and t < sim.t_stop:
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
        if inside(t, dead[dev]):
            return None
        if inside(t, buf[dev]):
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
            for a, b in overlapping(sim.down[dev], day0, day1):
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
