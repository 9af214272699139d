"""Settings mistakes as one line each: the variable, what was wrong, an accepted example.

Owns :func:`load_settings` (what every ``anbu`` command that reads ``ANBU_*`` calls) and the
wording of its errors: a :class:`InvalidSettingsError` whose ``lines`` are one line per mistake,
Korean and English, instead of pydantic's multi-line report or a traceback. The validators
themselves are :class:`hub.settings.Settings`'; this module only words what they found.

A line never carries a secret, a phone number or a URL with credentials: for those fields
only what was wrong is said, never the value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError

from hub.settings import Settings
from protocol.vocab import KOREA_TZ

__all__ = [
    "EXAMPLES",
    "PREFIX",
    "InvalidSettingsError",
    "load_settings",
    "problem_lines",
    "variable",
]

PREFIX = "설정 오류 (settings error)"

EXAMPLES: dict[str, str] = {
    "mqtt_url": "mqtt://hub:PASSWORD@127.0.0.1:1883",
    "mqtt_protocol": "5",
    "mqtt_client_id": "anbu-hub",
    "mqtt_ca_file": "/etc/anbu/ca.crt",
    "mqtt_admin_user": "anbu-admin",
    "mqtt_device_url": "mqtts://broker.example.kr:8883",
    "db_url": "postgresql+psycopg://anbu@127.0.0.1/anbu",
    "http": "127.0.0.1:8080",
    "sms": "nhn://APPKEY:SECRET@sms.api.nhncloudservice.com?sender=0212345678",
    "tz": KOREA_TZ,
    "control_center_phones": '["+82212345678"]',
    "supervisor_phones": '["+821012345678"]',
    "health_center_phones": '["+82421234567"]',
    "extra_holidays": '["2026-10-02"]',
    "notify_urls": '["mailto://user:pass@example.kr"]',
    "influx_url": "http://127.0.0.1:8086",
    "influx_buffer": "50000",
    "influx_timeout_s": "5",
    "influx_retry_max_s": "30",
    "ingest_batch": "500",
    "public_url": "https://anbu.example.kr",
    "link_ttl": "PT24H",
    "quiet_hold_max": "PT10H",
    "receipt_poll_s": "30",
}
# Secrets an installer makes up: the example is how to make one, not a value to copy.
_GENERATE = '"$(openssl rand -base64 24)"'
_MADE_UP = re.compile(r"secret|token|password")
# Never echoed: secrets, phone numbers, URLs that may carry a password.
_NEVER_ECHO = re.compile(r"secret|token|password|phones|_url$|^sms$|^notify_urls$")
_BOUNDS = {
    "greater_than": ">",
    "greater_than_equal": "≥",
    "less_than": "<",
    "less_than_equal": "≤",
}
_KOREAN = {
    "int_parsing": ("정수여야 합니다", "must be a whole number"),
    "int_from_float": ("정수여야 합니다", "must be a whole number"),
    "float_parsing": ("숫자여야 합니다", "must be a number"),
    "bool_parsing": ("true 또는 false", "must be true or false"),
    "time_delta_parsing": ("ISO 8601 기간이어야 합니다", "must be an ISO 8601 duration"),
    "date_parsing": ("YYYY-MM-DD 날짜여야 합니다", "must be a date, YYYY-MM-DD"),
    "date_from_datetime_parsing": ("YYYY-MM-DD 날짜여야 합니다", "must be a date, YYYY-MM-DD"),
    "string_pattern_mismatch": ("형식이 맞지 않습니다", "has the wrong form"),
    "string_too_long": ("너무 깁니다", "is too long"),
    "string_too_short": ("너무 짧습니다", "is too short"),
    "list_type": ("JSON 목록이어야 합니다", "must be a JSON list"),
    "missing": ("값이 필요합니다", "is required"),
}


class InvalidSettingsError(Exception):
    """The settings could not be loaded; ``lines`` says why, one line per mistake."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def load_settings(
    overrides: Mapping[str, Any] | None = None, *, flags: Mapping[str, str] | None = None
) -> Settings:
    """``Settings`` from the environment and ``overrides`` (CLI flags, by field name).

    ``flags`` names the command-line option behind a field (``{"http": "--http"}``) so the
    message names both. Raises :class:`InvalidSettingsError`, never pydantic's errors.
    """
    try:
        return Settings(**dict(overrides or {}))
    except ValidationError as error:
        raise InvalidSettingsError(problem_lines(error, flags or {})) from None
    except SettingsError as error:  # a complex value the environment source could not read
        found = re.search(r'field "(\w+)"', str(error))
        field = found.group(1) if found else "?"
        what = "읽을 수 없는 값 / could not be read"
        raise InvalidSettingsError([_line(field, what, flags or {})]) from None


def problem_lines(error: ValidationError, flags: Mapping[str, str]) -> list[str]:
    """One line per mistake in ``error`` (see the module docstring)."""
    lines: list[str] = []
    for detail in error.errors(include_url=False):
        location = detail["loc"]
        field = str(location[0]) if location else "?"
        what = _what(field, detail)
        if len(location) > 1 and isinstance(location[1], int):
            what = f"{location[1] + 1}번째 항목 / item {location[1] + 1}: {what}"
        lines.append(_line(field, what, flags))
    return lines


def variable(field: str) -> str:
    """The environment variable behind a settings field."""
    return f"ANBU_{field.upper()}"


def _line(field: str, what: str, flags: Mapping[str, str]) -> str:
    name = variable(field)
    if field in flags:
        name = f"{name} ({flags[field]})"
    return f"{PREFIX} {name}: {what} — 예 / e.g. {_example(field)}"


def _example(field: str) -> str:
    if field in EXAMPLES:
        value = EXAMPLES[field]
        quoted = f"'{value}'" if value.startswith("[") else value
        return f"{variable(field)}={quoted}"
    if _MADE_UP.search(field):
        return f"{variable(field)}={_GENERATE}"
    default = Settings.model_fields[field].default if field in Settings.model_fields else None
    if default is None or default.__class__.__name__ == "PydanticUndefinedType":
        return "hub/INTERFACES.md"
    return f"{variable(field)}={default}"


def _what(field: str, detail: Mapping[str, Any]) -> str:
    kind = str(detail["type"])
    message = str(detail["msg"])
    if kind in ("value_error", "assertion_error"):
        return re.sub(r"\A(Value error|Assertion failed), ", "", message)
    context = detail.get("ctx") or {}
    if kind in _BOUNDS:
        bound = next(iter(context.values()), "?")
        text = f"범위를 벗어남 / out of range: must be {_BOUNDS[kind]} {_shown(bound)}"
    elif kind == "literal_error":
        text = f"허용되지 않는 값 / must be one of {context.get('expected', '?')}"
    elif kind in _KOREAN:
        korean, english = _KOREAN[kind]
        text = f"{korean} / {english}"
    else:
        text = f"잘못된 값 / invalid: {message}"
    if not _NEVER_ECHO.search(field) and "input" in detail and kind != "missing":
        text += f", got {_shown(detail['input'])!r}"
    return text


def _shown(value: Any) -> str:
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        hours, rest = divmod(seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        parts = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
        return "PT" + (parts + (f"{seconds}S" if seconds else "") or "0S")
    return str(value)
