"""Load → decide → carry out: the hub's one writer around the pure escalation core.

Everything that changes a resident's state runs here, on the ingest worker's thread, inside
one database transaction per batch: the event rows, the new core state, and, through
:class:`hub.carry_out.CarryOut`, the alert rows and the outbox rows of every notification.
What a transaction counted lives on its unit of work, not on the object. Only after the
commit are MQTT messages acknowledged and the dispatcher woken, so a crash at any point
either loses nothing or repeats work that the unique keys make harmless.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import InterfaceError, OperationalError

from alerts.actions import (
    Action,
    Notify,
)
from alerts.engine import Decision, Escalation
from alerts.inputs import Input, RegisterDevice, Tick
from alerts.policy import DEFAULT_POLICY
from alerts.state import ResidentState
from hub.carry_out import CarryOut, Ledger
from hub.ingest import to_input
from hub.metrics import HubMetrics, Tally
from hub.mqtt import Incoming
from hub.notify.compose import Composer
from hub.notify.quiet import parse_quiet_hours
from hub.settings import Settings
from hub.store.digest_queue import next_digest_at
from hub.store.events import stored_keys
from hub.store.rows import add_timeline, has_outbox
from hub.store.rows import idempotency_key as _key
from hub.store.states import (
    due_now,
    due_times,
    earliest_due,
    load_states,
    postpone,
    save_state,
    save_states,
)
from hub.store.tables import (
    alerts,
    contacts,
    dead_letters,
    devices,
    events,
    outbox,
    residents,
)
from hub.telemetry import Telemetry
from protocol import AlertChange, Event, Rejection, parse

log = structlog.get_logger(__name__)

_PAYLOAD_KEEP = 8192
TICK_RETRY = timedelta(seconds=30)


class NotFoundError(LookupError):
    """The resident, device or alert named does not exist."""


class ConflictError(ValueError):
    """The thing to create exists already."""


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


@dataclass
class _Batch:
    """What one transaction has changed, written at its end and cached only after commit.

    Event rows and resident states are written once per batch, not once per message:
    a resident with fifty events in a batch costs one state write.
    """

    states: dict[str, ResidentState] = field(default_factory=dict)
    decisions: dict[str, Decision] = field(default_factory=dict)
    seen: set[tuple[str, str, str]] = field(default_factory=set)
    stored: set[tuple[str, str, str]] = field(default_factory=set)
    event_rows: list[dict[str, Any]] = field(default_factory=list)
    ledger: Ledger = field(default_factory=Ledger)
    """What this transaction counted and saw: metrics and telemetry get it on commit."""


class HubCore:
    """The hub's state machine around :class:`alerts.engine.Escalation`.

    Not thread-safe by design: the ingest worker is its only caller.
    """

    def __init__(
        self,
        engine: Engine,
        escalation: Escalation,
        settings: Settings,
        *,
        metrics: HubMetrics | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._engine = engine
        self._metrics = metrics
        self.telemetry = telemetry
        self._districts: dict[str, str] = {}
        # Every registered (resident, device) and its kind: ingest checks membership here.
        self._device_kinds: dict[tuple[str, str], str] = {}
        self._escalation = escalation
        self._settings = settings
        self.composer = Composer(settings)
        self._states: dict[str, ResidentState] = {}
        self._names: dict[str, str] = {}
        self._carry = CarryOut(
            settings,
            self.composer,
            escalation.calendar,
            name_of=lambda resident_id: self._names.get(resident_id, resident_id),
            on_action=self.carried_out,
        )
        self._load_registry()
        with self._engine.connect() as conn:
            # Events keep the order they were taken in (an export replays them in it).
            last = conn.execute(select(func.max(events.c.seq))).scalar()
        self._seq = itertools.count((last or 0) + 1)
        # The link key is made (or read) in a transaction of its own, so a rolled-back batch
        # can never leave links signed with a key the database does not keep.
        with self._engine.begin() as conn:
            self.composer.signer(conn)
        self.rejected: dict[str, int] = {}

    # ----------------------------------------------------------------- registry

    def _load_registry(self) -> None:
        with self._engine.connect() as conn:
            people = conn.execute(
                select(residents.c.id, residents.c.name, residents.c.district)
            ).all()
            self._device_kinds = {
                (r.resident_id, r.id): r.kind
                for r in conn.execute(select(devices.c.resident_id, devices.c.id, devices.c.kind))
            }
        self._names = {r.id: r.name for r in people}
        self._districts = {r.id: r.district for r in people}

    def register_resident(self, data: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        overrides = dict(data.get("policy") or {})
        policy = DEFAULT_POLICY.with_overrides(overrides)
        resident_id = str(data["id"])
        state = ResidentState.new(resident_id, policy, now)
        with self._engine.begin() as conn:
            if conn.execute(select(residents.c.id).where(residents.c.id == resident_id)).first():
                raise ConflictError(f"resident {resident_id} exists")
            conn.execute(
                insert(residents).values(
                    id=resident_id,
                    name=data["name"],
                    district=data["district"],
                    phone=data.get("phone"),
                    address=data.get("address"),
                    policy=policy.model_dump(mode="json", include=set(overrides)),
                    created_at=now,
                )
            )
            decision = self._escalation.decide(state, Tick(), now)
            save_state(conn, decision, now)
        self._states[resident_id] = decision.state
        self._names[resident_id] = str(data["name"])
        self._districts[resident_id] = str(data["district"])
        return {"id": resident_id, "policy": policy.model_dump(mode="json")}

    def register_device(self, resident_id: str, device_id: str, kind: str, now: datetime) -> None:
        with self._unit(now) as (conn, work):
            self._require_resident(conn, resident_id)
            if (resident_id, device_id) in self._device_kinds:
                raise ConflictError(f"device {device_id} exists")
            conn.execute(
                insert(devices).values(
                    resident_id=resident_id,
                    id=device_id,
                    kind=kind,
                    registered_at=now,
                    online=True,
                )
            )
            self._decide(
                conn,
                resident_id,
                RegisterDevice(device=device_id, kind=kind),  # type: ignore[arg-type]
                now,
                work,
            )
        self._device_kinds[(resident_id, device_id)] = kind

    @property
    def engine(self) -> Engine:
        return self._engine

    def resident_exists(self, resident_id: str) -> bool:
        try:
            with self._engine.connect() as conn:
                self._require_resident(conn, resident_id)
        except NotFoundError:
            return False
        return True

    def add_contact(
        self,
        resident_id: str,
        role: str,
        name: str,
        phone: str,
        now: datetime,
        *,
        quiet_hours: str | None = None,
        backup: bool = False,
    ) -> int:
        if quiet_hours is not None:
            parse_quiet_hours(quiet_hours)
        with self._engine.begin() as conn:
            self._require_resident(conn, resident_id)
            result = conn.execute(
                insert(contacts).values(
                    resident_id=resident_id,
                    role=role,
                    name=name,
                    phone=phone,
                    quiet_hours=quiet_hours,
                    backup=backup,
                    created_at=now,
                )
            )
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    def change_policy(
        self, resident_id: str, overrides: Mapping[str, Any], now: datetime
    ) -> dict[str, Any]:
        """A new policy version for the resident; open alerts keep the one they opened with."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(residents.c.policy, residents.c.policy_version).where(
                    residents.c.id == resident_id
                )
            ).first()
        if row is None:
            raise NotFoundError(f"resident {resident_id} not found")
        merged = {**dict(row.policy or {}), **dict(overrides)}
        policy = DEFAULT_POLICY.with_overrides(merged)
        version = int(row.policy_version) + 1
        with self._unit(now) as (conn, work):
            conn.execute(
                update(residents)
                .where(residents.c.id == resident_id)
                .values(
                    policy=policy.model_dump(mode="json", include=set(merged)),
                    policy_version=version,
                )
            )
            state = self._state(conn, resident_id, work)
            work.states[resident_id] = state.model_copy(update={"policy": policy})
            self._decide(conn, resident_id, Tick(), now, work)
        return {
            "id": resident_id,
            "policy_version": version,
            "policy": policy.model_dump(mode="json"),
        }

    def _require_resident(self, conn: Connection, resident_id: str) -> None:
        if resident_id not in self._names:
            row = conn.execute(select(residents.c.name).where(residents.c.id == resident_id))
            found = row.first()
            if found is None:
                raise NotFoundError(f"resident {resident_id} not found")
            self._names[resident_id] = found.name

    # ------------------------------------------------------------------ ingest

    def ingest(self, batch: list[Incoming], now: datetime, *, due_first: bool = False) -> None:
        """Store and decide a batch of MQTT messages in one transaction.

        If the batch fails as a whole, each message is retried alone so one bad message
        is dead-lettered instead of holding up the others. ``due_first`` (a replay in virtual
        time, where a batch spans hours): before each of a resident's messages, that
        resident's steps due before it fire at their own times, in the same transaction.
        """
        try:
            self._ingest_tx(batch, now, due_first)
        except (OperationalError, InterfaceError):
            # The database is unreachable: nothing is acknowledged, the caller retries.
            self._states.clear()
            raise
        except Exception:
            self._states.clear()
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

    @contextmanager
    def _unit(self, now: datetime) -> Iterator[tuple[Connection, _Batch]]:
        """One transaction: its batched writes go in at the end, caches update on commit."""
        work = _Batch()
        with self._engine.begin() as conn:
            yield conn, work
            if work.event_rows:
                conn.execute(insert(events), work.event_rows)
            save_states(conn, list(work.decisions.values()), now)
        self._states.update(work.states)
        self._count_committed(work.ledger.tally)
        self._offer_telemetry(work.ledger.observed)

    def _offer_telemetry(self, observed: list[Event | AlertChange]) -> None:
        if self.telemetry is None or not observed:
            return
        try:
            self.telemetry.observe(observed, self._districts, self._device_kinds)
        except Exception:  # the TSDB is a side view: it never fails what has committed
            log.exception("telemetry.offer_failed", items=len(observed))

    def _count_committed(self, tally: Tally) -> None:
        if self._metrics is not None:
            self._metrics.add(tally)

    def _ingest_tx(self, batch: list[Incoming], now: datetime, due_first: bool) -> None:
        # Each message at its own delivery time when it carries one (a replayed trace).
        times = [message.received_at or now for message in batch]
        parsed = [
            parse(message.topic, message.payload, now=at)
            for message, at in zip(batch, times, strict=True)
        ]
        with self._unit(now) as (conn, work):
            work.stored = self._already_stored(conn, parsed)
            dues = self._dues(conn, parsed) if due_first else {}
            for message, result, at in zip(batch, parsed, times, strict=True):
                if isinstance(result, Event) and result.resident in dues:
                    self._fire_before(conn, result.resident, at, work, dues)
                self._ingest_one(conn, message, result, at, work)

    def _dues(
        self, conn: Connection, parsed: list[Event | Rejection]
    ) -> dict[str, datetime | None]:
        """The stored next due step of each registered resident a batch speaks of."""
        wanted = {e.resident for e in parsed if isinstance(e, Event)} & self._names.keys()
        return due_times(conn, wanted)

    def _fire_before(
        self,
        conn: Connection,
        resident_id: str,
        at: datetime,
        work: _Batch,
        dues: dict[str, datetime | None],
    ) -> None:
        """Every step of ``resident_id`` due before ``at``, each at its own time."""
        decided = work.decisions.get(resident_id)
        due = decided.next_due if decided is not None else dues[resident_id]
        while due is not None and due < at:
            following = self._decide(conn, resident_id, Tick(), due, work).next_due
            if following is not None and following <= due:
                break  # a step that does not move on: run_due's retry takes it from here
            due = following

    def _already_stored(
        self, conn: Connection, parsed: list[Event | Rejection]
    ) -> set[tuple[str, str, str]]:
        keys = [
            (event.resident, event.device, _event_id(event))
            for event in parsed
            if isinstance(event, Event)
        ]
        return stored_keys(conn, keys)

    def _ingest_one(
        self,
        conn: Connection,
        message: Incoming,
        parsed: Event | Rejection,
        now: datetime,
        work: _Batch,
    ) -> None:
        tally = work.ledger.tally
        if isinstance(parsed, Rejection):
            self._dead_letter(conn, message, now, parsed.reason, parsed.detail, tally)
            return
        if (parsed.resident, parsed.device) not in self._device_kinds:
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
        if not self._store_event(parsed, message, now, work):
            return
        work.ledger.observed.append(parsed)
        core_input = to_input(parsed, now)
        if core_input is None:
            return
        self._decide(conn, parsed.resident, core_input, now, work)

    def _newer_status(self, conn: Connection, event: Event, tally: Tally) -> bool:
        """Whether a status message is news rather than a replay of the retained one.

        Statuses are taken in arrival order: a Last Will carries the time its device
        connected, so it is older than the ``online`` it follows and must still count.
        Only an exact repeat (same state, same ``ts``) is a replay.
        """
        status: Any = event.message
        online = status.state == "online"
        where = (devices.c.resident_id == event.resident) & (devices.c.id == event.device)
        row = conn.execute(select(devices.c.status_at, devices.c.online).where(where)).first()
        if row is not None and row.status_at == status.ts and row.online == online:
            tally.duplicates[event.kind] += 1
            return False
        conn.execute(update(devices).where(where).values(status_at=status.ts, online=online))
        tally.events[event.kind] += 1
        return True

    def _store_event(self, event: Event, message: Incoming, now: datetime, work: _Batch) -> bool:
        """Queue the event row unless ``(resident, device, id)`` was seen: the dedup rule."""
        body: Any = event.message
        dedup = (event.resident, event.device, _event_id(event))
        if dedup in work.seen or dedup in work.stored:
            if event.kind != "status":  # counted by _newer_status already
                work.ledger.tally.duplicates[event.kind] += 1
            return False
        work.seen.add(dedup)
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
                "payload": _storable(message.payload.decode("utf-8"), _PAYLOAD_KEEP),
            }
        )
        return True

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
        conn.execute(
            insert(dead_letters).values(
                received_at=now,
                topic=_storable(message.topic, 300),
                reason=reason,
                detail=_storable(detail, 2000),
                payload=_storable(
                    message.payload[:_PAYLOAD_KEEP].decode("utf-8", "backslashreplace"),
                    _PAYLOAD_KEEP,
                ),
            )
        )
        log.info("ingest.rejected", reason=reason, topic=message.topic[:120])

    def _dead_letter_alone(
        self, message: Incoming, now: datetime, reason: str, detail: str
    ) -> None:
        tally = Tally()
        try:
            with self._engine.begin() as conn:
                self._dead_letter(conn, message, now, reason, detail, tally)
            self._count_committed(tally)
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            # Even the dead-letter row failed: keep the raw bytes as hex so nothing is lost.
            log.exception("ingest.dead_letter_failed", topic=message.topic[:120])
            with self._engine.begin() as conn:
                conn.execute(
                    insert(dead_letters).values(
                        received_at=now,
                        topic=_storable(message.topic.encode().hex(), 300),
                        reason=reason,
                        detail=detail,
                        payload=message.payload[: _PAYLOAD_KEEP // 2].hex(),
                    )
                )
            self._count_committed(tally)

    # --------------------------------------------------------------- decisions

    def _state(self, conn: Connection, resident_id: str, work: _Batch | None) -> ResidentState:
        if work is not None and resident_id in work.states:
            return work.states[resident_id]
        cached = self._states.get(resident_id)
        if cached is not None:
            return cached
        found = load_states(conn, [resident_id]).get(resident_id)
        if found is None:
            raise NotFoundError(f"resident {resident_id} not found")
        return found

    def _decide(
        self, conn: Connection, resident_id: str, core_input: Input, now: datetime, work: _Batch
    ) -> Decision:
        state = self._state(conn, resident_id, work)
        decision = self._escalation.decide(state, core_input, now)
        self._carry.all(conn, resident_id, decision, now, work.ledger)
        work.states[resident_id] = decision.state
        work.decisions[resident_id] = decision
        return decision

    # -------------------------------------------------------------------- time

    def next_due(self, resident_id: str | None = None) -> datetime | None:
        """The earliest due step (and digest); of one resident only when ``resident_id``."""
        with self._engine.connect() as conn:
            due = earliest_due(conn, resident_id)
            digest = next_digest_at(conn)
        candidates = [t for t in (due, digest) if t is not None]
        return min(candidates) if candidates else None

    def resident_ids(self) -> list[str]:
        """Every registered resident."""
        return sorted(self._names)

    def due_of(self, resident_ids: Iterable[str]) -> dict[str, datetime | None]:
        """Each resident's next due step (a replay schedules residents one by one)."""
        with self._engine.connect() as conn:
            return due_times(conn, resident_ids)

    def next_digest(self) -> datetime | None:
        """When the next digest falls due, if any waits."""
        with self._engine.connect() as conn:
            return next_digest_at(conn)

    def run_due(self, now: datetime, limit: int = 500, only: str | None = None) -> int:
        """Fire every resident step and digest due at ``now`` (the steps of resident ``only``
        alone when given: a stored simulator run schedules its household on its own);
        returns how many fired."""
        with self._engine.connect() as conn:
            due = due_now(conn, now, limit, only)
        fired = 0
        for resident_id, due_at in due:
            try:
                with self._unit(now) as (conn, work):
                    self._decide(conn, resident_id, Tick(), now, work)
                    work.ledger.tally.lags.append((now - due_at).total_seconds())
            except (OperationalError, InterfaceError):
                raise
            except Exception:
                # A step that keeps failing must not spin the worker: look again later.
                log.exception("tick.failed", resident=resident_id)
                self._states.pop(resident_id, None)
                with self._engine.begin() as conn:
                    postpone(conn, resident_id, now + TICK_RETRY)
                continue
            fired += 1
        return fired + self._deliver_digests(now)

    def _deliver_digests(self, now: datetime) -> int:
        with self._engine.begin() as conn:
            return self._carry.digests.deliver(conn, now)

    # ------------------------------------------------------------- deliveries

    def delivery_problem(self, row_id: int, what: str, now: datetime) -> None:
        """A notification ended ``failed`` or ``unknown``: it goes on the alert's timeline
        (the board shows it), and a guardian who could not be reached is replaced by the
        first backup guardian not yet paged for that step."""
        with self._engine.begin() as conn:
            row = conn.execute(select(outbox).where(outbox.c.id == row_id)).first()
            if row is None or row.alert_id is None:
                return
            add_timeline(conn, row.alert_id, now, f"delivery_{what}", None, row.role)
            if what != "failed" or row.role != "guardian" or not row.message:
                return
            action = Notify(
                row.alert_id, row.kind, row.stage, "guardian", row.message, row.step, row.event_at
            )
            for backup in self.composer.recipients(conn, row.resident_id, "guardian", backup=True):
                key = _key(row.alert_id, row.step, "guardian", backup.phone)
                if not has_outbox(conn, key):
                    self._carry.write_notifications(conn, row.resident_id, action, [backup], now)
                    add_timeline(conn, row.alert_id, now, "backup_guardian_paged", None, None)
                    return
            add_timeline(conn, row.alert_id, now, "no_guardian_reachable", None, None)

    # --------------------------------------------------------------- operators

    def operator_input(self, alert_id: str, core_input: Input, now: datetime) -> None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(alerts.c.resident_id, alerts.c.state).where(alerts.c.id == alert_id)
            ).first()
        if row is None:
            raise NotFoundError(f"alert {alert_id} not found")
        if row.state == "resolved":
            raise ConflictError(f"alert {alert_id} is already resolved")
        with self._unit(now) as (conn, work):
            self._decide(conn, row.resident_id, core_input, now, work)

    def carried_out(self, resident_id: str, action: Action, now: datetime) -> None:
        """Called after each action is carried out, inside its transaction; nothing here (a
        stored simulator run records them to score the run)."""

    def state_of(self, resident_id: str) -> ResidentState | None:
        """A resident's committed state (for the API and links: not the worker's cache)."""
        return self.states_of([resident_id]).get(resident_id)

    def states_of(self, resident_ids: Iterable[str]) -> dict[str, ResidentState]:
        """The committed states of many residents in one query."""
        with self._engine.connect() as conn:
            return load_states(conn, resident_ids)
