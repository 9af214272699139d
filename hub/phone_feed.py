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
  900 s) and the ``battery_pct`` last reported (:mod:`hub.phone_port`). When the pings stop,
  the core marks the phone offline after ``device_offline_after_heartbeats`` intervals: a
  device problem, not the resident's inactivity (with every device offline no inactivity
  alert is planned, and ``monitoring_lost`` tells the centre).
* **time**: an event without ``ts`` happened when it arrived, on the devices' clock as the
  hub knows it (its arrival less the measured shift, :mod:`hub.clock_check`).

An ``sos`` is never refused for its ``ts`` (PROTOCOL.md: a call for help is paged whatever
its time): one the feed refuses for it is taken at its arrival, the reason a dead letter.

Input the feed refuses is kept as a dead letter (reason ``invalid_payload``, the feed's
reason as its detail) and answered with that reason; so is an event the intake refuses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import structlog
from pydantic import ValidationError

from edge.adapter import FeedError
from edge.feed import MAX_BODY, MAX_EVENTS, FeedProcessor
from edge.phone import SOS
from hub.mqtt import Incoming
from hub.phone_port import FeedClock, FeedPort, HubPhone, protocol_id
from hub.service import HubCore
from hub.store.db import Engine, reading, writing
from hub.store.events import add_dead_letter, stored_payloads
from protocol import Rejection, parse, to_json
from protocol.topics import PREFIX, device_topic

__all__ = ["FeedAnswer", "PhoneFeeds", "protocol_id"]

log = structlog.get_logger(__name__)

_PAYLOAD_KEEP: Final = 8192


@dataclass
class FeedAnswer:
    """What the sender is told: 200 with one result per event, or 400 with the reason
    (``detail``, as every refusal of the hub's API)."""

    status: int
    body: dict[str, Any]


class _TakenAtArrivalError(FeedError):
    """An ``sos`` whose ``ts`` the feed refused, taken at its arrival all the same."""

    def __init__(self, reason: str, result: dict[str, str]) -> None:
        super().__init__(reason)
        self.result = result


def _is_sos_with_ts(event: object) -> bool:
    return isinstance(event, dict) and event.get("type") == SOS and "ts" in event


@dataclass
class _Phone:
    clock: FeedClock
    port: FeedPort
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
            clock = FeedClock(at)
            port = FeedPort(clock)
            adapter = HubPhone(port)
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
        errors: list[tuple[int, str]] = []
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
                # The rest are still taken: a bad event before an sos must not lose the call.
                errors.append((index, str(exc)))
                results.append({"outcome": "refused", "detail": str(exc)})
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
        if errors:
            taken = len(results) - len(errors)
            answers = [
                self._refuse(
                    topic,
                    json.dumps(events[index], ensure_ascii=False)[:_PAYLOAD_KEEP].encode(),
                    now,
                    reason,
                    taken,
                    index,
                )
                for index, reason in errors
            ]
            answers[0].body["results"] = results
            return answers[0]
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
            protocol_id(event["id"], emergency=event.get("type") == SOS)
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
