"""Enrolment: residents, their devices, contacts and policies added or changed.

Owns the registration writes of the hub's one writer. A resident's first state and a new
device or policy are decided through a unit of work like any other input, so whatever the
core asks for on registration is carried out, and the registry cache changes only once the
transaction has committed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from alerts.inputs import RegisterDevice, Tick
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
    set_policy,
)
from hub.unit_of_work import Decider

__all__ = ["ConflictError", "Enrolment"]


class ConflictError(ValueError):
    """The thing to create exists already."""


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
            if self._registry.knows_device(resident_id, device_id):
                raise ConflictError(f"device {device_id} exists")
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
            self._decider.decide(conn, resident_id, Tick(), now, work)
        return {
            "id": resident_id,
            "policy_version": version,
            "policy": policy.model_dump(mode="json"),
        }
