"""Ingest: a batch of broker messages stored once each and decided, in one transaction.

Owns what happens to a message between the broker and the core: parsing (with the time it
was delivered), the dedup rule (a ``(resident, device, id)`` stored once, never decided
twice; a repeat with other content is a ``conflicting_duplicate`` dead letter), status
replays, unknown devices, dead letters for whatever cannot be taken (so bad input is kept
with its reason, never a crash), and the fall-back of a failed batch to one message at a
time. :mod:`hub.core_inputs` says what each message means to the core.

Time: each batch's heartbeats first tell :class:`hub.clock_check.DeviceClocks` how far the
hub's clock is from its devices'; messages are then judged (``future_ts``, ``ts_too_old``) on
the devices' clock as the hub knows it, ``arrival - shift``, so a wrong hub clock refuses
nothing, and decided at their times moved by that shift (:mod:`hub.core_inputs`). An
emergency out of any time bound is taken at arrival and paged; the bound it broke is kept as
a dead letter of its own reason, the payload (the device's time) with the stored event.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog

from alerts.inputs import Tick
from hub.carry_out import Ledger
from hub.clock_check import DeviceClocks
from hub.core_inputs import to_input
from hub.metrics import Tally
from hub.mqtt import Incoming
from hub.registry import Registry
from hub.store.db import Connection, Engine, reading, writing
from hub.store.errors import UNREACHABLE
from hub.store.events import add_dead_letter, last_seq, stored_payloads
from hub.store.registry import device_status, set_device_status
from hub.store.sensor_health import record_heartbeat
from hub.store.states import due_times
from hub.unit_of_work import Batch, Decider
from hub.visits import is_visit_reading
from protocol import Event, Rejection, parse, to_json

__all__ = ["Intake"]

log = structlog.get_logger(__name__)

_PAYLOAD_KEEP = 8192


def _storable(text: str, limit: int) -> str:
    """Text any backend accepts: PostgreSQL refuses NUL characters in text columns."""
    return text[:limit].replace("\x00", "\\x00")


def _event_id(event: Event) -> str:
    """The dedup id of a stored event: the protocol's ``id``; a status has none, so its state
    and time stand for it (a retained status replayed by the broker is the same one)."""
    body: Any = event.message
    if event.kind == "status":
        return f"status:{body.state}:{body.ts.isoformat()}"[:64]
    return str(body.id)


_Key = tuple[str, str, str]


def _differences(event: Event, earlier: Event | str) -> list[str]:
    """The fields in which ``event`` differs from the one stored (or taken) under its id.

    Compared as parsed messages, so what a resend may legitimately change does not count:
    the edge outbox resends the very bytes it stored, and another vendor's re-serialisation
    (key order, spacing, ``Z`` for ``+00:00``, fields the protocol does not know) says the
    same thing. An earlier payload that no longer parses counts as different throughout. An
    emergency taken in spite of its time carries the time it arrived at, not the device's:
    then ``ts`` does not count (its redelivery arrives at another time).
    """
    after: Any = event.message
    if isinstance(earlier, Event):
        before: Any = earlier.message
        timeless = earlier.ts_replaced or event.ts_replaced
    else:
        again = parse(
            f"anbu/v1/{event.resident}/{event.device}/{event.kind}",
            earlier.encode("utf-8"),
            now=after.ts,
        )
        if isinstance(again, Rejection):
            return ["payload"]
        before = again.message
        timeless = again.ts_replaced or event.ts_replaced
    fields = [name for name in type(after).model_fields if not (timeless and name == "ts")]
    return [name for name in fields if getattr(before, name, None) != getattr(after, name)]


def _renamed(event: Event, message: Incoming) -> Event:
    """``event`` under an id made from its own bytes: the same message delivered again gets
    the same id (and is a duplicate), a different one another."""
    body: Any = event.message
    digest = hashlib.sha256(message.payload).hexdigest()[:16]
    new_id = f"{str(body.id)[:40]}~{digest}"
    return dataclasses.replace(event, message=body.model_copy(update={"id": new_id}))


class Intake:
    """Stores and decides batches of MQTT messages (see the module docstring)."""

    def __init__(
        self, engine: Engine, decider: Decider, registry: Registry, first_seq: int
    ) -> None:
        self._engine = engine
        self._decider = decider
        self._registry = registry
        # Events keep the order they were taken in (an export replays them in it).
        self._seq = itertools.count(first_seq)
        self.rejected: dict[str, int] = {}
        # How far the hub's clock is from its devices' (read by /health and /metrics too).
        self.device_clocks = DeviceClocks()

    @classmethod
    def open(cls, engine: Engine, decider: Decider, registry: Registry) -> Intake:
        with reading(engine) as conn:
            return cls(engine, decider, registry, last_seq(conn) + 1)

    def ingest(
        self,
        batch: list[Incoming],
        now: datetime,
        *,
        due_first: bool = False,
        parsed: Sequence[Event | Rejection] | None = None,
    ) -> None:
        """Store and decide a batch of MQTT messages in one transaction.

        If the batch fails as a whole, each message is retried alone so one bad message
        is dead-lettered instead of holding up the others. ``due_first`` (a replay in virtual
        time, where a batch spans hours): before each of a resident's messages, that
        resident's steps due before it fire at their own times, in the same transaction.
        ``parsed`` (a replay, which read its trace already): each message as
        :func:`protocol.parse` made it at its own delivery time; taken only while the hub's
        clock agrees with its devices' (then ingest would parse it at that very time), else
        every message is parsed again.
        """
        try:
            self._ingest_tx(batch, now, due_first, parsed)
        except UNREACHABLE:
            # The database is unreachable: nothing is acknowledged, the caller retries.
            self._decider.forget()
            raise
        except Exception:
            self._decider.forget()
            if len(batch) == 1 and due_first:
                # A step due before the message failed, not the message: store and decide
                # the message; the step stays due and run_due retries it as ever.
                log.exception("ingest.due_step_failed", topic=batch[0].topic)
                self.ingest(batch, now)
                return
            if len(batch) == 1:
                log.exception("ingest.message_failed", topic=batch[0].topic)
                self._dead_letter_alone(batch[0], now, "internal_error", "hub failed on message")
                return
            log.warning("ingest.batch_failed_retrying_singly", size=len(batch))
            for message in batch:
                self.ingest([message], now, due_first=due_first)

    def _ingest_tx(
        self,
        batch: list[Incoming],
        now: datetime,
        due_first: bool,
        ahead: Sequence[Event | Rejection] | None,
    ) -> None:
        # Each message at its own delivery time when it carries one (a replayed trace).
        times = [message.received_at or now for message in batch]
        self._hear_heartbeats(batch, times, ahead)
        shift = self.device_clocks.shift()
        if ahead is not None and not shift and len(ahead) == len(batch):
            parsed = list(ahead)
        else:
            parsed = [
                parse(message.topic, message.payload, now=at - shift)
                for message, at in zip(batch, times, strict=True)
            ]
        with self._decider.unit(now) as (conn, work):
            # What each key already stands for: the stored payload, or the event taken
            # earlier in this batch (filled in by _store_event).
            contents: dict[_Key, Event | str] = dict(
                stored_payloads(
                    conn,
                    [(e.resident, e.device, _event_id(e)) for e in parsed if isinstance(e, Event)],
                )
            )
            work.stored = set(contents)
            dues = self._dues(conn, parsed) if due_first else {}
            for message, result, at in zip(batch, parsed, times, strict=True):
                if isinstance(result, Event) and result.resident in dues:
                    self._fire_before(conn, result.resident, at, work, dues)
                self._ingest_one(conn, message, result, at, work, contents, shift)

    def _hear_heartbeats(
        self,
        batch: list[Incoming],
        times: list[datetime],
        ahead: Sequence[Event | Rejection] | None,
    ) -> None:
        """Registered devices' heartbeats tell how far the hub's clock is from theirs.

        Read without the hub's time bounds (which depend on the shift being measured): a
        heartbeat parsed within them already (``ahead``) is the same message without them.
        """
        known = ahead if ahead is not None and len(ahead) == len(batch) else None
        for index, (message, at) in enumerate(zip(batch, times, strict=True)):
            if not message.topic.endswith("/heartbeat"):
                continue
            beat = known[index] if known is not None else None
            if not isinstance(beat, Event):
                beat = parse(message.topic, message.payload)
            if isinstance(beat, Event) and self._registry.knows_device(beat.resident, beat.device):
                self.device_clocks.heard(beat.resident, beat.device, beat.message.ts, at)

    def _dues(
        self, conn: Connection, parsed: list[Event | Rejection]
    ) -> dict[str, datetime | None]:
        """The stored next due step of each registered resident a batch speaks of."""
        wanted = {e.resident for e in parsed if isinstance(e, Event)} & self._registry.names.keys()
        return due_times(conn, wanted)

    def _fire_before(
        self,
        conn: Connection,
        resident_id: str,
        at: datetime,
        work: Batch,
        dues: dict[str, datetime | None],
    ) -> None:
        """Every step of ``resident_id`` due before ``at``, each at its own time."""
        decided = work.decisions.get(resident_id)
        due = decided.next_due if decided is not None else dues[resident_id]
        while due is not None and due < at:
            following = self._decider.decide(conn, resident_id, Tick(), due, work).next_due
            if following is not None and following <= due:
                break  # a step that does not move on: run_due's retry takes it from here
            due = following

    def _ingest_one(
        self,
        conn: Connection,
        message: Incoming,
        parsed: Event | Rejection,
        now: datetime,
        work: Batch,
        contents: dict[_Key, Event | str],
        shift: timedelta,
    ) -> None:
        tally = work.ledger.tally
        if isinstance(parsed, Rejection):
            self._dead_letter(conn, message, now, parsed.reason, parsed.detail, tally)
            return
        if not self._registry.knows_device(parsed.resident, parsed.device) and not (
            # A nurse's reading from a home visit: no device of the home (hub.visits).
            is_visit_reading(parsed, message)
            and parsed.resident in self._registry.names
            and self._registry.is_active(parsed.resident)
        ):
            self._dead_letter(
                conn,
                message,
                now,
                "unknown_device",
                f"device {parsed.device} is not registered for resident {parsed.resident}",
                tally,
            )
            return
        if parsed.kind == "status" and not self._newer_status(conn, parsed, tally):
            return
        taken = self._store_event(conn, parsed, message, now, work, contents)
        if taken is None:
            return
        issue = taken.taken_despite
        if issue is not None:
            # Paged all the same; the bound it broke is on record with its own reason.
            self._dead_letter(conn, message, now, issue.reason, issue.detail, tally)
        work.ledger.observed.append(taken)
        if taken.kind == "heartbeat":  # a sensor gateway's word on its sensors, for the board
            record_heartbeat(conn, taken.resident, taken.device, taken.message, now)
        core_input = to_input(taken, now, shift)
        if core_input is None:
            return
        self._decider.decide(conn, taken.resident, core_input, now, work)

    def _newer_status(self, conn: Connection, event: Event, tally: Tally) -> bool:
        """Whether a status message is news rather than a replay of the retained one.

        Statuses are taken in arrival order: a Last Will carries the time its device
        connected, so it is older than the ``online`` it follows and must still count.
        Only an exact repeat (same state, same ``ts``) is a replay.
        """
        status: Any = event.message
        online = status.state == "online"
        if device_status(conn, event.resident, event.device) == (status.ts, online):
            tally.duplicates[event.kind] += 1
            return False
        set_device_status(conn, event.resident, event.device, status.ts, online)
        tally.events[event.kind] += 1
        return True

    def _store_event(
        self,
        conn: Connection,
        event: Event,
        message: Incoming,
        now: datetime,
        work: Batch,
        contents: dict[_Key, Event | str],
    ) -> Event | None:
        """Queue the event row unless ``(resident, device, id)`` was seen: the dedup rule.
        Returns the event as taken (to be decided), or ``None`` when it is not taken.

        A repeat is dropped as a duplicate only when it says what the first said; one with
        other content under the same id (a device whose id counter restarted, say) is kept
        as a ``conflicting_duplicate`` dead letter, so it cannot vanish unseen. An emergency
        is paged all the same: taken under an id made from its content (so its own
        redelivery is still a duplicate), because a call for help is never set aside for
        its id.
        """
        dedup = (event.resident, event.device, _event_id(event))
        if dedup in work.seen or dedup in work.stored:
            differing = [] if event.kind == "status" else _differences(event, contents[dedup])
            if not differing:
                if event.kind != "status":  # counted by _newer_status already
                    work.ledger.tally.duplicates[event.kind] += 1
                return None
            renamed = _renamed(event, message) if event.kind == "emergency" else None
            again = None if renamed is None else (event.resident, event.device, _event_id(renamed))
            if again is not None and (again in work.seen or stored_payloads(conn, [again])):
                work.ledger.tally.duplicates[event.kind] += 1  # this conflict, delivered again
                return None
            detail = (
                f"id {dedup[2]!r} of device {event.device} was taken before with other "
                f"content (differs in {', '.join(differing)}); "
                + ("kept here, not decided" if again is None else f"paged as id {again[2]!r}")
            )
            self._dead_letter(
                conn, message, now, "conflicting_duplicate", detail, work.ledger.tally
            )
            if renamed is None or again is None:
                return None
            # Stored as taken, under its new id: an export replays it so.
            return self._take(
                renamed, to_json(renamed.message).decode(), now, work, contents, again
            )
        return self._take(event, message.payload.decode("utf-8"), now, work, contents, dedup)

    def _take(
        self,
        event: Event,
        text: str,
        now: datetime,
        work: Batch,
        contents: dict[_Key, Event | str],
        dedup: _Key,
    ) -> Event:
        body: Any = event.message
        work.seen.add(dedup)
        contents[dedup] = event
        if event.kind != "status":
            work.ledger.tally.events[event.kind] += 1
        work.event_rows.append(
            {
                "seq": next(self._seq),
                "resident_id": event.resident,
                "device_id": event.device,
                "event_id": dedup[2],
                "kind": event.kind,
                "ts": body.ts,
                "received_at": now,
                "payload": _storable(text, _PAYLOAD_KEEP),
            }
        )
        return event

    def _dead_letter(
        self,
        conn: Connection,
        message: Incoming,
        now: datetime,
        reason: str,
        detail: str,
        tally: Tally,
    ) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1
        tally.rejected[reason] += 1
        add_dead_letter(
            conn,
            received_at=now,
            topic=_storable(message.topic, 300),
            reason=reason,
            detail=_storable(detail, 2000),
            payload=_storable(
                message.payload[:_PAYLOAD_KEEP].decode("utf-8", "backslashreplace"),
                _PAYLOAD_KEEP,
            ),
        )
        log.info("ingest.rejected", reason=reason, topic=message.topic[:120])

    def _dead_letter_alone(
        self, message: Incoming, now: datetime, reason: str, detail: str
    ) -> None:
        ledger = Ledger()
        try:
            with writing(self._engine) as conn:
                self._dead_letter(conn, message, now, reason, detail, ledger.tally)
            self._decider.count(ledger)
        except UNREACHABLE:
            raise
        except Exception:
            # Even the dead-letter row failed: keep the raw bytes as hex so nothing is lost.
            log.exception("ingest.dead_letter_failed", topic=message.topic[:120])
            with writing(self._engine) as conn:
                add_dead_letter(
                    conn,
                    received_at=now,
                    topic=_storable(message.topic.encode().hex(), 300),
                    reason=reason,
                    detail=detail,
                    payload=message.payload[: _PAYLOAD_KEEP // 2].hex(),
                )
            self._decider.count(ledger)
