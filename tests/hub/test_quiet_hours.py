"""Quiet hours: routine messages wait for the window to end, bounded; bad specs are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hub.notify.quiet import parse_quiet_hours, quiet_until

SEOUL = ZoneInfo("Asia/Seoul")
TEN_H = timedelta(hours=10)


def _kst(hour: int, minute: int = 0, day: int = 23) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SEOUL)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (_kst(21, 59), None),
        (_kst(22, 0), _kst(7, 0, day=24)),
        (_kst(3, 30), _kst(7, 0)),
        (_kst(7, 0), None),
        (_kst(12, 0), None),
    ],
)
def test_overnight_window(now: datetime, expected: datetime | None) -> None:
    got = quiet_until("22:00-07:00", now.astimezone(UTC), "Asia/Seoul", TEN_H)
    assert got == (expected.astimezone(UTC) if expected else None)


def test_daytime_window() -> None:
    assert quiet_until("13:00-14:00", _kst(13, 30), "Asia/Seoul", TEN_H) == _kst(14)
    assert quiet_until("13:00-14:00", _kst(14, 0), "Asia/Seoul", TEN_H) is None


def test_the_hold_is_bounded() -> None:
    now = _kst(22, 0)
    assert quiet_until("22:00-07:00", now, "Asia/Seoul", timedelta(hours=2)) == now + timedelta(
        hours=2
    )
    assert quiet_until("22:00-07:00", now, "Asia/Seoul", timedelta(0)) is None


def test_no_quiet_hours_means_no_hold() -> None:
    assert quiet_until(None, _kst(3), "Asia/Seoul", TEN_H) is None


@pytest.mark.parametrize("spec", ["22-07", "25:00-07:00", "22:00-22:00", "", "22:00~07:00"])
def test_bad_specs_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="quiet_hours"):
        parse_quiet_hours(spec)
