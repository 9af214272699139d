"""What a device adapter is: the part that knows one kind of device and nothing about MQTT.

An adapter turns what its platform reports (utterances, phone actions, sensor messages) into
calls on the agent (:class:`AgentPort`), and may speak a check-in if it can.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from protocol.models import (
    ActivitySource,
    BloodPressure,
    CheckinCommand,
    EmergencyTrigger,
    SensingProblem,
    SensorHealth,
    VitalKind,
)


class FeedError(ValueError):
    """A feed event the adapter cannot use; the message is for the feed's author."""


@dataclass(frozen=True)
class FeedResult:
    """What happened to one feed event."""

    outcome: str  # "accepted", "duplicate" or "ignored"
    detail: str = ""


class AgentPort(Protocol):
    """The agent as adapters see it."""

    def now(self) -> datetime: ...

    def activity(
        self,
        source: ActivitySource,
        at: datetime | None = None,
        *,
        count: int = 1,
        ref: str | None = None,
        sensor: str | None = None,
        signal: str | None = None,
    ) -> bool: ...

    def emergency(
        self,
        trigger: EmergencyTrigger,
        text: str | None = None,
        at: datetime | None = None,
        *,
        ref: str | None = None,
        cancel_of: str | None = None,
    ) -> str | None: ...

    def answer_checkin(
        self, request_id: str, *, answered: bool, text: str | None = None
    ) -> None: ...

    def vitals(
        self,
        kind: VitalKind,
        value: float | BloodPressure,
        at: datetime | None = None,
        *,
        ref: str | None = None,
    ) -> str | None: ...

    def set_presence(self, online: bool) -> None: ...

    def heartbeat_now(self) -> None: ...

    def get_state(self, key: str) -> str | None: ...

    def put_state(self, key: str, value: str | None) -> None: ...


@dataclass(frozen=True)
class HeartbeatExtras:
    """What an adapter adds to the device's heartbeat (a sensor gateway: can it see)."""

    sensing: bool | None = None
    sensing_problem: SensingProblem | None = None
    sensors: list[SensorHealth] | None = None


class Adapter(Protocol):
    """One device kind."""

    kind: str

    def start(self, agent: AgentPort) -> None:
        """Begin listening to the platform (threads, subscriptions)."""

    def stop(self) -> None:
        """Stop listening; idempotent."""

    def handle_feed(self, event: Mapping[str, Any], at: datetime, ref: str | None) -> FeedResult:
        """One event from the local feed (see FEED.md); raises FeedError on bad input."""

    def on_checkin(self, command: CheckinCommand) -> None:
        """The hub asks the resident whether they are all right."""

    def tick(self, now: datetime) -> datetime | None:
        """Time-driven work (check-in windows, watchdogs); returns when next needed."""

    def battery_pct(self) -> int | None:
        """Battery level to report in heartbeats, if the adapter knows one."""

    def heartbeat_extras(self) -> HeartbeatExtras:
        """Sensing and per-sensor health for the heartbeat (nothing for most adapters)."""


class AdapterBase:
    """What every adapter shares: the agent it was started with."""

    def __init__(self) -> None:
        self._agent: AgentPort | None = None

    @property
    def agent(self) -> AgentPort:
        if self._agent is None:
            msg = "adapter not started"
            raise RuntimeError(msg)
        return self._agent

    def start(self, agent: AgentPort) -> None:
        self._agent = agent

    def heartbeat_extras(self) -> HeartbeatExtras:
        return HeartbeatExtras()
