"""Residents' states as the API reads them (hub/store/states.py), and steps fired inside a
replayed batch (``HubCore.ingest(due_first=True)``)."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from alerts.actions import OpenAlert
from alerts.inputs import Tick
from hub.mqtt import Incoming
from hub.store.tables import alerts, dead_letters, events
from tests.hub.test_core_virtual_time import START, Harness


def test_the_resident_list_reads_every_state_in_one_query(tmp_path: Path) -> None:
    harness = Harness(f"sqlite:///{tmp_path / 'hub.db'}")
    core = harness.core
    ids = [f"r{n:03d}" for n in range(40)]
    for resident in ids:
        core.register_resident({"id": resident, "name": "김영희", "district": "유성구"}, START)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        statements.append(sql)

    event.listen(harness.engine, "before_cursor_execute", count)
    states = core.states_of(ids)
    event.remove(harness.engine, "before_cursor_execute", count)
    assert sorted(states) == ids
    # One query for forty residents (it was one per resident, and read the worker's cache).
    assert len([s for s in statements if "resident_state" in s]) == 1, statements
    assert core.state_of("nobody") is None
    one = core.state_of("r007")
    assert one is not None and one.resident == "r007"


def test_a_due_step_that_fails_in_a_replayed_batch_does_not_dead_letter_the_message(
    tmp_path: Path,
) -> None:
    harness = Harness(f"sqlite:///{tmp_path / 'hub.db'}")
    core = harness.core
    core.register_resident({"id": "r1", "name": "김영희", "district": "유성구"}, START)
    core.register_device("r1", "spk", "speaker", START)
    harness.publish("r1", "spk", "activity", source="voice")
    due = core.next_due("r1")
    assert due is not None
    decide = core._escalation.decide

    def failing(state: Any, core_input: Any, now: Any) -> Any:
        if isinstance(core_input, Tick):
            raise RuntimeError("a step that fails")
        return decide(state, core_input, now)

    core._escalation.decide = failing  # type: ignore[method-assign]
    late = due + timedelta(minutes=5)
    body = {"v": 1, "id": "late-1", "ts": late.isoformat(), "source": "voice"}
    message = Incoming("anbu/v1/r1/spk/activity", json.dumps(body).encode(), 99, 1, False, 1, late)
    core.ingest([message], late, due_first=True)
    with harness.engine.connect() as conn:
        stored = conn.execute(select(events.c.event_id)).scalars().all()
        rejected = conn.execute(select(dead_letters.c.reason)).scalars().all()
    assert "late-1" in stored and rejected == [], (stored, rejected)


def test_registering_a_resident_carries_out_what_the_core_decides(tmp_path: Path) -> None:
    """Registration goes through the unit of work like any input: the decision's actions are
    carried out (they were dropped: registration saved the state and nothing else)."""
    harness = Harness(f"sqlite:///{tmp_path / 'hub.db'}")
    core = harness.core
    decide = core._escalation.decide
    opened = OpenAlert("a-on-registration", "monitoring_lost", "control_center", "test")

    def with_an_action(state: Any, core_input: Any, now: Any) -> Any:
        decision = decide(state, core_input, now)
        return dataclasses.replace(decision, actions=(*decision.actions, opened))

    core._escalation.decide = with_an_action  # type: ignore[method-assign]
    core.register_resident({"id": "r1", "name": "김영희", "district": "유성구"}, START)
    with harness.engine.connect() as conn:
        rows = conn.execute(select(alerts.c.id, alerts.c.resident_id)).all()
    assert [tuple(r) for r in rows] == [("a-on-registration", "r1")]


def test_a_registration_that_fails_leaves_no_trace_in_the_registry(tmp_path: Path) -> None:
    harness = Harness(f"sqlite:///{tmp_path / 'hub.db'}")
    core = harness.core
    decide = core._escalation.decide

    def failing(state: Any, core_input: Any, now: Any) -> Any:
        raise RuntimeError("the first decision fails")

    core._escalation.decide = failing  # type: ignore[method-assign]
    data = {"id": "r1", "name": "김영희", "district": "유성구"}
    with pytest.raises(RuntimeError):
        core.register_resident(data, START)
    assert core.resident_ids() == []
    assert not core.resident_exists("r1")
    core._escalation.decide = decide  # type: ignore[method-assign]
    core.register_resident(data, START)  # not refused as a resident that exists
    assert core.resident_ids() == ["r1"]
