"""Routes for who may use the API: creating users (admin only) and asking who one is.

* ``POST /api/v1/users``: a control-centre operator or a district official, with a token
  shown only in this answer.
* ``GET /api/v1/users``: every user (never a token or its hash), revoked ones on request.
* ``POST /api/v1/users/{id}/revoke``: the user's token stops working, and with it every
  browser session made from it, at their next request.
* ``GET /api/v1/me``: the caller's name, role and district.

Tokens, roles and the gates themselves are :mod:`hub.api.auth`'s.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, status

from hub.api.auth import AdminOnly, AnyUser, create_user
from hub.api.backend import Backend, Runner
from hub.api.residents import district_of
from hub.api.schemas import UserIn
from hub.store.db import reading, writing
from hub.store.users import list_users, revoke_user
from protocol.vocab import DISTRICT_ROLES


def access_router(backend: Backend, run: Runner) -> APIRouter:
    """Routes bound to ``backend``; ``run`` executes on the hub's writer thread."""
    router = APIRouter(tags=["access"])

    @router.post("/api/v1/users", status_code=201)
    def create_api_user(body: UserIn, _: AdminOnly) -> dict[str, Any]:
        """A control-centre operator or a district official; the token is shown only once.

        An official's district must be one of the hub's (answered by its canonical name).
        """
        district = body.district
        if body.role in DISTRICT_ROLES and district is not None:
            district = district_of(backend, district).name
        user_id, token = run(
            lambda now: create_user(backend.engine, body.name, body.role, district, now)
        )
        return {
            "id": user_id,
            "name": body.name,
            "role": body.role,
            "district": district,
            "token": token,
        }

    @router.get("/api/v1/users")
    def users_list(_: AdminOnly, include_revoked: bool = False) -> list[dict[str, Any]]:
        """Users in the order they were made; a token is never shown again."""
        with reading(backend.engine) as conn:
            rows = list_users(conn, include_revoked=include_revoked)
        return [dataclasses.asdict(row) for row in rows]

    @router.post("/api/v1/users/{user_id}/revoke")
    def users_revoke(
        user_id: Annotated[int, Path(ge=1, le=2**63 - 1)], _: AdminOnly
    ) -> dict[str, Any]:
        """Revoke a user (again: no change, the first revocation's time is kept)."""

        def revoke(now: datetime) -> bool | None:
            with writing(backend.engine) as conn:
                return revoke_user(conn, user_id, now)

        revoked = run(revoke)
        if revoked is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"user {user_id} not found")
        return {"id": user_id, "revoked": True, "changed": revoked}

    @router.get("/api/v1/me")
    def whoami(who: AnyUser) -> dict[str, Any]:
        """The caller's name, role and district (what the board shows and filters by)."""
        return {"name": who.name, "role": who.role, "district": who.district}

    return router
