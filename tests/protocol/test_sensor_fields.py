"""The optional sensor fields (activity ``sensor``/``signal``, heartbeat ``sensing``/``sensors``).

They are optional extensions of v1: a payload without them means what it always meant, and a
payload with them stays strict (a wrong type or an out-of-range figure is refused, not guessed).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from protocol import Activity, Heartbeat, Rejection, parse

TS = "2026-11-22T09:15:00+09:00"


def _heartbeat(**extra: Any) -> bytes:
    return json.dumps({"v": 1, "id": "h-1", "ts": TS, "interval_s": 300, **extra}).encode()


def test_a_heartbeat_without_them_is_a_sensing_one() -> None:
    beat = Heartbeat.model_validate_json(_heartbeat())
    assert beat.sensing is None
    assert beat.sensors is None


def test_a_gateway_down_and_its_sensors_are_read() -> None:
    beat = Heartbeat.model_validate_json(
        _heartbeat(
            sensing=False,
            sensing_problem="gateway_offline",
            sensors=[
                {"name": "현관 문 센서", "signal": "contact", "available": False, "last_seen": TS},
                {
                    "name": "욕실 누수 센서",
                    "battery_pct": 9,
                    "battery_low": True,
                    "active_since": TS,
                },
            ],
        )
    )
    assert beat.sensing is False
    assert beat.sensing_problem == "gateway_offline"
    assert beat.sensors is not None
    door, water = beat.sensors
    assert (door.name, door.available, door.signal) == ("현관 문 센서", False, "contact")
    assert (water.battery_pct, water.battery_low) == (9, True)
    assert water.active_since is not None


@pytest.mark.parametrize(
    "extra",
    [
        {"sensing": "false"},
        {"sensing_problem": "unplugged"},
        {"sensors": [{"available": True}]},
        {"sensors": [{"name": ""}]},
        {"sensors": [{"name": "x", "battery_pct": 101}]},
        {"sensors": [{"name": "x", "linkquality": 256}]},
        {"sensors": [{"name": "bad\x00name"}]},
        {"sensors": [{"name": f"s{i}"} for i in range(65)]},
    ],
)
def test_a_malformed_sensor_field_is_refused(extra: dict[str, Any]) -> None:
    result = parse("anbu/v1/r1/sensors-1/heartbeat", _heartbeat(**extra))
    assert isinstance(result, Rejection), result


def test_an_activity_names_its_sensor_and_signal() -> None:
    raw = {"v": 1, "id": "a-1", "ts": TS, "source": "other"}
    activity = Activity.model_validate({**raw, "sensor": "욕실 누수 센서", "signal": "water_leak"})
    assert (activity.sensor, activity.signal) == ("욕실 누수 센서", "water_leak")
    with pytest.raises(ValueError):
        Activity.model_validate({**raw, "signal": "Water Leak"})
