"""HTTP routes for guardians (no login) and for SMS replies forwarded by a provider.

* ``GET /g/{token}``: the page a guardian's SMS link opens (plain Korean, two buttons).
* ``GET /api/v1/links/{token}``, ``POST …/ack``, ``POST …/resolve``: what the page calls.
  A bad or altered token gets 403, an expired one 410; a token opens only its own alert.
* ``POST /api/v1/sms/replies``: ``{"from": "+8210…", "text": "1"}`` from the provider's reply
  webhook, authenticated by the ``X-Anbu-Reply-Secret`` header (``ANBU_SMS_REPLY_SECRET``).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime
from html import escape
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header, HTTPException, status
from fastapi.responses import HTMLResponse

from hub.api.schemas import SmsReplyIn
from hub.guardians import AlertView, GuardianAction, GuardianDesk, LinkRefused
from protocol.vocab import KOREA_TZ

T = TypeVar("T")
Run = Callable[[Callable[[datetime], T]], T]

_KIND = {
    "inactivity": "활동이 확인되지 않음",
    "emergency": "긴급 호출",
    "monitoring_lost": "기기 연결 끊김",
    "device_offline": "기기 연결 끊김",
    "vital_out_of_range": "건강 수치 확인 필요",
}
_STATE = {"open": "확인 전", "acknowledged": "확인 중", "resolved": "종료"}


def _when(at: datetime | None, tz: str) -> str:
    if at is None:
        return "기록 없음"
    local = at.astimezone(ZoneInfo(tz))
    half = "오전" if local.hour < 12 else "오후"
    hour = local.hour % 12 or 12
    return f"{local.month}월 {local.day}일 {half} {hour}시 {local.minute:02d}분"


def _body(view: AlertView, tz: str = KOREA_TZ) -> dict[str, Any]:
    return {
        "last_activity": _when(view.last_activity_at, tz),
        "resident": view.resident_name,
        "alert_id": view.alert_id,
        "kind": view.kind,
        "state": view.state,
        "stage": view.stage,
        "opened_at": view.opened_at,
        "can_resolve": view.can_resolve,
        "summary": f"{view.resident_name} 어르신: {_KIND.get(view.kind, view.kind)} "
        f"({_STATE.get(view.state, view.state)})",
    }


def guardian_router(backend: Any, run: Run[Any]) -> APIRouter:
    """Routes bound to ``backend``; ``run`` executes on the hub's writer thread."""
    router = APIRouter()
    desk = GuardianDesk(backend.core)

    def guarded(fn: Callable[[datetime], T]) -> T:
        try:
            result: T = run(fn)
        except LinkRefused as refused:
            code = status.HTTP_410_GONE if refused.reason == "expired" else 403
            message = (
                "링크가 만료되었습니다" if refused.reason == "expired" else "잘못된 링크입니다"
            )
            raise HTTPException(code, message) from None
        return result

    @router.get("/api/v1/links/{token}", tags=["guardians"])
    def link_view(token: str) -> dict[str, Any]:
        """The alert a guardian's link is for."""
        return _body(guarded(lambda now: desk.view(token, now)), backend.settings.tz)

    def act(token: str, action: GuardianAction) -> dict[str, Any]:
        return _body(guarded(lambda now: desk.act(token, action, now)), backend.settings.tz)

    @router.post("/api/v1/links/{token}/ack", tags=["guardians"])
    def link_ack(token: str) -> dict[str, Any]:
        """ "I'm checking on them": the guardian takes the alert on."""
        return act(token, "ack")

    @router.post("/api/v1/links/{token}/resolve", tags=["guardians"])
    def link_resolve(token: str) -> dict[str, Any]:
        """ "They are fine": closes an inactivity alert (not an emergency)."""
        return act(token, "resolve")

    @router.get("/g/{token}", include_in_schema=False)
    def link_page(token: str) -> HTMLResponse:
        try:
            view = _body(guarded(lambda now: desk.view(token, now)), backend.settings.tz)
        except HTTPException as refused:
            page = _PAGE.format(
                summary=escape(str(refused.detail)), detail="", token="", buttons=""
            )
            return HTMLResponse(page, status_code=refused.status_code)
        buttons = '<button data-act="ack">제가 확인해 볼게요</button>'
        if view["can_resolve"]:
            buttons += '<button data-act="resolve">괜찮으신 것을 확인했어요</button>'
        detail = (
            f"마지막으로 활동이 확인된 때: {escape(view['last_activity'])}<br>"
            "버튼을 누르면 관제센터에 바로 전달됩니다."
        )
        page = _PAGE.format(
            summary=escape(view["summary"]), detail=detail, token=escape(token), buttons=buttons
        )
        return HTMLResponse(page)

    @router.post("/api/v1/sms/replies", tags=["guardians"])
    def sms_reply(
        body: SmsReplyIn,
        secret: Annotated[str | None, Header(alias="X-Anbu-Reply-Secret")] = None,
    ) -> dict[str, str]:
        """A guardian's reply (1 = going, 2 = they are fine), forwarded by the provider."""
        expected = backend.settings.sms_reply_secret
        if expected is None:
            raise HTTPException(404, "SMS replies are not enabled")
        if secret is None or not hmac.compare_digest(
            secret.encode(), expected.get_secret_value().encode()
        ):
            raise HTTPException(401, "bad reply secret")
        alert_id, action = run(lambda now: desk.reply(body.sender, body.text, now))
        return {"alert_id": alert_id, "action": action}

    return router


_PAGE = """<!doctype html>
<html lang="ko"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>안부 알림</title>
<style>body{{font-family:sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;
font-size:1.2rem}}button{{display:block;width:100%;margin:.8rem 0;padding:1rem;
font-size:1.2rem}}.detail{{color:#555;font-size:1rem}}</style></head>
<body><h1>안부 알림</h1><p id="summary">{summary}</p>
<p class="detail">{detail}</p>{buttons}<p id="done"></p>
<script>
for (const b of document.querySelectorAll("button")) {{
  b.onclick = async () => {{
    const r = await fetch("/api/v1/links/{token}/" + b.dataset.act, {{method: "POST"}});
    const j = await r.json();
    document.getElementById("done").textContent = r.ok ? "전달되었습니다. 고맙습니다."
      : (j.detail || "다시 시도해 주세요");
    if (r.ok) document.getElementById("summary").textContent = j.summary;
  }};
}}
</script></body></html>
"""
