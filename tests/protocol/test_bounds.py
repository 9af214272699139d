"""Bounds on what a device may send: times both ways, ``count``, control characters.

Each case has its own rejection reason, so a device's broken clock or counter shows in the
dead letters and in the counts per reason. The hub-side effect (the same dead letter on
SQLite and PostgreSQL, no batch failing) is in ``tests/hub/test_input_bounds.py``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from protocol import Event, Rejection, parse, write_schemas
from protocol.models import EARLIEST_TS, LATEST_TS, MAX_BUFFER_AGE, MAX_COUNT

NOW = datetime(2026, 11, 22, 0, 15, tzinfo=UTC)
BASE = "anbu/v1/r1/spk1"


def message(kind: str = "activity", **fields: Any) -> tuple[str, bytes]:
    body: dict[str, Any] = {"v": 1, "id": "m-1", "ts": NOW.isoformat()}
    required: dict[str, dict[str, Any]] = {
        "activity": {"source": "voice"},
        "emergency": {"trigger": "voice"},
        "checkin": {"request_id": "cmd-1", "answered": True},
        "heartbeat": {"interval_s": 300},
    }
    body |= required[kind] | fields
    return f"{BASE}/{kind}", json.dumps(body).encode()


def reason_of(topic: str, payload: bytes, now: datetime | None = NOW) -> str:
    result = parse(topic, payload, now=now)
    return "accepted" if isinstance(result, Event) else result.reason


@pytest.mark.parametrize("now", [NOW, None], ids=["with-hub-clock", "without"])
@pytest.mark.parametrize(
    "ts",
    [
        "0001-01-01T00:00:00+14:00",  # UTC cannot even hold it: year 0
        "0001-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
    ],
)
def test_times_before_any_device_clock_are_too_old(ts: str, now: datetime | None) -> None:
    # An emergency is taken in spite of its time: tests/protocol/test_emergency_time.py.
    for kind in ("activity", "heartbeat", "checkin"):
        assert reason_of(*message(kind, ts=ts), now=now) == "ts_too_old", kind
    assert reason_of(f"{BASE}/status", json.dumps({"state": "online", "ts": ts}).encode()) == (
        "ts_too_old"
    )


@pytest.mark.parametrize("now", [NOW, None], ids=["with-hub-clock", "without"])
def test_times_near_the_end_of_the_calendar_are_future(now: datetime | None) -> None:
    # -14:00 puts it past year 9999 in UTC: converting it would overflow.
    assert reason_of(*message(ts="9999-12-31T23:59:59-14:00"), now=now) == "future_ts"
    assert reason_of(*message(ts=LATEST_TS.isoformat()), now=now) == "future_ts"


def test_the_fixed_range_is_inclusive_of_the_epoch() -> None:
    assert reason_of(*message(ts=EARLIEST_TS.isoformat()), now=None) == "accepted"
    assert reason_of(*message(ts=(LATEST_TS - timedelta(seconds=1)).isoformat()), now=None) == (
        "accepted"
    )


def test_events_older_than_the_buffering_horizon_are_too_old() -> None:
    oldest = NOW - MAX_BUFFER_AGE
    assert reason_of(*message(ts=oldest.isoformat())) == "accepted"
    result = parse(*message(ts=(oldest - timedelta(seconds=1)).isoformat()), now=NOW)
    assert isinstance(result, Rejection)
    assert result.reason == "ts_too_old"
    assert "366 days" in result.detail
    # A month-old event from a device that was cut off is still evidence.
    assert reason_of(*message(ts=(NOW - timedelta(days=30)).isoformat())) == "accepted"
    assert reason_of(*message(ts="2025-11-01T00:00:00+09:00"), now=None) == "accepted"


@pytest.mark.parametrize(
    "count", [MAX_COUNT + 1, 2**63, 2**64, 10**400], ids=["2^31", "2^63", "2^64", "10^400"]
)
def test_counts_beyond_the_bound_are_refused(count: int) -> None:
    topic, payload = message(count=1)
    payload = payload.replace(b'"count": 1', b'"count": ' + str(count).encode())
    result = parse(topic, payload, now=NOW)

    assert isinstance(result, Rejection)
    assert result.reason == "count_too_large"
    assert str(MAX_COUNT) in result.detail
    assert len(result.detail) < 200, "a 400-digit count is not echoed"


def test_the_largest_count_is_accepted() -> None:
    result = parse(*message(count=MAX_COUNT), now=NOW)
    assert isinstance(result, Event)
    assert reason_of(*message(count=0)) == "invalid_payload"


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        ("activity", "id", "a\x00b"),
        ("activity", "id", "a\nb"),
        ("activity", "id", "esc\x1b[31m"),
        ("activity", "id", "c1\x85"),
        ("activity", "id", "del\x7f"),
        # (an emergency's text is cleaned, not refused: test_emergency_time.py)
        ("checkin", "text", "살려\x00줘"),
        ("checkin", "text", "bell\x07"),
        ("emergency", "cancel_of", "e\x00"),
        ("checkin", "request_id", "cmd\x00"),
        ("checkin", "text", "\x00"),
        ("heartbeat", "fw", "agent\x000.3"),
    ],
)
def test_control_characters_are_refused_by_name(kind: str, field: str, value: str) -> None:
    result = parse(*message(kind, **{field: value}), now=NOW)

    assert isinstance(result, Rejection)
    assert result.reason == "control_chars"
    assert result.detail.startswith(f"{field}: holds the control character U+")


def test_text_keeps_line_breaks_and_tabs() -> None:
    result = parse(*message("emergency", text="살려줘\n가슴이\t아파요\r\n"), now=NOW)
    assert isinstance(result, Event)
    assert reason_of(*message(id="아이디-é-✓")) == "accepted"


def test_several_problems_are_an_invalid_payload() -> None:
    topic, payload = message(id="a\x00", ts="0001-01-01T00:00:00Z", source="teleport")
    assert reason_of(topic, payload) == "invalid_payload"


def test_the_schema_states_the_bounds(tmp_path: Any) -> None:
    documents = {
        path.name.removesuffix(".schema.json"): json.loads(path.read_text("utf-8"))
        for path in write_schemas(tmp_path)
    }
    activity = documents["activity"]["properties"]
    count = next(option for option in activity["count"]["anyOf"] if option.get("type"))
    assert count["minimum"] == 1
    assert count["maximum"] == MAX_COUNT
    assert "\\u0000" in activity["id"]["pattern"]
    emergency = documents["emergency"]["properties"]
    text = next(option for option in emergency["text"]["anyOf"] if option.get("type"))
    assert "\\u0000" in text["pattern"]
