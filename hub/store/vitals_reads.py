"""The recent vital readings of one resident, as the home-visit page shows them.

Owns the read of ``events`` of kind ``vitals`` for a resident, newest first (by the reading's
own time, on the ``(resident_id, ts)`` index): every device's and the nurses' visits alike, so
the nurse sees what the home's devices measured between visits. Only committed rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from hub.store.tables import events

__all__ = ["StoredReading", "recent_vitals"]


@dataclass(frozen=True)
class StoredReading:
    """One stored vitals event: who sent it, when it was measured, its payload as stored."""

    device_id: str
    ts: datetime
    received_at: datetime
    payload: str


def recent_vitals(conn: Connection, resident_id: str, limit: int = 20) -> list[StoredReading]:
    """The resident's last ``limit`` vitals events, newest first."""
    rows = conn.execute(
        select(events.c.device_id, events.c.ts, events.c.received_at, events.c.payload)
        .where(events.c.resident_id == resident_id, events.c.kind == "vitals")
        .order_by(events.c.ts.desc(), events.c.seq.desc())
        .limit(limit)
    )
    return [StoredReading(row.device_id, row.ts, row.received_at, row.payload) for row in rows]
