"""The residents view of the staff pages: the list, one resident's profile, away mode.

* ``GET /residents?q=&district=&state=&page=``: residents the caller may see (an official:
  their district), searched by name or id, with the board's state and the last activity.
* ``GET /residents/{id}``: the profile: who and where, devices (kind, connection, last
  signal, last activity), contacts (numbers with ``tel:`` links for the centre's staff, masked
  for officials), the policy in effect, open alerts (to the board), the last closed ones (to
  the history) and the case summary's link.
* ``POST /residents/{id}/away`` (``last_day``) and ``POST /residents/{id}/away/end``: away
  mode from the profile, admins only as ``PATCH /api/v1/residents/{id}/policy`` is; the
  same policy change on the hub's writer, then 303 back to the profile with a message.
* ``POST /residents/{id}/edit`` (name, district, address, phone), ``…/deactivate``
  (``reason``) and ``…/reactivate``: admins only, the same checks and core calls as
  ``PATCH /api/v1/residents/{id}`` and ``POST …/deactivate`` · ``…/reactivate``, then 303
  back with a message (a refusal by its key, never free text).

Deactivated residents are left out of the list unless its ``inactive`` filter asks for
them. Reads come from :mod:`hub.store.resident_reads`,
:mod:`hub.store.profile_reads`, :mod:`hub.store.history_reads` and the core's states.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from alerts.policy import Policy
from alerts.state import AlertState, ResidentState
from hub.api.backend import Backend, Runner
from hub.api.guardian import ago, away_text, phone_link
from hub.api.history_page import (
    KIND_WORDS,
    STAGE_WORDS,
    WORDS,
    alert_view,
    iso,
    kst,
    masked,
    took,
)
from hub.api.pages import PageAdmin, PageUser, render
from hub.api.residents import (
    DEACTIVATED,
    DEACTIVATED_WORD,
    PHONE_PROBLEM,
    DeactivateIn,
    ResidentChanges,
    checked_changes,
    describe_state,
    revoke_credentials,
)
from hub.api.schemas import PolicyFields
from hub.guardians import away_end
from hub.store import history_reads, profile_reads, resident_reads
from hub.store.db import reading
from hub.store.history_reads import HistoryFilter
from hub.store.resident_reads import Resident, StoredDevice
from protocol.glossary import INACTIVE_REASON_WORDS, RESIDENT_STATE_WORDS, glossary
from protocol.vocab import KOREA_TZ

PAGE_SIZE = 50
AWAY_MAX_DAYS = 365
"""The furthest last day of away mode the centre sets from the profile (a guardian's link
allows 60): a long hospital stay, not a way to stop watching someone for good."""
_KST = ZoneInfo(KOREA_TZ)

STATE_WORDS = RESIDENT_STATE_WORDS
# Which residents the list shows: the watched ones unless asked (deactivated ones stay, for
# their history, but are no one's work).
INACTIVE_FILTER: dict[str, str] = {
    "": "보호 중인 어르신",
    "show": "보호 종료 포함",
    "only": "보호 종료만",
}
RULE_WORDS: dict[str, str] = {"fixed": "정해진 시간 기준", "routine": "평소 생활 기준"}
# What the profile says after a change, by the key the redirect carries (never free text).
DONE_WORDS: dict[str, str] = {
    "away_set": "외출 모드를 정했습니다.",
    "away_ended": "외출 모드를 끝냈습니다.",
    "edited": "기본 정보를 고쳤습니다.",
    "deactivated": "보호를 끝냈습니다. 이 어르신의 기기 신호는 더 받지 않습니다.",
    "reactivated": "다시 보호를 시작했습니다.",
}
PROBLEM_WORDS: dict[str, str] = {
    "away_day": f"외출 마지막 날은 오늘부터 {AWAY_MAX_DAYS}일 뒤까지 고를 수 있습니다.",
    "name": "이름을 입력하세요.",
    "district": "그런 지역(구)이 없습니다. 허브에 등록된 지역 이름을 입력하세요 (예: 유성구).",
    "phone": PHONE_PROBLEM,
    "reason": "보호를 끝내는 까닭을 고르세요.",
    "conflict": "지금은 바꿀 수 없습니다. 긴급 호출이 열려 있으면 먼저 마무리하세요.",
}
_CENTRE_ROLES = frozenset({"control_center", "supervisor"})


def length(span: timedelta) -> str:
    """A policy duration in words: ``11시간``, ``60초``."""
    start = datetime(2000, 1, 1, tzinfo=_KST)
    return took(start, start + span)


def open_alert_view(alert: AlertState) -> dict[str, Any]:
    if alert.acknowledged_role in _CENTRE_ROLES:
        where = "접수됨"
    elif alert.acknowledged_role == "guardian" or alert.guardian_checking:
        where = "보호자 확인 중 · 관제센터 접수 전"
    else:
        where = "접수 전"
    return {
        "id": alert.alert_id,
        "kind": KIND_WORDS.get(alert.kind, alert.kind),
        "stage": STAGE_WORDS.get(alert.stage, alert.stage),
        "opened": kst(alert.opened_at),
        "opened_iso": iso(alert.opened_at),
        "where": where,
    }


def policy_view(policy: Policy, now: datetime) -> dict[str, Any]:
    away = policy.away_until if policy.away_until and policy.away_until > now else None
    rule = RULE_WORDS[policy.inactivity_rule]
    if policy.inactivity_rule == "routine":
        rule += f" (처음 {policy.routine_learning_days}일은 정해진 시간 기준)"
    return {
        "rule": rule,
        "checkin_after": length(policy.checkin_after),
        "guardian_after": length(policy.guardian_after),
        "control_center_after": length(policy.control_center_after),
        "emergency_ack_within": length(policy.emergency_ack_within),
        "guardian_night": policy.guardian_night,
        "away": away_text(away, KOREA_TZ) if away else None,
        "away_last_day": (away.astimezone(_KST) - timedelta(microseconds=1)).date()
        if away
        else None,
    }


def _phone(number: str | None, staff: bool) -> dict[str, str] | None:
    """A number as staff see it (shown, with its ``tel:`` link) or as an official does."""
    if not number:
        return None
    if not staff:
        return {"text": masked(number), "href": ""}
    link = phone_link(number)
    return {"text": link[1], "href": link[0]} if link else {"text": number, "href": ""}


def _last_activity(state: ResidentState | None, now: datetime) -> dict[str, str]:
    at = state.last_activity_at if state else None
    return {"at": kst(at), "iso": iso(at), "ago": ago(at, now) if at else ""}


def device_views(
    stored: list[StoredDevice], state: ResidentState | None, activity: dict[str, datetime]
) -> list[dict[str, Any]]:
    """Each registered device with the core's fresher connection state and last signal."""
    core_devices = state.devices if state else {}
    views = []
    for device in stored:
        live = core_devices.get(device.id)
        online = live.online if live else device.online
        views.append(
            {
                "id": device.id,
                "kind": WORDS["device_kind"].get(device.kind, device.kind),
                "online": online,
                "offline_since": kst(live.offline_since) if live and not online else "",
                "seen": kst(live.last_seen_at if live else None),
                "seen_iso": iso(live.last_seen_at if live else None),
                "activity": kst(activity.get(device.id)),
                "activity_iso": iso(activity.get(device.id)),
            }
        )
    return views


