"""``anbu edge check``: the installer's view of one home, from the agent's own config file.

Says, one Korean line per finding, what each Zigbee device last sent and what is missing, and
whether the hub hears the agent; the exit code is 0 when the home is covered, 1 when not (2
for a config error). It only listens: it publishes nothing, sets no Last Will, and never
connects under the agent's own client id (that would take the running agent's session over).

* **The home's sensors** (a ``sensors`` agent): it subscribes to Zigbee2MQTT's base topic on
  the local broker for a short window (``--listen``), which gives the retained state at once
  (``bridge/state``, ``bridge/devices``, each ``NAME/availability``, and device states when
  Zigbee2MQTT retains them) and what devices send meanwhile. Problems: the bridge offline, no
  device list, no presence or motion sensor at all, a bedroom (a name with ``bedroom``,
  ``침실`` or ``안방``; ``침실/모션`` names a room) without one, a sensor unavailable. Warnings:
  a low battery, a plug drawing less than its activity threshold now (use the appliance and
  check again), a sensor that sent nothing in the window, no device named for a bedroom.
* **The hub**: the agent's retained ``anbu/v1/{resident}/{device}/status`` on the hub's
  broker, read with the agent's user and password under a client id of the check's own; the
  running agent's ``GET /status`` on its local feed, when it has one; and its outbox (messages
  the broker has not acknowledged, and how old the oldest is). A broker that refuses the
  check (production brokers bind the client id to the device and let it read only its
  commands) is said so, and the other two then decide. Problems: status ``offline`` or
  absent, the agent saying it is not connected, messages unacknowledged for
  :data:`STUCK_AFTER`.

Edge-light: the standard library, paho-mqtt and :mod:`protocol` only. The analysis is pure
(:func:`edge.check_zigbee.zigbee_findings`, :func:`hub_findings`); :func:`run_check` does the
I/O. A hub broker the check cannot reach at all is a problem (the agent cannot either).
"""

from __future__ import annotations

import json
import sqlite3
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

from edge.check_zigbee import Finding, Level, as_json, state_word, zigbee_findings
from protocol.topics import device_topic

STUCK_AFTER: Final = timedelta(minutes=15)


@dataclass
class Heard:
    """What one broker said in the window: the last payload per topic, or why nothing."""

    messages: dict[str, bytes] = field(default_factory=dict)
    error: str | None = None
    refused: bool = False  # the broker took the connection but not the subscription
    unreachable: bool = False  # no connection at all (address, network, TLS)


def hub_findings(
    status: Heard,
    agent: Mapping[str, Any] | None,
    pending: tuple[int, datetime | None] | None,
    now: datetime,
) -> list[Finding]:
    """Whether the hub hears the agent: its retained status, its own word, its outbox."""
    out: list[Finding] = []
    heard = False
    raw = next(iter(status.messages.values()), None)
    if status.unreachable:
        out.append(Finding("problem", f"허브 브로커: {status.error}"))
    elif status.error is not None or status.refused:
        why = status.error or "상태 토픽 구독을 허락하지 않음"
        out.append(Finding("warn", f"허브 브로커: 점검 접속으로는 확인할 수 없습니다 ({why})"))
    elif raw is None:
        out.append(
            Finding("problem", "허브 브로커: 이 에이전트의 상태가 없습니다 (연결한 적 없음)")
        )
    else:
        body = as_json(raw)
        state = state_word(raw)
        since = f" ({body['ts']})" if isinstance(body, dict) and "ts" in body else ""
        heard = state == "online"
        level: Level = "ok" if heard else "problem"
        out.append(Finding(level, f"허브 브로커: 에이전트 상태 {state or '알 수 없음'}{since}"))
    if agent is not None:
        if agent.get("connected") is True:
            heard = True
            out.append(
                Finding("ok", f"에이전트: 허브에 연결됨 (보낼 메시지 {agent.get('outbox')}개)")
            )
        else:
            heard = False
            out.append(Finding("problem", "에이전트: 허브 브로커에 연결되어 있지 않습니다"))
    if pending is not None:
        count, oldest = pending
        if oldest is not None and now - oldest > STUCK_AFTER:
            minutes = int((now - oldest).total_seconds() // 60)
            out.append(
                Finding(
                    "problem",
                    f"보관함: 허브가 받지 않은 메시지 {count}개, 가장 오래된 것 {minutes}분 전",
                )
            )
            heard = False
        elif count:
            out.append(Finding("ok", f"보관함: 보내는 중인 메시지 {count}개"))
    if not heard and not any(f.level == "problem" for f in out):
        out.append(Finding("warn", "허브가 이 에이전트를 듣는지 여기서는 확인하지 못했습니다"))
    return out


# ----------------------------------------------------------------------------------- I/O


def listen(
    url: str, topics: list[str], window_s: float, client_id: str, *, v5: bool = False
) -> Heard:
    """Subscribe to ``topics`` on the broker at ``url`` for ``window_s`` seconds."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    heard = Heard()
    parts = urlsplit(url)
    protocol = mqtt.MQTTv5 if v5 else mqtt.MQTTv311
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
    if parts.username:
        client.username_pw_set(unquote(parts.username), unquote(parts.password or ""))
    answered = threading.Event()

    def on_connect(c: Any, _u: object, _f: object, rc: Any, _p: object = None) -> None:
        if rc.is_failure:
            heard.error = f"접속 거부: {rc}"
            answered.set()
            return
        c.subscribe([(topic, 0) for topic in topics])

    def on_subscribe(_c: Any, _u: object, _mid: int, codes: list[Any], _p: object = None) -> None:
        heard.refused = any(code.is_failure for code in codes)
        answered.set()

    def on_message(_c: Any, _u: object, message: Any) -> None:
        heard.messages[message.topic] = bytes(message.payload)

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    try:
        if parts.scheme == "mqtts":  # a missing CA file is the installer's to fix: said here
            ca = parse_qs(parts.query).get("cafile", [None])[-1]
            if ca is not None and not Path(ca).is_file():
                heard.error, heard.unreachable = f"CA 인증서 파일이 없습니다: {ca}", True
                return heard
            client.tls_set(ca_certs=ca, cert_reqs=ssl.CERT_REQUIRED)
        client.connect(
            parts.hostname or "127.0.0.1",
            parts.port or (8883 if parts.scheme == "mqtts" else 1883),
            10,
        )
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        heard.error = f"브로커에 닿지 않음: {exc}"
        heard.unreachable = True
        return heard
    client.loop_start()
    try:
        if not answered.wait(10):
            heard.error = heard.error or "브로커가 답하지 않음"
        elif heard.error is None and not heard.refused:
            time.sleep(window_s)  # the window itself: what the devices send meanwhile
    finally:
        client.disconnect()
        client.loop_stop()
    return heard


def agent_status(http: str | None) -> dict[str, Any] | None:
    """The running agent's ``GET /status`` on its local feed, if it has one and answers."""
    if not http:
        return None
    try:
        with urllib.request.urlopen(f"http://{http}/status", timeout=2) as answer:
            body = json.loads(answer.read())
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def outbox_pending(path: Path) -> tuple[int, datetime | None] | None:
    """How many messages wait in the agent's outbox, and the oldest one's time (read only)."""
    if not path.exists():
        return None
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2) as db:
            count, oldest = db.execute("SELECT COUNT(*), MIN(ts) FROM outbox").fetchone()
    except sqlite3.Error:
        return None
    when = datetime.fromisoformat(oldest) if isinstance(oldest, str) else None
    return int(count), when.astimezone(UTC) if when else None


