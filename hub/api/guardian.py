"""HTTP routes for guardians (no login) and for SMS replies forwarded by a provider.

* ``GET /g/{token}``: the page a guardian's SMS link opens, phone-first, in Korean: who, since
  when, what the centre is doing now, what happens next, call buttons, the guardian's own
  actions and away mode. Built here from :class:`hub.guardians.AlertView`, escaped, into
  ``hub/web/guardian.html``; its script only calls the routes below and redraws the page.
* ``GET /api/v1/links/{token}``, ``POST …/ack``, ``…/resolve``, ``…/away``: what the page calls.
  A bad or altered token gets 403, an expired one 410; a token opens only its own alert.
* ``POST /api/v1/sms/replies``: ``{"from": "+8210…", "text": "1"}`` from the provider's reply
  webhook, authenticated by the ``X-Anbu-Reply-Secret`` header (``ANBU_SMS_REPLY_SECRET``).

The page shows two numbers only: the control centre's (the first of
``ANBU_CONTROL_CENTER_PHONES``; no button when none is set) and the resident's own; never
another contact's. Nothing about health beyond the SMS's words, and the token is never
logged (the hub keeps no access log; nothing here writes it).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from datetime import date, datetime, timedelta
from html import escape
from math import ceil
from pathlib import Path
from string import Template
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header, HTTPException, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from hub.api.schemas import SmsReplyIn
from hub.guardians import (
    AWAY_MAX_DAYS,
    AlertView,
    AwayReason,
    GuardianAction,
    GuardianDesk,
    LinkRefused,
    away_bounds,
)
from protocol.vocab import KOREA_TZ, normalise_phone

T = TypeVar("T")
Run = Callable[[Callable[[datetime], T]], T]

_TEMPLATE = Template(
    (Path(__file__).resolve().parent.parent / "web" / "guardian.html").read_text("utf-8")
)


class AwayIn(BaseModel):
    """Away mode from a guardian's link."""

    model_config = ConfigDict(extra="forbid")

    last_day: date = Field(
        description=f"The last day away (local date, today to {AWAY_MAX_DAYS} days ahead); "
        "inactivity rules resume at the midnight after it. Emergencies are never paused."
    )
    reason: AwayReason = Field(default="other", description="hospital, family or other")


def _body(view: AlertView, now: datetime, tz: str = KOREA_TZ) -> dict[str, Any]:
    short, sentence, _ = status_of(view)
    return {
        "last_activity": when(view.last_activity_at, tz),
        "resident": view.resident_name,
        "alert_id": view.alert_id,
        "kind": view.kind,
        "state": view.state,
        "stage": view.stage,
        "opened_at": view.opened_at,
        "can_resolve": view.can_resolve,
        "checking": view.checking,
        "status": short,
        "status_text": sentence,
        "next_text": next_step(view, now),
        "away_until": view.away_until,
        "summary": summary(view, short),
    }


def guardian_router(backend: Any, run: Run[Any]) -> APIRouter:
    """Routes bound to ``backend``; ``run`` executes on the hub's writer thread."""
    router = APIRouter()
    tz: str = backend.settings.tz
    desk = GuardianDesk(backend.core, tz)

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

    def viewed(fn: Callable[[datetime], AlertView]) -> tuple[AlertView, datetime]:
        return guarded(lambda now: (fn(now), now))

    def answer(fn: Callable[[datetime], AlertView]) -> dict[str, Any]:
        view, now = viewed(fn)
        return _body(view, now, tz)

    @router.get("/api/v1/links/{token}", tags=["guardians"])
    def link_view(token: str) -> dict[str, Any]:
        """The alert a guardian's link is for."""
        return answer(lambda now: desk.view(token, now))

    def act(token: str, action: GuardianAction) -> dict[str, Any]:
        return answer(lambda now: desk.act(token, action, now))

    @router.post("/api/v1/links/{token}/ack", tags=["guardians"])
    def link_ack(token: str) -> dict[str, Any]:
        """ "I'm checking on them": holds an inactivity alert's centre step for
        ``ack_resolve_within``; on an emergency it is 보호자 확인 중 and holds nothing."""
        return act(token, "ack")

    @router.post("/api/v1/links/{token}/resolve", tags=["guardians"])
    def link_resolve(token: str) -> dict[str, Any]:
        """ "They are fine": closes an inactivity alert (not an emergency)."""
        return act(token, "resolve")

    @router.post("/api/v1/links/{token}/away", tags=["guardians"])
    def link_away(token: str, body: AwayIn) -> dict[str, Any]:
        """Away mode (hospital, family) until the midnight after ``last_day``; closes the
        link's inactivity alert if open. Setting the same day again changes nothing."""
        return answer(lambda now: desk.set_away(token, body.last_day, body.reason, now))

    @router.get("/g/{token}", include_in_schema=False)
    def link_page(token: str) -> HTMLResponse:
        settings = backend.settings
        centre = phone_link(
            settings.control_center_call_number or next(iter(settings.control_center_phones), None)
        )
        try:
            view, now = viewed(lambda now: desk.view(token, now))
        except HTTPException as refused:
            return _page(_refused_main(str(refused.detail), centre), refused.status_code)
        return _page(_main(view, now, tz, centre))

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


