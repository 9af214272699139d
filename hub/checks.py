"""Is what the settings name reachable? The hub's start-up warnings and ``anbu hub --check``.

Owns three things an installer sees when a part is missing:

* :func:`run_checks` (``anbu hub --check``): the settings are already valid; connect to the
  database and the broker once each, print one line per part, and say which failed. The
  broker binds the hub's user to its client id (deploy/mosquitto), so only the hub's own id
  can test its credentials, and connecting as it would take over a running hub's session:
  when a hub answers at ``ANBU_HTTP`` the check asks that hub's ``/health`` instead; when
  none does, it connects as the hub, resuming (never discarding) the hub's session, with a
  Receive Maximum of 1 and nothing acknowledged, so at most one queued message is sent to it
  and that one is sent again to the hub when it connects;
* :func:`wait_for_database` (``anbu hub``): a database that does not answer yet is retried
  with a warning naming it, instead of a traceback (PostgreSQL may start after the hub);
* :class:`BrokerWatch` (started by :class:`hub.runtime.Hub`): a warning, repeated while it
  lasts, when the broker has not answered for a few seconds; the bridge retries meanwhile;
* :func:`plaintext_broker` (both): a warning when the hub would speak plain MQTT to a broker
  on another machine, its password and every resident's events readable on the way.

Addresses are shown without their passwords; reasons are the first line of the driver's own
message, which names host and port, never credentials.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import structlog

from hub.settings import Settings

__all__ = [
    "BrokerWatch",
    "Check",
    "broker_problem",
    "database_problem",
    "plaintext_broker",
    "redacted",
    "run_checks",
    "running_hub_broker",
    "wait_for_database",
]

log = structlog.get_logger(__name__)

BROKER_WARN_AFTER_S = 5.0
BROKER_WARN_EVERY_S = 30.0
DATABASE_RETRY_S = 5.0
PROBE_TIMEOUT_S = 5.0


def redacted(url: str) -> str:
    """``url`` without its password (``mqtt://hub:***@host:1883``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _first_line(error: BaseException) -> str:
    # SQLAlchemy wraps the driver's error as "(psycopg.OperationalError) connection failed: …"
    # and appends a background link; the first line is the part that says what happened.
    text = str(getattr(error, "orig", None) or error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".strip()


def database_problem(url: str) -> str | None:
    """Why the database at ``url`` cannot be connected to now; ``None`` if it can."""
    from hub.store.db import open_engine, reading

    try:
        engine = open_engine(url)
    except Exception as error:  # a URL the driver refuses, a driver not installed
        return _first_line(error)
    try:
        with reading(engine):  # connecting is the check; no statement needed
            pass
    except Exception as error:
        return _first_line(error)
    finally:
        engine.dispose()
    return None


def running_hub_broker(settings: Settings) -> tuple[bool, str | None]:
    """Whether a hub answers at ``ANBU_HTTP`` and, if so, what its ``/health`` says of the
    broker (``None``: connected)."""
    import httpx

    try:
        answer = httpx.get(f"http://{settings.http}/health", timeout=PROBE_TIMEOUT_S)
        health = answer.json()
    except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout):
        # Something took the connection and said nothing: a hub whose HTTP is stuck is still
        # a hub, and connecting as it would take its broker session over.
        return True, (
            f"a process at {settings.http} took the connection but did not answer within "
            f"{PROBE_TIMEOUT_S:g} s: a hub may be running there, so the check does not "
            "connect to the broker as the hub (that would take its session over)"
        )
    except (httpx.HTTPError, ValueError):
        return False, None
    if not isinstance(health, dict) or "mqtt" not in health:
        return False, None  # something else listens there
    if health["mqtt"] is True:
        return True, None
    return True, "the running hub is not connected to its broker (its /health says mqtt: false)"


_LOOPBACK = {"localhost", "127.0.0.1", "::1", "ip6-localhost"}


def plaintext_broker(url: str) -> str | None:
    """A warning when ``url`` is plain MQTT (``mqtt://``) to another machine; ``None`` for
    TLS (``mqtts://``), loopback and the embedded broker."""
    if url == "embedded":
        return None
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "mqtt" or host in _LOOPBACK or host.startswith("127."):
        return None
    return (
        f"ANBU_MQTT_URL {redacted(url)} 은 암호화되지 않은 MQTT 입니다: 비밀번호와 어르신의 "
        "이벤트가 그대로 전송됩니다. mqtts:// (TLS, 8883) 를 쓰세요 / plain MQTT to another "
        "machine: the hub's password and every event cross the network readable; use "
        "mqtts:// (deploy/mosquitto has a TLS listener)"
    )


def broker_problem(settings: Settings) -> str | None:
    """Why the broker of ``settings`` refuses the hub or does not answer now (no hub running:
    see the module docstring for why it connects as the hub)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    from hub.mqtt import SESSION_EXPIRY_S, BrokerAddress

    address = BrokerAddress.parse(settings.mqtt_url)
    v5 = settings.mqtt_protocol == "5"
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=settings.mqtt_client_id,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        clean_session=None if v5 else False,
        manual_ack=True,  # whatever the session delivers stays unacknowledged for the hub
    )
    properties = None
    if v5:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = SESSION_EXPIRY_S  # the session outlives the check
        properties.ReceiveMaximum = 1
    if address.username:
        client.username_pw_set(address.username, address.password)
    answered = threading.Event()
    outcome: list[str | None] = []

    def on_connect(*args: object) -> None:
        reason = args[3]
        outcome.append(str(reason) if getattr(reason, "is_failure", False) else None)
        answered.set()

    client.on_connect = on_connect
    try:
        if address.tls:
            ca_file = settings.mqtt_ca_file  # None: the system's CAs
            client.tls_set(ca_certs=str(ca_file) if ca_file else None)
        client.connect(
            address.host,
            address.port,
            keepalive=10,
            clean_start=False if v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=properties,
        )
    except Exception as error:  # refused, unresolvable, TLS handshake failed
        return _first_line(error)
    client.loop_start()
    try:
        if not answered.wait(PROBE_TIMEOUT_S):
            return f"no answer within {PROBE_TIMEOUT_S:g} s"
        if outcome[0] is not None:
            return f"refused: {outcome[0]}"
        return None
    finally:
        client.disconnect()
        client.loop_stop()


@dataclass(frozen=True, slots=True)
class Check:
    """One part checked: its name, where it is, and what is wrong (``None``: fine)."""

    part: str
    where: str
    problem: str | None

    def line(self) -> str:
        if self.problem is None:
            return f"ok    {self.part} {self.where}"
        return f"FAIL  {self.part} {self.where}: {self.problem}"


def run_checks(settings: Settings, echo: Callable[[str], None]) -> int:
    """``anbu hub --check``: one line per part; 0 if all answer, 1 otherwise."""
    checks = [Check("설정 / settings", "ANBU_*", None)]
    checks.append(
        Check(
            "데이터베이스 / database", redacted(settings.db_url), database_problem(settings.db_url)
        )
    )
    broker = "브로커 / broker"
    if settings.mqtt_url == "embedded":
        checks.append(Check(broker, "embedded (started by the hub itself)", None))
    else:
        where = redacted(settings.mqtt_url)
        running, problem = running_hub_broker(settings)
        if running:
            checks.append(Check(broker, f"{where} (via the hub at {settings.http})", problem))
        else:
            checks.append(Check(broker, where, broker_problem(settings)))
    for check in checks:
        echo(check.line())
    plaintext = plaintext_broker(settings.mqtt_url)
    if plaintext is not None:  # reachable or not, worth fixing; not a failure by itself
        echo(f"warn  {broker}: {plaintext}")
    return 1 if any(check.problem is not None for check in checks) else 0


def wait_for_database(url: str, stop: threading.Event, retry_s: float = DATABASE_RETRY_S) -> bool:
    """Return once the database answers (``True``), warning before each retry; ``False``
    if ``stop`` is set first."""
    while True:
        problem = database_problem(url)
        if problem is None:
            return True
        log.warning(
            "hub.database_unreachable",
            db=redacted(url),
            problem=problem,
            retry_in_s=retry_s,
            hint="데이터베이스에 연결할 수 없어 다시 시도합니다 / retrying the database",
        )
        if stop.wait(retry_s):
            return False


class BrokerWatch:
    """Warns while the bridge has been disconnected for ``warn_after`` seconds or more."""

    def __init__(
        self,
        connected: threading.Event,
        address: str,
        *,
        warn_after: float = BROKER_WARN_AFTER_S,
        warn_every: float = BROKER_WARN_EVERY_S,
    ) -> None:
        self._connected = connected
        self._address = address
        self._warn_after = warn_after
        self._warn_every = warn_every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="anbu-broker-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        down_since: float | None = time.monotonic()
        warned_at: float | None = None
        while not self._stop.wait(0.5):
            now = time.monotonic()
            if self._connected.is_set():
                if warned_at is not None:
                    log.info("hub.broker_reachable", broker=self._address)
                down_since = warned_at = None
                continue
            if down_since is None:
                down_since = now
            if now - down_since < self._warn_after:
                continue
            if warned_at is None or now - warned_at >= self._warn_every:
                warned_at = now
                log.warning(
                    "hub.broker_unreachable",
                    broker=self._address,
                    down_s=round(now - down_since),
                    retrying=True,
                    hint="브로커에 연결할 수 없어 다시 시도합니다 / retrying the broker",
                )
