"""The virtual-time fleet run through the hub's own ingest and database, not the bare core.

Owns :func:`run_stored`: the same loop as :mod:`simulators.virtual` (device events, the
people's actions and the next due step, in virtual time) but every input goes the way it
goes in production: device events as protocol payloads on device topics into
:meth:`hub.service.HubCore.ingest` (stored, deduplicated, state loaded and saved as JSON),
due steps through :meth:`~hub.service.HubCore.run_due`, check-in answers as ``checkin``
messages, the centre's acknowledgement and
resolution through :meth:`~hub.service.HubCore.operator_input`, away mode as a policy
change. Alerts, timeline, SMS outbox rows and digest items land in the tables. The actions
the core decided are taken from the hub's own carry-out step, so the figures are scored by
the very code the core-only run uses, and the two runs can be compared alert by alert.

Speed: activity that arrives while the resident is quiet (no open alert, every device
online) is held and stored as one ingest transaction at the next timer, event or action,
as the ingest worker takes what the broker delivered together; nothing is dropped.
Heartbeat spans become one Heartbeat each, with the stretched interval the core-only run
uses (capped at the protocol's one day). Several households share one SQLite file per
chunk, run one after the other: their timers never mix, because each household's run ends
before the next starts and every household covers the same days.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from alerts.actions import Action
from alerts.engine import Escalation
from alerts.inputs import (
    Acknowledge,
    CheckinAnswer,
    Input,
    RecordStep,
    RegisterDevice,
    Resolve,
    Tick,
)
from alerts.policy import Policy
from hub.mqtt import Incoming
from hub.service import ConflictError, HubCore
from hub.settings import Settings
from hub.store.db import migrate, open_engine
from protocol import Activity, Emergency, Heartbeat, Status, to_json
from protocol.models import MAX_INTERVAL_S
from protocol.models import CheckinAnswer as ProtocolCheckinAnswer
from protocol.topics import EventKind, device_topic
from simulators.model import KST, Household, SimEvent, Simulation, simulate
from simulators.virtual import (
    HouseholdResult,
    Responders,
    _Run,
    _span_heartbeat,
    household_result,
)

__all__ = ["run_stored", "sim_incoming", "sim_payload"]

CENTRE_PHONE = "+8220000000"
SUPERVISOR_PHONE = "+8220000001"
GUARDIAN_PHONE = "+821000000000"
OFFICIAL_PHONE = "+821000000001"


def run_stored(
    households: Sequence[Household],
    start: date,
    days: int,
    seed: int,
    policy: Policy,
    engine: Escalation,
    db_url: str,
    responders: Responders | None = None,
    settings: Settings | None = None,
) -> list[HouseholdResult]:
    """Run ``households`` one after another through one HubCore on ``db_url``."""
    db = open_engine(db_url)
    migrate(db)
    try:
        core = _RecordingCore(
            db,
            engine,
            settings
            or Settings(control_center_phones=[CENTRE_PHONE], supervisor_phones=[SUPERVISOR_PHONE]),
        )
        out = []
        for hh in households:
            run = _StoredRun(simulate(hh, start, days, seed), policy, engine, core, responders)
            run.loop(coalesce=True)
            out.append(household_result(run, policy))
        return out
    finally:
        db.dispose()


def sim_payload(event: SimEvent, ids: Iterator[int], interval_s: int | None = None) -> BaseModel:
    """A simulated event as the protocol message its device would publish (local time)."""
    ts = event.device_ts.astimezone(KST)
    match event.kind:
        case "activity" if event.source is not None:
            return Activity(v=1, id=f"a{next(ids)}", ts=ts, source=event.source, count=event.count)
        case "heartbeat":
            return Heartbeat(
                v=1,
                id=f"h{next(ids)}",
                ts=ts,
                interval_s=interval_s or event.interval_s or 300,
                battery_pct=event.battery_pct,
            )
        case "emergency" if event.id is not None and event.trigger is not None:
            return Emergency(
                v=1,
                id=event.id,
                ts=ts,
                trigger=event.trigger,
                text=event.text,
                cancel_of=event.cancel_of,
            )
        case "status" if event.state is not None:
            return Status(state=event.state, ts=ts)
    raise ValueError(f"the simulator made an event the protocol cannot carry: {event!r}")


def sim_incoming(
    resident: str, event: SimEvent, ids: Iterator[int], interval_s: int | None = None
) -> Incoming:
    """The broker's delivery of ``event`` to the hub (status is the retained topic)."""
    return _delivered(resident, event.device, event.kind, sim_payload(event, ids, interval_s), ids)


