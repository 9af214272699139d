"""The API's users: operators and district officials, each known by a hash of their token.

Owns ``api_users``: adding a user and finding the live (unrevoked) user behind a token hash.
Tokens themselves are made and hashed in :mod:`hub.api.auth`; only the hash reaches here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

from hub.store.tables import api_users
from protocol.vocab import StaffRole

__all__ = ["ApiUser", "add_user", "user_by_token_hash"]


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
    """Store a new user and return their id."""
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