def list_rows(
    found: list[Resident],
    ended: set[str],
    states: dict[str, ResidentState],
    wanted: str | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """The list's rows in the state ``wanted`` (any when ``None``); deactivated residents'
    state is theirs alone (the board's states describe someone watched)."""
    rows = []
    for row in found:
        if row.id in ended:
            described, word = DEACTIVATED, DEACTIVATED_WORD
        else:
            described = describe_state(states.get(row.id), now)
            word = STATE_WORDS.get(described, described)
        if wanted is None or described == wanted:
            rows.append(
                {
                    "id": row.id,
                    "name": row.name,
                    "district": row.district,
                    "state": described,
                    "state_word": word,
                    "last": _last_activity(states.get(row.id), now),
                }
            )
    return rows


def residents_page_router(backend: Backend, run: Runner) -> APIRouter:
    """The view's routes, bound to ``backend``; ``run`` executes on the hub's writer."""
    router = APIRouter(include_in_schema=False)

    @router.get("/residents")
    def residents_list(
        request: Request,
        who: PageUser,
        q: str | None = None,
        district: str | None = None,
        state: str | None = None,
        page: str | None = None,
        inactive: str | None = None,
    ) -> HTMLResponse:
        now = backend.now()
        text = (q or "").strip()[:100]
        gone = inactive if inactive in INACTIVE_FILTER else ""
        with reading(backend.engine) as conn:
            districts = profile_reads.districts_in_use(conn, who.districts())
            chosen = district if district in districts else None
            found = profile_reads.search_residents(
                conn, who.districts(), district=chosen, text=text or None
            )
            ended = resident_reads.inactive_ids(conn, [row.id for row in found])
        found = [row for row in found if (row.id in ended) == (gone == "only") or gone == "show"]
        wanted = state if state in STATE_WORDS else None
        states = backend.core.states_of(row.id for row in found)
        rows = list_rows(found, ended, states, wanted, now)
        pages = max(1, -(-len(rows) // PAGE_SIZE))
        wanted = page if page and page.isascii() and page.isdigit() else ""  # not "²"
        number = int(wanted) if wanted and 0 < int(wanted) <= pages else 1
        shown = rows[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
        base = {"q": text, "district": chosen, "state": wanted, "inactive": gone}

        def link(to: int) -> str:
            return urlencode({k: v for k, v in {**base, "page": to}.items() if v})

        return render(
            request,
            "residents.html",
            who,
            q=text,
            district=chosen,
            state=wanted,
            districts=districts,
            states=STATE_WORDS,
            inactive=gone,
            inactive_filter=INACTIVE_FILTER,
            rows=shown,
            total=len(rows),
            number=number,
            pages=pages,
            previous=link(number - 1) if number > 1 else None,
            following=link(number + 1) if number < pages else None,
        )

    @router.get("/residents/{resident_id}")
    def resident_profile(
        request: Request,
        resident_id: str,
        who: PageUser,
        done: str | None = None,
        problem: str | None = None,
    ) -> HTMLResponse:
        now = backend.now()
        staff = who.role != "official"
        with reading(backend.engine) as conn:
            row = resident_reads.find_resident(conn, resident_id)
            if row is None or not who.sees_district(row.district):
                return render(request, "resident_profile.html", who, resident=None, status_code=404)
            stored = resident_reads.devices_of(conn, resident_id)
            activity = profile_reads.activity_by_device(conn, resident_id)
            contacts = profile_reads.contact_details(conn, resident_id)
            closed = history_reads.closed_alerts(
                conn, HistoryFilter(resident=resident_id), limit=10
            )
        state = backend.core.state_of(resident_id)
        devices = device_views(stored, state, activity)
        today = now.astimezone(_KST).date()
        ended = row.inactive_since is not None
        described = DEACTIVATED if ended else describe_state(state, now)
        return render(
            request,
            "resident_profile.html",
            who,
            resident=row,
            staff=staff,
            phone=_phone(row.phone, staff),
            state_word=DEACTIVATED_WORD if ended else STATE_WORDS.get(described, described),
            ended=(
                {
                    "at": kst(row.inactive_since),
                    "iso": iso(row.inactive_since),
                    "reason": glossary()["inactive_reason"].get(row.inactive_reason or "", "기타"),
                }
                if ended
                else None
            ),
            reasons=INACTIVE_REASON_WORDS,
            last=_last_activity(state, now),
            devices=devices,
            contacts=[
                {
                    "role": WORDS["contact_role"].get(c.role, c.role),
                    "name": c.name,
                    "phone": _phone(c.phone, staff),
                    "quiet_hours": c.quiet_hours,
                    "backup": c.backup,
                }
                for c in contacts
            ],
            policy=policy_view(state.policy, now) if state else None,
            open_alerts=[
                open_alert_view(a)
                for a in sorted(
                    state.alerts.values() if state else [], key=lambda a: a.opened_at, reverse=True
                )
            ],
            closed=[alert_view(a) for a in closed],
            history_link="/history?" + urlencode({"resident": resident_id}),
            done=DONE_WORDS.get(done or ""),
            problem=PROBLEM_WORDS.get(problem or ""),
            first_day=today.isoformat(),
            last_day=(today + timedelta(days=AWAY_MAX_DAYS)).isoformat(),
        )

    def _back(resident_id: str, part: str = "policy", **message: str) -> RedirectResponse:
        query = f"?{urlencode(message)}" if message else ""
        return RedirectResponse(f"/residents/{resident_id}{query}#{part}", status_code=303)

    @router.post("/residents/{resident_id}/away", response_model=None)
    def set_away(
        resident_id: str, who: PageAdmin, last_day: Annotated[str, Form(max_length=10)] = ""
    ) -> RedirectResponse:
        today = backend.now().astimezone(_KST).date()
        try:
            day = date.fromisoformat(last_day)
        except ValueError:
            return _back(resident_id, problem="away_day")
        if not today <= day <= today + timedelta(days=AWAY_MAX_DAYS):
            return _back(resident_id, problem="away_day")
        # The same body PATCH /api/v1/residents/{id}/policy takes, through the same core call.
        body = PolicyFields(away_until=away_end(day, KOREA_TZ))
        run(lambda now: backend.core.change_policy(resident_id, body.overrides(), now))
        return _back(resident_id, done="away_set")

    @router.post("/residents/{resident_id}/away/end", response_model=None)
    def end_away(resident_id: str, who: PageAdmin) -> RedirectResponse:
        body = PolicyFields(away_until=None)
        run(lambda now: backend.core.change_policy(resident_id, body.overrides(), now))
        return _back(resident_id, done="away_ended")

    _lifecycle_forms(router, backend, run, _back)
    return router


def _problem_of(detail: object) -> str:
    """The key of what an edit's check refused (its words are the API's)."""
    if detail == PHONE_PROBLEM:
        return "phone"
    return "name" if detail == PROBLEM_WORDS["name"] else "district"


def _lifecycle_forms(
    router: APIRouter, backend: Backend, run: Runner, back: Callable[..., RedirectResponse]
) -> None:
    """The profile's forms to edit, deactivate and reactivate a resident (admins)."""

    @router.post("/residents/{resident_id}/edit", response_model=None)
    def edit(
        resident_id: str,
        who: PageAdmin,
        name: Annotated[str, Form(max_length=100)] = "",
        district: Annotated[str, Form(max_length=100)] = "",
        address: Annotated[str, Form(max_length=300)] = "",
        phone: Annotated[str, Form(max_length=20)] = "",
    ) -> RedirectResponse:
        body = ResidentChanges.model_construct(
            name=name, district=district.strip() or None, address=address, phone=phone
        )
        try:
            changes = checked_changes(backend, body)
        except HTTPException as error:
            return back(resident_id, "who", problem=_problem_of(error.detail))
        run(lambda now: backend.core.update_resident(resident_id, changes, now))
        return back(resident_id, "who", done="edited")

    @router.post("/residents/{resident_id}/deactivate", response_model=None)
    def deactivate(
        resident_id: str, who: PageAdmin, reason: Annotated[str, Form(max_length=20)] = ""
    ) -> RedirectResponse:
        try:
            body = DeactivateIn.model_validate({"reason": reason})
        except ValidationError:
            return back(resident_id, "lifecycle", problem="reason")
        try:
            run(lambda now: backend.core.deactivate_resident(resident_id, body.reason, now))
        except HTTPException as error:
            if error.status_code != 409:
                raise
            return back(resident_id, "lifecycle", problem="conflict")
        revoke_credentials(backend, resident_id)
        return back(resident_id, "lifecycle", done="deactivated")

    @router.post("/residents/{resident_id}/reactivate", response_model=None)
    def reactivate(resident_id: str, who: PageAdmin) -> RedirectResponse:
        try:
            run(lambda now: backend.core.reactivate_resident(resident_id, now))
        except HTTPException as error:
            if error.status_code != 409:
                raise
            return back(resident_id, "lifecycle", problem="conflict")
        return back(resident_id, "lifecycle", done="reactivated")
