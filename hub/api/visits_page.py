"""The health centre's home-visit page: a visiting nurse records the readings she took.

* ``GET /visits?q=``: the watched residents of the nurse's district (an admin: all), by name.
* ``GET /visits/{id}``: one resident (name, address), the reading form (each number with its
  unit) and the last readings, the home's devices' and the visits' alike.
* ``POST /visits/{id}``: the filled form (``csrf_token``, ``form_id``, the numbers). Values
  out of what can be typed are refused with a Korean error per field and the form comes back
  as it was filled (422); good ones become ``vitals`` messages (:mod:`hub.visits`) decided by
  the hub's writer through ordinary ingest, then 303 back with a message. A form sent twice
  carries the same ``form_id``: one reading.

Only the nurse (``health_center``) and admins open it; the nurse sees nothing else of the hub
(:data:`hub.api.pages.NAVIGATION`), no contacts, no alert work.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from hub.api.auth import Principal
from hub.api.backend import Backend, Runner
from hub.api.history_page import iso, kst
from hub.api.pages import page_gate, render
from hub.store import profile_reads, resident_reads
from hub.store.db import reading
from hub.store.events import stored_payloads
from hub.store.resident_reads import Resident
from hub.store.vitals_reads import StoredReading, recent_vitals
from hub.visits import (
    FIELDS,
    VISIT_DEVICE,
    checked_readings,
    form_time,
    new_form_id,
    visit_messages,
)
from protocol import Vitals
from protocol.glossary import VITAL_KIND_WORDS

log = structlog.get_logger(__name__)

PageNurse = Annotated[Principal, Depends(page_gate("admin", "health_center"))]
RECENT = 20
DONE_WORDS: dict[str, str] = {
    "saved": "수치를 기록했습니다. 허브가 어르신의 기준 범위로 판단합니다.",
}
PROBLEM_WORDS: dict[str, str] = {
    "not_stored": "기록하지 못했습니다. 보호가 끝난 어르신이거나 허브에 문제가 있습니다.",
    "form": "입력 양식이 만료되었습니다. 새 양식에 다시 적어 주세요.",
    "conflict": "이 양식은 이미 다른 수치로 기록되었습니다. 새 양식에 다시 적어 주세요.",
}


def reading_view(row: StoredReading) -> dict[str, Any]:
    """One stored reading as the page lists it."""
    try:
        vitals = Vitals.model_validate_json(row.payload)
    except ValueError:
        return {"at": kst(row.ts), "iso": iso(row.ts), "kind": "-", "value": "-", "source": ""}
    value: Any = vitals.value
    shown = (
        f"{value:g}"
        if isinstance(value, float | int)
        else f"{value.systolic:g}/{value.diastolic:g}"
    )
    return {
        "at": kst(row.ts),
        "iso": iso(row.ts),
        "kind": VITAL_KIND_WORDS.get(vitals.kind, vitals.kind),
        "value": f"{shown} {vitals.unit}",
        "source": "방문 기록" if row.device_id == VISIT_DEVICE else f"기기 {row.device_id}",
    }


def _visible(backend: Backend, who: Principal, resident_id: str) -> Resident | None:
    """The resident if the caller may record for them: watched, and of their district."""
    with reading(backend.engine) as conn:
        row = resident_reads.find_resident(conn, resident_id)
    if row is None or row.inactive_since is not None or not who.sees_district(row.district):
        return None
    return row


def visits_page_router(backend: Backend, run: Runner) -> APIRouter:
    """The page's routes, bound to ``backend``; ``run`` executes on the hub's writer."""
    router = APIRouter(include_in_schema=False)

    @router.get("/visits")
    def visits_list(request: Request, who: PageNurse, q: str | None = None) -> HTMLResponse:
        text = (q or "").strip()[:100]
        with reading(backend.engine) as conn:
            found = profile_reads.search_residents(conn, who.districts(), text=text or None)
            ended = resident_reads.inactive_ids(conn, [row.id for row in found])
        rows = [row for row in found if row.id not in ended]
        return render(request, "visits.html", who, q=text, rows=rows)

    def visit_page(
        request: Request,
        who: Principal,
        resident: Resident,
        *,
        status_code: int = 200,
        form_id: str | None = None,
        values: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        done: str | None = None,
        problem: str | None = None,
    ) -> HTMLResponse:
        with reading(backend.engine) as conn:
            recent = recent_vitals(conn, resident.id, RECENT)
        form_id = form_id or new_form_id(backend.now())
        shown = form_time(form_id, backend.now())
        return render(
            request,
            "visit.html",
            who,
            status_code=status_code,
            resident=resident,
            fields=FIELDS,
            form_id=form_id,
            shown=kst(shown),
            shown_iso=iso(shown),
            values=values or {},
            errors=errors or {},
            done=DONE_WORDS.get(done or ""),
            problem=PROBLEM_WORDS.get(problem or ""),
            recent=[reading_view(row) for row in recent],
        )

    def not_found(request: Request, who: Principal) -> HTMLResponse:
        return render(request, "visit.html", who, status_code=404, resident=None)

    @router.get("/visits/{resident_id}")
    def visit_form(
        request: Request,
        resident_id: str,
        who: PageNurse,
        done: str | None = None,
        problem: str | None = None,
    ) -> HTMLResponse:
        resident = _visible(backend, who, resident_id)
        if resident is None:
            return not_found(request, who)
        return visit_page(request, who, resident, done=done, problem=problem)

    @router.post("/visits/{resident_id}", response_model=None)
    async def visit_record(request: Request, resident_id: str, who: PageNurse) -> Response:
        resident = _visible(backend, who, resident_id)
        if resident is None:
            return not_found(request, who)
        form = await request.form()
        values = {
            field.name: str(form.get(field.name, ""))[:20]
            for field in FIELDS
            if isinstance(form.get(field.name, ""), str)
        }
        form_id = str(form.get("form_id", ""))
        shown = form_time(form_id, backend.now())
        if shown is None:
            return visit_page(request, who, resident, status_code=422, problem="form")
        readings, errors = checked_readings(values)
        if errors:
            return visit_page(
                request,
                who,
                resident,
                status_code=422,
                form_id=form_id,
                values=values,
                errors=errors,
            )

        def record(now: datetime) -> str:
            core = backend.core
            core.resident_exists(resident_id)  # cached for ingest if registered elsewhere
            # Stamped on the devices' clock, as a device's reading would be (hub.core_inputs).
            taken_at = shown - core.device_clocks.shift()
            messages = visit_messages(resident_id, form_id, readings, taken_at)
            core.ingest(list(messages), now)
            sent = {
                (resident_id, VISIT_DEVICE, _message_id(m.payload)): m.payload.decode()
                for m in messages
            }
            with reading(backend.engine) as conn:
                stored = stored_payloads(conn, list(sent))
            if len(stored) < len(sent):
                return "problem=not_stored"
            # Intake kept the first of a form sent again with other numbers (module docstring).
            return "done=saved" if stored == sent else "problem=conflict"

        outcome = await run_in_threadpool(run, record)
        log.info("visit.recorded", resident=resident_id, readings=len(readings), outcome=outcome)
        return RedirectResponse(f"/visits/{resident_id}?{outcome}#recent", status_code=303)

    return router


def _message_id(payload: bytes) -> str:
    return str(Vitals.model_validate_json(payload).id)
