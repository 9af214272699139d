"""Local stand-ins for the NHN Cloud, Solapi and Aligo SMS HTTP APIs.

Each is a real HTTP server (stdlib, threaded, on 127.0.0.1 and a free port) that checks
every request the way the provider's published documentation describes it (method,
path, content type, authentication, required fields and their form, SMS/LMS size rules)
and answers with the documented success or error body. Tests talk HTTP to them, so what
the adapters in ``hub.notify.providers`` put on the wire is what is checked; the
stand-in's validation *is* the assertion.

Where the real service is lenient and would quietly lose text (NHN and Aligo cut an SMS
over 90 bytes on the handset instead of refusing it), the stand-in refuses: an adapter
that would let an alert be truncated must fail its tests.

Controls: ``fail_next(n, status)``, ``hang_next(n)`` (no answer until ``release()`` or
``close()``), ``mark(provider_id, "failed")`` for receipts (accepted messages read as
delivered by default), ``accepted`` (what was taken), ``requests`` (every request seen),
``rejections`` (why requests were refused, for failing tests to print).

Documentation these follow is the same as ``hub/notify/providers/`` cites.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
from collections import deque
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, quote, urlsplit

Reply = tuple[int, Any]

HANG_LIMIT_S = 30.0


def _cp949_bytes(text: str) -> int | None:
    """EUC-KR/cp949 size, or ``None`` when the text holds characters it cannot carry."""
    try:
        return len(text.encode("cp949"))
    except UnicodeEncodeError:
        return None


def _is_phone(value: Any, max_len: int = 20) -> bool:
    return isinstance(value, str) and value.isdigit() and 8 <= len(value) <= max_len


class _StandIn:
    """The server, the failure controls and the bookkeeping shared by all three."""

    name = "standin"

    def __init__(self) -> None:
        self.accepted: list[dict[str, Any]] = []
        self.rejections: list[str] = []
        self.requests = 0
        self._lock = threading.Lock()
        self._failures: deque[int] = deque()
        self._hangs = 0
        self._release = threading.Event()
        self._receipts: dict[str, str] = {}
        self.undeliverable: set[str] = set()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                standin._serve(self)

            def do_POST(self) -> None:
                standin._serve(self)

            def do_PUT(self) -> None:
                standin._serve(self)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: pytest output is for failures."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll keeps close() (which waits for the loop to notice) fast.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    # -- controls ----------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        with self._lock:
            self._failures.extend([status] * n)

    def recover(self) -> None:
        """Forget queued failures: the provider's outage is over."""
        with self._lock:
            self._failures.clear()

    def hang_next(self, n: int = 1) -> None:
        with self._lock:
            self._hangs += n
            self._release.clear()

    def release(self) -> None:
        self._release.set()

    def undeliverable_to(self, number: str) -> None:
        """Receipts for messages to ``number`` (as the provider's request has it) say failed
        from the start, so no receipt poll can see them delivered first."""
        with self._lock:
            self.undeliverable.add(number)

    def mark(self, provider_id: str, state: str) -> None:
        """Set the delivery state a receipt reports: delivered, failed or pending."""
        if state not in ("delivered", "failed", "pending"):
            msg = f"unknown receipt state {state!r}"
            raise ValueError(msg)
        with self._lock:
            self._receipts[provider_id] = state

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _spec(self, user: str, secret: str, sender: str, timeout: float | None) -> str:
        query = f"sender={sender}&tls=no"
        if timeout is not None:
            query += f"&timeout={timeout:g}"
        creds = f"{quote(user, safe='')}:{quote(secret, safe='')}"
        return f"{self.name}://{creds}@127.0.0.1:{self.port}?{query}"

    # -- plumbing ----------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        with self._lock:
            self.requests += 1
            failure = self._failures.popleft() if self._failures else None
            hang = False
            if failure is None and self._hangs:
                self._hangs -= 1
                hang = True
        if hang:
            # Never answer: the client's read timeout is what ends this exchange.
            self._release.wait(HANG_LIMIT_S)
            return
        if failure is not None:
            status, body = failure, self._failure_body(failure)
        else:
            parts = urlsplit(handler.path)
            status, body = self.handle(handler.command, parts.path, parts.query, handler, raw)
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json;charset=UTF-8")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            pass  # the client gave up (timeout test); nothing to tell it

    def _reject(self, status: int, body: Any, why: str) -> Reply:
        with self._lock:
            self.rejections.append(why)
        return status, body

    def _accept(self, record: dict[str, Any]) -> None:
        with self._lock:
            self.accepted.append(record)
            state = "failed" if record.get("to") in self.undeliverable else "delivered"
            self._receipts.setdefault(record["provider_id"], state)

    def _receipt_state(self, provider_id: str) -> str | None:
        with self._lock:
            return self._receipts.get(provider_id)

    def handle(
        self, method: str, path: str, query: str, handler: BaseHTTPRequestHandler, raw: bytes
    ) -> Reply:
        raise NotImplementedError

    def _failure_body(self, status: int) -> Any:
        return {"error": status}


