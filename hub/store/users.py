"""The API's users: operators and district officials, each known by a hash of their token.

Owns ``api_users``: adding a user, finding the live (unrevoked) user behind a token hash,
listing users for ``anbu users list``, revoking one, and counting live admins (the start-up
warning when nobody could sign in). Tokens themselves are made and hashed in
:mod:`hub.api.auth`; only the hash reaches here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, insert, select, update

from hub.store.districts import ensure_district
from hub.store.tables import api_users
from protocol.vocab import StaffRole

__all__ = [
    "ApiUser",
    "UserRow",
    "add_user",
    "list_users",
    "live_admins",
    "revoke_user",
    "user_by_token_hash",
]


@dataclass(frozen=True)
class ApiUser:
    """A user as the API sees them: a name for the timeline, a role, a district if any."""

    name: str
    role: StaffRole
    district: str | None


def add_user(
    conn: Connection,
    *,
    name: str,
    role: StaffRole,
    district: str | None,
    token_hash: str,
    now: datetime,
) -> int:
    """Store a new user and return their id (their district, a foreign key, is made one of
    the hub's first if it is not: :func:`hub.store.districts.ensure_district`)."""
    if district is not None:
        ensure_district(conn, district)
    result = conn.execute(
        insert(api_users).values(
            name=name, role=role, district=district, token_hash=token_hash, created_at=now
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def user_by_token_hash(conn: Connection, token_hash: str) -> ApiUser | None:
    """The unrevoked user whose token hashes to ``token_hash``, if any."""
    row = conn.execute(
        select(api_users.c.name, api_users.c.role, api_users.c.district)
        .where(api_users.c.token_hash == token_hash)
        .where(api_users.c.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    return ApiUser(name=row.name, role=row.role, district=row.district)


@dataclass(frozen=True)
class UserRow:
    """A user as an operator lists them: never the token, not even its hash."""

    id: int
    name: str
    role: StaffRole
    district: str | None
    created_at: datetime
    revoked_at: datetime | None


def list_users(conn: Connection, *, include_revoked: bool = False) -> list[UserRow]:
    """Users by id; revoked ones only when asked for."""
    query = select(
        api_users.c.id,
        api_users.c.name,
        api_users.c.role,
        api_users.c.district,
        api_users.c.created_at,
        api_users.c.revoked_at,
    ).order_by(api_users.c.id)
    if not include_revoked:
        query = query.where(api_users.c.revoked_at.is_(None))
    return [
        UserRow(
            id=row.id,
            name=row.name,
            role=row.role,
            district=row.district,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
        )
        for row in conn.execute(query)
    ]


def revoke_user(conn: Connection, user_id: int, now: datetime) -> bool | None:
    """Revoke a user's token from ``now`` on: ``True`` if revoked now, ``False`` if it
    already was (the first revocation's time is kept), ``None`` if there is no such user."""
    revoked = conn.execute(
        update(api_users)
        .where(api_users.c.id == user_id)
        .where(api_users.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if revoked.rowcount:
        return True
    exists = conn.execute(select(api_users.c.id).where(api_users.c.id == user_id)).first()
    return None if exists is None else False


def live_admins(conn: Connection) -> int:
    """How many unrevoked users have the admin role."""
    count = conn.execute(
        select(func.count())
        .select_from(api_users)
        .where(api_users.c.role == "admin")
        .where(api_users.c.revoked_at.is_(None))
    ).scalar_one()
    return int(count)
