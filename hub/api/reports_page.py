"""The reports view of the staff pages: ``GET /reports``, a district's monthly report.

An official sees their own district's report; admins and operators pick a district and a
month. The report is the one ``GET /api/v1/reports/{district}/{month}`` answers
(:func:`hub.reports.monthly_report`, rendered by :func:`hub.report_render.report_body`),
shown inside the staff layout, printable on A4 (the template's print style hides the
navigation and the form), with a link to the same report as CSV for Excel.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Annotated
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from hub.api.auth import Principal
from hub.api.backend import Backend, Runner
from hub.api.pages import PageUser, render
from hub.api.residents import district_of
from hub.districts import District
from hub.report_render import report_body, report_title
from hub.reports import monthly_report
from hub.store.db import reading
from hub.store.districts import list_districts

_MONTH = re.compile(r"^[12]\d{3}-(0[1-9]|1[0-2])$")
_UNSET = "미확인 구"


def district_groups(backend: Backend) -> list[tuple[str, list[District]]]:
    """The hub's districts by 시도, the hub's own 시도 first (the ones staff pick most)."""
    with reading(backend.engine) as conn:
        found = list_districts(conn)
    groups: dict[str, list[District]] = defaultdict(list)
    for district in found:
        groups[district.sido or _UNSET].append(district)
    home = backend.settings.sido
    return sorted(groups.items(), key=lambda item: (item[0] != home, item[0] == _UNSET, item[0]))


def reports_page_router(backend: Backend, run: Runner) -> APIRouter:
    """The view's routes, bound to ``backend``; ``run`` executes on the hub's writer."""
    router = APIRouter(include_in_schema=False)

    def choose(
        who: Principal, district: str | None
    ) -> tuple[str | None, str | None, int]:  # (district, error, status)
        if who.role == "official":
            if who.district is None:
                return None, "담당 구가 정해져 있지 않습니다. 관리자에게 문의해 주세요.", 200
            if district and district != who.district:
                return who.district, "다른 구의 보고서는 볼 수 없습니다.", 403
            return who.district, None, 200
        if not district:
            return None, None, 200
        try:
            return district_of(backend, district, unknown_status=404).name, None, 200
        except HTTPException as refused:
            return None, str(refused.detail), 200

    @router.get("/reports")
    def reports_page(
        request: Request,
        who: PageUser,
        district: Annotated[str | None, Query(max_length=100)] = None,
        month: Annotated[str | None, Query(max_length=20)] = None,
    ) -> HTMLResponse:
        now = backend.now()
        tz = backend.settings.tz
        this_month = now.astimezone(ZoneInfo(tz)).strftime("%Y-%m")
        error: str | None = None
        if month and not _MONTH.match(month):
            error, month = "월은 2026-11 처럼 연도-월로 골라 주세요.", None
        month = month or this_month
        chosen, refused, status_code = choose(who, district)
        error = error or refused
        body = title = csv_url = html_url = None
        if chosen is not None and status_code == 200:
            report = monthly_report(backend.engine, chosen, month, tz, now=now)
            # report_body escapes every value it puts in; Markup only says so to Jinja2.
            body = Markup(report_body(report, level=2))  # noqa: S704
            title = report_title(report)
            api = f"/api/v1/reports/{quote(chosen, safe='')}/{month}"
            csv_url, html_url = f"{api}?format=csv", f"{api}?format=html"
        return render(
            request,
            "reports.html",
            who,
            status_code=status_code,
            groups=[] if who.role == "official" else district_groups(backend),
            district=chosen,
            month=month,
            this_month=this_month,
            error=error,
            body=body,
            report_title=title,
            csv_url=csv_url,
            html_url=html_url,
        )

    return router
