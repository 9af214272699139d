"""Routes for running the hub: health, metrics, the status page and refused messages.

* ``GET /health`` (no token): ``{"status":"ok"}`` once the hub has its broker and a
  database that answers and stores (:mod:`hub.health`), 503 otherwise; within about 1 s.
* ``GET /metrics`` (no token): Prometheus text format.
* ``GET /``: the status page.
* ``GET /api/v1/dead-letters``: messages the hub refused, counted per reason (staff only).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from hub.api.auth import Staff
from hub.api.backend import Backend
from hub.api.coverage import coverage_router
from hub.store import resident_reads
from hub.store.db import reading


def ops_router(backend: Backend) -> APIRouter:
    """Routes bound to ``backend``."""
    router = APIRouter()
    # Monitoring coverage (how many residents' devices the hub hears): hub/api/coverage.py.
    router.include_router(coverage_router(backend))

    @router.get("/health", tags=["ops"])
    def health() -> JSONResponse:
        report = backend.health()
        code = 200 if report["status"] == "ok" else 503
        return JSONResponse(report, status_code=code)

    @router.get(
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

    @router.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        # The board is the staff's home; it sends whoever has no session to log in.
        return RedirectResponse("/board", status_code=303)

    @router.get("/api/v1/dead-letters", tags=["ops"])
    def list_dead_letters(
        _: Staff, limit: Annotated[int, Query(ge=1, le=5000)] = 200
    ) -> dict[str, Any]:
        with reading(backend.engine) as conn:
            items = resident_reads.recent_dead_letters(conn, limit)
            counts = resident_reads.dead_letter_counts(conn)
        return {"counts": counts, "items": items}

    return router
