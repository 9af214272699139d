"""Real delivery through the provider chain, against stand-ins of the providers' HTTP APIs.

The first provider answering 500s hands over to the second within 10 s; a hub restarted in
the middle of the retries sends nothing twice; receipts mark messages delivered; a guardian
who cannot be reached is replaced by a backup guardian, and the board shows it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.hub.standins import AligoStandIn, NhnStandIn, SolapiStandIn
from tests.hub.support import wait_until


@pytest.fixture
def nhn() -> Iterator[NhnStandIn]:
    server = NhnStandIn()
    yield server
    server.close()


@pytest.fixture
def solapi() -> Iterator[SolapiStandIn]:
    server = SolapiStandIn()
    yield server
    server.close()


def _notifications(running: Any, resident: str) -> list[dict[str, Any]]:
    response = running.http.get("/api/v1/notifications", params={"resident": resident})
    return list(response.json())


def test_first_provider_failing_hands_over_within_ten_seconds(
    start_hub: Any, nhn: NhnStandIn, solapi: SolapiStandIn
) -> None:
    nhn.fail_next(1000, status=500)
    running = start_hub(sms=f"{nhn.url_spec()},{solapi.url_spec()}", receipt_poll_s=0.5)
    running.resident("r1", official=False)
    device = running.device("r1", "spk1")
    started = time.monotonic()
    device.emergency()
    wait_until(lambda: len(solapi.accepted) >= 2, timeout=10)
    elapsed = time.monotonic() - started
    device.close()

    assert elapsed < 10
    assert nhn.requests >= 1
    assert nhn.accepted == []
    rows = _notifications(running, "r1")
    assert {(r["role"], r["provider"]) for r in rows} == {
        ("control_center", "solapi"),
        ("guardian", "solapi"),
    }
    wait_until(lambda: {r["delivery"] for r in _notifications(running, "r1")} == {"delivered"})


def test_no_message_twice_across_a_restart_in_the_middle_of_retries(
    start_hub: Any, nhn: NhnStandIn, solapi: SolapiStandIn
) -> None:
    nhn.fail_next(1000, status=500)
    solapi.fail_next(1000, status=503)
    sms = f"{nhn.url_spec()},{solapi.url_spec()}"
    first = start_hub(sms=sms)
    first.resident("r1", official=False)
    device = first.device("r1", "spk1")
    device.emergency()
    device.close()
    wait_until(lambda: solapi.requests >= 1, timeout=10)  # mid-retry: both refusing
    first.hub.stop()
    assert solapi.accepted == [] and nhn.accepted == []

    solapi.recover()  # the outage is over
    second = start_hub(sms=sms)
    wait_until(lambda: len(solapi.accepted) >= 2, timeout=20)
    # Every row has left pending and sending: nothing more goes out, so "twice" is decided.
    wait_until(
        lambda: not {r["delivery"] for r in _notifications(second, "r1")} & {"pending", "sending"},
        timeout=10,
    )
    recipients = Counter(m["to"] for m in solapi.accepted)
    assert sorted(recipients.values()) == [1, 1], recipients
    assert {r["delivery"] for r in _notifications(second, "r1")} <= {"sent", "delivered"}


def test_an_unreachable_guardian_is_replaced_by_a_backup_and_shown(
    start_hub: Any,
) -> None:
    aligo = AligoStandIn()
    try:
        running = start_hub(sms=aligo.url_spec(), receipt_poll_s=0.5)
        running.resident("r1", official=False)
        running.http.post(
            "/api/v1/residents/r1/contacts",
            json={"role": "guardian", "name": "조카", "phone": "+821077778888", "backup": True},
        ).raise_for_status()
        # The carrier cannot deliver to the first guardian. Said before the message goes: a
        # receipt poll between sending and a later mark() would see it delivered (0.5 s polls
        # made that a race under load).
        aligo.undeliverable_to("01000000000")
        device = running.device("r1", "spk1")
        device.emergency()
        device.close()
        wait_until(lambda: len(aligo.accepted) >= 2, timeout=10)
        guardian = next(r for r in _notifications(running, "r1") if r["role"] == "guardian")
        assert [a for a in aligo.accepted if a["to"] == "01000000000"], aligo.accepted
        wait_until(lambda: any(a["to"] == "01077778888" for a in aligo.accepted), timeout=10)
        alert = running.http.get(f"/api/v1/alerts/{guardian['alert_id']}").json()
        steps = [t["what"] for t in alert["timeline"]]
        assert "delivery_failed" in steps
        assert "backup_guardian_paged" in steps
        states = {r["to"]: r["delivery"] for r in _notifications(running, "r1")}
        assert states["+821000000000"] == "failed"
    finally:
        aligo.close()


def test_an_answer_lost_after_sending_is_unknown_not_sent_twice(
    start_hub: Any, nhn: NhnStandIn, solapi: SolapiStandIn
) -> None:
    """A timeout after the request went out may hide a send: the chain stops there (no
    second provider, no retry) and the board sees the message as unknown."""
    nhn.hang_next(100)
    running = start_hub(sms=f"{nhn.url_spec(timeout=1.0)},{solapi.url_spec()}")
    running.resident("r1", official=False, guardians=0)
    device = running.device("r1", "spk1")
    device.emergency()
    device.close()
    wait_until(lambda: {r["delivery"] for r in _notifications(running, "r1")} == {"unknown"})
    nhn.release()
    running.settle()  # the dispatcher has nothing due and nothing in hand: no second try
    assert solapi.requests == 0
    (row,) = _notifications(running, "r1")
    timeline = running.http.get(f"/api/v1/alerts/{row['alert_id']}").json()["timeline"]
    assert "delivery_unknown" in [t["what"] for t in timeline]
