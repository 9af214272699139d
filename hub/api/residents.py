"""Routes for residents: registering, editing, deactivating and reactivating them, their
devices, contacts and policy, and reading the list and one resident's profile with the
state the board shows.

* ``POST /api/v1/residents``, ``GET /api/v1/residents``, ``GET /api/v1/residents/{id}``
* ``PATCH /api/v1/residents/{id}`` (name, district, address, phone)
* ``POST /api/v1/residents/{id}/deactivate`` (with a reason) · ``/reactivate``
* ``POST /api/v1/residents/{id}/devices`` · ``/contacts``, ``PATCH …/policy``

A deactivated resident is listed only when asked for (``?inactive=show`` or ``only``), with
the state ``deactivated``; with provisioning on, deactivating revokes their devices' broker
credentials (reactivating does not restore them: new ones are issued per device).

Changes go through the hub core on its writer thread; reads come from the store
(:mod:`hub.store.resident_reads`) and the core's committed states.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal

import structlog
from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from alerts.state import ResidentState
from hub.api import devices
from hub.api.auth import AdminOnly, AnyUser
from hub.api.backend import Backend, Runner
from hub.api.history_page import masked
from hub.api.schemas import PHONE_PATTERN, ContactIn, DeviceIn, PolicyIn, ResidentIn
from hub.districts import District, DistrictError, UnknownDistrictError, resolve_in
from hub.provisioning import ProvisioningError
from hub.store import resident_reads
from hub.store.db import reading
from protocol.glossary import RESIDENT_STATE_WORDS
from protocol.vocab import InactiveReason, normalise_phone

log = structlog.get_logger(__name__)

DEACTIVATED = "deactivated"
"""The state a deactivated resident is listed with (no board state applies to them)."""
DEACTIVATED_WORD: Final = RESIDENT_STATE_WORDS[DEACTIVATED]
PHONE_PROBLEM: Final = "전화번호 형식이 올바르지 않습니다 (예: 010-1234-5678)."


class ResidentChanges(BaseModel):
    """A resident's own fields to change; a field left out stays, an empty address or
    phone (or null) clears it."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    district: str | None = Field(default=None, min_length=1, max_length=100)
    address: str | None = Field(default=None, max_length=300)
    # The schema says which numbers are Korean; the check itself is normalise_phone's, so a
    # refusal has Korean words (a pydantic pattern would answer in English).
    phone: str | None = Field(
        default=None, max_length=20, json_schema_extra={"pattern": PHONE_PATTERN}
    )
    """E.164 once stored; ``null`` clears it (the profile's form sends an empty one)."""


class DeactivateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: InactiveReason


def checked_changes(backend: Backend, body: ResidentChanges) -> dict[str, Any]:
    """The changes as stored: district by its canonical name, phone in E.164; a bad district
    or phone is a 422 with a Korean message."""
    changes: dict[str, Any] = {}
    given = body.model_fields_set
    if "name" in given:
        if body.name is None or not body.name.strip():
            raise HTTPException(422, "이름을 입력하세요.")
        changes["name"] = body.name.strip()
    if "district" in given:
        if body.district is None:
            raise HTTPException(422, "지역(구)을 입력하세요.")
        changes["district"] = district_of(backend, body.district).name
    if "address" in given:
        changes["address"] = (body.address or "").strip() or None
    if "phone" in given:
        raw = (body.phone or "").strip()
        phone = normalise_phone(raw) if raw else None
        if raw and phone is None:
            raise HTTPException(422, PHONE_PROBLEM)
        changes["phone"] = phone
    return changes


def revoke_credentials(backend: Backend, resident_id: str) -> dict[str, Any]:
    """With provisioning on, the broker forgets each of the resident's devices (what could
    not be revoked is listed: the deactivation itself has committed)."""
    provisioner = devices.provisioner_of(backend)
    if provisioner is None:
        return {"provisioning": False}
    with reading(backend.engine) as conn:
        ids = [d.id for d in resident_reads.devices_of(conn, resident_id)]
    revoked, failed = [], []
    for device_id in ids:
        try:
            provisioner.revoke(resident_id, device_id)
            revoked.append(device_id)
        except (ValueError, ProvisioningError):
            log.warning("resident.revoke_failed", resident=resident_id, device=device_id)
            failed.append(device_id)
    return {"provisioning": True, "revoked": revoked, "failed": failed}


