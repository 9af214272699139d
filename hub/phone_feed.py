"""Phones without an agent: their feed events (edge/FEED.md), posted to the hub, become
protocol events and go through the hub's own ingest.

Owns the conversion for a phone that posts straight to the hub (MacroDroid, Tasker, iOS
Shortcuts; ``POST /api/v1/devices/feed``, :mod:`hub.api.device_feed`). Nothing here decides
what an event means: the feed's validation is the agent's own (:class:`edge.feed.
FeedProcessor`: ``type``, ``ts``, ``id``), which feed events are the resident's doing is the
agent's phone adapter (:class:`edge.phone.PhoneAdapter`, one per phone, so a screen lit by a
notification is still ignored), and what then happens to the protocol events is
:meth:`hub.service.HubCore.ingest` — the intake's dedup, bounds, dead letters and decisions,
in its one transaction, on the ingest worker's thread like every MQTT batch.

What the agent would add on its own is added here:

* **ids**: the sender's ``id`` becomes the protocol id (``f-<id>``, or ``f~`` and a digest of
  it when it is no protocol id), so the same ``id`` twice is stored and counted once; an id
  already stored answers ``duplicate``, as the agent's feed does. Without an ``id`` each post
  is a new event.
* **heartbeats**: an ``alive`` ping, and every event the adapter ignores (it still shows the
  app is alive), is a heartbeat with ``interval_s`` (``alive`` may say its own, default
  :data:`DEFAULT_INTERVAL_S`) and the ``battery_pct`` last reported. When the pings stop,
  the core marks the phone offline after ``device_offline_after_heartbeats`` intervals (a
  device problem, ``monitoring_lost`` when it was the resident's last device), never an
  inactivity alert for a phone put to sleep.
* **time**: an event without ``ts`` happened when it arrived, on the devices' clock as the
  hub knows it (its arrival less the measured shift, :mod:`hub.clock_check`).

An ``sos`` is never refused for its ``ts`` (PROTOCOL.md: a call for help is paged whatever
its time): one the feed refuses for it is taken at its arrival, the reason a dead letter.

Input the feed refuses is kept as a dead letter (reason ``invalid_payload``, the feed's
reason as its detail) and answered with that reason; so is an event the intake refuses.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import structlog
from pydantic import BaseModel, ValidationError

from edge.adapter import FeedError, FeedResult
from edge.config import PhoneConfig
from edge.feed import MAX_BODY, MAX_EVENTS, FeedProcessor
from edge.phone import ALIVE, SOS, PhoneAdapter
from hub.mqtt import Incoming
from hub.service import HubCore
from hub.store.db import Engine, reading, writing
from hub.store.events import add_dead_letter, stored_payloads
from protocol import Rejection, parse, to_json
from protocol.models import (
    MAX_INTERVAL_S,
    Activity,
    ActivitySource,
    BloodPressure,
    Emergency,
    EmergencyTrigger,
    Heartbeat,
    VitalKind,
)
from protocol.topics import PREFIX, device_topic

__all__ = ["DEFAULT_INTERVAL_S", "FeedAnswer", "PhoneFeeds"]

log = structlog.get_logger(__name__)

DEFAULT_INTERVAL_S: Final = 900
"""An ``alive`` ping every 15 minutes (FEED.md: "every 15 min is plenty")."""
FW: Final = "anbu-feed-https"
"""A heartbeat's ``fw``: the phone has no agent; the hub made the heartbeat from its feed."""
_PAYLOAD_KEEP: Final = 8192
_ID_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_PLAIN_ID_MAX: Final = 62  # "f-" + the sender's id within the protocol's 64 characters


def protocol_id(ref: str | None) -> str:
    """The protocol id of a feed event: its sender's ``id`` when it can be one, else its
    digest (a distinct prefix, so the two never meet); a random one without an ``id``."""
    if ref is None:
        return f"f~{uuid.uuid4().hex}"
    if len(ref) <= _PLAIN_ID_MAX and not _ID_CONTROL.search(ref):
        return f"f-{ref}"
    return "f~" + hashlib.sha256(ref.encode("utf-8")).hexdigest()[:40]


@dataclass
class FeedAnswer:
    """What the sender is told: 200 with one result per event, or 400 with the reason
    (``detail``, as every refusal of the hub's API)."""

    status: int
    body: dict[str, Any]


@dataclass
class _Clock:
    """The devices' time as the hub knows it at this request (FeedProcessor's clock)."""

    at: datetime

    def now(self) -> datetime:
        return self.at


