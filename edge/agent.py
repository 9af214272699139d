"""The edge agent core: one device's heartbeat, events, commands and outbox, any adapter.

The agent turns adapter calls into protocol messages in the outbox (see :mod:`edge.outbox`),
sends heartbeats while connected, folds activity per source, and hands commands from the hub
to the adapter. Time comes from an injected clock and all time-driven work happens in
:meth:`Agent.tick`, so tests can drive hours of device life in virtual time.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from pydantic import TypeAdapter, ValidationError

from alerts.clock import Clock, SystemClock
from edge.adapter import Adapter
from edge.config import EdgeConfig
from edge.link import MqttLink
from edge.outbox import Outbox, new_event_id
from protocol.models import (
    VITAL_UNITS,
    ActivitySource,
    BloodPressure,
    CheckinAnswer,
    CheckinCommand,
    Command,
    ConfigCommand,
    Emergency,
    EmergencyTrigger,
    Heartbeat,
    VitalKind,
    Vitals,
    to_json,
)

log = structlog.get_logger(__name__)

AGENT_VERSION = "anbu-edge 0.1.0"
_COMMAND = TypeAdapter[CheckinCommand | ConfigCommand](Command)
_MAX_WAIT_S = 1.0


class Agent:
    """An edge agent: config + clock + outbox + link + one adapter."""

    def __init__(
        self,
        config: EdgeConfig,
        adapter: Adapter,
        *,
        clock: Clock | None = None,
        link_factory: Callable[[Agent], MqttLink] | None = None,
    ) -> None:
        self.config = config
        self.adapter = adapter
        self.clock: Clock = clock or SystemClock()
        self.outbox = Outbox(config.outbox, max_rows=config.outbox_max, fold_s=config.fold_s)
        self.link = (link_factory or _default_link)(self)
        self._commands: queue.SimpleQueue[CheckinCommand | ConfigCommand] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._next_heartbeat: datetime | None = None
        self._online = True
        saved = self.outbox.get("heartbeat_s")
        self.heartbeat_s = int(saved) if saved else config.heartbeat_s

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Connect and start the adapter; :meth:`run` or :meth:`tick` does the rest."""
        self.link.start()
        self.adapter.start(self)

    def run(self) -> None:
        """Tick until :meth:`stop` (the agent's main loop, on the calling thread)."""
        while not self._stop.is_set():
            due = self.tick()
            wait = _MAX_WAIT_S
            if due is not None:
                wait = min(wait, max(0.0, (due - self.clock.now()).total_seconds()))
            self._wake.wait(wait)
            self._wake.clear()

    def stop(self) -> None:
        """Ask :meth:`run` to return (safe from a signal handler or another thread)."""
        self._stop.set()
        self._wake.set()

    def close(self, *, announce_offline: bool = True) -> None:
        """Stop adapter and link, close the outbox; queued events stay on disk for next time.

        Call after :meth:`run` has returned.
        """
        self.stop()
        self.adapter.stop()
        self.link.stop(announce_offline=announce_offline)
        self.outbox.close()

    # -- what adapters call (AgentPort) -------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now()

    def activity(
        self,
        source: ActivitySource,
        at: datetime | None = None,
        *,
        count: int = 1,
        ref: str | None = None,
        sensor: str | None = None,
        signal: str | None = None,
    ) -> bool:
        """The resident did something; False if ``ref`` was already taken."""
        taken = self.outbox.record_activity(
            source,
            at or self.clock.now(),
            self.clock.now(),
            count=count,
            ref=ref,
            sensor=sensor,
            signal=signal,
        )
        self._wake.set()
        return taken

    def emergency(
        self,
        trigger: EmergencyTrigger,
        text: str | None = None,
        at: datetime | None = None,
        *,
        ref: str | None = None,
        cancel_of: str | None = None,
    ) -> str | None:
        """A call for help (or, with ``cancel_of``, its withdrawal): urgent lane, never shed.

        Returns the event id, or None if ``ref`` was already taken.
        """
        event_id = new_event_id("emergency")
        when = at or self.clock.now()
        message = Emergency(
            v=1,
            id=event_id,
            ts=when,
            trigger=trigger,
            text=text[:500] if text else None,
            cancel_of=cancel_of,
        )
        if not self.outbox.add("emergency", event_id, when, to_json(message), urgent=True, ref=ref):
            return None
        log.warning(
            "emergency cancel queued" if cancel_of else "emergency queued",
            event_id=event_id,
            trigger=trigger,
        )
        self._wake.set()
        return event_id

    def answer_checkin(self, request_id: str, *, answered: bool, text: str | None = None) -> None:
        """The resident's answer (or silence) to a check-in."""
        event_id = new_event_id("checkin")
        when = self.clock.now()
        message = CheckinAnswer(
            v=1,
            id=event_id,
            ts=when,
            request_id=request_id,
            answered=answered,
            text=text[:500] if text else None,
        )
        self.outbox.add("checkin", event_id, when, to_json(message))
        self._wake.set()

    def vitals(
        self,
        kind: VitalKind,
        value: float | BloodPressure,
        at: datetime | None = None,
        *,
        ref: str | None = None,
    ) -> str | None:
        """A reading from a home health device; like an answer, never folded or shed.

        Returns the event id, or None if ``ref`` was already taken.
        """
        event_id = new_event_id("vitals")
        when = at or self.clock.now()
        message = Vitals(v=1, id=event_id, ts=when, kind=kind, value=value, unit=VITAL_UNITS[kind])
        if not self.outbox.add("vitals", event_id, when, to_json(message), ref=ref):
            return None
        self._wake.set()
        return event_id

    def set_presence(self, online: bool) -> None:
        """Tell the hub the device can (not) see the resident; heartbeats stop while not."""
        if online == self._online:
            return
        self._online = online
        self.link.set_presence("online" if online else "offline")
        self._next_heartbeat = None if online else self._next_heartbeat
        log.warning("device presence changed", online=online)

    def heartbeat_now(self) -> None:
        """Send a heartbeat at the next tick (what the adapter can see has just changed)."""
        self._next_heartbeat = None
        self._wake.set()

    def get_state(self, key: str) -> str | None:
        return self.outbox.get(key)

    def put_state(self, key: str, value: str | None) -> None:
        self.outbox.put(key, value)

    # -- from the hub -------------------------------------------------------------------

    def handle_command(self, payload: bytes) -> None:
        """A message on the device's ``cmd`` topic (called on the link's thread)."""
        try:
            command = _COMMAND.validate_json(payload)
        except ValidationError as exc:
            log.error("bad command from hub", errors=exc.error_count())
            return
        self._commands.put(command)
        self._wake.set()

    def _apply_command(self, command: CheckinCommand | ConfigCommand) -> None:
        if isinstance(command, ConfigCommand):
            if command.heartbeat_s != self.heartbeat_s:
                self.heartbeat_s = command.heartbeat_s
                self.outbox.put("heartbeat_s", str(command.heartbeat_s))
                self._next_heartbeat = None
                log.info("heartbeat interval changed", heartbeat_s=self.heartbeat_s)
            return
        if command.expires_ts <= self.clock.now():
            log.info("check-in expired before it arrived", request_id=command.id)
            return
        self.adapter.on_checkin(command)

    # -- time ---------------------------------------------------------------------------

    def tick(self) -> datetime | None:
        """Do what is due now; returns when something is next due."""
        now = self.clock.now()
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                break
            self._apply_command(command)
        self.outbox.flush_folds(now)
        dues: list[datetime | None] = [self.outbox.next_fold_due(), self.adapter.tick(now)]
        dues.append(self._heartbeat(now))
        return min((d for d in dues if d is not None), default=None)

    def _heartbeat(self, now: datetime) -> datetime | None:
        if not self._online:
            return None
        if self._next_heartbeat is not None and now < self._next_heartbeat:
            return self._next_heartbeat
        if not self.link.connected:
            return now + timedelta(seconds=1)  # the first one goes out as soon as we connect
        extras = self.adapter.heartbeat_extras()
        beat = Heartbeat(
            v=1,
            id=new_event_id("heartbeat"),
            ts=now,
            interval_s=self.heartbeat_s,
            battery_pct=self.adapter.battery_pct(),
            fw=f"{AGENT_VERSION} {self.config.kind}",
            sensing=extras.sensing,
            sensing_problem=extras.sensing_problem,
            sensors=extras.sensors,
        )
        self.link.send_live("heartbeat", to_json(beat))
        self._next_heartbeat = now + timedelta(seconds=self.heartbeat_s)
        return self._next_heartbeat


def _default_link(agent: Agent) -> MqttLink:
    config = agent.config
    return MqttLink(
        url=config.mqtt_url,
        resident=config.resident,
        device=config.device,
        outbox=agent.outbox,
        clock=agent.clock,
        on_command=agent.handle_command,
        will_delay_s=config.will_delay_s,
        keepalive_s=config.keepalive_s,
        inflight=config.inflight,
    )
