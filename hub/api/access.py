"""Routes for who may use the API: creating users (admin only) and asking who one is.

* ``POST /api/v1/users``: a control-centre operator or a district official, with a token
  shown only in this answer.
* ``GET /api/v1/me``: the caller's name, role and district.

Tokens, roles and the gates themselves are :mod:`hub.api.auth`'s.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from hub.api.auth import AdminOnly, AnyUser, create_user
from hub.api.backend import Backend, Runner
from hub.api.residents import district_of
from hub.api.schemas import UserIn


def access_router(backend: Backend, run: Runner) -> APIRouter:
    """Routes bound to ``backend``; ``run`` executes on the hub's writer thread."""
    router = APIRouter(tags=["access"])

    @router.post("/api/v1/users", status_code=201)
    def create_api_user(body: UserIn, _: AdminOnly) -> dict[str, Any]:
        """A control-centre operator or a district official; the token is shown only once.

        An official's district must be one of the hub's (answered by its canonical name).
        """
        district = body.district
        if body.role == "official" and district is not None:
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

    @router.get("/api/v1/me")
    def whoami(who: AnyUser) -> dict[str, Any]:
        """The caller's name, role and district (what the board shows and filters by)."""
        return {"name": who.name, "role": who.role, "district": who.district}

    return router