def _page(main: str, status_code: int = 200) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    html = _TEMPLATE.substitute(main=main, nonce=nonce)
    headers = {
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Robots-Tag": "noindex",
        # Inline script and style by nonce only; the page talks to this hub and nothing else.
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
            "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        ),
    }
    return HTMLResponse(html, status_code=status_code, headers=headers)


def _call(href: str, text: str, label: str, testid: str, css: str) -> str:
    return (
        f'<a class="call {css}" href="{escape(href)}" data-testid="{testid}">'
        f"{escape(label)}<span class='number'>{escape(text)}</span></a>"
    )


def _calls(centre: tuple[str, str] | None, resident: tuple[str, str] | None) -> str:
    buttons = []
    if centre is not None:
        buttons.append(_call(*centre, "관제센터에 전화하기", "call-centre", "centre"))
    if resident is not None:
        buttons.append(_call(*resident, "어르신께 전화하기", "call-resident", "resident"))
    if not buttons:
        return ""
    return f'<section class="calls" aria-label="전화하기">{"".join(buttons)}</section>'


def _actions(view: AlertView) -> str:
    if view.state == "resolved":
        return ""
    buttons = []
    # A tap that would change nothing is not offered: the centre has it, or this guardian
    # (or, on an inactivity alert, another) already said so.
    taken = view.centre_has_it or (view.kind == "inactivity" and view.state == "acknowledged")
    if view.checking != "me" and not taken:
        buttons.append('<button type="button" data-act="ack">제가 확인해 볼게요</button>')
    if view.can_resolve:
        buttons.append(
            '<button type="button" data-act="resolve" class="secondary">'
            "괜찮습니다 — 어르신과 연락이 됐어요</button>"
        )
    if not buttons:
        return ""
    return (
        '<section class="card" aria-labelledby="act-h"><h2 id="act-h">보호자님이 하실 일</h2>'
        f"{''.join(buttons)}"
        '<p class="hint">버튼을 누르면 관제센터에 바로 전달됩니다.</p></section>'
    )


def _away(view: AlertView, now: datetime, tz: str) -> str:
    if not view.can_set_away:
        return ""
    first, last = away_bounds(now, tz)
    current = ""
    if view.away_until is not None:
        current = (
            f'<p class="now-away" data-testid="away-now">지금은 '
            f"{escape(away_text(view.away_until, tz))} 외출로 되어 있습니다.</p>"
        )
    choices = "".join(
        f'<label class="choice"><input type="radio" name="reason" value="{value}"'
        f"{' required' if value == 'hospital' else ''}> {escape(text)}</label>"
        for value, text in AWAY_CHOICES
    )
    return (
        '<section class="card" aria-labelledby="away-h">'
        '<h2 id="away-h">댁에 안 계신가요?</h2>'
        "<p>입원하셨거나 자녀 집에 계시면, 그동안 활동 알림을 멈춥니다. "
        "긴급 호출은 그대로 관제센터에 전달됩니다.</p>"
        f'{current}<form id="away" data-testid="away-form">'
        f"<fieldset><legend>어르신은 지금</legend>{choices}</fieldset>"
        '<label for="last-day" class="field">언제까지 (마지막 날)</label>'
        f'<input id="last-day" name="last_day" type="date" required min="{first.isoformat()}"'
        f' max="{last.isoformat()}" aria-describedby="last-day-hint">'
        f'<p id="last-day-hint" class="hint">오늘부터 {AWAY_MAX_DAYS}일 안. '
        "그날 밤 12시부터 다시 활동을 살핍니다.</p>"
        '<button type="submit" class="secondary">외출로 설정하기</button></form></section>'
    )


