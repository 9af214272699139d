"""One transaction of the hub's writer: the states it decided, written once at its end.

Owns :class:`Batch` (what one transaction changed and counted) and :class:`Decider`, the
only place that asks the pure core for a decision: it loads the resident's state (from the
transaction, else the committed cache, else the store; a batch of due steps primes it with
the states it claimed in bulk), has the decision carried out in the same transaction, and
on commit writes the batch's event rows and states in bulk, updates the cache and hands
what was counted to metrics and telemetry. A transaction that fails leaves the cache as it
was, but for the states a batch of due steps decided on in place: those are dropped from
it (the store's copy is read next time).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from alerts.engine import Decision, Escalation
from alerts.inputs import Input
from alerts.state import ResidentState
from hub.carry_out import CarryOut, Ledger
from hub.metrics import HubMetrics
from hub.registry import NotFoundError, Registry
from hub.store.db import Connection, Engine, writing
from hub.store.events import add_events
from hub.store.states import load_states, save_states
from hub.telemetry import Telemetry

__all__ = ["Batch", "Decider"]

log = structlog.get_logger(__name__)


@dataclass
class Batch:
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
    primed: set[str] = field(default_factory=set)
    """Residents whose state in ``states`` the core may decide on in place: parsed from the
    store for this transaction, or the committed cache's own (``borrowed``)."""
    borrowed: set[str] = field(default_factory=set)
    """Residents whose committed cached state this transaction decides on in place: if it
    fails they are dropped from the cache, and the store's copy is read next time."""


class Decider:
    """Units of work around :meth:`alerts.engine.Escalation.decide` (see the module)."""

    def __init__(
        self,
        engine: Engine,
        escalation: Escalation,
        carry: CarryOut,
        registry: Registry,
        *,
        metrics: HubMetrics | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._engine = engine
        self._escalation = escalation
        self._carry = carry
        self._registry = registry
        self._metrics = metrics
        self._telemetry = telemetry
        self._states: dict[str, ResidentState] = {}

    @contextmanager
    def unit(self, now: datetime) -> Iterator[tuple[Connection, Batch]]:
        """One transaction: its batched writes go in at the end, caches update on commit."""
        work = Batch()
        try:
            with writing(self._engine) as conn:
                yield conn, work
                add_events(conn, work.event_rows)
                save_states(conn, list(work.decisions.values()), now)
        except BaseException:
            for resident_id in work.borrowed:  # perhaps changed in place: not the store's
                self._states.pop(resident_id, None)
            raise
        self._states.update(work.states)
        if self._metrics is not None:
            self._metrics.add(work.ledger.tally)
        self._offer_telemetry(work.ledger)

    def forget(self, resident_id: str | None = None) -> None:
        """Drop cached states (one resident's, or all): the store's copy is read next time."""
        if resident_id is None:
            self._states.clear()
        else:
            self._states.pop(resident_id, None)

    def prime(self, work: Batch, stored: Mapping[str, str]) -> None:
        """Residents' stored states (JSON) read in bulk for this transaction (a batch of due
        steps claims them in one query): used where the worker holds no committed copy, so a
        batch of hundreds costs one read instead of one per resident. Each is decided on in
        place, the committed copies too (a copy per resident was a tenth of a step's time):
        if the transaction fails, those are dropped from the cache."""
        for resident_id, text in stored.items():
            if resident_id in work.states:
                continue
            cached = self._states.get(resident_id)
            if cached is None:
                work.states[resident_id] = ResidentState.model_validate_json(text)
            else:
                work.states[resident_id] = cached
                work.borrowed.add(resident_id)
            work.primed.add(resident_id)

    def state(self, conn: Connection, resident_id: str, work: Batch | None) -> ResidentState:
        if work is not None and resident_id in work.states:
            return work.states[resident_id]
        cached = self._states.get(resident_id)
        if cached is not None:
            return cached
        found = load_states(conn, [resident_id]).get(resident_id)
        if found is None:
            raise NotFoundError(f"resident {resident_id} not found")
        return found

    def decide(
        self, conn: Connection, resident_id: str, core_input: Input, now: datetime, work: Batch
    ) -> Decision:
        state = self.state(conn, resident_id, work)
        # The state this transaction's last decision made (or parsed from the store for it),
        # and nothing else holds (not the committed cache, not a copy sharing its lists):
        # the core may decide on it in place.
        # A transaction that fails throws it away with the rest of the batch.
        earlier = work.decisions.get(resident_id)
        mine = resident_id in work.primed or (earlier is not None and earlier.state is state)
        work.primed.discard(resident_id)
        if not mine:
            decision = self._escalation.decide(state, core_input, now)
        else:
            self._escalation.hand_over(state)
            try:
                decision = self._escalation.decide(state, core_input, now)
            finally:
                self._escalation.hand_over(None)  # an offer a stand-in core did not take
        self._carry.all(conn, resident_id, decision, now, work.ledger)
        work.states[resident_id] = decision.state
        work.decisions[resident_id] = decision
        return decision

    def count(self, ledger: Ledger) -> None:
        """Counts of a transaction made outside a unit (a dead letter written alone)."""
        if self._metrics is not None:
            self._metrics.add(ledger.tally)

    def _offer_telemetry(self, ledger: Ledger) -> None:
        if self._telemetry is None or not ledger.observed:
            return
        try:
            self._telemetry.observe(
                ledger.observed, self._registry.districts, self._registry.device_kinds
            )
        except Exception:  # the TSDB is a side view: it never fails what has committed
            log.exception("telemetry.offer_failed", items=len(ledger.observed))
