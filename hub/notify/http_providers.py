"""SMS adapters for NHN Cloud, Solapi and Aligo, spoken over each one's published HTTP API.

Documentation followed (request and response shapes below are taken from these pages):

* NHN Cloud SMS API v3.0
  https://docs.nhncloud.com/ko/Notification/SMS/ko/api-guide/
  (source: github.com/TOAST-DOCS/SMS ``ko/api-guide.md``) and result codes
  https://docs.nhncloud.com/ko/Notification/SMS/ko/error-code/
* Solapi messages v4
  https://docs.solapi.com/api-reference/messages/sendsimplemessage (``POST /messages/v4/send``),
  https://docs.solapi.com/api-reference/messages/getmessagelist (``GET /messages/v4/list``),
  https://developers.solapi.dev/references/authentication/api-key (HMAC-SHA256 header)
  (source: github.com/solapi/documents)
* Aligo SMS API
  https://smartsms.aligo.in/admin/api/spec.html (``POST /send/``) and
  https://demosms.aligo.in/admin/api/status.html (``/sms_list/`` delivery result)

Gaps in what could be found, and what this module assumes instead:

* NHN: the HTTP status for a wrong ``X-Secret-Key`` is not in the docs; any 4xx, or a 2xx
  with ``header.isSuccessful == false``, is treated as a permanent failure.
* Solapi: only the status codes in the docs' samples were found (``2000`` accepted,
  ``3000`` handed to the carrier, ``4000`` received). Others are taken as failures.
  The HTTP status of an authentication error was not found; every 4xx is permanent.
* Aligo: the send response fields (``result_code`` 1 = success, ``msg_id``,
  ``success_cnt``, ``error_cnt``, ``msg_type``) are from the spec page. The per-message
  ``sms_state`` values of ``/sms_list/`` were not visible; states naming completion
  (완료/성공) count as delivered, failure or refusal (실패/거부/오류) as failed, anything else
  as pending. The result API's parameter is spelt ``userid`` there (the send API uses
  ``user_id``), and that is what is sent.

Each adapter is built from a URL-style spec so a chain of them fits in one setting::

    nhn://APPKEY:SECRETKEY@api-sms.cloud.toast.com?sender=0212345678
    solapi://APIKEY:APISECRET@api.solapi.com?sender=0212345678
    aligo://USERID:APIKEY@apis.aligo.in?sender=0212345678

Options: ``tls=no`` (plain http, for the local stand-ins), ``timeout=SECONDS`` (default 5),
and for Aligo ``testmode=yes`` (the API's ``testmode_yn=Y``). Credentials with reserved
characters must be percent-encoded.

Every outcome is classified so the dispatcher can decide whether to retry:

* the request never left (refused, DNS, connect timeout) → ``failed``, retryable;
* HTTP 5xx, 429 or 408 → ``failed``, retryable;
* other 4xx, or a provider error code in a 2xx body → ``failed``, not retryable;
* no answer after the request was sent, or an answer that cannot be read → ``unknown``:
  it may have gone out, so it is never retried automatically;
* accepted → ``sent`` with the provider's id, which :meth:`receipt` can look up later.

Secrets, full phone numbers and message bodies never appear in ``error`` or in logs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import httpx
import structlog

from hub.notify.providers import SendResult, SmsMessage
from hub.notify.sms_text import SmsText

log = structlog.get_logger(__name__)

Receipt = Literal["delivered", "failed", "pending"]
ReplyState = Literal["sent", "failed", "unknown"]

DEFAULT_TIMEOUT_S = 5.0
_MAX_ERROR_CHARS = 200


@dataclass(frozen=True, slots=True)
class ProviderReply:
    """What one provider said about one message."""

    state: ReplyState
    retryable: bool
    provider_id: str | None = None
    error: str | None = None


class HttpSmsProvider(Protocol):
    name: str

    def submit(self, message: SmsMessage, text: SmsText) -> ProviderReply: ...

    def receipt(self, provider_id: str) -> Receipt | None:
        """Delivery state of an accepted message; ``None`` when it cannot be asked."""
        ...


def as_send_result(reply: ProviderReply) -> SendResult:
    """The dispatcher's view of a reply (it keeps retryability and ids elsewhere)."""
    return SendResult(reply.state, reply.error)


