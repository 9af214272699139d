"""``nhn://APPKEY:SECRETKEY@host?sender=…``: NHN Cloud Notification SMS v3.0.

Owns how NHN's API is asked (endpoints, header, JSON fields) and how its answers and
result codes read; the exchange itself is :mod:`hub.notify.providers.http`'s.

Documentation checked: NHN Cloud "Notification > SMS > API v3.0 Guide" and "결과 코드"
(https://docs.nhncloud.com/ko/Notification/SMS/ko/api-guide/ and …/error-code/), read
from their source github.com/TOAST-DOCS/SMS ``ko/api-guide.md`` and ``ko/error-code.md``
as last changed 2026-06-09 (commit 1e3b7b3; release notes up to 2026-06-23).

* Host: ``https://sms.api.nhncloudservice.com`` (the v3.0 guide's only API domain; the
  older ``api-sms.cloud.toast.com`` is what the v2.x guides name).
* SMS: ``POST /sms/v3.0/appKeys/{appKey}/sender/sms`` with ``{body, sendNo,
  recipientList: [{recipientNo}]}``; LMS: ``POST …/sender/mms`` adding ``title``, which
  that endpoint requires (LMS is MMS without attachments in NHN's terms).
* Header ``X-Secret-Key``; ``Content-Type: application/json;charset=UTF-8``.
* Answer: ``header.{isSuccessful, resultCode, resultMessage}`` and
  ``body.data.{requestId, statusCode, sendResultList[].{resultCode, recipientSeq}}``.
* Receipt: ``GET …/sender/{sms|mms}/{requestId}?recipientSeq=N`` →
  ``body.data.{msgStatus, resultCode}``: msgStatus 0 failed, 1 requested, 2 processing,
  3 done (resultCode 1000 = received), 4 reservation cancelled, 5 duplicate failure,
  6 failed (advertising restriction), 7 waiting to resend (advertising restriction).

``provider_id`` is ``"{sms|mms}:{requestId}:{recipientSeq}"`` so a receipt knows where to ask.

Gap in what could be found, and what is assumed instead: the HTTP status for a wrong
``X-Secret-Key`` is not in the docs; any 4xx, or a 2xx with ``header.isSuccessful == false``,
is treated as a permanent failure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from hub.notify.provider import ProviderReply, Receipt, SmsMessage
from hub.notify.providers.http import Answer, HttpSmsProvider, Request, as_int, key_ref
from hub.notify.sms_text import SmsText

__all__ = ["NhnCloudSms"]

# Documented result codes that mean "not queued, try again": -2021 "Failed insert queue".
_TRANSIENT = {-2021}


class NhnCloudSms(HttpSmsProvider):
    """NHN Cloud Notification SMS v3.0 (see the module docstring for the API)."""

    name = "nhn"
    scheme = "nhn"
    credentials = ("app key", "secret key")

    def _path(self, kind: str) -> str:
        return f"/sms/v3.0/appKeys/{quote(self._spec.user, safe='')}/sender/{kind}"

    def _headers(self) -> dict[str, str]:
        return {
            "X-Secret-Key": self._spec.secret,
            "Content-Type": "application/json;charset=UTF-8",
        }

    def _send_request(self, to: str, message: SmsMessage, text: SmsText) -> Request:
        payload: dict[str, Any] = {
            "body": text.body,
            "sendNo": self._spec.sender,
            "recipientList": [{"recipientNo": to}],
            # Searchable in NHN's console and list API without exposing the outbox key.
            "senderGroupingKey": key_ref(message.key),
        }
        if text.kind == "LMS":
            payload["title"] = text.subject
        content = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        path = self._path(_endpoint(text))
        return Request("POST", path, {"content": content, "headers": self._headers()})

    def _error_detail(self, answer: Answer) -> str:
        code = answer.field("header", "resultCode")
        wording = answer.field("header", "resultMessage")
        return " ".join(str(v) for v in (code, wording) if v is not None)

    def _read_accepted(
        self, answer: Answer, text: SmsText, hide: Iterable[str | None]
    ) -> ProviderReply:
        successful = answer.field("header", "isSuccessful")
        if not isinstance(successful, bool):
            return self._unreadable(answer)
        if successful is not True:
            retryable = as_int(answer.field("header", "resultCode")) in _TRANSIENT
            return self._refused(f"result {self._error_detail(answer)}", hide, retryable)
        request_id = answer.field("body", "data", "requestId")
        results = answer.field("body", "data", "sendResultList")
        if not isinstance(request_id, str) or not request_id:
            return self._unreadable(answer)
        if answer.field("body", "data", "statusCode") == "3":  # 3 = request failed
            return self._fail(False, "request failed (statusCode 3)")
        seq = 1
        if isinstance(results, list) and results and isinstance(results[0], Mapping):
            first = results[0]
            if as_int(first.get("resultCode")) not in (0, None):
                reason = f"recipient result {first.get('resultCode')} {first.get('resultMessage')}"
                return self._refused(reason, hide)
            seq = as_int(first.get("recipientSeq")) or 1
        provider_id = f"{_endpoint(text)}:{request_id}:{seq}"
        return ProviderReply("sent", False, provider_id=provider_id)

    def receipt(self, provider_id: str) -> Receipt | None:  # noqa: PLR0911 - one return per status
        kind, _, rest = provider_id.partition(":")
        request_id, _, seq = rest.partition(":")
        if kind not in ("sms", "mms") or not request_id or not seq.isdigit():
            return None
        path = f"{self._path(kind)}/{quote(request_id, safe='')}"
        options = {"params": {"recipientSeq": seq}, "headers": self._headers()}
        answer = self._ask(Request("GET", path, options))
        if answer is None or answer.field("header", "isSuccessful") is not True:
            return None
        status = str(answer.field("body", "data", "msgStatus") or "")
        result = str(answer.field("body", "data", "resultCode") or "")
        # 7 = waiting to resend (advertising restriction): it may still go out.
        if status in ("1", "2", "7"):
            return "pending"
        # 6 = failed (advertising restriction): nothing more will be tried.
        if status in ("0", "4", "5", "6"):
            return "failed"
        if status == "3":
            if result == "1000":
                return "delivered"
            return "failed" if result else "pending"
        return None


def _endpoint(text: SmsText) -> str:
    # LMS goes to NHN's MMS endpoint (an MMS without attachments).
    return "sms" if text.kind == "SMS" else "mms"
