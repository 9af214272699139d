"""``POST /api/v1/roster``: a district's list of residents, contacts and devices (CSV, XLSX).

The file is the request body (``Content-Type`` of the file; ``?filename=`` tells CSV from
XLSX when the content cannot). Without ``?apply=true`` it is a dry run: the report of what
would be created and of every row's errors, in the district's own row numbers. With it, the
valid rows of residents not yet registered are created. Admins only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from hub.api.auth import AdminOnly
from hub.roster import apply_roster, read_roster

MAX_UPLOAD = 10 * 1024 * 1024


def roster_router(backend: Any) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/api/v1/roster",
        tags=["residents"],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "text/csv": {"schema": {"type": "string", "format": "binary"}},
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                        "schema": {"type": "string", "format": "binary"}
                    },
                },
            }
        },
    )
    async def import_roster(
        request: Request,
        _: AdminOnly,
        filename: Annotated[str, Query(max_length=200)] = "roster.csv",
        apply: bool = False,
    ) -> dict[str, Any]:
        """Dry run by default; ``apply=true`` creates the valid rows' new residents."""
        data = await request.body()
        if len(data) > MAX_UPLOAD:
            raise HTTPException(413, "파일이 너무 큽니다 (최대 10 MB)")
        report = await run_in_threadpool(read_roster, data, filename)
        result: dict[str, Any] = {"report": report.as_dict(), "applied": None}
        if apply:
            result["applied"] = await run_in_threadpool(
                backend.call, lambda now: apply_roster(report, backend.core, now)
            )
        return result

    return router
