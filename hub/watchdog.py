"""``anbu watchdog``: follows a hub from another machine and pages when nobody is watched.

Hears the hub two ways: its ``/health`` (asked every ``ANBU_WATCHDOG_PROBE_S``) and its
heartbeat on MQTT (:mod:`hub.heartbeat`, when ``ANBU_WATCHDOG_MQTT_URL`` is set). Either
saying ok is a healthy sighting; what to page and when is :mod:`hub.watchdog_rules`' pure
decision, what survived a restart is :mod:`hub.watchdog_state`'s file. Pages go to the
control centre's and the supervisor's numbers through the watchdog's own SMS chain (the
hub's provider interface and providers, ``log:PATH`` included).

Logs name the incident, the page kind and how many were paged, never a number, a token or
the broker's password; the SMS says nothing about any resident.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion

from alerts.clock import Clock
from hub.checks import redacted
from hub.mqtt import BrokerAddress
from hub.notify.chain import SmsChain, chain_from_setting
from hub.notify.provider import SmsMessage
from hub.notify.sms_text import prepare
from hub.steady_clock import SteadyClock
from hub.watchdog_rules import Page, WatchState, decide, page_text
from hub.watchdog_settings import WatchdogSettings
from hub.watchdog_state import Pending, Saved, load_state, save_state
from protocol.topics import HUB_HEARTBEAT_TOPIC

__all__ = ["Sightings", "Watchdog", "healthy_heartbeat"]

log = structlog.get_logger(__name__)
SUBJECT = "안부 허브 감시"


class Sightings:
    """The latest healthy sighting of the hub, from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ok: datetime | None = None

    def ok(self, at: datetime) -> None:
        with self._lock:
            if self._last_ok is None or at > self._last_ok:
                self._last_ok = at

    @property
    def last_ok(self) -> datetime | None:
        with self._lock:
            return self._last_ok


def healthy_heartbeat(payload: bytes | bytearray) -> bool:
    """Whether a heartbeat says the hub, its database and its broker are all ok."""
    try:
        body = json.loads(payload)
    except ValueError:
        return False
    return (
        isinstance(body, dict)
        and body.get("status") == "ok"
        and body.get("database") is True
        and body.get("broker") is True
    )


class _HeartbeatListener:
    """Subscribes to the hub's heartbeat; every healthy one is a sighting at its arrival
    (by the watchdog's clock: the hub's may be wrong, and that must not hide a silence)."""

    def __init__(self, settings: WatchdogSettings, sightings: Sightings, clock: Clock) -> None:
        url = settings.mqtt_url.get_secret_value() if settings.mqtt_url else ""
        self._address = BrokerAddress.parse(url)
        self._sightings = sightings
        self._clock = clock
        self.url = redacted(url)
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            # Its own id each run: a session of its own would only queue stale heartbeats.
            client_id=f"{settings.mqtt_client_id}-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        if self._address.username:
            self._client.username_pw_set(self._address.username, self._address.password)
        if self._address.tls:
            ca = str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None
            self._client.tls_set(ca_certs=ca)
        self._client.reconnect_delay_set(min_delay=1, max_delay=10)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message

    def start(self) -> None:
        self._client.connect_async(self._address.host, self._address.port, keepalive=30)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.warning("watchdog.broker_refused", broker=self.url, reason=str(reason))
            return
        client.subscribe(HUB_HEARTBEAT_TOPIC, qos=0)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        # A retained heartbeat may be from a hub long dead: not a sighting.
        if not message.retain and healthy_heartbeat(message.payload):
            self._sightings.ok(self._clock.now())


