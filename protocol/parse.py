"""The hub's single door for device messages: topic + raw bytes in, an Event or a Rejection out.

It never raises on what arrives from the network: the hub counts a Rejection, keeps it in its
dead-letter store with ``reason`` and ``detail``, and carries on with the next message.

An emergency is never refused for its time. A call for help whose ``ts`` is out of range
(``future_ts``, ``ts_too_old``) or unreadable comes out as an :class:`Event` whose ``ts`` is
the time it was parsed at (``now``; without ``now``, the nearest end of the fixed range) and
whose ``taken_despite`` holds the rejection it would have had: the hub pages it now, keeps the
issue as a dead letter for the record and the device's own time in the stored payload. Nor
for its ``text``: one with characters no text may hold, too long, or not a string is taken
with the text cleaned (or without it). Refused for anything else (no id, no trigger), an
emergency is refused like any message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Final, Literal, cast

from pydantic import ValidationError
from pydantic_core import from_json

from protocol.models import (
    EARLIEST_TS,
    LATEST_TS,
    MAX_BUFFER_AGE,
    MAX_TEXT_CHARS,
    MODELS_BY_KIND,
    PROTOCOL_VERSION,
    TEXT_CONTROL,
    Payload,
)
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
    """A valid device message; resident and device come from the topic.

    ``taken_despite``: only on an emergency taken in spite of its time or its text (see the
    module docstring): the rejection it would have had. When its ``ts`` was the problem,
    ``message.ts`` is the time it was taken at, not the device's; when its ``text`` was, the
    text is cleaned of what no text may hold (or left out).
    """

    resident: str
    device: str
    kind: EventKind
    message: Payload
    taken_despite: Rejection | None = None


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
    range of :data:`protocol.models.EARLIEST_TS`/``LATEST_TS`` applies. An emergency is
    never refused for its time (see the module docstring). The hub passes as ``now`` its
    clock as the devices keep it (:mod:`hub.clock_check`), so its own clock being wrong
    refuses nothing.
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
        if route.kind == "emergency":
            return _emergency_in_spite_of_time(route, data, message, now, max_future, max_age)
        return message
    return _within_bounds(route, message, now, max_future, max_age)


def _within_bounds(
    route: _Route,
    message: Payload,
    now: datetime | None,
    max_future: timedelta,
    max_age: timedelta,
) -> Event | Rejection:
    """The message, unless its time is out of the relative bounds; an emergency is taken at
    ``now`` then."""
    issue = _out_of_range(message.ts, now, max_future, max_age)
    if issue is None or now is None:
        return Event(route.resident, route.device, route.kind, message)
    if route.kind != "emergency":
        return issue
    taken = message.model_copy(update={"ts": now})
    return Event(route.resident, route.device, route.kind, taken, _paged_anyway(issue, now))


def _out_of_range(
    ts: datetime, now: datetime | None, max_future: timedelta, max_age: timedelta
) -> Rejection | None:
    """The relative bounds: how far ``ts`` may be from ``now`` either way."""
    if now is None:
        return None
    if ts - now > max_future:
        return Rejection(
            "future_ts",
            f"ts {ts.isoformat()} is {ts - now} ahead of the hub clock "
            f"(at most {max_future} allowed)",
        )
    if now - ts > max_age:
        return Rejection(
            "ts_too_old",
            f"ts {ts.isoformat()} is {(now - ts).days} days behind the hub "
            f"clock (at most {max_age.days} days allowed)",
        )
    return None


def _paged_anyway(issue: Rejection, at: datetime) -> Rejection:
    return Rejection(
        issue.reason,
        f"{issue.detail}; an emergency: taken at {at.isoformat()} and paged all the same, "
        "the device's own time kept in the stored payload",
    )


def _emergency_in_spite_of_time(
    route: _Route,
    data: dict[str, Any],
    refused: Rejection,
    now: datetime | None,
    max_future: timedelta,
    max_age: timedelta,
) -> Event | Rejection:
    """An emergency refused only for its ``ts`` (out of range, missing, unreadable) or its
    ``text`` (control characters, too long, not a string), taken all the same: with ``now``
    as its time, and with its text cleaned of what made it unusable (or without it). What
    a call for help said is a detail; that it was made is not. Refused for anything else
    (no id, no trigger), it stays refused."""
    wrong = _wrong_fields(route.kind, data)
    if wrong is None or not wrong <= {"ts", "text"}:
        return refused
    repaired = dict(data)
    replacement: datetime | None = None
    if "ts" in wrong:
        replacement = now
        if replacement is None and refused.reason == "ts_too_old":
            replacement = EARLIEST_TS
        if replacement is None and refused.reason == "future_ts":
            replacement = LATEST_TS - timedelta(days=1)
        if replacement is None:
            return refused
        repaired["ts"] = replacement.isoformat()
    if "text" in wrong:
        cleaned = _usable_text(data.get("text"))
        if cleaned is None:
            repaired.pop("text", None)
        else:
            repaired["text"] = cleaned
    retried = _validate(route.kind, repaired)
    if isinstance(retried, Rejection):
        return refused
    if replacement is not None:
        note = _paged_anyway(refused, replacement)
    else:  # its time was fine in itself: the relative bounds still apply
        bounded = _within_bounds(route, retried, now, max_future, max_age)
        if isinstance(bounded, Rejection) or bounded.taken_despite is not None:
            return bounded  # (an emergency out of the bounds is taken at now, noted so)
        note = Rejection(
            refused.reason,
            f"{refused.detail}; an emergency: paged all the same with its text cleaned, the "
            "device's own text kept in the stored payload",
        )
    return Event(route.resident, route.device, route.kind, retried, note)


def _usable_text(value: Any) -> str | None:
    """A device's text without the control characters no text may hold, cut to the
    protocol's length; ``None`` when nothing usable is left."""
    if not isinstance(value, str):
        return None
    cleaned = TEXT_CONTROL.sub("", value)[:MAX_TEXT_CHARS]
    return cleaned or None


def _wrong_fields(kind: EventKind, data: dict[str, Any]) -> set[str] | None:
    """The top-level fields that make ``data`` invalid, or ``None`` when it is valid."""
    try:
        MODELS_BY_KIND[kind].model_validate(data)
    except ValidationError as error:
        return {str(problem["loc"][0]) if problem["loc"] else "" for problem in error.errors()}
    return None


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
