"""The interface every broker here shares, its factories, and the helpers both use.

Owns :class:`Broker` (start, stop, kill, restart, the ``mqtt://`` URL), its factories
(:meth:`Broker.mosquitto`, :meth:`Broker.embedded`, :meth:`Broker.best`), finding the
``mosquitto`` binary and a free loopback port.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, ClassVar, Self

if TYPE_CHECKING:
    from hub.broker.embedded import EmbeddedBroker
    from hub.broker.mosquitto import MosquittoBroker
    from hub.broker.secure import BrokerSecurity

__all__ = [
    "LOCALHOST",
    "LOG_TAIL_LINES",
    "START_TIMEOUT_S",
    "STOP_TIMEOUT_S",
    "Broker",
    "BrokerError",
    "find_mosquitto",
    "free_port",
    "port_accepts",
    "tail",
]

log = logging.getLogger(__name__)

LOCALHOST = "127.0.0.1"
START_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 10.0
MOSQUITTO_FALLBACK_PATHS = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")
LOG_TAIL_LINES = 30


class BrokerError(RuntimeError):
    """The broker could not be started or stopped."""


def free_port(host: str = LOCALHOST) -> int:
    """Return a TCP port on ``host`` that was free a moment ago (bind to port 0, then close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def find_mosquitto() -> str | None:
    """Path of the ``mosquitto`` binary: on PATH, or in /usr/sbin (not on PATH for non-root)."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for candidate in MOSQUITTO_FALLBACK_PATHS:
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def port_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class Broker:
    """An MQTT broker owned by this process. Use the factories, not the constructor."""

    kind: ClassVar[str] = "abstract"
    #: MQTT protocol versions the broker accepts, e.g. ("5.0", "3.1.1", "3.1").
    protocol_versions: tuple[str, ...] = ()
    #: Whether retained messages and persistent sessions survive :meth:`restart`.
    persistent: bool = False

    def __init__(self, host: str = LOCALHOST, port: int | None = None) -> None:
        self.host = host
        self._requested_port = port
        self._port: int | None = port

    # -- factories ---------------------------------------------------------------------------

    @staticmethod
    def mosquitto(
        port: int | None = None,
        workdir: str | os.PathLike[str] | None = None,
        *,
        autostart: bool = True,
        security: BrokerSecurity | None = None,
    ) -> MosquittoBroker:
        """A Mosquitto child process on 127.0.0.1 (a free port unless ``port`` is given);
        anonymous, or TLS and dynamic security as shipped when ``security`` is given."""
        from hub.broker.mosquitto import MosquittoBroker

        broker = MosquittoBroker(port=port, workdir=workdir, security=security)
        if autostart:
            broker.start()
        return broker

    @staticmethod
    def embedded(port: int | None = None, *, autostart: bool = True) -> EmbeddedBroker:
        """The pure-Python amqtt broker in a background thread (MQTT 3.1.1 only)."""
        from hub.broker.embedded import EmbeddedBroker

        broker = EmbeddedBroker(port=port)
        if autostart:
            broker.start()
        return broker

    @staticmethod
    def best(
        port: int | None = None,
        workdir: str | os.PathLike[str] | None = None,
        *,
        autostart: bool = True,
    ) -> Broker:
        """Mosquitto if its binary is installed, else the embedded broker."""
        if find_mosquitto() is not None:
            return Broker.mosquitto(port=port, workdir=workdir, autostart=autostart)
        log.info("mosquitto not found; using the embedded amqtt broker (MQTT 3.1.1 only)")
        return Broker.embedded(port=port, autostart=autostart)

    # -- common interface --------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port; known once the broker has been started (or was given)."""
        if self._port is None:
            raise BrokerError("broker port is not known before start()")
        return self._port

    @property
    def url(self) -> str:
        """``mqtt://host:port``, the form ``ANBU_MQTT_URL`` takes."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the broker is serving."""
        raise NotImplementedError

    def start(self) -> None:
        """Start serving; returns once the port accepts connections. No-op when running."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop gracefully (state is saved when the broker is persistent). No-op when stopped."""
        raise NotImplementedError

    def kill(self) -> None:
        """Stop abruptly, as in a crash."""
        raise NotImplementedError

    def restart(self) -> None:
        """Stop and start again on the same port with the same state directory."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop and release temporary files."""
        self.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        port = self._port if self._port is not None else "?"
        return f"<{type(self).__name__} {self.host}:{port} running={self.running}>"
