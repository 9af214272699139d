"""Hub settings: the ``ANBU_*`` environment variables of INTERFACES.md, validated once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from protocol.vocab import KOREA_TZ

_PLACEHOLDER_TOKENS = {"changeme", "change-me", "secret", "token", "admin", "password"}


class Settings(BaseSettings):
    """Everything the hub needs to start. Build with ``Settings()`` or pass values in tests."""

    model_config = SettingsConfigDict(env_prefix="ANBU_", extra="ignore")

    mqtt_url: str = Field(
        default="embedded",
        description="mqtt://[user:pass@]host:port, mqtts://…, or 'embedded' for a local broker",
    )
    mqtt_protocol: Literal["5", "3.1.1"] = "5"
    # No "." in it: device identities are "{resident}.{device}", so none can be the hub's.
    mqtt_client_id: str = Field(default="anbu-hub", pattern=r"^[A-Za-z0-9_-]{1,64}$")
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
    control_center_phones: list[str] = Field(default_factory=list)
    supervisor_phones: list[str] = Field(default_factory=list)
    health_center_phones: list[str] = Field(
        default_factory=list, description="The health centre's numbers, for every resident"
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
    notify_urls: list[SecretStr] = Field(
        default_factory=list, description="apprise URLs (email, webhooks) for the control centre"
    )
    receipt_poll_s: float = Field(default=30.0, gt=0, le=3600)

    @property
    def link_base(self) -> str:
        """Where guardians' links point."""
        return (self.public_url or f"http://{self.http}").rstrip("/")

    @field_validator("admin_token")
    @classmethod
    def _refuse_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        secret = value.get_secret_value()
        if secret.lower() in _PLACEHOLDER_TOKENS or len(secret) < 16:
            msg = "ANBU_ADMIN_TOKEN must be a real secret of at least 16 characters"
            raise ValueError(msg)
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, value: str) -> str:
        if value == "embedded":
            return value
        parts = urlsplit(value)
        if parts.scheme not in {"mqtt", "mqtts"} or not parts.hostname:
            msg = f"ANBU_MQTT_URL must look like mqtt://host:port, got scheme {parts.scheme!r}"
            raise ValueError(msg)
        return value

    @property
    def http_host(self) -> str:
        return self.http.rsplit(":", 1)[0]

    @property
    def http_port(self) -> int:
        return int(self.http.rsplit(":", 1)[1])
