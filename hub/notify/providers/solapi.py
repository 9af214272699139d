"""``solapi://APIKEY:APISECRET@host?sender=…``: Solapi messages v4.

Owns how Solapi's API is asked (the HMAC-signed header, the JSON message) and how its
answers and status codes read; the exchange itself is :mod:`hub.notify.providers.http`'s.

Documentation followed (request and response shapes below are taken from these pages):
https://docs.solapi.com/api-reference/messages/sendsimplemessage (``POST /messages/v4/send``),
https://docs.solapi.com/api-reference/messages/getmessagelist (``GET /messages/v4/list``),
https://developers.solapi.dev/references/authentication/api-key (HMAC-SHA256 header)
(source: github.com/solapi/documents)

* ``POST /messages/v4/send`` with ``{"message": {to, from, text, type, subject}}``,
  ``type`` ``SMS`` or ``LMS`` (``subject`` for LMS only).
* ``Authorization: HMAC-SHA256 apiKey=…, date=…, salt=…, signature=…``: ``date`` is
  ISO 8601 UTC, ``salt`` 12–64 random bytes, ``signature`` the hex HMAC-SHA256 of
  ``date + salt`` keyed by the API secret. The server allows ±15 minutes of clock skew
  and refuses a signature it has seen, so every request is signed afresh.
* Answer 200: ``{groupId, messageId, statusCode: "2000", statusMessage, …}``; errors
  are non-2xx with ``{errorCode, errorMessage}``.
* Receipt: ``GET /messages/v4/list?criteria=messageId&cond=eq&value=ID`` →
  ``messageList[ID].statusCode`` (4000 received; 2000/3000 still on the way).

Gaps in what could be found, and what is assumed instead: only the status codes in the
docs' samples were found (``2000`` accepted, ``3000`` handed to the carrier, ``4000``
received); others are taken as failures. The HTTP status of an authentication error was
not found; every 4xx is permanent.
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


class SolapiSms(HttpSmsProvider):
    """Solapi messages v4 (see the module docstring for the API)."""

    name = "solapi"
    scheme = "solapi"
    credentials = ("API key", "API secret")

    def _authorization(self) -> str:
        date = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        salt = secrets.token_hex(16)
        signature = hmac.new(
            self._spec.secret.encode("utf-8"), (date + salt).encode("utf-8"), hashlib.sha256
        ).hexdigest()
        return (
            f"HMAC-SHA256 apiKey={self._spec.user}, date={date}, salt={salt}, signature={signature}"
        )

    def _send_request(self, to: str, message: SmsMessage, text: SmsText) -> Request:
        body: dict[str, Any] = {
            "to": to,
            "from": self._spec.sender,
            "text": text.body,
            "type": text.kind,
            # customFields are stored with the message; a hash lets us find it again.
            "customFields": {"anbu": key_ref(message.key)},
        }
        if text.kind == "LMS":
            body["subject"] = text.subject
        content = json.dumps({"message": body}, ensure_ascii=False).encode("utf-8")
        headers = {"Authorization": self._authorization(), "Content-Type": "application/json"}
        return Request("POST", "/messages/v4/send", {"content": content, "headers": headers})

    def _error_detail(self, answer: Answer) -> str:
        return " ".join(
            str(v) for v in (answer.field("errorCode"), answer.field("errorMessage")) if v
        )

    def _read_accepted(
        self, answer: Answer, text: SmsText, hide: Iterable[str | None]
    ) -> ProviderReply:
        message_id = answer.field("messageId")
        status = answer.field("statusCode")
        if not isinstance(message_id, str) or not message_id or status is None:
            return self._unreadable(answer)
        if str(status) != "2000":
            return self._refused(f"status {status} {answer.field('statusMessage') or ''}", hide)
        return ProviderReply("sent", False, provider_id=message_id)

    def receipt(self, provider_id: str) -> Receipt | None:
        if not provider_id:
            return None
        params = {"criteria": "messageId", "cond": "eq", "value": provider_id}
        headers = {"Authorization": self._authorization()}
        answer = self._ask(
            Request("GET", "/messages/v4/list", {"params": params, "headers": headers})
        )
        entry = answer.field("messageList", provider_id) if answer is not None else None
        if not isinstance(entry, Mapping):
            return None
        status = str(entry.get("statusCode") or "")
        if status == "4000":
            return "delivered"
        if status in ("2000", "3000"):
            return "pending"
        return "failed" if status else None
