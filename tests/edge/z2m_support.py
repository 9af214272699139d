"""The Zigbee2MQTT fixtures (``tests/edge/fixtures/z2m/*.json``): payloads built from the
converters' exposes, each file naming the converter version it was read from.

A device fixture: ``name`` (its friendly name), ``exposes`` (the definition's property
names), ``emergency_button``, optional ``power_threshold_w``, and ``steps``, each one message:
``payload`` (a JSON object) or ``raw`` (text), ``topic`` (``""`` = the state topic,
``availability``), ``retained``, ``after_s`` (seconds since the previous step, default 120)
and ``expect``: ``["activity", source, signal]`` / ``["emergency", "button"]`` entries; an
optional ``health`` checks the sensor's health after the step (``active``: wet or not).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "z2m"
BASE = "zigbee2mqtt"
DEFAULT_GAP_S = 120


@dataclass(frozen=True)
class Step:
    topic: str
    payload: bytes
    retained: bool
    after_s: float
    expect: list[tuple[str, ...]]
    health: dict[str, Any]
    note: str


@dataclass(frozen=True)
class DeviceFixture:
    file: str
    source: str
    device: str
    name: str
    exposes: list[str]
    emergency_button: bool
    power_threshold_w: float | None
    steps: list[Step]


def _step(name: str, raw: dict[str, Any]) -> Step:
    suffix = raw.get("topic", "")
    payload = raw["raw"] if "raw" in raw else json.dumps(raw["payload"], ensure_ascii=False)
    return Step(
        topic=f"{BASE}/{name}/{suffix}" if suffix else f"{BASE}/{name}",
        payload=payload.encode(),
        retained=bool(raw.get("retained", False)),
        after_s=float(raw.get("after_s", DEFAULT_GAP_S)),
        expect=[tuple(e) for e in raw["expect"]],
        health=dict(raw.get("health", {})),
        note=str(raw.get("note", "")),
    )


def device_fixtures() -> list[DeviceFixture]:
    """Every device fixture, by file name."""
    found = []
    for path in sorted(FIXTURES.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if "name" not in doc:
            continue  # the bridge's own fixture
        found.append(
            DeviceFixture(
                file=path.name,
                source=doc["source"],
                device=doc["device"],
                name=doc["name"],
                exposes=list(doc["exposes"]),
                emergency_button=bool(doc["emergency_button"]),
                power_threshold_w=doc.get("power_threshold_w"),
                steps=[_step(doc["name"], s) for s in doc["steps"]],
            )
        )
    return found


def bridge_steps() -> list[tuple[str, bytes, bool, str | None]]:
    """(topic, payload, retained, expected sensing_problem) of the bridge fixture."""
    doc = json.loads((FIXTURES / "zigbee2mqtt_bridge.json").read_text(encoding="utf-8"))
    return [
        (f"{BASE}/{s['topic']}", s["raw"].encode(), bool(s.get("retained")), s["sensing"])
        for s in doc["steps"]
    ]


def bridge_devices_payload(fixtures: list[DeviceFixture]) -> bytes:
    """A ``bridge/devices`` message listing the fixtures' devices (exposes flattened)."""
    devices: list[dict[str, Any]] = [
        {
            "ieee_address": "0x00124b0000000000",
            "type": "Coordinator",
            "friendly_name": "Coordinator",
        }
    ]
    for n, fx in enumerate(fixtures):
        devices.append(
            {
                "ieee_address": f"0x00158d00{n:08x}",
                "type": "EndDevice",
                "friendly_name": fx.name,
                "definition": {
                    "model": fx.device.split(":")[0],
                    "exposes": [{"type": "generic", "property": p, "name": p} for p in fx.exposes],
                },
            }
        )
    return json.dumps(devices, ensure_ascii=False).encode()
