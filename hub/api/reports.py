"""``GET /api/v1/reports/{district}/{month}``: the district's monthly report.

``?format=json`` (default), ``csv`` (UTF-8 with BOM, for Excel) or ``html`` (a printable
page with SVG charts). Staff see every district; an official only their own.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import HTMLResponse, Response

from hub.api.auth import AnyUser
from hub.api.residents import district_of
from hub.report_render import report_csv, report_html
from hub.reports import monthly_report


def reports_router(backend: Any) -> APIRouter:
    router = APIRouter()

    @router.get(
        "/api/v1/reports/{district}/{month}",
        tags=["reports"],
        responses={200: {"content": {"text/csv": {}, "text/html": {}}}},
    )
    def district_report(
        district: str,
        month: Annotated[str, Path(pattern=r"^[12]\d{3}-(0[1-9]|1[0-2])$")],
        who: AnyUser,
        format: Literal["json", "csv", "html"] = "json",
    ) -> Any:
        """Residents monitored, device uptime, activity, alerts, answer times, outcomes.

        ``district`` in any form the hub resolves (유성구, 서울 서대문구); a name that is no
        district answers 404 with the closest names, never a report of zeros.
        """
        try:
            district = district_of(backend, district, unknown_status=404).name
        except HTTPException:
            if who.role == "official":
                # An official may read only their own district: any other name is refused
                # the same way, whether it exists or not.
                raise HTTPException(403, "다른 구의 보고서는 볼 수 없습니다") from None
            raise
        if not who.sees_district(district):
            raise HTTPException(403, "다른 구의 보고서는 볼 수 없습니다")
        try:
            report = monthly_report(
                backend.engine, district, month, backend.settings.tz, now=backend.now()
            )
        except ValueError as error:
            raise HTTPException(422, str(error)) from None
        if format == "csv":
            filename = f"anbu-{month}.csv"
            return Response(
                report_csv(report),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{filename}"'},
            )
        if format == "html":
            return HTMLResponse(report_html(report))
        return dataclasses.asdict(report)

    return router
