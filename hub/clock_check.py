"""The hub checks its own clock: how far it is from its devices', its database's and NTP's.

Two jobs:

* :class:`DeviceClocks` measures how far the hub's clock is from its devices' (the one
  offset that decides anything). Heartbeats are sent live only, never from an edge's
  outbox (``edge/link.py`` ``send_live``), so ``arrival - ts`` of a device's latest heartbeat
  is its clock's distance from the hub's, plus transit — when it came live: only a heartbeat
  whose gap to the device's previous one is the same by both clocks votes (the broker's
  backlog for a hub that was away arrives in a burst, and must not pass for a shift). When
  more than half the devices heard in the last :data:`WINDOW`, and at least
  :data:`MIN_VOTERS` of them, agree on one distance (within :data:`AGREE`) and it is at
  least :data:`MIN_SHIFT`, that is the hub's **shift**: the intake moves every device time
  by it before judging it (:mod:`hub.core_inputs`), so a hub clock 13 h fast or 1 h slow
  neither dead-letters live messages nor pages guardians of residents sending activity.
  A device whose clock alone is wrong does not move the shift (it is outvoted).
* :class:`ClockCheck` looks, once a minute on a thread of its own, at the references the
  machine offers: PostgreSQL's ``now()`` (SQLite has no clock of its own: it is the hub
  process's), and NTP's verdict from the kernel (``adjtimex``), ``timedatectl`` or
  ``chronyc`` where present, quietly nothing where none is. MQTT carries no time and
  Mosquitto's ``$SYS`` tree publishes uptime, not the time of day, so the broker's view of
  the time comes to the hub through its devices' messages. These are reported
  (``/health`` ``clock``, ``/metrics``, the board), not acted on: the database server's clock
  may be the wrong one, and devices that agree with the hub are paged right.

``/health`` is degraded (problem ``clock_skew``) while the devices' shift exceeds
``ANBU_CLOCK_MAX_SKEW_S``, and (problem ``clock_step``) while the hub's own time still holds
more than that of a step of the machine's wall clock (:mod:`hub.steady_clock`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import shutil
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import structlog

from hub.steady_clock import SteadyClock
from hub.store.clock import database_now
from hub.store.db import Engine, reading
from protocol.models import MAX_BUFFER_AGE

log = structlog.get_logger(__name__)

WINDOW: Final = 1800.0
"""Seconds (monotonic) a device's heartbeat counts: several heartbeat intervals (300 s)."""
AGREE: Final = timedelta(minutes=2)
"""How close devices' distances must be to count as one (transit, small drifts)."""
MIN_SHIFT: Final = timedelta(minutes=1)
"""Below this the hub's clock is taken as right: device drift, already capped at arrival."""
CHECK_EVERY_S: Final = 60.0
MIN_VOTERS: Final = 3
"""Devices that must agree before the hub moves device times: one or two (a household's
agents sharing one board's clock, one compromised device) must never set everyone's time."""
LIVE_SLACK: Final = timedelta(seconds=30)
"""How far a heartbeat's gap by arrival may differ from its gap by ``ts`` and still be live
(transit, scheduling); a tenth of the gap where that is more."""


def _live(previous: tuple[datetime, datetime], ts: datetime, arrival: datetime) -> bool:
    """Whether a heartbeat arrived as it was sent: its gap to the device's previous one is
    the same by the device's clock as by its arrivals at the hub."""
    by_device = ts - previous[0]
    by_hub = arrival - previous[1]
    return abs(by_hub - by_device) <= max(LIVE_SLACK, by_device / 10)


