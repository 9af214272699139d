"""Start and stop an MQTT broker for `anbu demo` and for the tests.

Two implementations share one interface, :class:`Broker`:

* :meth:`Broker.mosquitto` runs the ``mosquitto`` binary as a child process with a generated
  configuration: a listener on 127.0.0.1, anonymous access, on-disk persistence (retained
  messages and persistent sessions survive :meth:`Broker.restart`) and generous queue limits.
  It speaks MQTT 5.0, 3.1.1 and 3.1.
* :meth:`Broker.embedded` runs the pure-Python ``amqtt`` broker in a background thread with its
  own asyncio loop, for machines without Mosquitto. It speaks MQTT 3.1.1 only and keeps its
  state in memory, so a restart loses retained messages and sessions (``persistent`` is False).

:meth:`Broker.best` picks Mosquitto when the binary exists, else the embedded broker.

Factories start the broker before returning it (pass ``autostart=False`` to get a stopped one);
the context manager stops it and removes the temporary working directory it created::

    with Broker.best() as broker:
        client.connect(broker.host, broker.port)

Only processes this module started are ever signalled.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

__all__ = [
    "Broker",
    "BrokerError",
    "EmbeddedBroker",
    "MosquittoBroker",
    "find_mosquitto",
    "free_port",
]

log = logging.getLogger(__name__)

LOCALHOST = "127.0.0.1"
START_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 10.0
_MOSQUITTO_FALLBACK_PATHS = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")
_LOG_TAIL_LINES = 30


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
    for candidate in _MOSQUITTO_FALLBACK_PATHS:
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _port_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
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
    ) -> MosquittoBroker:
        """A Mosquitto child process on 127.0.0.1 (a free port unless ``port`` is given)."""
        broker = MosquittoBroker(port=port, workdir=workdir)
        if autostart:
            broker.start()
        return broker

    @staticmethod
    def embedded(port: int | None = None, *, autostart: bool = True) -> EmbeddedBroker:
        """The pure-Python amqtt broker in a background thread (MQTT 3.1.1 only)."""
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


# -- Mosquitto -------------------------------------------------------------------------------


class MosquittoBroker(Broker):
    """``mosquitto -c CONF`` as a child process, with persistence in its working directory."""

    kind = "mosquitto"
    protocol_versions = ("5.0", "3.1.1", "3.1")
    persistent = True

    def __init__(
        self,
        port: int | None = None,
        workdir: str | os.PathLike[str] | None = None,
        *,
        binary: str | None = None,
    ) -> None:
        super().__init__(LOCALHOST, port)
        self._binary = binary
        self._owns_workdir = workdir is None
        self.workdir = Path(workdir) if workdir is not None else self._make_tempdir()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / "mosquitto.conf"
        self.log_path = self.workdir / "mosquitto.log"
        self.output_path = self.workdir / "mosquitto.out"
        self.persistence_dir = self.workdir / "data"
        self._proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def _make_tempdir() -> Path:
        return Path(tempfile.mkdtemp(prefix="anbu-mosquitto-"))

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """Process id of the running broker, if any."""
        return self._proc.pid if self.running and self._proc is not None else None

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last lines of the broker's log and its stdout/stderr."""
        parts = [_tail(self.log_path, lines), _tail(self.output_path, lines)]
        return "\n".join(p for p in parts if p)

    def _write_config(self, port: int) -> None:
        self.persistence_dir.mkdir(parents=True, exist_ok=True)
        # Mosquitto started as root drops to user "mosquitto", which could not write the
        # working directory; naming the current user keeps it (ignored when not root).
        user = pwd.getpwuid(os.getuid()).pw_name
        lines = [
            "# Generated by hub/broker.py",
            f"user {user}",
            "per_listener_settings false",
            f"listener {port} {LOCALHOST}",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self.persistence_dir}/",
            "persistence_file mosquitto.db",
            # Save every second, so a kill() loses at most about a second of state.
            "autosave_interval 1",
            "autosave_on_changes false",
            "max_queued_messages 100000",
            "max_inflight_messages 1000",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "log_timestamp true",
            "log_timestamp_format %Y-%m-%dT%H:%M:%S",
        ]
        self.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def start(self) -> None:
        if self.running:
            return
        binary = self._binary or find_mosquitto()
        if binary is None:
            raise BrokerError(
                "mosquitto binary not found on PATH or in /usr/sbin; install it "
                "(apt-get install -y mosquitto) or use Broker.embedded()"
            )
        # A port found by binding port 0 can be taken before mosquitto binds it: retry then.
        attempts = 1 if self._requested_port is not None else 3
        for attempt in range(1, attempts + 1):
            port = self._port if self._port is not None else free_port()
            try:
                self._spawn(binary, port)
                return
            except BrokerError:
                if attempt == attempts:
                    raise
                log.warning("mosquitto failed to start on port %d; retrying", port)
                self._port = None

    def _spawn(self, binary: str, port: int) -> None:
        self._write_config(port)
        with self.output_path.open("ab") as out:
            proc = subprocess.Popen(  # noqa: S603 - fixed argv, binary found by find_mosquitto
                [binary, "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                # Own process group: a Ctrl-C in the terminal reaches the demo, which then
                # stops the broker after the hub has disconnected.
                start_new_session=True,
            )
        self._proc = proc
        atexit.register(self._atexit)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            if _port_accepts(LOCALHOST, port):
                self._port = port
                log.info("mosquitto started pid=%d url=mqtt://%s:%d", proc.pid, LOCALHOST, port)
                return
            time.sleep(0.05)
        exited = proc.poll() is not None
        self._terminate(signal.SIGKILL)
        reason = f"exited with {proc.returncode}" if exited else "did not accept connections"
        raise BrokerError(
            f"mosquitto {reason} within {START_TIMEOUT_S:.0f}s on {LOCALHOST}:{port} "
            f"(config {self.config_path}); log tail:\n{self.log_tail()}"
        )

    def _terminate(self, sig: signal.Signals) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                log.warning("mosquitto pid=%d ignored %s; killing it", proc.pid, sig.name)
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT_S)
        self._proc = None
        atexit.unregister(self._atexit)

    def _atexit(self) -> None:
        with contextlib.suppress(Exception):
            self._terminate(signal.SIGTERM)

    def stop(self) -> None:
        if self._proc is None:
            return
        pid = self._proc.pid
        self._terminate(signal.SIGTERM)  # mosquitto saves its persistence file on SIGTERM
        log.info("mosquitto stopped pid=%d", pid)

    def kill(self) -> None:
        if self._proc is None:
            return
        pid = self._proc.pid
        self._terminate(signal.SIGKILL)
        log.info("mosquitto killed pid=%d", pid)

    def close(self) -> None:
        self.stop()
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


