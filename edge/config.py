"""The edge agent's configuration file (TOML): who the device is, where the hub is, limits.

One file per device; ``deploy/edge/*.toml`` has a commented sample per device kind. Parsed
with the standard library's ``tomllib`` and validated by pydantic, so a typo is a clear error
at start-up rather than a silent default on a speaker nobody can look at.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from edge.vitals import VitalsConfig
from protocol.topics import is_valid_id
from protocol.vocab import DeviceKind


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or invalid; the message says where."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeedConfig(_Section):
    """Where the device platform hands signals to the agent (see ``edge/FEED.md``)."""

    http: str | None = Field(
        default="127.0.0.1:8765", description="host:port of the local HTTP feed; empty = off"
    )
    stdin: bool = Field(default=False, description="Also read one JSON event per stdin line")

    @field_validator("http")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if not value:
            return None
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            msg = f"must be host:port, not {value!r}"
            raise ValueError(msg)
        return value


class WyomingConfig(_Section):
    """The speaker's voice over Home Assistant's Wyoming protocol (see ``edge/VOICE.md``)."""

    events: str | None = Field(default=None, description="Listen: a satellite's --event-uri")
    satellite: str | None = Field(default=None, description="Connect as a satellite's server")
    stt: str | None = Field(default=None, description="Speech-to-text server (with satellite)")
    tts: str | None = Field(default=None, description="Text-to-speech server for check-ins")
    language: str = Field(default="ko", min_length=2)
    voice: str | None = Field(default=None, description="TTS voice name; None = by language")
    play_command: tuple[str, ...] = Field(
        default=("aplay", "-q", "-t", "raw", "-f", "S16_LE", "-r", "{rate}", "-c", "{channels}"),
        description="Plays raw audio from stdin when no satellite is connected; [] = none",
    )

    @field_validator("events", "satellite", "stt", "tts")
    @classmethod
    def _uri(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if not (parts.scheme == "tcp" and parts.hostname and parts.port) and not (
            parts.scheme == "unix" and parts.path
        ):
            msg = f"must be tcp://host:port or unix:///path, not {value!r}"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _satellite_needs_stt(self) -> WyomingConfig:
        if self.satellite and not self.stt:
            msg = "satellite needs stt: the agent runs the satellite's speech-to-text"
            raise ValueError(msg)
        return self


class SpeakerConfig(_Section):
    """AI speaker: emergency phrases, text-to-speech for check-ins."""

    tts_command: list[str] = Field(
        default_factory=lambda: ["espeak-ng", "-v", "ko", "{text}"],
        description="Command that speaks {text}; empty list = the speaker cannot speak",
    )
    wake_words: list[str] | None = Field(default=None, description="None = built-in list")
    emergency_phrases: list[str] = Field(default_factory=list, description="Extra phrases")
    cancel_phrases: list[str] = Field(default_factory=list, description="Extra cancel phrases")
    cancel_window_s: int = Field(default=600, ge=10, le=86_400)
    wyoming: WyomingConfig | None = Field(default=None, description="None = no Wyoming voice")


class PhoneConfig(_Section):
    """Phone: the automation app must show signs of life, or the agent is 'asleep'."""

    alive_timeout_s: int = Field(
        default=2700,
        ge=5,
        le=7 * 86_400,
        description="No feed message (signal or alive ping) for this long = agent put to sleep",
    )


class SensorsConfig(_Section):
    """Home sensors through a local Zigbee2MQTT broker."""

    zigbee_url: str = Field(default="mqtt://127.0.0.1:1883")
    base_topic: str = Field(default="zigbee2mqtt", min_length=1)
    power_threshold_w: float = Field(default=30.0, gt=0)
    power_thresholds_w: dict[str, float] = Field(default_factory=dict)
    emergency_buttons: list[str] = Field(default_factory=list)
    ignore: list[str] = Field(default_factory=list)
    button_debounce_s: float = Field(
        default=10.0, ge=0, le=600, description="A button's actions this close are one press"
    )
    gateway_silent_s: int = Field(
        default=3600,
        ge=60,
        le=7 * 86_400,
        description="Nothing from Zigbee2MQTT for this long = it cannot see (gateway_silent)",
    )
    resume_state_s: int = Field(
        default=900,
        ge=0,
        le=86_400,
        description="Sensor values saved at most this long ago are trusted after a restart",
    )

    @field_validator("zigbee_url")
    @classmethod
    def _mqtt_url(cls, value: str) -> str:
        return _check_mqtt_url(value)


class EdgeConfig(_Section):
    """One edge agent."""

    resident: str
    device: str
    kind: DeviceKind | None = Field(default=None, description="Must match --device-kind if set")
    mqtt_url: str = Field(description="The hub's broker: mqtt://user:pass@host:port")
    heartbeat_s: int = Field(default=300, ge=5, le=86_400)
    will_delay_s: int = Field(
        default=120,
        ge=0,
        le=3600,
        description="How long a dropped connection may last before the broker says offline",
    )
    keepalive_s: int = Field(default=30, ge=5, le=600)
    outbox: Path = Field(default=Path("anbu-edge-outbox.db"))
    outbox_max: int = Field(default=20_000, ge=10, le=10_000_000)
    fold_s: float = Field(default=60.0, gt=0, le=3600, description="Activity folding window")
    inflight: int = Field(default=50, ge=1, le=1000)
    feed: FeedConfig = Field(default_factory=FeedConfig)
    speaker: SpeakerConfig = Field(default_factory=SpeakerConfig)
    phone: PhoneConfig = Field(default_factory=PhoneConfig)
    sensors: SensorsConfig = Field(default_factory=SensorsConfig)
    vitals: VitalsConfig | None = Field(default=None, description="Bluetooth health devices")

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url(cls, value: str) -> str:
        return _check_mqtt_url(value)

    @field_validator("resident", "device")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not is_valid_id(value):
            msg = "must be 1-64 characters of A-Z a-z 0-9 _ -"
            raise ValueError(msg)
        return value


def _check_mqtt_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"mqtt", "mqtts"} or not parts.hostname:
        msg = "must be mqtt://[user:pass@]host[:port] or mqtts://…"
        raise ValueError(msg)
    try:
        _ = parts.port
    except ValueError as exc:
        msg = f"bad port: {exc}"
        raise ValueError(msg) from None
    return value


def load_config(path: Path, kind: DeviceKind) -> EdgeConfig:
    """Read and validate ``path`` for a device of ``kind``; relative outbox paths are kept
    relative to the config file, so a sample config works from any working directory."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        msg = f"cannot read config {path}: {exc.strerror or exc}"
        raise ConfigError(msg) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        msg = f"config {path} is not valid TOML: {exc}"
        raise ConfigError(msg) from None
    try:
        config = EdgeConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        ]
        msg = f"config {path} is invalid:\n" + "\n".join(lines)
        raise ConfigError(msg) from None
    if config.kind is not None and config.kind != kind:
        msg = f"config {path} is for a {config.kind}, not a {kind} (--device-kind)"
        raise ConfigError(msg)
    if not config.outbox.is_absolute():
        config = config.model_copy(update={"outbox": path.parent / config.outbox})
    return config.model_copy(update={"kind": kind})
