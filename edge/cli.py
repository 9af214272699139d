"""``anbu edge``: build an agent from its config file and run it until SIGTERM or Ctrl-C."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import structlog

from edge.adapter import Adapter
from edge.agent import Agent
from edge.config import ConfigError, EdgeConfig, load_config
from edge.feed import FeedProcessor, HttpFeed, read_lines
from protocol.vocab import DeviceKind

log = structlog.get_logger(__name__)


def make_adapter(config: EdgeConfig) -> Adapter:
    """The adapter for ``config.kind``, with the Bluetooth health devices' if configured."""
    if config.vitals is not None:
        from edge.vitals import VitalsAdapter

        inner = None if config.vitals.alone else _kind_adapter(config)
        return VitalsAdapter(config.vitals, inner=inner)
    return _kind_adapter(config)


def _kind_adapter(config: EdgeConfig) -> Adapter:
    """The adapter for ``config.kind``; imports only what that kind needs."""
    if config.kind == "speaker":
        from edge.speaker import SpeakerAdapter

        return SpeakerAdapter(config.speaker)
    if config.kind == "phone":
        from edge.phone import PhoneAdapter

        return PhoneAdapter(config.phone)
    from edge.sensors import SensorsAdapter

    return SensorsAdapter(config.sensors)


def run(kind: DeviceKind, config_path: Path) -> int:
    """Run one agent; returns the process exit code (2 for a configuration error)."""
    try:
        config = load_config(config_path, kind)
    except ConfigError as exc:
        print(f"anbu edge: {exc}", file=sys.stderr)  # noqa: T201 - CLI error for the operator
        return 2
    agent = Agent(config, make_adapter(config))
    processor = FeedProcessor(agent.adapter, agent.clock, lambda: status(agent))
    feed: HttpFeed | None = None
    if config.feed.http:
        host, _, port = config.feed.http.rpartition(":")
        try:
            feed = HttpFeed(processor, host, int(port))
        except OSError as exc:
            print(f"anbu edge: cannot listen on {config.feed.http}: {exc}", file=sys.stderr)  # noqa: T201
            agent.close(announce_offline=False)
            return 2
    signal.signal(signal.SIGTERM, lambda *_: agent.stop())
    signal.signal(signal.SIGINT, lambda *_: agent.stop())
    agent.start()
    if feed is not None:
        feed.start()
    if config.feed.stdin:
        threading.Thread(
            target=read_lines, args=(processor, sys.stdin), daemon=True, name="anbu-edge-stdin"
        ).start()
    log.info(
        "edge agent running",
        kind=kind,
        resident=config.resident,
        device=config.device,
        feed=f"http://{host}:{feed.port}" if feed else None,
        queued=agent.outbox.depth(),
    )
    try:
        agent.run()
    finally:
        if feed is not None:
            feed.stop()
        agent.close()
    log.info("edge agent stopped")
    return 0


def status(agent: Agent) -> dict[str, object]:
    """What ``GET /status`` on the feed reports."""
    return {
        "kind": agent.config.kind,
        "connected": agent.link.connected,
        "outbox": agent.outbox.depth(),
        "published": agent.link.stats.published,
        "acked": agent.link.stats.acked,
    }
