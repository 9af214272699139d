"""Working hours: when an official may be paged, and when the next working day starts.

Owns :class:`WorkingCalendar` (Monday–Friday 09:00–18:00 Asia/Seoul, Korean public holidays
excluded). Holiday tables come from the ``holidays`` library, built once per year and cached,
so answers depend only on the arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from protocol.vocab import KOREA_TZ

_SATURDAY = 5
# No real calendar has a year without a working day; a bound turns a bad configuration
# (every day closed) into an error instead of an endless loop.
_MAX_DAYS_AHEAD = 366


@lru_cache(maxsize=64)
def public_holidays(country: str, year: int) -> frozenset[date]:
    """Public holiday dates of ``country`` in ``year`` (cached: the table never changes)."""
    table = holidays.country_holidays(country, years=year)
    return frozenset(day for day in table if isinstance(day, date))


@dataclass(frozen=True, slots=True)
class WorkingCalendar:
    """Office hours of the officials: weekdays, office hours, no public holidays.

    ``extra_holidays`` covers days the government closes at short notice (임시공휴일)
    before the ``holidays`` library knows about them.
    """

    tz: str = KOREA_TZ
    country: str = "KR"
    opens: time = time(9, 0)
    closes: time = time(18, 0)
    extra_holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        ZoneInfo(self.tz)  # fail at construction, not at the first page in the night
        if not self.opens < self.closes:
            msg = f"opens ({self.opens}) must be before closes ({self.closes})"
            raise ValueError(msg)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` (a local calendar date) is a weekday that is not a holiday."""
        if day.weekday() >= _SATURDAY:
            return False
        if day in self.extra_holidays:
            return False
        return day not in public_holidays(self.country, day.year)

    def is_working_time(self, at: datetime) -> bool:
        """Whether ``at`` falls in office hours on a working day, in the calendar's zone."""
        local = _aware(at).astimezone(self.zone)
        return self.is_working_day(local.date()) and self.opens <= local.time() < self.closes

    def next_working_start(self, at: datetime) -> datetime:
        """``at`` itself if it is working time, else the next opening time; aware UTC."""
        at = _aware(at)
        if self.is_working_time(at):
            return at.astimezone(UTC)
        local = at.astimezone(self.zone)
        day = local.date()
        if local.time() >= self.opens:
            day += timedelta(days=1)
        for _ in range(_MAX_DAYS_AHEAD):
            if self.is_working_day(day):
                return datetime.combine(day, self.opens, tzinfo=self.zone).astimezone(UTC)
            day += timedelta(days=1)
        msg = f"no working day within {_MAX_DAYS_AHEAD} days of {at.isoformat()}"
        raise ValueError(msg)


def _aware(at: datetime) -> datetime:
    if at.utcoffset() is None:
        msg = f"need an aware datetime, got naive {at.isoformat()}"
        raise ValueError(msg)
    return at
