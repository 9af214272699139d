"""Routes behind the control-centre board: the page, its live stream, per-day activity.

* ``GET /board``: the board (a page of :mod:`hub.api.pages` + board.js, Korean; no build
  step). It runs on the browser session (:mod:`hub.api.sessions`; a ``#token=`` link signs
  in once) and re-reads residents and alerts whenever the stream says something changed.
* ``GET /api/v1/stream``: server-sent events, ``event: change`` with the new version within
  0.05 s of any commit; a comment line every 15 s keeps proxies from closing it.
* ``GET /api/v1/residents/{id}/activity?days=14``: activity events per local day, for the
  small chart in the resident's profile.

The officials' work lists (digest, trends) are in :mod:`hub.api.worklists`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, StreamingResponse

from hub.api.auth import BEARER, AnyUser, Principal, authenticate
from hub.api.backend import Backend
from hub.api.pages import render
from hub.store import resident_reads
from hub.store.db import reading

_WEB = Path(__file__).resolve().parent.parent / "web"
_POLL_S = 0.05
_KEEPALIVE_S = 15.0


def board_router(backend: Backend) -> APIRouter:
    router = APIRouter()

    @router.get("/board", include_in_schema=False, response_model=None)
    async def board_page(request: Request) -> HTMLResponse | RedirectResponse:
        # The shell loads without a session: a ``#token=`` link (never sent to us) signs in
        # from the page's script; without either, the script sends the browser to log in.
        try:
            who: Principal | None = await authenticate(request, await BEARER(request))
        except HTTPException:
            who = None
        if who is not None and who.role == "health_center":
            # The nurse's own page is the home-visit one: the board's alert work is not hers.
            return RedirectResponse("/visits", status_code=303)
        return render(request, "board.html", who)

    @router.get("/board.js", include_in_schema=False)
    def board_script() -> FileResponse:
        return FileResponse(_WEB / "board.js", media_type="text/javascript; charset=utf-8")

    @router.get(
        "/api/v1/stream",
        tags=["board"],
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def stream(request: Request, _: AnyUser) -> StreamingResponse:
        """Server-sent events: ``change`` whenever the hub commits something new."""

        async def events_out() -> AsyncIterator[str]:
            feed = backend.changes
            seen = feed.version
            yield f"retry: 1000\nevent: change\ndata: {seen}\n\n"
            idle = 0.0
            while not await request.is_disconnected():
                if feed.version != seen:
                    seen = feed.version
                    idle = 0.0
                    yield f"event: change\ndata: {seen}\n\n"
                await asyncio.sleep(_POLL_S)
                idle += _POLL_S
                if idle >= _KEEPALIVE_S:
                    idle = 0.0
                    yield ": keepalive\n\n"

        return StreamingResponse(
            events_out(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @router.get("/api/v1/residents/{resident_id}/activity", tags=["residents"])
    def activity_per_day(
        resident_id: str,
        who: AnyUser,
        days: Annotated[int, Query(ge=1, le=90)] = 14,
    ) -> list[dict[str, Any]]:
        """Activity messages (and their folded counts) per local day, oldest first."""
        tz = ZoneInfo(backend.settings.tz)
        today = backend.now().astimezone(tz).date()
        first = today - timedelta(days=days - 1)
        with reading(backend.engine) as conn:
            district = resident_reads.resident_district(conn, resident_id)
            if district is None or not who.sees_district(district):
                raise HTTPException(404, f"resident {resident_id} not found")
            times = resident_reads.activity_times(
                conn, resident_id, since=backend.now() - timedelta(days=days + 1)
            )
        counts = {first + timedelta(days=n): 0 for n in range(days)}
        for ts in times:
            day = ts.astimezone(tz).date()
            if day in counts:
                counts[day] += 1
        return [{"day": day.isoformat(), "activity": n} for day, n in counts.items()]

    return router