class Watchdog:
    """One watchdog: sightings in, pages out. ``run(stop)`` until ``stop`` is set."""

    def __init__(
        self,
        settings: WatchdogSettings,
        *,
        clock: Clock | None = None,
        chain: SmsChain | None = None,
    ) -> None:
        self.settings = settings
        # The hub's own kind of clock: a step of the wall clock (NTP, a restored VM) taken at
        # once would look like a silence that long and page for it (hub/steady_clock.py).
        self.clock: Clock = clock or SteadyClock()
        self.chain = chain or chain_from_setting(settings.sms.get_secret_value(), self.clock)
        self.sightings = Sightings()
        self._recipients = settings.recipients()
        self._saved = load_state(settings.state_file)
        self._watching_since = self.clock.now()
        self._seen = False
        self._said_already_paged = False
        self._stop = threading.Event()
        self._http = httpx.Client(timeout=settings.probe_timeout_s)
        self._listener: _HeartbeatListener | None = None
        if settings.mqtt_url is not None:
            self._listener = _HeartbeatListener(settings, self.sightings, self.clock)

    @property
    def state(self) -> WatchState:
        return self._saved.watch

    def run(self, stop: threading.Event) -> None:
        self._stop = stop
        self._settle_in_doubt()
        log.info(
            "watchdog.started",
            hub=self.settings.hub_url,
            broker=self._listener.url if self._listener else None,
            recipients=len(self._recipients),
            down_after_s=self.settings.down_after.total_seconds(),
            incident=self.state.incident,
            down=self.state.down,
        )
        if self._listener is not None:
            self._listener.start()
        try:
            while not stop.is_set():
                self.tick()
                stop.wait(self.settings.probe_s)
        finally:
            if self._listener is not None:
                self._listener.stop()
            self._http.close()

    def tick(self) -> None:
        """Ask ``/health``, decide, page what is due."""
        if self._probe():
            self.sightings.ok(self.clock.now())
        last_ok = self.sightings.last_ok
        before = self.state
        decision = decide(
            before,
            now=self.clock.now(),
            last_ok=last_ok,
            watching_since=self._watching_since,
            down_after=self.settings.down_after,
        )
        if decision.page is not None:
            self._page(before, decision.state, decision.page)
        elif decision.state.down and not self._said_already_paged:
            # Once per run while an outage it paged lasts (after a restart: it did not
            # page it again); tests wait for this.
            self._said_already_paged = True
            log.info("watchdog.down_already_paged", incident=decision.state.incident)
        self._send_pending()
        if last_ok is not None and not self._seen:
            # After this tick's pages: whoever waits for it knows they were decided.
            self._seen = True
            log.info("watchdog.hub_seen", incident=self.state.incident, down=self.state.down)

    def _probe(self) -> bool:
        try:
            answer = self._http.get(f"{self.settings.hub_url}/health")
            body = answer.json()
        except (httpx.HTTPError, ValueError):
            return False
        return answer.status_code == 200 and isinstance(body, dict) and body.get("status") == "ok"

    def _page(self, before: WatchState, after: WatchState, page: Page) -> None:
        paged_at = after.paged_at if page.kind == "down" else before.paged_at
        stamp = paged_at.strftime("%Y%m%dT%H%M%S") if paged_at else "-"
        body = page_text(page)
        new = tuple(
            Pending(
                key=f"watchdog-{page.incident}-{stamp}-{page.kind}-{role}-{index}",
                role=role,
                index=index,
                kind=page.kind,
                body=body,
            )
            for index, (role, _number) in enumerate(self._recipients)
        )
        # Written before any of it is sent: from here on a restart cannot decide it again.
        self._save(Saved(after, self._saved.pending + new))
        log.warning(
            "watchdog.page",
            kind=page.kind,
            incident=page.incident,
            down_for_s=round(page.down_for.total_seconds(), 1),
            recipients=len(new),
        )

    def _save(self, saved: Saved) -> None:
        save_state(self.settings.state_file, saved)
        self._saved = saved

    def _replace(self, old: Pending, new: Pending | None) -> None:
        if new is None:
            pending = tuple(p for p in self._saved.pending if p.key != old.key)
        else:
            pending = tuple(new if p.key == old.key else p for p in self._saved.pending)
        self._save(Saved(self._saved.watch, pending))

    def _settle_in_doubt(self) -> None:
        """A page whose provider call a dead watchdog left unfinished: done if the provider
        says it went out, due again if it says not, given up if it cannot tell."""
        for item in self._saved.pending:
            if item.calling is None:
                continue
            provider = self.chain.get(item.calling)
            went = provider.already_sent(item.key) if provider is not None else None
            if went is False:
                self._replace(item, item.calling_now(None))
                continue
            if went is None:
                log.error("watchdog.sms_in_doubt", key=item.key, provider=item.calling)
            self._replace(item, None)

    def _send_pending(self) -> None:
        for item in self._saved.pending:
            if self._stop.is_set():
                return
            self._send(item)

    def _send(self, item: Pending) -> None:
        role, number = self._recipient(item)
        if number is None:
            log.error("watchdog.recipient_gone", key=item.key, role=role)
            self._replace(item, None)
            return
        message = SmsMessage(
            key=item.key,
            to=number,
            role=role,
            resident=None,
            alert_id=None,
            kind=f"watchdog_{item.kind}",
            stage=None,
            body=item.body,
        )
        current = item

        def before_call(provider: str) -> None:
            nonlocal current
            updated = current.calling_now(provider)
            self._replace(current, updated)
            current = updated

        def after_failure(_provider: str, _error: str | None) -> None:
            nonlocal current
            updated = current.calling_now(None)
            self._replace(current, updated)
            current = updated

        outcome = self.chain.send(
            message,
            prepare(item.body, SUBJECT),
            before_call=before_call,
            after_failure=after_failure,
            stop=self._stop,
        )
        if outcome.state == "sent":
            self._replace(current, None)
            log.info("watchdog.sms_sent", key=item.key, role=role, provider=outcome.provider)
        elif outcome.state == "unknown":
            # It may have gone out: never repeated (the hub's rule for a send in doubt).
            self._replace(current, None)
            log.error("watchdog.sms_unknown", key=item.key, role=role, error=outcome.error)
        elif outcome.state == "failed" and not outcome.retryable:
            self._replace(current, None)
            log.error("watchdog.sms_refused", key=item.key, role=role, error=outcome.error)
        else:  # failed for now, or stopping: kept, tried again on the next tick
            self._replace(current, current.calling_now(None))
            log.warning("watchdog.sms_retry", key=item.key, role=role, error=outcome.error)

    def _recipient(self, item: Pending) -> tuple[str, str | None]:
        if 0 <= item.index < len(self._recipients):
            role, number = self._recipients[item.index]
            if role == item.role:
                return role, number
        return item.role, None