@dataclass
class _Port:
    """The agent as the phone adapter sees it: collects what it would have sent."""

    clock: _Clock
    state: dict[str, str] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)
    messages: list[tuple[Any, BaseModel, int]] = field(default_factory=list)
    index: int = 0
    """Which event of the request is being converted (its messages carry it)."""

    def now(self) -> datetime:
        return self.clock.now()

    def _claim(self, ref: str | None) -> str | None:
        event_id = protocol_id(ref)
        if event_id in self.taken:
            return None
        self.taken.add(event_id)
        return event_id

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
        event_id = self._claim(ref)
        if event_id is None:
            return False
        when = at or self.now()
        self.messages.append(
            (
                "activity",
                Activity(v=1, id=event_id, ts=when, source=source, count=count),
                self.index,
            )
        )
        return True

    def emergency(
        self,
        trigger: EmergencyTrigger,
        text: str | None = None,
        at: datetime | None = None,
        *,
        ref: str | None = None,
        cancel_of: str | None = None,
    ) -> str | None:
        event_id = self._claim(ref)
        if event_id is None:
            return None
        message = Emergency(
            v=1,
            id=event_id,
            ts=at or self.now(),
            trigger=trigger,
            text=text[:500] if text else None,
            cancel_of=cancel_of,
        )
        self.messages.append(("emergency", message, self.index))
        return event_id

    def heartbeat(
        self, at: datetime, ref: str | None, interval_s: int, battery: int | None
    ) -> bool:
        event_id = self._claim(ref)
        if event_id is None:
            return False
        beat = Heartbeat(v=1, id=event_id, ts=at, interval_s=interval_s, battery_pct=battery, fw=FW)
        self.messages.append(("heartbeat", beat, self.index))
        return True

    def vitals(
        self,
        kind: VitalKind,
        value: float | BloodPressure,
        at: datetime | None = None,
        *,
        ref: str | None = None,
    ) -> str | None:
        """A phone's feed carries no readings (the phone adapter never sends any)."""
        return None

    def answer_checkin(self, request_id: str, *, answered: bool, text: str | None = None) -> None:
        """A phone without an agent cannot be asked (the adapter never answers either)."""

    def heartbeat_now(self) -> None:
        """Heartbeats go with the events that show the app alive (:class:`_HubPhone`)."""

    def set_presence(self, online: bool) -> None:
        """Presence is the core's to judge from the heartbeats' gaps, not the adapter's."""

    def get_state(self, key: str) -> str | None:
        return self.state.get(key)

    def put_state(self, key: str, value: str | None) -> None:
        if value is None:
            self.state.pop(key, None)
        else:
            self.state[key] = value


class _TakenAtArrivalError(FeedError):
    """An ``sos`` whose ``ts`` the feed refused, taken at its arrival all the same."""

    def __init__(self, reason: str, result: dict[str, str]) -> None:
        super().__init__(reason)
        self.result = result


def _is_sos_with_ts(event: object) -> bool:
    return isinstance(event, dict) and event.get("type") == SOS and "ts" in event


def _interval(event: Mapping[str, Any]) -> int:
    value = event.get("interval_s", DEFAULT_INTERVAL_S)
    if isinstance(value, bool) or not isinstance(value, int) or not 60 <= value <= MAX_INTERVAL_S:
        msg = f"'interval_s' must be an integer of 60-{MAX_INTERVAL_S} seconds"
        raise FeedError(msg)
    return value


class _HubPhone(PhoneAdapter):
    """The agent's phone adapter, plus the heartbeats the agent would have sent."""

    def __init__(self, port: _Port) -> None:
        super().__init__(PhoneConfig())
        self.port = port
        self.start(port)

    def handle_feed(self, event: Mapping[str, Any], at: datetime, ref: str | None) -> FeedResult:
        interval = _interval(event) if event.get("type") == ALIVE else DEFAULT_INTERVAL_S
        result = super().handle_feed(event, at, ref)
        alive = result.outcome == "ignored" or (
            result.outcome == "accepted" and result.detail == ALIVE
        )
        # The app is alive, though the resident did nothing: a heartbeat says so.
        if alive and not self.port.heartbeat(at, ref, interval, self.battery_pct()):
            return FeedResult("duplicate")
        return result


@dataclass
class _Phone:
    clock: _Clock
    port: _Port
    processor: FeedProcessor


