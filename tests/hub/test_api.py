"""The HTTP API of INTERFACES.md: authentication, validation, and the alert workflow."""

from __future__ import annotations

from typing import Any

import httpx

from tests.hub.support import ADMIN_TOKEN, read_sms, wait_until


def test_requests_without_or_with_a_wrong_token_are_refused(start_hub: Any) -> None:
    running = start_hub()
    paths = [
        ("GET", "/api/v1/alerts"),
        ("GET", "/api/v1/residents/r1"),
        ("POST", "/api/v1/residents"),
        ("GET", "/api/v1/notifications"),
        ("GET", "/api/v1/dead-letters"),
        ("POST", "/api/v1/alerts/x/ack"),
    ]
    for method, path in paths:
        anonymous = httpx.request(method, running.base + path, json={})
        assert anonymous.status_code == 401, (method, path)
        wrong = httpx.request(
            method, running.base + path, json={}, headers={"Authorization": "Bearer nope"}
        )
        assert wrong.status_code == 403, (method, path)
    assert httpx.get(running.base + "/health").json()["status"] == "ok"


def test_registration_validates_and_reports_conflicts(start_hub: Any) -> None:
    running = start_hub()
    http = running.http
    good = {"id": "r1", "name": "김영희", "district": "유성구"}
    assert http.post("/api/v1/residents", json=good).status_code == 201
    assert http.post("/api/v1/residents", json=good).status_code == 409
    bad_id = http.post("/api/v1/residents", json={**good, "id": "bad id!"})
    assert bad_id.status_code == 422
    # A control-centre stage cannot be switched off or put before the guardian stage.
    bad_policy = http.post(
        "/api/v1/residents",
        json={
            **good,
            "id": "r2",
            "policy": {
                "checkin_after": "PT1H",
                "guardian_after": "PT2H",
                "control_center_after": "PT1H",
            },
        },
    )
    assert bad_policy.status_code == 422
    assert "control_center_after" in bad_policy.text
    assert "input" not in bad_policy.json()["detail"][0]
    unknown_field = http.post("/api/v1/residents", json={**good, "id": "r3", "policy": {"x": 1}})
    assert unknown_field.status_code == 422
    missing = http.post("/api/v1/residents/nobody/devices", json={"id": "d", "kind": "speaker"})
    assert missing.status_code == 404
    kind = http.post("/api/v1/residents/r1/devices", json={"id": "d", "kind": "toaster"})
    assert kind.status_code == 422
    assert http.get("/api/v1/residents/nobody").status_code == 404

    # A number typed through the API is kept in E.164, as the roster import keeps it (they
    # once differed: "010-…" stayed as typed); one that is not Korean is refused.
    typed = {"role": "guardian", "name": "김철수", "phone": "010-2345-6789"}
    assert http.post("/api/v1/residents/r1/contacts", json=typed).status_code == 201
    foreign = http.post("/api/v1/residents/r1/contacts", json={**typed, "phone": "+1-555-0100"})
    assert foreign.status_code == 422
    assert "Korean phone number" in foreign.text

    resident = http.get("/api/v1/residents/r1").json()
    assert resident["state"] == "normal"
    assert resident["policy"]["guardian_after"] == "PT12H"
    assert [c["phone"] for c in resident["contacts"]] == ["+821023456789"]


def test_control_centre_works_an_emergency_to_resolution(start_hub: Any) -> None:
    running = start_hub()
    running.resident("r1")
    device = running.device("r1", "spk1")
    device.emergency()
    device.close()
    http = running.http
    alert = wait_until(lambda: http.get("/api/v1/alerts", params={"state": "open"}).json())[0]
    assert alert["kind"] == "emergency"
    assert http.get("/api/v1/residents/r1").json()["state"] == "emergency"

    acked = http.post(f"/api/v1/alerts/{alert['id']}/ack", json={"by": "관제원 이수진"})
    assert acked.status_code == 200
    assert acked.json()["state"] == "acknowledged"
    for step in ("called_resident", "no_answer", "dispatched"):
        response = http.post(
            f"/api/v1/alerts/{alert['id']}/actions", json={"by": "관제원 이수진", "step": step}
        )
        assert response.status_code == 200, response.text
    resolved = http.post(
        f"/api/v1/alerts/{alert['id']}/resolve",
        json={"by": "관제원 이수진", "outcome": "visited"},
    )
    assert resolved.status_code == 200
    body = resolved.json()
    assert body["state"] == "resolved"
    assert body["outcome"] == "visited"
    steps = [entry["what"] for entry in body["timeline"]]
    assert steps[0] == "opened"
    assert "acknowledged" in steps
    assert steps[-1] == "resolved"
    assert http.post(f"/api/v1/alerts/{alert['id']}/ack").status_code == 409
    assert http.post("/api/v1/alerts/nope/ack").status_code == 404

    notifications = http.get("/api/v1/notifications", params={"alert_id": alert["id"]}).json()
    assert {n["role"] for n in notifications} >= {"control_center", "guardian"}
    assert all(n["delivery"] in {"pending", "sending", "sent"} for n in notifications)
    wait_until(lambda: read_sms(running.sms_log))
    assert http.get("/api/v1/residents/r1").json()["state"] == "normal"
    assert ADMIN_TOKEN not in running.sms_log.read_text(encoding="utf-8")
