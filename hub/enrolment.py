"""Enrolment: residents, their devices, contacts and policies added or changed; residents
edited, deactivated and reactivated.

Owns the registration writes of the hub's one writer. A resident's first state and a new
device or policy are decided through a unit of work like any other input, so whatever the
core asks for on registration is carried out, and the registry cache changes only once the
transaction has committed.

A deactivated resident (moved away, into care, died) is no longer watched: their open
alerts are closed (an open emergency refuses the deactivation), their state is kept with
nothing due, so no step fires for them, and the registry stops knowing their devices, so
ingest refuses their messages. Nothing is decided for them while they stay so (a policy
change is stored, not decided: a tick on a state left alone for months would page someone).
Reactivating watches them again from then on, as a new registration is, keeping what the
core has learned of their routine.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from alerts.engine import Decision
from alerts.inputs import RegisterDevice, Resolve, Tick
from alerts.policy import DEFAULT_POLICY
from alerts.state import ResidentState
from hub.notify.quiet import parse_quiet_hours
from hub.registry import NotFoundError, Registry
from hub.store.db import Engine, reading, writing
from hub.store.registry import (
    add_contact,
    add_device,
    add_resident,
    resident_name,
    resident_policy,
    set_active,
    set_policy,
    update_resident_row,
)
from hub.unit_of_work import Batch, Decider
from protocol.vocab import InactiveReason

__all__ = ["ConflictError", "Enrolment"]

RESIDENT_FIELDS = frozenset({"name", "district", "address", "phone"})
"""A resident's own fields an edit may change (the id never changes)."""
DEACTIVATED_BY = "hub:deactivated"
"""Who closed the alerts a deactivation closed (their timeline and the history show it)."""


class ConflictError(ValueError):
    """The thing to create exists already, or the change conflicts with the state."""