def district_of(backend: Backend, text: str, unknown_status: int = 422) -> District:
    """The district ``text`` names, or an HTTP error with the Korean message and suggestion.

    An unknown name answers ``unknown_status``; a name several 시도 share answers 422.
    """
    try:
        return resolve_in(backend.engine, text, backend.settings.sido)
    except UnknownDistrictError as error:
        raise HTTPException(unknown_status, error.message) from None
    except DistrictError as error:
        raise HTTPException(422, error.message) from None


def describe_state(state: ResidentState | None, now: datetime) -> str:  # noqa: PLR0911 - one return per board state, in priority order
    """The resident's state in one word, as the board shows it."""
    if state is None:
        return "unknown"
    kinds = {alert.kind: alert for alert in state.alerts.values()}
    if "emergency" in kinds:
        return "emergency"
    if "inactivity" in kinds:
        return f"inactive_{kinds['inactivity'].stage}"
    if "monitoring_lost" in kinds:
        return "monitoring_lost"
    if state.policy.away_until is not None and state.policy.away_until > now:
        return "away"
    if any(not device.online for device in state.devices.values()):
        return "device_problem"
    if state.checkin_sent_for is not None:
        basis = state.last_activity_at or state.monitoring_since
        if state.checkin_sent_for >= basis:
            return "checkin_pending"
    return "normal"


def residents_router(backend: Backend, run: Runner) -> APIRouter:
    """Routes bound to ``backend``; ``run`` executes changes on the hub's writer thread."""
    router = APIRouter(tags=["residents"])

    @router.post("/api/v1/residents", status_code=201)
    def create_resident(body: ResidentIn, _: AdminOnly) -> dict[str, Any]:
        """Register a resident; ``district`` is stored by its canonical name, as reads show it."""
        data = body.model_dump(exclude={"policy"})
        data["district"] = district_of(backend, body.district).name
        data["policy"] = body.policy.overrides() if body.policy else None
        return run(lambda now: backend.core.register_resident(data, now))

    @router.get("/api/v1/residents")
    def list_residents(
        who: AnyUser,
        district: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
        state: str | None = None,
        inactive: Literal["hide", "show", "only"] = "hide",
    ) -> list[dict[str, Any]]:
        """Residents the caller may see (an official: their district), with board state;
        deactivated ones only with ``inactive=show`` (with the others) or ``only``."""
        now = backend.now()
        districts = who.districts()
        if district is not None:
            district = district_of(backend, district).name
            districts = frozenset({district}) if districts is None else districts & {district}
        with reading(backend.engine) as conn:
            rows = resident_reads.list_residents(
                conn, districts, inactive={"hide": False, "show": None, "only": True}[inactive]
            )
        # One bulk read of the committed states for the whole list.
        states = backend.core.states_of(row.id for row in rows)
        result = []
        for row in rows:
            core_state = states.get(row.id)
            gone = row.inactive_since is not None
            described = DEACTIVATED if gone else describe_state(core_state, now)
            if state is not None and described != state:
                continue
            offline = [
                d.offline_since
                for d in (core_state.devices.values() if core_state else [])
                if not d.online and d.offline_since is not None
            ]
            result.append(
                {
                    "id": row.id,
                    "name": row.name,
                    "district": row.district,
                    "state": described,
                    "last_activity_at": core_state.last_activity_at if core_state else None,
                    "device_problem_since": min(offline) if offline and not gone else None,
                    "active": not gone,
                }
            )
        return result

    @router.get("/api/v1/residents/{resident_id}")
    def get_resident(resident_id: str, who: AnyUser) -> dict[str, Any]:
        with reading(backend.engine) as conn:
            row = resident_reads.find_resident(conn, resident_id)
            if row is None or not who.sees_district(row.district):
                raise HTTPException(404, f"resident {resident_id} not found")
            device_rows = resident_reads.devices_of(conn, resident_id)
            contact_rows = resident_reads.contacts_of(conn, resident_id)
        state = backend.core.state_of(resident_id)
        core_devices = state.devices if state else {}
        # Officials see numbers masked, as the profile page shows them: the centre calls.
        official = who.role == "official"

        def shown(phone: str | None) -> str | None:
            return masked(phone) if official and phone else phone

        return {
            "id": row.id,
            "name": row.name,
            "district": row.district,
            "phone": shown(row.phone),
            "address": row.address,
            "policy": state.policy.model_dump(mode="json") if state else None,
            "state": DEACTIVATED if row.inactive_since else describe_state(state, backend.now()),
            "active": row.inactive_since is None,
            "inactive_since": row.inactive_since,
            "inactive_reason": row.inactive_reason,
            "last_activity_at": state.last_activity_at if state else None,
            "devices": [
                {
                    "id": d.id,
                    "kind": d.kind,
                    "online": core_devices[d.id].online if d.id in core_devices else d.online,
                    "last_seen_at": (
                        core_devices[d.id].last_seen_at if d.id in core_devices else None
                    ),
                }
                for d in device_rows
            ],
            "contacts": [
                {"id": c.id, "role": c.role, "name": c.name, "phone": shown(c.phone)}
                for c in contact_rows
            ],
            "open_alerts": sorted(state.alerts) if state else [],
        }

    @router.post(
        "/api/v1/residents/{resident_id}/devices",
        status_code=201,
        responses={502: devices.PROVISIONING_ERRORS[502]},
    )
    def add_device(resident_id: str, body: DeviceIn, _: AdminOnly) -> dict[str, Any]:
        """Register a device; with provisioning on, its broker credentials too (shown once)."""
        provisioner = devices.provisioner_of(backend)
        run(lambda now: backend.core.register_device(resident_id, body.id, body.kind, now))
        result: dict[str, Any] = {"resident": resident_id, "id": body.id, "kind": body.kind}
        if provisioner is not None:
            result["credentials"] = devices.provision(provisioner, resident_id, body.id, body.kind)
        return result

    @router.post("/api/v1/residents/{resident_id}/contacts", status_code=201)
    def add_contact(resident_id: str, body: ContactIn, _: AdminOnly) -> dict[str, Any]:
        contact_id = run(
            lambda now: backend.core.add_contact(
                resident_id,
                body.role,
                body.name,
                body.phone,
                now,
                quiet_hours=body.quiet_hours,
                backup=body.backup,
            )
        )
        return {"id": contact_id, "resident": resident_id, **body.model_dump()}

    @router.patch("/api/v1/residents/{resident_id}/policy")
    def change_policy(resident_id: str, body: PolicyIn, _: AdminOnly) -> dict[str, Any]:
        """A new policy version; alerts already open keep the policy they opened with."""
        return run(
            lambda now: backend.core.change_policy(resident_id, body.policy.overrides(), now)
        )

    _lifecycle_routes(router, backend, run)
    return router


