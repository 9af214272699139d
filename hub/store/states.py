"""Residents' stored core states: read in bulk, as committed.

Owns the reads of ``resident_state`` for everyone but the ingest worker (the API, guardian
links), which must see what has committed and never the worker's own cache: one query for
any number of residents, chunked to keep within the databases' parameter limits.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select

from alerts.state import ResidentState
from hub.store.tables import resident_state

__all__ = ["load_states"]

_CHUNK = 500


def load_states(conn: Connection, resident_ids: Iterable[str]) -> dict[str, ResidentState]:
    """The stored state of each resident given that has one (others are left out)."""
    wanted = sorted(set(resident_ids))
    found: dict[str, ResidentState] = {}
    for start in range(0, len(wanted), _CHUNK):
        rows = conn.execute(
            select(resident_state.c.resident_id, resident_state.c.state).where(
                resident_state.c.resident_id.in_(wanted[start : start + _CHUNK])
            )
        )
        found.update(
            {row.resident_id: ResidentState.model_validate_json(row.state) for row in rows}
        )
    return found
