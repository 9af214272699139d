"""A guardian acts from the SMS link: acknowledged holds the centre for ack_resolve_within,
then it proceeds; the link opens only its own alert and refuses forgeries.

The hub runs on a :class:`FakeClock` stepped through its due times (``RunningHub.run_until``):
the link, the API and the SMS are the real thing, the seconds are not waited for. The hold
itself is the engine's, covered in virtual time by ``tests/alerts/test_alert_ack_resolve.py``.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import select

from alerts.clock import FakeClock
from alerts.messages import sms_bytes
from hub.api import guardian as words
from hub.guardians import away_bounds, away_end
from hub.settings import Settings
from hub.store.tables import residents
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


# --- the page's words and away mode -------------------------------------------------------

TESTID = re.compile(r'data-testid="([a-z-]+)"[^>]*>([^<]*)')


def _said(client: httpx.Client, token: str) -> dict[str, str]:
    """What the link's page says, by test id (the text before any inner tag)."""
    page = client.get(f"/g/{token}")
    assert page.status_code == 200, page.text
    return dict(TESTID.findall(page.text))


def _emergency_link(running: Any) -> tuple[str, str]:
    device = running.device("r1", "spk1")
    device.emergency()
    running.taken(device)
    running.settle()
    device.close()
    (line,) = [
        m for m in read_sms(running.sms_log) if m["role"] == "guardian" and m["kind"] == "emergency"
    ]
    match = LINK.search(line["body"])
    assert match, line["body"]
    return match.group(1), line["alert_id"]


def test_the_page_says_what_the_centre_is_doing_through_an_emergency(start_hub: Any) -> None:
    """A guardian's tap on an emergency is theirs (관제센터도 계속 확인합니다), not the
    centre's 접수; then 접수, 출동 and the end with its result, as the centre works it."""
    running = start_hub(clock=FakeClock(TUESDAY_10))
    running.resident("r1", official=False)
    token, alert_id = _emergency_link(running)
    anonymous = httpx.Client(base_url=running.base, timeout=10)

    said = _said(anonymous, token)
    assert said["status"] == "관제센터에 알렸습니다 — 아직 접수 전입니다."
    assert said["next"] == (
        "관제센터가 접수할 때까지 1분마다 다시 알리고, 늦어지면 책임자에게도 알립니다."
    )
    assert anonymous.post(f"/api/v1/links/{token}/ack").status_code == 200
    said = _said(anonymous, token)
    assert said["status"] == "보호자님이 확인 중이라고 알렸습니다 — 관제센터도 계속 확인합니다."
    assert "접수" not in said["status"]
    assert said["next"].startswith("관제센터가 접수할 때까지")
    assert 'data-act="ack"' not in anonymous.get(f"/g/{token}").text, "tapped once already"
    # Away mode waits for the emergency to end: it never pauses one.
    refused = anonymous.post(f"/api/v1/links/{token}/away", json={"last_day": "2026-11-30"})
    assert refused.status_code == 409, refused.text
    assert "away-form" not in anonymous.get(f"/g/{token}").text

    running.http.post(f"/api/v1/alerts/{alert_id}/ack").raise_for_status()
    assert _said(anonymous, token)["status"] == "관제센터가 접수해 확인하고 있습니다."
    running.http.post(
        f"/api/v1/alerts/{alert_id}/actions", json={"step": "dispatched"}
    ).raise_for_status()
    said = _said(anonymous, token)
    assert said["status"] == "관제센터 요원이 어르신 댁으로 출동했습니다."
    assert "김영희 어르신: 긴급 호출 (출동)" in anonymous.get(f"/api/v1/links/{token}").text
    running.http.post(
        f"/api/v1/alerts/{alert_id}/resolve", json={"outcome": "visited"}
    ).raise_for_status()
    said = _said(anonymous, token)
    assert said["status"] == "종료되었습니다 — 직접 방문해 확인했습니다."
    assert said["next"] == "더 하실 일은 없습니다. 고맙습니다."
    assert "away-form" in anonymous.get(f"/g/{token}").text


def _inactivity_link(running: Any) -> str:
    running.resident("r1", policy=POLICY, official=False)
    running.run_until(TUESDAY_10 + timedelta(seconds=3))
    return _guardian_link(read_sms(running.sms_log))


def _policy_version(running: Any) -> int:
    with running.hub.engine.connect() as conn:
        version: int = conn.execute(
            select(residents.c.policy_version).where(residents.c.id == "r1")
        ).scalar_one()
    return version


