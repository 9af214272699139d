"""The error answers in the hub's OpenAPI document.

Owns :func:`document_errors`: every error a route can answer goes into the document, so
clients (and schemathesis) know them; which ones depends on how the route is reached.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

_ERRORS: dict[int, str] = {
    400: "요청 본문을 읽을 수 없습니다 (not decodable as JSON text)",
    401: "인증이 필요합니다 (no bearer token)",
    403: "권한이 없거나 알 수 없는 토큰·링크입니다",
    404: "없거나 볼 수 없는 대상입니다",
    409: "이미 처리된 상태와 충돌합니다",
    410: "링크가 만료되었습니다",
    413: "요청 본문이 너무 큽니다",
    422: "입력값이 올바르지 않습니다",
}


def document_errors(app: FastAPI) -> None:
    """Make ``app``'s OpenAPI document list each route's error answers (built lazily, so
    routes included after this call are covered too)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = build()
        spec.setdefault("components", {}).setdefault("schemas", {})["Error"] = {
            "type": "object",
            "properties": {
                "detail": {
                    "description": "Why, in Korean; field errors come as a list",
                    "anyOf": [{"type": "string"}, {"type": "array", "items": {}}],
                }
            },
            "required": ["detail"],
        }
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        for path, operations in spec.get("paths", {}).items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                for code in sorted(_error_codes(path, method.upper())):
                    # Replaces FastAPI's default 422 too: ours may carry a plain message.
                    described = _ERRORS.get(code, "허브가 준비되지 않았습니다")
                    responses[str(code)] = {"description": described, "content": error}
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def _error_codes(path: str, method: str) -> set[int]:
    if path == "/health":
        return {503}
    if path == "/metrics":
        return set()
    codes = {404, 422}
    links = "/links/" in path
    if links:
        codes |= {403, 409, 410}
    elif path == "/api/v1/sms/replies":
        codes |= {401, 409}
    else:
        codes |= {401, 403}
    if method in {"POST", "PATCH"}:
        # 400: a body that is not text (FastAPI: "There was an error parsing the body").
        codes |= {400, 409}
    if path == "/api/v1/roster":
        codes.add(413)
    return codes
