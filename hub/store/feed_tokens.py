"""Feed tokens: a phone's own credentials for posting its feed to the hub over HTTPS.

Owns the ``device_feed_tokens`` rows (migration 0010). A token is random and shown once when
issued; only its SHA-256 is stored, so a copy of the database cannot post. A device has at
most one live token: issuing a new one revokes the old, and a revoked token stays refused.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from hub.store.tables import device_feed_tokens

__all__ = ["FeedDevice", "device_of_token", "issue_token", "revoke_tokens", "token_hash"]

# Recognisable in a config screen or a leaked paste; the rest is 256 random bits.
_PREFIX = "anbu-feed-"


@dataclass(frozen=True, slots=True)
class FeedDevice:
    """Whose token it is, and whether it still counts."""

    resident_id: str
    device_id: str
    revoked: bool


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(conn: Connection, resident_id: str, device_id: str, now: datetime) -> str:
    """A new token for the device (returned, never stored); its older ones stop working."""
    revoke_tokens(conn, resident_id, device_id, now)
    token = _PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        insert(device_feed_tokens).values(
            token_hash=token_hash(token),
            resident_id=resident_id,
            device_id=device_id,
            created_at=now,
            revoked_at=None,
        )
    )
    return token


def revoke_tokens(conn: Connection, resident_id: str, device_id: str, now: datetime) -> int:
    """Revoke the device's live tokens; how many there were."""
    result = conn.execute(
        update(device_feed_tokens)
        .where(device_feed_tokens.c.resident_id == resident_id)
        .where(device_feed_tokens.c.device_id == device_id)
        .where(device_feed_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)


def device_of_token(conn: Connection, token: str) -> FeedDevice | None:
    """The device a presented token was issued to, or None for a token never issued."""
    row = conn.execute(
        select(
            device_feed_tokens.c.resident_id,
            device_feed_tokens.c.device_id,
            device_feed_tokens.c.revoked_at,
        ).where(device_feed_tokens.c.token_hash == token_hash(token))
    ).first()
    if row is None:
        return None
    return FeedDevice(row.resident_id, row.device_id, row.revoked_at is not None)
