"""Monitoring coverage on the board: how many watched residents' devices the hub hears.

* ``GET /api/v1/coverage?within_min=15`` (staff and officials; an official counts their own
  districts): ``{"watched", "heard", "not_heard", "within_min", "since", "line"}``, ``line``
  the board's words, e.g. ``모니터링 중 1,234 / 1,250명 · 16명 신호 없음 (최근 15분)``.
* ``GET /board/coverage``: that line as an HTML fragment, which the board's partial
  (``templates/board_coverage.html``) asks for with htmx on load and every 30 s.

"Heard" is :mod:`hub.store.coverage_reads`' (any stored message but a status since the
window began). The window's default, 15 minutes, is three of a device's default 5-minute
heartbeats: the hub's own rule for a device gone offline.
"""

from __future__ import annotations

from datetime import timedelta
from html import escape
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from hub.api.auth import AnyUser
from hub.api.backend import Backend
from hub.store.coverage_reads import Coverage, coverage
from hub.store.db import reading

__all__ = ["DEFAULT_WITHIN_MIN", "coverage_line", "coverage_router"]

DEFAULT_WITHIN_MIN: Final = 15

Within = Annotated[int, Query(ge=1, le=24 * 60, description="The window, in minutes")]


def coverage_line(seen: Coverage, within_min: int) -> str:
    """The board's words for ``seen``."""
    line = f"모니터링 중 {seen.heard:,} / {seen.watched:,}명"
    if seen.not_heard:
        line += f" · {seen.not_heard:,}명 신호 없음"
    return f"{line} (최근 {within_min}분)"


def coverage_router(backend: Backend) -> APIRouter:
    """Routes bound to ``backend``."""
    router = APIRouter()

    def read(who: Any, within_min: int) -> Coverage:
        since = backend.now() - timedelta(minutes=within_min)
        with reading(backend.engine) as conn:
            return coverage(conn, since, who.districts())

    @router.get("/api/v1/coverage", tags=["board"])
    def coverage_json(who: AnyUser, within_min: Within = DEFAULT_WITHIN_MIN) -> dict[str, Any]:
        seen = read(who, within_min)
        return {
            "watched": seen.watched,
            "heard": seen.heard,
            "not_heard": seen.not_heard,
            "within_min": within_min,
            "since": seen.since.isoformat(),
            "line": coverage_line(seen, within_min),
        }

    @router.get("/board/coverage", include_in_schema=False)
    def coverage_fragment(who: AnyUser) -> HTMLResponse:
        seen = read(who, DEFAULT_WITHIN_MIN)
        warn = ' class="unheard"' if seen.not_heard else ""
        html = f"<span{warn}>{escape(coverage_line(seen, DEFAULT_WITHIN_MIN))}</span>"
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    return router
