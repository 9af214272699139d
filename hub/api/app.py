"""The HTTP API of INTERFACES.md: :func:`create_app` puts the route modules together around
a running hub.

Each area's routes live in their own module (:mod:`~hub.api.ops`, :mod:`~hub.api.residents`,
:mod:`~hub.api.alerts`, :mod:`~hub.api.access`, the board's, guardians', roster's and
reports'). Reads go through the store's query functions; every change goes through the
ingest worker, so the API and MQTT never race on a resident's state.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from hub.api.access import access_router
from hub.api.alerts import alerts_router
from hub.api.backend import Backend, Runner
from hub.api.board import board_router
from hub.api.case_summary_page import case_summary_page_router
from hub.api.device_feed import device_feed_router
from hub.api.devices import devices_router
from hub.api.guardian import guardian_router
from hub.api.history_page import history_page_router
from hub.api.openapi import document_errors
from hub.api.ops import ops_router
from hub.api.pages import PageRefusedError, page_refused, static_files
from hub.api.reports import reports_router
from hub.api.reports_page import reports_page_router
from hub.api.residents import residents_router
from hub.api.residents_page import residents_page_router
from hub.api.roster import roster_router
from hub.api.roster_page import roster_page_router
from hub.api.sessions import sessions_router
from hub.api.users_page import users_page_router
from hub.api.visits_page import visits_page_router
from hub.api.worklists import worklists_router

__all__ = ["Backend", "create_app"]


def create_app(backend: Backend) -> FastAPI:
    """The API bound to ``backend``."""
    app = FastAPI(
        title="Anbu hub API",
        version="1",
        description="안부 허브 API: 어르신, 기기, 연락처, 경보, 알림",
    )
    app.state.backend = backend
    run = Runner(backend)
    app.include_router(ops_router(backend))
    app.include_router(residents_router(backend, run))
    app.include_router(devices_router(backend))
    app.include_router(device_feed_router(backend))
    app.include_router(guardian_router(backend, run))
    app.include_router(board_router(backend))
    app.include_router(worklists_router(backend))
    app.include_router(roster_router(backend))
    app.include_router(reports_router(backend))
    app.include_router(access_router(backend, run))
    app.include_router(alerts_router(backend, run))
    app.include_router(sessions_router(backend))
    app.include_router(history_page_router(backend, run))
    app.include_router(residents_page_router(backend, run))
    app.include_router(roster_page_router(backend, run))
    app.include_router(reports_page_router(backend, run))
    app.include_router(users_page_router(backend, run))
    app.include_router(case_summary_page_router(backend, run))
    app.include_router(visits_page_router(backend, run))
    app.mount("/static", static_files(), name="static")
    app.add_exception_handler(PageRefusedError, page_refused)
    document_errors(app)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        response = await http_exception_handler(request, error)
        if error.status_code == 405:
            # Each method of a path is a route of its own, and Starlette's Allow names only
            # the first; RFC 9110 wants every method the path has.
            response.headers["Allow"] = ", ".join(_methods_of(app, request))
        return response

    return app


def _methods_of(app: FastAPI, request: Request) -> list[str]:
    methods: set[str] = set()
    for route in app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)