def _main(view: AlertView, now: datetime, tz: str, centre: tuple[str, str] | None) -> str:
    short, sentence, tone = status_of(view)
    since = f"{when(view.opened_at, tz)} ({ago(view.opened_at, now)})"
    facts = f'<dt>시작</dt><dd data-testid="since">{escape(since)}</dd>'
    if view.quiet_since is not None:
        facts += (
            "<dt>활동 확인</dt>"
            f'<dd data-testid="quiet-since">{escape(when(view.quiet_since, tz))} 이후 없음</dd>'
        )
    return (
        f'<div id="summary" data-testid="summary"><h1>{escape(view.resident_name)} 어르신</h1>'
        f'<p class="kind">{escape(kind(view.kind))}'
        f'<span class="short"> ({escape(short)})</span></p></div>'
        f'<section class="card tone-{tone}" aria-labelledby="now-h"><h2 id="now-h">지금 상황</h2>'
        f'<p class="status" data-testid="status">{escape(sentence)}</p><dl>{facts}</dl></section>'
        '<section class="card" aria-labelledby="next-h"><h2 id="next-h">다음에는</h2>'
        f'<p data-testid="next">{escape(next_step(view, now))}</p></section>'
        f"{_calls(centre, phone_link(view.resident_phone))}"
        f"{_actions(view)}{_away(view, now, tz)}"
    )


def _refused_main(message: str, centre: tuple[str, str] | None) -> str:
    return (
        '<div id="summary" data-testid="summary"><h1>안부 알림</h1>'
        f'<p class="kind">{escape(message)}</p></div>'
        '<section class="card"><p>새 알림 문자의 링크를 열어 주세요. '
        "급하시면 관제센터로 전화해 주세요.</p></section>"
        f"{_calls(centre, None)}"
    )


# --- what the page says: Korean, from the view's facts -------------------------------------

_KIND = {"inactivity": "활동이 확인되지 않음", "emergency": "긴급 호출"}
_OUTCOME = {
    "false_alarm": "잘못 울린 알림으로 확인되었습니다",
    "resolved_by_phone": "관제센터가 어르신과 통화해 확인했습니다",
    "visited": "직접 방문해 확인했습니다",
    "transported": "어르신을 병원으로 모셨습니다",
    "resolved_by_guardian": "보호자님이 확인해 주셨습니다",
    "other": "관제센터가 확인을 마쳤습니다",
}
_CLOSED = {
    "activity_resumed": "어르신 활동이 다시 확인되었습니다",
    "monitoring_restored": "기기 연결이 다시 확인되었습니다",
}
AWAY_CHOICES = (
    ("hospital", "어르신이 입원하셨어요"),
    ("family", "자녀 집에 계세요"),
    ("other", "다른 곳에 계세요 (여행 등)"),
)
_CENTRE_ON_IT = "관제센터가 어르신께 연락하고, 필요하면 방문하거나 119에 신고합니다."


def kind(value: str) -> str:
    """The alert's kind in plain words (as the SMS said it), nothing more."""
    return _KIND.get(value, "확인이 필요한 알림")


def when(at: datetime | None, tz: str) -> str:
    """``11월 24일 오전 10:03``, local time."""
    if at is None:
        return "기록 없음"
    local = at.astimezone(ZoneInfo(tz))
    half = "오전" if local.hour < 12 else "오후"
    return f"{local.month}월 {local.day}일 {half} {local.hour % 12 or 12}:{local.minute:02d}"


