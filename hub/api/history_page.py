"""The alert history of the staff pages: closed alerts, filtered, and one alert read-only.

* ``GET /history?district=&kind=&outcome=&from=&to=&resident=&page=``: resolved alerts,
  newest opened first, 50 a page (``from``/``to``: local days of opening, both included;
  ``resident``: one resident's, the profile's link). The filters are a plain GET form, so
  a filtered list is a link to share; htmx swaps only the results (``HX-Request``) and
  pushes the same address. An official sees their own district only, whatever the form says.
* ``GET /history/{alert_id}``: the alert's summary, then its timeline: the centre's work
  first (접수, steps, 종료), then what the hub did, then for staff the messages sent, one
  collapsed ``<details>`` per recipient with the number masked.

Reads come from :mod:`hub.store.history_reads` and :mod:`hub.store.alert_reads`. Domain
words are the glossary's; the timeline's own words (what the hub did, delivery states) are
:data:`TIMELINE_WORDS`, :data:`NOTE_WORDS` and :data:`DELIVERY_WORDS`, the board's
(hub/web/board.js) in Python. The time formatting helpers here serve the residents view too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from hub.api.backend import Backend, Runner
from hub.api.guardian import phone_link
from hub.api.pages import PageUser, render
from hub.store import alert_reads, history_reads, profile_reads
from hub.store.alert_reads import TimelineEntry
from hub.store.db import reading
from hub.store.history_reads import NO_OUTCOME, ClosedAlert, HistoryFilter
from protocol.glossary import DELIVERY_WORDS, REASON_WORDS, TIMELINE_WORDS, glossary
from protocol.vocab import ALERT_KINDS, ID_PATTERN, KOREA_TZ, OUTCOMES

PAGE_SIZE = 50
_KST = ZoneInfo(KOREA_TZ)
# The glossary's tables keyed by plain strings (what the store hands back).
WORDS = glossary()
KIND_WORDS = WORDS["alert_kind"]
OUTCOME_WORDS = WORDS["outcome"]
STAGE_WORDS = WORDS["stage"]
STEP_WORDS = WORDS["step"]
ROLE_WORDS = WORDS["contact_role"]

GUARDIAN_ACK = "보호자 확인 중 (관제센터 접수 아님)"
NOTE_WORDS: dict[str, str] = {**ROLE_WORDS, **REASON_WORDS}
# The centre's own work on an alert, listed first on the detail page.
_CENTRE_WORK = frozenset({"acknowledged", "resolved", *STEP_WORDS})


def kst(at: datetime | None) -> str:
    """``11월 25일 14:03`` in Korea's time; ``-`` for none."""
    if at is None:
        return "-"
    local = at.astimezone(_KST)
    return f"{local.month}월 {local.day}일 {local:%H:%M}"


def iso(at: datetime | None) -> str:
    """The machine-readable time for a ``<time datetime>``."""
    return "" if at is None else at.astimezone(_KST).isoformat(timespec="seconds")


def took(start: datetime, end: datetime | None) -> str:
    """How long from ``start`` to ``end``: ``45초``, ``3분 10초``, ``2시간 5분``, ``1일 3시간``."""
    if end is None:
        return ""
    seconds = max(0, int((end - start).total_seconds()))
    minutes, secs = divmod(seconds, 60)
    hours, mins = divmod(minutes, 60)
    days, hrs = divmod(hours, 24)
    if days:
        return f"{days}일 {hrs}시간" if hrs else f"{days}일"
    if hours:
        return f"{hours}시간 {mins}분" if mins else f"{hours}시간"
    if minutes:
        return f"{minutes}분 {secs}초" if secs else f"{minutes}분"
    return f"{secs}초"


def masked(phone: str) -> str:
    """``010-****-5678``: enough to tell recipients apart, not to call them."""
    link = phone_link(phone)
    if link is None:
        return "****"
    first, _, last = link[1].split("-")
    return f"{first}-****-{last}"


def outcome_text(alert: ClosedAlert) -> str:
    if alert.outcome:
        return OUTCOME_WORDS.get(alert.outcome, alert.outcome)
    reason = NOTE_WORDS.get(alert.close_reason or "", "")
    return f"자동 종료 ({reason})" if reason else "자동 종료"


