"""Policy: defaults from the domain table, validation, ISO 8601 round trip, overrides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from alerts.policy import DEFAULT_POLICY, Policy, iso_duration
from alerts.vitals import VitalRanges


def test_defaults_are_the_domain_table() -> None:
    assert DEFAULT_POLICY.checkin_after == timedelta(hours=11)
    assert DEFAULT_POLICY.guardian_after == timedelta(hours=12)
    assert DEFAULT_POLICY.control_center_after == timedelta(hours=24)
    assert DEFAULT_POLICY.emergency_ack_within == timedelta(seconds=60)
    assert DEFAULT_POLICY.ack_resolve_within == timedelta(hours=2)
    assert DEFAULT_POLICY.device_offline_after_heartbeats == 3
    assert DEFAULT_POLICY.monitoring_lost_after == timedelta(hours=2)
    assert DEFAULT_POLICY.away_until is None


def test_json_dump_is_iso_8601() -> None:
    dumped = Policy().model_dump(mode="json")
    vitals = set(VitalRanges.model_fields)  # their defaults: tests/alerts/test_alert_vitals.py
    assert {k: v for k, v in dumped.items() if k not in vitals} == {
        "checkin_after": "PT11H",
        "guardian_after": "PT12H",
        "control_center_after": "PT24H",
        "emergency_ack_within": "PT1M",
        "ack_resolve_within": "PT2H",
        "device_offline_after_heartbeats": 3,
        "monitoring_lost_after": "PT2H",
        "away_until": None,
        "inactivity_rule": "fixed",
        "routine_learning_days": 14,
        "routine_checkin_odds": 20.0,
        "routine_alert_odds": 1000.0,
        "routine_checkin_wait": "PT20M",
        "routine_urgency": 0.7,
        "guardian_night": None,
        "trend_watch": False,
        "water_running_after": "PT30M",
        "water_running_to": ["guardian"],
    }
    assert vitals <= dumped.keys()


def test_parses_iso_strings_and_round_trips() -> None:
    policy = Policy.model_validate(
        {
            "checkin_after": "PT2S",
            "guardian_after": "PT3S",
            "control_center_after": "PT6S",
            "emergency_ack_within": "PT60S",
            "away_until": "2026-12-01T09:00:00+09:00",
        }
    )
    assert policy.guardian_after == timedelta(seconds=3)
    assert policy.emergency_ack_within == timedelta(seconds=60)
    assert Policy.model_validate_json(policy.model_dump_json()) == policy
    assert Policy.model_validate(policy.model_dump(mode="json")) == policy


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(hours=24), "PT24H"),
        (timedelta(days=30), "PT720H"),
        (timedelta(hours=1, minutes=30), "PT1H30M"),
        (timedelta(seconds=0.5), "PT0.5S"),
        (timedelta(0), "PT0S"),
    ],
)
def test_iso_duration(value: timedelta, text: str) -> None:
    assert iso_duration(value) == text


def test_is_frozen_and_forbids_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        DEFAULT_POLICY.guardian_after = timedelta(hours=1)  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        Policy.model_validate({"guardian_afterr": "PT1H"})


@pytest.mark.parametrize("field", ["emergency_ack_within", "ack_resolve_within"])
@pytest.mark.parametrize("value", ["PT0S", "-PT1S", "P31D"])
def test_durations_must_be_positive_and_at_most_30_days(field: str, value: str) -> None:
    with pytest.raises(ValidationError, match=field):
        Policy.model_validate({field: value})


def test_thirty_days_is_allowed() -> None:
    assert Policy(monitoring_lost_after=timedelta(days=30)).monitoring_lost_after.days == 30


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"checkin_after": "PT12H"}, "checkin_after"),
        ({"checkin_after": "PT13H"}, "checkin_after"),
        ({"control_center_after": "PT12H"}, "cannot be switched off"),
        ({"guardian_after": "PT25H"}, "guardian_after"),
    ],
)
def test_stages_must_stay_in_order(overrides: dict[str, str], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        DEFAULT_POLICY.with_overrides(overrides)


@pytest.mark.parametrize("count", [0, 101, -3])
def test_heartbeat_count_bounds(count: int) -> None:
    with pytest.raises(ValidationError, match="device_offline_after_heartbeats"):
        Policy(device_offline_after_heartbeats=count)


def test_away_until_must_be_aware() -> None:
    with pytest.raises(ValidationError, match="time zone"):
        Policy.model_validate({"away_until": "2026-12-01T09:00:00"})
    aware = Policy(away_until=datetime(2026, 12, 1, tzinfo=UTC))
    assert aware.away_until == datetime(2026, 12, 1, tzinfo=UTC)


def test_with_overrides_merges_field_by_field() -> None:
    policy = DEFAULT_POLICY.with_overrides(
        {"guardian_after": "PT6H", "checkin_after": timedelta(hours=5)}
    )
    assert policy.guardian_after == timedelta(hours=6)
    assert policy.checkin_after == timedelta(hours=5)
    assert policy.control_center_after == DEFAULT_POLICY.control_center_after
    assert DEFAULT_POLICY.guardian_after == timedelta(hours=12)  # the original is untouched


def test_with_overrides_names_unknown_fields() -> None:
    with pytest.raises(ValueError, match=r"unknown policy field.*nap_time"):
        DEFAULT_POLICY.with_overrides({"nap_time": "PT1H", "guardian_after": "PT13H"})


def test_with_overrides_can_clear_away_mode() -> None:
    away = DEFAULT_POLICY.with_overrides({"away_until": "2026-12-01T00:00:00Z"})
    assert away.away_until is not None
    assert away.with_overrides({"away_until": None}).away_until is None