def phone_digits(number: str) -> str | None:
    """A Korean number as the digits providers expect (``+82 10-1234-5678`` → ``01012345678``).

    ``None`` when it is not a plausible domestic number; the caller reports that without
    echoing the number.
    """
    compact = re.sub(r"[\s\-().]", "", number)
    if compact.startswith("+82"):
        rest = compact[3:]
        compact = rest if rest.startswith("0") else "0" + rest
    elif compact.startswith("0082"):
        rest = compact[4:]
        compact = rest if rest.startswith("0") else "0" + rest
    if not compact.isdigit() or not compact.startswith(("0", "1")):
        return None
    # Domestic numbers run from 8 digits (1588-xxxx) to 11 (010-xxxx-xxxx); 12 covers
    # the rare 050x virtual numbers.
    if not 8 <= len(compact) <= 12:
        return None
    return compact


def key_ref(key: str) -> str:
    """A stable, PII-free reference for an outbox key (the key itself contains the phone)."""
    return "anbu-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


# ---------------------------------------------------------------------------------------
# Spec parsing


@dataclass(frozen=True, slots=True)
class _Spec:
    scheme: str
    user: str
    secret: str = field(repr=False)  # a logged spec must not carry it
    host: str
    port: int | None
    sender: str
    tls: bool
    timeout: float
    testmode: bool

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port is not None else ""
        return f"{'https' if self.tls else 'http'}://{host}{port}"


_SCHEMES = ("nhn", "solapi", "aligo")
_OPTIONS = {"sender", "tls", "timeout", "testmode"}
_YES = {"yes", "true", "1", "on"}
_NO = {"no", "false", "0", "off"}


def _parse_spec(spec: str) -> _Spec:
    # Messages below name the part that is wrong, never its value: the spec holds a secret.
    scheme, sep, _ = spec.partition("://")
    scheme = scheme.strip().lower()
    if not sep or scheme not in _SCHEMES:
        msg = f"SMS provider spec must start with one of {', '.join(s + '://' for s in _SCHEMES)}"
        raise ValueError(msg)
    label = f"{scheme}:// spec"
    try:
        parts = urlsplit(spec.strip())
        port = parts.port
    except ValueError:
        msg = f"{label}: could not be parsed (percent-encode reserved characters in credentials)"
        raise ValueError(msg) from None
    if parts.path not in ("", "/") or parts.fragment:
        msg = f"{label}: unexpected path or fragment (percent-encode '/' or '#' in credentials)"
        raise ValueError(msg)
    if not parts.hostname:
        msg = f"{label}: host is missing"
        raise ValueError(msg)
    user = unquote(parts.username or "")
    secret = unquote(parts.password or "")
    first, second = {
        "nhn": ("app key", "secret key"),
        "solapi": ("API key", "API secret"),
        "aligo": ("user id", "API key"),
    }[scheme]
    if not user:
        msg = f"{label}: {first} is missing (expected {scheme}://USER:SECRET@host)"
        raise ValueError(msg)
    if not secret:
        msg = f"{label}: {second} is missing (expected {scheme}://USER:SECRET@host)"
        raise ValueError(msg)
    options: dict[str, str] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name not in _OPTIONS:
            msg = f"{label}: unknown option {name!r} (known: {', '.join(sorted(_OPTIONS))})"
            raise ValueError(msg)
        options[name] = value
    sender = phone_digits(options.get("sender", ""))
    if sender is None:
        msg = f"{label}: sender= must be the registered sending number, e.g. 0212345678"
        raise ValueError(msg)
    tls = _flag(options.get("tls", "yes"), label, "tls")
    testmode = _flag(options.get("testmode", "no"), label, "testmode")
    if testmode and scheme != "aligo":
        msg = f"{label}: testmode= is only understood by aligo://"
        raise ValueError(msg)
    try:
        timeout = float(options.get("timeout", DEFAULT_TIMEOUT_S))
    except ValueError:
        msg = f"{label}: timeout= must be a number of seconds"
        raise ValueError(msg) from None
    if not 0 < timeout <= 120:  # a page waiting minutes helps nobody
        msg = f"{label}: timeout= must be between 0 and 120 seconds"
        raise ValueError(msg)
    return _Spec(
        scheme=scheme,
        user=user,
        secret=secret,
        host=parts.hostname,
        port=port,
        sender=sender,
        tls=tls,
        timeout=timeout,
        testmode=testmode,
    )


