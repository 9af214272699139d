"""The watchdog's pure decision, its state file and its heartbeat reading, without I/O.

When to page (no healthy sighting for ``down_after``), when to page the recovery (a healthy
sighting after the down page), and never twice, across restarts included: a property over
arbitrary runs of sightings, silences and restarts.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from typer.testing import CliRunner

from hub.cli import app
from hub.heartbeat import heartbeat_payload
from hub.notify.sms_text import prepare
from hub.watchdog import healthy_heartbeat
from hub.watchdog_rules import Page, WatchState, decide, page_text
from hub.watchdog_settings import WatchdogSettings
from hub.watchdog_state import Pending, Saved, load_state, save_state

T0 = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)
DOWN = timedelta(minutes=3)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_no_page_before_down_after_then_one_page() -> None:
    state = WatchState()
    quiet = decide(state, now=at(179), last_ok=at(0), watching_since=at(0), down_after=DOWN)
    assert quiet.page is None
    assert quiet.state == state
    paged = decide(state, now=at(180), last_ok=at(0), watching_since=at(0), down_after=DOWN)
    assert paged.page == Page("down", 1, timedelta(seconds=180))
    assert paged.state.down
    assert paged.state.paged_at == at(180)
    again = decide(paged.state, now=at(600), last_ok=at(0), watching_since=at(0), down_after=DOWN)
    assert again.page is None


def test_recovery_needs_a_sighting_after_the_page_and_is_paged_once() -> None:
    down = decide(WatchState(), now=at(200), last_ok=at(10), watching_since=at(0), down_after=DOWN)
    assert down.page is not None
    stale = decide(down.state, now=at(201), last_ok=at(10), watching_since=at(0), down_after=DOWN)
    assert stale.page is None
    up = decide(down.state, now=at(300), last_ok=at(299), watching_since=at(0), down_after=DOWN)
    assert up.page == Page("up", 1, timedelta(seconds=289))
    assert not up.state.down
    assert up.state.incident == 1
    after = decide(up.state, now=at(301), last_ok=at(300), watching_since=at(0), down_after=DOWN)
    assert after.page is None


def test_the_watchdogs_own_downtime_is_not_paged() -> None:
    # Started at 1000 s, last sighting long before (a previous run): waits down_after of
    # its own watching first.
    early = decide(
        WatchState(), now=at(1100), last_ok=None, watching_since=at(1000), down_after=DOWN
    )
    assert early.page is None
    late = decide(
        WatchState(), now=at(1180), last_ok=None, watching_since=at(1000), down_after=DOWN
    )
    assert late.page is not None
    assert late.page.down_for == DOWN


def test_restarted_during_a_paged_outage_it_pages_only_the_recovery() -> None:
    paged = WatchState(incident=4, down=True, down_since=at(0), paged_at=at(180))
    restarted = decide(paged, now=at(9000), last_ok=None, watching_since=at(8000), down_after=DOWN)
    assert restarted.page is None
    assert restarted.state == paged
    up = decide(paged, now=at(9001), last_ok=at(9001), watching_since=at(8000), down_after=DOWN)
    assert up.page is not None
    assert (up.page.kind, up.page.incident) == ("up", 4)


# A run: steps of (seconds passed, whether the hub was seen healthy, whether the watchdog
# restarted just before, keeping only its saved state).
steps = st.lists(
    st.tuples(st.floats(min_value=0.1, max_value=400), st.booleans(), st.booleans()),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(steps)
def test_pages_alternate_down_and_up_and_no_incident_is_paged_twice(
    run: list[tuple[float, bool, bool]],
) -> None:
    state = WatchState()
    now = T0
    watching_since = now
    last_ok: datetime | None = None
    pages: list[Page] = []
    for passed, healthy, restarted in run:
        now += timedelta(seconds=passed)
        if restarted:
            watching_since, last_ok = now, None
        if healthy:
            last_ok = now
        decision = decide(
            state, now=now, last_ok=last_ok, watching_since=watching_since, down_after=DOWN
        )
        state = decision.state
        if decision.page is not None:
            pages.append(decision.page)
    kinds = [page.kind for page in pages]
    assert kinds == ["down", "up"] * (len(kinds) // 2) + ["down"] * (len(kinds) % 2)
    downs = [page.incident for page in pages if page.kind == "down"]
    assert downs == list(range(1, len(downs) + 1))
    for down, up in zip(pages[::2], pages[1::2], strict=False):
        assert down.incident == up.incident
    assert state.down == (kinds[-1:] == ["down"])


def test_page_texts_are_korean_and_say_nothing_of_the_failing_part() -> None:
    down = page_text(Page("down", 1, timedelta(minutes=3, seconds=5)))
    up = page_text(Page("up", 1, timedelta(hours=1, minutes=20)))
    assert "3분째" in down
    assert "1시간 20분" in up
    assert "허브" in down
    assert "허브" in up
    for text in (down, up):
        assert "database" not in text
        assert "데이터베이스" not in text
        assert prepare(text).kind in {"SMS", "LMS"}  # carryable, within the LMS limit
    assert "3초째" in page_text(Page("down", 1, timedelta(seconds=3)))


def test_state_file_round_trips_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "state" / "watchdog.json"
    assert load_state(path) == Saved()
    saved = Saved(
        WatchState(incident=2, down=True, down_since=at(0), paged_at=at(180)),
        (Pending("k1", "supervisor", 1, "down", "본문", calling="log"),),
    )
    save_state(path, saved)
    assert load_state(path) == saved
    assert [p.name for p in path.parent.iterdir()] == ["watchdog.json"]
    assert "+82" not in path.read_text(encoding="utf-8")  # numbers stay in the settings


def test_heartbeat_is_healthy_only_when_all_its_parts_are() -> None:
    ok = {"status": "ok", "mqtt": True, "database": True, "writes_ok": True}
    payload = heartbeat_payload(ok, hub="anbu-hub", now=T0, interval_s=10.0)
    body = json.loads(payload)
    assert body == {
        "v": 1,
        "hub": "anbu-hub",
        "ts": T0.isoformat(),
        "interval_s": 10.0,
        "status": "ok",
        "database": True,
        "broker": True,
        "writes_ok": True,
    }
    assert healthy_heartbeat(payload)
    no_db = heartbeat_payload(
        {**ok, "status": "degraded", "database": False}, hub="h", now=T0, interval_s=1
    )
    assert not healthy_heartbeat(no_db)
    assert not healthy_heartbeat(b"not json")
    assert not healthy_heartbeat(b"[1]")


def test_settings_need_someone_to_page_and_never_echo_a_number() -> None:
    with pytest.raises(ValidationError):
        WatchdogSettings(control_center_phones=[], supervisor_phones=[])
    with pytest.raises(ValidationError) as refused:
        WatchdogSettings(control_center_phones=["02-1234-5678"], supervisor_phones=["9999"])
    assert "9999" not in str(refused.value.errors(include_input=False))
    made = WatchdogSettings(
        control_center_phones=["02-1234-5678"],
        supervisor_phones=["010-2222-3333"],
        down_after="90",
        hub_url="http://hub.local:8080/",
    )
    assert made.down_after == timedelta(seconds=90)
    assert made.hub_url == "http://hub.local:8080"
    assert made.recipients() == [
        ("control_center", "+82212345678"),
        ("supervisor", "+821022223333"),
    ]


def test_the_command_names_the_variable_not_the_value(tmp_path: Path) -> None:
    env = {
        "ANBU_WATCHDOG_CONTROL_CENTER_PHONES": '["12-34"]',
        "ANBU_WATCHDOG_STATE_FILE": str(tmp_path / "state.json"),
    }
    result = CliRunner().invoke(app, ["watchdog"], env=env)
    assert result.exit_code == 2
    assert "ANBU_WATCHDOG_CONTROL_CENTER_PHONES" in result.output
    assert "12-34" not in result.output
    (tmp_path / "state.json").write_text("{not json", encoding="utf-8")
    env["ANBU_WATCHDOG_CONTROL_CENTER_PHONES"] = '["02-1234-5678"]'
    env["ANBU_WATCHDOG_SMS"] = f"log:{tmp_path / 'sms.jsonl'}"
    broken = CliRunner().invoke(app, ["watchdog"], env=env)
    assert broken.exit_code == 1
    assert "JSONDecodeError" in broken.output
