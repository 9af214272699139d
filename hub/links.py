"""One-tap links for guardians: signed, expiring, good for one resident's one alert.

A link is ``{ANBU_PUBLIC_URL}/g/{token}``. The token packs the link row's id and its expiry
and signs both with HMAC-SHA256 under the hub's link key, so a forged, altered or expired
token is refused before the database is asked; the row says which resident, alert and
contact it was made for. Tokens are short (32 characters) because they ride in an SMS.

The key comes from ``ANBU_LINK_SECRET``; without one the hub generates a key once and keeps
it in its database, so links survive restarts. Both rows are kept through
:mod:`hub.store.guardian_links`; this module owns only tokens and what they grant.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from datetime import UTC, datetime, timedelta

from hub.store import guardian_links
from hub.store.db import Connection

_MAC_BYTES = 12
_PACK = struct.Struct(">QI")  # link id, expiry (unix seconds)


class LinkError(ValueError):
    """The token is not one of ours, was altered, or has expired; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


Link = guardian_links.LinkRow
"""What a verified token grants: act on this alert of this resident, as this role."""


class LinkSigner:
    """Makes and checks tokens with one HMAC key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            msg = "the link key must be at least 16 bytes"
            raise ValueError(msg)
        self._key = key

    def token(self, link_id: int, expires_at: datetime) -> str:
        body = _PACK.pack(link_id, int(expires_at.timestamp()))
        mac = hmac.new(self._key, body, hashlib.sha256).digest()[:_MAC_BYTES]
        return base64.urlsafe_b64encode(body + mac).decode().rstrip("=")

    def verify(self, token: str, now: datetime) -> int:
        """The link id in a good, unexpired token; raises LinkError otherwise."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (ValueError, TypeError):
            raise LinkError("malformed") from None
        if len(raw) != _PACK.size + _MAC_BYTES:
            raise LinkError("malformed")
        body, mac = raw[: _PACK.size], raw[_PACK.size :]
        expected = hmac.new(self._key, body, hashlib.sha256).digest()[:_MAC_BYTES]
        if not hmac.compare_digest(mac, expected):
            raise LinkError("bad_signature")
        link_id, expires = _PACK.unpack(body)
        if now.timestamp() >= expires:
            raise LinkError("expired")
        return int(link_id)


def link_key(conn: Connection, configured: str | None) -> bytes:
    """The configured key, or the hub's own generated one (made on first use)."""
    if configured:
        return configured.encode()
    stored = guardian_links.read_link_key(conn)
    if stored is not None:
        return stored
    key = secrets.token_bytes(32)
    guardian_links.save_link_key(conn, key)
    return key


def issue(
    conn: Connection,
    signer: LinkSigner,
    *,
    resident_id: str,
    alert_id: str,
    contact_id: int | None,
    role: str,
    now: datetime,
    ttl: timedelta,
) -> str:
    """Store a link row and return its token."""
    expires_at = (now + ttl).astimezone(UTC).replace(microsecond=0)
    link_id = guardian_links.add_link(
        conn,
        resident_id=resident_id,
        alert_id=alert_id,
        contact_id=contact_id,
        role=role,
        expires_at=expires_at,
        created_at=now,
    )
    return signer.token(link_id, expires_at)


def lookup(conn: Connection, signer: LinkSigner, token: str, now: datetime) -> Link:
    """The link a token stands for; raises LinkError (bad, expired or unknown)."""
    link_id = signer.verify(token, now)
    row = guardian_links.find_link(conn, link_id)
    if row is None:
        raise LinkError("unknown")
    return row
