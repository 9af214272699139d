"""`anbu demo` end to end: a subprocess that serves the dashboard, pages, and stops on Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.broker import find_mosquitto, free_port
from simulators.demo import DemoError, Timeline, _read_new_lines, speed_from_env

STARTUP_S = 40.0
SPEED = "10"


def anbu_command() -> list[str]:
    script = Path(sys.executable).with_name("anbu")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from hub.cli import main; main()"]


class Output:
    """Collects a subprocess's stdout lines on a thread."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._proc = proc
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def text(self) -> str:
        return "\n".join(self.lines)

    def join(self) -> None:
        self._thread.join(timeout=5)


def wait_for(what: str, check: Callable[[], Any], proc: subprocess.Popen[str], out: Output) -> Any:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"demo exited with {proc.returncode} waiting for {what}:\n{out.text()}")
        try:
            value = check()
        except (httpx.HTTPError, OSError, ValueError):
            value = None
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"no {what} within {STARTUP_S}s; output:\n{out.text()}")


def sms(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.endswith("}")]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Output, str, Path]]:
    if find_mosquitto() is None:
        pytest.fail("the demo test needs mosquitto installed", pytrace=False)
    port = free_port()
    workdir = tmp_path / "demo"
    env = {**os.environ, "ANBU_DEMO_SPEED": SPEED, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [*anbu_command(), "demo", "--http", f"127.0.0.1:{port}", "--workdir", str(workdir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=tmp_path,
        start_new_session=True,  # its own process group: teardown can reach the broker too
    )
    out = Output(proc)
    try:
        yield proc, out, f"http://127.0.0.1:{port}", workdir
    finally:
        if proc.poll() is None:
            # A test that failed half-way: ask the demo to stop (it stops its broker), and
            # only then kill what is left of the group, so no Mosquitto outlives the test.
            proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # anything of the demo's still alive
        proc.wait(timeout=10)
        out.join()


def test_demo_serves_pages_and_stops_on_ctrl_c(
    demo: tuple[subprocess.Popen[str], Output, str, Path],
) -> None:
    proc, out, base, workdir = demo

    def healthy() -> bool:
        return bool(httpx.get(f"{base}/health", timeout=2).json().get("status") == "ok")

    wait_for("/health = ok", healthy, proc, out)
    home = httpx.get(f"{base}/", timeout=5, follow_redirects=True)
    assert home.status_code == 200
    assert home.url.path == "/board"

    # The dashboard URL carries the admin token in its fragment; the token opens the API.
    url_line = wait_for(
        "dashboard URL", lambda: next((x for x in out.lines if "#token=" in x), None), proc, out
    )
    token = url_line.split("#token=", 1)[1].strip()
    assert url_line.split()[-1].startswith(f"{base}/board#token=")
    residents = httpx.get(
        f"{base}/api/v1/residents", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert residents.status_code == 200
    assert {r["id"] for r in residents.json()} == {"kim-younghee", "park-soonja", "lee-malsoon"}

    outbox = workdir / "sms-outbox.jsonl"

    def emergency_sent() -> bool:
        roles = {
            r["role"] for r in sms(outbox) if r["kind"] == "emergency" and r["stage"] != "digest"
        }
        return {"control_center", "guardian"} <= roles

    wait_for("emergency SMS to control centre and guardian", emergency_sent, proc, out)
    emergency = [r for r in sms(outbox) if r["kind"] == "emergency"]
    assert {r["resident"] for r in emergency} == {"lee-malsoon"}
    assert all(r["body"] for r in emergency)

    # The quiet resident escalates to her guardian (policy times divided by the speed).
    def quiet_guardian() -> bool:
        return any(r["resident"] == "park-soonja" and r["role"] == "guardian" for r in sms(outbox))

    wait_for("inactivity SMS to 박순자's guardian", quiet_guardian, proc, out)
    assert not any(r["resident"] == "kim-younghee" for r in sms(outbox))

    # The SMS show on the console, one line each.
    wait_for("SMS echoed on the console", lambda: "✉" in out.text(), proc, out)

    proc.send_signal(signal.SIGINT)
    try:
        code = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"demo did not stop within 10 s of SIGINT:\n{out.text()}")
    out.join()
    assert code == 0, out.text()
    assert "the demo stopped" in out.text()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{base}/health", timeout=1)


def test_demo_stops_on_sigterm(demo: tuple[subprocess.Popen[str], Output, str, Path]) -> None:
    proc, out, base, _workdir = demo
    wait_for(
        "/health = ok",
        lambda: httpx.get(f"{base}/health", timeout=2).status_code == 200,
        proc,
        out,
    )
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0, out.text()
    out.join()
    assert "the demo stopped" in out.text()


def test_demo_refuses_a_taken_port(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*anbu_command(), "demo", "--http", f"127.0.0.1:{port}", "--workdir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=tmp_path,
            check=False,
        )
    assert result.returncode == 1
    assert "not available" in result.stdout


def test_speed_setting_and_timeline() -> None:
    assert speed_from_env({}) == 1.0
    assert speed_from_env({"ANBU_DEMO_SPEED": "10"}) == 10.0
    for bad in ("fast", "0", "500"):
        with pytest.raises(DemoError, match="ANBU_DEMO_SPEED"):
            speed_from_env({"ANBU_DEMO_SPEED": bad})
    fast = Timeline(10)
    assert fast.policy() == {
        "checkin_after": "PT4S",
        "guardian_after": "PT6S",
        "control_center_after": "PT12S",
        "emergency_ack_within": "PT6S",
    }
    assert Timeline(1).show(130) == "2m10s"
    assert Timeline(1).show(60) == "1m"
    assert Timeline(10).show(30) == "3s"


def test_sms_tail_waits_for_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    assert _read_new_lines(path, 0, b"") == (0, b"", [])
    record = json.dumps({"role": "guardian", "body": "안부"}, ensure_ascii=False).encode()
    path.write_bytes(record[:7])
    position, pending, records = _read_new_lines(path, 0, b"")
    assert records == [] and pending == record[:7]
    with path.open("ab") as handle:
        handle.write(record[7:] + b"\n")
    position, pending, records = _read_new_lines(path, position, pending)
    assert records == [{"role": "guardian", "body": "안부"}]
    assert pending == b"" and position == len(record) + 1
