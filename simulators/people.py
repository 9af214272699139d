"""The people in a virtual run: how guardians and the control centre act on what they are told.

Owns :class:`Responders` (how fast people act) and :class:`People`, which turns each page the
core sends into the follow-up a person would make, as core inputs at later virtual times:

* **Emergency**: the centre acknowledges within a minute and closes it once it has spoken to
  the resident (``centre_ack_after``, ``centre_resolve_after``).
* **Inactivity, guardian stage**: a guardian reads the SMS (most do within the hour by day;
  few at night, the rest in the morning) and phones the resident. Reached: they close it
  ("괜찮으신 것을 확인했어요"). Not reached: they say they are going and visit an hour or two
  later, closing it then, or finding the resident unable to get up.
* **Inactivity, control centre stage**: the centre acknowledges, phones the resident, and when
  nobody answers sends someone, who closes it at the door (or finds the resident).

Finding a resident who cannot get up ends their incident (:attr:`People.rescued_at`); the run
stops there. Whether the resident answers the phone or is found comes from the household
model (:meth:`simulators.model.Simulation.answers_phone`, ``able``); every delay is drawn
from a generator seeded by the alert, so runs stay reproducible.
"""

from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from alerts.actions import Action, ChangeStage, Notify, OpenAlert, ResolveAlert
from alerts.inputs import Acknowledge, Input, RecordStep, Resolve
from simulators.model import KST, Simulation

__all__ = ["People", "Responders"]


@dataclass(frozen=True, slots=True)
class Responders:
    """How fast people act on alerts in the simulation."""

    centre_ack_after: timedelta = timedelta(seconds=45)
    centre_resolve_after: timedelta = timedelta(minutes=30)
    inactivity: bool = True
    """Whether guardians and the centre work inactivity alerts (off: nobody ever does)."""


# A person's action: (when, tie-break, input, or None with away_until = a policy change).
Item = tuple[datetime, int, Input | None, datetime | None]


class People:
    """The queue of what people will do, filled as the core's actions come in."""

    def __init__(self, sim: Simulation, responders: Responders) -> None:
        self.sim = sim
        self.responders = responders
        self.queue: list[Item] = []
        self._seq = itertools.count()
        self._working: set[str] = set()
        self.rescued_at: datetime | None = None
        self.checked: dict[str, datetime] = {}
        """Alert id -> when a person first reached the resident (phone or door)."""
        self._rescues: dict[str, datetime] = {}

    def later(self, at: datetime, inp: Input | None, away_until: datetime | None = None) -> None:
        heapq.heappush(self.queue, (at, next(self._seq), inp, away_until))

    def next_at(self) -> datetime | None:
        return self.queue[0][0] if self.queue else None

    def pop(self) -> Item:
        return heapq.heappop(self.queue)

    def seen(self, action: Action, now: datetime) -> None:
        """React to one action of the core; people act only on alerts still open then."""
        if isinstance(action, OpenAlert) and action.kind == "emergency":
            who = "sim-centre"
            ack = Acknowledge(action.alert_id, who, "control_center")
            self.later(now + self.responders.centre_ack_after, ack)
            self.later(
                now + self.responders.centre_resolve_after,
                Resolve(action.alert_id, who, "resolved_by_phone"),
            )
            return
        if not self.responders.inactivity:
            return
        if isinstance(action, Notify) and action.kind == "inactivity":
            if action.role == "guardian" and action.message == "inactivity_guardian":
                self._guardian(action.alert_id, now)
        elif isinstance(action, ChangeStage) and action.kind == "inactivity":
            if action.stage == "control_center":
                self._centre(action.alert_id, now)
        elif isinstance(action, ResolveAlert):
            self._working.discard(action.alert_id)

    # -- guardians

    def _guardian(self, alert_id: str, now: datetime) -> None:
        rng = self._rng(alert_id, "guardian")
        hour = now.astimezone(KST).hour
        if 7 <= hour < 22:
            if rng.random() >= 0.85:
                return  # never read it; the centre's stage will follow
            read = now + timedelta(minutes=rng.uniform(5, 40))
        elif rng.random() < 0.2:
            read = now + timedelta(minutes=rng.uniform(5, 30))
        elif rng.random() < 0.9:
            morning = datetime.combine(now.astimezone(KST).date(), time(7), KST)
            if morning <= now:
                morning += timedelta(days=1)
            read = morning + timedelta(minutes=rng.uniform(0, 60))
        else:
            return
        self._working.add(alert_id)
        t = int(read.timestamp())
        if self.sim.answers_phone(t):
            self._check(alert_id, read)
            self.later(read, Resolve(alert_id, "sim-guardian", "resolved_by_guardian"))
            return
        self.later(read, Acknowledge(alert_id, "sim-guardian", "guardian"))
        self._visit(alert_id, read + timedelta(minutes=rng.uniform(40, 120)), "sim-guardian")

    # -- the centre

    def _centre(self, alert_id: str, now: datetime) -> None:
        rng = self._rng(alert_id, "centre")
        who = "sim-centre"
        ack = now + timedelta(minutes=rng.uniform(1, 5))
        call = ack + timedelta(minutes=rng.uniform(2, 8))
        self.later(ack, Acknowledge(alert_id, who, "control_center"))
        if self.sim.answers_phone(int(call.timestamp())):
            self._check(alert_id, call)
            self.later(call, Resolve(alert_id, who, "resolved_by_phone"))
            return
        self.later(call, RecordStep(alert_id, who, "no_answer"))
        self.later(call, RecordStep(alert_id, who, "dispatched"))
        self._visit(alert_id, call + timedelta(minutes=rng.uniform(30, 90)), who)

    def _visit(self, alert_id: str, at: datetime, who: str) -> None:
        self._check(alert_id, at)
        t = int(at.timestamp())
        away = self.sim.away_until(t)
        if away is not None:
            # Nobody home; a neighbour or the family says where they are: away mode is set.
            self.later(at, None, datetime.fromtimestamp(away, UTC))
        if not self.sim.able(t):
            self._rescues.setdefault(alert_id, at)
            self.later(at, Resolve(alert_id, who, "transported"))
        else:
            outcome = "resolved_by_guardian" if who == "sim-guardian" else "visited"
            self.later(at, Resolve(alert_id, who, outcome))

    def resolved(self, inp: Input, now: datetime) -> None:
        """A person's input was applied at ``now``: a rescue ends the household's run."""
        if isinstance(inp, Resolve) and inp.outcome == "transported":
            self.rescued_at = self.rescued_at or now

    def _check(self, alert_id: str, at: datetime) -> None:
        self.checked.setdefault(alert_id, at)

    def _rng(self, alert_id: str, who: str) -> random.Random:
        return random.Random(f"anbu-people:{self.sim.seed}:{alert_id}:{who}")
