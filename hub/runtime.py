"""The running hub: builds storage, core, MQTT bridge, dispatcher and HTTP server from settings.

``Hub(settings).start()`` brings everything up in dependency order; ``stop()`` takes it
down in reverse. Tests and the demo pass their own settings, clock and broker. At start it
warns when nobody could sign in (no ``ANBU_ADMIN_TOKEN`` and no admin user) and, through
:class:`hub.checks.BrokerWatch`, while the broker does not answer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import structlog
import uvicorn

from alerts.calendar import WorkingCalendar
from alerts.clock import Clock
from alerts.engine import Escalation
from hub.api.app import create_app
from hub.changes import ChangeFeed
from hub.checks import BrokerWatch, plaintext_broker, redacted
from hub.clock_check import ClockCheck
from hub.health import PROBE_TIMEOUT_S, Health
from hub.heartbeat import DEFAULT_INTERVAL_S, HubHeartbeat
from hub.metrics import HubMetrics
from hub.mqtt import MqttBridge
from hub.notify.chain import SmsChain, chain_from_setting
from hub.notify.channels import ExtraChannels
from hub.notify.dispatcher import Dispatcher
from hub.service import HubCore
from hub.settings import Settings
from hub.steady_clock import SteadyClock
from hub.store.db import Engine, migrate, open_engine, open_probe_engine, reading
from hub.store.users import live_admins
from hub.telemetry import Telemetry
from hub.worker import IngestWorker

log = structlog.get_logger(__name__)
T = TypeVar("T")
PUBLISH_TIMEOUT_S = 5.0


def working_calendar(settings: Settings) -> WorkingCalendar:
    """The officials' calendar the settings describe (zone, 임시공휴일 of ANBU_EXTRA_HOLIDAYS)."""
    return WorkingCalendar(tz=settings.tz, extra_holidays=frozenset(settings.extra_holidays))