def ago(at: datetime, now: datetime) -> str:
    minutes = int((now - at).total_seconds() // 60)
    if minutes < 1:
        return "방금"
    hours, rest = divmod(minutes, 60)
    if hours >= 24:
        return f"{hours // 24}일 전"
    if hours:
        return f"{hours}시간 {rest}분 전" if rest else f"{hours}시간 전"
    return f"{minutes}분 전"


def span(length: timedelta) -> str:
    """A time still to come, rounded up to the minute: ``30분``, ``1시간 30분``, ``2일``."""
    minutes = max(1, ceil(length.total_seconds() / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days}일"] if days else []
    parts += [f"{hours}시간"] if hours else []
    parts += [f"{mins}분"] if mins and not days else []
    return " ".join(parts) or "1분"


def away_text(until: datetime, tz: str) -> str:
    """``12월 10일까지``: the last day of away mode (it ends at the midnight after it)."""
    last = (until.astimezone(ZoneInfo(tz)) - timedelta(microseconds=1)).date()
    return f"{last.month}월 {last.day}일까지"


def phone_link(number: str | None) -> tuple[str, str] | None:
    """``("tel:+8210…", "010-1234-5678")`` for a Korean number, None for none or a bad one."""
    e164 = normalise_phone(number) if number else None
    if e164 is None:
        return None
    national = "0" + e164[3:]
    area = 2 if national.startswith("02") else 3
    rest = national[area:]
    return f"tel:{e164}", f"{national[:area]}-{rest[:-4]}-{rest[-4:]}"


def summary(view: AlertView, short: str) -> str:
    return f"{view.resident_name} 어르신: {kind(view.kind)} ({short})"


def status_of(view: AlertView) -> tuple[str, str, str]:  # noqa: PLR0911 - one per state, in order
    """What the centre is doing now: a short word, a sentence and the card's tone."""
    if view.state == "resolved":
        result = _OUTCOME.get(view.outcome or "") or _CLOSED.get(view.closed_reason or "")
        return "종료", f"종료되었습니다 — {result or '관제센터가 확인을 마쳤습니다'}.", "done"
    if "called_119" in view.steps:
        return "119 신고", "관제센터가 119에 신고했습니다.", "urgent"
    if "dispatched" in view.steps:
        return "출동", "관제센터 요원이 어르신 댁으로 출동했습니다.", "urgent"
    if view.centre_has_it:
        return "관제센터 접수", "관제센터가 접수해 확인하고 있습니다.", "info"
    who = {"me": "보호자님이", "other": "다른 보호자분이"}.get(view.checking or "")
    if view.kind == "emergency":
        if who:
            sentence = f"{who} 확인 중이라고 알렸습니다 — 관제센터도 계속 확인합니다."
            return "보호자 확인 중 · 관제센터 접수 전", sentence, "urgent"
        return "관제센터 접수 전", "관제센터에 알렸습니다 — 아직 접수 전입니다.", "urgent"
    if view.stage == "control_center":
        return "관제센터에 알림", "관제센터에 알렸습니다. 곧 어르신께 연락합니다.", "urgent"
    if who:
        return "보호자 확인 중", f"{who} 확인 중이라고 알렸습니다.", "info"
    return (
        "관제센터 연락 전",
        "관제센터 연락 전 — 보호자님께 먼저 알려 드렸습니다.",
        "warn",
    )


def next_step(view: AlertView, now: datetime) -> str:  # noqa: PLR0911 - one per state, in order
    """What happens next, from the alert's stage and the policy it opened with."""
    if view.state == "resolved":
        return "더 하실 일은 없습니다. 고맙습니다."
    if "called_119" in view.steps:
        return "119 구급대가 어르신께 갑니다. 궁금하신 점은 관제센터로 전화해 주세요."
    if "dispatched" in view.steps:
        return "관제센터 요원이 어르신을 직접 확인하고, 결과를 알려 드립니다."
    if view.kind == "emergency" and not view.centre_has_it and view.realert_every is not None:
        return (
            f"관제센터가 접수할 때까지 {span(view.realert_every)}마다 다시 알리고, "
            "늦어지면 책임자에게도 알립니다."
        )
    if view.next_centre_at is not None:
        left = view.next_centre_at - now
        if left <= timedelta(0):
            return "곧 관제센터가 어르신께 직접 연락합니다."
        if view.after_ack:
            return f"{span(left)} 안에 '괜찮습니다'를 누르지 않으시면 관제센터가 직접 연락합니다."
        return f"{span(left)} 안에 확인하지 않으시면 관제센터가 직접 연락합니다."
    return _CENTRE_ON_IT