class PhoneFeeds:
    """The phones posting to this hub; call :meth:`take` on the ingest worker's thread."""

    def __init__(self, engine: Engine, core: HubCore) -> None:
        self._engine = engine
        self._core = core
        # One adapter per phone, so what it remembers (a notification just now) carries over
        # from one post to the next, as in the agent. Only the worker thread touches it.
        self._phones: dict[tuple[str, str], _Phone] = {}

    def _phone(self, resident: str, device: str, at: datetime) -> _Phone:
        phone = self._phones.get((resident, device))
        if phone is None:
            clock = _Clock(at)
            port = _Port(clock)
            adapter = _HubPhone(port)
            phone = _Phone(clock, port, FeedProcessor(adapter, clock, dict))
            self._phones[(resident, device)] = phone
        phone.clock.at = at
        phone.port.messages.clear()
        phone.port.taken.clear()
        return phone

    def take(self, resident: str, device: str, body: bytes, now: datetime) -> FeedAnswer:
        """One request's body: its events converted, ingested, and each one's outcome."""
        # Where its dead letters say it came from: the device's own namespace, kind "feed".
        topic = f"{PREFIX}/{resident}/{device}/feed"
        if len(body) > MAX_BODY:
            return self._refuse(topic, body, now, "body too large", 0)
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return self._refuse(topic, body, now, "body is not JSON", 0)
        events: list[Any] = data if isinstance(data, list) else [data]
        if len(events) > MAX_EVENTS:
            return self._refuse(topic, body, now, f"at most {MAX_EVENTS} events per request", 0)
        at = now - self._core.device_clocks.shift()
        phone = self._phone(resident, device, at)
        phone.port.taken |= self._stored(resident, device, events)
        results: list[dict[str, str]] = []
        error: tuple[int, str] | None = None
        for index, event in enumerate(events):
            phone.port.index = index
            try:
                results.append(self._convert(phone, event))
            except _TakenAtArrivalError as exc:
                # A call for help is never refused for its time (PROTOCOL.md): taken at its
                # arrival, the bound it broke kept as a dead letter of its own.
                results.append(exc.result)
                sent = json.dumps(event, ensure_ascii=False).encode()
                self._dead_letter(topic, sent, now, f"event {index}: sos taken at arrival: {exc}")
            except FeedError as exc:
                error = (index, str(exc))
                break
        batch = [
            Incoming(
                topic=device_topic(resident, device, kind),
                payload=to_json(message),
                mid=0,
                qos=1,
                retain=False,
                generation=0,
            )
            for kind, message, _ in phone.port.messages
        ]
        if batch:
            self._core.ingest(batch, now)
        refused = self._refused_by_intake(resident, device, batch, at)
        for (_, _, index), reason in zip(phone.port.messages, refused, strict=True):
            if reason is not None:
                results[index] = {"outcome": "refused", "detail": reason}
        reasons = [reason for reason in refused if reason is not None]
        if error is not None:
            index, reason = error
            raw = json.dumps(events[index], ensure_ascii=False)[:_PAYLOAD_KEEP]
            return self._refuse(topic, raw.encode(), now, reason, len(results), index)
        if reasons:
            # Kept as dead letters by the intake; the sender hears the first reason.
            return FeedAnswer(400, {"detail": reasons[0], "results": results})
        return FeedAnswer(200, {"results": results})

    @staticmethod
    def _convert(phone: _Phone, event: object) -> dict[str, str]:
        """One event through the agent's feed rules; FeedError with a reason for the sender
        (an event the protocol's models refuse, e.g. a ``ts`` before 1970, included)."""
        try:
            return phone.processor.process(event)
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(part) for part in first["loc"])
            reason = f"{first['type']}: {where} {first['msg']}"
            if not _is_sos_with_ts(event):
                raise FeedError(reason) from None
        except FeedError as exc:
            if not _is_sos_with_ts(event):
                raise
            reason = str(exc)
        if not isinstance(event, dict):  # _is_sos_with_ts said it is one
            raise FeedError(reason)
        result = phone.processor.process({k: v for k, v in event.items() if k != "ts"})
        raise _TakenAtArrivalError(reason, result)

    def _stored(self, resident: str, device: str, events: list[Any]) -> set[str]:
        """The protocol ids among this request's that the hub has stored already."""
        ids = {
            protocol_id(event["id"])
            for event in events
            if isinstance(event, dict) and isinstance(event.get("id"), str) and event["id"]
        }
        if not ids:
            return set()
        with reading(self._engine) as conn:
            found = stored_payloads(conn, [(resident, device, i) for i in sorted(ids)])
        return {key[2] for key in found}

    def _refused_by_intake(
        self, resident: str, device: str, batch: list[Incoming], at: datetime
    ) -> list[str | None]:
        """For each message of ``batch``, why the intake did not store it (it kept it as a
        dead letter): the protocol's own verdict on the same bytes; None when stored."""
        if not batch:
            return []
        keys = []
        for message in batch:
            event_id = json.loads(message.payload)["id"]
            keys.append((resident, device, str(event_id)))
        with reading(self._engine) as conn:
            stored = stored_payloads(conn, keys)
        reasons: list[str | None] = []
        for message, key in zip(batch, keys, strict=True):
            if key in stored:
                reasons.append(None)
                continue
            verdict = parse(message.topic, message.payload, now=at)
            if isinstance(verdict, Rejection):
                reasons.append(f"{verdict.reason}: {verdict.detail}")
            else:
                reasons.append("not taken by the hub (see its dead letters)")
        return reasons

    def _dead_letter(self, topic: str, payload: bytes, now: datetime, detail: str) -> None:
        """Kept with its reason, as the intake keeps a bad MQTT message."""
        with writing(self._engine) as conn:
            add_dead_letter(
                conn,
                received_at=now,
                topic=topic[:300],
                reason="invalid_payload",
                detail=detail[:2000],
                payload=payload[:_PAYLOAD_KEEP]
                .decode("utf-8", "backslashreplace")
                .replace("\x00", "\\x00"),
            )
        log.info("feed.rejected", reason="invalid_payload", topic=topic[:120])

    def _refuse(
        self,
        topic: str,
        payload: bytes,
        now: datetime,
        reason: str,
        taken: int,
        index: int | None = None,
    ) -> FeedAnswer:
        """Bad input: kept as a dead letter, as the intake keeps a bad MQTT message."""
        detail = reason if index is None else f"event {index}: {reason}"
        self._dead_letter(topic, payload, now, detail)
        return FeedAnswer(400, {"detail": detail, "taken": taken})
