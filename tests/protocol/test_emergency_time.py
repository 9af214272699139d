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


def test_an_emergency_wrong_in_more_than_its_time_is_still_refused() -> None:
    result = parse(TOPIC, emergency(ts="0001-01-01T00:00:00Z", trigger="shout"), now=NOW)

    assert isinstance(result, Rejection)
    assert result.reason == "invalid_payload"


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


def test_an_emergency_without_a_trigger_stays_refused() -> None:
    body = {"v": 1, "id": "e-2", "ts": NOW.isoformat(), "text": "살려\x00줘"}
    result = parse("anbu/v1/r1/spk/emergency", json.dumps(body).encode(), now=NOW)
    assert isinstance(result, Rejection)
