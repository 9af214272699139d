"""Hub settings: the ``ANBU_*`` environment variables of INTERFACES.md, validated once."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from hub.placeholders import placeholder_reason
from protocol.vocab import ID_REGEX, KOREA_TZ, normalise_phone

# host:port, the host a name, IPv4 or a bracketed IPv6 address.
_HOST_PORT = re.compile(r"\A(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})\Z")
_DB_SCHEMES = ("sqlite", "postgresql")


class Settings(BaseSettings):
    """Everything the hub needs to start. Build with ``Settings()`` or pass values in tests."""

    model_config = SettingsConfigDict(env_prefix="ANBU_", extra="ignore")

    mqtt_url: str = Field(
        default="embedded",
        description="mqtt://[user:pass@]host:port, mqtts://…, or 'embedded' for a local broker",
    )
    mqtt_protocol: Literal["5", "3.1.1"] = "5"
    # No "." in it: device identities are "{resident}.{device}", so none can be the hub's.
    mqtt_client_id: str = Field(default="anbu-hub", pattern=ID_REGEX)
    mqtt_ca_file: Path | None = Field(
        default=None, description="CA certificate the hub trusts for mqtts:// (make-ca.sh)"
    )
    mqtt_admin_user: str | None = Field(
        default=None, description="The broker's dynamic-security admin; unset = no provisioning"
    )
    mqtt_admin_password: SecretStr | None = None
    mqtt_device_url: str | None = Field(
        default=None, description="Broker URL given to devices; default ANBU_MQTT_URL's host"
    )
    db_url: str = "sqlite:///anbu.db"
    http: str = "127.0.0.1:8080"
    admin_token: SecretStr | None = None
    sms: SecretStr = Field(
        default=SecretStr("log:anbu-outbox.jsonl"),
        description="SMS provider chain, tried in order: log:PATH, nhn://…, solapi://…, aligo://…",
    )
    tz: str = KOREA_TZ
    # Lists are JSON in the environment; NoDecode hands the raw text to _json_list, which
    # says so in one line instead of pydantic-settings' traceback.
    control_center_phones: Annotated[list[str], NoDecode] = Field(default_factory=list)
    control_center_call_number: str | None = Field(
        default=None,
        description="The centre's line a guardian's page calls (tel:); default: the first of "
        "ANBU_CONTROL_CENTER_PHONES, which are the numbers the centre gets SMS on",
    )
    supervisor_phones: Annotated[list[str], NoDecode] = Field(default_factory=list)
    health_center_phones: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="The health centre's numbers, for every resident"
    )
    extra_holidays: Annotated[list[date], NoDecode] = Field(
        default_factory=list,
        description="Days off the holidays library does not know yet (임시공휴일), YYYY-MM-DD",
    )
    influx_url: str | None = None
    influx_token: SecretStr | None = None
    influx_org: str | None = None
    influx_bucket: str | None = None
    influx_buffer: int = Field(
        default=50_000,
        ge=10,
        le=5_000_000,
        description="Points held while the TSDB is slow or down; beyond it they are dropped",
    )
    influx_timeout_s: float = Field(default=5.0, gt=0, le=120, description="One write's timeout")
    influx_retry_max_s: float = Field(
        default=30.0, gt=0, le=3600, description="Longest wait between retries of a failed write"
    )
    # Largest number of MQTT messages stored in one transaction; bigger batches trade
    # latency for throughput.
    ingest_batch: int = Field(default=500, ge=1, le=10_000)
    # Messages waiting for the ingest worker (hub/ingest_queue.py); emergencies have a lane
    # of their own of the same size. Beyond it QoS 0 messages are shed and counted, QoS 1
    # ones wait at the broker. 10,000 payloads of at most 8 KiB bound it to ~80 MB.
    ingest_queue: int = Field(default=10_000, ge=10, le=1_000_000)
    # /health turns 503 when the worker's write in progress has gone this long without
    # committing (hub/health.py); a batch of 500 normally commits well within a second.
    health_max_behind_s: float = Field(default=5.0, gt=0, le=3600)
    # /health turns 503 (clock_skew) when the hub's clock is this far from its devices'
    # (hub/clock_check.py); the hub still judges device times on theirs meanwhile.
    clock_max_skew_s: float = Field(default=300.0, gt=0, le=86_400 * 400)
    public_url: str | None = Field(
        default=None, description="Base of links in SMS; default http://{ANBU_HTTP}"
    )
    link_secret: SecretStr | None = Field(
        default=None, description="HMAC key for guardian links; default: generated, kept in the DB"
    )
    link_ttl: timedelta = Field(default=timedelta(hours=24), gt=timedelta(minutes=5))
    quiet_hold_max: timedelta = Field(
        default=timedelta(hours=10),
        ge=timedelta(0),
        le=timedelta(hours=24),
        description="Longest a routine message waits for a guardian's quiet hours to end",
    )
    sms_reply_secret: SecretStr | None = Field(
        default=None, description="Shared secret of the SMS reply webhook; unset = replies off"
    )
    notify_urls: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="apprise URLs (email, webhooks) for the control centre"
    )
    receipt_poll_s: float = Field(default=30.0, gt=0, le=3600)
    sido: str | None = Field(
        default=None,
        description="The 시도 this hub serves: a name several 시도 share (동구) means its one",
    )

    @field_validator("sido")
    @classmethod
    def _check_sido(cls, value: str | None) -> str | None:
        from hub.districts import normalise_sido

        if value is None or not value.strip():
            return None
        official = normalise_sido(value)
        if official is None:
            msg = f"시도 이름이어야 합니다 (예: 대전광역시, 대전) / must be a 시도, got {value!r}"
            raise ValueError(msg)
        return official

    @property
    def link_base(self) -> str:
        """Where guardians' links point."""
        return (self.public_url or f"http://{self.http}").rstrip("/")

    @field_validator("admin_token", "link_secret", "sms_reply_secret")
    @classmethod
    def _refuse_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        reason = placeholder_reason(value.get_secret_value())
        if reason is not None:
            msg = f"임의로 만든 비밀값이어야 합니다 / must be a generated secret: {reason}"
            raise ValueError(msg)
        return value

    @field_validator(
        "control_center_phones",
        "supervisor_phones",
        "health_center_phones",
        "notify_urls",
        "extra_holidays",
        mode="before",
    )
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
            raise ValueError(msg)  # never the value: it may be phone numbers or URLs
        return parsed

    @field_validator("control_center_call_number")
    @classmethod
    def _check_call_number(cls, value: str | None) -> str | None:
        if value is not None and normalise_phone(value) is None:
            msg = "국내 전화번호여야 합니다 / must be a Korean phone number (02-1234-5678)"
            raise ValueError(msg)
        return value

    @field_validator("http")
    @classmethod
    def _check_http(cls, value: str) -> str:
        match = _HOST_PORT.match(value)
        if match is None or not 0 < int(match.group("port")) < 65536:
            msg = f"host:port 형식이어야 합니다 / must be host:port, got {value!r}"
            raise ValueError(msg)
        return value

    @field_validator("db_url")
    @classmethod
    def _check_db_url(cls, value: str) -> str:
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme.split("+", 1)[0] not in _DB_SCHEMES:
            msg = (
                "sqlite:///파일 또는 postgresql+psycopg://… 이어야 합니다 / "
                f"must be sqlite:///FILE or postgresql+psycopg://…, got scheme {scheme!r}"
            )
            raise ValueError(msg)
        return value

    @field_validator("tz")
    @classmethod
    def _check_tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            msg = f"알 수 없는 시간대 / unknown time zone {value!r}"
            raise ValueError(msg) from None
        return value

    @field_validator("sms")
    @classmethod
    def _check_sms(cls, value: SecretStr) -> SecretStr:
        # Parsed here, where the hub starts, not at the first page; messages name the part
        # that is wrong, never its value (the entries carry API keys).
        from hub.notify.providers import HTTP_PROVIDERS
        from hub.notify.providers.spec import parse_spec

        accepted = ", ".join(["log:PATH", *(f"{s}://" for s in HTTP_PROVIDERS)])
        entries = [entry.strip() for entry in value.get_secret_value().split(",")]
        if not any(entries):
            msg = f"비어 있습니다 / is empty (accepted: {accepted})"
            raise ValueError(msg)
        for entry in filter(None, entries):
            if entry.startswith("log:"):
                continue
            scheme = entry.split(":", 1)[0].strip().lower()
            if "://" not in entry or scheme not in HTTP_PROVIDERS:
                msg = (
                    f"알 수 없는 SMS 방식 / unknown SMS provider {scheme!r} (accepted: {accepted})"
                )
                raise ValueError(msg)
            try:
                parse_spec(entry, HTTP_PROVIDERS)
            except ValueError as error:
                msg = f"잘못된 SMS 설정 / bad SMS provider entry: {error}"
                raise ValueError(msg) from None
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, value: str) -> str:
        if value == "embedded":
            return value
        parts = urlsplit(value)
        if parts.scheme not in {"mqtt", "mqtts"} or not parts.hostname:
            msg = (
                "mqtt://host:port, mqtts://… 또는 embedded 여야 합니다 / must be "
                f"mqtt://host:port, mqtts://… or embedded, got scheme {parts.scheme!r}"
            )
            raise ValueError(msg)
        return value

    @property
    def http_host(self) -> str:
        return self.http.rsplit(":", 1)[0]

    @property
    def http_port(self) -> int:
        return int(self.http.rsplit(":", 1)[1])
