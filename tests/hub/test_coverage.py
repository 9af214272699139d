"""Monitoring coverage on the board: how many watched residents' devices the hub hears.

A real hub on a :class:`FakeClock` (so the window can pass), real devices on the broker:
a heartbeat and an activity are heard, a retained status is not, a deactivated resident is
not watched, and once the window has passed nobody is heard any more.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from alerts.clock import FakeClock
from hub.store.coverage_reads import coverage
from hub.store.tables import events
from tests.hub.support import DEFAULT_TEST_START, wait_until


def test_the_board_counts_residents_heard_within_the_window(start_hub: Any) -> None:
    clock = FakeClock(DEFAULT_TEST_START)
    running = start_hub(clock=clock)
    for resident in ("r1", "r2", "r3", "r4"):
        running.resident(resident, {"spk": "speaker"})
    r1, r2, r3, r4 = (running.device(r, "spk") for r in ("r1", "r2", "r3", "r4"))
    try:
        r1.send("heartbeat", interval_s=300)
        running.taken(r1)
        r2.activity()
        running.taken(r2)
        running.taken(r4)
        status = json.dumps({"state": "online", "ts": r3.ts()})
        r3.raw("status", status)

        def status_stored() -> bool:
            with running.hub.engine.connect() as conn:
                found = conn.execute(
                    select(events.c.kind).where(events.c.resident_id == "r3")
                ).all()
            return [row.kind for row in found] == ["status"]

        wait_until(status_stored)
        deactivated = running.http.post("/api/v1/residents/r4/deactivate", json={"reason": "moved"})
        assert deactivated.status_code == 200, deactivated.text

        answer = running.http.get("/api/v1/coverage")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["watched"], body["heard"], body["not_heard"]) == (3, 2, 1)
        assert body["line"] == "모니터링 중 2 / 3명 · 1명 신호 없음 (최근 15분)"
        fragment = running.http.get("/board/coverage")
        assert fragment.status_code == 200
        assert fragment.text == (
            '<span class="unheard">모니터링 중 2 / 3명 · 1명 신호 없음 (최근 15분)</span>'
        )
        with running.hub.engine.connect() as conn:
            since = clock.now() - timedelta(minutes=15)
            assert coverage(conn, since, ["동구"]).watched == 0
            assert coverage(conn, since, ["유성구"]).heard == 2

        clock.advance(timedelta(minutes=16))
        later = running.http.get("/api/v1/coverage", params={"within_min": 15}).json()
        assert (later["heard"], later["not_heard"]) == (0, 3)
        wider = running.http.get("/api/v1/coverage", params={"within_min": 20}).json()
        assert wider["heard"] == 2
        assert running.http.get("/board/coverage", headers={"Authorization": ""}).status_code in (
            401,
            403,
        )
    finally:
        for device in (r1, r2, r3, r4):
            device.close()


def test_the_board_page_includes_the_coverage_line(start_hub: Any) -> None:
    running = start_hub()
    running.resident("r1")
    page = running.http.get("/board")
    assert 'hx-get="/board/coverage"' in page.text
    line = running.http.get("/board/coverage").text
    assert line == '<span class="unheard">모니터링 중 0 / 1명 · 1명 신호 없음 (최근 15분)</span>'
