"""``aligo://USERID:APIKEY@host?sender=…``: the Aligo (smartsms.aligo.in) SMS API.

Owns how Aligo's API is asked (the form fields, ``testmode=yes``) and how its answers and
delivery states read; the exchange itself is :mod:`hub.notify.providers.http`'s.

Documentation followed (request and response shapes below are taken from these pages):
https://smartsms.aligo.in/admin/api/spec.html (``POST /send/``) and
https://demosms.aligo.in/admin/api/status.html (``/sms_list/`` delivery result)

* ``POST /send/``, form-encoded (UTF-8): ``key``, ``user_id``, ``sender``, ``receiver``,
  ``msg``, ``msg_type`` (``SMS``/``LMS``; set explicitly so Aligo does not guess from
  its own byte count), ``title`` (LMS only), optional ``testmode_yn=Y``.
* Answer (always HTTP 200): ``{result_code, message, msg_id, success_cnt, error_cnt,
  msg_type}``; ``result_code`` 1 is success, anything else (negative) is an error.
* Receipt: ``POST /sms_list/`` with ``key``, ``userid``, ``mid`` → ``list[].sms_state``.

Gaps in what could be found, and what is assumed instead: the send response fields are
from the spec page. The per-message ``sms_state`` values of ``/sms_list/`` were not
visible; states naming completion (완료/성공) count as delivered, failure or refusal
(실패/거부/오류) as failed, anything else as pending. The result API's parameter is spelt
``userid`` there (the send API uses ``user_id``), and that is what is sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from hub.notify.provider import ProviderReply, Receipt, SmsMessage
from hub.notify.providers.http import Answer, HttpSmsProvider, Request, as_int
from hub.notify.sms_text import SmsText

__all__ = ["AligoSms"]


class AligoSms(HttpSmsProvider):
    """Aligo SMS API (see the module docstring for the API)."""

    name = "aligo"
    scheme = "aligo"
    credentials = ("user id", "API key")
    has_testmode = True

    def _send_request(self, to: str, message: SmsMessage, text: SmsText) -> Request:
        form = {
            "key": self._spec.secret,
            "user_id": self._spec.user,
            "sender": self._spec.sender,
            "receiver": to,
            "msg": text.body,
            "msg_type": text.kind,
        }
        if text.kind == "LMS" and text.subject:
            form["title"] = text.subject
        if self._spec.testmode:
            form["testmode_yn"] = "Y"
        return Request("POST", "/send/", {"data": form})

    def _error_detail(self, answer: Answer) -> str:
        code = answer.field("result_code")
        return " ".join(str(v) for v in (code, answer.field("message")) if v is not None)

    def _read_accepted(
        self, answer: Answer, text: SmsText, hide: Iterable[str | None]
    ) -> ProviderReply:
        result = as_int(answer.field("result_code"))
        if result is None:
            return self._unreadable(answer)
        if result != 1:
            return self._refused(f"result {self._error_detail(answer)}", hide)
        msg_id = answer.field("msg_id")
        if msg_id in (None, ""):
            return self._unreadable(answer)
        if as_int(answer.field("success_cnt")) == 0:
            return self._fail(
                False, f"no recipient accepted (error_cnt {answer.field('error_cnt')})"
            )
        return ProviderReply("sent", False, provider_id=str(msg_id))

    def receipt(self, provider_id: str) -> Receipt | None:
        if not provider_id:
            return None
        form = {"key": self._spec.secret, "userid": self._spec.user, "mid": provider_id}
        answer = self._ask(Request("POST", "/sms_list/", {"data": form}))
        if answer is None or as_int(answer.field("result_code")) != 1:
            return None
        rows = answer.field("list")
        if not isinstance(rows, list) or not rows or not isinstance(rows[0], Mapping):
            return None
        state = str(rows[0].get("sms_state") or "")
        if any(word in state for word in ("완료", "성공")):
            return "delivered"
        if any(word in state for word in ("실패", "거부", "오류")):
            return "failed"
        return "pending"
