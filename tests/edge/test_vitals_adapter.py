"""The vitals adapter with a real agent and outbox: a fake radio (the hardware boundary) hands
it the bytes a device indicates; what lands in the outbox is what the hub will get."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts.clock import FakeClock
from edge.agent import Agent
from edge.ble_health import (
    BLOOD_PRESSURE_MEASUREMENT,
    GLUCOSE_MEASUREMENT,
    PLX_CONTINUOUS,
    WEIGHT_MEASUREMENT,
)
from edge.cli import make_adapter
from edge.config import ConfigError, load_config
from edge.phone import PhoneAdapter
from edge.vitals import HealthDevice, RadioSink, VitalsAdapter, VitalsConfig
from tests.edge.support import edge_config
from tests.hub.support import KST

SAMPLE = Path(__file__).parents[2] / "deploy" / "edge" / "vitals.toml"
TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=KST)


class FakeRadio:
    """A :class:`edge.vitals.HealthRadio` that indicates what the test tells it to."""

    def __init__(self) -> None:
        self.sink: RadioSink | None = None
        self.devices: Sequence[HealthDevice] = ()
        self.stopped = False

    def start(self, devices: Sequence[HealthDevice], sink: RadioSink) -> None:
        self.devices, self.sink = devices, sink

    def stop(self) -> None:
        self.stopped = True

    def indicate(self, device: str, characteristic: str, data: bytes) -> None:
        assert self.sink is not None, "radio not started"
        self.sink.measurement(device, characteristic, data)


def sf(mantissa: int, exponent: int = 0) -> bytes:
    return struct.pack("<H", (exponent & 0xF) << 12 | (mantissa & 0xFFF))


def stamp(at: datetime) -> bytes:
    return struct.pack("<HBBBBB", at.year, at.month, at.day, at.hour, at.minute, at.second)


def blood_pressure(systolic: int, diastolic: int, pulse: int, at: datetime) -> bytes:
    """mmHg, with a time stamp and a pulse rate (flags 0x06)."""
    return bytes([0x06]) + sf(systolic) + sf(diastolic) + sf(108) + stamp(at) + sf(pulse)


def glucose(sequence: int, mg_dl: int, at: datetime) -> bytes:
    """kg/L (mg/dL x 10^-5), capillary whole blood from a finger (flags 0x02)."""
    return bytes([0x02]) + struct.pack("<H", sequence) + stamp(at) + sf(mg_dl, -5) + b"\x11"


DEVICES = [
    {"name": "bp", "address": "AA:BB:CC:DD:EE:01", "profile": "blood_pressure", "user_id": 1},
    {"name": "meter", "address": "AA:BB:CC:DD:EE:02", "profile": "glucose"},
    {"name": "scale", "address": "AA:BB:CC:DD:EE:03", "profile": "weight"},
    {"name": "ox", "address": "AA:BB:CC:DD:EE:04", "profile": "pulse_oximeter"},
]


@pytest.fixture
def box(tmp_path: Path) -> Iterator[tuple[Agent, FakeRadio, FakeClock]]:
    clock = FakeClock(TUESDAY_10)
    config = edge_config(tmp_path, "mqtt://127.0.0.1:1", kind="sensors")
    radio = FakeRadio()
    adapter = VitalsAdapter(
        VitalsConfig.model_validate({"devices": DEVICES, "alone": True}), radio=radio
    )
    agent = Agent(config, adapter, clock=clock)
    adapter.start(agent)  # the radio only: the link is not needed to fill the outbox
    yield agent, radio, clock
    adapter.stop()
    agent.outbox.close()


def _queued(agent: Agent) -> list[dict[str, Any]]:
    pending = agent.outbox.take(100)
    agent.outbox.release()
    assert {p.channel for p in pending} <= {"vitals"}
    return [json.loads(p.payload) for p in pending]


def test_a_blood_pressure_with_pulse_is_two_readings_taken_once(
    box: tuple[Agent, FakeRadio, FakeClock],
) -> None:
    agent, radio, _clock = box
    measured = TUESDAY_10 - timedelta(minutes=3)
    data = blood_pressure(191, 96, 74, measured.replace(tzinfo=None))
    radio.indicate("bp", BLOOD_PRESSURE_MEASUREMENT, data)
    queued = _queued(agent)
    assert [(m["kind"], m["value"], m["unit"]) for m in queued] == [
        ("blood_pressure", {"systolic": 191.0, "diastolic": 96.0}, "mmHg"),
        ("heart_rate", 74.0, "bpm"),
    ]
    assert {datetime.fromisoformat(m["ts"]) for m in queued} == {measured}
    # The monitor sends its stored record again on the next connection: taken once.
    radio.indicate("bp", BLOOD_PRESSURE_MEASUREMENT, data)
    assert len(_queued(agent)) == 2


def test_lb_and_mol_per_litre_arrive_in_the_protocols_units(
    box: tuple[Agent, FakeRadio, FakeClock],
) -> None:
    agent, radio, _clock = box
    radio.indicate("scale", WEIGHT_MEASUREMENT, bytes([0x01]) + struct.pack("<H", 13_228))
    mol = bytes([0x06]) + struct.pack("<H", 5) + stamp(datetime(2026, 11, 24, 9, 0))
    radio.indicate("meter", GLUCOSE_MEASUREMENT, mol + sf(65, -4) + b"\x11")  # 6.5 mmol/L
    queued = _queued(agent)
    assert [(m["kind"], m["unit"]) for m in queued] == [("weight", "kg"), ("glucose", "mg/dL")]
    assert queued[0]["value"] == pytest.approx(60.001, abs=0.0005)  # 132.28 lb
    assert queued[1]["value"] == pytest.approx(117.1, abs=0.05)  # 6.5 x 18.016 = 117.104
    assert datetime.fromisoformat(queued[0]["ts"]) == TUESDAY_10  # no time stamp: arrival


def test_a_continuous_oximeter_is_sampled(box: tuple[Agent, FakeRadio, FakeClock]) -> None:
    agent, radio, clock = box
    for n in range(3):
        radio.indicate("ox", PLX_CONTINUOUS, bytes([0]) + sf(95 - n) + sf(70))
        clock.advance(timedelta(seconds=60))
    assert [(m["kind"], m["value"]) for m in _queued(agent)] == [
        ("spo2", 95.0),
        ("heart_rate", 70.0),
    ]
    clock.advance(timedelta(seconds=120))  # 300 s after the first
    radio.indicate("ox", PLX_CONTINUOUS, bytes([0]) + sf(90) + sf(72))
    assert [m["value"] for m in _queued(agent)][2:] == [90.0, 72.0]


def test_the_glucose_meter_is_asked_from_the_record_after_the_last(
    box: tuple[Agent, FakeRadio, FakeClock], tmp_path: Path
) -> None:
    agent, radio, _clock = box
    assert radio.sink is not None
    assert radio.sink.glucose_from("meter") is None  # the first time: all records
    at = datetime(2026, 11, 24, 9, 0)
    for sequence in (40, 41, 39):
        radio.indicate("meter", GLUCOSE_MEASUREMENT, glucose(sequence, 110, at))
    assert radio.sink.glucose_from("meter") == 42
    assert agent.get_state("vitals.glucose_seq.meter") == "41"  # on disk, for the next start


def test_what_is_not_a_reading_queues_nothing(box: tuple[Agent, FakeRadio, FakeClock]) -> None:
    agent, radio, _clock = box
    radio.indicate("bp", BLOOD_PRESSURE_MEASUREMENT, b"\x00\x01")  # too short
    radio.indicate(
        "nobody", BLOOD_PRESSURE_MEASUREMENT, blood_pressure(120, 80, 60, datetime(2026, 1, 1))
    )
    radio.indicate("scale", WEIGHT_MEASUREMENT, bytes([0]) + b"\xff\xff")  # unsuccessful
    other_user = bytes([0x08]) + sf(150) + sf(90) + sf(108) + bytes([2])
    radio.indicate("bp", BLOOD_PRESSURE_MEASUREMENT, other_user)
    assert _queued(agent) == []


def test_the_sample_config_and_the_agents_adapter(tmp_path: Path) -> None:
    config = load_config(SAMPLE, "sensors")
    assert config.vitals is not None and config.vitals.alone
    assert [d.profile for d in config.vitals.devices] == [
        "blood_pressure",
        "glucose",
        "weight",
        "pulse_oximeter",
    ]
    adapter = make_adapter(config)
    assert isinstance(adapter, VitalsAdapter) and adapter.inner is None
    # Beside a phone: the phone's feed still works through the vitals adapter.
    beside = tmp_path / "phone.toml"
    beside.write_text(
        'resident = "r1"\ndevice = "p1"\nmqtt_url = "mqtt://127.0.0.1:1"\n'
        '[[vitals.devices]]\nname = "bp"\naddress = "AA:BB:CC:DD:EE:01"\n'
        'profile = "blood_pressure"\n',
        encoding="utf-8",
    )
    phone = make_adapter(load_config(beside, "phone"))
    assert isinstance(phone, VitalsAdapter) and isinstance(phone.inner, PhoneAdapter)
    assert phone.kind == "phone"
    beside.write_text(
        beside.read_text(encoding="utf-8").replace("blood_pressure", "thermometer"),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"vitals\.devices\.0\.profile"):
        load_config(beside, "phone")


def test_bleak_is_imported_only_when_the_radio_starts() -> None:
    # A speaker installed with the `edge` extra alone must still load a config with [vitals].
    script = (
        "import sys; from pathlib import Path; from edge.cli import make_adapter; "
        "from edge.config import load_config; "
        f"make_adapter(load_config(Path({str(SAMPLE)!r}), 'sensors')); "
        "assert 'bleak' not in sys.modules, 'bleak imported'"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
