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
delivered by default), ``report(provider_id, *raw)`` (a receipt carrying the provider's
raw status values), ``accepted`` (what was taken), ``requests`` and ``seen`` (every
request: how many; method, path and headers), ``rejections`` (why requests were refused,
for failing tests to print).

Documentation these follow is the same as ``hub/notify/providers/`` cites, each module
naming the version or date checked; the Solapi stand-in also takes what the official
``solapi`` SDK sends (tests/hub/test_solapi_sdk.py sends through it).
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
        # (method, path, headers) of every request, in order.
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self._lock = threading.Lock()
        self._failures: deque[int] = deque()
        self._hangs = 0
        self._release = threading.Event()
        self._receipts: dict[str, str] = {}
        self._raw: dict[str, tuple[str, ...]] = {}
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

    def report(self, provider_id: str, *raw: str) -> None:
        """Make the receipt answer carry these raw provider values instead of a state's
        usual ones (NHN: ``msgStatus`` and ``resultCode``; Aligo: ``sms_state``)."""
        with self._lock:
            self._raw[provider_id] = raw

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
            self.seen.append((handler.command, urlsplit(handler.path).path, dict(handler.headers)))
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

    def _raw_report(self, provider_id: str) -> tuple[str, ...] | None:
        with self._lock:
            return self._raw.get(provider_id)

    def handle(
        self, method: str, path: str, query: str, handler: BaseHTTPRequestHandler, raw: bytes
    ) -> Reply:
        raise NotImplementedError

    def _failure_body(self, status: int) -> Any:
        return {"error": status}


# ---------------------------------------------------------------------------------------


