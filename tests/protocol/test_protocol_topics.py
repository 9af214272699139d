"""Topic building and parsing: identifiers, kinds, the hub namespace, and no exceptions."""

from __future__ import annotations

from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import (
    ALERTS_TOPIC,
    ID_PATTERN,
    SUBSCRIPTION,
    EventKind,
    TopicError,
    TopicParts,
    cmd_topic,
    device_topic,
    is_valid_id,
    parse_topic,
)

ids = st.from_regex(r"\A[A-Za-z0-9_-]{1,64}\Z").filter(lambda value: value != "_hub")
kinds: st.SearchStrategy[EventKind] = st.sampled_from(get_args(EventKind))


def test_fixed_topics() -> None:
    assert ALERTS_TOPIC == "anbu/v1/_hub/alerts"
    assert SUBSCRIPTION == "anbu/v1/+/+/+"
    assert device_topic("r1", "spk-1", "activity") == "anbu/v1/r1/spk-1/activity"
    assert cmd_topic("r1", "spk-1") == "anbu/v1/r1/spk-1/cmd"


@given(resident=ids, device=ids, kind=kinds)
def test_built_topics_parse_back(resident: str, device: str, kind: EventKind) -> None:
    topic = device_topic(resident, device, kind)

    assert parse_topic(topic) == TopicParts(resident, device, kind)
    assert parse_topic(cmd_topic(resident, device)) == TopicParts(resident, device, "cmd")


@pytest.mark.parametrize(
    "value",
    ["a", "R_1-x", "0" * 64],
)
def test_valid_ids(value: str) -> None:
    assert is_valid_id(value)


@pytest.mark.parametrize(
    "value",
    ["", "a" * 65, "with space", "홍길동", "a/b", "+", "#", "r1\n", "tab\t", "é"],
)
def test_invalid_ids(value: str) -> None:
    assert not is_valid_id(value)
    assert ID_PATTERN.match(value) is None
    with pytest.raises(ValueError, match="must be 1-64 characters"):
        device_topic(value, "spk-1", "activity")
    with pytest.raises(ValueError, match="must be 1-64 characters"):
        cmd_topic("r1", value)


def test_building_refuses_the_hub_namespace_and_unknown_kinds() -> None:
    with pytest.raises(ValueError, match="reserved"):
        device_topic("_hub", "alerts", "status")
    with pytest.raises(ValueError, match="not a device→hub kind"):
        device_topic("r1", "spk-1", "cmd")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("topic", "reason", "detail"),
    [
        ("", "bad_topic", "not under anbu/v1/"),
        ("anbu/v2/r1/spk-1/activity", "bad_topic", "not under anbu/v1/"),
        ("ANBU/v1/r1/spk-1/activity", "bad_topic", "not under anbu/v1/"),
        ("/anbu/v1/r1/spk-1/activity", "bad_topic", "not under anbu/v1/"),
        ("anbu/v1/r1/spk-1", "bad_topic", "has 4 levels"),
        ("anbu/v1/r1/spk-1/activity/", "bad_topic", "has 6 levels"),
        ("anbu/v1/r1/spk-1/activity/extra", "bad_topic", "has 6 levels"),
        ("anbu/v1/r1/spk-1/sleep", "bad_topic", "unknown kind 'sleep'"),
        ("anbu/v1/r1/spk-1/Activity", "bad_topic", "unknown kind"),
        ("anbu/v1//spk-1/activity", "bad_id", "resident '' must be"),
        (f"anbu/v1/{'r' * 65}/spk-1/activity", "bad_id", "resident"),
        ("anbu/v1/r1/my speaker/activity", "bad_id", "device 'my speaker'"),
        ("anbu/v1/홍길동/spk-1/activity", "bad_id", "resident '홍길동'"),
        ("anbu/v1/+/+/+", "bad_id", "resident '+'"),
        ("anbu/v1/_hub/alerts", "hub_topic", "hub's own namespace"),
        ("anbu/v1/_hub/spk-1/activity", "hub_topic", "hub's own namespace"),
    ],
)
def test_bad_topics_are_described(topic: str, reason: str, detail: str) -> None:
    result = parse_topic(topic)

    assert isinstance(result, TopicError), result
    assert result.reason == reason
    assert detail in result.detail


def test_long_topics_are_shortened_in_details() -> None:
    result = parse_topic("x" * 10_000)

    assert isinstance(result, TopicError)
    assert len(result.detail) < 200
    assert "10000 chars" in result.detail


@given(st.text())
def test_parse_topic_never_raises(topic: str) -> None:
    assert isinstance(parse_topic(topic), TopicParts | TopicError)