def alert_view(alert: ClosedAlert) -> dict[str, Any]:
    """What a template shows of an alert: words and KST times, no raw values to format."""
    return {
        "id": alert.alert_id,
        "resident_id": alert.resident_id,
        "name": alert.name,
        "district": alert.district,
        "kind": KIND_WORDS.get(alert.kind, alert.kind),
        "stage": STAGE_WORDS.get(alert.stage, alert.stage),
        "opened": kst(alert.opened_at),
        "opened_iso": iso(alert.opened_at),
        "acked": kst(alert.centre_ack_at) if alert.centre_ack_at else "",
        "acked_iso": iso(alert.centre_ack_at),
        "ack_after": took(alert.opened_at, alert.centre_ack_at),
        "resolved": kst(alert.resolved_at),
        "resolved_iso": iso(alert.resolved_at),
        "open_for": took(alert.opened_at, alert.resolved_at),
        "outcome": outcome_text(alert) if alert.resolved_at else "",
        "by": alert.resolved_by or "",
        "note": alert.note or "",
    }


@dataclass(frozen=True)
class Filters:
    """The history form as given, each value checked; ``problems`` says what was ignored."""

    district: str | None
    kind: str | None
    outcome: str | None
    first: date | None
    last: date | None
    page: int
    problems: tuple[str, ...]
    resident: str | None = None

    def query(self, **changed: Any) -> str:
        """The form's query string, with ``changed`` values (for the page links)."""
        values = {
            "district": self.district,
            "kind": self.kind,
            "outcome": self.outcome,
            "from": self.first.isoformat() if self.first else None,
            "to": self.last.isoformat() if self.last else None,
            "resident": self.resident,
            "page": self.page,
        } | changed
        return urlencode({k: v for k, v in values.items() if v not in (None, "", 1)})


def _day(text: str | None, what: str, problems: list[str]) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        problems.append(f"{what} 날짜를 알아볼 수 없어 빼고 찾았습니다 ({text[:20]}).")
        return None


def read_filters(
    district: str | None,
    kind: str | None,
    outcome: str | None,
    first: str | None,
    last: str | None,
    page: str | None,
    districts: list[str],
    resident: str | None = None,
) -> Filters:
    problems: list[str] = []
    if resident and not ID_PATTERN.match(resident):
        problems.append("어르신 ID를 알아볼 수 없어 어르신 조건을 빼고 찾았습니다.")
        resident = None
    if district and district not in districts:
        problems.append("그 지역의 어르신이 없어 지역 조건을 빼고 찾았습니다.")
        district = None
    if kind and kind not in ALERT_KINDS:
        problems.append("알 수 없는 경보 종류라 종류 조건을 빼고 찾았습니다.")
        kind = None
    if outcome and outcome != NO_OUTCOME and outcome not in OUTCOMES:
        problems.append("알 수 없는 결과라 결과 조건을 빼고 찾았습니다.")
        outcome = None
    start = _day(first, "시작", problems)
    end = _day(last, "끝", problems)
    # isdigit() alone takes "²", which int() refuses: ASCII digits only.
    wanted = page if page and page.isascii() and page.isdigit() else ""
    number = int(wanted) if wanted and 0 < int(wanted) < 100_000 else 1
    return Filters(
        district or None,
        kind or None,
        outcome or None,
        start,
        end,
        number,
        (*problems,),
        resident or None,
    )


def _local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=_KST)


def entry_text(entry: TimelineEntry, outcome: str | None) -> str:
    """One timeline line in words, as the board writes it."""
    if entry.what == "acknowledged" and entry.note == "guardian":
        label = GUARDIAN_ACK
    elif entry.what.startswith("stage:"):
        stage = entry.what.removeprefix("stage:")
        label = f"단계: {STAGE_WORDS.get(stage, stage)}"
    else:
        label = TIMELINE_WORDS.get(entry.what) or STEP_WORDS.get(entry.what, entry.what)
    by = f" — {entry.by}" if entry.by else ""
    extra = ""
    if entry.what == "note":
        extra = f": {entry.note}" if entry.note else ""
    elif entry.what == "resolved" and outcome:
        extra = f" (결과: {OUTCOME_WORDS.get(outcome, outcome)})"
    elif entry.what in STEP_WORDS and entry.note:
        extra = f": {entry.note}"
    elif entry.note and entry.what != "acknowledged" and entry.note != "resolved":
        extra = f" ({NOTE_WORDS.get(entry.note) or entry.note})"
    return f"{label}{by}{extra}"


