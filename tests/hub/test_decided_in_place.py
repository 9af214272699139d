"""A resident's later decisions in one transaction work on the state the first one made
(:meth:`alerts.engine.Escalation.hand_over`): the same decisions, and a transaction that
fails leaves nothing of them behind (the committed state is never decided on in place)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts.inputs import Activity
from hub.mqtt import Incoming
from tests.hub.test_core_virtual_time import START, Harness


def activity(n: int, minutes: int) -> Incoming:
    ts = (START + timedelta(minutes=minutes)).isoformat()
    body = {"v": 1, "id": f"a{n}", "ts": ts, "source": "voice", "count": 1}
    return Incoming("anbu/v1/r1/spk/activity", json.dumps(body).encode(), n, 1, False, 1)


def registered(tmp_path: Path, name: str) -> Harness:
    harness = Harness(f"sqlite:///{tmp_path / name}")
    harness.core.register_resident({"id": "r1", "name": "김영희", "district": "유성구"}, START)
    harness.core.register_device("r1", "spk", "speaker", START)
    return harness


def signals(harness: Harness) -> int:
    state = harness.core.state_of("r1")
    assert state is not None
    return sum(state.routine.signals)


def test_a_batch_decides_as_its_messages_one_by_one(tmp_path: Path) -> None:
    batched, single = registered(tmp_path, "a.db"), registered(tmp_path, "b.db")
    messages = [activity(n, 5 * n) for n in range(1, 6)]
    now = START + timedelta(minutes=30)
    batched.core.ingest(messages, now)
    for message in messages:
        single.core.ingest([message], now)
    one, other = batched.core.state_of("r1"), single.core.state_of("r1")
    assert one is not None and other is not None
    assert one.model_dump() == other.model_dump()
    assert signals(batched) == 5


def test_a_failed_batch_leaves_no_trace_of_its_decisions_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = registered(tmp_path, "hub.db")
    harness.core.ingest([activity(1, 1)], START + timedelta(minutes=1))
    assert signals(harness) == 1
    escalation = harness.core._escalation
    decide = escalation.decide

    def failing_on_the_third(state: Any, core_input: Any, now: Any) -> Any:
        if isinstance(core_input, Activity) and core_input.at == START + timedelta(minutes=4):
            raise RuntimeError("the third message's decision fails")
        return decide(state, core_input, now)

    monkeypatch.setattr(escalation, "decide", failing_on_the_third)
    batch = [activity(2, 2), activity(3, 3), activity(4, 4)]
    harness.core.ingest(batch, START + timedelta(minutes=5))
    # The batch failed after two decisions made in place; retried one by one, the two good
    # messages count once each (not again on top of the failed batch's), the third is
    # dead-lettered.
    assert signals(harness) == 3
    assert harness.core.rejected == {"internal_error": 1}


def test_a_failed_transaction_leaves_the_committed_state_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = registered(tmp_path, "hub.db")
    harness.core.ingest([activity(1, 1)], START + timedelta(minutes=1))
    carry = harness.core._carry

    def failing(*_args: Any) -> None:
        raise RuntimeError("carrying out fails")

    with monkeypatch.context() as patched:
        patched.setattr(carry, "all", failing)
        with pytest.raises(RuntimeError):
            harness.core.register_device("r1", "pir", "sensors", START + timedelta(minutes=2))
    # The next decision starts from what committed: no sensor that was never registered.
    harness.core.ingest([activity(2, 3)], START + timedelta(minutes=3))
    state = harness.core.state_of("r1")
    assert state is not None
    assert sorted(state.devices) == ["spk"]
    assert signals(harness) == 2