def _flag(value: str, label: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _YES:
        return True
    if lowered in _NO:
        return False
    msg = f"{label}: {name}= must be yes or no"
    raise ValueError(msg)


def provider_from_url(spec: str) -> HttpSmsProvider:
    """Build the adapter a spec names; ``ValueError`` (never echoing the secret) if bad."""
    parsed = _parse_spec(spec)
    if parsed.scheme == "nhn":
        return NhnCloudSms(parsed)
    if parsed.scheme == "solapi":
        return SolapiSms(parsed)
    return AligoSms(parsed)


# ---------------------------------------------------------------------------------------
# Shared HTTP handling


class _Answer:
    """An HTTP answer whose body has been read (or found unreadable)."""

    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        self.data: Any = None
        try:
            self.data = response.json()
        except ValueError:
            self.data = None

    def field(self, *path: str) -> Any:
        node: Any = self.data
        for step in path:
            if not isinstance(node, Mapping):
                return None
            node = node.get(step)
        return node


class _HttpProvider:
    name = "http"

    def __init__(self, spec: _Spec) -> None:
        self._spec = spec
        # One client per provider; no keep-alive. Pages are rare, and a reused connection
        # the server has quietly closed fails *after* the request was written, which would
        # turn a harmless reconnect into an "unknown" that nobody may retry.
        self._client = httpx.Client(
            base_url=spec.base_url,
            timeout=httpx.Timeout(spec.timeout),
            limits=httpx.Limits(max_keepalive_connections=0),
            follow_redirects=False,
            headers={"User-Agent": "anbu-hub"},
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._spec.base_url}>"

    def close(self) -> None:
        self._client.close()

    # -- helpers ---------------------------------------------------------------------

    def _scrub(self, text: str, extra: Iterable[str | None] = ()) -> str:
        """Provider wording made safe to store: no secret, phone number or body text."""
        for value in (self._spec.secret, self._spec.user, *extra):
            if not value or len(value) < 4:  # replacing "ab" everywhere would garble the text
                continue
            text = text.replace(value, "…")
            for line in value.splitlines():
                if len(line.strip()) >= 6:  # shorter lines are too common
                    text = text.replace(line.strip(), "…")
        text = re.sub(r"\+?\d[\d\- ]{6,}\d", "<number>", text)
        text = " ".join(text.split())
        return text[:_MAX_ERROR_CHARS]

    def _fail(self, retryable: bool, reason: str) -> ProviderReply:
        return ProviderReply("failed", retryable, error=f"{self.name}: {reason}")

    def _exchange(self, method: str, url: str, **kwargs: Any) -> _Answer | ProviderReply:
        """Send one request; either the answer or the reply that classifies its failure."""
        try:
            response = self._client.request(method, url, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # The request never reached the provider: safe to try again (or the next one).
            reason = f"could not connect ({type(exc).__name__})"
            return self._fail(True, reason)
        except (httpx.WriteError, httpx.WriteTimeout) as exc:
            # The request was not fully written, so the provider cannot have acted on it.
            return self._fail(True, f"request not fully sent ({type(exc).__name__})")
        except httpx.TimeoutException:
            error = f"{self.name}: no answer within {self._spec.timeout:g}s after sending"
            return ProviderReply("unknown", False, error=error)
        except (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.TooManyRedirects) as exc:
            return self._fail(False, f"bad provider address ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            # Connection dropped mid-answer and the like: the message may have gone out.
            error = f"{self.name}: answer lost after sending ({type(exc).__name__})"
            return ProviderReply("unknown", False, error=error)
        return _Answer(response)

    def _http_error(
        self, answer: _Answer, detail: str, extra: Iterable[str | None] = ()
    ) -> ProviderReply | None:
        """The reply for a non-2xx answer; ``None`` when the answer is a 2xx."""
        status = answer.status
        if 200 <= status < 300:
            return None
        text = self._scrub(f"HTTP {status}" + (f" ({detail})" if detail else ""), extra)
        # 5xx: the provider broke before accepting; 429: it asked us to come back;
        # 408: it gave up waiting for our request. Everything else 4xx will fail again.
        retryable = status >= 500 or status in (408, 429)
        return self._fail(retryable, text)

    def _unreadable(self, answer: _Answer) -> ProviderReply:
        # A 2xx we cannot read: the provider took the request and may have sent it.
        error = f"{self.name}: HTTP {answer.status} with an unreadable body"
        return ProviderReply("unknown", False, error=error)

    def _recipient(self, message: SmsMessage) -> str | ProviderReply:
        to = phone_digits(message.to)
        if to is None:
            return self._fail(False, "recipient is not a Korean phone number")
        return to

    def _log(self, message: SmsMessage, text: SmsText, reply: ProviderReply) -> None:
        log.info(
            "sms_provider_reply",
            provider=self.name,
            key_ref=key_ref(message.key),
            kind=text.kind,
            bytes=text.body_bytes,
            state=reply.state,
            retryable=reply.retryable,
            provider_id=reply.provider_id,
            error=reply.error,
        )


def _as_int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------------------
# NHN Cloud


# Documented result codes that mean "not queued, try again": -2021 "Failed insert queue".
_NHN_TRANSIENT = {-2021}


class NhnCloudSms(_HttpProvider):
    """NHN Cloud Notification SMS v3.0.

    Docs: https://docs.nhncloud.com/ko/Notification/SMS/ko/api-guide/

    * SMS: ``POST /sms/v3.0/appKeys/{appKey}/sender/sms`` with ``{body, sendNo,
      recipientList: [{recipientNo}]}``; LMS: ``POST …/sender/mms`` adding ``title``
      (LMS is MMS without attachments in NHN's terms).
    * Header ``X-Secret-Key``; ``Content-Type: application/json;charset=UTF-8``.
    * Answer: ``header.{isSuccessful, resultCode, resultMessage}`` and
      ``body.data.{requestId, statusCode, sendResultList[].{resultCode, recipientSeq}}``.
    * Receipt: ``GET …/sender/{sms|mms}/{requestId}?recipientSeq=N`` →
      ``body.data.{msgStatus, resultCode}`` (msgStatus 0 failed, 1 requested, 2 processing,
      3 done, 4 reservation cancelled, 5 duplicate failure; resultCode 1000 = received).

    ``provider_id`` is ``"{sms|mms}:{requestId}:{recipientSeq}"`` so a receipt knows where
    to ask.
    """

    name = "nhn"

    def _path(self, kind: str) -> str:
        return f"/sms/v3.0/appKeys/{quote(self._spec.user, safe='')}/sender/{kind}"

    def _headers(self) -> dict[str, str]:
        return {
            "X-Secret-Key": self._spec.secret,
            "Content-Type": "application/json;charset=UTF-8",
        }

    def submit(self, message: SmsMessage, text: SmsText) -> ProviderReply:
        reply = self._submit(message, text)
        self._log(message, text, reply)
        return reply

    def _submit(self, message: SmsMessage, text: SmsText) -> ProviderReply:  # noqa: PLR0911 - one return per documented outcome
        to = self._recipient(message)
        if isinstance(to, ProviderReply):
            return to
        kind = "sms" if text.kind == "SMS" else "mms"
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
        answer = self._exchange("POST", self._path(kind), content=content, headers=self._headers())
        if isinstance(answer, ProviderReply):
            return answer
        hide = (text.body, text.subject, message.to, to)
        code = answer.field("header", "resultCode")
        wording = answer.field("header", "resultMessage")
        detail = " ".join(str(v) for v in (code, wording) if v is not None)
        http_failure = self._http_error(answer, detail, hide)
        if http_failure is not None:
            return http_failure
        if not isinstance(answer.field("header", "isSuccessful"), bool):
            return self._unreadable(answer)
        if answer.field("header", "isSuccessful") is not True:
            retryable = _as_int(code) in _NHN_TRANSIENT
            return self._fail(retryable, self._scrub(f"result {detail}", hide))
        request_id = answer.field("body", "data", "requestId")
        results = answer.field("body", "data", "sendResultList")
        if not isinstance(request_id, str) or not request_id:
            return self._unreadable(answer)
        if answer.field("body", "data", "statusCode") == "3":  # 3 = request failed
            return self._fail(False, "request failed (statusCode 3)")
        seq = 1
        if isinstance(results, list) and results and isinstance(results[0], Mapping):
            first = results[0]
            if _as_int(first.get("resultCode")) not in (0, None):
                reason = f"recipient result {first.get('resultCode')} {first.get('resultMessage')}"
                return self._fail(False, self._scrub(reason, hide))
            seq = _as_int(first.get("recipientSeq")) or 1
        return ProviderReply("sent", False, provider_id=f"{kind}:{request_id}:{seq}")

    def receipt(self, provider_id: str) -> Receipt | None:  # noqa: PLR0911 - one return per status
        kind, _, rest = provider_id.partition(":")
        request_id, _, seq = rest.partition(":")
        if kind not in ("sms", "mms") or not request_id or not seq.isdigit():
            return None
        answer = self._exchange(
            "GET",
            f"{self._path(kind)}/{quote(request_id, safe='')}",
            params={"recipientSeq": seq},
            headers=self._headers(),
        )
        if isinstance(answer, ProviderReply) or not 200 <= answer.status < 300:
            return None
        if answer.field("header", "isSuccessful") is not True:
            return None
        status = str(answer.field("body", "data", "msgStatus") or "")
        result = str(answer.field("body", "data", "resultCode") or "")
        if status in ("1", "2"):
            return "pending"
        if status in ("0", "4", "5"):
            return "failed"
        if status == "3":
            if result == "1000":
                return "delivered"
            return "failed" if result else "pending"
        return None


# ---------------------------------------------------------------------------------------
# Solapi


class SolapiSms(_HttpProvider):
    """Solapi messages v4.

    Docs: https://docs.solapi.com/api-reference/messages/sendsimplemessage and
    https://developers.solapi.dev/references/authentication/api-key

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
    """

    name = "solapi"

    def _authorization(self) -> str:
        date = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        salt = secrets.token_hex(16)
        signature = hmac.new(
            self._spec.secret.encode("utf-8"), (date + salt).encode("utf-8"), hashlib.sha256
        ).hexdigest()
        return (
            f"HMAC-SHA256 apiKey={self._spec.user}, date={date}, salt={salt}, signature={signature}"
        )

    def submit(self, message: SmsMessage, text: SmsText) -> ProviderReply:
        reply = self._submit(message, text)
        self._log(message, text, reply)
        return reply

    def _submit(self, message: SmsMessage, text: SmsText) -> ProviderReply:
        to = self._recipient(message)
        if isinstance(to, ProviderReply):
            return to
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
        answer = self._exchange("POST", "/messages/v4/send", content=content, headers=headers)
        if isinstance(answer, ProviderReply):
            return answer
        hide = (text.body, text.subject, message.to, to)
        detail = " ".join(
            str(v) for v in (answer.field("errorCode"), answer.field("errorMessage")) if v
        )
        http_failure = self._http_error(answer, detail, hide)
        if http_failure is not None:
            return http_failure
        message_id = answer.field("messageId")
        status = answer.field("statusCode")
        if not isinstance(message_id, str) or not message_id or status is None:
            return self._unreadable(answer)
        if str(status) != "2000":
            reason = f"status {status} {answer.field('statusMessage') or ''}"
            return self._fail(False, self._scrub(reason, hide))
        return ProviderReply("sent", False, provider_id=message_id)

    def receipt(self, provider_id: str) -> Receipt | None:
        if not provider_id:
            return None
        answer = self._exchange(
            "GET",
            "/messages/v4/list",
            params={"criteria": "messageId", "cond": "eq", "value": provider_id},
            headers={"Authorization": self._authorization()},
        )
        if isinstance(answer, ProviderReply) or not 200 <= answer.status < 300:
            return None
        entry = answer.field("messageList", provider_id)
        if not isinstance(entry, Mapping):
            return None
        status = str(entry.get("statusCode") or "")
        if status == "4000":
            return "delivered"
        if status in ("2000", "3000"):
            return "pending"
        return "failed" if status else None


# ---------------------------------------------------------------------------------------
# Aligo


class AligoSms(_HttpProvider):
    """Aligo (smartsms.aligo.in) SMS API.

    Docs: https://smartsms.aligo.in/admin/api/spec.html and
    https://demosms.aligo.in/admin/api/status.html

    * ``POST /send/``, form-encoded (UTF-8): ``key``, ``user_id``, ``sender``, ``receiver``,
      ``msg``, ``msg_type`` (``SMS``/``LMS``; set explicitly so Aligo does not guess from
      its own byte count), ``title`` (LMS only), optional ``testmode_yn=Y``.
    * Answer (always HTTP 200): ``{result_code, message, msg_id, success_cnt, error_cnt,
      msg_type}``; ``result_code`` 1 is success, anything else (negative) is an error.
    * Receipt: ``POST /sms_list/`` with ``key``, ``userid``, ``mid`` → ``list[].sms_state``.
    """

    name = "aligo"

    def submit(self, message: SmsMessage, text: SmsText) -> ProviderReply:
        reply = self._submit(message, text)
        self._log(message, text, reply)
        return reply

    def _submit(self, message: SmsMessage, text: SmsText) -> ProviderReply:  # noqa: PLR0911 - one return per documented outcome
        to = self._recipient(message)
        if isinstance(to, ProviderReply):
            return to
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
        answer = self._exchange("POST", "/send/", data=form)
        if isinstance(answer, ProviderReply):
            return answer
        hide = (text.body, text.subject, message.to, to)
        code = answer.field("result_code")
        detail = " ".join(str(v) for v in (code, answer.field("message")) if v is not None)
        http_failure = self._http_error(answer, detail, hide)
        if http_failure is not None:
            return http_failure
        result = _as_int(code)
        if result is None:
            return self._unreadable(answer)
        if result != 1:
            return self._fail(False, self._scrub(f"result {detail}", hide))
        msg_id = answer.field("msg_id")
        if msg_id in (None, ""):
            return self._unreadable(answer)
        if _as_int(answer.field("success_cnt")) == 0:
            return self._fail(
                False, f"no recipient accepted (error_cnt {answer.field('error_cnt')})"
            )
        return ProviderReply("sent", False, provider_id=str(msg_id))

    def receipt(self, provider_id: str) -> Receipt | None:  # noqa: PLR0911 - one return per status
        if not provider_id:
            return None
        form = {"key": self._spec.secret, "userid": self._spec.user, "mid": provider_id}
        answer = self._exchange("POST", "/sms_list/", data=form)
        if isinstance(answer, ProviderReply) or not 200 <= answer.status < 300:
            return None
        if _as_int(answer.field("result_code")) != 1:
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
