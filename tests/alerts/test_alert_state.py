"""Resident state: construction, JSON round trip, purity and determinism of decide()."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel

from alerts.calendar import WorkingCalendar
from alerts.engine import Decision, Escalation
from alerts.inputs import Emergency, Heartbeat, Tick, VitalReading
from alerts.policy import DEFAULT_POLICY
from alerts.state import ResidentState
from alerts.testing import VirtualResident

T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
H = timedelta(hours=1)


def test_new_resident() -> None:
    state = ResidentState.new(
        "r-1", DEFAULT_POLICY, datetime.fromisoformat("2026-11-23T09:00+09:00")
    )
    assert state.monitoring_since == T0
    assert state.monitoring_since.tzinfo is UTC
    assert (state.devices, state.alerts, state.last_activity_at) == ({}, {}, None)
    with pytest.raises(ValueError, match="aware"):
        ResidentState.new("r-1", DEFAULT_POLICY, datetime(2026, 11, 23, 9))


def busy_state(vr: VirtualResident) -> ResidentState:
    vr.send(Heartbeat("spk-1", T0, interval_s=60))
    vr.send(VitalReading("pir-1", T0, "w-1", "weight", 61.5))
    vr.advance(13 * H)
    vr.send(Emergency("pir-1", vr.clock.now(), "e-1", "button"))
    return vr.state


def test_state_round_trips_through_json(resident: VirtualResident) -> None:
    state = busy_state(resident)
    assert {a.kind for a in state.alerts.values()} == {"inactivity", "emergency"}
    assert [w.kg for w in state.weights] == [61.5]
    text = state.model_dump_json()
    again = ResidentState.model_validate_json(text)
    assert again == state
    assert again.model_dump_json() == text
    assert '"guardian_after":"PT12H"' in text  # the policy snapshot is stored as ISO 8601


def test_decide_on_a_reloaded_state_decides_the_same(
    resident: VirtualResident, engine: Escalation
) -> None:
    state = busy_state(resident)
    reloaded = ResidentState.model_validate_json(state.model_dump_json())
    later = resident.clock.now() + 25 * H
    assert engine.decide(reloaded, Tick(), later) == engine.decide(state, Tick(), later)


def test_decide_does_not_touch_its_input(resident: VirtualResident, engine: Escalation) -> None:
    state = busy_state(resident)
    before = state.model_dump_json()
    decision = engine.decide(state, Tick(), resident.clock.now() + 30 * H)
    assert decision.actions
    assert state.model_dump_json() == before
    assert decision.state is not state


def test_decisions_are_deterministic(resident: VirtualResident) -> None:
    state = busy_state(resident)
    later = resident.clock.now() + 30 * H
    first = Escalation(WorkingCalendar()).decide(state, Tick(), later)
    second = Escalation(WorkingCalendar()).decide(state, Tick(), later)
    assert first == second


def test_naive_now_is_refused(resident: VirtualResident, engine: Escalation) -> None:
    with pytest.raises(ValueError, match="aware"):
        engine.decide(resident.state, Tick(), datetime(2026, 11, 23, 9))


def test_decision_is_frozen(resident: VirtualResident, engine: Escalation) -> None:
    decision = engine.decide(resident.state, Tick(), T0)
    assert isinstance(decision, Decision)
    with pytest.raises(AttributeError):
        decision.next_due = None  # type: ignore[misc]


def _mutable_parts(value: object, path: str) -> Iterator[tuple[str, object]]:
    """Every list, dict and non-frozen model reachable from ``value``."""
    if isinstance(value, BaseModel):
        if not value.model_config.get("frozen"):
            yield path, value
        for name in type(value).model_fields:
            yield from _mutable_parts(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, dict):
        yield path, value
        for key, item in value.items():
            yield from _mutable_parts(item, f"{path}[{key}]")
    elif isinstance(value, list | set):
        yield path, value
        for n, item in enumerate(value):
            yield from _mutable_parts(item, f"{path}[{n}]")


def test_clone_shares_nothing_mutable(resident: VirtualResident) -> None:
    state = busy_state(resident)
    original = dict(_mutable_parts(state, "state"))
    copied = dict(_mutable_parts(state.clone(), "state"))
    assert original.keys() == copied.keys()
    assert len(original) > 5
    shared = [path for path in original if original[path] is copied[path]]
    assert shared == []
    assert state.clone() == state
