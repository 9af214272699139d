"""The resident model: reproducible, realistic enough, and each incident/fault shows as promised."""

from __future__ import annotations

import itertools
import statistics
import time as clock
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from simulators.model import (
    DEVICE_MIXES,
    HEARTBEAT_S,
    INCIDENT_KINDS,
    KST,
    FaultSpec,
    Household,
    IncidentSpec,
    Routine,
    SimEvent,
    Simulation,
    expand_heartbeats,
    random_household,
    simulate,
)
from simulators.scenario import ScenarioError, load_scenario

MONDAY = date(2026, 11, 16)
SCENARIOS = Path(__file__).resolve().parents[2] / "simulators" / "scenarios"
SOURCES = {
    "speaker": {"voice", "speaker_use"},
    "phone": {"screen", "call", "app"},
    "sensors": {"motion", "door", "power"},
}
_INCIDENT: TypeAdapter[Any] = TypeAdapter(IncidentSpec)
_FAULT: TypeAdapter[Any] = TypeAdapter(FaultSpec)


def kst(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=KST)


def household(
    devices: str = "all",
    incidents: list[dict[str, Any]] | None = None,
    faults: list[dict[str, Any]] | None = None,
    **routine: Any,
) -> Household:
    return Household.model_validate(
        {
            "resident": "r1",
            "devices": devices,
            "routine": routine,
            "incidents": incidents or [],
            "faults": faults or [],
        }
    )


def run(hh: Household, days: int = 3, seed: int = 1) -> tuple[Simulation, list[SimEvent]]:
    sim = simulate(hh, MONDAY, days, seed)
    return sim, list(sim.events())


def activity(events: list[SimEvent], device: str | None = None) -> list[SimEvent]:
    return [e for e in events if e.kind == "activity" and device in (None, e.device)]


def outages(events: list[SimEvent]) -> list[SimEvent]:
    """Status changes after the start (each agent says "online" once as it connects)."""
    return [e for e in events if e.kind == "status" and e.at > kst(MONDAY, 0)]


def beats(events: list[SimEvent], device: str) -> list[datetime]:
    return [b for e in events if e.kind == "heartbeat" and e.device == device for b in e.beats()]


# ------------------------------------------------------------------ shape and determinism


def test_same_seed_same_stream_other_seed_other_stream() -> None:
    hh = random_household("r-7", seed=3, days=7)
    first = list(simulate(hh, MONDAY, 7, 3).events())
    assert first == list(simulate(hh, MONDAY, 7, 3).events())
    assert first == list(simulate(hh, MONDAY, 7, 3))  # a Simulation replays when iterated again
    other = random_household("r-7", seed=4, days=7)
    assert first != list(simulate(other, MONDAY, 7, 4).events())
    # Same household spec, different run seed: a different day-to-day realisation.
    plain = household()
    assert run(plain, seed=1)[1] != run(plain, seed=2)[1]


