"""The JSON Schema files handed to device vendors."""

from __future__ import annotations

import json
from pathlib import Path

from protocol import write_schemas

EXPECTED_TITLES = {
    "activity": "Anbu v1 activity · 활동",
    "heartbeat": "Anbu v1 heartbeat · 기기 생존 신호",
    "emergency": "Anbu v1 emergency · 긴급 호출",
    "checkin": "Anbu v1 check-in answer · 안부 확인 응답",
    "vitals": "Anbu v1 vital sign reading · 건강 측정값",
    "status": "Anbu v1 device status · 기기 연결 상태",
    "command": "Anbu v1 command · 허브 명령",
    "alert_change": "Anbu v1 alert change · 경보 변경",
}


def test_one_file_per_payload_and_command(tmp_path: Path) -> None:
    target = tmp_path / "not" / "yet" / "there"

    written = write_schemas(target)

    assert [path.name for path in written] == [f"{name}.schema.json" for name in EXPECTED_TITLES]
    assert sorted(target.iterdir()) == sorted(written)


def test_files_are_json_schema_documents_with_titles(tmp_path: Path) -> None:
    for path in write_schemas(tmp_path):
        text = path.read_text(encoding="utf-8")
        document = json.loads(text)
        name = path.name.removesuffix(".schema.json")

        assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert document["title"] == EXPECTED_TITLES[name]
        assert "MQTT topic: anbu/v1/" in document["description"]
        assert EXPECTED_TITLES[name] in text, "Korean is written as text, not \\u escapes"
        assert text.endswith("}\n")


def test_schemas_carry_the_contract(tmp_path: Path) -> None:
    written = write_schemas(tmp_path)
    docs = {p.name.removesuffix(".schema.json"): json.loads(p.read_text("utf-8")) for p in written}

    activity = docs["activity"]
    assert activity["required"] == ["v", "id", "ts", "source"]
    assert activity["properties"]["ts"]["format"] == "date-time"
    assert activity["properties"]["v"]["const"] == 1
    assert "speaker_use" in activity["properties"]["source"]["enum"]
    assert docs["status"]["required"] == ["state", "ts"]
    assert docs["heartbeat"]["properties"]["interval_s"]["maximum"] == 86_400
    assert docs["alert_change"]["properties"]["resident"]["pattern"] == "^[A-Za-z0-9_-]{1,64}$"
    assert docs["command"]["discriminator"]["propertyName"] == "type"
    assert set(docs["command"]["discriminator"]["mapping"]) == {"checkin", "config"}
    # The unit follows from the kind; the schema says so, as the hub's validator does.
    rules = {
        rule["if"]["properties"]["kind"]["const"]: rule["then"]["properties"]
        for rule in docs["vitals"]["allOf"]
    }
    assert rules["glucose"]["unit"] == {"const": "mg/dL"}
    assert rules["blood_pressure"] == {"unit": {"const": "mmHg"}, "value": {"type": "object"}}


def test_writing_twice_overwrites(tmp_path: Path) -> None:
    first = [path.read_bytes() for path in write_schemas(tmp_path)]

    assert [path.read_bytes() for path in write_schemas(tmp_path)] == first
