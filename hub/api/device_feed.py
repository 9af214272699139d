"""``POST /api/v1/devices/feed``: a phone without an agent posts its feed events to the hub.

An automation app (MacroDroid, Tasker, iOS Shortcuts; ``deploy/phone/``) sends the events of
``edge/FEED.md`` — one JSON object, or an array of up to 100 — with the phone's own feed
token (``anbu devices feed-token issue``) as ``Authorization: Bearer …``. The token alone
says which resident's which phone it is; it is the device's credential, not a staff member's,
and opens nothing else. :class:`hub.phone_feed.PhoneFeeds` turns the events into protocol
events and ingests them on the ingest worker's thread, as MQTT batches are.

Answers: ``200 {"results":[{"outcome":"accepted"|"duplicate"|"ignored",…}]}`` once they are
stored; ``400 {"detail": reason, …}`` for bad input (kept as a dead letter); ``401`` without a
token; ``403`` for a token the hub never issued or has revoked; ``413`` for a body over
64 KiB; ``503`` when the database cannot store them now (retry). Neither the token nor the
body is ever logged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hub.api.backend import Backend
from hub.phone_feed import FeedAnswer, PhoneFeeds
from hub.store.db import reading
from hub.store.errors import UNREACHABLE
from hub.store.feed_tokens import FeedDevice, device_of_token

__all__ = ["FEED_PATH", "bounded_body", "device_feed_router"]

FEED_PATH = "/api/v1/devices/feed"
_MAX_BODY = 64 * 1024
_SCHEME = "bearer"
# The worker's call gives up after 15 s (a long outage): as the database away, a 503.
_RETRY: tuple[type[Exception], ...] = (*UNREACHABLE, TimeoutError)

_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "description": "edge/FEED.md의 휴대전화 이벤트 하나, 또는 100개까지의 배열",
                "anyOf": [
                    {"type": "object"},
                    {"type": "array", "items": {"type": "object"}, "maxItems": 100},
                ],
            },
            "example": {"type": "screen_unlock", "id": "md-1733131200123"},
        }
    },
}


def _presented(request: Request) -> str:
    """The bearer token of the request; 401 when there is none."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != _SCHEME or not token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "휴대전화 피드 토큰이 필요합니다 (Authorization: Bearer <device feed token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token


def _device(backend: Backend, token: str) -> FeedDevice:
    """The phone the token was issued to; 403 for an unknown or revoked token."""
    try:
        with reading(backend.engine) as conn:
            found = device_of_token(conn, token)
    except UNREACHABLE as error:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "허브 데이터베이스에 연결할 수 없습니다; 다시 보내 주세요",
        ) from error
    # Looked up by its SHA-256: the token itself is never stored, compared or logged.
    if found is None or found.revoked:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "알 수 없거나 폐기된 휴대전화 피드 토큰입니다"
        )
    return found


async def bounded_body(request: Request) -> bytes:
    """The body, read no further than the limit: a chunked upload declares no length, and
    reading it whole first would let one sender fill the memory of the hub that watches
    everyone."""
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > _MAX_BODY:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "본문은 64 KiB까지입니다")
        parts.append(chunk)
    return b"".join(parts)


def device_feed_router(backend: Backend) -> APIRouter:
    router = APIRouter(tags=["devices"])
    feeds = PhoneFeeds(backend.engine, backend.core)

    @router.post(
        FEED_PATH,
        summary="휴대전화 피드 이벤트 (에이전트 없는 전화: MacroDroid, 단축어)",
        openapi_extra={"requestBody": _REQUEST_BODY},
        responses={
            200: {"description": "저장됨: 이벤트마다 accepted, duplicate, ignored"},
            503: {"description": "지금 저장할 수 없습니다; 다시 보내 주세요"},
        },
    )
    async def feed(request: Request) -> JSONResponse:
        token = _presented(request)
        phone = await run_in_threadpool(_device, backend, token)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > _MAX_BODY:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "본문은 64 KiB까지입니다")
        body = await bounded_body(request)

        def take(now: datetime) -> FeedAnswer:
            return feeds.take(phone.resident_id, phone.device_id, body, now)

        try:
            answer = await run_in_threadpool(backend.call, take)
        except _RETRY as error:
            # Nothing was acknowledged: the sender may send the same events again.
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, "지금 저장할 수 없습니다; 다시 보내 주세요"
            ) from error
        return JSONResponse(answer.body, status_code=answer.status)

    return router