def _delivered(
    resident: str, device: str, kind: EventKind, message: BaseModel, ids: Iterator[int]
) -> Incoming:
    return Incoming(
        topic=device_topic(resident, device, kind),
        payload=to_json(message),
        mid=next(ids),
        qos=1,
        retain=kind == "status",
        generation=1,
    )


class _RecordingCore(HubCore):
    """HubCore that also hands every carried-out action to the run being scored."""

    record: Any = None

    def carried_out(self, resident_id: str, action: Action, now: datetime) -> None:
        if self.record is not None and resident_id == self.recording:
            self.record(action, now)

    recording: str | None = None


class _StoredRun(_Run):
    """:class:`simulators.virtual._Run` with the hub's ingest and tables under it."""

    def __init__(
        self,
        sim: Simulation,
        policy: Policy,
        engine: Escalation,
        core: _RecordingCore,
        responders: Responders | None,
    ) -> None:
        super().__init__(sim, policy, engine, responders or Responders())
        self.core = core
        self.resident = sim.household.resident
        self.ids = itertools.count(1)
        self.batch: list[SimEvent] = []
        core.record = self.record
        core.recording = self.resident
        core.register_resident(
            {
                "id": self.resident,
                "name": "시뮬레이션",
                "district": "시뮬레이션구",
                "policy": policy.model_dump(mode="json"),
            },
            self.t0,
        )
        core.add_contact(self.resident, "guardian", "보호자", GUARDIAN_PHONE, self.t0)
        core.add_contact(self.resident, "official", "담당 공무원", OFFICIAL_PHONE, self.t0)

    # -- what the loop calls

    def decide(self, event: Input, now: datetime) -> None:
        self.calls += 1
        match event:
            case RegisterDevice():
                self.core.register_device(self.resident, event.device, event.kind, now)
            case Tick():
                self.core.run_due(now, only=self.resident)
            case CheckinAnswer():
                answer = ProtocolCheckinAnswer(
                    v=1,
                    id=f"c{next(self.ids)}",
                    ts=event.at.astimezone(KST),
                    request_id=event.request_id,
                    answered=event.answered,
                    text="괜찮아" if event.answered else None,
                )
                message = _delivered(self.resident, event.device, "checkin", answer, self.ids)
                self.core.ingest([message], now)
            case Acknowledge() | Resolve() | RecordStep():
                # Already closed by the resident's own activity: nothing left to do.
                with contextlib.suppress(ConflictError):
                    self.core.operator_input(event.alert_id, event, now)
            case _:
                raise TypeError(f"the stored run feeds devices as messages, not {event!r}")
        self.refresh()

    def feed(self, ev: SimEvent, now: datetime) -> None:
        self.calls += 1
        self.core.ingest([self.incoming(ev)], now)
        self.refresh()

    def set_away(self, away_until: datetime | None, now: datetime) -> None:
        overrides = {"away_until": None if away_until is None else away_until.isoformat()}
        self.core.change_policy(self.resident, overrides, now)
        self.decide(Tick(), now)

    def hold(self, ev: SimEvent) -> None:
        # Batches bounded as in the bare run (see joins); every event goes in as it came.
        self.held_latest = max(self.held_latest, ev.device_ts)
        self.batch.append(ev)

    def flush(self) -> None:
        self.batch_open = False
        if not self.batch:
            return
        self.calls += 1
        self.core.ingest([self.incoming(ev) for ev in self.batch], self.batch[-1].at)
        self.batch.clear()
        self.refresh()

    # -- helpers

    def incoming(self, ev: SimEvent) -> Incoming:
        interval = None
        if ev.kind == "heartbeat":
            interval = min(_span_heartbeat(ev, self.missed), MAX_INTERVAL_S)
        return sim_incoming(self.resident, ev, self.ids, interval)

    def refresh(self) -> None:
        state = self.core.state_of(self.resident)
        if state is not None:
            self.state = state
        # This household's own steps (and digests): one that stopped early (a rescue) may
        # leave steps behind in the shared file, which are not this run's to fire.
        self.next_due = self.core.next_due(self.resident)
