"""A resident edited, deactivated and reactivated, through a real broker, hub and database.

Edits change what the API and the board (which reads ``GET /api/v1/residents``) show; a
district the hub does not have and a number that is not Korean are 422s with Korean words.
Deactivating (moved away, into care, died) closes open alerts, stops every step (virtual
time runs past the guardian's time and no SMS goes), refuses the devices' messages with a
dead letter, keeps the history and hides the resident from the list unless asked; an open
emergency refuses it (409); with provisioning on, the broker forgets the devices.
Reactivating watches the resident again from then on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from alerts.clock import FakeClock
from hub.store.tables import dead_letters
from tests.hub import test_broker_security as secure_broker
from tests.hub.conftest import RunningHub
from tests.hub.support import DEFAULT_TEST_START, read_sms, wait_until
from tests.hub.test_broker_security import SecureBroker, as_device
from tests.hub.test_roster_provisioning import device_clients

POLICY = {"checkin_after": "PT1H", "guardian_after": "PT2H", "control_center_after": "PT4H"}
GUARDIAN_AFTER = timedelta(hours=2)
HANGUL = re.compile(r"[가-힣]")


def _ids(running: Any, **params: str) -> list[str]:
    response = running.http.get("/api/v1/residents", params=params)
    assert response.status_code == 200, response.text
    return [row["id"] for row in response.json()]


def _refused(running: Any, resident: str) -> list[tuple[str, str]]:
    with running.hub.engine.connect() as conn:
        rows = conn.execute(select(dead_letters.c.topic, dead_letters.c.reason)).all()
    return [(row.topic, row.reason) for row in rows if f"/{resident}/" in row.topic]


def test_an_edit_changes_what_the_api_and_the_board_show(start_hub: Any) -> None:
    running = start_hub()
    running.resident("r1")
    response = running.http.patch(
        "/api/v1/residents/r1",
        json={
            "name": "박순자",
            "district": "서구",
            "address": "둔산로 1",
            "phone": "010-1234-5678",
        },
    )
    assert response.status_code == 200, response.text
    shown = running.http.get("/api/v1/residents/r1").json()
    assert (shown["name"], shown["district"], shown["address"], shown["phone"]) == (
        "박순자",
        "대전광역시 서구",  # its canonical name (서구 is a name several 시도 share)
        "둔산로 1",
        "+821012345678",
    )
    (listed,) = running.http.get("/api/v1/residents").json()
    assert (listed["name"], listed["district"]) == ("박순자", "대전광역시 서구")
    # A field left out stays; an empty one clears.
    assert running.http.patch("/api/v1/residents/r1", json={"phone": None}).status_code == 200
    shown = running.http.get("/api/v1/residents/r1").json()
    assert (shown["name"], shown["phone"]) == ("박순자", None)

    for body in ({"district": "없는구"}, {"phone": "12"}, {"phone": "+1 415 555 0100"}):
        refused = running.http.patch("/api/v1/residents/r1", json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert HANGUL.search(str(refused.json()["detail"])), refused.text
    assert running.http.patch("/api/v1/residents/r1", json={"id": "x"}).status_code == 422
    assert running.http.patch("/api/v1/residents/nobody", json={"name": "누구"}).status_code == 404
    unknown = running.http.patch("/api/v1/residents/nobody", json={"district": "없는구"})
    assert unknown.status_code == 404, "the resident is judged before their fields"
    assert running.http.get("/api/v1/residents/r1").json()["district"] == "대전광역시 서구"


def test_deactivated_is_not_watched_and_reactivated_is(start_hub: Any) -> None:
    clock = FakeClock(DEFAULT_TEST_START)
    running = start_hub(clock=clock)
    running.resident("r1", policy=POLICY)
    device = running.device("r1", "spk1")
    device.activity()
    running.taken(device)
    start = clock.now()

    # Past the guardian's time: an inactivity alert is open, the guardian paged.
    running.run_until(start + GUARDIAN_AFTER + timedelta(minutes=5))
    (opened,) = running.http.get("/api/v1/alerts", params={"resident": "r1"}).json()
    assert opened["kind"] == "inactivity"
    assert [line["role"] for line in read_sms(running.sms_log)] == ["guardian"]
    sent_before = len(read_sms(running.sms_log))

    response = running.http.post("/api/v1/residents/r1/deactivate", json={"reason": "moved"})
    assert response.status_code == 200, response.text
    assert response.json()["closed_alerts"] == [opened["id"]]
    assert response.json()["credentials"] == {"provisioning": False}
    again = running.http.post("/api/v1/residents/r1/deactivate", json={"reason": "moved"})
    assert again.status_code == 409
    assert HANGUL.search(again.json()["detail"])
    assert (
        running.http.post("/api/v1/residents/r1/deactivate", json={"reason": "bored"}).status_code
        == 422
    )

    # A policy change is stored, not decided (a tick on this state would page); no device
    # joins someone no longer watched.
    policy = running.http.patch("/api/v1/residents/r1/policy", json={"policy": POLICY})
    assert policy.status_code == 200, policy.text
    joined = running.http.post("/api/v1/residents/r1/devices", json={"id": "ph9", "kind": "phone"})
    assert joined.status_code == 409, joined.text
    # Well past the centre's time: nothing is due, nobody is paged.
    assert running.hub.call(lambda _now: running.hub.core.next_due("r1")) is None
    running.run_until(start + 6 * GUARDIAN_AFTER)
    assert len(read_sms(running.sms_log)) == sent_before, read_sms(running.sms_log)[sent_before:]

    # The device's messages are refused, on record with a reason.
    # (The broker's acknowledgement is not the hub's intake: waited for, with a deadline.)
    device.activity()
    wait_until(lambda: ("anbu/v1/r1/spk1/activity", "unknown_device") in _refused(running, "r1"))

    # The history stays; the list hides them unless asked.
    closed = running.http.get(f"/api/v1/alerts/{opened['id']}").json()
    assert closed["state"] == "resolved", closed
    shown = running.http.get("/api/v1/residents/r1").json()
    assert (shown["active"], shown["state"], shown["inactive_reason"]) == (
        False,
        "deactivated",
        "moved",
    )
    assert _ids(running) == []
    assert _ids(running, inactive="show") == ["r1"]
    assert _ids(running, inactive="only") == ["r1"]

    # Reactivated: watched from now, so silence past the guardian's time pages again.
    response = running.http.post("/api/v1/residents/r1/reactivate")
    assert response.status_code == 200, response.text
    assert running.http.post("/api/v1/residents/r1/reactivate").status_code == 409
    assert _ids(running) == ["r1"]
    back = clock.now()
    running.run_until(back + GUARDIAN_AFTER + timedelta(minutes=5))
    paged = [line for line in read_sms(running.sms_log)[sent_before:] if line["role"] == "guardian"]
    assert paged, "a reactivated resident is watched again"
    device.activity()
    running.taken(device)
    assert len(_refused(running, "r1")) == 1, "the device is heard again"


def test_an_open_emergency_blocks_deactivation(start_hub: Any) -> None:
    running = start_hub()
    running.resident("r1")
    device = running.device("r1", "spk1")
    device.emergency()
    running.taken(device)
    running.settle()
    (alert,) = running.http.get("/api/v1/alerts", params={"resident": "r1"}).json()
    refused = running.http.post("/api/v1/residents/r1/deactivate", json={"reason": "died"})
    assert refused.status_code == 409, refused.text
    assert "긴급 호출" in refused.json()["detail"]
    assert _ids(running) == ["r1"]
    resolved = running.http.post(
        f"/api/v1/alerts/{alert['id']}/resolve", json={"outcome": "false_alarm"}
    )
    assert resolved.status_code == 200, resolved.text
    response = running.http.post("/api/v1/residents/r1/deactivate", json={"reason": "died"})
    assert response.status_code == 200, response.text
    assert response.json()["closed_alerts"] == []


# The secure broker (TLS, dynamic security) and a hub that provisions on it.
tls_dir = secure_broker.tls_dir
secure = secure_broker.secure
start_secure_hub = secure_broker.start_secure_hub


def test_deactivating_revokes_the_devices_broker_credentials(
    secure: SecureBroker, start_secure_hub: Callable[[], RunningHub]
) -> None:
    running = start_secure_hub()
    made = running.http.post(
        "/api/v1/residents", json={"id": "gn-9", "name": "김순자", "district": "유성구"}
    )
    assert made.status_code == 201, made.text
    added = running.http.post("/api/v1/residents/gn-9/devices", json={"id": "ph1", "kind": "phone"})
    assert added.status_code == 201, added.text
    credentials = added.json()["credentials"]
    assert device_clients(secure) == {"gn-9.ph1"}

    response = running.http.post("/api/v1/residents/gn-9/deactivate", json={"reason": "care"})
    assert response.status_code == 200, response.text
    assert response.json()["credentials"] == {
        "provisioning": True,
        "revoked": ["ph1"],
        "failed": [],
    }
    assert device_clients(secure) == set()
    phone = as_device(secure, credentials)
    assert not phone.connected, "the broker must refuse a deactivated resident's device"
    phone.close()
