"""The control centre's server-rendered pages: templates, navigation and the page gate.

Every staff page extends ``hub/web/templates/base.html`` (header, navigation, CSRF meta tag,
htmx) and is rendered with :func:`render`. A page route asks for :data:`PageUser` (or
:func:`page_gate` with roles): without a session the browser is sent to the login page and
back, instead of getting the API's 401. The navigation is defined once here, with the roles
that see each entry, so every view is reachable from every other.

htmx (2.0.11) and its SSE extension (2.2.4) are vendored under ``hub/web/static/`` (see
VENDORED.md there): the hub serves them itself, with no build step and no CDN.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from hub.api import sessions
from hub.api.auth import BEARER, Principal, Role, authenticate
from protocol.glossary import STAFF_ROLE_WORDS, glossary
from protocol.vocab import KOREA_TZ

WEB = Path(__file__).resolve().parent.parent / "web"
TEMPLATES = WEB / "templates"
STATIC = WEB / "static"


@dataclass(frozen=True)
class NavItem:
    """One entry of the navigation: where it goes, its Korean name, who sees it."""

    path: str
    label: str
    roles: frozenset[Role]


# The alert work's views; the health centre's nurse sees only the home-visit page.
_EVERYONE: frozenset[Role] = frozenset({"admin", "operator", "official"})
_STAFF: frozenset[Role] = frozenset({"admin", "operator"})
_VISITS: frozenset[Role] = frozenset({"admin", "health_center"})

NAVIGATION: tuple[NavItem, ...] = (
    NavItem("/board", "경보 보드", _EVERYONE),
    NavItem("/history", "경보 이력", _EVERYONE),
    NavItem("/residents", "어르신", _EVERYONE),
    NavItem("/roster", "명단 가져오기", _STAFF),
    NavItem("/reports", "보고서", _EVERYONE),
    NavItem("/visits", "방문 기록", _VISITS),
    NavItem("/users", "사용자", frozenset({"admin"})),
)


def navigation_for(who: Principal | None) -> list[NavItem]:
    return [] if who is None else [item for item in NAVIGATION if who.role in item.roles]


_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(("html",), default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def environment() -> Environment:
    """The pages' Jinja2 environment (autoescaping on: every value is escaped)."""
    return _environment


def render(
    request: Request, template: str, who: Principal | None, *, status_code: int = 200, **ctx: Any
) -> HTMLResponse:
    """``template`` rendered with the navigation, the caller and their CSRF token."""
    session = sessions.session_of(request)
    page = (
        environment()
        .get_template(template)
        .render(
            request=request,
            who=who,
            role_word=STAFF_ROLE_WORDS[who.role] if who else "",
            words=glossary(),
            nav=navigation_for(who),
            here=request.url.path,
            csrf=session.csrf if session else "",
            tz=KOREA_TZ,
            **ctx,
        )
    )
    return HTMLResponse(
        page,
        status_code=status_code,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


async def _page_user(request: Request) -> Principal:
    try:
        return await authenticate(request, await BEARER(request))
    except HTTPException as refused:
        if refused.status_code == status.HTTP_401_UNAUTHORIZED:
            raise HTTPException(
                status.HTTP_303_SEE_OTHER,
                "로그인이 필요합니다",
                headers={"Location": sessions.login_location(request)},
            ) from refused
        raise


class PageRefusedError(Exception):
    """A signed-in person asked for a page their role is not for: a page saying so, in the
    layout with their navigation (not the API's JSON 403)."""

    def __init__(self, who: Principal, message: str) -> None:
        super().__init__(message)
        self.who = who
        self.message = message


async def page_refused(request: Request, error: Exception) -> HTMLResponse:
    """The app's handler for :class:`PageRefusedError`."""
    assert isinstance(error, PageRefusedError)  # noqa: S101 - registered for this class only
    return render(request, "forbidden.html", error.who, status_code=403, message=error.message)


def page_gate(*roles: Role) -> Callable[..., Any]:
    """A dependency for pages: the caller by session, sent to log in without one, 403 for
    a role the page is not for."""

    async def check(who: Annotated[Principal, Depends(_page_user)]) -> Principal:
        if roles and who.role not in roles:
            raise PageRefusedError(who, "이 화면을 볼 권한이 없습니다")
        return who

    return check


PageUser = Annotated[Principal, Depends(page_gate(*sorted(_EVERYONE)))]
PageStaff = Annotated[Principal, Depends(page_gate("admin", "operator"))]
PageAdmin = Annotated[Principal, Depends(page_gate("admin"))]


def static_files() -> StaticFiles:
    """The vendored scripts and the pages' shared stylesheet, under ``/static``."""
    return StaticFiles(directory=STATIC)
