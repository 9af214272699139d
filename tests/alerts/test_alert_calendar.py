"""Working calendar: office hours, weekends and real 2026 Korean public holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from alerts.calendar import WorkingCalendar, public_holidays

SEOUL = ZoneInfo("Asia/Seoul")


def kst(month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=SEOUL)


def test_library_knows_chuseok_2026() -> None:
    days = public_holidays("KR", 2026)
    assert {date(2026, 9, 24), date(2026, 9, 25), date(2026, 9, 26)} <= days
    assert date(2026, 9, 23) not in days


@pytest.mark.parametrize(
    ("at", "working"),
    [
        (kst(11, 23, 9), True),  # Monday, opening minute
        (kst(11, 23, 8, 59, 59), False),
        (kst(11, 23, 17, 59, 59), True),
        (kst(11, 23, 18), False),  # closing time is already after hours
        (kst(11, 28, 11), False),  # Saturday
        (kst(11, 29, 11), False),  # Sunday
        (kst(9, 24, 11), False),  # 추석 연휴 (Thursday)
        (kst(9, 25, 11), False),  # 추석 (Friday)
        (kst(9, 23, 11), True),  # the Wednesday before is a normal day
        (kst(12, 25, 11), False),  # 성탄절, a Friday
        (kst(6, 3, 11), False),  # local election day
    ],
)
def test_is_working_time(calendar: WorkingCalendar, at: datetime, working: bool) -> None:
    assert calendar.is_working_time(at) is working


def test_is_working_time_reads_local_time_from_utc(calendar: WorkingCalendar) -> None:
    # 00:30 UTC Monday is 09:30 in Seoul; 23:30 UTC Sunday is 08:30 Monday in Seoul.
    assert calendar.is_working_time(datetime(2026, 11, 23, 0, 30, tzinfo=UTC))
    assert not calendar.is_working_time(datetime(2026, 11, 22, 23, 30, tzinfo=UTC))


@pytest.mark.parametrize(
    ("at", "start"),
    [
        (kst(11, 24, 7), kst(11, 24, 9)),  # before hours: same morning
        (kst(11, 24, 19), kst(11, 25, 9)),  # after hours: next morning
        (kst(11, 27, 18), kst(11, 30, 9)),  # Friday evening: Monday
        (kst(11, 28, 3), kst(11, 30, 9)),  # Saturday night: Monday
        (kst(9, 23, 20), kst(9, 28, 9)),  # Wednesday before 추석: after the holiday + weekend
        (kst(9, 24, 8), kst(9, 28, 9)),  # 추석 연휴 morning
        (kst(12, 24, 22), kst(12, 28, 9)),  # Christmas Eve: Christmas is Friday
        (kst(12, 31, 20), datetime(2027, 1, 4, 9, tzinfo=SEOUL)),  # over new year + weekend
    ],
)
def test_next_working_start(calendar: WorkingCalendar, at: datetime, start: datetime) -> None:
    result = calendar.next_working_start(at)
    assert result == start
    assert result.tzinfo is UTC
    assert calendar.is_working_time(result)


def test_next_working_start_in_hours_is_now(calendar: WorkingCalendar) -> None:
    at = kst(11, 24, 14, 5)
    assert calendar.next_working_start(at) == at
    assert calendar.next_working_start(at).tzinfo is UTC


def test_naive_times_are_refused(calendar: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="aware"):
        calendar.is_working_time(datetime(2026, 11, 23, 10))
    with pytest.raises(ValueError, match="aware"):
        calendar.next_working_start(datetime(2026, 11, 23, 10))


def test_extra_holidays_close_the_office() -> None:
    calendar = WorkingCalendar(extra_holidays=frozenset({date(2026, 11, 24)}))
    assert not calendar.is_working_time(kst(11, 24, 10))
    assert calendar.next_working_start(kst(11, 23, 19)) == kst(11, 25, 9)


def test_bad_configuration_fails_early() -> None:
    with pytest.raises(KeyError):
        WorkingCalendar(tz="Asia/Nowhere")
    with pytest.raises(ValueError, match="before"):
        WorkingCalendar(opens=time(18), closes=time(9))


def test_is_frozen(calendar: WorkingCalendar) -> None:
    with pytest.raises(AttributeError):
        calendar.tz = "UTC"  # type: ignore[misc]