def timeline_lines(entries: list[TimelineEntry], outcome: str | None) -> dict[str, list[Any]]:
    """The centre's work and the rest, each line ``{at, iso, text, n, last}``; repeats of the
    hub's own lines (a delivery failing again and again) fold into one with a count."""
    work = [
        e
        for e in entries
        if e.what in _CENTRE_WORK and not (e.what == "acknowledged" and e.note == "guardian")
    ]
    lines: list[dict[str, Any]] = []
    for entry in (e for e in entries if e not in work):
        text = entry_text(entry, outcome)
        if lines and lines[-1]["text"] == text:
            lines[-1]["n"] += 1
            lines[-1]["last"] = kst(entry.at)
            continue
        lines.append({"at": kst(entry.at), "iso": iso(entry.at), "text": text, "n": 1})
    return {
        "work": [
            {"at": kst(e.at), "iso": iso(e.at), "text": entry_text(e, outcome), "n": 1}
            for e in work
        ],
        "events": lines,
    }


def recipient_groups(notes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages per recipient (role and number), oldest first within each, numbers masked."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for note in sorted(notes, key=lambda n: int(n["id"])):
        groups.setdefault((str(note["role"]), str(note["recipient"])), []).append(note)
    return [
        {
            "role": ROLE_WORDS.get(role, role),
            "to": masked(recipient),
            "count": len(sent),
            "state": DELIVERY_WORDS.get(sent[-1]["state"], sent[-1]["state"]),
            "at": kst(sent[-1]["created_at"]),
            "messages": [
                {
                    "at": kst(n["created_at"]),
                    "stage": STAGE_WORDS.get(n["stage"], n["stage"] or ""),
                    "state": DELIVERY_WORDS.get(n["state"], n["state"]),
                }
                for n in sent
            ],
        }
        for (role, recipient), sent in groups.items()
    ]


def history_page_router(backend: Backend, run: Runner) -> APIRouter:
    """The view's routes, bound to ``backend`` (it only reads; ``run`` is not needed)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/history")
    def history(
        request: Request,
        who: PageUser,
        district: str | None = None,
        kind: str | None = None,
        outcome: str | None = None,
        first: Annotated[str | None, Query(alias="from")] = None,
        last: Annotated[str | None, Query(alias="to")] = None,
        page: str | None = None,
        resident: str | None = None,
    ) -> HTMLResponse:
        with reading(backend.engine) as conn:
            districts = profile_reads.districts_in_use(conn, who.districts())
            filters = read_filters(district, kind, outcome, first, last, page, districts, resident)
            given = HistoryFilter(
                districts=who.districts(),
                district=filters.district,
                kind=filters.kind,
                outcome=filters.outcome,
                opened_from=_local_midnight(filters.first) if filters.first else None,
                opened_before=(
                    _local_midnight(filters.last + timedelta(days=1)) if filters.last else None
                ),
                resident=filters.resident,
            )
            total = history_reads.count_closed(conn, given)
            pages = max(1, -(-total // PAGE_SIZE))
            number = min(filters.page, pages)
            rows = history_reads.closed_alerts(
                conn, given, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE
            )
        partial = request.headers.get("HX-Request") == "true"
        return render(
            request,
            "history_results.html" if partial else "history.html",
            who,
            filters=filters,
            districts=districts,
            kinds=KIND_WORDS,
            outcomes=OUTCOME_WORDS,
            no_outcome=NO_OUTCOME,
            rows=[alert_view(row) for row in rows],
            total=total,
            number=number,
            pages=pages,
            first_shown=(number - 1) * PAGE_SIZE + 1 if rows else 0,
            last_shown=(number - 1) * PAGE_SIZE + len(rows),
            previous=filters.query(page=number - 1) if number > 1 else None,
            following=filters.query(page=number + 1) if number < pages else None,
        )

    @router.get("/history/{alert_id}")
    def history_detail(request: Request, alert_id: str, who: PageUser) -> HTMLResponse:
        with reading(backend.engine) as conn:
            alert = history_reads.history_alert(conn, alert_id)
            if alert is None or not who.sees_district(alert.district):
                return render(request, "history_detail.html", who, alert=None, status_code=404)
            row = alert_reads.find_alert(conn, alert_id) or {}
            timeline = alert_reads.timeline_of(conn, alert_id)
            # Who was sent what is the centre's to know (the notification API is staff-only).
            staff = who.role != "official"
            notes = (
                alert_reads.list_notifications(conn, resident=None, alert_id=alert_id, limit=5000)
                if staff
                else []
            )
        return render(
            request,
            "history_detail.html",
            who,
            alert=alert_view(alert),
            explanation=row.get("explanation") or "",
            closed=alert.resolved_at is not None,
            lines=timeline_lines(timeline, alert.outcome),
            staff=staff,
            groups=recipient_groups(notes),
        )

    return router
