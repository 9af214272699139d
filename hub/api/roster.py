"""``POST /api/v1/roster``: a district's list of residents, contacts and devices (CSV, XLSX).

The file is the request body (``Content-Type`` of the file; ``?filename=`` tells CSV from
XLSX when the content cannot), at most ``MAX_UPLOAD_BYTES``: a larger declared length is
refused before the body is read, and a body is counted as it streams in, so a client that
sends more (or declares nothing) is cut off at the limit, never held in memory whole.
Without ``?apply=true`` it is a dry run: the report of what would be created and of every
row's errors, in the district's own row numbers. With it, the valid rows of residents not
yet registered are created. Admins only.

When the hub provisions devices (``ANBU_MQTT_ADMIN_USER``), an applied import gives every
device it registered its own broker credentials, answered once under ``provisioning``
(``credentials``: one object per device, as ``POST …/devices/{id}/credentials`` answers
it), with ``not_provisioned`` naming each device the broker did not take and how to
provision it again (:mod:`hub.roster_provision`). The answer is 200 even then: the
residents are registered, and the answer says which devices still need credentials.
``provisioning`` is null in a dry run (which provisions nothing) and when provisioning is
off.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from hub.api.auth import AdminOnly
from hub.api.devices import PROVISIONING_ERRORS, provisioner_of
from hub.districts import index_in
from hub.roster import apply_roster, read_roster
from hub.roster_format import MAX_UPLOAD_BYTES, MSG_UPLOAD_TOO_LARGE
from hub.roster_provision import provision_roster


async def _body(request: Request) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed the limit."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
        raise HTTPException(413, MSG_UPLOAD_TOO_LARGE)
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > MAX_UPLOAD_BYTES:
            raise HTTPException(413, MSG_UPLOAD_TOO_LARGE)
    return bytes(received)


def roster_router(backend: Any) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/api/v1/roster",
        tags=["residents"],
        responses={409: PROVISIONING_ERRORS[409]},
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
        data = await _body(request)
        if not data and "content-type" not in request.headers:
            # No file at all (the document says one is required) is the client's mistake, not
            # a roster of no rows, which apply=true would answer with 200. An empty file that
            # says what it is gets the dry run's "파일이 비어 있습니다".
            raise HTTPException(
                422, "명단 파일이 없습니다 (요청 본문이 비어 있음) / no file in the body"
            )
        districts = await run_in_threadpool(index_in, backend.engine, backend.settings.sido)
        report = await run_in_threadpool(read_roster, data, filename, districts)
        result: dict[str, Any] = {"report": report.as_dict(), "applied": None}
        result["provisioning"] = None
        if apply:
            # Provisioning misconfigured is a 409 before anything is registered.
            provisioner = provisioner_of(backend)
            applied = await run_in_threadpool(
                backend.call, lambda now: apply_roster(report, backend.core, now)
            )
            result["applied"] = applied
            if provisioner is not None:
                # Off the writer thread: the broker may take seconds per batch.
                result["provisioning"] = await run_in_threadpool(
                    provision_roster, applied["registered_devices"], provisioner
                )
        return result

    return router
