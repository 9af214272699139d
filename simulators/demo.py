"""``anbu demo``: broker, hub, three simulated households and the dashboard on one machine.

Owns the demo's cast (김영희, 박순자, 이말순), their minute-scale policies and routines, the
start-up explanation and the live SMS feed on the console, and a clean shutdown on Ctrl-C
or SIGTERM. Every run starts from a fresh database and SMS log in ``workdir``.

``ANBU_DEMO_SPEED`` (default 1) runs the whole timeline that many times faster; the tests
use it to see the emergency and escalation within seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any, Final

import typer
from pydantic import SecretStr

from edge.tts import Speaker
from hub.broker import Broker
from hub.runtime import Hub
from hub.service import HubCore
from hub.settings import Settings
from protocol import CheckinCommand
from simulators.household import (
    KST,
    ReceivedCommand,
    ScriptRun,
    SimulatedHousehold,
    Step,
    run_script,
)

Out = Callable[[str], None]

SPEED_ENV: Final = "ANBU_DEMO_SPEED"
MAX_SPEED: Final = 20.0
DB_NAME: Final = "anbu-demo.db"
SMS_NAME: Final = "sms-outbox.jsonl"
BROKER_DIR: Final = "broker"
READY_TIMEOUT_S: Final = 20.0
POLL_S: Final = 0.3

CONTROL_CENTER_PHONES: Final = ["+82-2-000-0000", "+82-2-000-0001"]
SUPERVISOR_PHONES: Final = ["+82-2-000-0009"]

# Seconds on the demo's own timeline, before ANBU_DEMO_SPEED divides them.
ROUTINE_EVERY_S: Final = 20.0
HEARTBEAT_EVERY_S: Final = 30.0
QUIET_AFTER_S: Final = 10.0
EMERGENCY_AT_S: Final = 30.0
CHECKIN_AFTER_S: Final = 40.0
GUARDIAN_AFTER_S: Final = 60.0
CONTROL_CENTER_AFTER_S: Final = 120.0
EMERGENCY_ACK_S: Final = 60.0

ROLE_LABELS: Final = {
    "guardian": "보호자 guardian",
    "official": "공무원 official",
    "control_center": "관제센터 centre",
    "health_center": "보건소 health",
    "supervisor": "책임자 supervisor",
}


class DemoError(RuntimeError):
    """The demo could not start (port taken, broker missing, hub not ready)."""


@dataclass(frozen=True, slots=True)
class Person:
    role: str
    name: str
    phone: str


@dataclass(frozen=True, slots=True)
class Resident:
    """One member of the demo's cast: who, where, which devices, who is told."""

    id: str
    name: str
    district: str
    story: str
    devices: dict[str, str]
    contacts: tuple[Person, ...]


CAST: Final = (
    Resident(
        id="kim-younghee",
        name="김영희",
        district="대전 유성구",
        story="normal",
        devices={"speaker-1": "speaker", "phone-1": "phone"},
        contacts=(
            Person("guardian", "김철수 (아들)", "+821000000101"),
            Person("official", "유성구 담당 이주무관", "+821000000901"),
        ),
    ),
    Resident(
        id="park-soonja",
        name="박순자",
        district="대전 동구",
        story="quiet",
        devices={"speaker-1": "speaker"},
        contacts=(
            Person("guardian", "박민지 (딸)", "+821000000201"),
            Person("official", "동구 담당 최주무관", "+821000000902"),
        ),
    ),
    Resident(
        id="lee-malsoon",
        name="이말순",
        district="서울 서대문구",
        story="emergency",
        devices={"speaker-1": "speaker"},
        contacts=(
            Person("guardian", "이영수 (조카)", "+821000000301"),
            Person("official", "서대문구 담당 정주무관", "+821000000903"),
        ),
    ),
)


# ---------------------------------------------------------------------- timeline


@dataclass(frozen=True, slots=True)
class Timeline:
    """The demo's times in real seconds: its nominal timeline divided by ``speed``."""

    speed: float = 1.0

    def s(self, nominal_s: float) -> float:
        return nominal_s / self.speed

    def whole_s(self, nominal_s: float) -> int:
        return max(1, round(nominal_s / self.speed))

    def iso(self, nominal_s: float) -> str:
        return f"PT{self.whole_s(nominal_s)}S"

    def policy(self) -> dict[str, str]:
        return {
            "checkin_after": self.iso(CHECKIN_AFTER_S),
            "guardian_after": self.iso(GUARDIAN_AFTER_S),
            "control_center_after": self.iso(CONTROL_CENTER_AFTER_S),
            "emergency_ack_within": self.iso(EMERGENCY_ACK_S),
        }

    def show(self, nominal_s: float) -> str:
        """A duration for people: ``1분 10초``-style in English short form (``1m10s``)."""
        seconds = round(nominal_s / self.speed)
        minutes, rest = divmod(seconds, 60)
        if minutes and rest:
            return f"{minutes}m{rest:02d}s"
        return f"{minutes}m" if minutes else f"{rest}s"


