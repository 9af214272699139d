"""End-to-end escalation through a real broker, hub and database, on second-scale policies.

The first test runs on real time: the hub's own timers, to within ``TOLERANCE_S``. The
others step a :class:`FakeClock` through the due times (``RunningHub.run_until``), so what
they assert (the official's digest, a timer kept across a restart) is decided without
waiting; the policy's calendar and stages themselves are covered in virtual time by
``tests/hub/test_core_virtual_time.py``.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from alerts.clock import FakeClock
from hub.mqtt import BrokerAddress
from hub.store.tables import digest_items
from tests.hub.support import KST, OffsetClock, read_sms, wait_until

# Timing is part of what this checks: it runs alone, after the parallel part of the suite
# (scripts/test.sh), so other tests' load cannot fail it.
pytestmark = pytest.mark.serial

FAST = {"checkin_after": "PT2S", "guardian_after": "PT3S", "control_center_after": "PT6S"}
TOLERANCE_S = 2.0
TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=KST)
SATURDAY_10 = datetime(2026, 11, 28, 10, 0, tzinfo=KST)


def _by_role(lines: list[dict[str, Any]], body_part: str | None = None) -> dict[str, list[Any]]:
    roles: dict[str, list[Any]] = {}
    for line in lines:
        if body_part is None or body_part in line["body"]:
            roles.setdefault(line["role"], []).append(line)
    return roles


def _elapsed(line: dict[str, Any], start: datetime) -> float:
    return (datetime.fromisoformat(line["ts"]) - start).total_seconds()


def test_inactivity_escalates_in_working_hours_and_resolves_on_activity(start_hub: Any) -> None:
    clock = OffsetClock(TUESDAY_10)
    running = start_hub(clock=clock)
    commands: list[dict[str, Any]] = []
    listener = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="spk")
    address = BrokerAddress.parse(running.mqtt_url)
    listener.on_message = lambda _c, _u, m: commands.append(json.loads(m.payload))
    subscribed = threading.Event()
    listener.on_subscribe = lambda *_: subscribed.set()
    listener.connect(address.host, address.port)
    listener.subscribe("anbu/v1/r1/spk1/cmd", qos=1)
    listener.loop_start()
    assert subscribed.wait(10), "the command listener did not subscribe"

    start = clock.now()
    running.resident("r1", policy=FAST)
    sms = running.sms_log

    wait_until(lambda: _by_role(read_sms(sms)).get("guardian"), timeout=3 + TOLERANCE_S + 1)
    guardian = _by_role(read_sms(sms))["guardian"][0]
    assert abs(_elapsed(guardian, start) - 3) <= TOLERANCE_S
    assert guardian["kind"] == "inactivity"
    assert guardian["stage"] == "guardian"
    assert commands and commands[0]["type"] == "checkin", "check-in command not sent"

    # The centre's and the official's SMS go out one after the other: wait for both.
    wait_until(lambda: {"control_center", "official"} <= set(_by_role(read_sms(sms))), timeout=6)
    roles = _by_role(read_sms(sms))
    assert abs(_elapsed(roles["control_center"][0], start) - 6) <= TOLERANCE_S
    assert roles["official"], "official must be paged inside working hours"
    assert abs(_elapsed(roles["official"][0], start) - 6) <= TOLERANCE_S

    device = running.device("r1", "spk1")
    device.activity()
    device.close()
    wait_until(lambda: len(_by_role(read_sms(sms), "활동")) >= 1, timeout=3)
    wait_until(lambda: {"guardian", "control_center", "official"} <= set(_resumed(sms)), 3)
    alerts = running.http.get("/api/v1/alerts", params={"resident": "r1"}).json()
    assert [a["state"] for a in alerts] == ["resolved"]
    listener.loop_stop()
    listener.disconnect()

    # Nobody is paged twice: every (recipient, body) pair appears once.
    pairs = [(line["to"], line["body"]) for line in read_sms(sms)]
    assert len(pairs) == len(set(pairs))


def _resumed(sms: Any) -> dict[str, list[Any]]:
    return {
        role: lines
        for role, lines in _by_role(read_sms(sms)).items()
        if any("다시 확인" in line["body"] or "재개" in line["body"] for line in lines)
    }


def test_outside_working_hours_official_gets_digest_not_sms(start_hub: Any) -> None:
    clock = FakeClock(SATURDAY_10)
    running = start_hub(clock=clock)
    running.resident("r2", policy=FAST)
    sms = running.sms_log
    # Past the centre's stage (+6 s), everything due fired and sent: "no SMS" is decided.
    running.run_until(SATURDAY_10 + timedelta(seconds=9))
    wait_until(lambda: _by_role(read_sms(sms)).get("control_center"), timeout=9)
    assert "official" not in _by_role(read_sms(sms))
    with running.hub.engine.connect() as conn:
        items = conn.execute(select(digest_items)).all()
    assert items, "the official's message must wait in the digest"
    monday_9 = datetime(2026, 11, 30, 9, 0, tzinfo=KST)
    assert {item.deliver_at for item in items} == {monday_9}


def test_emergency_reaches_control_centre_and_guardian_at_once(start_hub: Any) -> None:
    running = start_hub()
    running.resident("r3")
    device = running.device("r3", "spk1")
    sent = time.monotonic()
    device.emergency()
    wait_until(
        lambda: {"control_center", "guardian"} <= set(_by_role(read_sms(running.sms_log))),
        timeout=5,
        interval=0.01,
    )
    latency = time.monotonic() - sent
    device.close()
    # "At once", not "by a timer": the figure itself is `anbu bench ingest`'s (publish to
    # outbox, p99 in milliseconds); a one-second bound here failed at 1.1 s on a machine
    # busy with a second test run, which says nothing about the hub.
    assert latency < 3.0, f"emergency took {latency:.2f} s to reach the SMS provider"
    lines = read_sms(running.sms_log)
    assert all(line["kind"] == "emergency" for line in lines)
    # No health details or the resident's words in an SMS.
    assert not any("살려줘" in line["body"] for line in lines)


def test_same_event_twice_has_one_effect(start_hub: Any) -> None:
    running = start_hub()
    running.resident("r4")
    device = running.device("r4", "spk1")
    payload = json.dumps(
        {"v": 1, "id": "e-dup", "ts": device.ts(), "trigger": "button"}, ensure_ascii=False
    )
    device.raw("emergency", payload)
    device.raw("emergency", payload)
    wait_until(lambda: read_sms(running.sms_log), timeout=5)
    running.taken(device)  # the second copy, too, has been through the hub
    running.settle()  # and whatever it would have paged has been sent
    device.close()
    alerts = running.http.get("/api/v1/alerts", params={"resident": "r4"}).json()
    assert len(alerts) == 1
    roles = [line["role"] for line in read_sms(running.sms_log)]
    assert sorted(roles) == sorted(set(roles)), roles


def test_timers_survive_a_hub_restart(start_hub: Any) -> None:
    clock = FakeClock(TUESDAY_10)  # shared by both hubs, and moved while neither runs
    first = start_hub(clock=clock)
    start = clock.now()
    first.resident("r5", policy=FAST)
    first.run_until(start + timedelta(seconds=1))
    first.hub.stop()
    assert read_sms(first.sms_log) == []
    clock.set(start + timedelta(seconds=4))  # the guardian step falls due while no hub is running

    second = start_hub(clock=clock)
    wait_until(lambda: _by_role(read_sms(second.sms_log)).get("guardian"), timeout=3)
    second.settle()  # all that was overdue has fired and gone: a second page would be here
    guardian = _by_role(read_sms(second.sms_log))["guardian"]
    assert len(guardian) == 1
    assert _elapsed(guardian[0], start) < 3 + TOLERANCE_S + 1
    second.run_until(start + timedelta(seconds=7))
    wait_until(lambda: _by_role(read_sms(second.sms_log)).get("control_center"), timeout=6)
    assert abs(_elapsed(_by_role(read_sms(second.sms_log))["control_center"][0], start) - 6) <= (
        TOLERANCE_S
    )


def test_outside_working_hours_the_officials_emergency_waits_for_the_centres_answer(
    start_hub: Any,
) -> None:
    """The official's digest gets the emergency once the centre has it, and says so; the
    supervisor hears once of the three minutes without an answer."""
    clock = FakeClock(SATURDAY_10)
    running = start_hub(clock=clock)
    # Stages far off, so the digest holds the emergency alone.
    far = {"checkin_after": "PT71H", "guardian_after": "PT72H", "control_center_after": "PT96H"}
    running.resident("r6", policy=far)
    device = running.device("r6", "spk1")
    device.emergency()
    running.taken(device)
    device.close()
    running.run_until(SATURDAY_10 + timedelta(minutes=3))
    with running.hub.engine.connect() as conn:
        assert conn.execute(select(digest_items)).all() == [], "not before the centre has it"
    assert len(_by_role(read_sms(running.sms_log)).get("supervisor", [])) == 1

    (alert,) = running.http.get("/api/v1/alerts", params={"resident": "r6"}).json()
    acked = running.http.post(f"/api/v1/alerts/{alert['id']}/ack", json={"by": "관제 김"})
    assert acked.status_code == 200, acked.text
    running.settle()
    with running.hub.engine.connect() as conn:
        items = [(i.message, i.deliver_at) for i in conn.execute(select(digest_items))]
    monday_9 = datetime(2026, 11, 30, 9, 0, tzinfo=KST)
    assert items == [("emergency_official", monday_9)]
    assert "official" not in _by_role(read_sms(running.sms_log))

    running.run_until(monday_9 + timedelta(minutes=1))
    (digest,) = wait_until(lambda: _by_role(read_sms(running.sms_log)).get("official"), 5)
    assert "긴급 호출 접수(관제센터 확인 중)" in digest["body"]