class Hub:
    """One hub process's parts, started and stopped together."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        sms: SmsChain | None = None,
        serve_http: bool = True,
        heartbeat_s: float = DEFAULT_INTERVAL_S,
    ) -> None:
        self.settings = settings
        # Its own time, which does not take a step of the wall clock at once (a step would
        # make every resident look silent, or every step late): hub/steady_clock.py.
        self.steady_clock: SteadyClock | None = None
        if clock is None:
            clock = self.steady_clock = SteadyClock()
        self.clock: Clock = clock
        self._sms = sms
        self.changes = ChangeFeed()
        # Its own registry per hub; the scrape reads engine, worker and telemetry once set.
        self.metrics = HubMetrics()
        self.metrics.watch(self)
        # The TSDB sink (ANBU_INFLUX_URL); None when off. Read by the metrics.
        self.telemetry: Telemetry | None = None
        self._serve_http = serve_http
        self._broker: Any = None
        self._stopped = False
        self._server: uvicorn.Server | None = None
        self._server_thread: threading.Thread | None = None
        self._broker_watch: BrokerWatch | None = None
        # The hub's heartbeat on MQTT for `anbu watchdog` (hub/heartbeat.py).
        self._heartbeat_s = heartbeat_s
        self._heartbeat: HubHeartbeat | None = None
        self.engine: Engine
        self.health_check: Health
        self.core: HubCore
        self.worker: IngestWorker
        self.bridge: MqttBridge
        self.dispatcher: Dispatcher

    # -------------------------------------------------------------- lifecycle

    def start(self) -> Hub:
        settings = self.settings
        self.engine = open_engine(settings.db_url)
        migrate(self.engine)
        self.health_check = Health(
            open_probe_engine(settings.db_url, PROBE_TIMEOUT_S), settings.health_max_behind_s
        )
        self._warn_if_nobody_can_sign_in()
        plaintext = plaintext_broker(settings.mqtt_url)
        if plaintext is not None:
            log.warning("hub.plaintext_broker", hint=plaintext)
        escalation = Escalation(working_calendar(settings))
        self.telemetry = Telemetry.from_settings(settings)
        if self.telemetry is not None:
            self.telemetry.start()
        self.core = HubCore(
            self.engine, escalation, settings, metrics=self.metrics, telemetry=self.telemetry
        )
        # The hub's clock against its devices', the database's and NTP's (/health's clock).
        self.clock_check = ClockCheck(
            self.core.device_clocks,
            self.health_check.engine,
            self.clock.now,
            settings.clock_max_skew_s,
            self.steady_clock,
        )
        self.clock_check.start()
        mqtt_url, protocol = self._broker_url()
        self.bridge = MqttBridge(
            mqtt_url,
            settings.mqtt_client_id,
            self._on_message,
            protocol=protocol,
            ca_file=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None,
        )
        chain = self._sms or chain_from_setting(settings.sms.get_secret_value(), self.clock)
        channels = ExtraChannels([u.get_secret_value() for u in settings.notify_urls])
        self.dispatcher = Dispatcher(
            self.engine,
            chain,
            self._publish,
            self.clock,
            channels=channels,
            on_problem=self._delivery_problem,
            on_change=self.changes.bump,
            on_outcome=self.metrics.notification,
            receipt_poll_s=settings.receipt_poll_s,
        )
        self.worker = IngestWorker(
            self.core,
            self.clock,
            self.bridge.ack,
            self._after_commit,
            batch_max=settings.ingest_batch,
            queue_max=settings.ingest_queue,
        )
        self.worker.start()
        self.dispatcher.start()
        self.bridge.start()
        self._broker_watch = BrokerWatch(self.bridge.connected, redacted(mqtt_url))
        self._broker_watch.start()
        self._heartbeat = HubHeartbeat(
            self.health,
            lambda topic, payload: self.bridge.publish(topic, payload, qos=0),
            self.bridge.connected,
            self.clock.now,
            hub=settings.mqtt_client_id,
            interval_s=self._heartbeat_s,
        )
        self._heartbeat.start()
        if self._serve_http:
            self._start_http()
        log.info("hub.started", http=settings.http, db=self.engine.url.get_backend_name())
        return self

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._server is not None:
            self._server.should_exit = True
            if self._server_thread is not None:
                self._server_thread.join(timeout=10)
        if self._broker_watch is not None:
            self._broker_watch.stop()
        if self._heartbeat is not None:
            self._heartbeat.stop()
        self.clock_check.stop()
        self.bridge.stop()
        self.worker.stop()
        self.dispatcher.stop()
        if self.telemetry is not None:
            self.telemetry.close()
        self.engine.dispose()
        self.health_check.close()
        if self._broker is not None:
            self._broker.stop()
        log.info("hub.stopped")

    def wait_ready(self, timeout: float = 15.0) -> bool:
        """Block until the hub is connected to its broker (and serving HTTP, if it does)."""
        if not self.bridge.connected.wait(timeout):
            return False
        if self._server is None:
            return True
        deadline = threading.Event()
        for _ in range(int(timeout * 20)):
            if self._server.started:
                return True
            deadline.wait(0.05)
        return False

    def _warn_if_nobody_can_sign_in(self) -> None:
        if self.settings.admin_token is not None:
            return
        with reading(self.engine) as conn:
            admins = live_admins(conn)
        if admins == 0:
            log.warning(
                "hub.no_admin_token",
                hint=(
                    "ANBU_ADMIN_TOKEN 이 없고 관리자도 없어 아무도 사용자를 만들 수 없습니다: "
                    "ANBU_ADMIN_TOKEN 을 설정하거나 `anbu users add --role admin` / "
                    "no ANBU_ADMIN_TOKEN and no admin user, so nobody can create users: set "
                    "ANBU_ADMIN_TOKEN or run `anbu users add --role admin`"
                ),
            )

    def _broker_url(self) -> tuple[str, str]:
        if self.settings.mqtt_url != "embedded":
            return self.settings.mqtt_url, self.settings.mqtt_protocol
        from hub.broker import Broker

        self._broker = Broker.best()
        self._broker.start()
        speaks_v5 = any(version.startswith("5") for version in self._broker.protocol_versions)
        protocol = "5" if speaks_v5 else "3.1.1"
        return self._broker.url, protocol

    def _start_http(self) -> None:
        app = create_app(self)
        config = uvicorn.Config(
            app,
            host=self.settings.http_host,
            port=self.settings.http_port,
            log_level="warning",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._server_thread = threading.Thread(
            target=self._server.run, name="anbu-http", daemon=True
        )
        self._server_thread.start()

    # ---------------------------------------------------------- collaborators

    def _on_message(self, message: Any) -> None:
        self.worker.submit(message)

    def _after_commit(self) -> None:
        self.dispatcher.wake()
        self.changes.bump()

    def _delivery_problem(self, row_id: int, what: str) -> None:
        # The dispatcher's thread hands the bookkeeping to the one writer.
        self.worker.call(lambda now: self.core.delivery_problem(row_id, what, now))

    def _publish(self, topic: str, payload: bytes) -> bool:
        if not self.bridge.connected.is_set():
            return False
        info = self.bridge.publish(topic, payload, qos=1)
        try:
            info.wait_for_publish(timeout=PUBLISH_TIMEOUT_S)
        except (RuntimeError, ValueError):
            return False
        return info.is_published()

    # -------------------------------------------------------------- API backend

    def call(self, fn: Callable[[datetime], T]) -> T:
        return self.worker.call(fn)

    def now(self) -> datetime:
        return self.clock.now()

    def health(self) -> dict[str, Any]:
        """The ``/health`` answer (:mod:`hub.health`); returns within about a second."""
        report = self.health_check.report(
            mqtt=self.bridge.connected.is_set(),
            backlog=self.worker.backlog(),
            writes=self.worker.writes,
        )
        # The hub's clock against its devices' (hub/clock_check.py): degraded beyond the bound.
        report["clock"] = clock = self.clock_check.report()
        # What the broker dropped since it started (hub/mqtt.py); None: it does not say.
        report["broker_dropped"] = self.bridge.broker_dropped
        if not clock["ok"]:
            report["problems"] = [*report["problems"], "clock_skew"]
            report["status"] = "degraded"
        if abs(clock.get("held_s", 0.0)) > self.settings.clock_max_skew_s:
            report["problems"] = [*report["problems"], "clock_step"]
            report["status"] = "degraded"
        return report
