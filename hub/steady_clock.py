"""The hub's clock: the machine's wall clock, except that a step of it is never taken at once.

Everything the hub decides with is a time difference against stored times: a resident's last
sign of life, a step's due time, a check-in's expiry. A wall clock stepped while the hub runs
(an NTP daemon correcting it, an operator's ``date -s``, a VM restored from a snapshot) moves
every such difference at once: 13 h forward and every resident looks 13 h silent, every
guardian is paged within seconds; 1 h back and every step is an hour late. So the hub keeps
its own time, which follows the wall clock's rate but not its steps:

* Between two readings, the hub's time advances by what the machine's boot-time clock
  (``CLOCK_BOOTTIME``: monotonic, and unlike ``CLOCK_MONOTONIC`` it counts a suspend, when
  real time does pass) says went by. When the wall clock moved more than :data:`STEP` more
  or less than that, the difference is a **step**: it is held (``held``, the hub's time minus
  the wall clock's), logged, counted, and reported on ``/health``.
* What is held is given back slowly: the hub's time runs :data:`SLEW` faster or slower than
  real time until it meets the wall clock again (13 h in 260 h; an hour in 20 h). No silence
  is measured more than 5 % long or short meanwhile, so nobody is paged for a step, and the
  hub converges on the wall clock whichever of the two was right (the devices' clocks, which
  the intake compares with the hub's time, are not affected by the hub's step at all:
  :mod:`hub.clock_check` keeps judging them as before).

A step the devices confirm is taken at once (:meth:`SteadyClock.release`, called by
:mod:`hub.clock_check`): when most of them, and at least three, put the hub's time exactly
what it holds away from theirs, the wall clock was right and real time did pass (a board
without a real-time clock booted on its last shutdown time, then NTP set it): holding it
would make every silence look that much shorter and page hours late.

Drift below :data:`STEP` is followed as it comes (NTP's slewing, a few hundred ppm).
What is held lives in this process only: a hub restarted after a step starts on the wall
clock, and its devices' consensus (:mod:`hub.clock_check`) then tells it how far that is from
theirs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final

import structlog

log = structlog.get_logger(__name__)

STEP: Final = timedelta(seconds=5)
"""A wall clock moving this much more (or less) than real time between two readings stepped."""
SLEW: Final = 0.05
"""How much faster or slower than real time the hub's time runs while it gives back a step."""


def _boot_seconds() -> float:
    """Seconds since boot, suspend included (monotonic where Linux's boot-time clock is not)."""
    try:
        return time.clock_gettime(time.CLOCK_BOOTTIME)
    except (AttributeError, OSError):  # not Linux
        return time.monotonic()


def _wall() -> datetime:
    return datetime.now(UTC)


class SteadyClock:
    """The hub's :class:`alerts.clock.Clock` (see the module docstring); thread-safe."""

    def __init__(
        self,
        wall: Callable[[], datetime] = _wall,
        elapsed: Callable[[], float] = _boot_seconds,
    ) -> None:
        self._wall = wall
        self._elapsed = elapsed
        self._lock = threading.Lock()
        self._last_wall = wall()
        self._last_elapsed = elapsed()
        self._last_now = self._last_wall
        self._held = timedelta(0)
        self.steps = 0
        self.last_step: timedelta | None = None
        self.last_step_at: datetime | None = None

    def now(self) -> datetime:
        with self._lock:
            wall = self._wall()
            reading = self._elapsed()
            elapsed_s = max(0.0, reading - self._last_elapsed)
            elapsed = timedelta(seconds=elapsed_s)
            moved = wall - self._last_wall
            step = moved - elapsed
            if abs(step) > STEP:
                self._held -= step
                self.steps += 1
                self.last_step = step
                self.last_step_at = wall
                log.warning(
                    "clock.step_held",
                    step_s=round(step.total_seconds(), 1),
                    held_s=round(self._held.total_seconds(), 1),
                )
            self._held = _toward_zero(self._held, elapsed * SLEW)
            now = wall + self._held
            # Never backwards: a reading inside STEP (drift, a reading order between two
            # threads) must not undo what a previous reading said.
            now = max(now, self._last_now)
            self._last_wall, self._last_elapsed, self._last_now = wall, reading, now
            return now

    def release(self) -> timedelta:
        """Take what is held at once (the hub's time becomes the wall clock's, backwards too):
        for when something confirms the wall clock (its devices, :mod:`hub.clock_check`).
        Returns what was released (the hub's time moved by minus that)."""
        with self._lock:
            released, self._held = self._held, timedelta(0)
            self._last_now = self._last_wall
        if released:
            log.warning("clock.step_taken", released_s=round(released.total_seconds(), 1))
        return released

    @property
    def held(self) -> timedelta:
        """The hub's time minus the wall clock's: what of a step is not yet given back."""
        with self._lock:
            return self._held

    def report(self) -> dict[str, float | int | str | None]:
        """For ``/health``'s ``clock``: what is held and the last step seen."""
        with self._lock:
            return {
                "held_s": round(self._held.total_seconds(), 1),
                "steps": self.steps,
                "last_step_s": (
                    None if self.last_step is None else round(self.last_step.total_seconds(), 1)
                ),
                "last_step_at": None
                if self.last_step_at is None
                else self.last_step_at.isoformat(),
            }


def _toward_zero(held: timedelta, by: timedelta) -> timedelta:
    if held > timedelta(0):
        return max(timedelta(0), held - by)
    return min(timedelta(0), held + by)
