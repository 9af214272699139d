"""The hub's single door for device messages: topic + raw bytes in, an Event or a Rejection out.

It never raises on what arrives from the network: the hub counts a Rejection, keeps it in its
dead-letter store with ``reason`` and ``detail``, and carries on with the next message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Final, Literal, cast

from pydantic import ValidationError
from pydantic_core import from_json

from protocol.models import MAX_BUFFER_AGE, MODELS_BY_KIND, PROTOCOL_VERSION, Payload
from protocol.topics import EventKind, TopicError, parse_topic

MAX_PAYLOAD_BYTES: Final = 8192

RejectionReason = Literal[
    "bad_topic",
    "bad_id",
    "hub_topic",
    "oversize",
    "not_utf8",
    "not_json",
    "not_object",
    "unsupported_version",
    "invalid_payload",
    "future_ts",
    "ts_too_old",
    "count_too_large",
    "control_chars",
]

# Field errors worth a reason of their own (the models raise them under these names): an
# operator looking at dead letters, or at the counts per reason, sees a device's broken clock
# or counter at once instead of one more invalid_payload.
_NAMED_ERRORS: Final[frozenset[RejectionReason]] = frozenset(
    {"future_ts", "ts_too_old", "count_too_large", "control_chars"}
)


@dataclass(frozen=True, slots=True)
class Event:
    """A valid device message; resident and device come from the topic."""

    resident: str
    device: str
    kind: EventKind
    message: Payload


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message was refused: ``reason`` is a short code, ``detail`` says what and where."""

    reason: RejectionReason
    detail: str


def parse(
    topic: str,
    payload: bytes,
    *,
    now: datetime | None = None,
    max_future: timedelta = timedelta(minutes=5),
    max_age: timedelta = MAX_BUFFER_AGE,
) -> Event | Rejection:
    """Validate one MQTT message published by a device.

    With ``now`` (aware), a ``ts`` more than ``max_future`` ahead of it is refused
    (``future_ts``): a device with a wrong clock would otherwise hold off inactivity alerts
    until its future arrives; and one more than ``max_age`` behind it (``ts_too_old``): no
    outbox holds an event that long, so its clock is wrong. Without ``now`` only the fixed
    range of :data:`protocol.models.EARLIEST_TS`/``LATEST_TS`` applies.
    Raises ValueError only for a naive ``now``, a programming error on the caller's side.
    """
    if now is not None and now.utcoffset() is None:
        msg = "now must be an aware datetime"
        raise ValueError(msg)

    route = _route(topic)
    if isinstance(route, Rejection):
        return route
    data = _decode(payload)
    if isinstance(data, Rejection):
        return data
    message = _validate(route.kind, data)
    if isinstance(message, Rejection):
        return message
    if now is not None and message.ts - now > max_future:
        return Rejection(
            "future_ts",
            f"ts {message.ts.isoformat()} is {message.ts - now} ahead of the hub clock "
            f"(at most {max_future} allowed)",
        )
    if now is not None and now - message.ts > max_age:
        return Rejection(
            "ts_too_old",
            f"ts {message.ts.isoformat()} is {(now - message.ts).days} days behind the hub "
            f"clock (at most {max_age.days} days allowed)",
        )
    return Event(route.resident, route.device, route.kind, message)


@dataclass(frozen=True, slots=True)
class _Route:
    resident: str
    device: str
    kind: EventKind


# A hub sees the same few topics per device over and over, and taking one apart was a
# fifth of the parse cost. Both results are frozen, so sharing them is safe; the bound
# keeps a flood of junk topics from growing the cache.
@lru_cache(maxsize=4096)
def _route(topic: str) -> _Route | Rejection:
    where = parse_topic(topic)
    if isinstance(where, TopicError):
        return Rejection(where.reason, where.detail)
    if where.kind == "cmd":
        return Rejection(
            "hub_topic", "cmd topics carry hub→device commands; devices must not publish"
        )
    return _Route(where.resident, where.device, where.kind)


def _decode(payload: bytes) -> dict[str, Any] | Rejection:
    # Size first, so an oversized payload costs nothing to refuse.
    if len(payload) > MAX_PAYLOAD_BYTES:
        return Rejection(
            "oversize", f"payload is {len(payload)} bytes, at most {MAX_PAYLOAD_BYTES} allowed"
        )
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        return Rejection("not_utf8", f"invalid UTF-8 at byte {error.start}: {error.reason}")
    try:
        # pydantic's parser, not json.loads: it refuses NaN, lone surrogates and deep nesting
        # with a ValueError where json.loads would accept them or hit RecursionError.
        data = from_json(text, allow_inf_nan=False)
    except ValueError as error:
        return Rejection("not_json", str(error))
    if not isinstance(data, dict):
        return Rejection("not_object", f"payload is a JSON {_json_type(data)}, expected an object")
    return data


def _validate(kind: EventKind, data: dict[str, Any]) -> Payload | Rejection:
    version = data.get("v")
    # Status carries no version; for the rest a different integer is a newer (or older)
    # protocol, worth its own reason, while any other `v` is plainly an invalid payload.
    if kind != "status" and type(version) is int and version != PROTOCOL_VERSION:
        shown = str(version) if abs(version) < 10**9 else "a huge number"
        return Rejection(
            "unsupported_version", f"v is {shown}; this hub speaks v{PROTOCOL_VERSION}"
        )
    try:
        return MODELS_BY_KIND[kind].model_validate(data)
    except ValidationError as error:
        return Rejection(_reason(error), _describe(error))


def _reason(error: ValidationError) -> RejectionReason:
    """A named reason when every problem of the payload is that one, else invalid_payload."""
    kinds = {str(problem["type"]) for problem in error.errors(include_url=False)}
    if len(kinds) == 1 and kinds <= set(_NAMED_ERRORS):
        return cast(RejectionReason, kinds.pop())
    return "invalid_payload"


def _describe(error: ValidationError) -> str:
    """Name the field path and the problem of the first error, e.g. ``count: ... >= 1``."""
    first = error.errors(include_url=False, include_input=False)[0]
    path = ".".join(str(part) for part in first["loc"]) or "payload"
    problem = first["msg"].removeprefix("Value error, ")
    more = error.error_count() - 1
    return f"{path}: {problem}" + (f" (and {more} more)" if more else "")


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"
