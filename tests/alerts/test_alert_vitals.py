"""Vitals: every rule in both directions, per-resident ranges, weight over a week, routing by
working hours, critical values at once, one alert per episode, and how it ends."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from alerts.actions import (
    Action,
    ChangeStage,
    Notify,
    OpenAlert,
    QueueDigest,
    RecordTimeline,
    ResolveAlert,
)
from alerts.engine import make_alert_id
from alerts.inputs import Activity, Resolve, VitalKind, VitalReading
from alerts.policy import DEFAULT_POLICY, Policy
from alerts.testing import VirtualResident
from alerts.vitals import (
    WEIGHT_DAYS_KEPT,
    DailyWeight,
    Finding,
    VitalRanges,
    classify,
    record_weight,
    week_before,
)

SEOUL = ZoneInfo("Asia/Seoul")
T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # Monday 09:00 KST, where the fixtures start
A = TypeVar("A")
MakeResident = Callable[..., VirtualResident]
_ids = itertools.count(1)


def reading(
    kind: VitalKind,
    value: float,
    diastolic: float | None = None,
    at: datetime = T0,
    device: str = "bp-1",
) -> VitalReading:
    return VitalReading(device, at, f"m-{next(_ids)}", kind, value, diastolic)


def measure(
    vr: VirtualResident, kind: VitalKind, value: float, diastolic: float | None = None
) -> tuple[VitalReading, tuple[Action, ...]]:
    event = reading(kind, value, diastolic, at=vr.clock.now())
    return event, vr.send(event)


def alert_id_of(event: VitalReading) -> str:
    return make_alert_id("r-1", "vital_out_of_range", f"{event.device}|{event.event_id}")


def only(actions: Sequence[Action], kind: type[A]) -> list[A]:
    return [a for a in actions if isinstance(a, kind)]


def pages(actions: Sequence[Action]) -> list[tuple[str, str, str]]:
    """Everything that reaches a person now or in a digest: (role, message, step)."""
    return [(a.role, a.message, a.step) for a in actions if isinstance(a, Notify | QueueDigest)]


@pytest.fixture
def home(make_resident: MakeResident) -> Callable[[datetime], VirtualResident]:
    """A resident with a speaker and a blood pressure monitor, starting at ``start``."""

    def make(start: datetime) -> VirtualResident:
        return make_resident(start=start, devices={"spk-1": "speaker", "bp-1": "sensors"})

    return make


# --- defaults and the rules, one by one -------------------------------------------------


def test_defaults_are_the_documented_ones() -> None:
    assert VitalRanges().model_dump() == {
        "glucose_low": 70.0,
        "glucose_high": 180.0,
        "glucose_critical_low": 54.0,
        "glucose_critical_high": 400.0,
        "systolic_low": 90.0,
        "systolic_high": 160.0,
        "systolic_critical_low": 80.0,
        "systolic_critical_high": 180.0,
        "diastolic_high": 100.0,
        "diastolic_critical_high": 120.0,
        "spo2_low": 92.0,
        "spo2_critical_low": 88.0,
        "heart_rate_low": 50.0,
        "heart_rate_high": 120.0,
        "heart_rate_critical_low": 40.0,
        "heart_rate_critical_high": 140.0,
        "weight_change_kg": 2.0,
    }
    assert {name: getattr(DEFAULT_POLICY, name) for name in VitalRanges.model_fields} == (
        VitalRanges().model_dump()
    )


@pytest.mark.parametrize(
    ("kind", "value", "diastolic", "level", "rule"),
    [
        # glucose, mg/dL: 70-180 in range, critical below 54 or above 400
        ("glucose", 110, None, "normal", "glucose"),
        ("glucose", 70, None, "normal", "glucose"),
        ("glucose", 69, None, "out_of_range", "glucose_low"),
        ("glucose", 54, None, "out_of_range", "glucose_low"),
        ("glucose", 53.9, None, "critical", "glucose_critical_low"),
        ("glucose", 0, None, "critical", "glucose_critical_low"),  # a glucometer's "LO"
        ("glucose", 180, None, "normal", "glucose"),
        ("glucose", 181, None, "out_of_range", "glucose_high"),
        ("glucose", 400, None, "out_of_range", "glucose_high"),
        ("glucose", 401, None, "critical", "glucose_critical_high"),
        # blood pressure, mmHg
        ("blood_pressure", 128, 82, "normal", "blood_pressure"),
        ("blood_pressure", 160, 100, "normal", "blood_pressure"),
        ("blood_pressure", 161, 80, "out_of_range", "systolic_high"),
        ("blood_pressure", 150, 101, "out_of_range", "diastolic_high"),
        ("blood_pressure", 89, 60, "out_of_range", "systolic_low"),
        ("blood_pressure", 79, 50, "critical", "systolic_critical_low"),
        ("blood_pressure", 181, 90, "critical", "systolic_critical_high"),
        ("blood_pressure", 170, 121, "critical", "diastolic_critical_high"),
        ("blood_pressure", 185, 125, "critical", "systolic_critical_high"),
        ("blood_pressure", 170, 40, "out_of_range", "systolic_high"),  # no diastolic low
        # SpO2, %: from 92 in range, critical below 88
        ("spo2", 97, None, "normal", "spo2"),
        ("spo2", 100, None, "normal", "spo2"),
        ("spo2", 92, None, "normal", "spo2"),
        ("spo2", 91, None, "out_of_range", "spo2_low"),
        ("spo2", 88, None, "out_of_range", "spo2_low"),
        ("spo2", 87, None, "critical", "spo2_critical_low"),
        # heart rate, bpm: 50-120 in range, critical below 40 or above 140
        ("heart_rate", 72, None, "normal", "heart_rate"),
        ("heart_rate", 49, None, "out_of_range", "heart_rate_low"),
        ("heart_rate", 39, None, "critical", "heart_rate_critical_low"),
        ("heart_rate", 121, None, "out_of_range", "heart_rate_high"),
        ("heart_rate", 141, None, "critical", "heart_rate_critical_high"),
    ],
)
def test_each_rule_in_both_directions(
    kind: VitalKind, value: float, diastolic: float | None, level: str, rule: str
) -> None:
    assert classify(reading(kind, value, diastolic), DEFAULT_POLICY) == Finding(level, rule)


@pytest.mark.parametrize(
    ("kind", "value", "diastolic"),
    [
        ("steps", 12, None),  # not a vital sign
        ("steps", 25_000, None),
        ("spo2", 0, None),  # no finger in the clip
        ("heart_rate", 0, None),
        ("blood_pressure", 0, 0),
        ("weight", 0, None),  # stepped off the scale
    ],
)
def test_readings_no_rule_judges(kind: VitalKind, value: float, diastolic: float | None) -> None:
    assert classify(reading(kind, value, diastolic), DEFAULT_POLICY) is None


def test_per_resident_ranges_override_the_defaults() -> None:
    diabetic = DEFAULT_POLICY.with_overrides({"glucose_high": 250, "glucose_critical_high": 450})
    assert classify(reading("glucose", 240), diabetic) == Finding("normal", "glucose")
    assert classify(reading("glucose", 251), diabetic) == Finding("out_of_range", "glucose_high")
    assert classify(reading("glucose", 420), diabetic) == Finding("out_of_range", "glucose_high")
    assert classify(reading("glucose", 240), DEFAULT_POLICY).level == "out_of_range"

    copd = DEFAULT_POLICY.with_overrides({"spo2_low": 88, "spo2_critical_low": 84})
    assert classify(reading("spo2", 89), copd) == Finding("normal", "spo2")
    assert classify(reading("spo2", 86), copd) == Finding("out_of_range", "spo2_low")
    assert classify(reading("spo2", 83), copd) == Finding("critical", "spo2_critical_low")
    assert classify(reading("spo2", 86), DEFAULT_POLICY).level == "critical"


def test_a_low_bound_of_zero_switches_that_side_off() -> None:
    policy = DEFAULT_POLICY.with_overrides({"heart_rate_low": 0, "heart_rate_critical_low": 0})
    assert classify(reading("heart_rate", 30), policy) == Finding("normal", "heart_rate")
    assert classify(reading("heart_rate", 150), policy).level == "critical"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"glucose_low": 200}, "glucose_low (200) must be below glucose_high (180)"),
        ({"glucose_low": 180}, "glucose_low (180) must be below glucose_high (180)"),
        ({"glucose_critical_low": 75}, "glucose_critical_low (75) must be at most glucose_low"),
        ({"systolic_critical_high": 150}, "systolic_high (160) must be at most systolic_critical"),
        ({"diastolic_high": 130}, "diastolic_high (130) must be at most diastolic_critical_high"),
        ({"spo2_critical_low": 95}, "spo2_critical_low (95) must be at most spo2_low (92)"),
        ({"heart_rate_high": 45}, "heart_rate_low (50) must be below heart_rate_high (45)"),
        ({"spo2_low": 101}, "less than or equal to 100"),
        ({"glucose_high": -5}, "greater than or equal to 0"),
        ({"systolic_high": "high"}, "valid number"),
        ({"glucose_high": float("inf")}, "finite number"),
        ({"weight_change_kg": 0}, "greater than 0"),
        ({"weight_change_kg": 60}, "less than or equal to 50"),
        ({"glucose_max": 200}, "unknown policy field(s): glucose_max"),
    ],
)
def test_policy_validation_errors(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as raised:
        DEFAULT_POLICY.with_overrides(overrides)
    assert message in str(raised.value)


def test_ranges_round_trip_through_json() -> None:
    policy = DEFAULT_POLICY.with_overrides({"glucose_high": 250.5, "weight_change_kg": 1.5})
    text = policy.model_dump_json()
    assert '"glucose_high":250.5' in text
    assert Policy.model_validate_json(text) == policy
    assert Policy.model_validate_json(text).model_dump_json() == text
    with pytest.raises(ValidationError, match="glucose_low"):
        Policy.model_validate({"glucose_low": "x"})


# --- weight over a week ---------------------------------------------------------------------


def weights(*entries: tuple[int, float]) -> list[DailyWeight]:
    """Daily weights on 2026-11-(day)."""
    return [DailyWeight(day=date(2026, 11, day), kg=kg) for day, kg in entries]


def weigh(kg: float, day: int, hour: int = 7) -> VitalReading:
    return reading("weight", kg, at=datetime(2026, 11, day, hour, tzinfo=SEOUL))


@pytest.mark.parametrize(
    ("kg", "level", "rule"),
    [
        (62.0, "normal", "weight"),
        (62.01, "out_of_range", "weight_gain"),
        (58.0, "normal", "weight"),
        (57.5, "out_of_range", "weight_loss"),
        (75.0, "out_of_range", "weight_gain"),  # never critical, however large
    ],
)
def test_weight_change_against_a_week_before(kg: float, level: str, rule: str) -> None:
    history = weights((1, 61.0), (3, 60.0), (9, 64.0))
    assert classify(weigh(kg, 10), DEFAULT_POLICY, history) == Finding(level, rule)


def test_weight_reference_is_the_closest_to_seven_days_within_two() -> None:
    history = weights((1, 50.0), (2, 51.0), (5, 52.0), (7, 53.0))
    # The 10th: exactly a week before is the 3rd; the 2nd is one day off, the 1st and 5th two.
    assert week_before(date(2026, 11, 10), history) == DailyWeight(day=date(2026, 11, 2), kg=51.0)
    assert week_before(date(2026, 11, 11), history) == DailyWeight(day=date(2026, 11, 5), kg=52.0)
    assert week_before(date(2026, 11, 9), history) == DailyWeight(day=date(2026, 11, 2), kg=51.0)
    # Two candidates equally far (5 and 9 days before): the older one.
    tie = weights((1, 50.0), (5, 52.0))
    assert week_before(date(2026, 11, 10), tie) == DailyWeight(day=date(2026, 11, 1), kg=50.0)
    # Three days off is not "about a week".
    assert week_before(date(2026, 11, 11), weights((1, 50.0))) is None
    # Only readings from the last few days: nothing to compare with.
    assert week_before(date(2026, 11, 10), weights((6, 1.0), (9, 1.0))) is None
    assert classify(weigh(70.0, 10), DEFAULT_POLICY, weights((8, 60.0))) == Finding(
        "normal", "weight"
    )


def test_weight_change_threshold_per_resident() -> None:
    strict = DEFAULT_POLICY.with_overrides({"weight_change_kg": 1.0})
    history = weights((3, 60.0))
    assert classify(weigh(61.5, 10), strict, history) == Finding("out_of_range", "weight_gain")
    assert classify(weigh(61.5, 10), DEFAULT_POLICY, history) == Finding("normal", "weight")


def test_daily_weights_keep_the_first_of_each_local_day_for_two_weeks() -> None:
    kept: list[DailyWeight] = []
    for day in range(1, 31):
        kept = record_weight(kept, datetime(2026, 11, day, 7, tzinfo=SEOUL), 60.0 + day)
        kept = record_weight(kept, datetime(2026, 11, day, 21, tzinfo=SEOUL), 99.0)
    assert len(kept) == WEIGHT_DAYS_KEPT + 1
    assert kept[0] == DailyWeight(day=date(2026, 11, 16), kg=76.0)
    assert kept[-1] == DailyWeight(day=date(2026, 11, 30), kg=90.0)
    # 23:30 and 00:30 Seoul time are two days, whatever the UTC date says.
    two = record_weight([], datetime(2026, 11, 1, 23, 30, tzinfo=SEOUL), 60.0)
    two = record_weight(two, datetime(2026, 11, 2, 0, 30, tzinfo=SEOUL), 61.0)
    assert [w.day.day for w in two] == [1, 2]
    # A late, buffered reading fills its own day; one older than two weeks is dropped.
    gap = record_weight(weights((20, 60.0)), datetime(2026, 11, 18, 7, tzinfo=SEOUL), 59.0)
    assert gap == weights((18, 59.0), (20, 60.0))
    late = record_weight(kept, datetime(2026, 11, 10, 7, tzinfo=SEOUL), 1.0)
    assert late == kept
    assert record_weight([], T0, 0.0) == []


# --- routing: who is told, and when ---------------------------------------------------------


def test_out_of_range_in_working_hours_tells_the_health_centre(
    home: Callable[[datetime], VirtualResident],
) -> None:
    vr = home(datetime(2026, 11, 23, 10, 0, tzinfo=SEOUL))  # Monday 10:00
    event, actions = measure(vr, "glucose", 250)
    alert_id = alert_id_of(event)
    assert actions == (
        OpenAlert(alert_id, "vital_out_of_range", "health_center", reason="glucose_high"),
        Notify(
            alert_id=alert_id,
            kind="vital_out_of_range",
            stage="health_center",
            role="health_center",
            message="vital_health_center",
            step="open",
            event_at=vr.clock.now(),
        ),
    )
    assert vr.state.alerts[alert_id].stage == "health_center"
    assert vr.next_due == vr.state.policy.checkin_after + vr.state.monitoring_since  # unchanged


@pytest.mark.parametrize(
    ("local", "deliver"),
    [
        # Monday night: Tuesday 09:00.
        (datetime(2026, 11, 23, 22, 0), datetime(2026, 11, 24, 9, 0)),
        # Tuesday 08:59, before opening: the same morning.
        (datetime(2026, 11, 24, 8, 59), datetime(2026, 11, 24, 9, 0)),
        # Saturday: Monday 09:00.
        (datetime(2026, 11, 28, 10, 0), datetime(2026, 11, 30, 9, 0)),
        # 기독탄신일 (Christmas), Friday 2026-12-25 at 11:00: Monday 12-28.
        (datetime(2026, 12, 25, 11, 0), datetime(2026, 12, 28, 9, 0)),
        # 추석 2026 (Sep 24-26, Thursday-Saturday): Monday 09-28.
        (datetime(2026, 9, 24, 14, 0), datetime(2026, 9, 28, 9, 0)),
    ],
)
def test_out_of_range_outside_working_hours_waits_for_the_digest(
    home: Callable[[datetime], VirtualResident], local: datetime, deliver: datetime
) -> None:
    vr = home(local.replace(tzinfo=SEOUL))
    event, actions = measure(vr, "spo2", 90)
    assert only(actions, Notify) == []
    assert only(actions, QueueDigest) == [
        QueueDigest(
            alert_id_of(event),
            "vital_out_of_range",
            "health_center",
            "health_center",
            "vital_health_center",
            "open",
            deliver.replace(tzinfo=SEOUL),
            vr.clock.now(),
        )
    ]
    assert vr.state.alerts[alert_id_of(event)].told == ["health_center"]


def test_critical_at_three_in_the_morning_pages_the_control_centre_at_once(
    home: Callable[[datetime], VirtualResident],
) -> None:
    vr = home(datetime(2026, 11, 24, 3, 0, tzinfo=SEOUL))  # Tuesday 03:00
    event, actions = measure(vr, "blood_pressure", 200, 125)
    alert_id = alert_id_of(event)
    now = vr.clock.now()
    assert actions == (
        OpenAlert(
            alert_id, "vital_out_of_range", "control_center", reason="systolic_critical_high"
        ),
        Notify(
            alert_id=alert_id,
            kind="vital_out_of_range",
            stage="control_center",
            role="control_center",
            message="vital_critical_control_center",
            step="open",
            event_at=now,
        ),
        QueueDigest(
            alert_id,
            "vital_out_of_range",
            "control_center",
            "health_center",
            "vital_critical_health_center",
            "open",
            datetime(2026, 11, 24, 9, 0, tzinfo=SEOUL),
            now,
        ),
    )


def test_critical_in_working_hours_pages_both_centres(
    home: Callable[[datetime], VirtualResident],
) -> None:
    vr = home(datetime(2026, 11, 24, 14, 0, tzinfo=SEOUL))
    _, actions = measure(vr, "glucose", 45)
    assert pages(actions) == [
        ("control_center", "vital_critical_control_center", "open"),
        ("health_center", "vital_critical_health_center", "open"),
    ]


@pytest.mark.parametrize(
    ("kind", "value", "diastolic"),
    [
        ("glucose", 30, None),
        ("spo2", 80, None),
        ("heart_rate", 35, None),
        ("heart_rate", 180, None),
    ],
)
def test_every_kind_of_critical_reading_pages_the_control_centre(
    home: Callable[[datetime], VirtualResident],
    kind: VitalKind,
    value: float,
    diastolic: float | None,
) -> None:
    vr = home(datetime(2026, 11, 29, 2, 0, tzinfo=SEOUL))  # Sunday 02:00
    _, actions = measure(vr, kind, value, diastolic)
    assert pages(actions) == [
        ("control_center", "vital_critical_control_center", "open"),
        ("health_center", "vital_critical_health_center", "open"),
    ]
    assert isinstance(actions[2], QueueDigest)


def test_nobody_else_is_told_about_vitals(home: Callable[[datetime], VirtualResident]) -> None:
    vr = home(datetime(2026, 11, 24, 11, 0, tzinfo=SEOUL))
    _, out = measure(vr, "glucose", 250)
    vr.advance(timedelta(hours=1))
    _, crit = measure(vr, "glucose", 30)
    roles = {role for role, _, _ in pages(out + crit)}
    assert roles == {"health_center", "control_center"}  # not guardians, not officials


# --- one alert per episode ------------------------------------------------------------------


def test_repeated_out_of_range_readings_do_not_page_again(
    home: Callable[[datetime], VirtualResident],
) -> None:
    vr = home(datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL))
    first, _ = measure(vr, "glucose", 250)
    alert_id = alert_id_of(first)
    repeats: list[tuple[VitalKind, float, float | None, str]] = [
        ("glucose", 260, None, "glucose_high"),
        ("blood_pressure", 170, 105, "systolic_high"),  # another measure: the same episode
    ]
    for kind, value, diastolic, rule in repeats:
        vr.advance(timedelta(hours=2))
        _, actions = measure(vr, kind, value, diastolic)
        assert actions == (RecordTimeline(alert_id, "vital_repeated", by="bp-1", note=rule),)
    assert list(vr.state.alerts) == [alert_id]


def test_a_critical_reading_escalates_the_open_alert_to_the_control_centre(
    home: Callable[[datetime], VirtualResident],
) -> None:
    vr = home(datetime(2026, 11, 24, 20, 0, tzinfo=SEOUL))  # Tuesday evening
    first, _ = measure(vr, "spo2", 90)
    alert_id = alert_id_of(first)
    vr.advance(timedelta(hours=6))  # Wednesday 02:00
    _, actions = measure(vr, "spo2", 85)
    now = vr.clock.now()
    assert only(actions, OpenAlert) == []
    assert only(actions, ChangeStage) == [
        ChangeStage(alert_id, "vital_out_of_range", "control_center", reason="spo2_critical_low")
    ]
    assert only(actions, Notify) == [
        Notify(
            alert_id=alert_id,
            kind="vital_out_of_range",
            stage="control_center",
            role="control_center",
            message="vital_critical_control_center",
            step="critical",
            event_at=now,
        )
    ]
    assert pages(actions)[1:] == [("health_center", "vital_critical_health_center", "critical")]
    assert list(vr.state.alerts) == [alert_id]
    assert vr.state.alerts[alert_id].stage == "control_center"

    # Once the centre has it, further critical readings only go on the timeline.
    vr.advance(timedelta(minutes=10))
    _, again = measure(vr, "spo2", 84)
    assert pages(again) == []
    assert only(again, ChangeStage) == []
    assert [a.what for a in only(again, RecordTimeline)] == ["vital_repeated"]


def test_a_reading_back_in_range_does_not_close_it_a_person_does(
    home: Callable[[datetime], VirtualResident],
) -> None:
    vr = home(datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL))
    first, _ = measure(vr, "blood_pressure", 170, 95)
    alert_id = alert_id_of(first)
    vr.advance(timedelta(hours=3))
    _, actions = measure(vr, "blood_pressure", 130, 80)
    assert actions == (
        RecordTimeline(alert_id, "vital_in_range", by="bp-1", note="blood_pressure"),
    )
    assert alert_id in vr.state.alerts
    vr.advance(timedelta(days=3))  # Friday 13:00
    assert alert_id in vr.state.alerts  # no timer closes it either

    closed = vr.send(Resolve(alert_id, "보건소 간호사", "resolved_by_phone"))
    assert closed == (
        ResolveAlert(
            alert_id,
            "vital_out_of_range",
            reason="resolved",
            by="보건소 간호사",
            outcome="resolved_by_phone",
        ),
    )
    assert alert_id not in vr.state.alerts

    # The next reading out of range is a new episode: a new alert, told again.
    vr.advance(timedelta(days=1))  # Saturday: Monday's digest
    event, actions = measure(vr, "blood_pressure", 165, 90)
    assert alert_id_of(event) != alert_id
    assert pages(actions) == [("health_center", "vital_health_center", "open")]


def test_a_reading_in_range_without_an_alert_does_nothing(
    home: Callable[[datetime], VirtualResident],
) -> None:
    vr = home(datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL))
    normal: list[tuple[VitalKind, float, float | None]] = [
        ("glucose", 110, None),
        ("blood_pressure", 125, 80),
        ("spo2", 98, None),
        ("heart_rate", 70, None),
        ("steps", 4000, None),
        ("weight", 61.0, None),
    ]
    for kind, value, diastolic in normal:
        _, actions = measure(vr, kind, value, diastolic)
        assert actions == ()
    assert vr.state.alerts == {}


def test_ranges_follow_the_current_policy(make_resident: MakeResident) -> None:
    policy = DEFAULT_POLICY.with_overrides({"glucose_high": 300})
    vr = make_resident(policy=policy, start=datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL))
    _, actions = measure(vr, "glucose", 250)
    assert actions == ()
    _, actions = measure(vr, "glucose", 310)
    assert [a.reason for a in only(actions, OpenAlert)] == ["glucose_high"]


def test_weight_change_over_a_week_opens_an_alert_never_critical(
    home: Callable[[datetime], VirtualResident],
) -> None:
    vr = home(datetime(2026, 11, 16, 7, 0, tzinfo=SEOUL))  # Monday 07:00
    _, actions = measure(vr, "weight", 58.0)
    assert actions == ()
    for _ in range(6):  # Tuesday to Sunday, steady
        vr.advance(timedelta(days=1))
        _, actions = measure(vr, "weight", 58.5)
        assert actions == ()
    vr.advance(timedelta(days=1, hours=3))  # next Monday 10:00
    event, actions = measure(vr, "weight", 70.0)
    assert only(actions, OpenAlert) == [
        OpenAlert(alert_id_of(event), "vital_out_of_range", "health_center", reason="weight_gain")
    ]
    assert pages(actions) == [("health_center", "vital_health_center", "open")]
    assert [w.kg for w in vr.state.weights] == [58.0, *[58.5] * 6, 70.0]


# --- what vitals are not ----------------------------------------------------------------------


def test_vitals_are_not_resident_activity_but_show_the_device_is_connected(
    home: Callable[[datetime], VirtualResident],
) -> None:
    vr = home(T0)
    vr.advance(timedelta(hours=5))
    measure(vr, "glucose", 110)
    measure(vr, "weight", 60.0)
    assert vr.state.last_activity_at is None
    assert vr.state.devices["bp-1"].last_seen_at == vr.clock.now()
    # Inactivity still counts from the start of monitoring: the guardian stage at T0 + 12 h.
    actions = vr.advance(timedelta(hours=7))
    assert [a.kind for a in only(actions, OpenAlert)] == ["inactivity"]


def test_vitals_do_not_touch_an_inactivity_alert(
    home: Callable[[datetime], VirtualResident],
) -> None:
    vr = home(T0)
    vr.advance(timedelta(hours=13))
    (inactivity,) = vr.state.alerts
    _, actions = measure(vr, "spo2", 97)
    assert actions == ()
    assert list(vr.state.alerts) == [inactivity]
    vr.send(Activity("spk-1", vr.clock.now(), "voice"))
    assert vr.state.alerts == {}


def test_a_reading_from_the_future_is_taken_as_now(
    home: Callable[[datetime], VirtualResident],
) -> None:
    vr = home(datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL))
    event = reading("glucose", 250, at=vr.clock.now() + timedelta(hours=2))
    (_, notify) = vr.send(event)
    assert isinstance(notify, Notify)
    assert notify.event_at == vr.clock.now()