def run_check(
    config: Any, listen_s: float, out: Callable[[str], None], now: Callable[[], datetime]
) -> int:
    """Check the home of ``config`` (an :class:`edge.config.EdgeConfig`); 0 = covered."""
    check_id = f"{config.resident}.{config.device}.check-{int(time.time() * 1000) % 100_000}"
    findings: list[Finding] = []
    if config.kind == "sensors":
        base = config.sensors.base_topic
        zigbee = listen(config.sensors.zigbee_url, [f"{base}/#"], listen_s, check_id)
        if zigbee.error is not None:
            findings.append(Finding("problem", f"Zigbee 브로커: {zigbee.error}"))
        else:
            findings.extend(
                zigbee_findings(
                    zigbee.messages,
                    base=base,
                    power_threshold_w=config.sensors.power_threshold_w,
                    power_thresholds_w=config.sensors.power_thresholds_w,
                    buttons=config.sensors.emergency_buttons,
                    ignore=config.sensors.ignore,
                )
            )
    status_topic = device_topic(config.resident, config.device, "status")
    status = listen(config.mqtt_url, [status_topic], min(listen_s, 1.0), check_id, v5=True)
    findings.extend(
        hub_findings(status, agent_status(config.feed.http), outbox_pending(config.outbox), now())
    )
    for finding in findings:
        out(finding.line())
    problems = sum(f.level == "problem" for f in findings)
    if problems:
        out(f"결과: 빠진 것이 있습니다 (문제 {problems}개) — 고친 뒤 다시 점검하세요")
        return 1
    out("결과: 이 집은 지켜볼 준비가 되었습니다")
    return 0


def main(config_path: Path, device_kind: str | None, listen_s: float) -> int:
    """``anbu edge check``: load the agent's config (its ``kind`` unless one is given), check.

    The findings go to stdout, a config error to stderr (exit 2).
    """
    import sys
    import tomllib

    from edge.config import ConfigError, load_config
    from protocol.vocab import DEVICE_KINDS

    kind = device_kind
    if kind is None:
        try:
            kind = tomllib.loads(config_path.read_text(encoding="utf-8")).get("kind", "sensors")
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            kind = "sensors"  # load_config says what is wrong with the file
    chosen = next((k for k in DEVICE_KINDS if k == kind), None)
    if chosen is None:
        sys.stderr.write(
            f"anbu edge check: 기기 종류는 speaker, phone, sensors 중 하나: {kind!r}\n"
        )
        return 2
    try:
        config = load_config(config_path, chosen)
    except ConfigError as exc:
        sys.stderr.write(f"anbu edge check: {exc}\n")
        return 2

    def say(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    return run_check(config, listen_s, say, lambda: datetime.now(UTC))
