"""MQTT topic names of protocol v1: building them and taking them apart, with no I/O.

The resident and device of a message come from its topic, never from its payload, so this
module is where identifiers are checked. Parsing returns a value describing what is wrong
instead of raising: topics arrive from the network and a bad one must not stop the hub.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, TypeGuard, get_args

from protocol.vocab import ID_PATTERN

EventKind = Literal["activity", "heartbeat", "emergency", "checkin", "vitals", "status"]
"""Topic kinds a device publishes (device→hub)."""

TopicKind = EventKind | Literal["cmd"]
"""Every kind a per-device topic can end in; ``cmd`` is hub→device."""

TopicErrorReason = Literal["bad_topic", "bad_id", "hub_topic"]


PREFIX: Final = "anbu/v1"
HUB_NAMESPACE: Final = "_hub"
ALERTS_TOPIC: Final = f"{PREFIX}/{HUB_NAMESPACE}/alerts"
HUB_HEARTBEAT_TOPIC: Final = f"{PREFIX}/{HUB_NAMESPACE}/heartbeat"
"""The hub's own heartbeat (not retained: one must not outlive the hub); ``anbu watchdog``."""
SUBSCRIPTION: Final = f"{PREFIX}/+/+/+"

EVENT_KINDS: Final[frozenset[str]] = frozenset(get_args(EventKind))
TOPIC_KINDS: Final[frozenset[str]] = EVENT_KINDS | {"cmd"}

_SHOWN_CHARS: Final = 80


@dataclass(frozen=True, slots=True)
class TopicParts:
    """A well-formed per-device topic, taken apart."""

    resident: str
    device: str
    kind: TopicKind


@dataclass(frozen=True, slots=True)
class TopicError:
    """Why a topic is not a per-device v1 topic; ``reason`` is a short machine code."""

    reason: TopicErrorReason
    detail: str


def is_valid_id(value: str) -> bool:
    """Whether ``value`` may be used as a resident or device identifier."""
    return ID_PATTERN.match(value) is not None


def device_topic(resident: str, device: str, kind: EventKind) -> str:
    """The topic a device publishes ``kind`` messages on.

    Raises ValueError for an invalid identifier or kind: that is a configuration mistake
    on the publishing side, better caught at start-up than silently dropped by the hub.
    """
    if kind not in EVENT_KINDS:
        msg = f"{kind!r} is not a device→hub kind; one of {sorted(EVENT_KINDS)}"
        raise ValueError(msg)
    _require_ids(resident, device)
    return f"{PREFIX}/{resident}/{device}/{kind}"


def cmd_topic(resident: str, device: str) -> str:
    """The topic the hub sends commands to a device on (the device subscribes to it)."""
    _require_ids(resident, device)
    return f"{PREFIX}/{resident}/{device}/cmd"


def parse_topic(topic: str) -> TopicParts | TopicError:
    """Take ``anbu/v1/{resident}/{device}/{kind}`` apart; never raises."""
    parts = topic.split("/")
    if parts[:2] != PREFIX.split("/"):
        return TopicError("bad_topic", f"topic {_show(topic)} is not under {PREFIX}/")
    if len(parts) > 2 and parts[2] == HUB_NAMESPACE:
        return TopicError("hub_topic", f"topic {_show(topic)} is the hub's own namespace")
    if len(parts) != 5:
        return TopicError(
            "bad_topic",
            f"topic {_show(topic)} has {len(parts)} levels, expected 5: "
            f"{PREFIX}/{{resident}}/{{device}}/{{kind}}",
        )
    _, _, resident, device, kind = parts
    for name, value in (("resident", resident), ("device", device)):
        if not is_valid_id(value):
            return TopicError(
                "bad_id", f"{name} {_show(value)} must be 1-64 characters of A-Z a-z 0-9 _ -"
            )
    if not _is_topic_kind(kind):
        return TopicError(
            "bad_topic", f"unknown kind {_show(kind)}; expected one of {sorted(TOPIC_KINDS)}"
        )
    return TopicParts(resident, device, kind)


def _is_topic_kind(value: str) -> TypeGuard[TopicKind]:
    return value in TOPIC_KINDS


def _require_ids(resident: str, device: str) -> None:
    for name, value in (("resident", resident), ("device", device)):
        if not is_valid_id(value):
            msg = f"{name} {_show(value)} must be 1-64 characters of A-Z a-z 0-9 _ -"
            raise ValueError(msg)
    if resident == HUB_NAMESPACE:
        msg = f"resident {HUB_NAMESPACE!r} is reserved for the hub"
        raise ValueError(msg)


def _show(value: str) -> str:
    """Quote untrusted text for an error message without letting it grow unbounded."""
    if len(value) <= _SHOWN_CHARS:
        return repr(value)
    return repr(value[:_SHOWN_CHARS]) + f"… ({len(value)} chars)"