def test_away_mode_from_the_link_is_bounded_and_idempotent(start_hub: Any) -> None:
    running = start_hub(clock=FakeClock(TUESDAY_10))
    token = _inactivity_link(running)
    anonymous = httpx.Client(base_url=running.base, timeout=10)
    away = f"/api/v1/links/{token}/away"

    for day in ("2026-11-23", "2027-01-24"):  # yesterday; 61 days ahead
        refused = anonymous.post(away, json={"last_day": day, "reason": "hospital"})
        assert refused.status_code == 422, (day, refused.text)
        assert "60일" in refused.json()["detail"]
    assert anonymous.post(away, json={"last_day": "2026-12-01", "reason": "x"}).status_code == 422
    assert running.http.get("/api/v1/residents/r1").json()["policy"]["away_until"] is None
    before = _policy_version(running)

    first = anonymous.post(away, json={"last_day": "2027-01-23", "reason": "hospital"})
    assert first.status_code == 200, first.text
    assert datetime.fromisoformat(first.json()["away_until"]) == datetime(2027, 1, 24, tzinfo=KST)
    assert first.json()["state"] == "resolved", "the guardian knows where the resident is"
    assert _policy_version(running) == before + 1
    again = anonymous.post(away, json={"last_day": "2027-01-23", "reason": "hospital"})
    assert again.status_code == 200, again.text
    assert again.json()["away_until"] == first.json()["away_until"]
    assert _policy_version(running) == before + 1, "the same away mode again is no change"
    profile = running.http.get("/api/v1/residents/r1").json()
    assert profile["state"] == "away"
    assert profile["policy"]["checkin_after"] == "PT2S", "the rest of the policy stays"
    alert = running.http.get(f"/api/v1/alerts/{first.json()['alert_id']}").json()
    notes = [t for t in alert["timeline"] if t["what"] == "note"]
    assert [(t["note"], t["by"]) for t in notes] == [
        ("입원: 1월 23일까지 외출 설정 (보호자 링크)", "보호자 담당자")
    ]
    # A shorter stay later is a change: a new version with the new end.
    shorter = anonymous.post(away, json={"last_day": "2026-11-24"})
    assert shorter.status_code == 200, shorter.text
    assert datetime.fromisoformat(shorter.json()["away_until"]) == datetime(
        2026, 11, 25, tzinfo=KST
    )
    assert _policy_version(running) == before + 2
    # The alert was closed by then: the change is on its timeline all the same.
    alert = running.http.get(f"/api/v1/alerts/{first.json()['alert_id']}").json()
    assert [t["note"] for t in alert["timeline"] if t["what"] == "note"][-1] == (
        "외출: 11월 24일까지 외출 설정 (보호자 링크)"
    )


def test_an_expired_or_altered_link_sets_no_away_mode(start_hub: Any) -> None:
    clock = FakeClock(TUESDAY_10)
    running = start_hub(clock=clock)
    token = _inactivity_link(running)
    anonymous = httpx.Client(base_url=running.base, timeout=10)
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    body = {"last_day": "2026-11-25", "reason": "family"}
    assert anonymous.post(f"/api/v1/links/{tampered}/away", json=body).status_code == 403

    clock.set(TUESDAY_10 + timedelta(hours=25))  # the link was made at 10:00:03 for 24 h
    expired = anonymous.post(f"/api/v1/links/{token}/away", json=body)
    assert expired.status_code == 410, expired.text
    assert expired.json()["detail"] == "링크가 만료되었습니다"
    page = anonymous.get(f"/g/{token}")
    assert page.status_code == 410
    assert "링크가 만료되었습니다" in page.text
    assert 'href="tel:+8220000000"' in page.text, "the centre can still be called"
    assert running.http.get("/api/v1/residents/r1").json()["policy"]["away_until"] is None


