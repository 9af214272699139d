"""Korean SMS text rules: byte counts, carryable characters, SMS vs LMS, no silent cuts."""

from __future__ import annotations

import unicodedata

import pytest

from hub.notify.sms_text import (
    LMS_MAX_BYTES,
    SMS_MAX_BYTES,
    SUBJECT_MAX_BYTES,
    SmsTooLong,
    carryable,
    euckr_bytes,
    prepare,
)

HANGUL_40 = ("안녕하세요어르신오늘도건강하신지확인드립니다" * 2)[:40]
HANGUL_200 = ("김순자님의안부확인이열두시간동안없습니다보호자께서연락부탁드립니다" * 7)[:200]


def test_byte_counts_follow_euc_kr() -> None:
    assert euckr_bytes("abc 123") == 7
    assert euckr_bytes("안부") == 4
    assert euckr_bytes("똠") == 2  # cp949 extension syllable: still one 2-byte code
    assert euckr_bytes("·※") == 4


def test_forty_hangul_syllables_go_as_sms_with_exact_bytes() -> None:
    assert len(HANGUL_40) == 40
    text = prepare(HANGUL_40)
    assert text.kind == "SMS"
    assert text.subject is None
    assert text.body == HANGUL_40
    assert text.body_bytes == 80
    assert text.replaced == 0


def test_exactly_ninety_bytes_is_still_sms_and_ninety_one_is_lms() -> None:
    assert prepare("가" * 45).kind == "SMS"
    assert prepare("가" * 45).body_bytes == SMS_MAX_BYTES
    over = prepare("가" * 45 + "a")
    assert over.kind == "LMS"
    assert over.body_bytes == 91


def test_two_hundred_hangul_syllables_go_as_lms_with_short_subject() -> None:
    assert len(HANGUL_200) == 200
    text = prepare(
        HANGUL_200, subject="[안부] 김순자님 안부 확인이 열두 시간째 없습니다 - 보호자 연락 요망"
    )
    assert text.kind == "LMS"
    assert text.body == HANGUL_200
    assert text.body_bytes == 400
    assert text.subject is not None
    assert euckr_bytes(text.subject) <= SUBJECT_MAX_BYTES
    # Cut on a character boundary: the subject is a prefix of the requested one.
    assert "[안부] 김순자님 안부 확인이 열두 시간째".startswith(text.subject.rstrip())


def test_subject_trim_never_splits_a_syllable() -> None:
    # 19 syllables (38 bytes) + "a" (39) + a syllable that would make 41.
    text = prepare("가" * 100, subject="나" * 19 + "a" + "다다")
    assert text.subject == "나" * 19 + "a"
    assert euckr_bytes(text.subject) == 39


def test_lms_without_subject_gets_the_default() -> None:
    text = prepare("가" * 100, subject="   ")
    assert text.subject == "안부 알림"


def test_emoji_are_replaced_not_cut() -> None:
    body = "할머니 괜찮으세요? 😀 오늘 약 드셨나요 👍🏽 ❤️ 가족 👨‍👩‍👧 드림 🇰🇷"
    text = prepare(body)
    assert text.body == "할머니 괜찮으세요? ? 오늘 약 드셨나요 ? ♥ 가족 ? 드림 ?"
    assert text.replaced == 5
    # Everything after each emoji survived.
    assert text.body.endswith("드림 ?")
    text.body.encode("cp949")


def test_close_equivalents_for_common_punctuation() -> None:
    out, replaced = carryable("• 복약 – 오전 — 완료 ✓")
    assert out == "· 복약 - 오전 - 완료 v"
    assert replaced == 4
    # Characters EUC-KR already has are left alone, fancy quotes included.
    assert carryable("“안부” ‘확인’ … ※ ★") == ("“안부” ‘확인’ … ※ ★", 0)


def test_invisible_characters_are_dropped_and_counted() -> None:
    assert carryable("안\u200b부\ufeff") == ("안부", 2)
    assert carryable("안부\u00a0확인") == ("안부 확인", 1)


def test_decomposed_hangul_is_composed() -> None:
    decomposed = unicodedata.normalize("NFD", "안부 확인")
    assert decomposed != "안부 확인"
    out, replaced = carryable(decomposed)
    assert out == "안부 확인"
    assert replaced == 0
    assert euckr_bytes(out) == 9


def test_crlf_counts_as_one_line_break() -> None:
    assert carryable("가\r\n나\r다") == ("가\n나\n다", 0)


def test_over_two_thousand_bytes_raises_and_does_not_echo_the_body() -> None:
    body = "가" * 1000 + "a"
    with pytest.raises(SmsTooLong) as caught:
        prepare(body)
    assert "2001" in str(caught.value)
    assert "가가" not in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_exactly_two_thousand_bytes_is_accepted() -> None:
    text = prepare("가" * 1000)
    assert text.kind == "LMS"
    assert text.body_bytes == LMS_MAX_BYTES


def test_empty_body_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        prepare("  ")