@pytest.mark.parametrize("mix", list(DEVICE_MIXES))
def test_stream_is_ordered_utc_and_uses_only_the_mix_devices(mix: str) -> None:
    _, events = run(household(mix), days=5)
    assert events == sorted(events, key=lambda e: e.at)
    assert all(e.at.tzinfo is not None and e.at.utcoffset() == timedelta(0) for e in events)
    assert {e.device for e in events} == set(DEVICE_MIXES[mix])
    for e in activity(events):
        assert e.source in SOURCES[e.device]
        assert e.count >= 1
    # Folding: at most one message per device and source per 10-minute window.
    windows = [(e.device, e.source, int(e.at.timestamp()) // 600) for e in activity(events)]
    assert len(windows) == len(set(windows))
    assert all(MONDAY <= e.at.astimezone(KST).date() < MONDAY + timedelta(5) for e in events)


def test_heartbeats_are_continuous_spans_every_300_s() -> None:
    _, events = run(household("speaker+phone"), days=3)
    for dev in ("speaker", "phone"):
        ts = beats(events, dev)
        assert len(ts) in range(3 * 288 - 1, 3 * 288 + 1)
        assert {b - a for a, b in itertools.pairwise(ts)} == {timedelta(seconds=300)}
    expanded = list(expand_heartbeats(events))
    assert expanded == sorted(expanded, key=lambda e: e.at)
    hb = [e for e in expanded if e.kind == "heartbeat"]
    assert all(e.until is None and e.interval_s == HEARTBEAT_S for e in hb)
    assert len(hb) == len(beats(events, "speaker")) + len(beats(events, "phone"))
    assert len(expanded) - len(hb) == len([e for e in events if e.kind != "heartbeat"])


def test_volume_per_household_day_is_compact() -> None:
    per_day = {}
    for mix in DEVICE_MIXES:
        _, events = run(household(mix), days=7)
        per_day[mix] = len(events) / 7
    assert 5 < per_day["speaker"] < 60
    assert 40 < per_day["sensors"] < 200
    assert per_day["all"] < 250


# ------------------------------------------------------------------------------ routine


def first_activity_minutes(events: list[SimEvent]) -> dict[date, int]:
    """Local minutes of the day's first activity after 04:30 (skips night bathroom trips)."""
    out: dict[date, int] = {}
    for e in activity(events):
        local = e.at.astimezone(KST)
        m = local.hour * 60 + local.minute
        if m >= 270 and local.date() not in out:
            out[local.date()] = m
    return out


def test_weekends_start_later_and_afternoons_are_spent_at_home() -> None:
    weekday_wake: list[int] = []
    weekend_wake: list[int] = []
    for i in range(30):
        hh = random_household(f"r{i}", seed=5, days=14, devices="sensors")
        for day, m in first_activity_minutes(list(simulate(hh, MONDAY, 14, 5))).items():
            (weekend_wake if day.weekday() >= 5 else weekday_wake).append(m)
    assert statistics.mean(weekend_wake) - statistics.mean(weekday_wake) > 20

    # Senior centre every weekday afternoon (when the resident goes: most days): the home is
    # quiet 14:00-16:00 on those days, and every weekend afternoon has signs of life.
    sim, events = run(household("sensors", senior_centre_days=[0, 1, 2, 3, 4]), days=14)
    afternoon: dict[date, int] = {}
    for e in activity(events):
        local = e.at.astimezone(KST)
        if 14 <= local.hour < 16:
            afternoon[local.date()] = afternoon.get(local.date(), 0) + 1
    days = [MONDAY + timedelta(days=n) for n in range(14)]
    outings = {day: sim.days_lived[int(kst(day, 0).timestamp())][2] for day in days}
    went = [
        day
        for day in days
        if any(
            a <= kst(day, 14).timestamp() and kst(day, 16).timestamp() <= b for a, b in outings[day]
        )
    ]
    assert len(went) >= 6 and all(day.weekday() < 5 for day in went)
    assert all(afternoon.get(day, 0) == 0 for day in went)
    stayed = [day for day in days if day.weekday() >= 5 and not outings[day]]
    assert stayed and all(afternoon.get(day, 0) > 0 for day in stayed)


def test_public_holidays_are_lived_like_sundays() -> None:
    # 2026-12-25 (성탄절) is a Friday: a late start and no senior-centre afternoon, as on
    # the Saturday after it, while the Thursday before is an ordinary weekday.
    hh = household(
        "sensors",
        wake_weekday="06:00",
        wake_weekend="09:00",
        jitter_min=0,
        night_trip_prob=0,
        market_prob=0,
        sunday_outing_prob=0,
        senior_centre_days=[0, 1, 2, 3, 4],
    )
    thursday = date(2026, 12, 24)
    events = list(simulate(hh, thursday, 3, 1).events())
    first = first_activity_minutes(events)
    holiday, saturday = thursday + timedelta(days=1), thursday + timedelta(days=2)
    assert first[thursday] < 7 * 60
    assert first[holiday] >= 9 * 60
    assert first[saturday] >= 9 * 60

    def afternoon(day: date) -> int:
        return sum(
            1
            for e in activity(events)
            if e.at.astimezone(KST).date() == day and 14 <= e.at.astimezone(KST).hour < 16
        )

    assert afternoon(thursday) == 0
    assert afternoon(holiday) > 0


def test_check_ins_are_answered_when_awake_at_home_and_able() -> None:
    quiet = {
        "wake_weekday": "06:00",
        "wake_weekend": "06:00",
        "sleep": "22:00",
        "jitter_min": 0,
        "market_prob": 0,
        "sunday_outing_prob": 0,
        "senior_centre_days": [],
    }
    sim, _ = run(household("speaker+phone", **quiet), days=3)
    asked = [kst(MONDAY, h, m) for h in range(9, 21) for m in (0, 30)]
    answers = [sim.checkin_answer("speaker", at) for at in asked]
    answered = [a for a in answers if a is not None]
    assert 0.75 * len(answers) <= len(answered) < len(answers)  # 90 % when well; not always
    for at, got in zip(asked, answers, strict=True):
        if got is not None:
            assert timedelta(seconds=20) <= got - at <= timedelta(minutes=3)
    # The same question gets the same answer: the run is reproducible.
    assert sim.checkin_answer("speaker", kst(MONDAY, 10)) == answers[2]
    # Asleep, or asked through a phone (it cannot speak): nobody answers.
    assert sim.checkin_answer("speaker", kst(MONDAY, 3)) is None
    assert sim.checkin_answer("speaker", kst(MONDAY, 23)) is None
    assert all(sim.checkin_answer("phone", kst(MONDAY, h)) is None for h in range(9, 21))

    # After a fall (day 2, 10:00), or with the speaker unplugged (day 2, 10:00): no answer.
    for spec in (
        {"kind": "fall", "day": 2, "at": "10:00"},
        {"kind": "speaker_unplugged", "day": 2, "at": "10:00"},
    ):
        sim, _ = run(household("speaker+phone", [spec], **quiet), days=3)
        day2 = MONDAY + timedelta(1)
        before = [sim.checkin_answer("speaker", kst(day2, 9, m)) for m in range(0, 60, 5)]
        assert any(before), spec["kind"]
        after = [sim.checkin_answer("speaker", kst(day2, h)) for h in range(11, 21)]
        assert not any(after), spec["kind"]


def test_routine_validation() -> None:
    with pytest.raises(ValidationError, match="quoted"):
        Routine.model_validate({"sleep": 600})  # what YAML makes of an unquoted 10:00
    with pytest.raises(ValidationError, match="lunch < dinner"):
        Routine.model_validate({"lunch": "19:00"})


# ---------------------------------------------------------------------------- incidents


def test_fall_stops_all_activity_but_not_heartbeats() -> None:
    sim, events = run(household("all", [{"kind": "fall", "day": 2, "at": "10:00"}]))
    fall = kst(MONDAY + timedelta(1), 10)
    assert [(i.kind, i.start, i.end) for i in sim.ground_truth] == [("fall", fall, None)]
    assert activity(events)[-1].at < fall
    assert any(e.at > fall - timedelta(hours=3) for e in activity(events))
    for dev in ("speaker", "phone", "sensors"):
        assert beats(events, dev)[-1] > kst(MONDAY + timedelta(2), 23)
    assert not [e for e in events if e.kind == "emergency"]
    # Only each agent's "online" as it connected at the start: nothing broke.
    statuses = [(e.at, e.state) for e in events if e.kind == "status"]
    assert statuses == [(kst(MONDAY, 0), "online")] * 3
    assert outages(events) == []


def test_fall_with_duration_and_sensor_detection() -> None:
    spec = {"kind": "fall", "day": 1, "at": "09:00", "duration": "PT2H", "detected": True}
    _, events = run(household("sensors", [spec]), days=1)
    start, end = kst(MONDAY, 9), kst(MONDAY, 11)
    assert not [e for e in activity(events) if start <= e.at < end]
    assert any(e.at >= end for e in activity(events))
    (em,) = [e for e in events if e.kind == "emergency"]
    assert (em.trigger, em.device) == ("fall", "sensors")
    assert start <= em.at < start + timedelta(minutes=1)


def test_emergency_call_and_cancel() -> None:
    _, events = run(
        household(
            "speaker+phone", [{"kind": "emergency_call", "day": 1, "at": "21:40", "text": "살려줘"}]
        ),
        days=1,
    )
    (em,) = [e for e in events if e.kind == "emergency"]
    assert (em.at, em.device, em.trigger, em.text) == (
        kst(MONDAY, 21, 40),
        "speaker",
        "voice",
        "살려줘",
    )
    assert em.id

    spec = {"kind": "emergency_then_cancel", "day": 1, "at": "15:05", "cancel_after": "PT40S"}
    sim, events = run(household("speaker", [spec]), days=2)
    first, cancel = [e for e in events if e.kind == "emergency"]
    assert first.cancel_of is None and cancel.cancel_of == first.id != cancel.id
    assert cancel.at - first.at == timedelta(seconds=40)
    assert sim.ground_truth[0].end == cancel.at
    # The resident is fine afterwards: activity continues.
    assert any(e.at > cancel.at for e in activity(events))


def test_emergency_from_phone_app_when_asked() -> None:
    spec = {"kind": "emergency_call", "day": 1, "at": "12:00", "device": "phone"}
    _, events = run(household("speaker+phone", [spec]), days=1)
    assert [(e.device, e.trigger) for e in events if e.kind == "emergency"] == [("phone", "app")]


def test_hospital_stay_silences_home_but_not_the_phone() -> None:
    spec = {"kind": "hospital_stay", "day": 2, "at": "09:30", "duration": "P3D"}
    sim, events = run(household("all", [spec]), days=6)
    start, end = kst(MONDAY + timedelta(1), 9, 30), kst(MONDAY + timedelta(4), 9, 30)
    (truth,) = sim.ground_truth
    assert (truth.kind, truth.start, truth.end, truth.away_until) == (
        "hospital_stay",
        start,
        end,
        end,
    )
    inside = [e for e in activity(events) if start < e.at < end]
    assert {e.device for e in inside} == {"phone"}
    assert any(e.at > end and e.device == "speaker" for e in activity(events))
    doors = [e.at for e in activity(events, "sensors") if e.source == "door"]
    assert start in doors and end in doors

    spec["takes_phone"] = False
    _, events = run(household("all", [spec]), days=6)
    assert not [e for e in activity(events) if start < e.at < end]


def test_phone_left_at_home_means_a_silent_day() -> None:
    spec = {"kind": "phone_left_at_home", "day": 2, "at": "07:30", "duration": "PT14H"}
    _, events = run(household("speaker+phone", [spec]))
    start, end = kst(MONDAY + timedelta(1), 7, 30), kst(MONDAY + timedelta(1), 21, 30)
    assert not [e for e in activity(events) if start < e.at < end]
    assert activity(events)[0].at < start
    assert beats(events, "phone")[-1] > end  # the phone itself is fine


def test_speaker_unplugged() -> None:
    spec = {"kind": "speaker_unplugged", "day": 2, "at": "19:00"}
    _, events = run(household("speaker+phone", [spec]))
    t = kst(MONDAY + timedelta(1), 19)
    assert beats(events, "speaker")[-1] < t
    assert not [e for e in activity(events, "speaker") if e.at >= t]
    assert [(e.at, e.state) for e in outages(events)] == [(t, "offline")]
    assert any(e.at > t for e in activity(events, "phone"))
    assert beats(events, "phone")[-1] > t


def test_slow_decline_lowers_activity_over_days() -> None:
    spec = {"kind": "slow_decline", "day": 8, "at": "00:00", "over": "P14D", "floor": 0.25}
    _, events = run(household("sensors", [spec]), days=28)
    week = [0, 0, 0, 0]
    for e in activity(events):
        week[(e.at.astimezone(KST).date() - MONDAY).days // 7] += e.count
    assert week[3] < 0.5 * week[0]
    assert week[0] > week[1] > week[2]


# -------------------------------------------------------------------------------- faults


def test_battery_fault_silences_the_sensor_gateway() -> None:
    spec = {"kind": "battery", "device": "sensors", "day": 4, "at": "02:00", "duration": "P2D"}
    _, events = run(household("sensors", faults=[spec]), days=7)
    start, end = kst(MONDAY + timedelta(3), 2), kst(MONDAY + timedelta(5), 2)
    assert not [b for b in beats(events, "sensors") if start <= b < end]
    assert not [e for e in activity(events) if start <= e.at < end]
    assert beats(events, "sensors")[-1] > end and activity(events)[-1].at > end
    assert [(e.at, e.state) for e in outages(events)] == [
        (start, "offline"),
        (end, "online"),
    ]
    pct = {e.at.astimezone(KST).date(): e.battery_pct for e in events if e.kind == "heartbeat"}
    assert pct[MONDAY + timedelta(2)] == 8
    assert (pct[MONDAY] or 0) > 50


def test_wifi_drop_stops_heartbeats_and_delays_activity() -> None:
    spec = {"kind": "wifi_drop", "day": 2, "at": "08:00", "duration": "PT5H"}
    _, events = run(household("all", faults=[spec]))
    start, end = kst(MONDAY + timedelta(1), 8), kst(MONDAY + timedelta(1), 13)
    for dev in ("speaker", "sensors"):
        assert not [b for b in beats(events, dev) if start <= b < end]
        assert any(b >= end for b in beats(events, dev))
    assert [b for b in beats(events, "phone") if start <= b < end]  # LTE
    late = [e for e in activity(events) if e.ts is not None]
    assert late and all(e.at == end and start <= e.device_ts < end for e in late)
    assert {e.device for e in late} <= {"speaker", "sensors"}
    assert not [e for e in activity(events) if start <= e.at < end and e.device != "phone"]


def test_power_cut_silences_every_device() -> None:
    spec = {"kind": "power_cut", "day": 1, "at": "18:30", "duration": "PT3H"}
    sim, events = run(household("all", faults=[spec]), days=2)
    start, end = kst(MONDAY, 18, 30), kst(MONDAY, 21, 30)
    assert sim.ground_truth[0].kind == "power_cut"
    for dev in ("speaker", "phone", "sensors"):
        assert not [b for b in beats(events, dev) if start <= b < end]
        assert any(b >= end for b in beats(events, dev))
    assert not [e for e in activity(events) if start <= e.at < end]
    offline = [e.device for e in events if e.kind == "status" and e.state == "offline"]
    assert sorted(offline) == ["phone", "sensors", "speaker"]


def test_household_rejects_a_fault_on_a_missing_device() -> None:
    with pytest.raises(ValidationError, match="needs a 'sensors'"):
        household("speaker", faults=[{"kind": "battery", "day": 1, "at": "01:00"}])
    with pytest.raises(ValidationError, match="needs a 'speaker'"):
        household("sensors", [{"kind": "speaker_unplugged", "day": 1, "at": "01:00"}])


# ----------------------------------------------------------------------------- scenarios


def test_every_incident_kind_has_a_scenario_file_that_loads_and_runs() -> None:
    kinds = set()
    for path in sorted(SCENARIOS.glob("*.yaml")):
        scenario = load_scenario(path)
        assert scenario.name == path.stem
        for sim in scenario.simulate():
            kinds |= {i.kind for i in sim.ground_truth}
            events = list(sim.events())
            assert events and events == sorted(events, key=lambda e: e.at)
    assert set(INCIDENT_KINDS) | {"battery", "wifi_drop", "power_cut"} <= kinds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "name: x\nstart: 2026-11-16\ndays: 2\nhouseholds:\n"
            "  - {resident: r1, incidents: [{kind: fall, day: 1, at: 10:00}]}\n",
            "quoted",
        ),
        (
            "name: x\nstart: 2026-11-16\ndays: 2\nhouseholds:\n"
            "  - {resident: r1, incidents: [{kind: faint, day: 1, at: '10:00'}]}\n",
            "kind",
        ),
        (
            "name: x\nstart: 2026-11-16\ndays: 2\nhouseholds:\n"
            "  - {resident: r1, incidents: [{kind: fall, day: 3, at: '10:00'}]}\n",
            "lasts 2 days",
        ),
        (
            "name: x\nstart: 2026-11-16\ndays: 2\nhouseholds:\n"
            "  - {resident: r1, devices: phone}\n",
            "devices",
        ),
        (
            "name: x\nstart: 2026-11-16\ndays: 2\ncolour: red\nhouseholds: [{resident: r1}]\n",
            "colour",
        ),
        ("name: [unclosed\n", "not valid YAML"),
        ("- just a list\n", "mapping"),
    ],
)
def test_bad_scenarios_fail_clearly(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError, match=message) as info:
        load_scenario(path)
    assert str(path) in str(info.value)


def test_specs_parse_iso_durations() -> None:
    spec = _INCIDENT.validate_python(
        {"kind": "hospital_stay", "day": 1, "at": "09:00", "duration": "P5D"}
    )
    assert spec.duration == timedelta(days=5)
    fault = _FAULT.validate_python(
        {"kind": "wifi_drop", "day": 1, "at": "09:00", "duration": "PT30M"}
    )
    assert fault.duration == timedelta(minutes=30)


# --------------------------------------------------------------------------------- speed


def test_a_thousand_households_for_thirty_days_is_fast() -> None:
    began = clock.perf_counter()
    total = 0
    for i in range(1000):
        hh = random_household(f"r{i:04d}", seed=9, days=30)
        total += sum(1 for _ in simulate(hh, MONDAY, 30, 9).events())
    elapsed = clock.perf_counter() - began
    assert total > 500_000  # the fleet is not trivially empty
    assert elapsed < 60, f"{elapsed:.1f} s"


def test_start_is_local_midnight() -> None:
    sim = simulate(household(), MONDAY, 1)
    assert datetime.fromtimestamp(sim.t0, UTC) == kst(MONDAY, 0)
