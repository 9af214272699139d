"""The ``districts`` table: the hub's districts, read for resolving names.

What a typed name means is :mod:`hub.districts`'s; this module only reads and writes rows.
:func:`district_index` is what entry points use: every district of the hub, verified or not,
as a :class:`~hub.districts.DistrictIndex`. Seeding the table and mapping the free-text names
it replaced are migration 0006's, which keeps its own copy of the columns it writes.

Residents and users refer to a district by a foreign key (migration 0007), so the stores
that write them call :func:`ensure_district` first: the entry points (API, board, roster,
CLI) have resolved the name to one of the hub's already, and a name written by anything else
(the hub core called directly, a simulator) becomes an unverified district, as 0006 kept
the names it could not map, instead of failing the write or losing the name.
"""

from __future__ import annotations

import structlog
from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hub.districts import District, DistrictIndex
from hub.store.tables import districts

__all__ = ["district_index", "ensure_district", "list_districts"]

log = structlog.get_logger(__name__)


def list_districts(conn: Connection, *, verified: bool | None = None) -> list[District]:
    """The hub's districts by name (only verified or unverified ones when asked)."""
    query = select(districts).order_by(districts.c.name)
    if verified is not None:
        query = query.where(districts.c.verified.is_(verified))
    return [
        District(row.name, row.sido, row.sigungu, row.code, bool(row.verified))
        for row in conn.execute(query)
    ]


def district_index(conn: Connection, home_sido: str | None = None) -> DistrictIndex:
    """Every district of the hub, to resolve names against (``home_sido``: ANBU_SIDO)."""
    return DistrictIndex(list_districts(conn), home_sido)


def ensure_district(conn: Connection, name: str) -> bool:
    """Make ``name`` one of the hub's districts (unverified) unless it is one; returns
    whether it was added. Idempotent under concurrent writers (insert or nothing)."""
    found = conn.execute(select(districts.c.name).where(districts.c.name == name)).first()
    if found is not None:
        return False
    insert = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
    added = conn.execute(
        insert(districts)
        .values(name=name, sido=None, sigungu=name, code=None, verified=False)
        .on_conflict_do_nothing(index_elements=["name"])
    ).rowcount
    if added:
        log.warning("districts.unverified_added", district=name)
    return bool(added)
