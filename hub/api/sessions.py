"""Browser sessions: the login page, the session cookie and its CSRF token.

Staff sign in once per shift with the token an admin gave them (``POST /login``); the hub
answers with two cookies:

* ``anbu_session``: HttpOnly, SameSite=Strict, 12 h: a random id. The hub keeps only its
  SHA-256 (:mod:`hub.store.browser_sessions`), with whose token it stands for and its CSRF
  value, so a logout ends the session everywhere (a copied cookie too), and a copy of the
  database can make no session (the id is in no table). A revoked user's session dies at
  their next request, because every request looks the user up again.
* ``anbu_csrf``: the same CSRF value, readable by the page's script (double submit). Every
  state-changing request made with the session cookie must carry it back, as the
  ``X-CSRF-Token`` header (the board's fetches, htmx) or a ``csrf_token`` form field (plain
  forms); SameSite=Strict already keeps other sites' requests from carrying the cookie, the
  token also covers a same-site page that is not ours.

API clients keep bearer tokens (:mod:`hub.api.auth`): a request with an ``Authorization``
header is judged by it alone, and needs no CSRF token. Sessions are rows, so they survive
a restart of the hub. A session's 12 h are real time (the machine's clock), not the hub's
judging clock: they are how long a person stays signed in.

``POST /login`` itself is refused when the browser says it comes from another site
(``Sec-Fetch-Site``/``Origin``): otherwise a page elsewhere could sign a victim into the
poster's account.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hub.api.backend import Backend, Runner
from hub.store.browser_sessions import end_session, live_session, open_session
from hub.store.db import reading, writing

SESSION_COOKIE = "anbu_session"
CSRF_COOKIE = "anbu_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SESSION_TTL = timedelta(hours=12)  # one night shift, and its handover
ADMIN_SUBJECT = "admin:"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Session:
    """What a live session cookie stands for: whose token (by hash) and the CSRF value."""

    subject: str
    csrf: str


def admin_subject(admin_token: str) -> str:
    """The admin's session subject: tied to the configured token, so changing it ends them."""
    return ADMIN_SUBJECT + hashlib.sha256(admin_token.encode()).hexdigest()


def _id_hash(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def _wall_now() -> datetime:
    return datetime.now(UTC)


def session_of(request: Request) -> Session | None:
    """The live session the request's cookie stands for, if any (looked up once per request)."""
    if "anbu_session" in request.scope.get("state", {}):
        found: Session | None = request.state.anbu_session
        return found
    cookie = request.cookies.get(SESSION_COOKIE)
    found = None
    if cookie is not None and 16 <= len(cookie) <= 128:
        with reading(request.app.state.backend.engine) as conn:
            row = live_session(conn, _id_hash(cookie), _wall_now())
        found = None if row is None else Session(row.subject, row.csrf)
    request.state.anbu_session = found
    return found


def csrf_matches(session: Session, sent: str | None) -> bool:
    return sent is not None and hmac.compare_digest(sent.encode(), session.csrf.encode())


def _safe_next(target: str | None) -> str:
    # Only a path of this hub: never an address elsewhere (an open redirect in a login page
    # is how a phishing link borrows our name).
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/board"
    return target


def _secure(request: Request, backend: Backend) -> bool:
    public = backend.settings.public_url or ""
    return request.url.scheme == "https" or public.startswith("https://")


def sessions_router(backend: Backend) -> APIRouter:
    """``GET/POST /login`` and ``POST /logout``."""
    from hub.api.auth import subject_of_token
    from hub.api.pages import render

    router = APIRouter(include_in_schema=False)

    @router.get("/login")
    def login_page(request: Request, next: str | None = None) -> HTMLResponse:
        return render(request, "login.html", None, next=_safe_next(next), error=None)

    @router.post("/login", response_model=None)
    def login(
        request: Request,
        token: Annotated[str, Form(max_length=512)] = "",
        next: Annotated[str, Form(max_length=2000)] = "/board",
    ) -> Response:
        subject = subject_of_token(request, token.strip())
        if subject is None:
            page = render(
                request,
                "login.html",
                None,
                next=_safe_next(next),
                error="접속 토큰이 맞지 않습니다. 관리자에게 받은 토큰을 다시 확인해 주세요.",
            )
            page.status_code = 401
            return page
        if _from_elsewhere(request):
            return Response("다른 사이트에서 보낸 로그인은 받지 않습니다", status_code=403)
        session_id = secrets.token_urlsafe(32)
        session = Session(subject, secrets.token_urlsafe(24))

        def keep(_now: datetime) -> None:
            with writing(backend.engine) as conn:
                open_session(
                    conn,
                    id_hash=_id_hash(session_id),
                    subject=subject,
                    csrf=session.csrf,
                    now=_wall_now(),
                    ttl=SESSION_TTL,
                )

        Runner(backend)(keep)
        # The board's sign-in link posts here by script and wants the cookies, not a page.
        scripted = "application/json" in request.headers.get("accept", "")
        response: Response = (
            Response(status_code=204)
            if scripted
            else RedirectResponse(_safe_next(next), status_code=303)
        )
        max_age = int(SESSION_TTL.total_seconds())
        secure = _secure(request, backend)
        response.set_cookie(
            SESSION_COOKIE,
            session_id,
            max_age=max_age,
            httponly=True,
            samesite="strict",
            secure=secure,
            path="/",
        )
        response.set_cookie(
            CSRF_COOKIE, session.csrf, max_age=max_age, samesite="strict", secure=secure, path="/"
        )
        return response

    @router.post("/logout", response_model=None)
    def logout(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
        session = session_of(request)
        sent = request.headers.get(CSRF_HEADER) or csrf_token
        if session is not None and not csrf_matches(session, sent):
            return Response("CSRF 토큰이 없거나 맞지 않습니다", status_code=403)
        cookie = request.cookies.get(SESSION_COOKIE)
        if session is not None and cookie is not None:

            def end(_now: datetime) -> None:
                with writing(backend.engine) as conn:
                    end_session(conn, _id_hash(cookie), _wall_now())

            Runner(backend)(end)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(CSRF_COOKIE, path="/")
        return response

    return router


def _from_elsewhere(request: Request) -> bool:
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin == "null"
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] != host


def login_location(request: Request) -> str:
    """Where a page sends someone without a session: the login page, then back here."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/login?next={quote(here, safe='')}"
