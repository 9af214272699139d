"""The ``districts`` table: the hub's districts, read for resolving names.

What a typed name means is :mod:`hub.districts`'s; this module only reads and writes rows.
:func:`district_index` is what entry points use: every district of the hub, verified or not,
as a :class:`~hub.districts.DistrictIndex`. Seeding the table and mapping the free-text names
it replaced are migration 0006's, which keeps its own copy of the columns it writes.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from hub.districts import District, DistrictIndex
from hub.store.tables import districts

__all__ = ["district_index", "list_districts"]


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
