"""Every example in PROTOCOL.md, verbatim, is accepted; where the spec writes "…" a real value
stands in (timestamps, command ids, alert ids and reasons)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from protocol import (
    Activity,
    AlertChange,
    BloodPressure,
    CheckinAnswer,
    CheckinCommand,
    Command,
    ConfigCommand,
    Emergency,
    Event,
    Heartbeat,
    Status,
    Vitals,
    parse,
    to_json,
)

KST = timezone(timedelta(hours=9))
NOW = datetime(2026, 11, 22, 9, 20, tzinfo=KST)

DEVICE_EXAMPLES = [
    (
        "activity",
        '{"v":1,"id":"a-1","ts":"2026-11-22T09:15:00+09:00","source":"voice","count":3}',
    ),
    (
        "heartbeat",
        '{"v":1,"id":"h-77","ts":"2026-11-22T09:15:00+09:00","interval_s":300,"battery_pct":81,'
        '"fw":"speaker-agent 0.3.1"}',
    ),
    (
        "emergency",
        '{"v":1,"id":"e-3","ts":"2026-11-22T09:15:00+09:00","trigger":"voice",'
        '"text":"아리아 살려줘"}',
    ),
    (
        "emergency",
        '{"v":1,"id":"e-4","ts":"2026-11-22T09:16:00+09:00","trigger":"voice","cancel_of":"e-3"}',
    ),
    (
        "checkin",
        '{"v":1,"id":"c-9","ts":"2026-11-22T09:15:00+09:00","request_id":"cmd-42",'
        '"answered":true,"text":"괜찮아"}',
    ),
    (
        "vitals",
        '{"v":1,"id":"m-5","ts":"2026-11-22T09:15:00+09:00","kind":"glucose","value":182,'
        '"unit":"mg/dL"}',
    ),
    ("status", '{"state":"online","ts":"2026-11-22T09:15:00+09:00"}'),
    ("status", '{"state":"offline","ts":"2026-11-22T00:15:00Z"}'),
]


@pytest.mark.parametrize(("kind", "payload"), DEVICE_EXAMPLES)
def test_spec_example_is_accepted_and_round_trips(kind: str, payload: str) -> None:
    event = parse(f"anbu/v1/r1/spk-1/{kind}", payload.encode(), now=NOW)

    assert isinstance(event, Event), event
    assert (event.resident, event.device, event.kind) == ("r1", "spk-1", kind)
    again = parse(f"anbu/v1/r1/spk-1/{kind}", to_json(event.message), now=NOW)
    assert again == event


def test_spec_examples_have_the_documented_values() -> None:
    def message(kind: str, index: int = 0) -> object:
        payload = [p for k, p in DEVICE_EXAMPLES if k == kind][index]
        event = parse(f"anbu/v1/r1/spk-1/{kind}", payload.encode())
        assert isinstance(event, Event), event
        return event.message

    ts = datetime(2026, 11, 22, 9, 15, tzinfo=KST)
    assert message("activity") == Activity(v=1, id="a-1", ts=ts, source="voice", count=3)
    assert message("heartbeat") == Heartbeat(
        v=1, id="h-77", ts=ts, interval_s=300, battery_pct=81, fw="speaker-agent 0.3.1"
    )
    assert message("emergency") == Emergency(
        v=1, id="e-3", ts=ts, trigger="voice", text="아리아 살려줘"
    )
    cancel = message("emergency", 1)
    assert isinstance(cancel, Emergency)
    assert cancel.cancel_of == "e-3"
    assert message("checkin") == CheckinAnswer(
        v=1, id="c-9", ts=ts, request_id="cmd-42", answered=True, text="괜찮아"
    )
    assert message("vitals") == Vitals(
        v=1, id="m-5", ts=ts, kind="glucose", value=182, unit="mg/dL"
    )
    offline = message("status", 1)
    assert offline == Status(state="offline", ts=datetime(2026, 11, 22, 0, 15, tzinfo=UTC))


@pytest.mark.parametrize(
    ("kind", "value", "unit"),
    [
        ("blood_pressure", {"systolic": 128, "diastolic": 84}, "mmHg"),
        ("glucose", 182, "mg/dL"),
        ("weight", 61.4, "kg"),
        ("heart_rate", 72, "bpm"),
        ("spo2", 97, "%"),
        ("steps", 4210, "steps"),
    ],
)
def test_every_vital_kind_with_its_unit_is_accepted(kind: str, value: object, unit: str) -> None:
    reading = {"v": 1, "id": "m-6", "ts": "2026-11-22T09:15:00+09:00"}
    reading |= {"kind": kind, "value": value, "unit": unit}
    event = parse("anbu/v1/r1/bp-1/vitals", json.dumps(reading).encode())

    assert isinstance(event, Event), event
    assert isinstance(event.message, Vitals)
    if kind == "blood_pressure":
        assert event.message.value == BloodPressure(systolic=128, diastolic=84)


COMMAND = TypeAdapter[CheckinCommand | ConfigCommand](Command)


def test_spec_checkin_command_example() -> None:
    raw = (
        '{"v":1,"id":"cmd-42","ts":"2026-11-22T09:15:00+09:00","type":"checkin",'
        '"prompt":"어르신, 괜찮으세요? 괜찮으시면 \'괜찮아\'라고 말씀해 주세요.",'
        '"expires_ts":"2026-11-22T09:25:00+09:00"}'
    )
    command = COMMAND.validate_json(raw)

    assert isinstance(command, CheckinCommand)
    assert command.prompt.startswith("어르신")
    assert COMMAND.validate_json(to_json(command)) == command


def test_spec_config_command_example() -> None:
    raw = '{"v":1,"id":"cmd-43","ts":"2026-11-22T09:15:00+09:00","type":"config","heartbeat_s":300}'
    command = COMMAND.validate_json(raw)

    assert command == ConfigCommand(
        v=1,
        id="cmd-43",
        ts=datetime(2026, 11, 22, 9, 15, tzinfo=KST),
        type="config",
        heartbeat_s=300,
    )


@pytest.mark.parametrize(
    ("kind", "state", "stage"),
    [
        ("inactivity", "open", "guardian"),
        ("emergency", "acknowledged", "control_center"),
        ("monitoring_lost", "resolved", "checkin"),
        ("device_offline", "open", "guardian"),
        ("vital_out_of_range", "open", "guardian"),
    ],
)
def test_spec_alert_change_example(kind: str, state: str, stage: str) -> None:
    raw = (
        f'{{"v":1,"alert_id":"al-7","resident":"r1","kind":"{kind}","state":"{state}",'
        f'"stage":"{stage}","ts":"2026-11-22T21:15:00+09:00","reason":"12시간 동안 활동 없음"}}'
    )
    change = AlertChange.model_validate_json(raw)

    assert (change.kind, change.state, change.stage) == (kind, state, stage)
    assert AlertChange.model_validate_json(to_json(change)) == change


# --------------------------------------------------------------- from the spec file itself

SPEC = Path(__file__).resolve().parents[2] / "protocol" / "PROTOCOL.md"
_KIND_HEADER = re.compile(r"^\*\*(activity|heartbeat|emergency|checkin|vitals)\*\*")
_EXAMPLE = re.compile(r"^`(\{\"v\":1,.*?\})`")


def _device_examples() -> list[tuple[str, str]]:
    """Each device→hub example of protocol/PROTOCOL.md with the kind whose paragraph holds it."""
    found, kind = [], None
    for line in SPEC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## ") and kind is not None and not line.startswith("## Payloads"):
            kind = None
        header = _KIND_HEADER.match(line)
        if header:
            kind = header.group(1)
        example = _EXAMPLE.match(line)
        if example and kind is not None:
            found.append((kind, example.group(1)))
    return found


def test_the_spec_is_in_the_repository_and_every_device_example_in_it_is_accepted() -> None:
    examples = _device_examples()
    assert {kind for kind, _ in examples} == {
        "activity",
        "heartbeat",
        "emergency",
        "checkin",
        "vitals",
    }
    for kind, text in examples:
        # Where the spec writes "…" or "<cmd id>", a real value stands in.
        concrete = text.replace('"ts":"…"', f'"ts":"{NOW.isoformat()}"').replace(
            "<cmd id>", "cmd-1"
        )
        event = parse(f"anbu/v1/r1/spk-1/{kind}", concrete.encode(), now=NOW)
        assert isinstance(event, Event), (text, event)
