"""The users view of the staff pages: who may sign in, for admins only.

``GET /users`` lists every user (revoked ones too, with when); ``POST /users`` makes one
(an official with their district) and shows the new token once, on the answer page only:
it is never stored in clear, never logged and never shown again. ``GET /users/{id}/revoke``
asks to confirm, ``POST /users/{id}/revoke`` revokes: the user's token and every browser
session made from it stop at their next request. Both changes run on the hub's writer,
through the same functions as ``POST /api/v1/users`` and ``…/revoke``
(:mod:`hub.api.access`).

A role or a district cannot be changed here: :mod:`hub.store.users` has no such update (a
new user and revoking the old one does it). Anyone but an admin gets a 403 page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Path, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hub.api.auth import Principal, create_user
from hub.api.backend import Backend, Runner
from hub.api.pages import PageUser, render
from hub.api.reports_page import district_groups
from hub.api.residents import district_of
from hub.store.db import reading, writing
from hub.store.users import UserRow, list_users, revoke_user
from protocol.vocab import DISTRICT_ROLES, STAFF_ROLES

_ID = Path(ge=1, le=2**63 - 1)


def _forbidden(request: Request, who: Principal) -> HTMLResponse:
    return render(request, "users_forbidden.html", who, status_code=status.HTTP_403_FORBIDDEN)


def users_page_router(backend: Backend, run: Runner) -> APIRouter:
    """The view's routes, bound to ``backend``; ``run`` executes on the hub's writer."""
    router = APIRouter(include_in_schema=False)
    zone = ZoneInfo(backend.settings.tz)

    def shown(at: datetime | None) -> str:
        return "" if at is None else at.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    def users() -> list[UserRow]:
        with reading(backend.engine) as conn:
            return list_users(conn, include_revoked=True)

    def listing(
        request: Request, who: Principal, *, status_code: int = 200, **ctx: Any
    ) -> HTMLResponse:
        defaults: dict[str, Any] = {"form": {"role": "operator"}, "error": None, "notice": None}
        return render(
            request,
            "users.html",
            who,
            status_code=status_code,
            users=users(),
            shown=shown,
            roles=STAFF_ROLES,
            groups=district_groups(backend),
            **{**defaults, **ctx},
        )

    @router.get("/users", response_model=None)
    def users_page(request: Request, who: PageUser, revoked: int | None = None) -> Response:
        if who.role != "admin":
            return _forbidden(request, who)
        notice = None
        if revoked is not None:
            named = [u.name for u in users() if u.id == revoked and u.revoked_at is not None]
            notice = f"{named[0]} 님의 접속을 중지했습니다." if named else None
        return listing(request, who, notice=notice)

    @router.post("/users", response_model=None)
    def users_create(
        request: Request,
        who: PageUser,
        name: Annotated[str, Form(max_length=200)] = "",
        role: Annotated[str, Form(max_length=20)] = "",
        district: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        if who.role != "admin":
            return _forbidden(request, who)
        form = {"name": name, "role": role, "district": district}
        name = name.strip()
        error = None
        if not name or len(name) > 100:
            error = "이름을 1자 이상 100자 이하로 적어 주세요."
        elif role not in STAFF_ROLES:
            error = "역할을 골라 주세요."
        elif role in DISTRICT_ROLES and not district.strip():
            who_needs = "담당 공무원은" if role == "official" else "방문간호사는"
            error = f"{who_needs} 담당 구를 골라야 합니다."
        chosen: str | None = None
        if error is None and role in DISTRICT_ROLES:
            try:
                chosen = district_of(backend, district.strip()).name
            except HTTPException as refused:
                error = str(refused.detail)
        if error is not None:
            return listing(request, who, status_code=422, form=form, error=error)
        made_role = next(r for r in STAFF_ROLES if r == role)
        user_id, token = run(lambda now: create_user(backend.engine, name, made_role, chosen, now))
        # The token is in this page only: not in a log line, a redirect or a cookie.
        return render(
            request,
            "users_created.html",
            who,
            status_code=status.HTTP_201_CREATED,
            user_id=user_id,
            name=name,
            role=made_role,
            district=chosen,
            token=token,
        )

    @router.get("/users/{user_id}/revoke", response_model=None)
    def users_revoke_confirm(
        request: Request, who: PageUser, user_id: Annotated[int, _ID]
    ) -> Response:
        if who.role != "admin":
            return _forbidden(request, who)
        found = [u for u in users() if u.id == user_id]
        if not found:
            return listing(request, who, status_code=404, error=f"사용자 {user_id}번은 없습니다.")
        return render(request, "users_revoke.html", who, user=found[0], shown=shown)

    @router.post("/users/{user_id}/revoke", response_model=None)
    def users_revoke(request: Request, who: PageUser, user_id: Annotated[int, _ID]) -> Response:
        if who.role != "admin":
            return _forbidden(request, who)

        def revoke(now: datetime) -> bool | None:
            with writing(backend.engine) as conn:
                return revoke_user(conn, user_id, now)

        if run(revoke) is None:
            return listing(request, who, status_code=404, error=f"사용자 {user_id}번은 없습니다.")
        return RedirectResponse(f"/users?revoked={user_id}", status_code=303)

    return router
