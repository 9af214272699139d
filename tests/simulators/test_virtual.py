"""The virtual-time fleet run: real core, seeded households, scored against the ground truth."""

from __future__ import annotations

import json
import time as clock
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select

from alerts.calendar import WorkingCalendar
from alerts.engine import Escalation
from alerts.inputs import Heartbeat, RegisterDevice
from alerts.policy import DEFAULT_POLICY, Policy
from alerts.state import ResidentState
from hub.store.tables import alerts, events, outbox
from simulators.model import HEARTBEAT_S, KST, Household, SimEvent, simulate
from simulators.people import Responders
from simulators.virtual import (
    _span_heartbeat,
    fleet_summary,
    population,
    run_fleet,
    run_household,
)

MONDAY = date(2026, 11, 16)
EIGHT_HOURS = DEFAULT_POLICY.with_overrides({"guardian_after": "PT8H", "checkin_after": "PT7H"})


def household(devices: str = "all", **incident: Any) -> Household:
    return Household.model_validate(
        {"resident": "r1", "devices": devices, "seed": 5, "incidents": [incident]}
    )


def fall_run(policy: Policy) -> tuple[Any, datetime]:
    """A fall at 10:00 on day 2 (as scenarios/fall.yaml); returns the result and T."""
    sim = simulate(household(kind="fall", day=2, at="10:00"), MONDAY, 4, seed=11)
    fall = sim.ground_truth[0].start
    last = max(e.device_ts for e in sim.events() if e.kind == "activity" and e.device_ts < fall)
    # Nobody works the alert, so it runs its whole course.
    return run_household(sim, policy, responders=Responders(inactivity=False)), last


def test_a_fall_reaches_the_guardian_guardian_after_its_last_activity() -> None:
    result, last = fall_run(DEFAULT_POLICY)
    (outcome,) = result.incidents
    assert outcome.kind == "fall"
    assert outcome.detected
    alert = next(a for a in result.alerts if a.alert_id == outcome.alert_id)
    assert alert.kind == "inactivity"
    assert not alert.false_alarm
    assert alert.explained_by == "fall"
    assert abs(alert.told["guardian"] - (last + timedelta(hours=12))) <= timedelta(seconds=1)
    assert abs(alert.told["control_center"] - (last + timedelta(hours=24))) <= timedelta(seconds=1)
    expected = (last + timedelta(hours=12) - outcome.start).total_seconds()
    assert outcome.time_to_detect_s == pytest.approx(expected, abs=1)


def test_an_eight_hour_policy_detects_the_same_fall_four_hours_sooner() -> None:
    default, _ = fall_run(DEFAULT_POLICY)
    faster, _ = fall_run(EIGHT_HOURS)
    slow = default.incidents[0].time_to_detect_s
    fast = faster.incidents[0].time_to_detect_s
    assert slow is not None and fast is not None
    assert fast < slow
    assert slow - fast == pytest.approx(4 * 3600, abs=1)


def test_an_emergency_call_pages_the_centre_at_once_and_the_centre_takes_it() -> None:
    sim = simulate(household(kind="emergency_call", day=1, at="10:00"), MONDAY, 2)
    result = run_household(sim)
    (outcome,) = result.incidents
    assert outcome.detected and outcome.time_to_detect_s == 0
    (alert,) = [a for a in result.alerts if a.kind == "emergency"]
    # Acknowledged by the simulated centre within 60 s: no re-alert, no supervisor page.
    assert [role for role, _ in alert.pages].count("control_center") == 1
    assert "supervisor" not in alert.told
    assert alert.resolved_at is not None


def test_away_mode_holds_inactivity_alerts_through_a_hospital_stay() -> None:
    spec = {"kind": "hospital_stay", "day": 2, "at": "09:00", "duration": "P3D"}
    sim = simulate(household("speaker", **spec, takes_phone=False), MONDAY, 6)
    stay = sim.ground_truth[0]
    assert stay.end is not None
    result = run_household(sim)
    assert not [a for a in result.alerts if a.kind == "inactivity" and stay.start < a.opened_at]
    assert result.incidents == []  # nothing to detect: the resident is fine


def test_a_heartbeat_span_goes_offline_where_single_beats_would() -> None:
    t0 = datetime(2026, 11, 16, 0, 1, tzinfo=KST)
    span = SimEvent(
        t0, "r1", "speaker", "heartbeat", until=t0 + timedelta(hours=2), interval_s=HEARTBEAT_S
    )
    engine = Escalation(WorkingCalendar())
    state = ResidentState.new("r1", DEFAULT_POLICY, t0)
    state = engine.decide(state, RegisterDevice("speaker", "speaker"), t0).state
    interval = _span_heartbeat(span, DEFAULT_POLICY.device_offline_after_heartbeats)
    decision = engine.decide(state, Heartbeat("speaker", t0, interval), t0)
    last_beat = t0 + timedelta(hours=2) - timedelta(seconds=HEARTBEAT_S)
    offline_at = last_beat + timedelta(seconds=3 * HEARTBEAT_S)
    assert decision.state.devices["speaker"].interval_s == interval
    device = decision.state.devices["speaker"]
    assert device.last_seen_at is not None
    assert device.last_seen_at + timedelta(seconds=3 * interval) == offline_at


