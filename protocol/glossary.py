"""The Korean words staff, guardians and reports see for each domain value: one glossary.

The board, the staff pages, the guardian page and the district reports all name an alert
kind, a stage, an outcome, a centre step, a device kind or a role with these words, so that
"이송" on the board is "이송" in the monthly report. Each table is typed by its vocabulary
(:mod:`protocol.vocab`), and tests/protocol/test_glossary.py checks that every value has
its word. SMS wording is the core's (:mod:`alerts.messages`) and uses these where it names
the same things.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from protocol.models import VitalKind
from protocol.vocab import (
    ONE_TIME_STEPS,
    AlertKind,
    CentreStep,
    ContactRole,
    DeviceKind,
    InactiveReason,
    Outcome,
    StaffRole,
    Stage,
)

ALERT_KIND_WORDS: Final[dict[AlertKind, str]] = {
    "emergency": "긴급 호출",
    "inactivity": "활동 없음",
    "monitoring_lost": "모니터링 끊김",
    "device_offline": "기기 끊김",
    "vital_out_of_range": "건강 수치 이상",
    "water_running": "물 계속 흐름",
}

STAGE_WORDS: Final[dict[Stage, str]] = {
    "checkin": "안부 확인",
    "guardian": "보호자 단계",
    "health_center": "보건소 단계",
    "control_center": "관제센터 단계",
}

OUTCOME_WORDS: Final[dict[Outcome, str]] = {
    "false_alarm": "오경보",
    "resolved_by_phone": "전화로 확인",
    "visited": "방문 확인",
    "transported": "병원 이송",
    "resolved_by_guardian": "보호자 확인",
    "other": "기타",
}

STEP_WORDS: Final[dict[CentreStep, str]] = {
    "called_resident": "어르신과 통화",
    "no_answer": "받지 않음",
    "dispatched": "출동",
    "called_119": "119 신고",
    "note": "메모",
}

DEVICE_KIND_SHOWN: Final[dict[DeviceKind, str]] = {
    "speaker": "AI 스피커",
    "phone": "휴대전화",
    "sensors": "가정용 센서",
}

VITAL_KIND_WORDS: Final[dict[VitalKind, str]] = {
    "blood_pressure": "혈압",
    "glucose": "혈당",
    "weight": "체중",
    "heart_rate": "맥박",
    "spo2": "산소포화도",
    "steps": "걸음 수",
}

CONTACT_ROLE_WORDS: Final[dict[ContactRole, str]] = {
    "guardian": "보호자",
    "official": "담당 공무원",
    "control_center": "관제센터",
    "health_center": "보건소",
    "supervisor": "관제 책임자",
}

INACTIVE_REASON_WORDS: Final[dict[InactiveReason, str]] = {
    "moved": "이사",
    "care": "시설 입소",
    "died": "사망",
    "other": "기타",
}

STAFF_ROLE_WORDS: Final[dict[StaffRole, str]] = {
    "admin": "관리자",
    "operator": "관제 요원",
    "official": "담당 공무원",
    "health_center": "보건소 방문간호사",
}

RESIDENT_STATE_WORDS: Final[dict[str, str]] = {
    "normal": "정상",
    "checkin_pending": "안부 확인 중",
    "inactive_guardian": "활동 없음(보호자)",
    "inactive_control_center": "활동 없음(관제)",
    "emergency": "긴급",
    "monitoring_lost": "모니터링 끊김",
    "device_problem": "기기 문제",
    "away": "부재",
    "unknown": "상태 모름",
    "deactivated": "보호 종료",
}
"""A resident's state as the residents API describes it (hub/api/residents.py)."""

