"""The Korean message catalog: wording, local time, SMS length and privacy."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import get_args

import pytest

from alerts.actions import MessageKey
from alerts.messages import (
    LMS_MAX_BYTES,
    SMS_MAX_BYTES,
    DigestItem,
    checkin_prompt,
    digest_line,
    format_time,
    render,
    render_digest,
    sms_bytes,
)

ALL_KEYS: tuple[MessageKey, ...] = get_args(MessageKey)
GUARDIAN_KEYS: tuple[MessageKey, ...] = (
    "inactivity_guardian",
    "inactivity_guardian_reminder",
    "activity_resumed",
    "emergency_alert",
    "emergency_closed",
)
# Widest date and time the format can produce: two-digit month, day and hour.
WIDE = datetime(2026, 12, 31, 14, 59, tzinfo=UTC)  # 12월 31일 23:59 KST
# Messages known to be longer than one SMS with a three-syllable name; keep this empty.
OVER_ONE_SMS: set[MessageKey] = set()


def test_time_is_local_and_written_the_korean_way() -> None:
    assert format_time(datetime(2026, 11, 23, 5, 5, tzinfo=UTC)) == "11월 23일 14:05"
    assert format_time(datetime(2026, 1, 1, 0, 0, tzinfo=UTC)) == "1월 1일 09:00"
    assert format_time(datetime(2026, 1, 1, 0, 0, tzinfo=UTC), tz="UTC") == "1월 1일 00:00"


def test_guardian_inactivity_message() -> None:
    text = render(
        "inactivity_guardian", resident_name="김영희", at=datetime(2026, 11, 23, 5, 5, tzinfo=UTC)
    )
    assert text == (
        "[안부] 김영희 어르신 활동이 11월 23일 14:05 이후 확인되지 않습니다. 안부를 확인해 주세요."
    )


@pytest.mark.parametrize("key", ALL_KEYS)
def test_every_key_renders_name_and_time(key: MessageKey) -> None:
    text = render(key, resident_name="김영희", at=WIDE)
    assert text.startswith("[안부")
    assert "김영희 어르신" in text
    assert "12월 31일 23:59" in text
    assert "{" not in text
    assert text.encode("euc-kr")  # every character can go over Korean SMS


@pytest.mark.parametrize("key", GUARDIAN_KEYS)
def test_guardian_messages_fit_one_sms(key: MessageKey) -> None:
    text = render(key, resident_name="김영희", at=WIDE)
    assert len(text.encode("euc-kr")) <= SMS_MAX_BYTES, text


def test_which_messages_exceed_one_sms() -> None:
    over = {
        key
        for key in ALL_KEYS
        if len(render(key, resident_name="김영희", at=WIDE).encode("euc-kr")) > SMS_MAX_BYTES
    }
    assert over == OVER_ONE_SMS


def test_a_link_goes_on_its_own_line() -> None:
    text = render(
        "emergency_alert", resident_name="김영희", at=WIDE, link="https://anbu.example/a/x1"
    )
    assert text.endswith("\nhttps://anbu.example/a/x1")


HEALTH_WORDS = (
    "혈압",
    "혈당",
    "당뇨",
    "체온",
    "맥박",
    "심박",
    "산소",
    "포화",
    "체중",
    "몸무게",
    "저혈",
    "고혈",
    "낙상",
    "진단",
    "질환",
    "살려",
    "아파",
    "mg",
    "mmHg",
    "kg",
    "bpm",
    "%",
)
VITAL_KEYS: tuple[MessageKey, ...] = tuple(k for k in ALL_KEYS if k.startswith("vital_"))


@pytest.mark.parametrize("key", ALL_KEYS)
def test_no_health_details_in_any_message(key: MessageKey) -> None:
    text = render(key, resident_name="김영희", at=WIDE)
    line = digest_line(key, at=WIDE)
    for word in HEALTH_WORDS:
        assert word not in text
        assert word not in line
    # No number but the date and time: no measured value can slip in.
    assert re.search(r"[0-9]", f"{text}\n{line}".replace("12월 31일 23:59", "")) is None


def test_vital_messages_say_only_that_a_measurement_needs_checking() -> None:
    assert len(VITAL_KEYS) == 3
    texts = {key: render(key, resident_name="김영희", at=WIDE) for key in VITAL_KEYS}
    assert texts == {
        "vital_health_center": (
            "[안부] 김영희 어르신 건강 측정값(12월 31일 23:59) 확인이 필요합니다."
        ),
        "vital_critical_control_center": (
            "[안부 관제] 김영희 어르신 건강 측정값(12월 31일 23:59) 즉시 확인이 필요합니다."
        ),
        "vital_critical_health_center": (
            "[안부] 김영희 어르신 건강 측정값(12월 31일 23:59) 확인 필요. 관제센터에 알렸습니다."
        ),
    }
    assert all(sms_bytes(text) <= SMS_MAX_BYTES for text in texts.values())
    assert digest_line("vital_health_center", at=WIDE) == "12월 31일 23:59 건강 측정값 확인 필요"


def test_checkin_prompt() -> None:
    assert checkin_prompt() == "어르신, 괜찮으세요? 괜찮으시면 '괜찮아'라고 말씀해 주세요."


def test_sms_bytes_counts_hangul_as_two() -> None:
    assert sms_bytes("안부 ok") == 7
    assert sms_bytes("똠") == 2  # outside EUC-KR's 2,350 syllables, still two bytes in CP949


MORNING = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)  # Tuesday 09:00 KST


def test_digest_lists_items_oldest_first() -> None:
    items = [
        DigestItem("박철수", "emergency_alert", datetime(2026, 11, 23, 14, 10, tzinfo=UTC)),
        DigestItem("김영희", "inactivity_official", datetime(2026, 11, 22, 20, 0, tzinfo=UTC)),
    ]
    text = render_digest(items, deliver_at=MORNING, link="https://anbu.example/d")
    assert text.splitlines() == [
        "[안부] 근무시간 외 알림 2건 (11월 24일 09:00 기준)",
        "- 김영희 어르신: 11월 23일 05:00 이후 활동 미확인(관제센터 확인)",
        "- 박철수 어르신: 11월 23일 23:10 긴급 호출 접수",
        "https://anbu.example/d",
    ]


def test_empty_digest() -> None:
    assert render_digest([], deliver_at=MORNING) == (
        "[안부] 근무시간 외 알림이 없습니다. (11월 24일 09:00 기준)"
    )


def test_long_digest_stays_within_one_lms() -> None:
    items = [
        DigestItem(f"주민{n}", "emergency_alert", MORNING - timedelta(minutes=n))
        for n in range(200)
    ]
    text = render_digest(items, deliver_at=MORNING, link="https://anbu.example/d")
    assert sms_bytes(text) <= LMS_MAX_BYTES
    shown = sum(1 for line in text.splitlines() if line.startswith("- "))
    assert 0 < shown < 200
    assert f"외 {200 - shown}건은 링크에서 확인해 주세요." in text
    assert text.endswith("https://anbu.example/d")