# ---------------------------------------------------------------------------------------


class NhnStandIn(_StandIn):
    """NHN Cloud SMS API v3.0 (docs.nhncloud.com/ko/Notification/SMS/ko/api-guide/)."""

    name = "nhn"
    SEND_FIELDS: ClassVar[set[str]] = {
        "templateId",
        "body",
        "sendNo",
        "requestDate",
        "senderGroupingKey",
        "recipientList",
        "userId",
        "statsId",
        "originCode",
    }
    RECIPIENT_FIELDS: ClassVar[set[str]] = {
        "recipientNo",
        "countryCode",
        "internationalRecipientNo",
        "templateParameter",
        "recipientGroupingKey",
    }

    def __init__(
        self,
        app_key: str = "nhnAppKey01",
        secret_key: str = "nhn-secret-9f8e7d",  # noqa: S107 - stand-in credentials
        sender: str = "0212345678",
    ) -> None:
        self.app_key = app_key
        self.secret_key = secret_key
        self.sender = sender
        super().__init__()

    def url_spec(
        self,
        app_key: str | None = None,
        secret_key: str | None = None,
        sender: str | None = None,
        timeout: float | None = 2.0,
    ) -> str:
        return self._spec(
            app_key or self.app_key, secret_key or self.secret_key, sender or self.sender, timeout
        )

    @staticmethod
    def _header(code: int, message: str) -> dict[str, Any]:
        return {"header": {"isSuccessful": code == 0, "resultCode": code, "resultMessage": message}}

    def _failure_body(self, status: int) -> Any:
        return self._header(-9999, "System error. Please inquire at support@toast.com.")

    def _error(self, code: int, message: str, why: str, status: int = 200) -> Reply:
        return self._reject(status, self._header(code, message), why)

    def handle(  # noqa: PLR0911 - one return per documented rule
        self, method: str, path: str, query: str, handler: BaseHTTPRequestHandler, raw: bytes
    ) -> Reply:
        match = re.fullmatch(r"/sms/v3\.0/appKeys/([^/]+)/sender/(sms|mms)(?:/([^/]+))?", path)
        if match is None:
            return self._error(-9998, "Not exist API.", f"unknown path {path}", 404)
        app_key, kind, request_id = match.groups()
        if app_key != self.app_key:
            return self._error(-1000, "Invalid appKey.", "wrong appKey in path")
        # The docs give X-Secret-Key as required but not the status for a wrong one;
        # 401 is the stand-in's choice.
        if handler.headers.get("X-Secret-Key") != self.secret_key:
            return self._error(-1000, "Invalid secret key.", "wrong X-Secret-Key", 401)
        if method == "GET" and request_id is not None:
            return self._lookup(kind, request_id, query)
        if method != "POST" or request_id is not None:
            return self._error(-9998, "Not exist API.", f"{method} {path}", 405)
        content_type = handler.headers.get("Content-Type", "")
        if not content_type.startswith("application/json"):
            return self._error(
                -9996, "Only application/json Content-type is supported.", "content type"
            )
        if "charset" in content_type and "charset=utf-8" not in content_type.lower():
            return self._error(-9996, "Only UTF-8 is supported.", "charset")
        try:
            payload = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return self._error(-9997, "Invalid API parameters.", "body is not JSON")
        if not isinstance(payload, dict):
            return self._error(-9997, "Invalid API parameters.", "body is not an object")
        return self._send(kind, payload)

    def _send(self, kind: str, payload: dict[str, Any]) -> Reply:  # noqa: PLR0911 - one per rule
        allowed = self.SEND_FIELDS | ({"title", "attachFileIdList"} if kind == "mms" else set())
        unknown = set(payload) - allowed
        if unknown:
            return self._error(-9997, "Invalid API parameters.", f"unknown fields {unknown}")
        body, title = payload.get("body"), payload.get("title")
        if not isinstance(body, str) or not body:
            return self._error(-2014, "The recipient can not be empty.", "body missing")
        if kind == "mms" and (not isinstance(title, str) or not title):
            return self._error(-2014, "The recipient can not be empty.", "title missing")
        size = _cp949_bytes(body)
        title_size = _cp949_bytes(title) if isinstance(title, str) else 0
        if size is None or title_size is None:
            return self._error(
                -2023, "Unacceptable characters in title and body.", "non-EUC-KR text"
            )
        # Real limits are 255 characters (SMS) and 120/4000 (MMS) with the handset copy cut
        # to 90 / 40 / 2000 bytes; the stand-in refuses instead of cutting.
        if (kind == "sms" and size > 90) or (kind == "mms" and (size > 2000 or title_size > 40)):
            return self._error(
                -2015, "Title or Body exceed maximum byte.", f"{kind} over byte limit ({size})"
            )
        if payload.get("sendNo") != self.sender:
            return self._error(-2312, "Not regist sendno.", "sendNo is not the registered sender")
        recipients = payload.get("recipientList")
        if not isinstance(recipients, list) or not recipients:
            return self._error(-2001, "RecipientList can not be null.", "recipientList empty")
        if len(recipients) > 1000:
            return self._error(-2016, "The max recipient size is 1000.", "too many recipients")
        for entry in recipients:
            if not isinstance(entry, dict) or set(entry) - self.RECIPIENT_FIELDS:
                return self._error(-9997, "Invalid API parameters.", "bad recipient entry")
            if not _is_phone(entry.get("recipientNo")):
                return self._error(-2019, "RecipientNo is invalid.", "recipientNo not digits")
        request_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(6)[:11]
        results = []
        for seq, entry in enumerate(recipients, start=1):
            provider_id = f"{kind}:{request_id}:{seq}"
            self._accept(
                {
                    "provider_id": provider_id,
                    "kind": "SMS" if kind == "sms" else "LMS",
                    "to": entry["recipientNo"],
                    "from": payload["sendNo"],
                    "body": body,
                    "subject": title,
                    "body_bytes": size,
                    "grouping_key": payload.get("senderGroupingKey"),
                }
            )
            results.append(
                {
                    "recipientNo": entry["recipientNo"],
                    "resultCode": 0,
                    "resultMessage": "SUCCESS",
                    "recipientSeq": seq,
                    "recipientGroupingKey": entry.get("recipientGroupingKey"),
                }
            )
        return 200, {
            **self._header(0, "SUCCESS"),
            "body": {
                "data": {
                    "requestId": request_id,
                    "statusCode": "2",
                    "senderGroupingKey": payload.get("senderGroupingKey"),
                    "sendResultList": results,
                }
            },
        }

    def _lookup(self, kind: str, request_id: str, query: str) -> Reply:
        seq = parse_qs(query).get("recipientSeq", [""])[0]
        if not seq.isdigit():
            return self._error(
                -2012, "Search parameter is invalid.(requestId and mtPr).", "no recipientSeq"
            )
        state = self._receipt_state(f"{kind}:{request_id}:{seq}")
        if state is None:
            return self._error(-2008, "Invalid requestId.", "unknown requestId")
        status, code, name = {
            "delivered": ("3", "1000", "성공"),
            "failed": ("0", "3001", "실패"),
            "pending": ("2", "", "처리 중"),
        }[state]
        data = {
            "requestId": request_id,
            "recipientSeq": int(seq),
            "msgStatus": status,
            "msgStatusName": name,
            "resultCode": code,
            "messageType": "SMS" if kind == "sms" else "LMS",
        }
        return 200, {**self._header(0, "SUCCESS"), "body": {"data": data}}