TIMELINE_WORDS: Final[dict[str, str]] = {
    "opened": "경보 발생",
    "acknowledged": "접수",
    "resolved": "종료",
    "guardian_checking": "보호자 확인 중 (관제센터 접수 전)",
    "cancel_requested": "어르신의 취소 요청",
    "held_quiet_hours": "보호자 방해 금지 시간: 알림 보류",
    "delivery_failed": "문자 전달 실패",
    "delivery_unknown": "문자 전달 미확인",
    "backup_guardian_paged": "예비 보호자에게 연락",
    "no_guardian_reachable": "연락되는 보호자 없음",
    "digest_queued": "다음 근무일 요약에 추가",
    "no_recipients": "받을 사람 없음",
    "held_withdrawn": "보류된 보호자 문자 취소(경보 종료)",
    "held_released": "보류된 보호자 문자 즉시 발송(경보 종료)",
    "water_running": "다른 누수 센서도 물 감지",
}
"""What an alert's timeline entry records (beyond the centre's steps, :data:`STEP_WORDS`)."""

REASON_WORDS: Final[dict[str, str]] = {
    "voice": "음성",
    "button": "버튼",
    "fall": "낙상 감지",
    "app": "앱",
    "sensor": "센서",
    "guardian_after": "보호자 단계 시간 경과",
    "control_center_after": "관제 단계 시간 경과",
    "routine": "평소 생활과 다름",
    "ack_resolve_within": "보호자 확인 후 미해결",
    "all_offline": "모든 기기 끊김",
    "activity_resumed": "활동 재개",
    "water_running_after": "물이 계속 흐름",
    "water_stopped": "물 멈춤",
}
"""The short reason a timeline entry or an automatic close carries (a trigger, a rule)."""

SENSOR_HEALTH_WORDS: Final[dict[str, str]] = {
    "unavailable": "응답 없음",
    "battery_low": "배터리 부족",
    "wet": "물 감지",
    "gateway_offline": "게이트웨이 꺼짐",
    "gateway_silent": "게이트웨이 응답 없음",
    "days": "{n}일",
    "hours": "{n}시간",
    "under_an_hour": "1시간 미만",
}
"""A sensor's health as the board and the installer's battery list say it (hub/sensor_lines.py);
the keys ``gateway_*`` are the protocol's ``sensing_problem``."""

DELIVERY_WORDS: Final[dict[str, str]] = {
    "pending": "대기",
    "sending": "보내는 중",
    "sent": "발송",
    "delivered": "도착",
    "failed": "실패",
    "unknown": "미확인",
    "withdrawn": "보내지 않음(경보 종료)",
}
"""A notification's delivery state (hub/store/outbox.py)."""

ACKNOWLEDGED_BY_CENTRE: Final = "접수"
"""The centre's acknowledgement; never used for a guardian's tap."""
GUARDIAN_CHECKING: Final = "보호자 확인 중"
"""A guardian's "제가 확인해 볼게요": the centre still has to answer an emergency."""


def _plain(words: Mapping[Any, str]) -> dict[str, str]:
    return {str(key): word for key, word in words.items()}


def glossary() -> dict[str, dict[str, str]]:
    """Every table by name, for pages and scripts (the board reads it as JSON)."""
    return {
        "alert_kind": _plain(ALERT_KIND_WORDS),
        "stage": _plain(STAGE_WORDS),
        "outcome": _plain(OUTCOME_WORDS),
        "step": _plain(STEP_WORDS),
        "device_kind": _plain(DEVICE_KIND_SHOWN),
        "vital_kind": _plain(VITAL_KIND_WORDS),
        "contact_role": _plain(CONTACT_ROLE_WORDS),
        "staff_role": _plain(STAFF_ROLE_WORDS),
        "inactive_reason": _plain(INACTIVE_REASON_WORDS),
        "one_time_step": {step: STEP_WORDS[step] for step in sorted(ONE_TIME_STEPS)},
        "resident_state": dict(RESIDENT_STATE_WORDS),
        "timeline": dict(TIMELINE_WORDS),
        "reason": dict(REASON_WORDS),
        "delivery": dict(DELIVERY_WORDS),
        "sensor_health": dict(SENSOR_HEALTH_WORDS),
    }
