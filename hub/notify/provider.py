"""The one SMS provider interface, and the message and reply that cross it.

Every way of sending an SMS (the ``log:PATH`` file, each HTTP provider in
:mod:`hub.notify.providers`) is an :class:`SmsProvider`, and the failover chain of
:mod:`hub.notify.chain` holds nothing else, so no adapter sits between them.

A send ends ``sent``, ``failed`` (safe to retry when ``retryable``) or ``unknown`` (it may
have gone out: never retried automatically, so nobody is paged twice).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from hub.notify.sms_text import SmsText

__all__ = ["ProviderReply", "Receipt", "ReplyState", "SmsMessage", "SmsProvider"]

ReplyState = Literal["sent", "failed", "unknown"]
Receipt = Literal["delivered", "failed", "pending"]


@dataclass(frozen=True, slots=True)
class SmsMessage:
    """One outbox row as a provider sees it (``body`` already prepared for SMS)."""

    key: str
    to: str
    role: str | None
    resident: str | None
    alert_id: str | None
    kind: str | None
    stage: str | None
    body: str


@dataclass(frozen=True, slots=True)
class ProviderReply:
    """What one provider said about one message."""

    state: ReplyState
    retryable: bool
    provider_id: str | None = None
    error: str | None = None


class SmsProvider(Protocol):
    """A provider as the chain and the dispatcher use it."""

    # The name the outbox records (``provider``, ``calling``) to find it again after a restart.
    name: str

    def submit(self, message: SmsMessage, text: SmsText) -> ProviderReply:
        """Hand one message over; never raises for a refusal the provider put into words."""
        ...

    def receipt(self, provider_id: str) -> Receipt | None:
        """Delivery state of an accepted message; ``None`` when it cannot be asked."""
        ...

    def already_sent(self, key: str) -> bool | None:
        """Whether the message with this outbox key went out; ``None`` when it cannot tell."""
        ...
