"""The case summary view: ``GET /residents/{id}/summary``, one printable A4 page per resident
for the district's integrated support meeting (통합지원회의 사례 요약).

Staff (admin, operator) and the resident's own district official see it; an official of
another district gets 404, as the API answers them for the resident. The page shows the
last 90 days: alerts with outcomes and response times, device uptime, weekly activity
against the resident's own median (an inline SVG with a text alternative), trend findings,
away mode and hospital stays as far as the store records them, and what is open now. No raw
event log, no contact's phone number, no health reading beyond what an alert says. The
figures' definitions are :mod:`hub.case_summary`'s; the reads are
:mod:`hub.store.case_reads`.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from hub import case_summary as calc
from hub.api.backend import Backend, Runner
from hub.api.pages import PageUser, render
from hub.report_render import TREND_LABELS
from hub.store import case_reads
from hub.store.db import reading
from hub.store.registry import resident_policy
from protocol.glossary import (
    ALERT_KIND_WORDS,
    CONTACT_ROLE_WORDS,
    DEVICE_KIND_SHOWN,
    GUARDIAN_CHECKING,
    OUTCOME_WORDS,
    STAGE_WORDS,
    STEP_WORDS,
)
from protocol.models import MAX_INTERVAL_S
from protocol.vocab import ALERT_KINDS

WINDOW = timedelta(days=90)
WEEKS = 13
FOLLOW_UP_TRENDS = timedelta(days=30)
"""Trend findings listed as open follow-ups: the officials' work list's default window (the
store keeps no mark of a finding having been reviewed)."""
_AUTO_ENDS = {
    "activity_resumed": "활동 재개로 자동 종료",
    "monitoring_restored": "기기 연결 회복으로 자동 종료",
}
LISTED = 6
"""Alerts listed one by one: more would take the page past one A4 sheet (the counts per kind
cover them all). Those a person closed and those still open come first, the newest of each
first; alerts that ended by themselves (activity resumed, a device back) fill what is left."""
_CHART_W, _CHART_H = 760.0, 90.0


def duration_text(span: timedelta | None) -> str:
    """A span as staff say it: 45초, 12분, 3시간 20분, 2일 4시간; '—' when none."""
    if span is None:
        return "—"
    seconds = max(int(span.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds}초"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}분"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}시간 {minutes}분" if minutes else f"{hours}시간"
    days, hours = divmod(hours, 24)
    return f"{days}일 {hours}시간" if hours else f"{days}일"


def _outcome_text(alert: case_reads.CaseAlert, ended_by: str | None) -> str:
    if alert.state != "resolved":
        return "진행 중"
    if alert.outcome in OUTCOME_WORDS:
        return OUTCOME_WORDS[alert.outcome]
    return _AUTO_ENDS.get(ended_by or "", "자동 종료")


def _alert_rows(
    found: list[case_reads.CaseAlert],
    timelines: dict[str, list[case_reads.TimelineRow]],
    fmt: Any,
) -> list[dict[str, Any]]:
    rows = []
    for alert in found:
        timeline = timelines.get(alert.id, [])
        response = calc.response_of(
            alert.opened_at,
            alert.resolved_at,
            ((t.at, t.note) for t in timeline if t.what == "acknowledged"),
        )
        ended_by = next((t.note for t in timeline if t.what == "resolved"), None)
        steps = [STEP_WORDS[t.what] for t in timeline if t.what in ("dispatched", "called_119")]  # type: ignore[index]
        if any(t.what == "guardian_checking" for t in timeline) or any(
            t.what == "acknowledged" and t.note == "guardian" for t in timeline
        ):
            steps.append(GUARDIAN_CHECKING)
        rows.append(
            {
                "alert": alert,
                "opened": fmt(alert.opened_at),
                "kind": ALERT_KIND_WORDS.get(alert.kind, alert.kind),  # type: ignore[call-overload]
                "stage": STAGE_WORDS.get(alert.stage, alert.stage),  # type: ignore[call-overload]
                "outcome": _outcome_text(alert, ended_by),
                "to_ack": response.to_ack,
                "to_resolve": response.to_resolve,
                "steps": steps,
                "why": alert.explanation or "",
            }
        )
    return rows


def _listed(rows: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """The ``count`` alerts the page lists (see :data:`LISTED`), in the order they opened."""

    def ended_by_itself(row: dict[str, Any]) -> bool:
        return bool(row["alert"].state == "resolved" and row["alert"].outcome is None)

    chosen = sorted(range(len(rows)), key=lambda i: (ended_by_itself(rows[i]), -i))[:count]
    return [rows[i] for i in sorted(chosen)]


def _per_kind(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    summary = []
    for kind in ALERT_KINDS:
        mine = [r for r in rows if r["alert"].kind == kind]
        outcomes = Counter(r["outcome"] for r in mine if r["alert"].state == "resolved")
        summary.append(
            {
                "kind": ALERT_KIND_WORDS[kind],
                "count": len(mine),
                "open": sum(1 for r in mine if r["alert"].state != "resolved"),
                "ack": calc.median_span([r["to_ack"] for r in mine if r["to_ack"] is not None]),
                "resolve": calc.median_span(
                    [r["to_resolve"] for r in mine if r["to_resolve"] is not None]
                ),
                "outcomes": ", ".join(f"{word} {n}" for word, n in sorted(outcomes.items())),
            }
        )
    return summary


def case_summary_page_router(backend: Backend, run: Runner) -> APIRouter:
    """The view's routes, bound to ``backend``; ``run`` executes on the hub's writer."""
    router = APIRouter(include_in_schema=False)

    @router.get("/residents/{resident_id}/summary")
    def case_summary(request: Request, resident_id: str, who: PageUser) -> HTMLResponse:
        now = backend.now()
        zone = ZoneInfo(backend.settings.tz)

        def fmt(at: datetime, pattern: str = "%m.%d %H:%M") -> str:
            return at.astimezone(zone).strftime(pattern)

        since = now - WINDOW
        state = backend.core.state_of(resident_id)
        policy = state.policy if state else None
        missed = policy.device_offline_after_heartbeats if policy else 3
        lookback = timedelta(seconds=MAX_INTERVAL_S * missed)
        with reading(backend.engine) as conn:
            resident = case_reads.resident_for_case(conn, resident_id)
            if resident is None or not who.sees_district(resident.district):
                raise HTTPException(404, f"resident {resident_id} not found")
            stored_policy = resident_policy(conn, resident_id)
            found = case_reads.alerts_for_case(conn, resident_id, since)
            timelines = case_reads.timelines_of(conn, [a.id for a in found])
            stored_devices = case_reads.devices_for_case(conn, resident_id)
            signals = {
                d.id: case_reads.device_signals(conn, resident_id, d.id, since, lookback)
                for d in stored_devices
            }
            activity = case_reads.activity_signals(
                conn, resident_id, now - timedelta(days=7 * WEEKS)
            )
            findings = case_reads.trend_findings_of(conn, resident_id, since)
            people = case_reads.contact_names(conn, resident_id)

        rows = _alert_rows(found, timelines, fmt)
        in_window = [r for r in rows if r["alert"].opened_at >= since]
        devices = []
        for device in stored_devices:
            start = max(since, device.registered_at)
            online, measured = calc.uptime(signals[device.id], start, now, missed)
            core = state.devices.get(device.id) if state else None
            devices.append(
                {
                    "id": device.id,
                    "kind": DEVICE_KIND_SHOWN.get(device.kind, device.kind),  # type: ignore[call-overload]
                    "since": fmt(start, "%Y.%m.%d"),
                    "pct": None if not measured else 100 * online / measured,
                    "offline": (core.online is False) if core else not device.online,
                    "offline_since": core.offline_since if core else None,
                }
            )
        weekly = calc.weekly_activity(activity, now, resident.created_at, WEEKS)
        bars, baseline_y = calc.chart_bars(weekly, _CHART_W, _CHART_H, gap=14)
        weeks = [
            {"label": fmt(w.start, "%m.%d"), "week": w, "bar": bar}
            for w, bar in zip(weekly.weeks, bars, strict=True)
        ]
        away_until = policy.away_until if policy else None
        away_notes = [
            {"at": fmt(t.at), "note": t.note}
            for timeline in timelines.values()
            for t in timeline
            if t.what == "note" and t.note and "외출 설정" in t.note and t.at >= since
        ]
        transported = [r for r in in_window if r["alert"].outcome == "transported"]
        trend_rows = [
            {"kind": TREND_LABELS.get(kind, kind), "at": fmt(at, "%Y.%m.%d"), "detail": detail}
            for kind, at, detail in findings
        ]
        follow_trends = [
            row
            for row, (_, at, _) in zip(trend_rows, findings, strict=True)
            if at >= now - FOLLOW_UP_TRENDS
        ]
        return render(
            request,
            "case_summary.html",
            who,
            resident=resident,
            printed=now.astimezone(zone).strftime("%Y년 %m월 %d일 %H:%M"),
            window_from=fmt(since, "%Y.%m.%d"),
            window_to=fmt(now, "%Y.%m.%d"),
            alerts=_listed(in_window, LISTED),
            alerts_total=len(in_window),
            per_kind=_per_kind(in_window),
            open_alerts=[r for r in rows if r["alert"].state != "resolved"],
            devices=devices,
            offline_now=[d for d in devices if d["offline"]],
            weeks=weeks,
            baseline=weekly.baseline,
            baseline_y=baseline_y,
            chart_w=_CHART_W,
            chart_h=_CHART_H,
            missed=missed,
            trends=trend_rows,
            follow_trends=follow_trends,
            away_until=None if away_until is None else fmt(away_until, "%Y.%m.%d %H:%M"),
            away_over=away_until is not None and away_until <= now,
            away_in_window=away_until is not None and away_until >= since,
            policy_version=stored_policy[1] if stored_policy else 1,
            away_notes=away_notes,
            transported=transported,
            guardians=[
                (CONTACT_ROLE_WORDS["guardian"], name, backup)
                for role, name, backup in people
                if role == "guardian"
            ],
            duration=duration_text,
            fmt=fmt,
        )

    return router
