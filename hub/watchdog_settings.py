"""``anbu watchdog`` settings: the ``ANBU_WATCHDOG_*`` variables, its own and none of the hub's.

The watchdog runs on another machine than the hub, so it has its own SMS provider chain
(the hub's interface and providers, :mod:`hub.notify.chain`) and its own numbers to page.
Lists are JSON in the environment, like the hub's (``'["+8221234567"]'``).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from protocol.vocab import ID_REGEX, normalise_phone

__all__ = ["WatchdogSettings"]


class WatchdogSettings(BaseSettings):
    """Everything ``anbu watchdog`` needs. ``WatchdogSettings()`` reads the environment."""

    model_config = SettingsConfigDict(env_prefix="ANBU_WATCHDOG_", extra="ignore")

    hub_url: str = Field(
        default="http://127.0.0.1:8080", description="The hub's HTTP base; /health is asked"
    )
    mqtt_url: SecretStr | None = Field(
        default=None,
        description="mqtt://[user:pass@]host:port of the hub's broker, for its heartbeat; "
        "unset: /health only",
    )
    mqtt_client_id: str = Field(default="anbu-watchdog", pattern=ID_REGEX)
    mqtt_ca_file: Path | None = None
    down_after: timedelta = Field(
        default=timedelta(minutes=3),
        gt=timedelta(0),
        description="How long the hub may go without a healthy sighting before the page: "
        "seconds (180), PT3M or 00:03:00",
    )
    probe_s: float = Field(default=10.0, gt=0, le=600, description="How often /health is asked")
    probe_timeout_s: float = Field(default=5.0, gt=0, le=60)
    sms: SecretStr = Field(
        default=SecretStr("log:anbu-watchdog-sms.jsonl"),
        description="SMS provider chain, as ANBU_SMS: log:PATH, nhn://…, solapi://…, aligo://…",
    )
    control_center_phones: Annotated[list[str], NoDecode] = Field(default_factory=list)
    supervisor_phones: Annotated[list[str], NoDecode] = Field(default_factory=list)
    state_file: Path = Field(
        default=Path("anbu-watchdog-state.json"),
        description="Which outage was paged, so a restart never pages it twice",
    )

    @field_validator("control_center_phones", "supervisor_phones", mode="before")
    @classmethod
    def _json_list(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            parsed = json.loads(value) if value.strip() else []
        except ValueError:
            parsed = None
        if not isinstance(parsed, list):
            msg = "JSON 목록이어야 합니다 / must be a JSON list"
            raise ValueError(msg)  # never the value: phone numbers
        return parsed

    @field_validator("control_center_phones", "supervisor_phones")
    @classmethod
    def _phones(cls, value: list[str]) -> list[str]:
        numbers = []
        for index, raw in enumerate(value):
            number = normalise_phone(raw)
            if number is None:
                msg = (
                    f"{index + 1}번째 번호가 국내 전화번호가 아닙니다 / "
                    f"entry {index + 1} is not a Korean phone number"
                )
                raise ValueError(msg)
            numbers.append(number)
        return numbers

    @field_validator("down_after", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> Any:
        # "180" (seconds) in the environment, besides ISO 8601 ("PT3M") and "00:03:00".
        if isinstance(value, str):
            try:
                return timedelta(seconds=float(value))
            except ValueError:
                return value
        return value

    @field_validator("hub_url")
    @classmethod
    def _hub_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            msg = "http://host:port 이어야 합니다 / must be http(s)://host:port"
            raise ValueError(msg)
        return value.rstrip("/")

    @model_validator(mode="after")
    def _someone_to_page(self) -> WatchdogSettings:
        if not self.control_center_phones and not self.supervisor_phones:
            msg = (
                "ANBU_WATCHDOG_CONTROL_CENTER_PHONES 나 ANBU_WATCHDOG_SUPERVISOR_PHONES 가 "
                "있어야 합니다 / a watchdog with nobody to page watches for nothing"
            )
            raise ValueError(msg)
        return self

    def recipients(self) -> list[tuple[str, str]]:
        """``(role, number)`` of everyone paged, in a fixed order (a page's keys use it)."""
        return [("control_center", n) for n in self.control_center_phones] + [
            ("supervisor", n) for n in self.supervisor_phones
        ]
