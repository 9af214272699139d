"""JSON Schema documents for device vendors, generated from the payload models.

Generated rather than hand-written so the files vendors test against cannot drift from what
the hub accepts. ``anbu protocol schema DIR`` (the CLI) is a thin wrapper over write_schemas.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pydantic import TypeAdapter

from protocol.models import (
    Activity,
    AlertChange,
    CheckinAnswer,
    Command,
    Emergency,
    Heartbeat,
    Status,
    Vitals,
)
from protocol.topics import ALERTS_TOPIC

JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
_DEVICE: Final = "anbu/v1/{resident}/{device}"


@dataclass(frozen=True, slots=True)
class _Document:
    name: str
    shape: Any  # a model class or an annotated union; TypeAdapter takes either
    title: str  # bilingual: read by foreign vendors and by Korean operators alike
    topic: str
    description: str = ""  # for unions, which have no docstring of their own


_DOCUMENTS: Final = (
    _Document("activity", Activity, "Anbu v1 activity · 활동", f"{_DEVICE}/activity"),
    _Document("heartbeat", Heartbeat, "Anbu v1 heartbeat · 기기 생존 신호", f"{_DEVICE}/heartbeat"),
    _Document("emergency", Emergency, "Anbu v1 emergency · 긴급 호출", f"{_DEVICE}/emergency"),
    _Document(
        "checkin", CheckinAnswer, "Anbu v1 check-in answer · 안부 확인 응답", f"{_DEVICE}/checkin"
    ),
    _Document("vitals", Vitals, "Anbu v1 vital sign reading · 건강 측정값", f"{_DEVICE}/vitals"),
    _Document("status", Status, "Anbu v1 device status · 기기 연결 상태", f"{_DEVICE}/status"),
    _Document(
        "command",
        Command,
        "Anbu v1 command · 허브 명령",
        f"{_DEVICE}/cmd",
        "A hub→device command, told apart by `type`. A device that cannot speak ignores "
        "`checkin`; one that can answers on its checkin topic with the command's id.",
    ),
    _Document("alert_change", AlertChange, "Anbu v1 alert change · 경보 변경", ALERTS_TOPIC),
)


def json_schemas() -> dict[str, dict[str, Any]]:
    """Every schema document by name (``activity``, ``command``, ...)."""
    documents: dict[str, dict[str, Any]] = {}
    for document in _DOCUMENTS:
        generated = TypeAdapter(document.shape).json_schema()
        description = document.description or generated.get("description", "")
        body = {k: v for k, v in generated.items() if k not in {"title", "description"}}
        documents[document.name] = {
            "$schema": JSON_SCHEMA_DIALECT,
            "title": document.title,
            "description": f"{description}\n\nMQTT topic: {document.topic}".strip(),
            **body,
        }
    return documents


def write_schemas(directory: Path) -> list[Path]:
    """Write ``<name>.schema.json`` for every payload and command into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in json_schemas().items():
        path = directory / f"{name}.schema.json"
        path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written