# ---------------------------------------------------------------------------------------


class SolapiStandIn(_StandIn):
    """Solapi messages v4 (docs.solapi.com api-reference, HMAC-SHA256 API key auth)."""

    name = "solapi"
    MESSAGE_FIELDS: ClassVar[set[str]] = {
        "to",
        "from",
        "text",
        "type",
        "country",
        "subject",
        "imageId",
        "kakaoOptions",
        "customFields",
        "autoTypeDetect",
    }
    AUTH = re.compile(
        r"HMAC-SHA256 apiKey=([^,\s]+), date=([^,\s]+), salt=([^,\s]+), signature=([0-9a-f]{64})"
    )

    def __init__(
        self,
        api_key: str = "NCSAYU7YDBXYORXC",
        api_secret: str = "solapi-secret-5c4b3a",  # noqa: S107 - stand-in credentials
        sender: str = "0212345678",
    ) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.sender = sender
        self._signatures: dict[str, datetime] = {}
        super().__init__()

    def url_spec(
        self,
        api_key: str | None = None,
        api_secret: str | None = None,
        sender: str | None = None,
        timeout: float | None = 2.0,
    ) -> str:
        return self._spec(
            api_key or self.api_key, api_secret or self.api_secret, sender or self.sender, timeout
        )

    def _failure_body(self, status: int) -> Any:
        return {"errorCode": "InternalError", "errorMessage": "일시적인 오류"}

    def _error(self, status: int, code: str, message: str, why: str) -> Reply:
        return self._reject(status, {"errorCode": code, "errorMessage": message}, why)

    def _authenticate(self, header: str) -> Reply | None:  # noqa: PLR0911 - one per rule
        match = self.AUTH.fullmatch(header.strip())
        if match is None:
            return self._error(401, "InvalidAuthorization", "형식 오류", "malformed Authorization")
        api_key, date, salt, signature = match.groups()
        if api_key != self.api_key:
            return self._error(401, "InvalidAPIKey", "API Key 오류", "wrong apiKey")
        try:
            when = datetime.strptime(date, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return self._error(401, "InvalidDate", "ISO 8601 형식이 아닙니다", "date not ISO 8601")
        now = datetime.now(UTC)
        if abs(now - when) > timedelta(minutes=15):
            return self._error(401, "RequestTimeTooSkewed", "시간 차이", "date skewed > 15 min")
        if not 12 <= len(salt.encode("utf-8")) <= 64:
            return self._error(401, "InvalidSalt", "salt 길이", "salt not 12-64 bytes")
        expected = hmac.new(
            self.api_secret.encode("utf-8"), (date + salt).encode("utf-8"), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return self._error(401, "SignatureDoesNotMatch", "서명 불일치", "bad signature")
        with self._lock:
            self._signatures = {
                s: t for s, t in self._signatures.items() if now - t < timedelta(minutes=15)
            }
            reused = signature in self._signatures
            self._signatures[signature] = now
        if reused:
            return self._error(401, "DuplicatedSignature", "서명 재사용", "signature reused")
        return None

    def handle(  # noqa: PLR0911 - one return per documented rule
        self, method: str, path: str, query: str, handler: BaseHTTPRequestHandler, raw: bytes
    ) -> Reply:
        route = (method, path)
        if route not in (("POST", "/messages/v4/send"), ("GET", "/messages/v4/list")):
            return self._error(404, "NotFound", "없는 API", f"{method} {path}")
        denied = self._authenticate(handler.headers.get("Authorization", ""))
        if denied is not None:
            return denied
        if method == "GET":
            return self._lookup(query)
        if not handler.headers.get("Content-Type", "").startswith("application/json"):
            return self._error(400, "ValidationError", "JSON 이 아닙니다", "content type")
        try:
            payload = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return self._error(400, "ValidationError", "JSON 형식 오류", "body is not JSON")
        if not isinstance(payload, dict) or set(payload) - {"message", "agent"}:
            return self._error(400, "ValidationError", "message 필요", "bad top-level fields")
        message = payload.get("message")
        if not isinstance(message, dict):
            return self._error(400, "ValidationError", "message 필요", "message missing")
        return self._send(message)

    def _send(self, message: dict[str, Any]) -> Reply:  # noqa: PLR0911 - one per rule
        unknown = set(message) - self.MESSAGE_FIELDS
        if unknown:
            return self._error(400, "ValidationError", "알 수 없는 필드", f"unknown {unknown}")
        to, sender, text = message.get("to"), message.get("from"), message.get("text")
        kind, subject = message.get("type"), message.get("subject")
        if not _is_phone(to) or not _is_phone(sender):
            return self._error(400, "ValidationError", "전화번호 형식", "to/from not digits")
        if sender != self.sender:
            return self._error(400, "InvalidStatusCode", "발신번호 미등록", "from not registered")
        if not isinstance(text, str) or not text:
            return self._error(400, "ValidationError", "text 필요", "text missing")
        if kind not in ("SMS", "LMS"):
            return self._error(400, "ValidationError", "type 오류", f"type {kind!r}")
        size = _cp949_bytes(text)
        subject_size = _cp949_bytes(subject) if isinstance(subject, str) else 0
        if size is None or subject_size is None:
            return self._error(400, "ValidationError", "지원하지 않는 문자", "non-EUC-KR text")
        if kind == "SMS" and (size > 90 or subject is not None):
            return self._error(400, "ValidationError", "SMS 길이", "SMS over 90 bytes/subject")
        if kind == "LMS" and (
            size > 2000 or not isinstance(subject, str) or not subject or subject_size > 40
        ):
            return self._error(400, "ValidationError", "LMS 길이/제목", "LMS size or subject")
        message_id = "M4V" + datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(8)
        group_id = "G4V" + datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(8)
        self._accept(
            {
                "provider_id": message_id,
                "kind": kind,
                "to": to,
                "from": sender,
                "body": text,
                "subject": subject,
                "body_bytes": size,
                "custom_fields": message.get("customFields"),
            }
        )
        return 200, {
            "groupId": group_id,
            "to": to,
            "from": sender,
            "type": kind,
            "statusMessage": "정상 접수(이통사로 접수 예정) ",
            "country": "82",
            "messageId": message_id,
            "statusCode": "2000",
            "accountId": "12925149",
        }

    def _lookup(self, query: str) -> Reply:
        params = {k: v[0] for k, v in parse_qs(query).items()}
        if params.get("criteria") != "messageId" or params.get("cond") != "eq":
            return self._error(400, "ValidationError", "검색 조건", "criteria/cond")
        message_id = params.get("value", "")
        state = self._receipt_state(message_id)
        listing: dict[str, Any] = {}
        if state is not None:
            code = {"delivered": "4000", "failed": "3059", "pending": "3000"}[state]
            listing[message_id] = {"messageId": message_id, "statusCode": code}
        return 200, {"startKey": None, "limit": 20, "messageList": listing}


# ---------------------------------------------------------------------------------------


class AligoStandIn(_StandIn):
    """Aligo SMS API (smartsms.aligo.in/admin/api/spec.html)."""

    name = "aligo"
    SEND_FIELDS: ClassVar[set[str]] = {
        "key",
        "user_id",
        "sender",
        "receiver",
        "msg",
        "msg_type",
        "title",
        "destination",
        "rdate",
        "rtime",
        "testmode_yn",
    }

    def __init__(
        self,
        user_id: str = "anbu-ops",
        api_key: str = "aligo-key-1a2b3c",
        sender: str = "0212345678",
    ) -> None:
        self.user_id = user_id
        self.api_key = api_key
        self.sender = sender
        self._next_id = 700000000
        super().__init__()

    def url_spec(
        self,
        user_id: str | None = None,
        api_key: str | None = None,
        sender: str | None = None,
        timeout: float | None = 2.0,
    ) -> str:
        return self._spec(
            user_id or self.user_id, api_key or self.api_key, sender or self.sender, timeout
        )

    def _failure_body(self, status: int) -> Any:
        return {"result_code": "-99", "message": "server error"}

    def _error(self, code: int, message: str, why: str, status: int = 200) -> Reply:
        # Aligo reports errors in the body with HTTP 200 and a negative result_code.
        return self._reject(status, {"result_code": str(code), "message": message}, why)

    def handle(
        self, method: str, path: str, query: str, handler: BaseHTTPRequestHandler, raw: bytes
    ) -> Reply:
        if method != "POST" or path not in ("/send/", "/sms_list/"):
            return self._error(-999, "not found", f"{method} {path}", 404)
        if handler.headers.get("Content-Type", "").split(";")[0] != (
            "application/x-www-form-urlencoded"
        ):
            return self._error(-100, "form encoding required", "content type")
        try:
            fields = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            return self._error(-100, "bad form", "form not UTF-8 urlencoded")
        if any(len(values) != 1 for values in fields.values()):
            return self._error(-100, "duplicate field", "repeated form field")
        form = {k: v[0] for k, v in fields.items()}
        if path == "/sms_list/":
            return self._lookup(form)
        return self._send(form)

    def _send(self, form: dict[str, str]) -> Reply:  # noqa: PLR0911 - one per rule
        unknown = set(form) - self.SEND_FIELDS
        if unknown:
            return self._error(-100, "unknown field", f"unknown {unknown}")
        # The code for a bad key/user is not in the spec page seen; -101 is the stand-in's.
        if form.get("key") != self.api_key or form.get("user_id") != self.user_id:
            return self._error(-101, "인증오류입니다.", "wrong key or user_id")
        if form.get("sender") != self.sender:
            return self._error(-109, "발신번호 미등록", "sender not registered")
        receiver, msg = form.get("receiver", ""), form.get("msg", "")
        if not _is_phone(receiver, 16):
            return self._error(-105, "수신번호 오류", "receiver not one number of digits")
        kind, title = form.get("msg_type"), form.get("title")
        size = _cp949_bytes(msg)
        title_size = _cp949_bytes(title) if title is not None else 0
        if size is None or title_size is None:
            return self._error(-106, "지원하지 않는 문자", "non-EUC-KR text")
        if not 1 <= size <= 2000:
            return self._error(-106, "메시지 길이 오류", f"msg {size} bytes")
        if kind not in ("SMS", "LMS"):
            return self._error(-106, "msg_type 오류", f"msg_type {kind!r}")
        if kind == "SMS" and (size > 90 or title is not None):
            return self._error(-106, "SMS 길이 초과", "SMS over 90 bytes or with title")
        if kind == "LMS" and (title is None or not 1 <= title_size <= 44):
            return self._error(-106, "제목 오류", "LMS title missing or over 44 bytes")
        with self._lock:
            self._next_id += 1
            msg_id = str(self._next_id)
        self._accept(
            {
                "provider_id": msg_id,
                "kind": kind,
                "to": receiver,
                "from": form["sender"],
                "body": msg,
                "subject": title,
                "body_bytes": size,
                "testmode": form.get("testmode_yn"),
            }
        )
        return 200, {
            "result_code": "1",
            "message": "success",
            "msg_id": msg_id,
            "success_cnt": 1,
            "error_cnt": 0,
            "msg_type": kind,
        }

    def _lookup(self, form: dict[str, str]) -> Reply:
        if set(form) - {"key", "userid", "mid", "page", "page_size"}:
            return self._error(-100, "unknown field", "unknown sms_list field")
        if form.get("key") != self.api_key or form.get("userid") != self.user_id:
            return self._error(-101, "인증오류입니다.", "wrong key or userid")
        mid = form.get("mid", "")
        state = self._receipt_state(mid)
        if state is None:
            return 200, {"result_code": 1, "message": "success", "list": [], "next_yn": "N"}
        record = next(r for r in self.accepted if r["provider_id"] == mid)
        sms_state = {"delivered": "발송완료", "failed": "발송실패", "pending": "전송중"}[state]
        row = {
            "mdid": mid,
            "type": record["kind"],
            "sender": record["from"],
            "receiver": record["to"],
            "sms_state": sms_state,
            "reg_date": "2024-01-01 09:00:00",
            "send_date": "2024-01-01 09:00:01",
            "reserve_date": "",
        }
        return 200, {"result_code": 1, "message": "success", "list": [row], "next_yn": "N"}