class NhnStandIn(_StandIn):
    """NHN Cloud SMS API v3.0 (docs.nhncloud.com/ko/Notification/SMS/ko/api-guide/; the
    real host is sms.api.nhncloudservice.com)."""

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
    # The v3.0 guide's msgStatus list (발송 목록 검색).
    MSG_STATUS_NAMES: ClassVar[dict[str, str]] = {
        "0": "실패",
        "1": "요청",
        "2": "처리 중",
        "3": "성공",
        "4": "예약취소",
        "5": "중복실패",
        "6": "실패(광고 제한)",
        "7": "재발송 대기(광고 제한)",
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
        # useConversion is in the SMS request table only; title/attachFileIdList in MMS's.
        extra = {"title", "attachFileIdList"} if kind == "mms" else {"useConversion"}
        allowed = self.SEND_FIELDS | extra
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
        raw = self._raw_report(f"{kind}:{request_id}:{seq}")
        if raw is not None:
            status, code = raw[0], (raw[1] if len(raw) > 1 else "")
            name = self.MSG_STATUS_NAMES.get(status, "")
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
    """Solapi messages v4, as documented and as the official ``solapi`` SDK (5.0.3) speaks it.

    Routes: ``POST /messages/v4/send`` (one ``message``, the older docs' single send),
    ``POST /messages/v4/send-many/detail`` (``messages``; what the SDK and the current docs
    use), ``GET /messages/v4/list`` (documented) and ``GET /messages/v4/list-old`` (the
    SDK's ``get_messages``). Authentication as "API Key 인증 방식": ``HMAC-SHA256`` or
    ``HMAC-MD5``, the four parameters by name in any letter case (the docs write
    ``apiKey=``/``date=``, the SDK ``ApiKey=``/``Date=``), ``date`` any ISO 8601 time with an
    offset (the SDK sends local time with microseconds), salt 12–64 bytes, ±15 minutes,
    no signature twice; the documented 403 for each refusal.
    """

    name = "solapi"
    ROUTES: ClassVar[set[tuple[str, str]]] = {
        ("POST", "/messages/v4/send"),
        ("POST", "/messages/v4/send-many/detail"),
        ("GET", "/messages/v4/list"),
        ("GET", "/messages/v4/list-old"),
    }
    # Body / message in the docs, plus what the SDK's Message model can carry.
    MESSAGE_FIELDS: ClassVar[set[str]] = {
        "to",
        "from",
        "text",
        "type",
        "country",
        "subject",
        "imageId",
        "kakaoOptions",
        "naverOptions",
        "rcsOptions",
        "faxOptions",
        "voiceOptions",
        "customFields",
        "autoTypeDetect",
        "replacements",
        "messageId",
        "groupId",
    }
    SEND_FIELDS: ClassVar[set[str]] = {"message", "strict", "agent", "allowDuplicates"}
    SEND_MANY_FIELDS: ClassVar[set[str]] = {
        "messages",
        "strict",
        "agent",
        "allowDuplicates",
        "scheduledDate",
        "showMessageList",
        "appId",
    }
    LIST_PARAMS: ClassVar[set[str]] = {
        "criteria",
        "cond",
        "value",
        "startKey",
        "limit",
        "dateType",
        "startDate",
        "endDate",
        "messageId",
        "messageIds",
        "groupId",
        "to",
        "from",
        "type",
        "statusCode",
    }
    DIGESTS: ClassVar[dict[str, Any]] = {"HMAC-SHA256": hashlib.sha256, "HMAC-MD5": hashlib.md5}
    ACCOUNT = "12925149"

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

    def _denied(self, code: str, message: str, why: str) -> Reply:
        # The docs give 403 for InvalidAPIKey, SignatureDoesNotMatch, RequestTimeTooSkewed
        # and DuplicatedSignature; a header that cannot be read gets the same.
        return self._error(403, code, message, why)

    def _authenticate(self, header: str) -> Reply | None:  # noqa: PLR0911 - one per rule
        method, _, rest = header.strip().partition(" ")
        digest = self.DIGESTS.get(method)
        params: dict[str, str] = {}
        for part in rest.split(","):
            key, sep, value = part.strip().partition("=")
            if not sep or not value or key.lower() in params:
                params = {}
                break
            params[key.lower()] = value
        if digest is None or set(params) != {"apikey", "date", "salt", "signature"}:
            return self._denied("InvalidAuthorization", "형식 오류", "malformed Authorization")
        if params["apikey"] != self.api_key:
            return self._denied("InvalidAPIKey", "API Key 오류", "wrong apiKey")
        date, salt, signature = params["date"], params["salt"], params["signature"]
        try:
            when = datetime.fromisoformat(date)
        except ValueError:
            return self._denied("InvalidDate", "ISO 8601 형식이 아닙니다", "date not ISO 8601")
        if when.tzinfo is None:
            return self._denied("InvalidDate", "시간대가 없습니다", "date without an offset")
        now = datetime.now(UTC)
        if abs(now - when) > timedelta(minutes=15):
            return self._denied("RequestTimeTooSkewed", "시간 차이", "date skewed > 15 min")
        if not 12 <= len(salt.encode("utf-8")) <= 64:
            return self._denied("InvalidSalt", "salt 길이", "salt not 12-64 bytes")
        expected = hmac.new(
            self.api_secret.encode("utf-8"), (date + salt).encode("utf-8"), digest
        ).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return self._denied("SignatureDoesNotMatch", "서명 불일치", "bad signature")
        with self._lock:
            self._signatures = {
                s: t for s, t in self._signatures.items() if now - t < timedelta(minutes=15)
            }
            reused = signature in self._signatures
            self._signatures[signature] = now
        if reused:
            return self._denied("DuplicatedSignature", "서명 재사용", "signature reused")
        return None

    def handle(  # noqa: PLR0911 - one return per documented rule
        self, method: str, path: str, query: str, handler: BaseHTTPRequestHandler, raw: bytes
    ) -> Reply:
        if (method, path) not in self.ROUTES:
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
        if not isinstance(payload, dict):
            return self._error(400, "ValidationError", "객체가 아닙니다", "body not an object")
        if path == "/messages/v4/send":
            return self._send_one(payload)
        return self._send_many(payload)

    def _send_one(self, payload: dict[str, Any]) -> Reply:
        message = payload.get("message")
        if set(payload) - self.SEND_FIELDS or not isinstance(message, dict):
            return self._error(400, "ValidationError", "message 필요", "bad top-level fields")
        if set(message) - self.MESSAGE_FIELDS:
            unknown = set(message) - self.MESSAGE_FIELDS
            return self._error(400, "ValidationError", "알 수 없는 필드", f"unknown {unknown}")
        group_id = self._new_id("G4V")
        checked = self._check(message)
        if isinstance(checked, tuple):
            code, wording = checked
            return self._error(400, "ValidationError", wording, f"status {code}: {wording}")
        record = self._register(checked, group_id)
        return 200, {
            "groupId": group_id,
            "to": record["to"],
            "from": record["from"],
            "type": record["kind"],
            "statusMessage": "정상 접수(이통사로 접수 예정) ",
            "country": "82",
            "messageId": record["provider_id"],
            "statusCode": "2000",
            "accountId": self.ACCOUNT,
        }

    def _send_many(self, payload: dict[str, Any]) -> Reply:
        messages = payload.get("messages")
        if set(payload) - self.SEND_MANY_FIELDS or not isinstance(messages, list) or not messages:
            return self._error(400, "ValidationError", "messages 필요", "bad top-level fields")
        if not all(isinstance(m, dict) for m in messages):
            return self._error(400, "ValidationError", "messages 형식", "message not an object")
        unknown = set().union(*(set(m) for m in messages)) - self.MESSAGE_FIELDS
        if unknown:
            return self._error(400, "ValidationError", "알 수 없는 필드", f"unknown {unknown}")
        group_id = self._new_id("G4V")
        registered: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for message in messages:
            checked = self._check(message)
            if isinstance(checked, tuple):
                code, wording = checked
                self._reject(200, None, f"status {code}: {wording}")
                failed.append(
                    {
                        "to": message.get("to"),
                        "from": message.get("from"),
                        "type": message.get("type") or "SMS",
                        "country": "82",
                        "messageId": self._new_id("M4V"),
                        "statusCode": code,
                        "statusMessage": wording,
                        "accountId": self.ACCOUNT,
                        "customFields": message.get("customFields"),
                    }
                )
                continue
            record = self._register(checked, group_id)
            registered.append(
                {
                    "messageId": record["provider_id"],
                    "statusCode": "2000",
                    "statusMessage": "정상 접수(이통사로 접수 예정) ",
                    "customFields": record["custom_fields"],
                }
            )
        return 200, {
            "failedMessageList": failed,
            "groupInfo": self._group_info(group_id, len(registered), len(failed)),
            "messageList": registered,
        }

    def _check(self, message: dict[str, Any]) -> dict[str, Any] | tuple[str, str]:  # noqa: PLR0911
        """The message as registered, or the documented status code and wording refusing it
        ("메시지 상태 코드")."""
        to, sender, text = message.get("to"), message.get("from"), message.get("text")
        kind, subject = message.get("type"), message.get("subject")
        if to in (None, "") or sender in (None, "") or text in (None, ""):
            return "1010", "필수 입력 값 미입력"
        if not _is_phone(to) or not _is_phone(sender) or message.get("country", "82") != "82":
            return "1011", "Format Error"
        if not isinstance(text, str) or (subject is not None and not isinstance(subject, str)):
            return "1011", "Format Error"
        size = _cp949_bytes(text)
        subject_size = _cp949_bytes(subject) if isinstance(subject, str) else 0
        if size is None or subject_size is None:
            return (
                "1029",
                "문자메시지의 경우 EUC-KR(완성형 한글) 범위 안에 있는 문자만 사용 합니다.",
            )
        if kind is None and message.get("autoTypeDetect", True) is True:
            # Auto-detect: over 90 bytes, or a subject, makes it LMS.
            kind = "LMS" if size > 90 or subject is not None else "SMS"
        if kind not in ("SMS", "LMS"):
            return "1025", "잘못된 메시지 타입"
        if kind == "SMS" and subject is not None:
            return "1013", "제목은 문자 타입이 'SMS'일 경우 사용이 불가능합니다."
        if subject_size > 40:
            return "1014", "제목은 40byte까지 사용 가능합니다."
        if (kind == "SMS" and size > 90) or size > 2000:
            return "1031", "SMS는 90byte LMS, MMS는 2000byte 까지 사용 가능 합니다."
        custom = message.get("customFields")
        if custom is not None and not (
            isinstance(custom, dict)
            and all(
                isinstance(k, str) and isinstance(v, str) and len(k) <= 30 and len(v) <= 100
                for k, v in custom.items()
            )
        ):
            return "1032", "유효한 커스텀 필드 값이 아닙니다."
        if sender != self.sender:
            return "1062", "발신번호 미등록"
        return {
            "kind": kind,
            "to": to,
            "from": sender,
            "body": text,
            "subject": subject,
            "body_bytes": size,
            "custom_fields": custom,
        }

    def _register(self, checked: dict[str, Any], group_id: str) -> dict[str, Any]:
        record = {**checked, "provider_id": self._new_id("M4V"), "group_id": group_id}
        self._accept(record)
        return record

    @staticmethod
    def _new_id(prefix: str) -> str:
        return prefix + datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(8).upper()

    def _group_info(self, group_id: str, registered: int, failed: int) -> dict[str, Any]:
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        cash = {"requested": 0, "replacement": 0, "refund": 0, "sum": 0}
        kinds = ("sms", "lms", "mms", "ata", "cta", "cti", "nsa", "rcs_sms", "rcs_lms")
        return {
            "count": {
                "total": registered + failed,
                "sentTotal": 0,
                "sentFailed": 0,
                "sentSuccess": 0,
                "sentPending": 0,
                "sentReplacement": 0,
                "refund": 0,
                "registeredFailed": failed,
                "registeredSuccess": registered,
            },
            "countForCharge": {k: {} for k in kinds},
            "balance": cash,
            "point": cash,
            "app": {"profit": dict.fromkeys(kinds, 0), "appId": None},
            "log": [{"createAt": now, "message": "메시지 그룹이 생성되었습니다."}],
            "status": "SENDING" if registered else "FAILED",
            "allowDuplicates": False,
            "isRefunded": False,
            "accountId": self.ACCOUNT,
            "masterAccountId": None,
            "apiVersion": "4",
            "groupId": group_id,
            "price": {},
            "dateCreated": now,
            "dateUpdated": now,
            "scheduledDate": None,
            "dateSent": now if registered else None,
            "dateCompleted": None,
        }

    def _lookup(self, query: str) -> Reply:
        params = {k: v[0] for k, v in parse_qs(query).items()}
        if set(params) - self.LIST_PARAMS:
            unknown = set(params) - self.LIST_PARAMS
            return self._error(400, "ValidationError", "검색 조건", f"unknown params {unknown}")
        wanted = params.get("messageId")
        if "criteria" in params:
            if params.get("criteria") != "messageId" or params.get("cond") != "eq":
                return self._error(400, "ValidationError", "검색 조건", "criteria/cond")
            wanted = params.get("value", "")
        with self._lock:
            records = [r for r in self.accepted if wanted is None or r["provider_id"] == wanted]
        listing: dict[str, Any] = {}
        for record in records:
            state = self._receipt_state(record["provider_id"]) or "pending"
            code = {"delivered": "4000", "failed": "3040", "pending": "3000"}[state]
            listing[record["provider_id"]] = {
                "messageId": record["provider_id"],
                "groupId": record["group_id"],
                "accountId": self.ACCOUNT,
                "to": record["to"],
                "from": record["from"],
                "text": record["body"],
                "subject": record["subject"],
                "type": record["kind"],
                "country": "82",
                "customFields": record["custom_fields"] or {},
                "statusCode": code,
            }
        return 200, {"startKey": None, "nextKey": None, "limit": 20, "messageList": listing}


# ---------------------------------------------------------------------------------------


class AligoStandIn(_StandIn):
    """Aligo SMS API (smartsms.aligo.in/admin/api/spec.html, demosms.aligo.in/admin/api
    /status.html). The image fields (image, image1-3) are left out: they are files, which
    a urlencoded form cannot carry."""

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
        if kind is None:
            # msg_type is optional: Aligo sends over 90 bytes as LMS.
            kind = "LMS" if size > 90 or title is not None else "SMS"
        if kind not in ("SMS", "LMS"):
            # MMS needs an attached image, which a urlencoded form cannot carry.
            return self._error(-106, "msg_type 오류", f"msg_type {kind!r}")
        if kind == "SMS" and (size > 90 or title is not None):
            return self._error(-106, "SMS 길이 초과", "SMS over 90 bytes or with title")
        # title is optional ("X"), LMS/MMS only, 1~44 bytes.
        if kind == "LMS" and title is not None and not 1 <= title_size <= 44:
            return self._error(-106, "제목 오류", "LMS title empty or over 44 bytes")
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
        # Aligo documents sms_state only as "전송상태", without its values: these words are
        # the stand-in's, chosen to be what hub.notify.providers.aligo trusts (report()
        # sends any other wording).
        sms_state = {"delivered": "성공", "failed": "실패", "pending": "대기"}[state]
        raw = self._raw_report(mid)
        if raw is not None:
            sms_state = raw[0]
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
