"""Clocks: the only way the rest of Anbu learns what time it is.

The escalation core never calls ``datetime.now``; adapters hold a :class:`Clock` and pass
``now`` in, so tests can run days of policy in virtual time with :class:`FakeClock`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The machine's wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that moves only when told to: virtual time for tests and simulations."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            msg = "FakeClock needs an aware datetime"
            raise ValueError(msg)
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when
