"""A virtual-time driver for the engine, for tests and what-if simulations.

Owns :class:`VirtualResident`: it keeps one resident's state, feeds events at a
:class:`~alerts.clock.FakeClock`'s time, and steps the clock from ``next_due`` to ``next_due``
the way the hub's scheduler would, so a week of policy runs in milliseconds without sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.actions import Action
from alerts.clock import FakeClock
from alerts.engine import Escalation
from alerts.inputs import Input, Tick
from alerts.state import ResidentState


@dataclass(frozen=True, slots=True)
class Step:
    """One decide() call as the hub would have made it."""

    at: datetime
    event: Input
    actions: tuple[Action, ...]


class VirtualResident:
    """One resident driven through the engine in virtual time."""

    def __init__(self, engine: Escalation, state: ResidentState, clock: FakeClock) -> None:
        self.engine = engine
        self.state = state
        self.clock = clock
        self.next_due: datetime | None = None
        self.history: list[Step] = []

    def send(self, event: Input) -> tuple[Action, ...]:
        """Decide ``event`` at the clock's current time and keep the new state."""
        now = self.clock.now()
        decision = self.engine.decide(self.state, event, now)
        self.state = decision.state
        self.next_due = decision.next_due
        self.history.append(Step(now, event, decision.actions))
        return decision.actions

    def run_until(self, until: datetime) -> tuple[Action, ...]:
        """Tick at every ``next_due`` up to and including ``until``; leave the clock there."""
        if until < self.clock.now():
            msg = f"cannot run back in time to {until.isoformat()}"
            raise ValueError(msg)
        actions: list[Action] = []
        while self.next_due is not None and self.next_due <= until:
            self.clock.set(max(self.next_due, self.clock.now()))
            actions.extend(self.send(Tick()))
            if self.next_due is not None and self.next_due <= self.clock.now():
                # The engine promises next_due is in the future; looping here would hang.
                msg = f"next_due {self.next_due.isoformat()} did not move past now"
                raise RuntimeError(msg)
        self.clock.set(until)
        return tuple(actions)

    def advance(self, delta: timedelta) -> tuple[Action, ...]:
        """Let ``delta`` of virtual time pass, firing whatever falls due on the way."""
        return self.run_until(self.clock.now() + delta)
