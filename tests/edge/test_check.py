"""``anbu edge check`` against a real Mosquitto holding retained Zigbee2MQTT state and the
agent's retained status: its Korean lines and its exit code, for a home with gaps and then
for the same home fixed; and the hub side's rules alone (an outbox the hub does not drain, a
status offline, a broker that refuses the check)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from paho.mqtt import publish
from typer.testing import CliRunner

from edge.check import Heard, hub_findings
from edge.check_zigbee import zigbee_findings
from hub.cli import app

BASE = "zigbee2mqtt"
STATUS = "anbu/v1/r1/sensors-1/status"


def _device(name: str, *props: str) -> dict[str, Any]:
    exposes = [{"type": "numeric", "name": p, "property": p} for p in props]
    return {"friendly_name": name, "type": "EndDevice", "definition": {"exposes": exposes}}


def _retain(url: str, messages: dict[str, Any]) -> None:
    host, port = url.removeprefix("mqtt://").rsplit(":", 1)
    publish.multiple(
        [
            {"topic": topic, "payload": json.dumps(body, ensure_ascii=False), "retain": True}
            for topic, body in messages.items()
        ],
        hostname=host,
        port=int(port),
    )


def _config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "sensors.toml"
    path.write_text(
        f"""kind = "sensors"
resident = "r1"
device = "sensors-1"
mqtt_url = "{url}"
outbox = "outbox.db"
[feed]
http = ""
[sensors]
zigbee_url = "{url}"
power_threshold_w = 30
power_thresholds_w = {{ "주방/전기포트" = 50 }}
emergency_buttons = ["sos button"]
""",
        encoding="utf-8",
    )
    return path


def _check(config: Path) -> tuple[int, list[str]]:
    result = CliRunner().invoke(app, ["edge", "check", "--config", str(config), "--listen", "0.3"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout.strip().splitlines()


def test_a_home_with_gaps_fails_the_check_and_passes_once_fixed(
    mosquitto: Any, tmp_path: Path
) -> None:
    devices = [
        {"friendly_name": "Coordinator", "type": "Coordinator"},
        _device("침실/문", "contact", "battery"),
        _device("거실/모션", "occupancy", "battery"),
        _device("주방/전기포트", "power", "state"),
        _device("sos button", "action", "battery"),
    ]
    _retain(
        mosquitto.url,
        {
            f"{BASE}/bridge/state": {"state": "online"},
            f"{BASE}/bridge/devices": devices,
            f"{BASE}/거실/모션/availability": {"state": "offline"},
            f"{BASE}/침실/문": {"contact": True, "battery": 12},
            f"{BASE}/주방/전기포트": {"power": 3.5, "state": "ON"},
            f"{BASE}/sos button": {"battery": 90},
        },
    )
    config = _config(tmp_path, mosquitto.url)
    code, lines = _check(config)
    assert code == 1, lines
    assert "[정상] Zigbee2MQTT 브리지: 켜져 있음" in lines
    assert "[문제] 움직임 센서 '거실/모션': 응답 없음 (Zigbee2MQTT가 offline으로 봄)" in lines
    assert "[주의] 문 센서 '침실/문': 배터리 부족 12% — 곧 바꿔 주세요" in lines
    assert (
        "[주의] 플러그 '주방/전기포트': 지금 3.5 W로 활동 기준 50 W보다 낮습니다 "
        "— 가전을 켜고 다시 확인하세요"
    ) in lines
    assert "[정상] 비상 버튼 'sos button': 배터리 90%" in lines
    assert "[문제] 움직임·재실 센서가 하나도 없습니다 (응답하는 것 기준)" in lines
    assert "[문제] 허브 브로커: 이 에이전트의 상태가 없습니다 (연결한 적 없음)" in lines
    assert lines[-1] == "결과: 빠진 것이 있습니다 (문제 3개) — 고친 뒤 다시 점검하세요"

    # The installer adds a bedroom sensor, the motion sensor answers, the agent connects.
    _retain(
        mosquitto.url,
        {
            f"{BASE}/bridge/devices": [*devices, _device("침실/재실", "presence")],
            f"{BASE}/거실/모션/availability": {"state": "online"},
            f"{BASE}/거실/모션": {"occupancy": False, "battery": 80},
            f"{BASE}/침실/재실": {"presence": True},
            STATUS: {"state": "online", "ts": "2026-11-24T10:00:00+09:00"},
        },
    )
    code, lines = _check(config)
    assert code == 0, lines
    assert "[정상] 방 '침실': 움직임·재실 센서 침실/재실" in lines
    assert "[정상] 허브 브로커: 에이전트 상태 online (2026-11-24T10:00:00+09:00)" in lines
    assert not [line for line in lines if line.startswith("[문제]")]
    assert lines[-1] == "결과: 이 집은 지켜볼 준비가 되었습니다"


def test_a_bedroom_needs_presence_or_motion() -> None:
    devices = [_device("침실/문", "contact"), _device("거실/모션", "occupancy")]
    found = zigbee_findings(
        {
            f"{BASE}/bridge/state": b"online",  # the legacy plain word
            f"{BASE}/bridge/devices": json.dumps(devices).encode(),
        },
        base=BASE,
        power_threshold_w=30,
        power_thresholds_w={},
    )
    lines = [f.line() for f in found]
    assert "[문제] 방 '침실': 움직임·재실 센서가 없습니다" in lines
    assert "[주의] 움직임 센서 '거실/모션': 점검하는 동안 보낸 값이 없습니다" in lines


def test_the_hub_side_rules() -> None:
    now = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    online = Heard({STATUS: b'{"state":"online","ts":"2026-11-24T09:00:00+09:00"}'})
    stuck = hub_findings(online, None, (40, now - timedelta(minutes=20)), now)
    assert [f.line() for f in stuck][-1] == (
        "[문제] 보관함: 허브가 받지 않은 메시지 40개, 가장 오래된 것 20분 전"
    )
    offline = hub_findings(Heard({STATUS: b'{"state":"offline","ts":"x"}'}), None, None, now)
    assert [f.level for f in offline] == ["problem"]
    refused = Heard(refused=True)
    unsure = hub_findings(refused, None, None, now)
    assert [f.level for f in unsure] == ["warn", "warn"]
    told = hub_findings(refused, {"connected": True, "outbox": 0}, (0, None), now)
    assert [f.line() for f in told][-1] == "[정상] 에이전트: 허브에 연결됨 (보낼 메시지 0개)"
    assert hub_findings(refused, {"connected": False}, None, now)[-1].level == "problem"
    away = Heard(error="브로커에 닿지 않음: refused", unreachable=True)
    assert [f.level for f in hub_findings(away, None, None, now)] == ["problem"]
