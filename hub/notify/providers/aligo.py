"""``aligo://USERID:APIKEY@host?sender=…``: the Aligo (smartsms.aligo.in) SMS API.

Owns how Aligo's API is asked (the form fields, ``testmode=yes``) and how its answers and
delivery states read; the exchange itself is :mod:`hub.notify.providers.http`'s.

Documentation checked (Aligo's pages carry no version or date; as stored when read for
this module): "API SPEC 및 연동예제 안내" https://smartsms.aligo.in/admin/api/spec.html
(``POST /send/``; the same table as https://smartsms.aligo.in/smsapi.html) and
"결과조회 API" https://demosms.aligo.in/admin/api/status.html (``/sms_list/``).

* ``POST /send/``, form-encoded (UTF-8): ``key``, ``user_id``, ``sender``, ``receiver``,
  ``msg`` (1–2,000 bytes), ``msg_type`` (``SMS``/``LMS``/``MMS``; set explicitly, as the
  spec recommends, so Aligo does not guess from its own byte count), ``title`` (optional,
  LMS/MMS only, 1–44 bytes; sent when there is a subject), optional ``testmode_yn=Y``.
* Answer (always HTTP 200): ``{result_code, message, msg_id, success_cnt, error_cnt,
  msg_type}``; ``result_code`` 1 is success, anything else (negative) is an error.
* Receipt: ``POST /sms_list/`` with ``userid``, ``key``, ``mid`` (the result API spells
  it ``userid``; the send API ``user_id``) → ``list[].sms_state`` ("전송상태").

Not verifiable from Aligo's documentation: the values ``sms_state`` takes. The result
page names the field and nothing more, and no official SDK exists to read them from.
So only wording that cannot mean anything else is trusted: a state containing 성공
(success) is delivered, one containing 실패 (failure), 거부 (refused) or 오류 (error) is
failed, one containing 대기 (waiting) or 전송중/발송중/처리중/진행중 (in progress) is
pending. Any other value (a number, English, a word not listed) gives ``None`` — "cannot
tell" — and an ``aligo_unknown_sms_state`` log line carrying the value, so it can be added
here once seen; it is never guessed into delivered or failed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import structlog

from hub.notify.provider import ProviderReply, Receipt, SmsMessage
from hub.notify.providers.http import Answer, HttpSmsProvider, Request, as_int
from hub.notify.sms_text import SmsText

__all__ = ["AligoSms"]

log = structlog.get_logger(__name__)

# Checked in this order: a failure wording wins over anything else in the same state.
_STATE_WORDS: tuple[tuple[Receipt, tuple[str, ...]], ...] = (
    ("failed", ("실패", "거부", "오류")),
    ("delivered", ("성공",)),
    ("pending", ("대기", "전송중", "발송중", "처리중", "진행중")),
)


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
        state = str(rows[0].get("sms_state") or "").strip()
        for receipt, words in _STATE_WORDS:
            if any(word in state for word in words):
                return receipt
        # A state word carries no personal data; scrubbed and cut in case it is not one.
        log.warning("aligo_unknown_sms_state", sms_state=self._scrub(state)[:20])
        return None
