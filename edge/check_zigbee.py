"""The Zigbee half of ``anbu edge check`` (:mod:`edge.check`): pure, no I/O.

Owns what Zigbee2MQTT's topics (the last payload of each, retained or heard in the check's
window) say about a home's coverage: the bridge, each device of ``bridge/devices`` (its
availability, battery, a plug's power against its activity threshold, what it last sent),
presence or motion in the home and in each bedroom (the keys that count are the agent's own,
:data:`edge.z2m_catalogue.RULES`). And the findings' shape, shared with the hub half: a level
and one Korean line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from edge.z2m_catalogue import RULES, main_signal

Level = Literal["ok", "warn", "problem"]
MARKS: Final[dict[Level, str]] = {"ok": "[정상]", "warn": "[주의]", "problem": "[문제]"}
BEDROOM_WORDS: Final = ("bedroom", "침실", "안방")
BATTERY_LOW_PCT: Final = 20
# What counts as seeing the resident move is the agent's own table (edge.z2m_catalogue).
_MOTION_KEYS: Final = frozenset(rule.key for rule in RULES if rule.source == "motion")
_SHOWN_KEYS: Final = (*(rule.key for rule in RULES if rule.key != "action"),)
# A device by its main signal, in the installer's words.
_ROLE_WORDS: Final[dict[str, str]] = {
    "water_leak": "누수 센서",
    "contact": "문 센서",
    "presence": "재실 센서",
    "occupancy": "움직임 센서",
    "motion_state": "재실 센서",
    "presence_state": "재실 센서",
    "vibration": "진동 센서",
    "power": "플러그",
    "action": "버튼",
    "state": "스위치",
}


@dataclass(frozen=True)
class Finding:
    level: Level
    text: str

    def line(self) -> str:
        return f"{MARKS[self.level]} {self.text}"


def as_json(raw: bytes | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return raw.decode("utf-8", "replace").strip()


def state_word(raw: bytes | None) -> str | None:
    """``online``/``offline`` from ``{"state": …}`` or the legacy plain word."""
    value = as_json(raw)
    if isinstance(value, dict):
        value = value.get("state")
    return value.lower() if isinstance(value, str) else None


def _properties(exposes: Any) -> set[str]:
    """Every property a device definition exposes (composites hold ``features``)."""
    found: set[str] = set()
    for item in exposes if isinstance(exposes, list) else []:
        if not isinstance(item, dict):
            continue
        name = item.get("property") or item.get("name")
        if isinstance(name, str):
            found.add(name)
        found |= _properties(item.get("features"))
    return found


def _role(name: str, props: set[str], buttons: set[str]) -> str:
    if name in buttons:
        return "비상 버튼"
    return _ROLE_WORDS.get(main_signal(props) or "", "기타 장치")


def _summary(state: Mapping[str, Any]) -> str:
    parts = [f"{key}={state[key]}" for key in _SHOWN_KEYS if key in state]
    if isinstance(state.get("battery"), int | float):
        parts.append(f"배터리 {state['battery']:g}%")
    if "last_seen" in state:
        parts.append(f"마지막 {state['last_seen']}")
    return ", ".join(parts) or "값 있음"


def zigbee_findings(
    messages: Mapping[str, bytes],
    *,
    base: str,
    power_threshold_w: float,
    power_thresholds_w: Mapping[str, float],
    buttons: Iterable[str] = (),
    ignore: Iterable[str] = (),
) -> list[Finding]:
    """What Zigbee2MQTT's topics (the last payload of each) say about the home's coverage."""
    out: list[Finding] = []
    bridge = state_word(messages.get(f"{base}/bridge/state"))
    if bridge == "online":
        out.append(Finding("ok", "Zigbee2MQTT 브리지: 켜져 있음"))
    else:
        said = "꺼져 있음" if bridge == "offline" else "상태를 받지 못함"
        out.append(Finding("problem", f"Zigbee2MQTT 브리지: {said}"))
    devices = as_json(messages.get(f"{base}/bridge/devices"))
    if not isinstance(devices, list):
        out.append(Finding("problem", f"장치 목록({base}/bridge/devices)을 받지 못했습니다"))
        return out
    skipped, emergency = set(ignore), set(buttons)
    watching: list[tuple[str, str]] = []
    for device in devices:
        if not isinstance(device, dict) or device.get("type") == "Coordinator":
            continue
        name = device.get("friendly_name")
        if not isinstance(name, str) or name in skipped or device.get("disabled") is True:
            continue
        definition = device.get("definition")
        props = _properties(definition.get("exposes") if isinstance(definition, dict) else None)
        role = _role(name, props, emergency)
        out.extend(
            _device_findings(
                name, role, messages, base, power_thresholds_w.get(name, power_threshold_w)
            )
        )
        available = state_word(messages.get(f"{base}/{name}/availability")) != "offline"
        if available and props & _MOTION_KEYS:
            watching.append((name, role))
    out.extend(_room_findings(devices, watching, skipped))
    return out


def _device_findings(
    name: str, role: str, messages: Mapping[str, bytes], base: str, threshold: float
) -> list[Finding]:
    out: list[Finding] = []
    availability = state_word(messages.get(f"{base}/{name}/availability"))
    if availability == "offline":
        out.append(Finding("problem", f"{role} '{name}': 응답 없음 (Zigbee2MQTT가 offline으로 봄)"))
    state = as_json(messages.get(f"{base}/{name}"))
    if not isinstance(state, dict):
        if availability != "offline":
            out.append(Finding("warn", f"{role} '{name}': 점검하는 동안 보낸 값이 없습니다"))
        return out
    if availability != "offline":
        out.append(Finding("ok", f"{role} '{name}': {_summary(state)}"))
    battery = state.get("battery")
    low = isinstance(battery, int | float) and battery < BATTERY_LOW_PCT
    if low or state.get("battery_low") is True:
        shown = f" {battery:g}%" if isinstance(battery, int | float) else ""
        out.append(Finding("warn", f"{role} '{name}': 배터리 부족{shown} — 곧 바꿔 주세요"))
    power = state.get("power")
    if role == "플러그" and isinstance(power, int | float) and power < threshold:
        out.append(
            Finding(
                "warn",
                f"플러그 '{name}': 지금 {power:g} W로 활동 기준 {threshold:g} W보다 낮습니다 "
                "— 가전을 켜고 다시 확인하세요",
            )
        )
    return out


def _room_findings(
    devices: list[Any], watching: list[tuple[str, str]], skipped: set[str]
) -> list[Finding]:
    if not watching:
        return [Finding("problem", "움직임·재실 센서가 하나도 없습니다 (응답하는 것 기준)")]
    names = [
        d["friendly_name"]
        for d in devices
        if isinstance(d, dict)
        and isinstance(d.get("friendly_name"), str)
        and d["friendly_name"] not in skipped
    ]
    bedrooms = sorted({_room(n) for n in names if _is_bedroom(n)})
    if not bedrooms:
        return [Finding("warn", "침실로 이름 붙인 장치가 없습니다 (예: '침실/모션')")]
    out = []
    for room in bedrooms:
        inside = [n for n, _ in watching if _room(n) == room]
        if inside:
            out.append(Finding("ok", f"방 '{room}': 움직임·재실 센서 {', '.join(inside)}"))
        else:
            out.append(Finding("problem", f"방 '{room}': 움직임·재실 센서가 없습니다"))
    return out


def _room(name: str) -> str:
    return (
        name.split("/", 1)[0]
        if "/" in name
        else next((word for word in BEDROOM_WORDS if word in name.lower()), name)
    )


def _is_bedroom(name: str) -> bool:
    return any(word in name.lower() for word in BEDROOM_WORDS)
