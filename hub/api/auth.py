"""Who is calling the API, and what their role lets them do.

A caller is either an API client with a bearer token or a browser with a session cookie
(:mod:`hub.api.sessions`; a state-changing request made with the cookie must carry its CSRF
token). Roles: ``admin`` (the bootstrap ``ANBU_ADMIN_TOKEN``, and users an admin creates),
``operator``
(the 24 h control centre: every resident and alert), ``official`` (one district's residents
and alerts, read-only on alert work), ``health_center`` (a visiting nurse: one district's
residents and their readings, none of the alert work). Guardians never hold a token:
their signed links are handled in :mod:`hub.api.guardian`. Tokens are random; only their
SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hub.api import sessions
from hub.store.db import Engine, reading, writing
from hub.store.users import add_user, user_by_token_hash
from protocol.vocab import DISTRICT_ROLES, STAFF_ROLES, StaffRole

Role = StaffRole
ROLES = STAFF_ROLES

BEARER = HTTPBearer(auto_error=False)  # pages read it too (hub.api.pages)


@dataclass(frozen=True)
class Principal:
    """The caller: a name for the timeline, a role, and for officials their district."""

    name: str
    role: Role
    district: str | None = None

    def sees_district(self, district: str) -> bool:
        """Officials and nurses see only their own district; everyone else sees all."""
        return self.role not in DISTRICT_ROLES or self.district == district

    def districts(self) -> frozenset[str] | None:
        """The districts whose residents this caller may see; ``None`` for every district."""
        if self.role not in DISTRICT_ROLES:
            return None
        # An official without a district sees nothing, as :meth:`sees_district` says.
        return frozenset() if self.district is None else frozenset({self.district})


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    engine: Engine, name: str, role: Role, district: str | None, now: datetime
) -> tuple[int, str]:
    """A new user and their token (returned once, never stored in clear)."""
    if role in DISTRICT_ROLES and not district:
        msg = "an official or a nurse needs a district"
        raise ValueError(msg)
    token = secrets.token_urlsafe(24)
    with writing(engine) as conn:
        user_id = add_user(
            conn,
            name=name,
            role=role,
            district=district if role in DISTRICT_ROLES else None,
            token_hash=token_hash(token),
            now=now,
        )
    return user_id, token


def _unauthorised() -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "인증이 필요합니다 (Bearer token)",
        headers={"WWW-Authenticate": "Bearer"},
    )


def subject_of_token(request: Request, token: str) -> str | None:
    """The session subject for a token (the admin's, or a user's hash); ``None`` if unknown."""
    if not token:
        return None
    backend = request.app.state.backend
    admin = backend.settings.admin_token
    if admin is not None and hmac.compare_digest(token.encode(), admin.get_secret_value().encode()):
        return sessions.admin_subject(admin.get_secret_value())
    with reading(backend.engine) as conn:
        user = user_by_token_hash(conn, token_hash(token))
    return None if user is None else token_hash(token)


def _principal_of_subject(request: Request, subject: str) -> Principal | None:
    backend = request.app.state.backend
    if subject.startswith(sessions.ADMIN_SUBJECT):
        admin = backend.settings.admin_token
        if admin is None or not hmac.compare_digest(
            subject.encode(), sessions.admin_subject(admin.get_secret_value()).encode()
        ):
            return None
        return Principal("admin", "admin")
    with reading(backend.engine) as conn:
        user = user_by_token_hash(conn, subject)
    return None if user is None else Principal(user.name, user.role, user.district)


async def _csrf_sent(request: Request) -> str | None:
    sent = request.headers.get(sessions.CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        # Starlette keeps the parsed form, so the route can still read it.
        field = (await request.form()).get(sessions.CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    return sent


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> Principal:
    """The caller behind the bearer token or the session cookie.

    401 with neither (or an expired session), 403 for an unknown token or a cookie request
    that changes something without its CSRF token.
    """
    if credentials is None:
        session = sessions.session_of(request)
        if session is None:
            raise _unauthorised()
        principal = _principal_of_subject(request, session.subject)
        if principal is None:
            raise _unauthorised()
        if request.method in sessions.UNSAFE_METHODS and not sessions.csrf_matches(
            session, await _csrf_sent(request)
        ):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "CSRF 토큰이 없거나 맞지 않습니다")
        return principal
    backend = request.app.state.backend
    token = credentials.credentials
    admin = backend.settings.admin_token
    if admin is not None and hmac.compare_digest(token.encode(), admin.get_secret_value().encode()):
        return Principal("admin", "admin")
    with reading(backend.engine) as conn:
        user = user_by_token_hash(conn, token_hash(token))
    if user is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "알 수 없는 토큰입니다")
    return Principal(user.name, user.role, user.district)


def require(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency that lets only ``roles`` through (403 for the others)."""

    def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if principal.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"{principal.role} 권한으로는 할 수 없습니다"
            )
        return principal

    return check


# The three gates every route uses.
AdminOnly = Annotated[Principal, Depends(require("admin"))]
Staff = Annotated[Principal, Depends(require("admin", "operator"))]
AnyUser = Annotated[Principal, Depends(require("admin", "operator", "official"))]