class DeviceClocks:
    """The devices' consensus about the hub's clock (see the module docstring).

    Fed and read by the ingest worker's thread; read by ``/health`` and ``/metrics`` too,
    hence the lock (the work under it is small).
    """

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._heard: dict[tuple[str, str], tuple[timedelta, float]] = {}
        # Each device's previous heartbeat (its ts, when it arrived), to tell a live one.
        self._previous: dict[tuple[str, str], tuple[datetime, datetime]] = {}
        self._lock = threading.Lock()

    def heard(self, resident: str, device: str, ts: datetime, arrival: datetime) -> None:
        """A heartbeat of a registered device, sent at ``ts`` by its clock, here at ``arrival``.

        It votes only when it came live: its gap to the device's previous heartbeat is the
        same by the device's clock and by the hub's (:func:`_live`). Heartbeats the broker
        kept for a hub that was away arrive in a burst (their gaps by arrival are near
        nothing), and a batch retried after a database outage brings the same ones again:
        neither says anything about the hub's clock, and letting them vote would make the
        outage look like a shift and every silence during it look recent.
        """
        key = (resident, device)
        distance = arrival - ts
        with self._lock:
            previous = self._previous.get(key)
            if previous is not None and ts <= previous[0]:
                return  # the same heartbeat again (a retried batch), or an older one
            self._previous[key] = (ts, arrival)
            if previous is None or not _live(previous, ts, arrival):
                return
            if abs(distance) > MAX_BUFFER_AGE:
                return  # a clock that lost its setting says nothing about the hub's
            self._heard[key] = (distance, self._monotonic())

    def shift(self) -> timedelta:
        """How far the hub's clock is ahead of its devices' (negative: behind); zero unless
        most devices heard live, and at least :data:`MIN_VOTERS` of them, agree on at least
        :data:`MIN_SHIFT`."""
        consensus = self.consensus()
        if consensus is None or abs(consensus[0]) < MIN_SHIFT:
            return timedelta(0)
        if self.agreeing(consensus[0]) < MIN_VOTERS:
            return timedelta(0)
        return consensus[0]

    def moved(self, by: timedelta) -> None:
        """The hub's own time moved by ``by``: every distance heard moves with it."""
        with self._lock:
            self._heard = {key: (d + by, at) for key, (d, at) in self._heard.items()}
            self._previous = {key: (ts, arr + by) for key, (ts, arr) in self._previous.items()}

    def agreeing(self, distance: timedelta) -> int:
        """How many devices heard live put the hub's clock within :data:`AGREE` of ``distance``."""
        with self._lock:
            return sum(1 for d, _ in self._heard.values() if abs(d - distance) <= AGREE)

    def consensus(self) -> tuple[timedelta, int] | None:
        """The distance most devices agree on and how many were heard; None without one."""
        with self._lock:
            cutoff = self._monotonic() - WINDOW
            stale = [key for key, (_, at) in self._heard.items() if at < cutoff]
            for key in stale:
                del self._heard[key]
            distances = [distance for distance, _ in self._heard.values()]
        if not distances:
            return None
        middle = statistics.median_low(distances)
        agreeing = sum(1 for d in distances if abs(d - middle) <= AGREE)
        if 2 * agreeing <= len(distances):
            return None
        return middle, len(distances)


@dataclass(frozen=True, slots=True)
class References:
    """What the machine's references said at ``checked_at`` (monotonic)."""

    database_skew_s: float | None = None
    database: str | None = None
    ntp_synchronized: bool | None = None
    ntp_source: str | None = None
    checked_at: float | None = None


