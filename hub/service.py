"""The hub's one writer around the pure escalation core: load → decide → carry out.

:class:`HubCore` is a façade over the parts that do the work, each in its own module:

* :mod:`hub.registry` — who is registered (a cache beside the store);
* :mod:`hub.enrolment` — registering residents, devices, contacts, policies;
* :mod:`hub.intake` — ingest: dedup, dead letters, a batch in one transaction;
* :mod:`hub.unit_of_work` — one transaction's decisions, written in bulk at its end;
* :mod:`hub.carry_out` — the rows a decision's actions become;
* :mod:`hub.timers` — due steps and digests.

This module itself owns the two inputs that start elsewhere: an operator's or guardian's
action on an alert, and a delivery that failed (a backup guardian is paged). Everything that
changes a resident's state runs on the ingest worker's thread; only after a commit are MQTT
messages acknowledged and the dispatcher woken, so a crash at any point either loses nothing
or repeats work that the unique keys make harmless.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from alerts.actions import Action, MessageKey, Notify
from alerts.engine import Escalation
from alerts.inputs import Input
from alerts.state import ResidentState
from hub.carry_out import CarryOut
from hub.clock_check import DeviceClocks
from hub.enrolment import ConflictError, Enrolment
from hub.intake import Intake
from hub.metrics import HubMetrics
from hub.mqtt import Incoming
from hub.notify.compose import Composer
from hub.registry import NotFoundError, Registry
from hub.settings import Settings
from hub.store.alert_rows import alert_state
from hub.store.db import Engine, reading, writing
from hub.store.rows import add_timeline, has_outbox, sent_row
from hub.store.rows import idempotency_key as _key
from hub.store.states import load_states
from hub.telemetry import Telemetry
from hub.timers import TICK_RETRY, Timers
from hub.unit_of_work import Decider
from protocol.vocab import AlertKind, Stage

__all__ = ["TICK_RETRY", "ConflictError", "HubCore", "NotFoundError"]


class HubCore:
    """The hub's state machine around :class:`alerts.engine.Escalation`.

    Not thread-safe by design: the ingest worker is its only caller (the API's reads of
    committed states go to the store, not to the worker's cache).
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
        # The core every decision asks (the decider holds the same object).
        self._escalation = escalation
        self.composer = Composer(settings)
        self._registry = Registry()
        with reading(engine) as conn:
            self._registry.load(conn)
        self._carry = CarryOut(
            settings,
            self.composer,
            escalation.calendar,
            name_of=self._registry.name_of,
            on_action=self.carried_out,
        )
        self._decider = Decider(
            engine, escalation, self._carry, self._registry, metrics=metrics, telemetry=telemetry
        )
        self._enrolment = Enrolment(engine, self._decider, self._registry)
        self._intake = Intake.open(engine, self._decider, self._registry)
        self._timers = Timers(engine, self._decider, self._carry.digests)
        # The link key is made (or read) in a transaction of its own, so a rolled-back batch
        # can never leave links signed with a key the database does not keep.
        with writing(engine) as conn:
            self.composer.signer(conn)

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def device_clocks(self) -> DeviceClocks:
        """How far the hub's clock is from its devices' (:mod:`hub.clock_check`)."""
        return self._intake.device_clocks

    @property
    def rejected(self) -> dict[str, int]:
        """Messages dead-lettered since start, by reason."""
        return self._intake.rejected

    # ------------------------------------------------------------- enrolment

    def register_resident(self, data: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        return self._enrolment.register_resident(data, now)

    def register_device(self, resident_id: str, device_id: str, kind: str, now: datetime) -> None:
        self._enrolment.register_device(resident_id, device_id, kind, now)

    def resident_exists(self, resident_id: str) -> bool:
        return self._enrolment.resident_exists(resident_id)

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
        return self._enrolment.add_contact(
            resident_id, role, name, phone, now, quiet_hours=quiet_hours, backup=backup
        )

    def change_policy(
        self, resident_id: str, overrides: Mapping[str, Any], now: datetime
    ) -> dict[str, Any]:
        return self._enrolment.change_policy(resident_id, overrides, now)

    def update_resident(
        self, resident_id: str, changes: Mapping[str, Any], now: datetime
    ) -> dict[str, Any]:
        return self._enrolment.update_resident(resident_id, changes, now)

    def deactivate_resident(self, resident_id: str, reason: Any, now: datetime) -> dict[str, Any]:
        return self._enrolment.deactivate_resident(resident_id, reason, now)

    def reactivate_resident(self, resident_id: str, now: datetime) -> dict[str, Any]:
        return self._enrolment.reactivate_resident(resident_id, now)

    def resident_ids(self) -> list[str]:
        """Every registered resident."""
        return sorted(self._registry.names)

    # ---------------------------------------------------------- ingest, time

    def ingest(self, batch: list[Incoming], now: datetime, *, due_first: bool = False) -> None:
        """Store and decide a batch of MQTT messages in one transaction (:mod:`hub.intake`)."""
        self._intake.ingest(batch, now, due_first=due_first)

    def next_due(self, resident_id: str | None = None) -> datetime | None:
        return self._timers.next_due(resident_id)

    def due_of(self, resident_ids: Iterable[str]) -> dict[str, datetime | None]:
        return self._timers.due_of(resident_ids)

    def next_digest(self) -> datetime | None:
        return self._timers.next_digest()

    def run_due(self, now: datetime, limit: int = 500, only: str | None = None) -> int:
        return self._timers.run_due(now, limit, only)

    # --------------------------------------------------------------- operators

    def operator_input(self, alert_id: str, core_input: Input, now: datetime) -> None:
        """An operator's or guardian's action on an alert, decided for its resident."""
        self.operator_inputs(alert_id, [core_input], now)

    def operator_inputs(self, alert_id: str, inputs: Sequence[Input], now: datetime) -> None:
        """Several actions on one alert (a closing note, then the resolve), decided in order
        in one transaction: a crash keeps both or neither."""
        with reading(self._engine) as conn:
            found = alert_state(conn, alert_id)
        if found is None:
            raise NotFoundError(f"alert {alert_id} not found")
        resident_id, state = found
        if state == "resolved":
            raise ConflictError(f"alert {alert_id} is already resolved")
        with self._decider.unit(now) as (conn, work):
            for one in inputs:
                self._decider.decide(conn, resident_id, one, now, work)

    # ------------------------------------------------------------- deliveries

    def delivery_problem(self, row_id: int, what: str, now: datetime) -> None:
        """A notification ended ``failed`` or ``unknown``: it goes on the alert's timeline
        (the board shows it), and a guardian who could not be reached is replaced by the
        first backup guardian not yet paged for that step."""
        with writing(self._engine) as conn:
            row = sent_row(conn, row_id)
            if row is None or row.alert_id is None:
                return
            add_timeline(conn, row.alert_id, now, f"delivery_{what}", None, row.role)
            if what != "failed" or row.role != "guardian" or not row.message:
                return
            if row.resident_id is None or row.step is None:
                add_timeline(conn, row.alert_id, now, "no_guardian_reachable", None, None)
                return
            action = Notify(
                alert_id=row.alert_id,
                kind=cast(AlertKind, row.kind),
                stage=cast(Stage, row.stage),
                role="guardian",
                message=cast(MessageKey, row.message),
                step=row.step,
                event_at=row.event_at,
            )
            for backup in self.composer.recipients(conn, row.resident_id, "guardian", backup=True):
                key = _key(row.alert_id, row.step, "guardian", backup.phone)
                if not has_outbox(conn, key):
                    self._carry.write_notifications(conn, row.resident_id, action, [backup], now)
                    add_timeline(conn, row.alert_id, now, "backup_guardian_paged", None, None)
                    return
            add_timeline(conn, row.alert_id, now, "no_guardian_reachable", None, None)

    # ---------------------------------------------------------------- readers

    def carried_out(self, resident_id: str, action: Action, now: datetime) -> None:
        """Called after each action is carried out, inside its transaction; nothing here (a
        stored simulator run records them to score the run)."""

    def state_of(self, resident_id: str) -> ResidentState | None:
        """A resident's committed state (for the API and links: not the worker's cache)."""
        return self.states_of([resident_id]).get(resident_id)

    def states_of(self, resident_ids: Iterable[str]) -> dict[str, ResidentState]:
        """The committed states of many residents in one query."""
        with reading(self._engine) as conn:
            return load_states(conn, resident_ids)