class Enrolment:
    """Registration writes (see the module docstring)."""

    def __init__(self, engine: Engine, decider: Decider, registry: Registry) -> None:
        self._engine = engine
        self._decider = decider
        self._registry = registry

    def register_resident(self, data: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        overrides = dict(data.get("policy") or {})
        policy = DEFAULT_POLICY.with_overrides(overrides)
        resident_id = str(data["id"])
        name, district = str(data["name"]), str(data["district"])
        added = False
        try:
            with self._decider.unit(now) as (conn, work):
                if resident_name(conn, resident_id) is not None:
                    raise ConflictError(f"resident {resident_id} exists")
                add_resident(
                    conn,
                    id=resident_id,
                    name=name,
                    district=district,
                    phone=data.get("phone"),
                    address=data.get("address"),
                    policy=policy.model_dump(mode="json", include=set(overrides)),
                    created_at=now,
                )
                work.states[resident_id] = ResidentState.new(resident_id, policy, now)
                # Known by name and district before its first decision is carried out (a
                # message it writes names the resident); forgotten if the transaction fails.
                self._registry.add_resident(resident_id, name, district)
                added = True
                self._decider.decide(conn, resident_id, Tick(), now, work)
        except BaseException:
            if added:
                self._registry.forget_resident(resident_id)
            raise
        return {"id": resident_id, "policy": policy.model_dump(mode="json")}

    def register_device(self, resident_id: str, device_id: str, kind: str, now: datetime) -> None:
        with self._decider.unit(now) as (conn, work):
            self._registry.require(conn, resident_id)
            if self._registry.has_device(resident_id, device_id):
                raise ConflictError(f"device {device_id} exists")
            if not self._registry.is_active(resident_id):
                raise ConflictError(_INACTIVE_WORDS)
            add_device(conn, resident_id, device_id, kind, now)
            self._decider.decide(
                conn,
                resident_id,
                RegisterDevice(device=device_id, kind=kind),  # type: ignore[arg-type]
                now,
                work,
            )
        self._registry.add_device(resident_id, device_id, kind)

    def resident_exists(self, resident_id: str) -> bool:
        try:
            with reading(self._engine) as conn:
                self._registry.require(conn, resident_id)
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
        with writing(self._engine) as conn:
            self._registry.require(conn, resident_id)
            return add_contact(
                conn,
                resident_id=resident_id,
                role=role,
                name=name,
                phone=phone,
                quiet_hours=quiet_hours,
                backup=backup,
                created_at=now,
            )

    def change_policy(
        self, resident_id: str, overrides: Mapping[str, Any], now: datetime
    ) -> dict[str, Any]:
        """A new policy version for the resident; open alerts keep the one they opened with."""
        with reading(self._engine) as conn:
            stored = resident_policy(conn, resident_id)
        if stored is None:
            raise NotFoundError(f"resident {resident_id} not found")
        merged = {**stored[0], **dict(overrides)}
        policy = DEFAULT_POLICY.with_overrides(merged)
        version = stored[1] + 1
        with self._decider.unit(now) as (conn, work):
            set_policy(
                conn, resident_id, policy.model_dump(mode="json", include=set(merged)), version
            )
            state = self._decider.state(conn, resident_id, work)
            work.states[resident_id] = state.model_copy(update={"policy": policy})
            if self._registry.is_active(resident_id):
                self._decider.decide(conn, resident_id, Tick(), now, work)
            else:
                _nothing_due(work, resident_id)
        return {
            "id": resident_id,
            "policy_version": version,
            "policy": policy.model_dump(mode="json"),
        }

    def update_resident(
        self, resident_id: str, changes: Mapping[str, Any], now: datetime
    ) -> dict[str, Any]:
        """Change a resident's own fields (``changes``: some of :data:`RESIDENT_FIELDS`,
        already checked: a district by its canonical name, a phone in E.164)."""
        unknown = set(changes) - RESIDENT_FIELDS
        if unknown:
            raise ValueError(f"not a resident's field: {', '.join(sorted(unknown))}")
        values = dict(changes)
        with writing(self._engine) as conn:
            self._registry.require(conn, resident_id)
            if values:
                update_resident_row(conn, resident_id, values)
        # Messages written from now on name the resident as they are now called.
        name = values.get("name", self._registry.name_of(resident_id))
        district = values.get("district", self._registry.districts.get(resident_id, ""))
        self._registry.add_resident(resident_id, str(name), str(district))
        return {"id": resident_id, "changed": sorted(values), "at": now.isoformat()}

    def deactivate_resident(
        self, resident_id: str, reason: InactiveReason, now: datetime
    ) -> dict[str, Any]:
        """Stop watching the resident (see the module docstring); returns the alerts closed."""
        with self._decider.unit(now) as (conn, work):
            self._registry.require(conn, resident_id)
            if not self._registry.is_active(resident_id):
                raise ConflictError(_INACTIVE_WORDS)
            state = self._decider.state(conn, resident_id, work)
            if any(alert.kind == "emergency" for alert in state.alerts.values()):
                raise ConflictError(
                    "긴급 호출이 열려 있어 보호를 끝낼 수 없습니다. 긴급 호출을 먼저 마무리하세요."
                )
            closed = sorted(state.alerts)
            for alert_id in closed:
                resolve = Resolve(alert_id=alert_id, by=DEACTIVATED_BY, outcome="other")
                self._decider.decide(conn, resident_id, resolve, now, work)
            _nothing_due(work, resident_id, state)
            set_active(conn, resident_id, now, reason)
        self._registry.set_active(resident_id, False)
        return {"id": resident_id, "active": False, "reason": reason, "closed_alerts": closed}

    def reactivate_resident(self, resident_id: str, now: datetime) -> dict[str, Any]:
        """Watch the resident again from ``now``, as on registration, with their devices."""
        with self._decider.unit(now) as (conn, work):
            self._registry.require(conn, resident_id)
            if self._registry.is_active(resident_id):
                raise ConflictError("이미 보호 중인 대상자입니다.")
            set_active(conn, resident_id, None)
            work.states[resident_id] = _watched_again(
                self._decider.state(conn, resident_id, work), now
            )
            devices = self._devices_of(resident_id)
            for device_id, kind in devices:
                register = RegisterDevice(device=device_id, kind=kind)  # type: ignore[arg-type]
                self._decider.decide(conn, resident_id, register, now, work)
            if not devices:
                self._decider.decide(conn, resident_id, Tick(), now, work)
        self._registry.set_active(resident_id, True)
        return {"id": resident_id, "active": True}

    def _devices_of(self, resident_id: str) -> list[tuple[str, str]]:
        return sorted(
            (device, kind)
            for (owner, device), kind in self._registry.device_kinds.items()
            if owner == resident_id
        )


_INACTIVE_WORDS = "보호가 끝난 대상자입니다. 먼저 다시 보호를 시작하세요."


def _nothing_due(work: Batch, resident_id: str, state: ResidentState | None = None) -> None:
    """The resident's state as this transaction left it (else ``state``), stored with no
    step due: the timers never pick them up (their next due time is what the timers read)."""
    state = work.states.setdefault(resident_id, state) if state else work.states[resident_id]
    work.decisions[resident_id] = Decision(state=state, actions=(), next_due=None)


def _watched_again(old: ResidentState, now: datetime) -> ResidentState:
    """A fresh watch from ``now`` (no devices, no alerts, no question pending), keeping the
    policy and what the core learned of the resident (routine, trends, weights, how much
    an unanswered question says)."""
    fresh = ResidentState.new(old.resident, old.policy, now)
    return fresh.model_copy(
        update={
            "routine": old.routine,
            "trends": old.trends,
            "weights": old.weights,
            "checkins_asked": old.checkins_asked,
            "checkins_missed": old.checkins_missed,
            "closed_emergencies": old.closed_emergencies,
        }
    )
