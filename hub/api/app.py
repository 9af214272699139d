"""The HTTP API of INTERFACES.md, built by :func:`create_app` around a running hub.

Reads go straight to the database; every change goes through the ingest worker, so the
API and MQTT never race on a resident's state.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import FastAPI, HTTPException, Query, status
from fastapi.responses import FileResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import ValidationError
from sqlalchemy import Engine, func, select

from alerts.inputs import Acknowledge, RecordStep, Resolve
from alerts.state import ResidentState
from hub.api.auth import AdminOnly, AnyUser, Principal, Staff, create_user
from hub.api.board import board_router
from hub.api.guardian import guardian_router
from hub.api.reports import reports_router
from hub.api.roster import roster_router
from hub.api.schemas import (
    AckIn,
    ActionIn,
    ContactIn,
    DeviceIn,
    PolicyIn,
    ResidentIn,
    ResolveIn,
    UserIn,
)
from hub.api.worklists import worklists_router
from hub.changes import ChangeFeed
from hub.metrics import HubMetrics
from hub.service import ConflictError, HubCore, NotFoundError
from hub.settings import Settings
from hub.store.tables import (
    alert_timeline,
    alerts,
    contacts,
    dead_letters,
    devices,
    outbox,
    residents,
)

T = TypeVar("T")
_WEB = Path(__file__).resolve().parent.parent / "web"


class Backend(Protocol):
    """What the API needs from the running hub."""

    settings: Settings
    engine: Engine
    core: HubCore
    changes: ChangeFeed
    metrics: HubMetrics

    def call(self, fn: Callable[[datetime], T]) -> T: ...

    def health(self) -> dict[str, Any]: ...

    def now(self) -> datetime: ...


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


_ERRORS: dict[int, str] = {
    401: "인증이 필요합니다 (no bearer token)",
    403: "권한이 없거나 알 수 없는 토큰·링크입니다",
    404: "없거나 볼 수 없는 대상입니다",
    409: "이미 처리된 상태와 충돌합니다",
    410: "링크가 만료되었습니다",
    413: "요청 본문이 너무 큽니다",
    422: "입력값이 올바르지 않습니다",
}


def _document_errors(app: FastAPI) -> None:
    """Every error a route can answer goes into the OpenAPI document, so clients (and
    schemathesis) know them; which ones depends on how the route is reached."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = build()
        spec.setdefault("components", {}).setdefault("schemas", {})["Error"] = {
            "type": "object",
            "properties": {
                "detail": {
                    "description": "Why, in Korean; field errors come as a list",
                    "anyOf": [{"type": "string"}, {"type": "array", "items": {}}],
                }
            },
            "required": ["detail"],
        }
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        for path, operations in spec.get("paths", {}).items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                for code in sorted(_error_codes(path, method.upper())):
                    # Replaces FastAPI's default 422 too: ours may carry a plain message.
                    described = _ERRORS.get(code, "허브가 준비되지 않았습니다")
                    responses[str(code)] = {"description": described, "content": error}
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def _error_codes(path: str, method: str) -> set[int]:
    if path == "/health":
        return {503}
    if path == "/metrics":
        return set()
    codes = {404, 422}
    links = "/links/" in path
    if links:
        codes |= {403, 409, 410}
    elif path == "/api/v1/sms/replies":
        codes |= {401, 409}
    else:
        codes |= {401, 403}
    if method in {"POST", "PATCH"}:
        codes.add(409)
    if path == "/api/v1/roster":
        codes.add(413)
    return codes


def _actor(who: Principal, given: str | None) -> str:
    """Whose name goes on the timeline: an operator's own; the admin may name someone."""
    if who.role == "admin" and given:
        return given
    return who.name


