"""Korean public holidays of 2026–2028 as the pinned ``holidays`` release knows them.

``holidays`` before 0.102 missed the 2026 amendment (노동절 and 제헌절 as public holidays from
2026, with their substitutes: 0.99–0.101 lack 2026-05-01, 2027-05-03 and 2027-07-19) and
0.50 invented a 2027-03-03 presidential election; pyproject.toml pins ``holidays>=0.102``.
With an older release installed these tests fail.
"""

from __future__ import annotations

from datetime import date, datetime, time
from importlib.metadata import version
from zoneinfo import ZoneInfo

import pytest

from alerts.calendar import WorkingCalendar, public_holidays

SEOUL = ZoneInfo("Asia/Seoul")


@pytest.mark.parametrize(
    ("day", "why"),
    [
        (date(2026, 5, 1), "노동절 (Labour Day), a public holiday from 2026"),
        (date(2026, 6, 3), "제9회 전국동시지방선거 (local elections)"),
        (date(2026, 7, 17), "제헌절 (Constitution Day), a public holiday again from 2026"),
        (date(2027, 2, 9), "설날 대체공휴일 (Seollal falls on a Sunday)"),
        (date(2027, 5, 3), "노동절 대체공휴일 (May 1 is a Saturday)"),
        (date(2027, 7, 19), "제헌절 대체공휴일 (July 17 is a Saturday)"),
        (date(2028, 4, 12), "제23대 국회의원선거 (National Assembly election)"),
    ],
)
def test_the_pinned_library_knows_the_holiday(day: date, why: str) -> None:
    assert day.weekday() < 5, "each of these is a weekday the office would otherwise open"
    assert day in public_holidays("KR", day.year), f"{day} {why} (holidays {version('holidays')})"
    assert not WorkingCalendar().is_working_day(day)


def test_no_invented_2027_election() -> None:
    # The 21st presidential election was held early, on 2025-06-03; 2027-03-03 is a Wednesday
    # like any other.
    assert date(2027, 3, 3) not in public_holidays("KR", 2027)
    assert WorkingCalendar().is_working_time(datetime.combine(date(2027, 3, 3), time(10), SEOUL))