class ClockCheck:
    """The hub's clock against its devices and the machine's references (module docstring)."""

    def __init__(
        self,
        devices: DeviceClocks,
        engine: Engine | None,
        clock: Callable[[], datetime],
        max_skew_s: float,
        steady: SteadyClock | None = None,
    ) -> None:
        self.devices = devices
        self._steady = steady
        self._engine = engine
        self._clock = clock
        self.max_skew_s = max_skew_s
        self.references = References()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="anbu-clock-check", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.check_references()
            self.confirm_step()
            self._stop.wait(CHECK_EVERY_S)

    def confirm_step(self) -> bool:
        """Take a held step of the wall clock when the devices confirm it (see
        :mod:`hub.steady_clock`): most of them, and at least :data:`MIN_VOTERS`, put the
        hub's time what it holds away from theirs. Returns whether it was taken."""
        if self._steady is None:
            return False
        held = self._steady.held
        consensus = self.devices.consensus()
        if abs(held) < MIN_SHIFT or consensus is None:
            return False
        if abs(consensus[0] - held) > AGREE or self.devices.agreeing(consensus[0]) < MIN_VOTERS:
            return False
        released = self._steady.release()
        self.devices.moved(-released)
        return True

    def check_references(self) -> References:
        """Ask the database and NTP now (at most a few seconds); kept for the reports."""
        skew, name = self._database_skew()
        synced, source = ntp_status()
        self.references = References(skew, name, synced, source, time.monotonic())
        if skew is not None and abs(skew) > self.max_skew_s:
            log.warning("clock.database_disagrees", skew_s=round(skew, 1), database=name)
        return self.references

    def _database_skew(self) -> tuple[float | None, str | None]:
        if self._engine is None:
            return None, None
        try:
            with reading(self._engine) as conn:
                before = self._clock()
                theirs = database_now(conn)
                after = self._clock()
        except Exception:
            return None, self._engine.dialect.name
        if theirs is None:
            return None, self._engine.dialect.name
        ours = before + (after - before) / 2
        return (ours - theirs).total_seconds(), self._engine.dialect.name

    def report(self) -> dict[str, Any]:
        """``/health``'s ``clock``: ``skew_s`` is the hub's clock minus its devices' (the
        offset the intake acts on), or the database's when no devices are heard."""
        consensus = self.devices.consensus()
        refs = self.references
        devices_skew = None if consensus is None else consensus[0].total_seconds()
        skew, source = devices_skew, "devices"
        if skew is None and refs.database_skew_s is not None:
            skew, source = refs.database_skew_s, refs.database or "database"
        if skew is None:
            source = "none"
        return {
            "hub_time": self._clock().isoformat(),
            "skew_s": None if skew is None else round(skew, 1),
            "source": source,
            "devices_skew_s": None if devices_skew is None else round(devices_skew, 1),
            "devices_heard": 0 if consensus is None else consensus[1],
            "shift_s": round(self.devices.shift().total_seconds(), 1),
            "database_skew_s": (
                None if refs.database_skew_s is None else round(refs.database_skew_s, 1)
            ),
            "ntp_synchronized": refs.ntp_synchronized,
            "ntp_source": refs.ntp_source,
            "max_skew_s": self.max_skew_s,
            "ok": devices_skew is None or abs(devices_skew) <= self.max_skew_s,
            # A step of the wall clock the hub did not take at once (hub/steady_clock.py).
            **(self._steady.report() if self._steady is not None else {}),
        }


# --- NTP, where the OS says ---------------------------------------------------------------

_STA_UNSYNC: Final = 0x0040
_TIME_ERROR: Final = 5


def ntp_status() -> tuple[bool | None, str | None]:
    """Whether the system clock is NTP-synchronised, and who said so; (None, None) when
    nothing on this machine can tell."""
    kernel = _adjtimex()
    if kernel is not None:
        return kernel, "adjtimex"
    if shutil.which("timedatectl"):
        said = _run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"])
        if said in {"yes", "no"}:
            return said == "yes", "timedatectl"
    if shutil.which("chronyc"):
        said = _run(["chronyc", "-n", "tracking"])
        if said is not None and "Leap status" in said:
            return "Not synchronised" not in said, "chronyc"
    return None, None


def _adjtimex() -> bool | None:
    """The kernel's NTP state (``adjtimex`` with no changes asked, allowed to anyone)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        call = libc.adjtimex
    except (OSError, AttributeError):
        return None
    # struct timex: modes (int) first, status (int) at byte 40 on 64-bit Linux; 256 bytes
    # cover it. Zero modes only reads.
    buffer = ctypes.create_string_buffer(256)
    state = call(buffer)
    if state < 0:
        return None
    status = int.from_bytes(buffer.raw[40:44], "little", signed=True) if _is_64bit() else None
    unsynced = state == _TIME_ERROR or (status is not None and bool(status & _STA_UNSYNC))
    return not unsynced


def _is_64bit() -> bool:
    return ctypes.sizeof(ctypes.c_long) == 8


def _run(command: list[str]) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=2, check=False)  # noqa: S603 - fixed commands
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None
