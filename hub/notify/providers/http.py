"""What the HTTP SMS providers share: the one ``submit()``, the exchange, and its classification.

Each provider (:mod:`~hub.notify.providers.nhn_cloud`, :mod:`~hub.notify.providers.solapi`,
:mod:`~hub.notify.providers.aligo`) says only how its API is asked and how its answers read;
this module owns the rest: the one ``submit()`` every provider goes through (recipient,
request, answer, log line), and turning transport failures and HTTP statuses into replies.
Each is built from a spec parsed by :mod:`~hub.notify.providers.spec`.

Every outcome is classified so the dispatcher can decide whether to retry:

* the request never left (refused, DNS, connect timeout) → ``failed``, retryable;
* HTTP 5xx, 429 or 408 → ``failed``, retryable;
* other 4xx, or a provider error code in a 2xx body → ``failed``, not retryable;
* no answer after the request was sent, or an answer that cannot be read → ``unknown``:
  it may have gone out, so it is never retried automatically;
* accepted → ``sent`` with the provider's id, which ``receipt()`` can look up later.

Secrets, full phone numbers and message bodies never appear in ``error`` or in logs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
import structlog

from hub.notify.provider import ProviderReply, Receipt, SmsMessage
from hub.notify.providers.spec import Spec, phone_digits
from hub.notify.sms_text import SmsText

__all__ = ["Answer", "HttpSmsProvider", "Request", "as_int", "key_ref"]

log = structlog.get_logger(__name__)

_MAX_ERROR_CHARS = 200


def key_ref(key: str) -> str:
    """A stable, PII-free reference for an outbox key (the key itself contains the phone)."""
    return "anbu-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


def as_int(value: Any) -> int | None:
    """A provider's code as a number, whether it came as a number or a string."""
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request a provider wants made: method, path and httpx's keyword arguments."""

    method: str
    path: str
    options: dict[str, Any] = field(default_factory=dict)


class Answer:
    """An HTTP answer whose body has been read (or found unreadable)."""

    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        self.data: Any = None
        try:
            self.data = response.json()
        except ValueError:
            self.data = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def field(self, *path: str) -> Any:
        node: Any = self.data
        for step in path:
            if not isinstance(node, Mapping):
                return None
            node = node.get(step)
        return node


class HttpSmsProvider:
    """An SMS provider spoken to over HTTP; subclasses fill in the provider's own API.

    A subclass names its ``scheme`` and what its two credentials are called, builds the
    send request (:meth:`_send_request`), says what an error answer's code and wording are
    (:meth:`_error_detail`), reads an accepted answer (:meth:`_read_accepted`) and asks for
    receipts (:meth:`receipt`, with :meth:`_ask`).
    """

    name = "http"
    scheme: ClassVar[str] = ""
    credentials: ClassVar[tuple[str, str]] = ("user", "secret")
    has_testmode: ClassVar[bool] = False

    def __init__(self, spec: Spec) -> None:
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

    # -- the interface ---------------------------------------------------------------

    def submit(self, message: SmsMessage, text: SmsText) -> ProviderReply:
        reply = self._submit(message, text)
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
        return reply

    def receipt(self, provider_id: str) -> Receipt | None:
        return None

    def already_sent(self, key: str) -> bool | None:
        # The APIs can look a message up by its id, not by our key: an in-doubt send stays so.
        return None

    # -- what each provider fills in -------------------------------------------------

    def _send_request(self, to: str, message: SmsMessage, text: SmsText) -> Request:
        raise NotImplementedError

    def _error_detail(self, answer: Answer) -> str:
        """The provider's own code and wording in an answer, for an error message."""
        raise NotImplementedError

    def _read_accepted(
        self, answer: Answer, text: SmsText, hide: Iterable[str | None]
    ) -> ProviderReply:
        """The reply for a 2xx answer to the send request."""
        raise NotImplementedError

    # -- shared mechanics ------------------------------------------------------------

    def _submit(self, message: SmsMessage, text: SmsText) -> ProviderReply:
        to = phone_digits(message.to)
        if to is None:
            return self._fail(False, "recipient is not a Korean phone number")
        request = self._send_request(to, message, text)
        answer = self._exchange(request)
        if isinstance(answer, ProviderReply):
            return answer
        hide = (text.body, text.subject, message.to, to)
        status = answer.status
        if not answer.ok:
            detail = self._error_detail(answer)
            reason = self._scrub(f"HTTP {status}" + (f" ({detail})" if detail else ""), hide)
            # 5xx: the provider broke before accepting; 429: it asked us to come back;
            # 408: it gave up waiting for our request. Everything else 4xx will fail again.
            return self._fail(status >= 500 or status in (408, 429), reason)
        return self._read_accepted(answer, text, hide)

    def _ask(self, request: Request) -> Answer | None:
        """A receipt look-up's 2xx answer; ``None`` when there is none to read."""
        answer = self._exchange(request)
        if isinstance(answer, ProviderReply) or not answer.ok:
            return None
        return answer

    def _exchange(self, request: Request) -> Answer | ProviderReply:
        """Send one request; either the answer or the reply that classifies its failure."""
        try:
            response = self._client.request(request.method, request.path, **request.options)
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
        return Answer(response)

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

    def _refused(
        self, reason: str, hide: Iterable[str | None], retryable: bool = False
    ) -> ProviderReply:
        """A 2xx answer that refuses the message in the provider's own words (scrubbed)."""
        return self._fail(retryable, self._scrub(reason, hide))

    def _unreadable(self, answer: Answer) -> ProviderReply:
        # A 2xx we cannot read: the provider took the request and may have sent it.
        error = f"{self.name}: HTTP {answer.status} with an unreadable body"
        return ProviderReply("unknown", False, error=error)
