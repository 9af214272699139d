"""Routes behind the district official's work lists on the board.

* ``GET /api/v1/digest?days=3``: what happened out of working hours and waited for the
  officials' digest.
* ``GET /api/v1/trends?days=30``: lasting changes in residents' own routines
  (:mod:`alerts.trends`): activity down, a longer night, restless nights. They reach
  officials here and in their digest, never as an SMS of their own.

An official sees their own district's; staff see every district.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from alerts.messages import digest_line
from hub.api.auth import AnyUser
from hub.api.backend import Backend
from hub.store import alert_reads, resident_reads
from hub.store.db import reading


def worklists_router(backend: Backend) -> APIRouter:
    router = APIRouter()

    @router.get("/api/v1/digest", tags=["board"])
    def out_of_hours_digest(
        who: AnyUser, days: Annotated[int, Query(ge=1, le=31)] = 3
    ) -> list[dict[str, Any]]:
        """What happened out of working hours and waited for the officials' digest (an
        official sees their district's), newest first."""
        since = backend.now() - timedelta(days=days)
        with reading(backend.engine) as conn:
            rows = alert_reads.digest_entries_since(conn, since, who.districts())
        seen: set[tuple[str, str]] = set()
        items = []
        for row in rows:
            if (row.alert_id, row.message) in seen:
                continue  # one line per event, however many officials it waits for
            seen.add((row.alert_id, row.message))
            items.append(
                {
                    "resident": row.resident_id,
                    "name": row.name,
                    "district": row.district,
                    "alert_id": row.alert_id,
                    "text": digest_line(row.message, at=row.queued_at, tz=backend.settings.tz),
                    "queued_at": row.queued_at,
                    "deliver_at": row.deliver_at,
                    "delivered": row.delivered,
                }
            )
        return items

    @router.get("/api/v1/trends", tags=["board"])
    def trend_work_list(
        who: AnyUser, days: Annotated[int, Query(ge=1, le=120)] = 30
    ) -> list[dict[str, Any]]:
        """Lasting changes in residents' own routines (activity down, later up, restless
        nights) for the official's work list (an official sees their district's), newest
        first. They reach officials in their digest too, never as an SMS of their own."""
        since = backend.now() - timedelta(days=days)
        with reading(backend.engine) as conn:
            rows = resident_reads.trend_findings_since(conn, since, who.districts())
        return [
            {
                "id": row.id,
                "resident": row.resident_id,
                "name": row.name,
                "district": row.district,
                "kind": row.kind,
                "detected_at": row.detected_at,
                "detail": row.detail,
            }
            for row in rows
        ]

    return router