def speed_from_env(environ: dict[str, str] | None = None) -> float:
    """``ANBU_DEMO_SPEED`` as a factor between 1 and 20 (default 1)."""
    raw = (environ if environ is not None else dict(os.environ)).get(SPEED_ENV, "").strip()
    if not raw:
        return 1.0
    try:
        speed = float(raw)
    except ValueError as error:
        raise DemoError(f"{SPEED_ENV} must be a number, got {raw!r}") from error
    if not 1.0 <= speed <= MAX_SPEED:
        raise DemoError(f"{SPEED_ENV} must be between 1 and {MAX_SPEED:g}, got {raw!r}")
    return speed


# ---------------------------------------------------------------------- the demo


class Demo:
    """The running demo's parts, started in dependency order and stopped in reverse."""

    def __init__(self, http: str, workdir: Path, out: Out, timeline: Timeline) -> None:
        self.http = http
        self.workdir = workdir
        self.timeline = timeline
        self._out_lock = threading.Lock()
        self._raw_out = out
        self.token = secrets.token_urlsafe(24)
        self.sms_path = workdir / SMS_NAME
        self.db_path = workdir / DB_NAME
        self.broker: Broker | None = None
        self.hub: Hub | None = None
        self.households: list[SimulatedHousehold] = []
        self.scripts: list[ScriptRun] = []
        self.names = {r.id: r.name for r in CAST}
        espeak = shutil.which("espeak-ng")
        self.voice = Speaker([espeak, "-v", "ko", "{text}"] if espeak else [])

    def out(self, line: str) -> None:
        with self._out_lock:
            self._raw_out(line)

    @property
    def dashboard_url(self) -> str:
        host, _, port = self.http.rpartition(":")
        shown = "127.0.0.1" if host in {"0.0.0.0", ""} else host  # noqa: S104 - a URL to show
        return f"http://{shown}:{port}/board#token={self.token}"

    # -------------------------------------------------------------- start

    def start(self) -> None:
        _check_port_free(self.http)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._clear_previous_run()
        self.broker = Broker.best(workdir=self.workdir / BROKER_DIR)
        protocol = "5" if "5.0" in self.broker.protocol_versions else "3.1.1"
        settings = Settings(
            mqtt_url=self.broker.url,
            mqtt_protocol=protocol,
            mqtt_client_id="anbu-demo-hub",
            db_url=f"sqlite:///{self.db_path}",
            http=self.http,
            admin_token=SecretStr(self.token),
            sms=f"log:{self.sms_path}",
            control_center_phones=list(CONTROL_CENTER_PHONES),
            supervisor_phones=list(SUPERVISOR_PHONES),
        )
        self.hub = Hub(settings).start()
        if not self.hub.wait_ready(READY_TIMEOUT_S):
            raise DemoError(
                f"the hub did not become ready within {READY_TIMEOUT_S:g} s "
                f"(broker {self.broker.url}, http {self.http})"
            )
        for resident in CAST:
            self._register(self.hub, resident)
        for resident in CAST:
            home = SimulatedHousehold(
                resident.id,
                resident.devices,  # type: ignore[arg-type]
                self.broker.url,
                protocol,
                answers_checkin=False,  # nobody answers the speaker in this demo
                on_command=partial(self._narrate_command, resident.name),
            )
            self.households.append(home.start())
        for home, resident in zip(self.households, CAST, strict=True):
            self.scripts.append(run_script(home, self._heartbeats(resident), repeat=True))
            self.scripts.append(
                run_script(home, self._routine(resident), repeat=resident.story == "normal")
            )

    def _clear_previous_run(self) -> None:
        names = [DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", f"{DB_NAME}-journal", SMS_NAME]
        for name in names:
            (self.workdir / name).unlink(missing_ok=True)
        broker_dir = self.workdir / BROKER_DIR
        for path in sorted(broker_dir.rglob("*"), reverse=True) if broker_dir.exists() else []:
            if path.is_dir():
                path.rmdir()
            else:
                path.unlink()

    def _register(self, hub: Hub, resident: Resident) -> None:
        data = {
            "id": resident.id,
            "name": resident.name,
            "district": resident.district,
            "policy": self.timeline.policy(),
        }
        core = hub.core
        hub.call(lambda now: core.register_resident(data, now))
        for device, kind in resident.devices.items():
            hub.call(partial(_register_device, core, resident.id, device, kind))
        for person in resident.contacts:
            hub.call(partial(_add_contact, core, resident.id, person))

    def _narrate_command(self, name: str, received: ReceivedCommand) -> None:
        if isinstance(received.command, CheckinCommand):
            self.out(
                f"{_clock()}  ▶ {name}: 스피커 {received.device} 「괜찮으세요?」"
                " — no answer (check-in)"
            )
            # Heard through the machine's speakers when espeak-ng is installed, as the
            # edge speaker agent would say it (its default tts_command).
            if self.voice.can_speak:
                self.voice.say(received.command.prompt)

    def _heartbeats(self, resident: Resident) -> list[Step]:
        interval = self.timeline.whole_s(HEARTBEAT_EVERY_S)

        def beat(home: SimulatedHousehold) -> None:
            for device in resident.devices:
                home.heartbeat(device, interval, battery_pct=87, fw="anbu-demo 0.1")

        # One right away, then every interval (a little early, as real devices are).
        return [(0.0, beat), (interval * 0.9, lambda _h: None)]

    def _routine(self, resident: Resident) -> list[Step]:
        t = self.timeline
        name = resident.name
        if resident.story == "normal":
            return [
                (0.0, lambda h: h.activity("voice")),
                (t.s(ROUTINE_EVERY_S), lambda h: h.activity("speaker_use")),
                (t.s(ROUTINE_EVERY_S / 2), lambda h: h.activity("screen", "phone-1")),
                (t.s(ROUTINE_EVERY_S / 2), lambda h: h.activity("power")),
                (t.s(ROUTINE_EVERY_S), lambda _h: None),
            ]
        if resident.story == "quiet":

            def last_words(home: SimulatedHousehold) -> None:
                home.activity("speaker_use")
                self.out(f"{_clock()}  ▶ {name}: 라디오를 끈 뒤 조용해집니다 (goes quiet)")

            return [(0.0, lambda h: h.activity("voice")), (t.s(QUIET_AFTER_S), last_words)]

        def call_for_help(home: SimulatedHousehold) -> None:
            home.emergency("아리아 살려줘", trigger="voice")
            self.out(f'{_clock()}  ▶ {name}: "아리아 살려줘" (calls for help)')

        return [(0.0, lambda h: h.activity("voice")), (t.s(EMERGENCY_AT_S), call_for_help)]

    # -------------------------------------------------------------- explain and follow

    def explain(self) -> None:
        t = self.timeline
        quiet_checkin = QUIET_AFTER_S + CHECKIN_AFTER_S
        quiet_guardian = QUIET_AFTER_S + GUARDIAN_AFTER_S
        quiet_centre = QUIET_AFTER_S + CONTROL_CENTER_AFTER_S
        broker = self.broker
        broker_text = f"{broker.url} ({broker.kind})" if broker is not None else "?"
        speed_note = f"  (ANBU_DEMO_SPEED={t.speed:g}: {t.speed:g}× faster)" if t.speed != 1 else ""
        lines = [
            "",
            "안부(Anbu) 데모가 실행 중입니다 — the Anbu demo is running on this machine.",
            "",
            f"  대시보드 Dashboard : {self.dashboard_url}",
            f"  관리자 토큰 token  : {self.token}",
            f"  MQTT 브로커 broker : {broker_text}",
            f"  문자 기록 SMS log  : {self.sms_path}",
            "      (문자는 보내지 않고 이 파일에 기록합니다 — written here, not sent)",
            "",
            f"시나리오 / what happens, counted from now{speed_note}:",
            f"  • 김영희 ({CAST[0].id}): 평소처럼 생활 — speaks to her speaker, uses her",
            f"    phone and kettle every ~{t.show(ROUTINE_EVERY_S)}. No alert.",
            f"  • 박순자 ({CAST[1].id}): {t.show(QUIET_AFTER_S)} 뒤 조용해집니다 — goes quiet.",
            f'      +{t.show(quiet_checkin)}  스피커 안부 확인 "괜찮으세요?"',
            "              (check-in; nobody answers)",
            f"      +{t.show(quiet_guardian)}  보호자에게 문자 — SMS to her guardian",
            f"      +{t.show(quiet_centre)}  관제센터 — control centre; the official too in",
            "              working hours (평일 09–18시), otherwise in the next day's digest",
            f"  • 이말순 ({CAST[2].id}): +{t.show(EMERGENCY_AT_S)} 「아리아 살려줘」",
            "      관제센터와 보호자에게 즉시 — control centre and guardian at once;",
            f"      not acknowledged within {t.show(EMERGENCY_ACK_S)}: paged again + supervisor.",
            "      (Acknowledge it on the dashboard to stop that.) She does not move",
            "      afterwards either, so the inactivity steps follow as for 박순자.",
            "",
            "보낸 문자가 아래에 나타납니다 — SMS appear below as they are sent.",
            "Ctrl-C 로 종료 — Ctrl-C stops the demo.",
            "",
        ]
        for line in lines:
            self.out(line)

    def follow_sms(self, stop: threading.Event) -> None:
        """Print each new SMS log line until ``stop`` is set."""
        position = 0
        pending = b""
        while not stop.wait(POLL_S):
            position, pending, records = _read_new_lines(self.sms_path, position, pending)
            for record in records:
                self.out(self.format_sms(record))

    def format_sms(self, record: dict[str, Any]) -> str:
        when = _clock(record.get("ts"))
        role = ROLE_LABELS.get(str(record.get("role")), str(record.get("role")))
        resident = str(record.get("resident") or "")
        name = self.names.get(resident, resident)
        body = " ".join(str(record.get("body", "")).split())
        return f"{when}  ✉ {role:<16} {name:<4} → {record.get('to')}: {body}"

    def sms_count(self) -> int:
        if not self.sms_path.exists():
            return 0
        with self.sms_path.open(encoding="utf-8") as handle:
            return sum(1 for line in handle if line.strip())

    # -------------------------------------------------------------- stop

    def close(self) -> None:
        """Stop whatever was started, in reverse order; never raises."""
        for script in self.scripts:
            script.stop(timeout=2.0)
        for home in self.households:
            with contextlib.suppress(Exception):
                home.stop()
        if self.hub is not None:
            with contextlib.suppress(Exception):
                self.hub.stop()
        if self.broker is not None:
            with contextlib.suppress(Exception):
                self.broker.stop()


def run_demo(
    http: str,
    workdir: Path,
    *,
    out: Out | None = None,
    speed: float | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Run the demo until Ctrl-C, SIGTERM or ``stop`` is set; then stop everything."""
    say: Out = out if out is not None else typer.echo
    stop_event = stop if stop is not None else threading.Event()
    try:
        timeline = Timeline(speed if speed is not None else speed_from_env())
    except DemoError as error:
        say(f"데모를 시작할 수 없습니다 (cannot start the demo): {error}")
        raise typer.Exit(2) from error
    demo = Demo(http, workdir, say, timeline)
    with _stop_on_signals(stop_event):
        try:
            say("안부 데모를 준비하는 중… (starting broker, hub and households)")
            demo.start()
            demo.explain()
            demo.follow_sms(stop_event)
        except DemoError as error:
            demo.close()
            say(f"데모를 시작할 수 없습니다 (cannot start the demo): {error}")
            raise typer.Exit(1) from error
        say("")
        say("종료하는 중… (stopping households, hub and broker)")
        demo.close()
    say(f"데모를 종료했습니다 — the demo stopped. SMS sent: {demo.sms_count()} ({demo.sms_path})")


# ---------------------------------------------------------------------- helpers


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set ``stop`` on SIGINT/SIGTERM while inside (main thread only), then restore handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _register_device(core: HubCore, resident: str, device: str, kind: str, now: datetime) -> None:
    core.register_device(resident, device, kind, now)


def _add_contact(core: HubCore, resident: str, person: Person, now: datetime) -> None:
    core.add_contact(resident, person.role, person.name, person.phone, now)


def _check_port_free(http: str) -> None:
    host, _, port_text = http.rpartition(":")
    try:
        port = int(port_text)
    except ValueError as error:
        raise DemoError(f"--http must be host:port, got {http!r}") from error
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host or "127.0.0.1", port))
        except OSError as error:
            raise DemoError(
                f"{http} is not available ({error.strerror}); try --http 127.0.0.1:{port + 1}"
            ) from error


def _read_new_lines(
    path: Path, position: int, pending: bytes
) -> tuple[int, bytes, list[dict[str, Any]]]:
    """JSON records appended to ``path`` since ``position``; a half-written line waits."""
    try:
        with path.open("rb") as handle:
            handle.seek(position)
            chunk = handle.read()
    except FileNotFoundError:
        return position, pending, []
    position += len(chunk)
    *complete, pending = (pending + chunk).split(b"\n")
    records: list[dict[str, Any]] = []
    for line in complete:
        with contextlib.suppress(ValueError):  # JSONDecodeError and UnicodeDecodeError
            record = json.loads(line.decode("utf-8"))
            if isinstance(record, dict):
                records.append(record)
    return position, pending, records


def _clock(ts: object = None) -> str:
    """``HH:MM:SS`` in Korea time, of an ISO timestamp or of now."""
    when = datetime.now(KST)
    if isinstance(ts, str):
        with contextlib.suppress(ValueError):
            when = datetime.fromisoformat(ts).astimezone(KST)
    return when.strftime("%H:%M:%S")
