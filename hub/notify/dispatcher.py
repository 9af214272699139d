"""The outbox dispatcher: hands committed outbox rows to their channel, exactly once.

Rows are written by the ingest worker in the same transaction as the decision behind
them. Here each SMS row goes ``pending → sending → sent → delivered`` (or ``failed`` /
``unknown``). Two marks are committed before anything leaves the hub: ``sending`` before
the provider chain is tried, and ``calling`` (the provider's name) before each call, cleared
when the provider definitely refused. After a crash, a ``sending`` row with no ``calling``
never left and is sent again; one still ``calling`` a provider is asked about, or marked
``unknown`` for the control centre, never silently re-sent.

A row that ends ``failed`` or ``unknown`` is reported through ``on_problem`` (the hub puts it
on the alert's timeline and pages a backup guardian). Delivery receipts are polled for rows
the provider accepted. Each row reaching ``sent``, ``delivered``, ``failed`` or ``unknown`` is
also reported through ``on_outcome`` (the hub's metrics), after the commit. The queries
behind all this are :mod:`hub.store.outbox`'s; this module decides, the store reads and writes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import structlog

from alerts.clock import Clock
from hub.notify.chain import SmsChain
from hub.notify.channels import ChannelMessage, ExtraChannels
from hub.notify.provider import SmsMessage
from hub.notify.sms_text import SmsTooLong, prepare
from hub.store import outbox
from hub.store.db import Engine, reading, writing

log = structlog.get_logger(__name__)

MAX_ATTEMPTS = 6
MAX_BACKOFF = timedelta(minutes=5)
RECEIPTS_FOR = timedelta(hours=24)
PublishFn = Callable[[str, bytes], bool]
ProblemFn = Callable[[int, str], None]
# (channel, role, outcome): a row reached sent, delivered, failed or unknown (for metrics).
OutcomeFn = Callable[[str, str | None, str], None]
OUTCOMES = frozenset({"sent", "delivered", "failed", "unknown"})


class Dispatcher:
    """Sends pending outbox rows, emergencies first, on a thread of its own."""

    def __init__(
        self,
        engine: Engine,
        chain: SmsChain,
        publish: PublishFn,
        clock: Clock,
        *,
        channels: ExtraChannels | None = None,
        on_problem: ProblemFn | None = None,
        on_change: Callable[[], None] | None = None,
        on_outcome: OutcomeFn | None = None,
        idle_wait_s: float = 0.5,
        receipt_poll_s: float = 30.0,
    ) -> None:
        self._engine = engine
        self.chain = chain
        self._publish = publish
        self._clock = clock
        self._channels = channels
        self._on_problem = on_problem
        self._on_change = on_change
        self._on_outcome = on_outcome
        self._idle_wait_s = idle_wait_s
        self._receipt_poll_s = receipt_poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="anbu-dispatcher", daemon=True)
        # Receipts are asked on their own thread: a slow provider API must never hold up a page.
        self._receipts = threading.Thread(
            target=self._run_receipts, name="anbu-receipts", daemon=True
        )

    def start(self) -> None:
        self.recover_in_doubt()
        self._thread.start()
        self._receipts.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in (self._thread, self._receipts):
            if thread.is_alive():
                thread.join(timeout=15)

    def wake(self) -> None:
        self._wake.set()

    # -- recovery -----------------------------------------------------------------------

    def recover_in_doubt(self) -> None:
        """Settle rows a previous run left ``sending`` (see the module docstring)."""
        with writing(self._engine) as conn:
            problems = []
            settled = []
            for row in outbox.in_doubt(conn):
                if row.calling is None:
                    state = "pending"  # it never reached a provider
                else:
                    provider = self.chain.get(row.calling)
                    known = provider.already_sent(row.key) if provider else None
                    state = "sent" if known else ("pending" if known is False else "unknown")
                outbox.mark(conn, row.id, {"state": state, "calling": None})
                if state == "unknown":
                    problems.append(row.id)
                settled.append((row.channel, row.role, state))
                log.warning("outbox.recovered_in_doubt", outbox_id=row.id, state=state)
        for channel, role, state in settled:
            self._outcome(channel, role, state)
        for row_id in problems:
            self._problem(row_id, "unknown")

    # -- the loop -----------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                handled = self.drain_once()
            except Exception:
                log.exception("outbox.dispatch_failed")
                handled = 0
            if handled == 0:
                self._wake.wait(self._idle_wait_s)
                self._wake.clear()

    def _run_receipts(self) -> None:
        while not self._stop.wait(self._receipt_poll_s):
            try:
                self.poll_receipts()
            except Exception:
                log.exception("outbox.receipts_failed")

    def drain_once(self, limit: int = 200) -> int:
        """Send up to ``limit`` due rows; returns how many were handled."""
        now = self._clock.now()
        with reading(self._engine) as conn:
            rows = outbox.due(conn, now, limit)  # emergencies first
        for row in rows:
            if self._stop.is_set():
                break
            if row.channel == "mqtt":
                self._send_mqtt(row.id, row.recipient, row.body)
            elif row.channel == "apprise":
                self._send_channels(row)
            else:
                self._send_sms(row)
        return len(rows)

    # -- channels -----------------------------------------------------------------------

    def _send_mqtt(self, row_id: int, topic: str, body: str) -> None:
        delivered = self._publish(topic, body.encode("utf-8"))
        values: dict[str, object] = (
            {"state": "sent", "sent_at": self._clock.now()}
            if delivered
            else {"next_attempt_at": self._clock.now() + timedelta(seconds=2)}
        )
        self._update(row_id, **values)

    def _send_channels(self, row: outbox.Pending) -> None:
        if self._channels is None or not self._channels.configured:
            self._update(row.id, state="failed", error="no ANBU_NOTIFY_URLS configured")
            return
        result = self._channels.send(
            ChannelMessage(
                title=row.body.split("\n", 1)[0][:80],
                body=row.body,
                kind=row.kind or "",
                alert_id=row.alert_id,
                resident=row.resident_id,
            )
        )
        now = self._clock.now()
        if result.delivered:
            self._update(row.id, state="delivered", sent_at=now, delivered_at=now)
        else:
            self._retry_or_fail(row.id, row.attempts + 1, result.error, retryable=True)

    def _send_sms(self, row: outbox.Pending) -> None:
        row_id: int = row.id
        attempts: int = row.attempts + 1
        with writing(self._engine) as conn:
            claimed = outbox.claim(conn, row_id, attempts)
        if not claimed:
            return
        try:
            text = prepare(row.body)
        except SmsTooLong as error:
            self._update(row_id, state="failed", error=str(error))
            self._problem(row_id, "failed")
            return
        message = SmsMessage(
            key=row.key,
            to=row.recipient,
            role=row.role,
            resident=row.resident_id,
            alert_id=row.alert_id,
            kind=row.kind,
            stage=row.stage,
            body=text.body,
        )
        try:
            outcome = self.chain.send(
                message,
                text,
                before_call=lambda name: self._update(row_id, calling=name, provider=name),
                after_failure=lambda _name, error: self._update(row_id, calling=None, error=error),
                stop=self._stop,
            )
        except Exception:  # a provider bug must not stop the queue
            log.exception("outbox.provider_error", outbox_id=row_id)
            self._update(row_id, calling=None)
            self._retry_or_fail(row_id, attempts, "provider error", retryable=True)
            return
        now = self._clock.now()
        if outcome.state == "interrupted":
            return  # stopping: left "sending" without a call in progress, resent on start
        if outcome.state == "sent":
            self._update(
                row_id,
                state="sent",
                sent_at=now,
                calling=None,
                error=None,
                provider=outcome.provider,
                provider_id=outcome.provider_id,
            )
        elif outcome.state == "unknown":
            self._update(row_id, state="unknown", calling=None, error=outcome.error)
            self._problem(row_id, "unknown")
        else:
            self._retry_or_fail(row_id, attempts, outcome.error, retryable=outcome.retryable)
        log.info("outbox.sms", outbox_id=row_id, state=outcome.state, provider=outcome.provider)

    def _retry_or_fail(
        self, row_id: int, attempts: int, error: str | None, *, retryable: bool
    ) -> None:
        if retryable and attempts < MAX_ATTEMPTS:
            backoff = min(timedelta(seconds=2**attempts), MAX_BACKOFF)
            self._update(
                row_id, state="pending", error=error, next_attempt_at=self._clock.now() + backoff
            )
            return
        self._update(row_id, state="failed", error=error)
        self._problem(row_id, "failed")

    # -- receipts -----------------------------------------------------------------------

    def poll_receipts(self) -> int:
        """Ask providers about messages they accepted; returns how many were settled."""
        since = self._clock.now() - RECEIPTS_FOR
        with reading(self._engine) as conn:
            rows = outbox.awaiting_receipt(conn, since, limit=500)
        settled = 0
        for row in rows:
            provider = self.chain.get(row.provider) if row.provider else None
            receipt = provider.receipt(row.provider_id) if provider else None
            if receipt == "delivered":
                self._update(row.id, state="delivered", delivered_at=self._clock.now())
                settled += 1
            elif receipt == "failed":
                self._update(row.id, state="failed", error="the carrier could not deliver it")
                self._problem(row.id, "failed")
                settled += 1
        return settled

    # -- helpers ------------------------------------------------------------------------

    def _update(self, row_id: int, **values: object) -> None:
        state = values.get("state")
        settled = None
        with writing(self._engine) as conn:
            if self._on_outcome is not None and state in OUTCOMES:
                settled = outbox.mark_outcome(conn, row_id, values)
            else:
                outbox.mark(conn, row_id, values)
        if settled is not None:
            self._outcome(settled.channel, settled.role, str(state))
        if self._on_change is not None and "state" in values:
            self._on_change()  # the board shows delivery states

    def _outcome(self, channel: str, role: str | None, state: str) -> None:
        if self._on_outcome is None or state not in OUTCOMES:
            return
        try:
            self._on_outcome(channel, role, state)
        except Exception:  # counting must never hold up a page
            log.exception("outbox.outcome_report_failed")

    def _problem(self, row_id: int, what: str) -> None:
        if self._on_problem is None:
            return
        try:
            self._on_problem(row_id, what)
        except Exception:
            log.exception("outbox.problem_report_failed", outbox_id=row_id)
