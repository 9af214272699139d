"""``anbu edge`` as a process: killed mid-stream, it loses and adds nothing; stays light."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from hub.broker import MosquittoBroker, free_port
from tests.edge.support import Recorder, wait_until

HEAVY = ("fastapi", "sqlalchemy", "influxdb_client", "uvicorn", "starlette", "alembic")


def _write_config(path: Path, mqtt_url: str, feed_port: int, **extra: object) -> None:
    lines = [
        'resident = "r1"',
        'device = "phone1"',
        f'mqtt_url = "{mqtt_url}"',
        f'outbox = "{path.parent / "outbox.db"}"',
        "fold_s = 0.001",
        *(f"{key} = {json.dumps(value)}" for key, value in extra.items()),
        "[feed]",
        f'http = "127.0.0.1:{feed_port}"',
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _start(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "hub", "edge", "--device-kind", "phone", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _post(port: int, event: dict[str, object], timeout: float = 2.0) -> dict[str, object]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/events",
        data=json.dumps(event).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return dict(json.loads(response.read()))


def _post_until_taken(port: int, event: dict[str, object], deadline_s: float = 20) -> str:
    """Retry as an automation app does: until the agent answers."""
    end = time.monotonic() + deadline_s
    while True:
        try:
            result = _post(port, event)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > end:
                raise
            time.sleep(0.1)
            continue
        return str(result["results"][0]["outcome"])  # type: ignore[index]


def test_sigkill_mid_stream_loses_nothing_and_adds_nothing(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    """Killed twice: once while events come in, once while a backlog is being replayed."""
    recorder = Recorder(mosquitto.host, mosquitto.port)
    port = free_port()
    config = tmp_path / "phone.toml"
    _write_config(config, mosquitto.url, port)
    agent = _start(config)
    kinds = ["screen_unlock", "call_answered", "screen_unlock", "app_opened", "sos"]
    outcomes: Counter[str] = Counter()
    killed_mid_replay = None
    try:
        for n in range(300):  # live: the broker is up
            event = {"type": kinds[n % len(kinds)], "id": f"tasker-{n}"}
            if n == 150:
                agent.send_signal(signal.SIGKILL)
                agent.wait(10)
                agent = _start(config)
            outcomes[_post_until_taken(port, event)] += 1

        mosquitto.stop()  # a backlog: 1,000 events while the broker is away
        wait_until(lambda: not _status(port)["connected"], timeout=10)
        for n in range(300, 1300):
            event = {"type": kinds[n % len(kinds)], "id": f"tasker-{n}"}
            outcomes[_post_until_taken(port, event)] += 1
        # Folding windows close, so the backlog is all in the outbox.
        wait_until(lambda: _folds_pending(tmp_path / "outbox.db") == 0, timeout=10)
        backlog = int(_status(port)["outbox"])  # type: ignore[call-overload]
        acked_before = int(_status(port)["acked"])  # type: ignore[call-overload]
        mosquitto.start()
        while True:  # kill it while it is replaying
            status = _status(port)
            if acked_before < int(status["acked"]) and int(status["outbox"]) > 0:  # type: ignore[call-overload]
                agent.send_signal(signal.SIGKILL)
                agent.wait(10)
                killed_mid_replay = int(status["outbox"])  # type: ignore[call-overload]
                break
            if int(status["outbox"]) == 0:  # type: ignore[call-overload]
                break
        agent = _start(config)
        wait_until(lambda: _reachable(port) and _status(port)["outbox"] == 0, timeout=30)
    finally:
        agent.send_signal(signal.SIGTERM)
        _, stderr = agent.communicate(timeout=15)
        recorder.close()
    assert agent.returncode == 0, stderr.decode()[-2000:]
    assert outcomes["accepted"] + outcomes["duplicate"] == 1300
    assert killed_mid_replay is not None, f"replay of {backlog} ended before the kill"
    assert 0 < killed_mid_replay < backlog

    events = [s for s in recorder.messages() if s.channel in {"activity", "emergency"}]
    unique = {s.payload["id"]: s for s in events}  # the hub's id dedup
    signals = Counter[str]()
    for seen in unique.values():
        key = seen.payload.get("source", "emergency")
        signals[key] += seen.payload.get("count", 1)
    assert signals == {"screen": 520, "call": 260, "app": 260, "emergency": 260}
    assert len(events) - len(unique) <= 100, "more re-sends than two in-flight windows"


def _folds_pending(outbox: Path) -> int:
    """Activity still folding in the agent's outbox (read from its SQLite file, WAL mode)."""
    with contextlib.closing(sqlite3.connect(outbox, timeout=5)) as db:
        return int(db.execute("SELECT count(*) FROM folds WHERE pending > 0").fetchone()[0])


def _status(port: int) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=2) as r:
        return dict(json.loads(r.read()))


def test_feed_rejects_bad_events_with_reasons(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "phone.toml"
    _write_config(config, mosquitto.url, port)
    agent = _start(config)
    try:
        wait_until(lambda: _reachable(port), timeout=10)
        cases = {
            b"not json": "not JSON",
            json.dumps({"type": "teleport"}).encode(): "unknown event type",
            json.dumps({"type": "screen_on", "ts": "2026-11-23T10:00:00"}).encode(): "offset",
            json.dumps({"type": "screen_on", "ts": "2999-01-01T00:00:00Z"}).encode(): "future",
            json.dumps([{"type": "alive"}] * 101).encode(): "at most",
        }
        for body, reason in cases.items():
            request = urllib.request.Request(f"http://127.0.0.1:{port}/events", data=body)
            with pytest.raises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(request, timeout=2)  # noqa: S310
            assert caught.value.code == 400
            assert reason in json.loads(caught.value.read())["error"]
        assert _post(port, {"type": "notification"})["results"] == [
            {"outcome": "ignored", "detail": "not an action of the resident"}
        ]
        assert agent.poll() is None, "bad input must not stop the agent"
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(15)


def _reachable(port: int) -> bool:
    try:
        _status(port)
    except OSError:
        return False
    return True


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('resident = "r 1"\nmqtt_url = "http://x"\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "hub", "edge", "--device-kind", "speaker", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    for field in ("resident", "device", "mqtt_url"):
        assert field in result.stderr


def test_the_agent_loads_no_hub_libraries(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    """The speaker runs the ``edge`` extra: no web framework, ORM or TSDB client."""
    config = tmp_path / "speaker.toml"
    _write_config(config, mosquitto.url, free_port(), kind="speaker")
    script = f"""
import sys, threading
from pathlib import Path
from edge.cli import make_adapter
from edge.config import load_config
from edge.agent import Agent
config = load_config(Path({str(config)!r}), "speaker")
agent = Agent(config, make_adapter(config))
agent.start()
threading.Timer(1.5, agent.stop).start()
agent.run()
agent.close()
import hub.cli  # the `anbu` entry point itself must stay light too
print("HEAVY:" + ",".join(sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})))
"""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    heavy = [line for line in result.stdout.splitlines() if line.startswith("HEAVY:")]
    assert heavy == ["HEAVY:"]


def test_edge_extra_declares_no_hub_dependencies() -> None:
    from importlib.metadata import requires

    declared = requires("anbu") or []
    edge = [r for r in declared if "extra ==" not in r or 'extra == "edge"' in r]
    assert edge, "no base or edge requirements found"
    for requirement in edge:
        assert not any(heavy.replace("_", "-") in requirement.lower() for heavy in HEAVY)
