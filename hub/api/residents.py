"""Routes for residents: registering them, their devices, contacts and policy, and reading
the list and one resident's profile with the state the board shows.

* ``POST /api/v1/residents``, ``GET /api/v1/residents``, ``GET /api/v1/residents/{id}``
* ``POST /api/v1/residents/{id}/devices`` · ``/contacts``, ``PATCH …/policy``

Changes go through the hub core on its writer thread; reads come from the store
(:mod:`hub.store.resident_reads`) and the core's committed states.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from alerts.state import ResidentState
from hub.api import devices
from hub.api.auth import AdminOnly, AnyUser
from hub.api.backend import Backend, Runner
from hub.api.schemas import ContactIn, DeviceIn, PolicyIn, ResidentIn
from hub.districts import District, DistrictError, UnknownDistrictError, resolve_in
from hub.store import resident_reads
from hub.store.db import reading


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
    ) -> list[dict[str, Any]]:
        """Residents the caller may see (an official: their district), with board state."""
        now = backend.now()
        districts = who.districts()
        if district is not None:
            district = district_of(backend, district).name
            districts = frozenset({district}) if districts is None else districts & {district}
        with reading(backend.engine) as conn:
            rows = resident_reads.list_residents(conn, districts)
        # One bulk read of the committed states for the whole list.
        states = backend.core.states_of(row.id for row in rows)
        result = []
        for row in rows:
            core_state = states.get(row.id)
            described = describe_state(core_state, now)
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
                    "device_problem_since": min(offline) if offline else None,
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
        return {
            "id": row.id,
            "name": row.name,
            "district": row.district,
            "phone": row.phone,
            "address": row.address,
            "policy": state.policy.model_dump(mode="json") if state else None,
            "state": describe_state(state, backend.now()),
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
                {"id": c.id, "role": c.role, "name": c.name, "phone": c.phone} for c in contact_rows
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

    return router
