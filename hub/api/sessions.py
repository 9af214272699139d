"""Browser sessions: the login page, the session cookie and its CSRF token.

Staff sign in once per shift with the token an admin gave them (``POST /login``); the hub
answers with two cookies:

* ``anbu_session``: HttpOnly, SameSite=Strict, signed (itsdangerous, 12 h), holding the
  SHA-256 of the token and a random CSRF value. The token itself never reaches a cookie,
  and a revoked user's session dies at their next request, because every request looks the
  user up again by that hash.
* ``anbu_csrf``: the same CSRF value, readable by the page's script (double submit). Every
  state-changing request made with the session cookie must carry it back, as the
  ``X-CSRF-Token`` header (the board's fetches, htmx) or a ``csrf_token`` form field (plain
  forms); SameSite=Strict already keeps other sites' requests from carrying the cookie, the
  token also covers a same-site page that is not ours.

API clients keep bearer tokens (:mod:`hub.api.auth`): a request with an ``Authorization``
header is judged by it alone, and needs no CSRF token. The signing key is derived from the
guardian-link key (configured or generated once and kept in the database), so sessions
survive a restart of the hub.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from hub import links
from hub.api.backend import Backend, Runner
from hub.store.db import writing

SESSION_COOKIE = "anbu_session"
CSRF_COOKIE = "anbu_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SESSION_TTL = timedelta(hours=12)  # one night shift, and its handover
ADMIN_SUBJECT = "admin:"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Session:
    """What a valid session cookie says: whose token (by hash) and the CSRF value."""

    subject: str
    csrf: str


class SessionCodec:
    """Signs and reads session cookies with a key only the hub knows."""

    def __init__(self, key: bytes) -> None:
        derived = hmac.new(key, b"anbu-browser-session-v1", hashlib.sha256).hexdigest()
        self._serializer = URLSafeTimedSerializer(derived, salt="anbu-session")

    def dump(self, session: Session) -> str:
        return self._serializer.dumps({"s": session.subject, "c": session.csrf})

    def load(self, cookie: str) -> Session | None:
        try:
            data = self._serializer.loads(cookie, max_age=int(SESSION_TTL.total_seconds()))
        except BadSignature:  # also SignatureExpired
            return None
        if not isinstance(data, dict):
            return None
        subject, csrf = data.get("s"), data.get("c")
        if not isinstance(subject, str) or not isinstance(csrf, str):
            return None
        return Session(subject, csrf)


def admin_subject(admin_token: str) -> str:
    """The admin's session subject: tied to the configured token, so changing it ends them."""
    return ADMIN_SUBJECT + hashlib.sha256(admin_token.encode()).hexdigest()


def codec_of(request: Request) -> SessionCodec:
    """The app's codec, made on first use from the hub's link key."""
    app = request.app
    codec: SessionCodec | None = getattr(app.state, "session_codec", None)
    if codec is None:
        backend = app.state.backend
        configured = backend.settings.link_secret

        def read_key(_now: Any) -> bytes:
            with writing(backend.engine) as conn:
                return links.link_key(conn, configured.get_secret_value() if configured else None)

        codec = SessionCodec(Runner(backend)(read_key))
        app.state.session_codec = codec
    return codec


def session_of(request: Request) -> Session | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    return None if cookie is None else codec_of(request).load(cookie)


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
        session = Session(subject, secrets.token_urlsafe(24))
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
            codec_of(request).dump(session),
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
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(CSRF_COOKIE, path="/")
        return response

    return router


def login_location(request: Request) -> str:
    """Where a page sends someone without a session: the login page, then back here."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/login?next={quote(here, safe='')}"
