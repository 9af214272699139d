"""Routes for the control centre's alert work and the notification log.

* ``GET /api/v1/alerts?state=&resident=``: alerts, newest first, each with
  ``guardian_checking`` and ``answer_due_at`` (:func:`hub.store.alert_reads.list_alerts`);
  ``GET …/{id}``: one, with its timeline.
* ``POST /api/v1/alerts/{id}/ack`` · ``/resolve`` · ``/actions``: staff's work on an alert,
  carried out by the hub core on its writer thread; each answers the alert as it now is. A
  resolve may carry a ``note``: filed as a ``note`` step just before the resolve, in the same
  writer call.
* ``GET /api/v1/notifications?resident=&alert_id=``: what was sent to whom, with delivery
  state.

Officials see their own district's alerts and cannot work on them. Reads come from
:mod:`hub.store.alert_reads`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from alerts.inputs import Acknowledge, Input, RecordStep, Resolve
from hub.api.auth import AnyUser, Principal, Staff
from hub.api.backend import Backend, Runner
from hub.api.schemas import AckIn, ActionIn, ResolveIn
from hub.store import alert_reads
from hub.store.db import reading


def _actor(who: Principal, given: str | None) -> str:
    """Whose name goes on the timeline: an operator's own; the admin may name someone."""
    if who.role == "admin" and given:
        return given
    return who.name


def alerts_router(backend: Backend, run: Runner) -> APIRouter:
    """Routes bound to ``backend``; ``run`` executes alert work on the hub's writer thread."""
    router = APIRouter(tags=["alerts"])

    @router.get("/api/v1/alerts")
    def list_alerts(
        who: AnyUser,
        state: Annotated[str | None, Query(pattern="^(open|acknowledged|resolved)$")] = None,
        resident: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> list[dict[str, Any]]:
        with reading(backend.engine) as conn:
            return alert_reads.list_alerts(
                conn, districts=who.districts(), state=state, resident=resident, limit=limit
            )

    @router.get("/api/v1/alerts/{alert_id}")
    def get_alert(alert_id: str, who: AnyUser) -> dict[str, Any]:
        with reading(backend.engine) as conn:
            alert = alert_reads.find_alert(conn, alert_id)
            if alert is None or not who.sees_district(alert["district"]):
                raise HTTPException(404, f"alert {alert_id} not found")
            timeline = alert_reads.timeline_of(conn, alert_id)
        return {
            **alert,
            "timeline": [
                {"at": t.at, "what": t.what, "by": t.by, "note": t.note} for t in timeline
            ],
        }

    @router.post("/api/v1/alerts/{alert_id}/ack")
    def ack_alert(alert_id: str, who: Staff, body: AckIn | None = None) -> dict[str, Any]:
        by = _actor(who, body.by if body else None)
        run(
            lambda now: backend.core.operator_input(
                alert_id, Acknowledge(alert_id=alert_id, by=by, role="control_center"), now
            )
        )
        return get_alert(alert_id, who)

    @router.post("/api/v1/alerts/{alert_id}/resolve")
    def resolve_alert(alert_id: str, body: ResolveIn, who: Staff) -> dict[str, Any]:
        by = _actor(who, body.by)
        note = body.note.strip() if body.note else ""

        def resolve(now: datetime) -> None:
            # The core's Resolve has no note: the note goes on the timeline just before it,
            # both in one transaction, so a crash files both or neither.
            steps: list[Input] = []
            if note:
                steps.append(RecordStep(alert_id=alert_id, by=by, step="note", note=note))
            steps.append(Resolve(alert_id=alert_id, by=by, outcome=body.outcome))
            backend.core.operator_inputs(alert_id, steps, now)

        run(resolve)
        return get_alert(alert_id, who)

    @router.post("/api/v1/alerts/{alert_id}/actions")
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

    @router.get("/api/v1/notifications")
    def list_notifications(
        _: Staff,
        resident: str | None = None,
        alert_id: str | None = None,
        limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    ) -> list[dict[str, Any]]:
        with reading(backend.engine) as conn:
            rows = alert_reads.list_notifications(
                conn, resident=resident, alert_id=alert_id, limit=limit
            )
        return [{**row, "to": row["recipient"], "delivery": row["state"]} for row in rows]

    return router
