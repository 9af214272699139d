"""``ANBU_EXTRA_HOLIDAYS``: a 임시공휴일 the government declares closes the officials' office."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from alerts.calendar import public_holidays
from hub.runtime import working_calendar
from hub.settings_errors import load_settings

SEOUL = ZoneInfo("Asia/Seoul")
# A Friday the holidays library has as a working day (the day before 개천절's weekend).
DECLARED = date(2026, 10, 2)


def test_a_declared_day_from_the_setting_is_not_a_working_day(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert DECLARED not in public_holidays("KR", 2026)
    monkeypatch.setenv("ANBU_EXTRA_HOLIDAYS", '["2026-10-02", "2027-01-04"]')
    settings = load_settings()
    assert settings.extra_holidays == [DECLARED, date(2027, 1, 4)]
    calendar = working_calendar(settings)
    assert not calendar.is_working_day(DECLARED)
    assert not calendar.is_working_time(datetime.combine(DECLARED, time(10), SEOUL))
    # An official's page waits for the next working morning: Tuesday, after 개천절's
    # substitute holiday on Monday the 5th.
    waits_until = calendar.next_working_start(datetime.combine(DECLARED, time(10), SEOUL))
    assert waits_until == datetime(2026, 10, 6, 9, tzinfo=SEOUL)


def test_without_the_setting_the_same_day_is_a_working_day(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANBU_EXTRA_HOLIDAYS", raising=False)
    calendar = working_calendar(load_settings())
    assert calendar.is_working_time(datetime.combine(DECLARED, time(10), SEOUL))


def test_an_empty_setting_means_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANBU_EXTRA_HOLIDAYS", "")
    assert load_settings().extra_holidays == []
