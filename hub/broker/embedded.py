"""The pure-Python amqtt broker in a background thread, for machines without Mosquitto.

Owns :class:`EmbeddedBroker`: amqtt on its own asyncio loop in a daemon thread. It speaks
MQTT 3.1.1 only and keeps its state in memory, so a restart loses retained messages and
sessions (``persistent`` is False).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from dataclasses import dataclass
from typing import Any

from hub.broker.base import LOCALHOST, START_TIMEOUT_S, STOP_TIMEOUT_S, Broker, BrokerError

__all__ = ["EmbeddedBroker"]

log = logging.getLogger(__name__)


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
