"""Routes behind the district official's work lists on the board.

* ``GET /api/v1/digest?days=3``: what happened out of working hours and waited for the
  officials' digest.
* ``GET /api/v1/trends?days=30``: lasting changes in residents' own routines
  (:mod:`alerts.trends`): activity down, a longer night, restless nights. They reach
  officials here and in their digest, never as an SMS of their own.
* ``GET /api/v1/sensors``: each sensor gateway's sensors as its newest heartbeat told them,
  with the board's line for one that needs looking at ("현관 문 센서: 응답 없음 3일"), and the
  gateways that cannot see the home (:mod:`hub.sensor_lines`).
* ``GET /api/v1/batteries?threshold=20``: the installer's list of batteries to change, per
  resident and sensor: the sensor says low, or its charge is at or below ``threshold`` %.

An official sees their own district's; staff see every district.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from alerts.messages import digest_line
from hub.api.auth import AnyUser
from hub.api.backend import Backend
from hub.sensor_lines import BATTERY_CHANGE_PCT, blind_line, needs_battery, sensor_line
from hub.store import alert_reads, resident_reads, sensor_health
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

    @router.get("/api/v1/sensors", tags=["board"])
    def sensor_health_list(who: AnyUser) -> dict[str, list[dict[str, Any]]]:
        """Every sensor behind the residents' gateways (an official sees their district's):
        ``sensors`` each with ``line``, the board's words when it needs looking at (else
        null); ``blind``, the gateways whose newest heartbeat says they cannot see."""
        now = backend.now()
        with reading(backend.engine) as conn:
            rows = sensor_health.sensor_rows(conn, who.districts())
            blind = sensor_health.blind_devices(conn, who.districts())
        return {
            "sensors": [
                {
                    "resident": row.resident_id,
                    "name": row.name,
                    "district": row.district,
                    "device": row.device_id,
                    "sensor": row.sensor,
                    "signal": row.signal,
                    "available": row.available,
                    "last_seen": row.last_seen,
                    "battery_pct": row.battery_pct,
                    "battery_low": row.battery_low,
                    "linkquality": row.linkquality,
                    "active_since": row.active_since,
                    "reported_at": row.reported_at,
                    "line": sensor_line(row, now),
                }
                for row in rows
            ],
            "blind": [
                {
                    "resident": row["resident_id"],
                    "name": row["name"],
                    "district": row["district"],
                    "device": row["device_id"],
                    "problem": row["problem"],
                    "since": row["since"],
                    "line": blind_line(row["device_id"], row["problem"]),
                }
                for row in blind
            ],
        }

    @router.get("/api/v1/batteries", tags=["board"])
    def batteries_to_change(
        who: AnyUser, threshold: Annotated[int, Query(ge=0, le=100)] = BATTERY_CHANGE_PCT
    ) -> list[dict[str, Any]]:
        """The installer's list: sensors whose battery to change (the sensor says low, or
        its charge is at or below ``threshold`` %), per resident and sensor."""
        with reading(backend.engine) as conn:
            rows = sensor_health.sensor_rows(conn, who.districts())
        return [
            {
                "resident": row.resident_id,
                "name": row.name,
                "district": row.district,
                "device": row.device_id,
                "sensor": row.sensor,
                "battery_pct": row.battery_pct,
                "battery_low": row.battery_low,
            }
            for row in rows
            if needs_battery(row, threshold)
        ]

    return router
