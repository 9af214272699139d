"""A guardian acts from the SMS link: acknowledged holds the centre for ack_resolve_within,
then it proceeds; the link opens only its own alert and refuses forgeries.

The hub runs on a :class:`FakeClock` stepped through its due times (``RunningHub.run_until``):
the link, the API and the SMS are the real thing, the seconds are not waited for. The hold
itself is the engine's, covered in virtual time by ``tests/alerts/test_alert_ack_resolve.py``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import httpx

from alerts.clock import FakeClock
from alerts.messages import sms_bytes
from tests.hub.support import KST, read_sms, wait_until

TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=KST)
POLICY = {
    "checkin_after": "PT2S",
    "guardian_after": "PT3S",
    "control_center_after": "PT6S",
    "ack_resolve_within": "PT5S",
}
LINK = re.compile(r"http://\S+/g/([A-Za-z0-9_-]+)")


def _guardian_link(sms: list[dict[str, Any]]) -> str:
    (line,) = [m for m in sms if m["role"] == "guardian" and m["kind"] == "inactivity"]
    match = LINK.search(line["body"])
    assert match, line["body"]
    return match.group(1)


def _after(line: dict[str, Any]) -> float:
    """Seconds from TUESDAY_10 to when the hub sent ``line`` (its clock's time)."""
    return (datetime.fromisoformat(line["ts"]) - TUESDAY_10).total_seconds()


def test_guardian_ack_by_link_holds_the_centre_then_it_proceeds(start_hub: Any) -> None:
    clock = FakeClock(TUESDAY_10)
    running = start_hub(clock=clock)
    running.resident("r1", policy=POLICY, official=False)
    running.run_until(TUESDAY_10 + timedelta(seconds=3))
    wait_until(lambda: any(m["role"] == "guardian" for m in read_sms(running.sms_log)), 6)
    token = _guardian_link(read_sms(running.sms_log))
    anonymous = httpx.Client(base_url=running.base, timeout=10)

    view = anonymous.get(f"/api/v1/links/{token}").json()
    assert view["resident"] == "김영희"
    assert view["state"] == "open"
    acked = anonymous.post(f"/api/v1/links/{token}/ack")
    assert acked.status_code == 200, acked.text
    acked_after = (clock.now() - TUESDAY_10).total_seconds()
    assert acked.json()["state"] == "acknowledged"

    # Past the centre's own time (6 s), with all due by then fired and sent.
    running.run_until(TUESDAY_10 + timedelta(seconds=6.5))
    assert not any(m["role"] == "control_center" for m in read_sms(running.sms_log)), (
        "the centre was paged although the guardian had acknowledged"
    )
    running.run_until(TUESDAY_10 + timedelta(seconds=12))
    wait_until(lambda: any(m["role"] == "control_center" for m in read_sms(running.sms_log)), 6)
    centre = next(m for m in read_sms(running.sms_log) if m["role"] == "control_center")
    paged_after = _after(centre)
    assert abs(paged_after - (acked_after + 5)) <= 2.0
    assert "보호자가" in centre["body"]
    # A link pushes the guardian's message past 90 bytes: LMS. The centre's fits one SMS.
    guardian = next(m for m in read_sms(running.sms_log) if m["role"] == "guardian")
    assert (guardian["type"], centre["type"]) == ("LMS", "SMS")
    assert sms_bytes(centre["body"]) <= 90 < sms_bytes(guardian["body"])

    alert = running.http.get(f"/api/v1/alerts/{view['alert_id']}").json()
    steps = [(t["what"], t["by"]) for t in alert["timeline"]]
    assert ("acknowledged", "보호자 담당자") in steps

    resolved = anonymous.post(f"/api/v1/links/{token}/resolve")
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["state"] == "resolved"
    assert anonymous.post(f"/api/v1/links/{token}/resolve").status_code == 409


def test_a_guardians_tap_on_an_emergency_leaves_it_to_the_centre(start_hub: Any) -> None:
    """보호자 확인 중 is not 접수: after a guardian's tap the emergency stays open (it was
    shown as acknowledged) and the centre is re-alerted until it acknowledges."""
    clock = FakeClock(TUESDAY_10)
    running = start_hub(clock=clock)
    running.resident("r1", official=False)
    device = running.device("r1", "spk1")
    device.emergency()
    running.taken(device)
    running.settle()
    (line,) = [
        m for m in read_sms(running.sms_log) if m["role"] == "guardian" and m["kind"] == "emergency"
    ]
    match = LINK.search(line["body"])
    assert match, line["body"]
    anonymous = httpx.Client(base_url=running.base, timeout=10)

    tapped = anonymous.post(f"/api/v1/links/{match.group(1)}/ack")
    assert tapped.status_code == 200, tapped.text
    assert tapped.json()["state"] == "open", "the centre has not answered"
    anonymous.post(f"/api/v1/links/{match.group(1)}/ack")  # a second tap
    running.run_until(TUESDAY_10 + timedelta(seconds=61))

    realerts = [m for m in read_sms(running.sms_log) if m["role"] == "control_center"]
    assert len(realerts) >= 2, "the centre's re-alert goes on after the guardian's tap"
    alert = running.http.get(f"/api/v1/alerts/{line['alert_id']}").json()
    assert alert["state"] == "open"
    steps = [t["what"] for t in alert["timeline"]]
    assert steps.count("guardian_checking") == 1 and "acknowledged" not in steps


def test_links_refuse_forgeries_and_other_alerts(start_hub: Any) -> None:
    running = start_hub(clock=FakeClock(TUESDAY_10))
    running.resident("r1", policy=POLICY, official=False)
    running.run_until(TUESDAY_10 + timedelta(seconds=3))
    wait_until(lambda: any(m["role"] == "guardian" for m in read_sms(running.sms_log)), 6)
    token = _guardian_link(read_sms(running.sms_log))
    anonymous = httpx.Client(base_url=running.base, timeout=10)
    running.resident("r2", policy=POLICY, official=False, guardians=0)
    running.run_until(TUESDAY_10 + timedelta(seconds=6))
    wait_until(lambda: running.http.get("/api/v1/alerts", params={"resident": "r2"}).json(), 6)
    other = running.http.get("/api/v1/alerts", params={"resident": "r2"}).json()[0]["id"]
    assert anonymous.get(f"/api/v1/links/{token}").json()["alert_id"] != other
    assert anonymous.post(f"/api/v1/links/{token}/ack").json()["resident"] == "김영희"
    assert running.http.get(f"/api/v1/alerts/{other}").json()["state"] == "open"

    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert anonymous.get(f"/api/v1/links/{tampered}").status_code == 403
    assert anonymous.post(f"/api/v1/links/{tampered}/ack").status_code == 403
    assert anonymous.get("/api/v1/links/not-a-token").status_code == 403
    # The link is no key to the admin API.
    assert (
        anonymous.get(
            "/api/v1/residents/r1", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 403
    )
    page = anonymous.get(f"/g/{token}")
    assert page.status_code == 200
    assert "김영희 어르신" in page.text
    assert anonymous.get(f"/g/{tampered}").status_code == 403
