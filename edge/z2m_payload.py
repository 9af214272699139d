"""Zigbee2MQTT topic and payload helpers for :mod:`edge.zigbee`: pure, typed, never raising.

Values must have their JSON type (a bool is not a number, "1850" is not a number), as
``protocol`` refuses to coerce; anything else is None, so one bad value is ignored alone.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Final

from protocol.models import EARLIEST_TS, LATEST_TS

__all__ = [
    "bounded_int",
    "decode",
    "exposed_properties",
    "finite_number",
    "parse_json",
    "parse_state_word",
    "parse_time",
    "route",
    "valid_name",
]

_STATES: Final = {"online": True, "offline": False}
_COMMAND_SEGMENTS: Final = frozenset({"set", "get"})
_AVAILABILITY: Final = "availability"
_ACTION_TOPIC: Final = "action"


def exposed_properties(exposes: object) -> set[str]:
    """Every ``property`` in a definition's exposes, features of composites included."""
    found: set[str] = set()
    stack = [exposes]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            prop = item.get("property")
            if isinstance(prop, str):
                found.add(prop)
            stack.append(item.get("features"))
    return found


def decode(payload: object) -> str | None:
    if isinstance(payload, str):
        return payload
    if not isinstance(payload, bytes | bytearray | memoryview):
        return None
    try:
        return bytes(payload).decode("utf-8")
    except UnicodeDecodeError:
        return None


def parse_json(text: str) -> object:
    """The JSON value of text, or None when it is not JSON (or absurdly deep or long)."""
    try:
        value: object = json.loads(text)
    except (ValueError, RecursionError):  # JSONDecodeError, int too long, nesting too deep
        return None
    return value


def parse_state_word(text: str) -> bool | None:
    """online → True, offline → False, legacy plain or JSON ``{"state": …}`` (availability and
    ``bridge/state`` alike)."""
    plain = _STATES.get(text.strip())
    if plain is not None:
        return plain
    value = parse_json(text)
    if isinstance(value, dict):
        value = value.get("state")
    return _STATES.get(value) if isinstance(value, str) else None


def parse_time(value: object) -> datetime | None:
    """Z2M's ``last_seen`` (ISO 8601 with an offset, or epoch milliseconds); None otherwise."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None and in_range(parsed) else None
    number = finite_number(value)
    if number is None or not 0 < number < 1e14:
        return None
    parsed = datetime.fromtimestamp(number / 1000, UTC)
    return parsed if in_range(parsed) else None


def in_range(at: datetime) -> bool:
    return EARLIEST_TS <= at < LATEST_TS


def finite_number(value: object) -> float | None:
    """A JSON number as float; None for bools, strings, NaN and infinities."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        return None
    return number if math.isfinite(number) else None


def bounded_int(value: object, maximum: int) -> int | None:
    """A finite JSON number rounded to an int in [0, maximum]; else None."""
    number = finite_number(value)
    if number is None:
        return None
    rounded = round(number)
    return rounded if 0 <= rounded <= maximum else None


def route(segments: list[str]) -> tuple[str, bool] | None:
    """(friendly name, is availability topic) for a device topic's segments, else None."""
    if len(segments) >= 2 and (
        segments[-1] in _COMMAND_SEGMENTS
        or segments[-1] == _ACTION_TOPIC
        or (len(segments) >= 3 and segments[-2] in _COMMAND_SEGMENTS)
    ):
        return None
    is_availability = len(segments) >= 2 and segments[-1] == _AVAILABILITY
    name = "/".join(segments[:-1] if is_availability else segments)
    return (name, is_availability) if valid_name(name) else None


def valid_name(name: str) -> bool:
    """Z2M's own rule: non-empty, not starting or ending with '/' (no empty segment either)."""
    return bool(name) and "" not in name.split("/")
