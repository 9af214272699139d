"""The alert list's read-only fields and a resolve with its note, through the HTTP API.

``guardian_checking`` (a guardian tapped, the centre has not acknowledged) and
``answer_due_at`` (an emergency the centre has not acknowledged: opened_at + the resident's
``emergency_ack_within``) let the board draw its queue without a timeline per alert.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from alerts.clock import FakeClock
from alerts.inputs import RecordStep, Resolve
from tests.hub.support import KST, read_sms

LINK = re.compile(r"http://\S+/g/([A-Za-z0-9_-]+)")
TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=KST)


def _only(running: Any) -> dict[str, Any]:
    (alert,) = running.http.get("/api/v1/alerts").json()
    return dict(alert)


def _emergency(running: Any) -> dict[str, Any]:
    device = running.device("r1", "spk1")
    device.emergency()
    running.taken(device)
    running.settle()
    device.close()
    return _only(running)


def test_an_emergencys_answer_is_due_by_the_residents_own_time_until_the_centre_answers(
    start_hub: Any,
) -> None:
    running = start_hub(clock=FakeClock(TUESDAY_10))
    running.resident("r1", policy={"emergency_ack_within": "PT5M"}, official=False)
    alert = _emergency(running)
    opened = datetime.fromisoformat(alert["opened_at"])
    assert datetime.fromisoformat(alert["answer_due_at"]) == opened + timedelta(minutes=5)
    assert alert["guardian_checking"] is False

    acked = running.http.post(f"/api/v1/alerts/{alert['id']}/ack", json={})
    assert acked.status_code == 200, acked.text
    assert _only(running)["answer_due_at"] is None


def test_a_guardians_tap_is_guardian_checking_until_the_centre_acknowledges(
    start_hub: Any,
) -> None:
    running = start_hub(clock=FakeClock(TUESDAY_10))
    running.resident("r1", official=False)
    alert = _emergency(running)
    # The default policy: the centre's answer is due 60 s after the call.
    due = datetime.fromisoformat(alert["answer_due_at"])
    assert due - datetime.fromisoformat(alert["opened_at"]) == timedelta(seconds=60)
    (sms,) = [
        m for m in read_sms(running.sms_log) if m["role"] == "guardian" and m["kind"] == "emergency"
    ]
    match = LINK.search(sms["body"])
    assert match, sms["body"]
    tapped = httpx.post(f"{running.base}/api/v1/links/{match.group(1)}/ack", timeout=10)
    assert tapped.status_code == 200, tapped.text

    after_tap = _only(running)
    assert after_tap["guardian_checking"] is True
    assert after_tap["answer_due_at"] is not None, "a guardian's tap is not the centre's answer"

    assert running.http.post(f"/api/v1/alerts/{alert['id']}/ack", json={}).status_code == 200
    after_ack = _only(running)
    assert after_ack["guardian_checking"] is False
    assert after_ack["answer_due_at"] is None


def test_a_resolve_files_its_note_just_before_it_in_one_request(start_hub: Any) -> None:
    running = start_hub(clock=FakeClock(TUESDAY_10))
    running.resident("r1", official=False)
    alert = _emergency(running)
    path = f"/api/v1/alerts/{alert['id']}/resolve"
    too_long = running.http.post(path, json={"outcome": "visited", "note": "가" * 501})
    assert too_long.status_code == 422
    assert _only(running)["state"] == "open", "a refused resolve files no note either"

    resolved = running.http.post(
        path, json={"by": "관제원 이수진", "outcome": "visited", "note": "  119 이송 확인  "}
    )
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert body["state"] == "resolved"
    assert body["outcome"] == "visited"
    entries = [(t["what"], t["by"], t["note"]) for t in body["timeline"]]
    closed = [i for i, (what, _, _) in enumerate(entries) if what == "resolved"]
    assert len(closed) == 1, entries
    assert entries[closed[0] - 1] == ("note", "관제원 이수진", "119 이송 확인"), entries
    assert entries[closed[0]][1] == "관제원 이수진"
    listed = _only(running)
    assert listed["guardian_checking"] is False
    assert listed["answer_due_at"] is None
    # Resolved, it takes no second note: the same request fails before writing anything.
    again = running.http.post(path, json={"outcome": "visited", "note": "또"})
    assert again.status_code == 409
    timeline = running.http.get(f"/api/v1/alerts/{alert['id']}").json()["timeline"]
    assert [t["note"] for t in timeline if t["what"] == "note"] == ["119 이송 확인"]


def test_a_closing_note_and_its_resolve_are_filed_together_or_not_at_all(
    start_hub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = start_hub(clock=FakeClock(TUESDAY_10))
    running.resident("r1", official=False)
    alert = _emergency(running)
    core = running.hub.core
    note = RecordStep(alert_id=alert["id"], by="관제 김", step="note", note="방문 예정")
    resolve = Resolve(alert_id=alert["id"], by="관제 김", outcome="visited")
    decide = core._decider.decide
    calls: list[object] = []

    def crash_on_the_resolve(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[2])
        if args[2] is resolve:
            raise RuntimeError("the hub died between the note and the resolve")
        return decide(*args, **kwargs)

    monkeypatch.setattr(core._decider, "decide", crash_on_the_resolve)
    with pytest.raises(RuntimeError):
        running.hub.call(lambda now: core.operator_inputs(alert["id"], [note, resolve], now))
    monkeypatch.undo()
    assert calls == [note, resolve]
    timeline = running.http.get(f"/api/v1/alerts/{alert['id']}").json()["timeline"]
    assert [t for t in timeline if t["what"] == "note"] == [], "the note alone was filed"
    assert _only(running)["state"] != "resolved"
