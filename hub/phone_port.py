"""A phone's feed at the hub: the agent as the agent's own phone adapter sees it.

Owns what :mod:`hub.phone_feed` needs to run :class:`edge.phone.PhoneAdapter` without an
agent: :class:`FeedPort` (an :class:`edge.adapter.AgentPort` that collects the protocol
messages the agent would have sent), :func:`protocol_id` (the sender's ``id`` as a protocol
id) and :class:`HubPhone` (the adapter plus the heartbeats the agent would have added: one for
``alive`` and for every event the adapter ignores, the app being alive all the same).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel

from edge.adapter import FeedError, FeedResult
from edge.config import PhoneConfig
from edge.phone import ALIVE, PhoneAdapter
from protocol.models import (
    MAX_INTERVAL_S,
    Activity,
    ActivitySource,
    BloodPressure,
    Emergency,
    EmergencyTrigger,
    Heartbeat,
    VitalKind,
)

__all__ = ["DEFAULT_INTERVAL_S", "FW", "FeedClock", "FeedPort", "HubPhone", "protocol_id"]

DEFAULT_INTERVAL_S: Final = 900
"""An ``alive`` ping every 15 minutes (FEED.md: "every 15 min is plenty")."""
FW: Final = "anbu-feed-https"
"""A heartbeat's ``fw``: the phone has no agent; the hub made the heartbeat from its feed."""
_ID_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_PLAIN_ID_MAX: Final = 62  # "f-" + the sender's id within the protocol's 64 characters


def protocol_id(ref: str | None, *, emergency: bool = False) -> str:
    """The protocol id of a feed event: its sender's ``id`` when it can be one, else its
    digest (a distinct prefix, so the two never meet); a random one without an ``id``.

    An emergency's ids are a space of their own (``fe``): a sender that reuses one id for
    everything (a macro's magic text that did not expand) must not have its call for help
    counted as a duplicate of a screen unlock.
    """
    prefix = "fe" if emergency else "f"
    if ref is None:
        return f"{prefix}~{uuid.uuid4().hex}"
    if len(ref) <= _PLAIN_ID_MAX and not _ID_CONTROL.search(ref):
        return f"{prefix}-{ref}"
    return f"{prefix}~" + hashlib.sha256(ref.encode("utf-8")).hexdigest()[:40]


@dataclass
class FeedClock:
    """The devices' time as the hub knows it at this request (FeedProcessor's clock)."""

    at: datetime

    def now(self) -> datetime:
        return self.at


@dataclass
class FeedPort:
    """The agent as the phone adapter sees it: collects what it would have sent."""

    clock: FeedClock
    state: dict[str, str] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)
    messages: list[tuple[Any, BaseModel, int]] = field(default_factory=list)
    index: int = 0
    """Which event of the request is being converted (its messages carry it)."""

    def now(self) -> datetime:
        return self.clock.now()

    def _claim(self, ref: str | None, *, emergency: bool = False) -> str | None:
        event_id = protocol_id(ref, emergency=emergency)
        if event_id in self.taken:
            return None
        self.taken.add(event_id)
        return event_id

    def activity(
        self,
        source: ActivitySource,
        at: datetime | None = None,
        *,
        count: int = 1,
        ref: str | None = None,
        sensor: str | None = None,
        signal: str | None = None,
    ) -> bool:
        event_id = self._claim(ref)
        if event_id is None:
            return False
        when = at or self.now()
        self.messages.append(
            (
                "activity",
                Activity(v=1, id=event_id, ts=when, source=source, count=count),
                self.index,
            )
        )
        return True

    def emergency(
        self,
        trigger: EmergencyTrigger,
        text: str | None = None,
        at: datetime | None = None,
        *,
        ref: str | None = None,
        cancel_of: str | None = None,
    ) -> str | None:
        event_id = self._claim(ref, emergency=True)
        if event_id is None:
            return None
        message = Emergency(
            v=1,
            id=event_id,
            ts=at or self.now(),
            trigger=trigger,
            text=text[:500] if text else None,
            cancel_of=cancel_of,
        )
        self.messages.append(("emergency", message, self.index))
        return event_id

    def heartbeat(
        self, at: datetime, ref: str | None, interval_s: int, battery: int | None
    ) -> bool:
        event_id = self._claim(ref)
        if event_id is None:
            return False
        beat = Heartbeat(v=1, id=event_id, ts=at, interval_s=interval_s, battery_pct=battery, fw=FW)
        self.messages.append(("heartbeat", beat, self.index))
        return True

    def vitals(
        self,
        kind: VitalKind,
        value: float | BloodPressure,
        at: datetime | None = None,
        *,
        ref: str | None = None,
    ) -> str | None:
        """A phone's feed carries no readings (the phone adapter never sends any)."""
        return None

    def answer_checkin(self, request_id: str, *, answered: bool, text: str | None = None) -> None:
        """A phone without an agent cannot be asked (the adapter never answers either)."""

    def heartbeat_now(self) -> None:
        """Heartbeats go with the events that show the app alive (:class:`_HubPhone`)."""

    def set_presence(self, online: bool) -> None:
        """Presence is the core's to judge from the heartbeats' gaps, not the adapter's."""

    def get_state(self, key: str) -> str | None:
        return self.state.get(key)

    def put_state(self, key: str, value: str | None) -> None:
        if value is None:
            self.state.pop(key, None)
        else:
            self.state[key] = value


def _interval(event: Mapping[str, Any]) -> int:
    value = event.get("interval_s", DEFAULT_INTERVAL_S)
    if isinstance(value, bool) or not isinstance(value, int) or not 60 <= value <= MAX_INTERVAL_S:
        msg = f"'interval_s' must be an integer of 60-{MAX_INTERVAL_S} seconds"
        raise FeedError(msg)
    return value


class HubPhone(PhoneAdapter):
    """The agent's phone adapter, plus the heartbeats the agent would have sent."""

    def __init__(self, port: FeedPort) -> None:
        super().__init__(PhoneConfig())
        self.port = port
        self.start(port)

    def handle_feed(self, event: Mapping[str, Any], at: datetime, ref: str | None) -> FeedResult:
        interval = _interval(event) if event.get("type") == ALIVE else DEFAULT_INTERVAL_S
        result = super().handle_feed(event, at, ref)
        alive = result.outcome == "ignored" or (
            result.outcome == "accepted" and result.detail == ALIVE
        )
        # The app is alive, though the resident did nothing: a heartbeat says so.
        if alive and not self.port.heartbeat(at, ref, interval, self.battery_pct()):
            return FeedResult("duplicate")
        return result