def _lifecycle_routes(router: APIRouter, backend: Backend, run: Runner) -> None:
    """Editing, deactivating and reactivating a resident (admins)."""

    @router.patch("/api/v1/residents/{resident_id}")
    def update_resident(resident_id: str, body: ResidentChanges, _: AdminOnly) -> dict[str, Any]:
        """Change the resident's name, district, address or phone (Korean 422 when bad)."""
        with reading(backend.engine) as conn:
            # Unknown is 404 before any field is judged: the resident is what was asked for.
            if resident_reads.resident_district(conn, resident_id) is None:
                raise HTTPException(404, f"resident {resident_id} not found")
        changes = checked_changes(backend, body)
        return run(lambda now: backend.core.update_resident(resident_id, changes, now))

    @router.post("/api/v1/residents/{resident_id}/deactivate")
    def deactivate_resident(resident_id: str, body: DeactivateIn, _: AdminOnly) -> dict[str, Any]:
        """Stop watching the resident: open alerts closed, devices refused, history kept; an
        open emergency refuses it (409)."""
        result = run(lambda now: backend.core.deactivate_resident(resident_id, body.reason, now))
        return {**result, "credentials": revoke_credentials(backend, resident_id)}

    @router.post("/api/v1/residents/{resident_id}/reactivate")
    def reactivate_resident(resident_id: str, _: AdminOnly) -> dict[str, Any]:
        """Watch the resident again from now on, with their registered devices."""
        return run(lambda now: backend.core.reactivate_resident(resident_id, now))
