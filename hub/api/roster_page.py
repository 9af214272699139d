"""The roster view of the staff pages: a district's roster file, checked, then applied.

``GET /roster`` is the upload form (admins and operators). ``POST /roster`` (multipart:
the file and ``csrf_token``) is the dry run :func:`hub.roster.read_roster` and
:func:`hub.roster.apply_roster` (``dry_run=True``) give: each error and warning by row,
column and Korean message, and which residents would be added and which are already
registered (a roster never changes those). ``POST /roster/apply`` applies the same file, as
``POST /api/v1/roster?apply=true`` does (admins only, as there): read again, applied on the
hub's writer, then broker credentials for the new devices when the hub provisions them
(:func:`hub.roster_provision.provision_roster`), whose passwords are shown once on the
result page and nowhere else.

Between the two the file stays in this process's memory only (:class:`PendingUploads`):
under a random token bound to the admin's session, used once, gone after
``PENDING_TTL_S``, never written to disk or a log.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from hub.api import sessions
from hub.api.auth import Principal
from hub.api.backend import Backend, Runner
from hub.api.devices import provisioner_of
from hub.api.pages import PageStaff, render
from hub.districts import index_in
from hub.roster import apply_roster, read_roster
from hub.roster_format import MAX_UPLOAD_BYTES, MSG_UPLOAD_TOO_LARGE, RosterReport
from hub.roster_provision import provision_roster

PENDING_TTL_S = 15 * 60  # time to read the preview and decide; then upload again
PENDING_MAX = 8  # uploads kept at once (each at most MAX_UPLOAD_BYTES)
MSG_EXPIRED = "올린 파일의 확인 시간이 지났거나 이미 적용했습니다. 파일을 다시 올려 주세요."
MSG_ADMIN_ONLY = "명단 적용은 관리자만 할 수 있습니다. 확인 결과를 관리자에게 전해 주세요."
MSG_NO_FILE = "명단 파일(CSV 또는 XLSX)을 골라 주세요."
_FORM_OVERHEAD = 64 * 1024  # the CSRF field, part headers and boundaries around the file


@dataclass(frozen=True)
class _Upload:
    owner: str
    filename: str
    data: bytes
    expires: float


class PendingUploads:
    """Uploaded rosters waiting for their "적용", in memory, each for one session, once."""

    def __init__(
        self,
        ttl_s: float = PENDING_TTL_S,
        limit: int = PENDING_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # A steady clock of this process, not the hub's: this is how long memory is held,
        # not a time in anyone's day.
        self._ttl, self._limit, self._clock = ttl_s, limit, clock
        self._held: dict[str, _Upload] = {}
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        for key in [k for k, held in self._held.items() if held.expires <= now]:
            del self._held[key]

    def keep(self, owner: str, filename: str, data: bytes) -> str:
        """Hold ``data`` for ``owner`` (a session subject); the token that takes it back."""
        now = self._clock()
        token = secrets.token_urlsafe(18)
        with self._lock:
            self._expire(now)
            while len(self._held) >= self._limit:  # the oldest goes first
                del self._held[min(self._held, key=lambda k: self._held[k].expires)]
            self._held[token] = _Upload(owner, filename, data, now + self._ttl)
        return token

    def take(self, owner: str, token: str) -> tuple[str, bytes] | None:
        """The file held under ``token`` for ``owner``, removed; None if gone or not theirs."""
        with self._lock:
            self._expire(self._clock())
            held = self._held.get(token)
            if held is None or not secrets.compare_digest(held.owner, owner):
                return None
            del self._held[token]
        return held.filename, held.data


def _declared_size(request: Request) -> None:
    """413 for a request that says it is larger than a roster may be (and the form around
    it), as ``POST /api/v1/roster`` refuses one, before its body is read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES + _FORM_OVERHEAD:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, MSG_UPLOAD_TOO_LARGE)


def _by_row(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda item: item["row"])


def roster_page_router(backend: Backend, run: Runner) -> APIRouter:
    """The view's routes, bound to ``backend``; ``run`` executes on the hub's writer."""
    router = APIRouter(include_in_schema=False)
    pending = PendingUploads()

    def owner_of(request: Request) -> str | None:
        session = sessions.session_of(request)
        return None if session is None else session.subject

    def check(data: bytes, filename: str) -> RosterReport:
        return read_roster(data, filename, index_in(backend.engine, backend.settings.sido))

    def upload_form(request: Request, who: Principal, error: str | None, code: int) -> HTMLResponse:
        return render(request, "roster.html", who, status_code=code, error=error)

    @router.get("/roster")
    def roster_page(request: Request, who: PageStaff) -> HTMLResponse:
        return upload_form(request, who, None, 200)

    def preview(request: Request, who: Principal, filename: str, data: bytes) -> HTMLResponse:
        report = check(data, filename)
        # The dry run only asks whether each resident exists; on the writer, as applying is.
        would = run(lambda now: apply_roster(report, backend.core, now, dry_run=True))
        owner = owner_of(request)
        token = None
        if who.role == "admin" and owner is not None and would["created"]:
            token = pending.keep(owner, filename, data)
        shown = report.as_dict()
        new = set(would["created_ids"])
        return render(
            request,
            "roster_preview.html",
            who,
            filename=filename,
            report=shown,
            errors=_by_row(shown["errors"]),
            warnings=_by_row(shown["warnings"]),
            adding=[r for r in shown["residents"] if r["id"] in new],
            existing=[r for r in shown["residents"] if r["id"] not in new],
            would=would,
            token=token,
            admin_only=MSG_ADMIN_ONLY if who.role != "admin" else None,
        )

    # The declared size is refused before anything is read (the gate reads the form for its
    # CSRF token): no File() parameter here, which FastAPI would read before any dependency.
    @router.post("/roster", dependencies=[Depends(_declared_size)])
    async def roster_preview(request: Request, who: PageStaff) -> HTMLResponse:
        file = (await request.form()).get("file")
        if not isinstance(file, UploadFile) or not file.filename:
            return upload_form(request, who, MSG_NO_FILE, 422)
        data = await file.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            return upload_form(request, who, MSG_UPLOAD_TOO_LARGE, 413)
        return await run_in_threadpool(preview, request, who, file.filename[-200:], data)

    @router.post("/roster/apply")
    def roster_apply(
        request: Request,
        who: PageStaff,
        upload: Annotated[str, Form(max_length=100)] = "",
    ) -> HTMLResponse:
        if who.role != "admin":
            return upload_form(request, who, MSG_ADMIN_ONLY, status.HTTP_403_FORBIDDEN)
        owner = owner_of(request)
        held = None if owner is None else pending.take(owner, upload)
        if held is None:
            return upload_form(request, who, MSG_EXPIRED, status.HTTP_410_GONE)
        filename, data = held
        # As POST /api/v1/roster?apply=true: read again, provisioning checked before anything
        # is registered, applied on the writer, then the broker off the writer thread.
        report = check(data, filename)
        try:
            provisioner = provisioner_of(backend)
        except HTTPException as refused:
            return upload_form(request, who, str(refused.detail), refused.status_code)
        applied = run(lambda now: apply_roster(report, backend.core, now))
        provisioning = (
            None
            if provisioner is None
            else provision_roster(applied["registered_devices"], provisioner)
        )
        return render(
            request,
            "roster_result.html",
            who,
            filename=filename,
            applied=applied,
            provisioning=provisioning,
            rejected=report.rejected,
        )

    return router
