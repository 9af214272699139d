"""An emergency is never refused for its time: taken at the hub's clock, the issue kept.

Other messages keep their named time reasons (``tests/protocol/test_bounds.py``); a call for
help from a device whose clock is wrong, or from a hub whose clock is wrong, is paged now.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from protocol import Event, Rejection, parse
from protocol.models import EARLIEST_TS, LATEST_TS
from protocol.parse import UNKNOWN_TRIGGER
from protocol.vocab import ID_PATTERN

NOW = datetime(2026, 11, 22, 0, 15, tzinfo=UTC)
TOPIC = "anbu/v1/r1/spk1/emergency"


def emergency(**fields: Any) -> bytes:
    body: dict[str, Any] = {"v": 1, "id": "e-1", "ts": NOW.isoformat(), "trigger": "voice"}
    body |= fields
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


@pytest.mark.parametrize(
    ("ts", "reason"),
    [
        ("0001-01-01T00:00:00+14:00", "ts_too_old"),
        ("1969-12-31T23:59:59Z", "ts_too_old"),
        ((NOW - timedelta(days=400)).isoformat(), "ts_too_old"),
        ((NOW + timedelta(hours=1)).isoformat(), "future_ts"),
        ((NOW + timedelta(hours=13)).isoformat(), "future_ts"),
        ("9999-12-31T23:59:59-14:00", "future_ts"),
        ("2026-11-22T09:15:00", "invalid_payload"),  # no offset
        ("yesterday", "invalid_payload"),
        (None, "invalid_payload"),  # no ts at all
    ],
)
def test_an_emergency_at_any_time_is_taken_at_the_hub_clock(ts: str | None, reason: str) -> None:
    result = parse(TOPIC, emergency(ts=ts), now=NOW)

    assert isinstance(result, Event), result
    assert result.message.ts == NOW
    assert result.taken_despite is not None
    assert result.taken_despite.reason == reason
    assert "paged all the same" in result.taken_despite.detail


def test_an_emergency_in_range_has_no_time_issue() -> None:
    result = parse(TOPIC, emergency(ts=(NOW - timedelta(hours=2)).isoformat()), now=NOW)

    assert isinstance(result, Event)
    assert result.taken_despite is None
    assert result.message.ts == NOW - timedelta(hours=2), "a buffered emergency keeps its time"


def test_without_a_hub_clock_the_fixed_range_end_stands_in() -> None:
    old = parse(TOPIC, emergency(ts="0001-01-01T00:00:00Z"))
    late = parse(TOPIC, emergency(ts="9999-01-01T00:00:00Z"))

    assert isinstance(old, Event)
    assert old.message.ts == EARLIEST_TS
    assert isinstance(late, Event)
    assert late.message.ts < LATEST_TS
    # Nothing to stand in for an unreadable time without a clock: refused as before.
    assert isinstance(parse(TOPIC, emergency(ts="yesterday")), Rejection)


def test_an_emergency_wrong_in_its_time_and_its_trigger_is_taken() -> None:
    result = parse(TOPIC, emergency(ts="0001-01-01T00:00:00Z", trigger="shout"), now=NOW)

    assert isinstance(result, Event), result
    assert result.message.ts == NOW
    assert result.message.trigger == UNKNOWN_TRIGGER  # type: ignore[union-attr]
    assert result.taken_despite is not None


def test_other_kinds_keep_their_time_reasons() -> None:
    activity = json.dumps(
        {"v": 1, "id": "a-1", "ts": (NOW + timedelta(hours=1)).isoformat(), "source": "voice"}
    ).encode()

    result = parse("anbu/v1/r1/spk1/activity", activity, now=NOW)

    assert isinstance(result, Rejection)
    assert result.reason == "future_ts"


@pytest.mark.parametrize(
    ("text", "said", "reason"),
    [
        ("살려\x00줘", "살려줘", "control_chars"),
        ("도와\x1b주세요", "도와주세요", "control_chars"),
        ("아" * 600, "아" * 500, "invalid_payload"),
        (42, None, "invalid_payload"),
        ("\x00\x01", None, "control_chars"),
    ],
)
def test_an_emergency_is_taken_whatever_its_text(
    text: object, said: str | None, reason: str
) -> None:
    """What a call for help said is a detail; that it was made is not."""
    body = {"v": 1, "id": "e-text", "ts": NOW.isoformat(), "trigger": "voice", "text": text}
    result = parse("anbu/v1/r1/spk/emergency", json.dumps(body).encode(), now=NOW)
    assert isinstance(result, Event), result
    assert result.message.text == said  # type: ignore[union-attr]
    assert result.message.ts == NOW
    assert result.taken_despite is not None and result.taken_despite.reason == reason


def test_other_messages_with_such_text_stay_refused() -> None:
    body = {"v": 1, "id": "c-1", "ts": NOW.isoformat(), "request_id": "q1", "answered": True}
    body["text"] = "네\x00"
    result = parse("anbu/v1/r1/spk/checkin", json.dumps(body).encode(), now=NOW)
    assert isinstance(result, Rejection) and result.reason == "control_chars"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"trigger": None}, "invalid_payload"),  # no trigger at all
        ({"trigger": "pendant"}, "invalid_payload"),  # a newer or a foreign device's word
        ({"trigger": 7}, "invalid_payload"),
        ({"trigger": None, "text": "살려\x00줘"}, "invalid_payload"),
    ],
)
def test_an_emergency_is_taken_whatever_its_trigger(fields: dict[str, Any], reason: str) -> None:
    """A pendant's call for help from a device newer than the hub is still a call for help."""
    result = parse(TOPIC, emergency(**fields), now=NOW)

    assert isinstance(result, Event), result
    assert result.message.trigger == UNKNOWN_TRIGGER  # type: ignore[union-attr]
    assert result.message.ts == NOW, "its time was fine: kept"
    assert result.taken_despite is not None and result.taken_despite.reason == reason
    assert "paged all the same" in result.taken_despite.detail


