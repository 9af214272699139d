"""Every Korean sentence Anbu sends to people, in one place.

Owns the message catalog (:func:`render` for one notification, :func:`render_digest` for the
next-working-day digest of an official or the health centre, :func:`checkin_prompt` for the
speaker). Messages name the resident and a time and nothing else: no vital signs (not even
which was measured), no diagnosis, no emergency transcript, because an SMS is read on lock
screens and forwarded.

Guardian messages aim at one SMS (90 bytes in EUC-KR, about 45 Hangul); a link pushes a
message into LMS, which carriers accept up to 2,000 bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from alerts.actions import MessageKey
from protocol.vocab import KOREA_TZ

SMS_MAX_BYTES = 90
LMS_MAX_BYTES = 2000

# {name}: the resident's name; {time}: the moment the message speaks of (see render()).
_CATALOG: dict[MessageKey, str] = {
    "inactivity_guardian": (
        "[안부] {name} 어르신 활동이 {time} 이후 확인되지 않습니다. 안부를 확인해 주세요."
    ),
    "inactivity_control_center": (
        "[안부 관제] {name} 어르신 활동이 {time} 이후 확인되지 않습니다. 확인 바랍니다."
    ),
    "inactivity_official": (
        "[안부] {name} 어르신 활동이 {time} 이후 확인되지 않아 관제센터에 알렸습니다."
    ),
    "inactivity_guardian_reminder": (
        "[안부] {name} 어르신 활동이 {time} 이후 확인되지 않아 관제센터에 알렸습니다."
    ),
    "inactivity_unresolved_after_ack": (
        "[안부 관제] {name} 어르신: 보호자가 {time}에 확인 중이라 했으나 미해결입니다."
    ),
    "activity_resumed": "[안부] {name} 어르신 활동이 {time}에 다시 확인되었습니다.",
    # Not "접수": that is the centre's acknowledgement, which has not happened yet.
    "emergency_alert": "[안부 긴급] {name} 어르신이 {time}에 긴급 호출을 하셨습니다.",
    "emergency_realert": (
        "[안부 긴급 재알림] {name} 어르신 긴급 호출({time})이 아직 접수되지 않았습니다."
    ),
    "emergency_supervisor": (
        "[안부 긴급] {name} 어르신 긴급 호출({time})이 제시간에 접수되지 않았습니다."
    ),
    "emergency_supervisor_answered": (
        "[안부 긴급] {name} 어르신 긴급 호출({time})이 관제센터에 접수되었습니다."
    ),
    # Officials hear of an emergency once the centre has it (or, failing that, as it closes
    # or when it has gone unanswered for the policy's control_center_after).
    "emergency_official": "[안부 긴급] {name} 어르신 긴급 호출({time}), 관제센터 확인 중입니다.",
    "emergency_official_closed": (
        "[안부 긴급] {name} 어르신 긴급 호출({time})을 관제센터가 종료했습니다."
    ),
    "emergency_official_unanswered": (
        "[안부 긴급] {name} 어르신 긴급 호출({time})이 관제센터에 접수되지 않았습니다."
    ),
    "emergency_cancel_requested": (
        "[안부] {name} 어르신 긴급 호출 취소 요청({time}). 전화로 확인해 주세요."
    ),
    "emergency_closed": "[안부] {name} 어르신의 긴급 상황이 {time}에 종료되었습니다.",
    "monitoring_lost": "[안부 관제] {name} 어르신 댁 기기가 {time}부터 모두 연결되지 않습니다.",
    "monitoring_restored": "[안부 관제] {name} 어르신 댁 기기 연결이 {time}에 복구되었습니다.",
    # Vitals: which measurement and its value stay on the board, never in an SMS.
    "vital_health_center": "[안부] {name} 어르신 건강 측정값({time}) 확인이 필요합니다.",
    "vital_critical_control_center": (
        "[안부 관제] {name} 어르신 건강 측정값({time}) 즉시 확인이 필요합니다."
    ),
    "vital_critical_health_center": (
        "[안부] {name} 어르신 건강 측정값({time}) 확인 필요. 관제센터에 알렸습니다."
    ),
    # A water sensor wet too long: where and since when, nothing about the resident.
    "water_running": "[안부] {name} 어르신 댁에 {time}부터 물이 계속 흐릅니다. 확인해 주세요.",
    # Trends reach officials in their digest only; these are what the work list says.
    "trend_activity_drop": "[안부] {name} 어르신 활동 감소 추이({time}). 다음 방문 때 살펴 주세요.",
    "trend_sleep_shift": "[안부] {name} 어르신 수면 시간대 변화({time}). 다음 방문 때 살펴 주세요.",
    "trend_restless_nights": (
        "[안부] {name} 어르신 밤중 잦은 기상({time}). 다음 방문 때 살펴 주세요."
    ),
}

# One line per item in an official's digest: what happened, without the greeting.
_DIGEST_LINE: dict[MessageKey, str] = {
    "inactivity_guardian": "{time} 이후 활동 미확인(보호자 연락)",
    "inactivity_control_center": "{time} 이후 활동 미확인(관제센터 확인)",
    "inactivity_official": "{time} 이후 활동 미확인(관제센터 확인)",
    "inactivity_guardian_reminder": "{time} 이후 활동 미확인(보호자 재안내)",
    "inactivity_unresolved_after_ack": "{time} 보호자 확인 중 미해결(관제센터 확인)",
    "activity_resumed": "{time} 활동 다시 확인",
    "emergency_alert": "{time} 긴급 호출 접수",
    "emergency_realert": "{time} 긴급 호출 접수 지연",
    "emergency_supervisor": "{time} 긴급 호출 접수 지연",
    "emergency_supervisor_answered": "{time} 긴급 호출 접수",
    "emergency_official": "{time} 긴급 호출 접수(관제센터 확인 중)",
    "emergency_official_closed": "{time} 긴급 호출(관제센터 종료)",
    "emergency_official_unanswered": "{time} 긴급 호출 미접수(관제센터 확인 필요)",
    "emergency_cancel_requested": "{time} 긴급 호출 취소 요청",
    "emergency_closed": "{time} 긴급 상황 종료",
    "monitoring_lost": "{time}부터 모든 기기 연결 끊김",
    "monitoring_restored": "{time} 기기 연결 복구",
    "vital_health_center": "{time} 건강 측정값 확인 필요",
    "vital_critical_control_center": "{time} 건강 측정값 즉시 확인 필요",
    "vital_critical_health_center": "{time} 건강 측정값 확인 필요(관제센터 연락)",
    "water_running": "{time}부터 물 계속 흐름(누수 센서)",
    "trend_activity_drop": "{time} 활동 감소 추이(생활 변화)",
    "trend_sleep_shift": "{time} 수면 시간대 변화(생활 변화)",
    "trend_restless_nights": "{time} 밤중 잦은 기상(생활 변화)",
}

_CHECKIN_PROMPT = "어르신, 괜찮으세요? 괜찮으시면 '괜찮아'라고 말씀해 주세요."


@dataclass(frozen=True, slots=True)
class DigestItem:
    """One queued notification for the digest: whose, which message, and its moment."""

    resident_name: str
    message: MessageKey
    at: datetime


def format_time(at: datetime, tz: str = KOREA_TZ) -> str:
    """Local time as people write it in an SMS: ``11월 23일 14:05``."""
    local = at.astimezone(ZoneInfo(tz))
    return f"{local.month}월 {local.day}일 {local:%H:%M}"


def render(
    message: MessageKey,
    *,
    resident_name: str,
    at: datetime,
    tz: str = KOREA_TZ,
    link: str | None = None,
) -> str:
    """The text of one notification.

    ``at`` is the moment the message speaks of; the engine puts it on each ``Notify`` as
    ``event_at``: the last activity (inactivity), the call (emergency), when the devices went
    silent or came back, when activity resumed or the emergency closed, when a vital sign
    was measured.
    """
    text = _CATALOG[message].format(name=resident_name, time=format_time(at, tz))
    if link:
        text = f"{text}\n{link}"
    return text


def digest_line(message: MessageKey, *, at: datetime, tz: str = KOREA_TZ) -> str:
    """One item of an official's digest, without the resident's name."""
    return _DIGEST_LINE[message].format(time=format_time(at, tz))


def checkin_prompt() -> str:
    """What a speaker says to ask whether the resident is all right."""
    return _CHECKIN_PROMPT


def render_digest(
    items: Iterable[DigestItem],
    *,
    deliver_at: datetime,
    tz: str = KOREA_TZ,
    link: str | None = None,
) -> str:
    """An official's digest of what happened outside working hours, oldest first.

    Kept within one LMS: items that don't fit are counted, and the link shows them all.
    """
    ordered = sorted(items, key=lambda item: item.at)
    header = f"[안부] 근무시간 외 알림 {len(ordered)}건 ({format_time(deliver_at, tz)} 기준)"
    if not ordered:
        return f"[안부] 근무시간 외 알림이 없습니다. ({format_time(deliver_at, tz)} 기준)"
    footer = f"\n{link}" if link else ""
    lines = [header]
    for shown, item in enumerate(ordered):
        line = f"- {item.resident_name} 어르신: " + _DIGEST_LINE[item.message].format(
            time=format_time(item.at, tz)
        )
        rest = len(ordered) - shown - 1
        more = f"\n외 {rest}건은 링크에서 확인해 주세요." if rest else ""
        candidate = "\n".join([*lines, line]) + more + footer
        if sms_bytes(candidate) > LMS_MAX_BYTES:
            more = f"\n외 {rest + 1}건은 링크에서 확인해 주세요."
            return "\n".join(lines) + more + footer
        lines.append(line)
    return "\n".join(lines) + footer


def sms_bytes(text: str) -> int:
    """Length as Korean carriers count it (EUC-KR; CP949 for the Hangul EUC-KR lacks)."""
    return len(text.encode("cp949", errors="replace"))