ROUTINE = DEFAULT_POLICY.with_overrides({"inactivity_rule": "routine"})


@pytest.mark.parametrize(
    ("policy", "households", "days", "seed"),
    [(DEFAULT_POLICY, 12, 10, 4), (ROUTINE, 40, 20, 5)],
    ids=["fixed", "routine"],
)
def test_coalesced_activity_gives_the_same_alerts_as_every_signal_one_by_one(
    policy: Policy, households: int, days: int, seed: int
) -> None:
    # Under the routine rule a batch's first signal can plan a check-in before the next
    # signal of the batch (r00018 of seed 5, a morning speaker user): folding it away sent a
    # check-in the resident's own activity had made needless.
    calls = {"fast": 0, "slow": 0}
    for hh in population(households, days, seed=seed):
        sim = simulate(hh, MONDAY, days, seed=seed)
        fast = run_household(sim, policy).to_json()
        slow = run_household(sim, policy, coalesce=False).to_json()
        calls["fast"] += fast.pop("decide_calls")
        calls["slow"] += slow.pop("decide_calls")
        assert fast == slow, hh.resident
    # Households with few signals an hour save little; together the saving shows.
    assert calls["fast"] < calls["slow"]


def test_the_same_seed_gives_the_same_figures_in_one_process_or_several() -> None:
    fleet = population(20, 7, seed=9)
    one = run_fleet(fleet, 7, 9, workers=1)
    again = run_fleet(population(20, 7, seed=9), 7, 9, workers=2)
    dump = [json.dumps([h.to_json() for h in r.households], sort_keys=True) for r in (one, again)]
    assert dump[0] == dump[1]
    assert fleet_summary(one) == fleet_summary(again)


def test_a_small_fleet_runs_quickly_and_never_pages_an_official_out_of_hours() -> None:
    began = clock.perf_counter()
    fleet = run_fleet(population(50, 7, seed=2), 7, 2, workers=1)
    elapsed = clock.perf_counter() - began
    summary = fleet_summary(fleet)
    assert summary["households"] == 50
    assert summary["official_pages_out_of_hours"] == 0
    # Officials are told (by page or digest) of control-centre escalations at some hour.
    assert any("official" in a.told for h in fleet.households for a in h.alerts)
    # ~0.3 s on the 2-core dev machine; generous for a loaded CI runner.
    assert elapsed < 15, f"50 x 7 took {elapsed:.1f} s"


def test_the_hub_s_ingest_and_tables_give_the_same_alerts_as_the_bare_core(
    tmp_path: Path,
) -> None:
    # Households with an incident each (and their routine's false alarms): the run through
    # HubCore + SQLite must open the same alerts at the same moments and score the same.
    fleet = [hh for hh in population(80, 14, 3) if hh.incidents][:10]
    assert len({hh.incidents[0].kind for hh in fleet}) >= 4
    bare = run_fleet(fleet, 14, 3, workers=1)
    stored = run_fleet(fleet, 14, 3, workers=1, store=tmp_path)

    for a, b in zip(bare.households, stored.households, strict=True):
        assert [(r.kind, r.opened_at, r.told) for r in a.alerts] == [
            (r.kind, r.opened_at, r.told) for r in b.alerts
        ], a.resident
        assert [i.to_json() | {"alert_id": None} for i in a.incidents] == [
            i.to_json() | {"alert_id": None} for i in b.incidents
        ]
    summary = fleet_summary(stored)
    assert summary["alerts_opened"] == fleet_summary(bare)["alerts_opened"]
    assert sum(summary["alerts_opened"].values()) > 0

    # Everything went through the tables: every device event stored once, every alert a
    # row, every guardian page an SMS row.
    (db,) = tmp_path.glob("*.db")
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        stored_events = conn.execute(
            select(func.count()).select_from(events).where(events.c.kind != "checkin")
        ).scalar_one()
        answers = conn.execute(
            select(func.count()).select_from(events).where(events.c.kind == "checkin")
        ).scalar_one()
        alert_rows = conn.execute(select(func.count()).select_from(alerts)).scalar_one()
        guardian_sms = conn.execute(
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.channel == "sms", outbox.c.role == "guardian")
        ).scalar_one()
    engine.dispose()
    # Statuses (online at connect, Last Wills) are stored too, once each.
    # A household whose resident was found on the floor stops there (the run ends).
    end = datetime.combine(stored.start, datetime.min.time(), KST) + timedelta(days=14)
    sent = [
        ev.kind
        for hh, result in zip(fleet, stored.households, strict=True)
        for ev in simulate(hh, stored.start, 14, 3).events()
        if ev.at < (result.rescued_at or end)
    ]
    assert stored_events == len(sent)
    # The residents answered some check-ins; each answer went in as a checkin message.
    assert answers == summary["checkins_answered"] == fleet_summary(bare)["checkins_answered"] > 0
    assert alert_rows == sum(len(hh.alerts) for hh in stored.households)
    pages = sum(
        1
        for hh in stored.households
        for r in hh.alerts
        for role, _ in r.pages
        if role == "guardian"
    )
    assert guardian_sms == pages
