"""The hub's single door for device messages: topic + raw bytes in, an Event or a Rejection out.

It never raises on what arrives from the network: the hub counts a Rejection, keeps it in its
dead-letter store with ``reason`` and ``detail``, and carries on with the next message.

An emergency is never refused for its time. A call for help whose ``ts`` is out of range
(``future_ts``, ``ts_too_old``) or unreadable comes out as an :class:`Event` whose ``ts`` is
the time it was parsed at (``now``; without ``now``, the nearest end of the fixed range) and
whose ``taken_despite`` holds the rejection it would have had: the hub pages it now, keeps the
issue as a dead letter for the record and the device's own time in the stored payload. Nor
for its ``text``: one with characters no text may hold, too long, or not a string is taken
with the text cleaned (or without it). Nor for its ``id`` (missing or not an id): it is taken
under one made from its content, so a redelivery of it is still a duplicate. Nor for its
``trigger`` (missing, or one this hub does not know, from a newer or a foreign device): it is
taken as ``sensor``, "a device raised it", the only claim the hub can make, with the device's
own word in the stored payload, unless it carries another kind's fields (an activity's
``source``: a message published to the wrong topic). A call for help is paged for being
one; what it says about itself is a detail. Still refused: an emergency that is not a JSON
object, names another protocol version, or carries a ``cancel_of`` that names nothing (a
cancel that cannot say what it takes back is not taken: the emergency it meant stays with the
centre, the safe side).
"""

from __future__ import annotations

import hashlib
import json
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
    ts_replaced: bool = False
    """``message.ts`` is the time it was taken at, not the device's (its own was unusable)."""


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
            return _emergency_all_the_same(route, data, message, now, max_future, max_age)
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
    return Event(route.resident, route.device, route.kind, taken, _paged_anyway(issue, now), True)


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


def _emergency_all_the_same(
    route: _Route,
    data: dict[str, Any],
    refused: Rejection,
    now: datetime | None,
    max_future: timedelta,
    max_age: timedelta,
) -> Event | Rejection:
    """An emergency refused only for fields that do not make it less of a call for help
    (:data:`_REPAIRABLE`: its time, text, id, trigger or version marker), taken all the
    same: with ``now`` as its time, its text cleaned (or left out), an id made from its
    content, ``sensor`` as its trigger. What it said about itself is kept in the stored
    payload and the issue in ``taken_despite``. Refused for anything else (a ``cancel_of``
    that names nothing), it stays refused."""
    wrong = _wrong_fields(route.kind, data)
    mended = None
    # Not another protocol's message (its fields may mean other things), nor another
    # kind's published to the emergency topic by a device's mix-up.
    if (
        refused.reason != "unsupported_version"
        and wrong is not None
        and wrong <= _REPAIRABLE
        and ("trigger" not in wrong or _OTHER_KINDS_FIELDS.isdisjoint(data))
    ):
        mended = _mended(data, wrong, refused.reason, now)
    retried = refused if mended is None else _validate(route.kind, mended[0])
    if mended is None or wrong is None or isinstance(retried, Rejection):
        return refused
    replacement = mended[1]
    if replacement is not None:
        note = _paged_anyway(refused, replacement)
    else:  # its time was fine in itself: the relative bounds still apply
        bounded = _within_bounds(route, retried, now, max_future, max_age)
        if isinstance(bounded, Rejection) or bounded.taken_despite is not None:
            return bounded  # (an emergency out of the bounds is taken at now, noted so)
        note = Rejection(
            refused.reason,
            f"{refused.detail}; an emergency: paged all the same ({_repairs(wrong)}), the "
            "device's own message kept in the stored payload",
        )
    return Event(route.resident, route.device, route.kind, retried, note, replacement is not None)


_REPAIRABLE: Final = frozenset({"ts", "text", "id", "trigger", "v"})
_OTHER_KINDS_FIELDS: Final = frozenset(
    field
    for kind, model in MODELS_BY_KIND.items()
    if kind != "emergency"
    for field in model.model_fields
    if field not in MODELS_BY_KIND["emergency"].model_fields
)
"""Fields only other kinds of message have: with one of them and no usable ``trigger``, a
message on the emergency topic is another kind's, published to the wrong topic."""
UNKNOWN_TRIGGER: Final = "sensor"
"""The trigger an emergency is taken with when its own is missing or unknown."""


def _mended(
    data: dict[str, Any],
    wrong: set[str],
    reason: RejectionReason,
    now: datetime | None,
) -> tuple[dict[str, Any], datetime | None] | None:
    """``data`` with its :data:`_REPAIRABLE` fields made usable, and the time it is taken at
    when its own was the problem; ``None`` when no time can stand in (no clock, and a time
    that cannot be read)."""
    repaired = dict(data)
    replacement: datetime | None = None
    if "ts" in wrong:
        replacement = now
        if replacement is None and reason == "ts_too_old":
            replacement = EARLIEST_TS
        if replacement is None and reason == "future_ts":
            replacement = LATEST_TS - timedelta(days=1)
        if replacement is None:
            return None
        repaired["ts"] = replacement.isoformat()
    if "text" in wrong:
        cleaned = _usable_text(data.get("text"))
        if cleaned is None:
            repaired.pop("text", None)
        else:
            repaired["text"] = cleaned
    if "id" in wrong:
        # From its content, canonically written: a redelivery another way serialised (key
        # order, spacing) is the same message. (Two presses from a device that sends
        # neither an id nor a time cannot be told apart from a redelivery: one page.)
        canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        repaired["id"] = "x-" + hashlib.sha256(canonical.encode()).hexdigest()[:32]
    if "trigger" in wrong:
        repaired["trigger"] = UNKNOWN_TRIGGER
    if "v" in wrong:
        repaired["v"] = PROTOCOL_VERSION
    return repaired, replacement


def _repairs(wrong: set[str]) -> str:
    said = {
        "text": "its text cleaned",
        "id": "under an id made from its content",
        "trigger": f"as trigger {UNKNOWN_TRIGGER!r}",
        "v": f"as v{PROTOCOL_VERSION}",
    }
    return ", ".join(said[field] for field in sorted(wrong) if field in said)


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
