"""The SMS provider chain of ``ANBU_SMS``: providers in order, each retried with backoff.

``ANBU_SMS="nhn://KEY:SECRET@sms.api.nhncloudservice.com?sender=0212345678,solapi://…"``: a
message goes to the first provider; a retryable failure (5xx, connection refused) is retried
with exponential backoff (tenacity), then the next provider takes over. A definite refusal
of the message itself (4xx) also moves on. An answer that may hide a send (a timeout after
the request went out) stops the chain: paging twice is avoided, and the notification is
marked ``unknown`` for the control centre to see. Every link is a
:class:`~hub.notify.provider.SmsProvider`, built by :mod:`hub.notify.providers`.

Before each call the dispatcher records which provider is being called (``before_call``),
and clears it after a definite failure (``after_failure``), so a hub that dies in the
middle knows whether a message might have gone out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import structlog
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
)

from alerts.clock import Clock
from hub.notify.provider import ProviderReply, SmsMessage, SmsProvider
from hub.notify.providers import provider_from_spec
from hub.notify.sms_text import SmsText

log = structlog.get_logger(__name__)

OutcomeState = Literal["sent", "failed", "unknown", "interrupted"]


@dataclass(frozen=True)
class ChainOutcome:
    """How the chain ended for one message."""

    state: OutcomeState
    provider: str | None = None
    provider_id: str | None = None
    error: str | None = None
    retryable: bool = False
    calls: int = 0


class _StoppingError(Exception):
    """The hub is stopping; the message stays in doubt-free ``sending`` for recovery."""


class SmsChain:
    """Providers tried in order for each message."""

    def __init__(
        self,
        providers: Sequence[SmsProvider],
        *,
        attempts_per_provider: int = 3,
        wait_min_s: float = 0.5,
        wait_max_s: float = 4.0,
        rest_s: float = 30.0,
    ) -> None:
        if not providers:
            msg = "ANBU_SMS names no provider"
            raise ValueError(msg)
        names = [p.name for p in providers]
        if len(set(names)) != len(names):
            msg = f"ANBU_SMS names a provider twice: {', '.join(names)}"
            raise ValueError(msg)
        self.providers = list(providers)
        self._attempts = attempts_per_provider
        self._wait = (wait_min_s, wait_max_s)
        self.rest_s = rest_s
        self._down_until: dict[str, float] = {}

    def _in_service_order(self) -> list[SmsProvider]:
        """Configured order, but a provider that just failed goes last for ``rest_s``, so
        every message in a queue does not wait out its retries again."""
        now = time.monotonic()
        up = [p for p in self.providers if self._down_until.get(p.name, 0.0) <= now]
        resting = [p for p in self.providers if p not in up]
        return up + resting

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.providers]

    def get(self, name: str) -> SmsProvider | None:
        return next((p for p in self.providers if p.name == name), None)

    def send(
        self,
        message: SmsMessage,
        text: SmsText,
        *,
        before_call: Callable[[str], None],
        after_failure: Callable[[str, str | None], None],
        stop: threading.Event,
    ) -> ChainOutcome:
        """Try every provider in turn; see the module docstring for when it moves on."""
        calls = 0
        last: ProviderReply | None = None
        for provider in self._in_service_order():

            def attempt(provider: SmsProvider = provider) -> ProviderReply:
                nonlocal calls
                before_call(provider.name)
                calls += 1
                reply = provider.submit(message, text)
                if reply.state == "failed":
                    after_failure(provider.name, reply.error)
                return reply

            try:
                reply = self._retrying(stop)(attempt)
            except _StoppingError:
                return ChainOutcome("interrupted", calls=calls)
            if reply.state == "sent":
                return ChainOutcome("sent", provider.name, reply.provider_id, calls=calls)
            if reply.state == "unknown":
                return ChainOutcome("unknown", provider.name, error=reply.error, calls=calls)
            if reply.retryable:
                self._down_until[provider.name] = time.monotonic() + self.rest_s
            log.warning(
                "sms.provider_failed",
                provider=provider.name,
                retryable=reply.retryable,
                error=reply.error,
            )
            last = reply
        return ChainOutcome(
            "failed",
            error=last.error if last else None,
            retryable=bool(last and last.retryable),
            calls=calls,
        )

    def _retrying(self, stop: threading.Event) -> Retrying:
        def sleep(seconds: float) -> None:
            if stop.wait(seconds):
                raise _StoppingError

        def give_up(state: RetryCallState) -> ProviderReply:
            # Out of attempts with this provider: hand its last answer back to the chain.
            outcome = state.outcome
            if outcome is None:  # pragma: no cover - tenacity always has one here
                msg = "no attempt was made"
                raise RuntimeError(msg)
            reply: ProviderReply = outcome.result()
            return reply

        return Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=self._wait[0], min=self._wait[0], max=self._wait[1]),
            retry=retry_if_result(lambda r: r.state == "failed" and r.retryable),
            retry_error_callback=give_up,
            sleep=sleep,
        )


def chain_from_setting(setting: str, clock: Clock | None = None) -> SmsChain:
    """Build the chain named by ``ANBU_SMS`` (comma-separated; ``log:PATH`` stays valid)."""
    parts = (p.strip() for p in setting.split(","))
    return SmsChain([provider_from_spec(part, clock) for part in parts if part])
