"""One incident, one alert, end to end: "살려줘", then twelve hours without a sign of life.

Through a real broker, hub and database, on the default policy (check-in at 11 h, guardian
at 12 h, the centre's answer due within 60 s), in virtual time (``RunningHub.run_until``
steps a :class:`FakeClock` through every due time): exactly one alert, no check-in spoken,
no inactivity SMS; while the centre does not answer, the centre is re-alerted every minute
and the supervisor gets one message; the official's first message comes after the centre's
acknowledgement and says the centre has it. The rules themselves are the core's, covered in
``tests/alerts/test_one_incident.py``, ``test_supervisor_once.py`` and
``test_official_after_ack.py``.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from alerts.clock import FakeClock
from hub.mqtt import BrokerAddress
from tests.hub.support import KST, read_sms, wait_until

WEDNESDAY_14 = datetime(2026, 11, 25, 14, 0, tzinfo=KST)  # working hours: officials get SMS
UNANSWERED = timedelta(minutes=10)


class Commands:
    """Every command the hub publishes to the resident's devices."""

    def __init__(self, url: str, resident: str) -> None:
        self.seen: list[dict[str, Any]] = []
        address = BrokerAddress.parse(url)
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"cmd-{resident}"
        )
        self._client.on_message = lambda _c, _u, m: self.seen.append(json.loads(m.payload))
        subscribed = threading.Event()
        self._client.on_subscribe = lambda *_: subscribed.set()
        self._client.connect(address.host, address.port)
        self._client.subscribe(f"anbu/v1/{resident}/+/cmd", qos=1)
        self._client.loop_start()
        assert subscribed.wait(10), "the command listener did not subscribe"

    def checkins(self) -> list[dict[str, Any]]:
        return [c for c in self.seen if c.get("type") == "checkin"]

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def _lines(running: Any, role: str | None = None, kind: str | None = None) -> list[Any]:
    return [
        line
        for line in read_sms(running.sms_log)
        if (role is None or line["role"] == role) and (kind is None or line["kind"] == kind)
    ]


def test_help_then_twelve_hours_of_silence_is_one_alert(start_hub: Any) -> None:
    clock = FakeClock(WEDNESDAY_14)
    running = start_hub(clock=clock)
    commands = Commands(running.mqtt_url, "r1")
    running.resident("r1")  # default policy; one guardian, one official
    start = clock.now()
    device = running.device("r1", "spk1")
    device.emergency()  # "아리아 살려줘"
    running.taken(device)
    running.settle()
    (alert,) = running.http.get("/api/v1/alerts", params={"resident": "r1"}).json()
    assert alert["kind"] == "emergency"
    assert {line["role"] for line in _lines(running)} == {"control_center", "guardian"}

    # Ten minutes and nobody at the centre answers.
    running.run_until(start + UNANSWERED)
    realerts = [line for line in _lines(running, "control_center") if "재알림" in line["body"]]
    assert len(realerts) == 10, "the centre is alerted again every minute"
    supervisor = _lines(running, "supervisor")
    assert len(supervisor) == 1, supervisor
    assert "접수되지 않았습니다" in supervisor[0]["body"]
    assert _lines(running, "official") == [], "not before the centre has it"

    acked_at = clock.now()
    response = running.http.post(f"/api/v1/alerts/{alert['id']}/ack", json={"by": "관제 김"})
    assert response.status_code == 200, response.text
    running.settle()
    (official,) = _lines(running, "official")
    assert datetime.fromisoformat(official["ts"]) >= acked_at
    assert "관제센터 확인 중" in official["body"]
    answered = _lines(running, "supervisor")[1:]
    assert [("접수되었습니다" in line["body"]) for line in answered] == [True]

    # Twelve hours from the call without a sign of life; the speaker keeps its heartbeat.
    for hour in range(1, 13):
        running.run_until(start + timedelta(hours=hour, minutes=5))
        device.send("heartbeat", interval_s=3600)
        running.taken(device)
    running.settle()

    alerts = running.http.get("/api/v1/alerts", params={"resident": "r1"}).json()
    assert [(a["id"], a["kind"]) for a in alerts] == [(alert["id"], "emergency")]
    assert commands.checkins() == [], "no '괜찮으세요?' beside the emergency"
    assert _lines(running, kind="inactivity") == []
    assert len(_lines(running, "supervisor")) == 2
    assert len(_lines(running, "official")) == 1

    # The watch itself still works: the emergency closed, a new silence asks after 11 h.
    closed = running.http.post(
        f"/api/v1/alerts/{alert['id']}/resolve", json={"by": "관제 김", "outcome": "visited"}
    )
    assert closed.status_code == 200, closed.text
    resolved_at = clock.now()
    for hour in range(1, 12):
        running.run_until(resolved_at + timedelta(hours=hour, minutes=5))
        device.send("heartbeat", interval_s=3600)
        running.taken(device)
    wait_until(commands.checkins, timeout=10)
    device.close()
    commands.close()
