"""``solapi://APIKEY:APISECRET@host?sender=…``: Solapi messages v4.

Owns how Solapi's API is asked (the HMAC-signed header, the JSON message) and how its
answers and status codes read; the exchange itself is :mod:`hub.notify.providers.http`'s.

Checked against, and sent the way the official Python SDK sends it:

* the SDK ``solapi`` 5.0.3 from PyPI (``solapi/lib/authenticator.py``,
  ``services/message_service.py``, the request and response models); the tests send
  through it to the same stand-in this module is tested against;
* Solapi's API documentation: "API Key 인증 방식" (developers.solapi.dev
  /references/authentication/api-key), "여러건의 메시지 발송" (developers.solapi.com
  /references/messages/sendManyDetail), "메시지 목록 조회" (solapi.com/developers/api
  /msg-getList, dated 2026-03-01), and from github.com/solapi/documents (last changed
  2022-09-19) "단일 메시지", "메시지 상태 코드" and the authentication page.

What is sent:

* ``POST /messages/v4/send-many/detail`` with ``{"messages": [{to, from, text, type,
  subject?, customFields}]}``; ``type`` ``SMS`` or ``LMS``; ``subject`` is optional and
  only for LMS (40 bytes; 1013 "제목은 SMS일 경우 사용 불가", 1014 "40byte까지").
* ``Authorization: HMAC-SHA256 ApiKey=…, Date=…, salt=…, signature=…`` as the SDK
  writes it (the docs spell the names ``apiKey``/``date``): ``Date`` is ISO 8601 with its
  offset, ``salt`` 12–64 random bytes, ``signature`` the hex HMAC-SHA256 of
  ``Date + salt`` keyed by the API secret. The server allows ±15 minutes of clock skew and
  refuses a signature it has seen (403), so every request is signed afresh.
* Answer 200: ``{groupInfo, messageList: [{messageId, statusCode, statusMessage}],
  failedMessageList: [{statusCode, statusMessage, …}]}``; a message in
  ``failedMessageList`` was not registered, so it was not sent. Other errors are non-2xx
  with ``{errorCode, errorMessage}``.
* Receipt: ``GET /messages/v4/list-old?messageId=ID`` as the SDK asks →
  ``messageList[ID].statusCode``: 4000 received, 2000/3000 still on the way, any other
  2xxx/3xxx an error (per "메시지 상태 코드").

Gaps in what could be found, and what is assumed instead: the documented ``/list`` and the
SDK's ``/list-old`` are both answered by the stand-in; which of them Solapi means to keep
is not said anywhere found. Whether a failed registration of *every* message answers 200
(as the SDK's ``MessageNotReceivedError`` handling implies) or 4xx is not documented; both
read as a permanent failure here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from hub.notify.provider import ProviderReply, Receipt, SmsMessage
from hub.notify.providers.http import Answer, HttpSmsProvider, Request, key_ref
from hub.notify.sms_text import SmsText

__all__ = ["SolapiSms"]

# Registration failures worth another try: 1024 "서버 오류" (the message was not taken).
_TRANSIENT = {"1024"}


class SolapiSms(HttpSmsProvider):
    """Solapi messages v4 (see the module docstring for the API)."""

    name = "solapi"
    scheme = "solapi"
    credentials = ("API key", "API secret")

    def _authorization(self) -> str:
        # Wall-clock time on purpose: the server compares it with its own clock.
        date = datetime.now(UTC).isoformat(timespec="seconds")
        salt = secrets.token_hex(16)
        signature = hmac.new(
            self._spec.secret.encode("utf-8"), (date + salt).encode("utf-8"), hashlib.sha256
        ).hexdigest()
        return (
            f"HMAC-SHA256 ApiKey={self._spec.user}, Date={date}, salt={salt}, signature={signature}"
        )

    def _headers(self) -> dict[str, str]:
        return {"Authorization": self._authorization(), "Content-Type": "application/json"}

    def _send_request(self, to: str, message: SmsMessage, text: SmsText) -> Request:
        body: dict[str, Any] = {
            "to": to,
            "from": self._spec.sender,
            "text": text.body,
            "type": text.kind,
            # customFields are stored with the message; a hash lets us find it again.
            "customFields": {"anbu": key_ref(message.key)},
        }
        if text.kind == "LMS" and text.subject:
            body["subject"] = text.subject
        content = json.dumps({"messages": [body]}, ensure_ascii=False).encode("utf-8")
        options = {"content": content, "headers": self._headers()}
        return Request("POST", "/messages/v4/send-many/detail", options)

    def _error_detail(self, answer: Answer) -> str:
        return " ".join(
            str(v) for v in (answer.field("errorCode"), answer.field("errorMessage")) if v
        )

    def _read_accepted(
        self, answer: Answer, text: SmsText, hide: Iterable[str | None]
    ) -> ProviderReply:
        failed = _first(answer.field("failedMessageList"))
        if failed is not None:
            code = str(failed.get("statusCode") or "")
            reason = f"not registered: status {code} {failed.get('statusMessage') or ''}"
            return self._refused(reason, hide, retryable=code in _TRANSIENT)
        accepted = _first(answer.field("messageList"))
        if accepted is None:
            return self._unreadable(answer)
        message_id = accepted.get("messageId")
        status = accepted.get("statusCode")
        if not isinstance(message_id, str) or not message_id or status is None:
            return self._unreadable(answer)
        if str(status) != "2000":  # 2000 = 정상 접수
            reason = f"status {status} {accepted.get('statusMessage') or ''}"
            return self._refused(reason, hide)
        return ProviderReply("sent", False, provider_id=message_id)

    def receipt(self, provider_id: str) -> Receipt | None:
        if not provider_id:
            return None
        options = {"params": {"messageId": provider_id}, "headers": self._headers()}
        answer = self._ask(Request("GET", "/messages/v4/list-old", options))
        entry = answer.field("messageList", provider_id) if answer is not None else None
        if not isinstance(entry, Mapping):
            return None
        status = str(entry.get("statusCode") or "")
        if status == "4000":
            return "delivered"
        if status in ("2000", "3000"):
            return "pending"
        return "failed" if status else None


def _first(rows: Any) -> Mapping[str, Any] | None:
    """The first entry of a list of objects in an answer, if there is one."""
    if isinstance(rows, list) and rows and isinstance(rows[0], Mapping):
        return rows[0]
    return None
