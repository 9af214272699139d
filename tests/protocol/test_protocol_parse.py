"""``parse``: what is refused and why, the future-clock guard, and that it never raises."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from protocol import (
    MAX_PAYLOAD_BYTES,
    Activity,
    Emergency,
    Event,
    Heartbeat,
    Rejection,
    parse,
    to_json,
)

KST = timezone(timedelta(hours=9))
NOW = datetime(2026, 11, 22, 9, 15, tzinfo=KST)
TS = "2026-11-22T09:15:00+09:00"
ACTIVITY = "anbu/v1/r1/spk-1/activity"


def payload(**fields: Any) -> bytes:
    """A valid activity payload with ``fields`` changed; a value of ``...`` removes the field."""
    data: dict[str, Any] = {"v": 1, "id": "a-1", "ts": TS, "source": "voice"}
    data.update(fields)
    return json.dumps({k: v for k, v in data.items() if v is not ...}).encode()


def rejected(topic: str, raw: bytes, **kwargs: Any) -> Rejection:
    result = parse(topic, raw, **kwargs)
    assert isinstance(result, Rejection), result
    return result


def accepted(topic: str, raw: bytes, **kwargs: Any) -> Event:
    result = parse(topic, raw, **kwargs)
    assert isinstance(result, Event), result
    return result


@pytest.mark.parametrize(
    ("raw", "reason", "detail"),
    [
        (b"", "not_json", "EOF"),
        (b"hello", "not_json", "expected value"),
        (b'{"v":1,', "not_json", "EOF"),
        (b'{"v":1} trailing', "not_json", "trailing characters"),
        (b'{"v":NaN}', "not_json", "expected value"),
        (b'{"id":"\\ud800"}', "not_json", "hex escape"),
        (b"[" * 1000 + b"]" * 1000, "not_json", "recursion limit"),
        (b"\xef\xbb\xbf" + payload(), "not_json", "expected value"),
        (b"[1,2]", "not_object", "JSON array"),
        (b'"activity"', "not_object", "JSON string"),
        (b"3", "not_object", "JSON number"),
        (b"true", "not_object", "JSON boolean"),
        (b"null", "not_object", "JSON null"),
        (b"\xff\xfe", "not_utf8", "byte 0"),
        (b'{"id":"\xed\xa0\x80"}', "not_utf8", "byte 7"),
        (payload(v=2), "unsupported_version", "v is 2"),
        (payload(v=0), "unsupported_version", "v is 0"),
        (payload(v=10**50), "unsupported_version", "a huge number"),
        (payload(v="1"), "invalid_payload", "v: must be the integer 1"),
        (payload(v=True), "invalid_payload", "v: must be the integer 1"),
        (payload(v=1.0), "invalid_payload", "v: must be the integer 1"),
        (payload(v=...), "invalid_payload", "v: Field required"),
        (payload(id=...), "invalid_payload", "id: Field required"),
        (payload(ts=...), "invalid_payload", "ts: Field required"),
        (payload(source=...), "invalid_payload", "source: Field required"),
        (payload(id=""), "invalid_payload", "id: String should have at least 1 character"),
        (payload(id="a" * 65), "invalid_payload", "id: String should have at most 64"),
        (payload(id=7), "invalid_payload", "id: Input should be a valid string"),
        (payload(source="tv"), "invalid_payload", "source: Input should be 'voice'"),
        (payload(source=5), "invalid_payload", "source: Input should be 'voice'"),
        (payload(count="3"), "invalid_payload", "count: Input should be a valid integer"),
        (payload(count=2.5), "invalid_payload", "count: Input should be a valid integer"),
        (payload(count=0), "invalid_payload", "count: Input should be greater than or equal"),
        (payload(count=True), "invalid_payload", "count: Input should be a valid integer"),
        (payload(ts="2026-11-22T09:15:00"), "invalid_payload", "ts: must be an RFC 3339"),
        (payload(ts="2026-11-22"), "invalid_payload", "ts: must be an RFC 3339"),
        (payload(ts="2026-11-22T09:15+09:00"), "invalid_payload", "ts: must be an RFC 3339"),
        (payload(ts="2026-11-22T09:15:00+0900"), "invalid_payload", "ts: must be an RFC 3339"),
        (payload(ts="2026-13-22T09:15:00Z"), "invalid_payload", "ts: month must be in 1..12"),
        (payload(ts="٢٠٢٦-11-22T09:15:00Z"), "invalid_payload", "ts: must be an RFC 3339"),
        (payload(ts=1_795_000_000), "invalid_payload", "ts: Input should be a valid datetime"),
        (payload(id=1, source=2), "invalid_payload", "(and 1 more)"),
    ],
)
def test_bad_payloads_are_rejected_with_reason_and_detail(
    raw: bytes, reason: str, detail: str
) -> None:
    rejection = rejected(ACTIVITY, raw)

    assert rejection.reason == reason
    assert detail in rejection.detail, rejection.detail


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("anbu/v1/r1/spk-1/cmd", "hub_topic"),
        ("anbu/v1/_hub/alerts", "hub_topic"),
        ("anbu/v1/r1/spk-1/sleep", "bad_topic"),
        ("anbu/v2/r1/spk-1/activity", "bad_topic"),
        (f"anbu/v1/r1/{'d' * 65}/activity", "bad_id"),
        ("anbu/v1/r1/스피커/activity", "bad_id"),
        ("anbu/v1/r 1/spk-1/activity", "bad_id"),
        ("anbu/v1//spk-1/activity", "bad_id"),
    ],
)
def test_bad_topics_are_rejected_before_the_payload_is_read(topic: str, reason: str) -> None:
    assert rejected(topic, b"not even json").reason == reason


@pytest.mark.parametrize(
    ("topic", "raw", "missing"),
    [
        # Kinds are told apart by topic, and each kind has a required field of its own, so a
        # payload on the wrong topic is refused rather than misread.
        (ACTIVITY, b'{"v":1,"id":"e-3","ts":"%b","trigger":"voice"}', "source"),
        ("anbu/v1/r1/spk-1/emergency", payload(), "trigger"),
        ("anbu/v1/r1/spk-1/heartbeat", payload(), "interval_s"),
        ("anbu/v1/r1/spk-1/checkin", payload(), "request_id"),
        ("anbu/v1/r1/spk-1/vitals", payload(), "kind"),
        ("anbu/v1/r1/spk-1/status", payload(), "state"),
    ],
)
def test_payload_on_the_wrong_topic_is_rejected(topic: str, raw: bytes, missing: str) -> None:
    rejection = rejected(topic, raw.replace(b"%b", TS.encode()))

    assert rejection.reason == "invalid_payload"
    assert rejection.detail.startswith(f"{missing}: Field required")


def test_size_limit_is_exact() -> None:
    padding = MAX_PAYLOAD_BYTES - len(payload(pad=""))
    at_limit = payload(pad="x" * padding)
    over_limit = payload(pad="x" * (padding + 1))

    assert len(at_limit) == 8192
    accepted(ACTIVITY, at_limit)
    assert len(over_limit) == 8193
    rejection = rejected(ACTIVITY, over_limit)
    assert rejection == Rejection("oversize", "payload is 8193 bytes, at most 8192 allowed")


def test_oversize_is_checked_before_decoding() -> None:
    assert rejected(ACTIVITY, b"\xff" * 8193).reason == "oversize"


def test_unknown_fields_are_ignored() -> None:
    event = accepted(ACTIVITY, payload(room="거실", confidence=0.9, nested={"a": [1]}))

    assert event.message == Activity(v=1, id="a-1", ts=NOW, source="voice")


def test_status_needs_no_version_or_id_and_ignores_them() -> None:
    raw = b'{"state":"offline","ts":"2026-11-22T09:15:00+09:00","v":7,"id":""}'

    assert accepted("anbu/v1/r1/spk-1/status", raw).kind == "status"


@pytest.mark.parametrize(
    ("topic", "fields", "detail"),
    [
        ("heartbeat", {"interval_s": 0}, "interval_s: Input should be greater than or equal to 1"),
        ("heartbeat", {"interval_s": 86_401}, "interval_s: Input should be less than or equal"),
        ("heartbeat", {"interval_s": 300.0}, "interval_s: Input should be a valid integer"),
        ("heartbeat", {"interval_s": 300, "battery_pct": 101}, "battery_pct: Input should be less"),
        ("heartbeat", {"interval_s": 300, "battery_pct": -1}, "battery_pct: Input should be"),
        # (an emergency's unknown trigger or too long text is not refused:
        # test_emergency_time.py)
        (
            "checkin",
            {"request_id": "cmd-1", "answered": True, "text": "가" * 501},
            "text: String should have at most",
        ),
        ("emergency", {"trigger": "voice", "cancel_of": ""}, "cancel_of: String should have"),
        ("checkin", {"request_id": "cmd-1", "answered": "true"}, "answered: Input should be a"),
        ("checkin", {"request_id": "cmd-1", "answered": 1}, "answered: Input should be a valid"),
        ("checkin", {"answered": True}, "request_id: Field required"),
        ("status", {"state": "asleep"}, "state: Input should be 'online' or 'offline'"),
        (
            "vitals",
            {"kind": "glucose", "value": 5.5, "unit": "mmol/L"},
            "unit: Input should be 'mmHg'",
        ),
        ("vitals", {"kind": "glucose", "value": 182, "unit": "kg"}, "unit: must be 'mg/dL'"),
        ("vitals", {"kind": "weight", "value": 61, "unit": "mg/dL"}, "unit: must be 'kg' for"),
        ("vitals", {"kind": "glucose", "value": "182", "unit": "mg/dL"}, "value: must be a number"),
        (
            "vitals",
            {"kind": "glucose", "value": {"systolic": 1, "diastolic": 1}, "unit": "mg/dL"},
            "value: must be a number for glucose",
        ),
        (
            "vitals",
            {"kind": "blood_pressure", "value": 120, "unit": "mmHg"},
            "value: must be an object {systolic, diastolic}",
        ),
        (
            "vitals",
            {"kind": "blood_pressure", "value": {"systolic": 120}, "unit": "mmHg"},
            "value.blood_pressure.diastolic: Field required",
        ),
        ("vitals", {"kind": "steps", "value": -5, "unit": "steps"}, "greater than or equal to 0"),
        ("vitals", {"kind": "pulse", "value": 60, "unit": "bpm"}, "kind: Input should be"),
    ],
)
def test_kind_specific_rules(topic: str, fields: dict[str, Any], detail: str) -> None:
    raw = json.dumps({"v": 1, "id": "x-1", "ts": TS} | fields, ensure_ascii=False).encode()
    rejection = rejected(f"anbu/v1/r1/dev-1/{topic}", raw)

    assert rejection.reason == "invalid_payload"
    assert detail in rejection.detail, rejection.detail


def test_numbers_too_large_for_a_float_are_refused() -> None:
    # JSON has no Infinity, but 1e400 is valid JSON that a parser turns into one.
    raw = f'{{"v":1,"id":"m-1","ts":"{TS}","kind":"weight","value":1e400,"unit":"kg"}}'
    rejection = rejected("anbu/v1/r1/scale-1/vitals", raw.encode())

    assert rejection.reason == "invalid_payload"
    assert "value" in rejection.detail
    assert "finite number" in rejection.detail


def test_text_of_exactly_500_korean_characters_is_accepted() -> None:
    raw = json.dumps({"v": 1, "id": "e-1", "ts": TS, "trigger": "voice", "text": "살" * 500})

    assert isinstance(accepted("anbu/v1/r1/spk-1/emergency", raw.encode()).message, Emergency)


@pytest.mark.parametrize(
    "ts",
    [
        "2026-11-22T00:15:00Z",
        "2026-11-22t00:15:00z",
        "2026-11-22 09:15:00+09:00",
        "2026-11-22T09:15:00.000+09:00",
        "2026-11-21T19:15:00-05:00",
    ],
)
def test_timestamp_forms_allowed_by_rfc3339(ts: str) -> None:
    event = accepted(ACTIVITY, payload(ts=ts))

    assert event.message.ts == datetime(2026, 11, 22, 0, 15, tzinfo=UTC)


def test_future_timestamps_are_refused_only_beyond_the_allowance() -> None:
    five_minutes_ahead = payload(ts="2026-11-22T09:20:00+09:00")
    a_second_more = payload(ts="2026-11-22T09:20:01+09:00")

    accepted(ACTIVITY, five_minutes_ahead, now=NOW)
    rejection = rejected(ACTIVITY, a_second_more, now=NOW)
    assert rejection.reason == "future_ts"
    assert "0:05:01 ahead" in rejection.detail
    accepted(ACTIVITY, a_second_more, now=NOW, max_future=timedelta(minutes=10))
    # Without `now` there is nothing to compare with.
    accepted(ACTIVITY, payload(ts="2099-01-01T00:00:00Z"))


def test_buffered_events_keep_their_old_timestamp() -> None:
    event = accepted(ACTIVITY, payload(ts="2026-11-20T06:00:00+09:00"), now=NOW)

    assert event.message.ts == datetime(2026, 11, 20, 6, tzinfo=KST)


def test_future_check_compares_instants_across_offsets() -> None:
    # 00:19 UTC is 09:19 KST: four minutes ahead of NOW, not nine hours behind.
    accepted(ACTIVITY, payload(ts="2026-11-22T00:19:00Z"), now=NOW)
    assert rejected(ACTIVITY, payload(ts="2026-11-22T00:21:00Z"), now=NOW).reason == "future_ts"


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse(ACTIVITY, payload(), now=datetime(2026, 11, 22, 9, 15))


def test_models_are_frozen_and_refuse_naive_datetimes() -> None:
    activity = Activity(v=1, id="a-1", ts=NOW, source="voice")
    with pytest.raises(ValidationError, match="frozen"):
        activity.count = 2  # type: ignore[misc]
    with pytest.raises(ValidationError, match="timezone"):
        Activity(v=1, id="a-1", ts=datetime(2026, 11, 22, 9, 15), source="voice")


def test_to_json_is_compact_utf8_without_nulls() -> None:
    emergency = Emergency(v=1, id="e-3", ts=NOW, trigger="voice", text="아리아 살려줘")

    assert (
        to_json(emergency)
        == (
            '{"v":1,"id":"e-3","ts":"2026-11-22T09:15:00+09:00","trigger":"voice",'
            '"text":"아리아 살려줘"}'
        ).encode()
    )


offsets = st.integers(min_value=-12 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
aware_times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=offsets
)
# Control characters are refused in ids (all of them) and in text (all but tab, LF, CR):
# see tests/protocol/test_bounds.py.
message_ids = st.text(st.characters(exclude_categories=["Cc", "Cs"]), min_size=1, max_size=64)
text_chars = st.characters(exclude_categories=["Cc", "Cs"], include_characters="\t\n\r")


@given(
    message=st.one_of(
        st.builds(
            Activity,
            v=st.just(1),
            id=message_ids,
            ts=aware_times,
            source=st.sampled_from(["voice", "screen", "door", "power", "other"]),
            count=st.none() | st.integers(min_value=1, max_value=10**6),
        ),
        st.builds(
            Heartbeat,
            v=st.just(1),
            id=message_ids,
            ts=aware_times,
            interval_s=st.integers(min_value=1, max_value=86_400),
            battery_pct=st.none() | st.integers(min_value=0, max_value=100),
            fw=st.none() | st.text(text_chars, max_size=200),
            rssi=st.none() | st.integers(min_value=-120, max_value=0),
        ),
        st.builds(
            Emergency,
            v=st.just(1),
            id=message_ids,
            ts=aware_times,
            trigger=st.sampled_from(["voice", "button", "fall", "app", "sensor"]),
            text=st.none() | st.text(text_chars, max_size=500),
            cancel_of=st.none() | message_ids,
        ),
    )
)
def test_to_json_then_parse_round_trips(message: Activity | Heartbeat | Emergency) -> None:
    kind = type(message).__name__.lower()

    event = accepted(f"anbu/v1/r1/spk-1/{kind}", to_json(message))

    assert event.message == message


@given(topic=st.text(), raw=st.binary(max_size=9000))
def test_parse_never_raises_on_anything(topic: str, raw: bytes) -> None:
    assert isinstance(parse(topic, raw, now=NOW), Event | Rejection)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children),
    max_leaves=20,
)
kinds = st.sampled_from(["activity", "heartbeat", "emergency", "checkin", "vitals", "status"])


@given(kind=kinds, data=st.dictionaries(st.text(max_size=12), json_values, max_size=8))
def test_parse_never_raises_on_json_objects(kind: str, data: dict[str, Any]) -> None:
    raw = json.dumps(data).encode()  # NaN and Infinity included: they must be refused too

    assert isinstance(parse(f"anbu/v1/r1/dev-1/{kind}", raw, now=NOW), Event | Rejection)


@given(
    kind=kinds,
    fields=st.fixed_dictionaries(
        {
            "v": st.sampled_from([1, 2, True, "1", None]),
            "id": st.sampled_from(["", "a", "a" * 65]) | st.integers(),
            "ts": st.sampled_from([TS, "2026-11-22T09:15:00", "", "2099-01-01T00:00:00Z"]),
        },
        optional={
            "source": json_values | st.sampled_from(["voice", "door"]),
            "count": json_values,
            "interval_s": json_values | st.integers(min_value=-5, max_value=100_000),
            "trigger": json_values | st.sampled_from(["fall", "button"]),
            "text": json_values,
            "request_id": json_values,
            "answered": json_values,
            "kind": st.sampled_from(["glucose", "blood_pressure", "steps"]),
            "value": json_values | st.fixed_dictionaries({"systolic": json_values}),
            "unit": st.sampled_from(["mg/dL", "mmHg", "steps", "kg"]),
            "state": st.sampled_from(["online", "offline", "gone"]),
        },
    ),
)
def test_parse_never_raises_on_near_valid_payloads(kind: str, fields: dict[str, Any]) -> None:
    result = parse(f"anbu/v1/r1/dev-1/{kind}", json.dumps(fields).encode(), now=NOW)

    assert isinstance(result, Event | Rejection)
    if isinstance(result, Rejection):
        assert result.reason and result.detail
