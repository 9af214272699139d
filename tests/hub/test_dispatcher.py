"""The outbox dispatcher: order of sending, retries, and recovery of sends in doubt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, insert, select

from alerts.clock import FakeClock
from hub.notify.chain import SmsChain
from hub.notify.dispatcher import Dispatcher
from hub.notify.provider import ProviderReply, Receipt, SmsMessage, SmsProvider
from hub.notify.providers.log import LogProvider
from hub.notify.sms_text import SmsText, prepare
from hub.store.tables import outbox
from tests.hub.support import read_sms

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


class FlakyProvider:
    """Fails the first ``failures`` sends (as a 500 would), then records the rest."""

    def __init__(self, failures: int, name: str = "flaky") -> None:
        self.name = name
        self.failures = failures
        self.sent: list[str] = []

    def submit(self, message: SmsMessage, text: SmsText) -> ProviderReply:
        if self.failures > 0:
            self.failures -= 1
            return ProviderReply("failed", retryable=True, error="HTTP 500")
        self.sent.append(message.key)
        return ProviderReply("sent", retryable=False, provider_id=f"id-{message.key}")

    def receipt(self, provider_id: str) -> Receipt | None:
        return "delivered"

    def already_sent(self, key: str) -> bool | None:
        return None


def _chain(*providers: SmsProvider) -> SmsChain:
    # One try per provider: these tests drive the dispatcher's own backoff in virtual time.
    return SmsChain(list(providers), attempts_per_provider=1)


def _row(
    engine: Engine, key: str, kind: str, state: str = "pending", calling: str | None = None
) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(outbox).values(
                key=key,
                channel="sms",
                recipient="+821000000000",
                role="guardian",
                kind=kind,
                body="[안부] 테스트",
                state=state,
                attempts=0,
                created_at=NOW,
                calling=calling,
            )
        )


def _states(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {r.key: r.state for r in conn.execute(select(outbox.c.key, outbox.c.state))}


def test_emergencies_go_first(engine: Engine, tmp_path: Path) -> None:
    for n in range(3):
        _row(engine, f"routine-{n}", "inactivity")
    _row(engine, "urgent", "emergency")
    provider = LogProvider(tmp_path / "sms.jsonl")
    dispatcher = Dispatcher(engine, _chain(provider), lambda _t, _b: True, FakeClock(NOW))
    dispatcher.drain_once()
    assert next(line["key"] for line in read_sms(tmp_path / "sms.jsonl")) == "urgent"


def test_failed_send_is_retried_with_backoff(engine: Engine) -> None:
    _row(engine, "k1", "inactivity")
    clock = FakeClock(NOW)
    provider = FlakyProvider(failures=2)
    dispatcher = Dispatcher(engine, _chain(provider), lambda _t, _b: True, clock)
    dispatcher.drain_once()
    assert _states(engine) == {"k1": "pending"}
    assert dispatcher.drain_once() == 0, "a retry waits for its backoff"
    clock.advance(timedelta(seconds=3))
    dispatcher.drain_once()
    clock.advance(timedelta(seconds=5))
    dispatcher.drain_once()
    assert provider.sent == ["k1"]
    assert _states(engine) == {"k1": "sent"}


def test_send_in_doubt_after_a_crash_is_not_repeated(engine: Engine, tmp_path: Path) -> None:
    log_path = tmp_path / "sms.jsonl"
    provider = LogProvider(log_path, FakeClock(NOW))
    provider.submit(
        SmsMessage("done", "+8210", "guardian", "r1", "a1", "inactivity", "guardian", "본문"),
        prepare("본문"),
    )
    _row(engine, "done", "inactivity", state="sending", calling="log")  # crash before "sent"
    _row(engine, "lost", "inactivity", state="sending", calling="log")  # crash before the write
    _row(engine, "waiting", "inactivity", state="sending")  # crash between retries

    fresh = LogProvider(log_path)  # the restarted hub reads its log back
    Dispatcher(engine, _chain(fresh), lambda _t, _b: True, FakeClock(NOW)).recover_in_doubt()
    states = _states(engine)
    assert states["done"] == "sent"
    assert states["lost"] == "pending"
    assert states["waiting"] == "pending", "no provider call was in progress: send it"

    _row(engine, "opaque", "inactivity", state="sending", calling="flaky")
    problems: list[tuple[int, str]] = []
    Dispatcher(
        engine,
        _chain(FlakyProvider(0)),
        lambda _t, _b: True,
        FakeClock(NOW),
        on_problem=lambda row, what: problems.append((row, what)),
    ).recover_in_doubt()
    assert _states(engine)["opaque"] == "unknown", "a provider that cannot tell: never resend"
    assert [what for _, what in problems] == ["unknown"]