# -- amqtt (embedded) ------------------------------------------------------------------------

try:
    from amqtt.plugins.base import BaseAuthPlugin as _BaseAuthPlugin
except ImportError:  # pragma: no cover - amqtt is part of the hub extra
    _BaseAuthPlugin = None

if _BaseAuthPlugin is not None:

    class AllowAllAuthPlugin(_BaseAuthPlugin):  # type: ignore[misc]  # amqtt ships no types
        """Accepts every client without marking its session anonymous.

        amqtt's own ``AnonymousAuthPlugin`` marks each session anonymous, and amqtt's session
        monitor then discards anonymous sessions as soon as they disconnect, which would break
        persistent sessions (clean_session=False) on the embedded broker.
        """

        async def authenticate(self, *, session: Any) -> bool:
            return True

        @dataclass
        class Config:
            """No options."""


@dataclass
class _EmbeddedRuntime:
    loop: asyncio.AbstractEventLoop
    stop_event: asyncio.Event


class EmbeddedBroker(Broker):
    """amqtt in a daemon thread running its own asyncio loop. MQTT 3.1.1; state in memory."""

    kind = "embedded"
    protocol_versions = ("3.1.1",)
    persistent = False

    def __init__(self, port: int | None = None) -> None:
        super().__init__(LOCALHOST, port)
        self._thread: threading.Thread | None = None
        self._runtime: _EmbeddedRuntime | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _config(self, port: int) -> dict[str, Any]:
        return {
            "listeners": {
                "default": {"type": "tcp", "bind": f"{self.host}:{port}", "max_connections": 0},
            },
            "timeout_disconnect_delay": 0,
            # Explicit plugin list: no $SYS publisher, no per-packet logging.
            "plugins": {f"{__name__}.AllowAllAuthPlugin": {}},
        }

    def start(self) -> None:
        if self.running:
            return
        if _BaseAuthPlugin is None:
            raise BrokerError("the embedded broker needs the 'amqtt' package (anbu[hub])")
        # amqtt's state machine library logs every transition at INFO; keep it quiet unless
        # the application has configured that logger itself.
        transitions_log = logging.getLogger("transitions")
        if transitions_log.level == logging.NOTSET:
            transitions_log.setLevel(logging.WARNING)
        ready: concurrent.futures.Future[int] = concurrent.futures.Future()
        # Port 0 lets the kernel choose; the bound port is read back, so there is no race.
        port = self._port if self._port is not None else 0
        thread = threading.Thread(
            target=self._thread_main, args=(port, ready), name="anbu-amqtt-broker", daemon=True
        )
        self._thread = thread
        thread.start()
        try:
            self._port = ready.result(timeout=START_TIMEOUT_S)
        except Exception as exc:
            self._shutdown_thread()
            raise BrokerError(
                f"embedded amqtt broker failed to start on port {port}: {exc}"
            ) from exc
        log.info("embedded amqtt broker started url=%s", self.url)

    def _thread_main(self, port: int, ready: concurrent.futures.Future[int]) -> None:
        try:
            asyncio.run(self._serve(port, ready))
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            else:
                log.exception("embedded amqtt broker crashed")

    async def _serve(self, port: int, ready: concurrent.futures.Future[int]) -> None:
        from amqtt.broker import Broker as AmqttBroker

        loop = asyncio.get_running_loop()
        stop_event = asyncio.Event()
        broker = AmqttBroker(self._config(port), loop=loop)
        await broker.start()
        try:
            server = broker._servers["default"].instance  # no public accessor
            sockets = getattr(server, "sockets", None) or ()
            bound = int(sockets[0].getsockname()[1]) if sockets else port
            self._runtime = _EmbeddedRuntime(loop=loop, stop_event=stop_event)
            ready.set_result(bound)
            await stop_event.wait()
        finally:
            await broker.shutdown()
            self._runtime = None

    def _shutdown_thread(self) -> None:
        runtime, thread = self._runtime, self._thread
        if runtime is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                runtime.loop.call_soon_threadsafe(runtime.stop_event.set)
        if thread is not None:
            thread.join(timeout=STOP_TIMEOUT_S)
            if thread.is_alive():
                log.warning("embedded amqtt broker thread did not stop within %ss", STOP_TIMEOUT_S)
        self._thread = None

    def stop(self) -> None:
        if self._thread is None:
            return
        self._shutdown_thread()
        log.info("embedded amqtt broker stopped port=%s", self._port)

    def kill(self) -> None:
        """The embedded broker cannot be killed separately from this process: a plain stop."""
        self.stop()