def create_app(backend: Backend) -> FastAPI:  # noqa: PLR0915 - one closure per route
    app = FastAPI(
        title="Anbu hub API",
        version="1",
        description="안부 허브 API: 어르신, 기기, 연락처, 경보, 알림",
    )
    app.state.backend = backend

    def run(fn: Callable[[datetime], T]) -> T:
        try:
            return backend.call(fn)
        except NotFoundError as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
        except ConflictError as error:
            raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
        except ValidationError as error:
            detail = [
                {"loc": list(item["loc"]), "msg": item["msg"], "type": item["type"]}
                for item in error.errors(include_url=False, include_input=False)
            ]
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from error
        except ValueError as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error

    @app.get("/health", tags=["ops"])
    def health() -> JSONResponse:
        report = backend.health()
        code = 200 if report["status"] == "ok" else 503
        return JSONResponse(report, status_code=code)

    @app.get(
        "/metrics",
        tags=["ops"],
        response_class=Response,
        responses={
            200: {
                "description": "Prometheus text format; no token, like /health (see README)",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    )
    def metrics() -> Response:
        return Response(backend.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    def status_page() -> FileResponse:
        return FileResponse(_WEB / "index.html", media_type="text/html; charset=utf-8")

    @app.post("/api/v1/residents", status_code=201, tags=["residents"])
    def create_resident(body: ResidentIn, _: AdminOnly) -> dict[str, Any]:
        data = body.model_dump(exclude={"policy"})
        data["policy"] = body.policy.overrides() if body.policy else None
        return run(lambda now: backend.core.register_resident(data, now))

    @app.get("/api/v1/residents", tags=["residents"])
    def list_residents(
        who: AnyUser, district: str | None = None, state: str | None = None
    ) -> list[dict[str, Any]]:
        """Residents the caller may see (an official: their district), with board state."""
        now = backend.now()
        query = select(residents).order_by(residents.c.id)
        if who.role == "official":
            query = query.where(residents.c.district == who.district)
        if district is not None:
            query = query.where(residents.c.district == district)
        with backend.engine.connect() as conn:
            rows = conn.execute(query).all()
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

    @app.get("/api/v1/residents/{resident_id}", tags=["residents"])
    def get_resident(resident_id: str, who: AnyUser) -> dict[str, Any]:
        with backend.engine.connect() as conn:
            row = conn.execute(select(residents).where(residents.c.id == resident_id)).first()
            if row is None or not who.sees_district(row.district):
                raise HTTPException(404, f"resident {resident_id} not found")
            device_rows = conn.execute(
                select(devices).where(devices.c.resident_id == resident_id)
            ).all()
            contact_rows = conn.execute(
                select(contacts).where(contacts.c.resident_id == resident_id)
            ).all()
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

    @app.post("/api/v1/residents/{resident_id}/devices", status_code=201, tags=["residents"])
    def add_device(resident_id: str, body: DeviceIn, _: AdminOnly) -> dict[str, str]:
        run(lambda now: backend.core.register_device(resident_id, body.id, body.kind, now))
        return {"resident": resident_id, "id": body.id, "kind": body.kind}

    @app.post("/api/v1/residents/{resident_id}/contacts", status_code=201, tags=["residents"])
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

    @app.patch("/api/v1/residents/{resident_id}/policy", tags=["residents"])
    def change_policy(resident_id: str, body: PolicyIn, _: AdminOnly) -> dict[str, Any]:
        """A new policy version; alerts already open keep the policy they opened with."""
        return run(
            lambda now: backend.core.change_policy(resident_id, body.policy.overrides(), now)
        )

    app.include_router(guardian_router(backend, run))
    app.include_router(board_router(backend))
    app.include_router(worklists_router(backend))
    app.include_router(roster_router(backend))
    app.include_router(reports_router(backend))
    _document_errors(app)

    @app.post("/api/v1/users", status_code=201, tags=["access"])
    def create_api_user(body: UserIn, _: AdminOnly) -> dict[str, Any]:
        """A control-centre operator or a district official; the token is shown only once."""
        user_id, token = run(
            lambda now: create_user(backend.engine, body.name, body.role, body.district, now)
        )
        return {
            "id": user_id,
            "name": body.name,
            "role": body.role,
            "district": body.district,
            "token": token,
        }

    @app.get("/api/v1/me", tags=["access"])
    def whoami(who: AnyUser) -> dict[str, Any]:
        """The caller's name, role and district (what the board shows and filters by)."""
        return {"name": who.name, "role": who.role, "district": who.district}

    @app.get("/api/v1/alerts", tags=["alerts"])
    def list_alerts(
        who: AnyUser,
        state: Annotated[str | None, Query(pattern="^(open|acknowledged|resolved)$")] = None,
        resident: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> list[dict[str, Any]]:
        query = select(alerts).order_by(alerts.c.opened_at.desc()).limit(limit)
        if who.role == "official":
            query = query.where(
                alerts.c.resident_id.in_(
                    select(residents.c.id).where(residents.c.district == who.district)
                )
            )
        if state is not None:
            query = query.where(alerts.c.state == state)
        if resident is not None:
            query = query.where(alerts.c.resident_id == resident)
        with backend.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    @app.get("/api/v1/alerts/{alert_id}", tags=["alerts"])
    def get_alert(alert_id: str, who: AnyUser) -> dict[str, Any]:
        with backend.engine.connect() as conn:
            row = conn.execute(
                select(alerts, residents.c.district)
                .join(residents, residents.c.id == alerts.c.resident_id)
                .where(alerts.c.id == alert_id)
            ).first()
            if row is None or not who.sees_district(row.district):
                raise HTTPException(404, f"alert {alert_id} not found")
            timeline = conn.execute(
                select(alert_timeline)
                .where(alert_timeline.c.alert_id == alert_id)
                .order_by(alert_timeline.c.id)
            ).all()
        return {
            **dict(row._mapping),
            "timeline": [
                {"at": t.at, "what": t.what, "by": t.by, "note": t.note} for t in timeline
            ],
        }

    @app.post("/api/v1/alerts/{alert_id}/ack", tags=["alerts"])
    def ack_alert(alert_id: str, who: Staff, body: AckIn | None = None) -> dict[str, Any]:
        by = _actor(who, body.by if body else None)
        run(
            lambda now: backend.core.operator_input(
                alert_id, Acknowledge(alert_id=alert_id, by=by, role="control_center"), now
            )
        )
        return get_alert(alert_id, who)

    @app.post("/api/v1/alerts/{alert_id}/resolve", tags=["alerts"])
    def resolve_alert(alert_id: str, body: ResolveIn, who: Staff) -> dict[str, Any]:
        by = _actor(who, body.by)
        run(
            lambda now: backend.core.operator_input(
                alert_id, Resolve(alert_id=alert_id, by=by, outcome=body.outcome), now
            )
        )
        return get_alert(alert_id, who)

    @app.post("/api/v1/alerts/{alert_id}/actions", tags=["alerts"])
    def record_action(alert_id: str, body: ActionIn, who: Staff) -> dict[str, Any]:
        by = _actor(who, body.by)
        run(
            lambda now: backend.core.operator_input(
                alert_id,
                RecordStep(alert_id=alert_id, by=by, step=body.step, note=body.note),
                now,
            )
        )
        return get_alert(alert_id, who)

    @app.get("/api/v1/notifications", tags=["alerts"])
    def list_notifications(
        _: Staff,
        resident: str | None = None,
        alert_id: str | None = None,
        limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    ) -> list[dict[str, Any]]:
        query = (
            select(
                outbox.c.id,
                outbox.c.alert_id,
                outbox.c.resident_id,
                outbox.c.role,
                outbox.c.recipient,
                outbox.c.kind,
                outbox.c.stage,
                outbox.c.body,
                outbox.c.state,
                outbox.c.attempts,
                outbox.c.created_at,
                outbox.c.sent_at,
                outbox.c.delivered_at,
                outbox.c.provider,
                outbox.c.error,
                outbox.c.next_attempt_at,
            )
            .where(outbox.c.channel == "sms")
            .order_by(outbox.c.id.desc())
            .limit(limit)
        )
        if resident is not None:
            query = query.where(outbox.c.resident_id == resident)
        if alert_id is not None:
            query = query.where(outbox.c.alert_id == alert_id)
        with backend.engine.connect() as conn:
            return [
                {**dict(row._mapping), "to": row.recipient, "delivery": row.state}
                for row in conn.execute(query)
            ]

    @app.get("/api/v1/dead-letters", tags=["ops"])
    def list_dead_letters(
        _: Staff, limit: Annotated[int, Query(ge=1, le=5000)] = 200
    ) -> dict[str, Any]:
        with backend.engine.connect() as conn:
            rows = conn.execute(
                select(dead_letters).order_by(dead_letters.c.id.desc()).limit(limit)
            ).all()
            counts = conn.execute(
                select(dead_letters.c.reason, func.count()).group_by(dead_letters.c.reason)
            ).all()
        return {
            "counts": {reason: count for reason, count in sorted(counts)},
            "items": [dict(row._mapping) for row in rows],
        }

    return app