@pytest.mark.parametrize("bad_id", [None, "", "x" * 65, 12, "e-1\x00", ["e-1"]])
def test_an_emergency_is_taken_whatever_its_id(bad_id: object) -> None:
    """Taken under an id made from its content: the same message delivered again is a
    duplicate, another call for help is not."""
    body: dict[str, Any] = {"v": 1, "ts": NOW.isoformat(), "trigger": "button"}
    if bad_id is not None:
        body["id"] = bad_id
    raw = json.dumps(body).encode()
    other = json.dumps(body | {"text": "또"}).encode()

    reserialised = json.dumps(dict(reversed(body.items())), indent=1).encode()
    first, again, second, resent = (
        parse(TOPIC, x, now=NOW) for x in (raw, raw, other, reserialised)
    )

    assert isinstance(first, Event) and isinstance(again, Event) and isinstance(second, Event)
    assert isinstance(resent, Event) and resent.message.id == first.message.id
    assert ID_PATTERN.match(first.message.id) and first.message.id.startswith("x-")
    assert first.message.id == again.message.id != second.message.id
    assert first.taken_despite is not None


def test_an_emergency_without_a_version_marker_is_taken() -> None:
    body = {"id": "e-9", "ts": NOW.isoformat(), "trigger": "fall"}
    result = parse(TOPIC, json.dumps(body).encode(), now=NOW)
    assert isinstance(result, Event), result
    assert result.taken_despite is not None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"v": 2, "id": "e-1", "ts": NOW.isoformat(), "trigger": "voice"}, "unsupported_version"),
        (
            {"v": 1, "id": "e-2", "ts": NOW.isoformat(), "trigger": "voice", "cancel_of": ""},
            "invalid_payload",
        ),
        (
            {"v": 1, "id": "e-3", "ts": NOW.isoformat(), "trigger": "x", "cancel_of": ""},
            "invalid_payload",
        ),
    ],
)
def test_what_an_emergency_must_say_is_still_required(body: dict[str, Any], reason: str) -> None:
    """Another protocol's message, or a cancel that cannot say what it takes back (the
    emergency it meant stays with the centre, the safe side)."""
    result = parse(TOPIC, json.dumps(body).encode(), now=NOW)
    assert isinstance(result, Rejection), result
    assert result.reason == reason


def test_only_calls_for_help_are_taken_in_spite_of_their_fields() -> None:
    body = {"v": 1, "ts": NOW.isoformat(), "source": "voice"}
    result = parse("anbu/v1/r1/spk1/activity", json.dumps(body).encode(), now=NOW)
    assert isinstance(result, Rejection) and result.reason == "invalid_payload"


@pytest.mark.parametrize("trigger", [None, 5, "teleport"])
def test_another_kinds_message_on_the_emergency_topic_stays_refused(trigger: object) -> None:
    """An activity published to the emergency topic by mistake is not a call for help."""
    body = {"v": 1, "id": "a-1", "ts": NOW.isoformat(), "source": "voice", "trigger": trigger}
    if trigger is None:
        del body["trigger"]
    result = parse(TOPIC, json.dumps(body).encode(), now=NOW)
    assert isinstance(result, Rejection) and result.reason == "invalid_payload"