def test_the_link_token_is_never_logged(
    start_hub: Any, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """Neither the hub's structured log lines nor any library's log record carry it (the
    test's own HTTP client logs its URLs, token and all: that one is left out)."""
    caplog.set_level(logging.DEBUG)
    running = start_hub(clock=FakeClock(TUESDAY_10))
    token = _inactivity_link(running)
    anonymous = httpx.Client(base_url=running.base, timeout=10)
    anonymous.get(f"/g/{token}")
    anonymous.post(f"/api/v1/links/{token}/ack")
    anonymous.post(f"/api/v1/links/{token}/away", json={"last_day": "2026-11-25"})
    anonymous.post(f"/api/v1/links/{token}/away", json={"last_day": "2020-01-01"})
    anonymous.get(f"/g/{token[:-2]}AA")
    running.settle()
    printed = capsys.readouterr()
    assert "outbox.sms" in printed.out + printed.err, "the hub's log lines were not captured"
    assert token not in printed.out + printed.err
    records = [
        r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    ]
    assert not [line for line in records if token in line]


def test_the_pages_times_and_numbers_read_as_people_write_them() -> None:
    assert [words.span(timedelta(seconds=s)) for s in (5, 60, 61, 5400, 86400 * 2 + 3 * 3600)] == [
        "1분",
        "1분",
        "2분",
        "1시간 30분",
        "2일 3시간",
    ]
    now = datetime(2026, 11, 24, 12, 0, tzinfo=KST)
    assert [words.ago(now - timedelta(minutes=m), now) for m in (0, 5, 60, 135, 3000)] == [
        "방금",
        "5분 전",
        "1시간 전",
        "2시간 15분 전",
        "2일 전",
    ]
    assert words.when(datetime(2026, 11, 24, 0, 5, tzinfo=KST), "Asia/Seoul") == (
        "11월 24일 오전 12:05"
    )
    assert words.when(datetime(2026, 11, 24, 4, 30, tzinfo=UTC), "Asia/Seoul") == (
        "11월 24일 오후 1:30"
    )
    assert words.phone_link("+8220000000") == ("tel:+8220000000", "02-000-0000")
    assert words.phone_link("02-1234-5678") == ("tel:+82212345678", "02-1234-5678")
    assert words.phone_link("010-1234-5678") == ("tel:+821012345678", "010-1234-5678")
    assert words.phone_link("+1 555 0100") is None
    assert words.phone_link(None) is None
    # Away mode's last day is inclusive: it ends at the next local midnight, also across
    # a month and a year.
    assert away_end(date(2026, 12, 31), "Asia/Seoul") == datetime(2027, 1, 1, tzinfo=KST)
    assert words.away_text(datetime(2027, 1, 1, tzinfo=KST), "Asia/Seoul") == "12월 31일까지"
    assert away_bounds(datetime(2026, 11, 24, 15, 30, tzinfo=UTC), "Asia/Seoul") == (
        date(2026, 11, 25),
        date(2027, 1, 24),
    ), "15:30 UTC is already the next day in Korea"


def test_another_guardians_tap_is_told_without_their_name_and_not_offered_again(
    start_hub: Any,
) -> None:
    running = start_hub(clock=FakeClock(TUESDAY_10))
    running.resident("r1", policy=POLICY, official=False, guardians=0)
    for name, phone in (("김철수", "+821011112222"), ("김영수", "+821033334444")):
        running.http.post(
            "/api/v1/residents/r1/contacts",
            json={"role": "guardian", "name": name, "phone": phone},
        ).raise_for_status()
    running.run_until(TUESDAY_10 + timedelta(seconds=3))
    tokens = {}
    for line in read_sms(running.sms_log):
        match = LINK.search(line["body"])
        if line["role"] == "guardian" and match:
            tokens[line["to"]] = match.group(1)
    mine, theirs = tokens["+821011112222"], tokens["+821033334444"]
    anonymous = httpx.Client(base_url=running.base, timeout=10)
    assert anonymous.post(f"/api/v1/links/{theirs}/ack").status_code == 200

    page = anonymous.get(f"/g/{mine}").text
    said = dict(TESTID.findall(page))
    assert said["status"] == "다른 보호자분이 확인 중이라고 알렸습니다."
    assert "김영수" not in page and "3333" not in page
    assert 'data-act="ack"' not in page, "a second acknowledgement would change nothing"
    assert 'data-act="resolve"' in page
    assert dict(TESTID.findall(anonymous.get(f"/g/{theirs}").text))["status"] == (
        "보호자님이 확인 중이라고 알렸습니다."
    )


def test_the_page_calls_the_centres_own_line_when_one_is_set(start_hub: Any) -> None:
    running = start_hub(clock=FakeClock(TUESDAY_10), control_center_call_number="02-2100-1234")
    token = _inactivity_link(running)
    page = httpx.get(f"{running.base}/g/{token}", timeout=10)
    assert 'href="tel:+82221001234"' in page.text
    assert 'href="tel:+8220000000"' not in page.text, "not the number the centre gets SMS on"


def test_a_call_number_that_is_no_phone_number_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="Korean phone number"):
        Settings(control_center_call_number="1588")
