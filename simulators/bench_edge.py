"""``anbu bench edge``: what the edge agent costs a speaker, and how fast it catches up.

Owns the edge benchmark. Each agent runs as its own process (``anbu edge``) against a real
Mosquitto, so the figures are the agent's alone:

* footprint, per device kind: resident memory (VmRSS, and the peak VmHWM) and CPU while
  idle (connected, heartbeats on, nobody talking), from ``/proc``;
* intake: events per second taken through the local HTTP feed into the on-disk outbox
  while the broker is down (each ``200`` means the event is durably stored);
* replay: events per second from the outbox to the broker once it is back, from the
  moment the agent reconnects until the outbox is empty.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from hub.broker import Broker, MosquittoBroker, free_port
from protocol.vocab import DEVICE_KINDS

Out = Callable[[str], None]
_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_status(pid: int) -> dict[str, int]:
    figures: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in {"VmRSS", "VmHWM"}:
            figures[key] = int(value.split()[0])  # kB
    return figures


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


def _status(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as r:
        return dict(json.loads(r.read()))


def _wait(predicate: Callable[[], bool], timeout: float) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            msg = f"edge bench: condition not met in {timeout} s"
            raise TimeoutError(msg)
        time.sleep(0.02)
    return time.monotonic() - start


class _AgentProcess:
    def __init__(self, workdir: Path, kind: str, broker_url: str, **extra: object) -> None:
        self.port = free_port()
        config = workdir / f"{kind}.toml"
        lines = [
            f'resident = "bench"\ndevice = "{kind}1"\nmqtt_url = "{broker_url}"',
            f'outbox = "{workdir / (kind + "-outbox.db")}"',
            *(f"{key} = {json.dumps(value)}" for key, value in extra.items()),
            f'[feed]\nhttp = "127.0.0.1:{self.port}"',
            "[speaker]\ntts_command = []",
            f'[sensors]\nzigbee_url = "{broker_url}"',
        ]
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.process = subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "hub", "edge", "--device-kind", kind, "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def status(self) -> dict[str, Any]:
        return _status(self.port)

    def ready(self) -> bool:
        try:
            return bool(self.status()["connected"])
        except OSError:
            return False

    def post(self, events: Sequence[Mapping[str, object]]) -> None:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/events", data=json.dumps(events).encode()
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            response.read()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def footprint(workdir: Path, broker: Broker, kind: str, idle_s: float) -> dict[str, Any]:
    """Memory and idle CPU of one agent process of ``kind``."""
    agent = _AgentProcess(workdir, kind, broker.url)
    try:
        _wait(agent.ready, 30)
        time.sleep(2)  # let start-up work settle before measuring idle
        pid = agent.process.pid
        cpu0, t0 = _cpu_seconds(pid), time.monotonic()
        time.sleep(idle_s)
        cpu1, t1 = _cpu_seconds(pid), time.monotonic()
        memory = _proc_status(pid)
    finally:
        agent.stop()
    return {
        "kind": kind,
        "rss_mib": round(memory["VmRSS"] / 1024, 1),
        "peak_rss_mib": round(memory["VmHWM"] / 1024, 1),
        "idle_cpu_pct": round(100 * (cpu1 - cpu0) / (t1 - t0), 3),
        "idle_s": round(t1 - t0, 1),
    }


def replay(workdir: Path, broker: MosquittoBroker, events: int) -> dict[str, Any]:
    """Fill the outbox with the broker down, then time the catch-up."""
    # A tiny folding window so every utterance is its own message, as after a long outage
    # where the signals were minutes apart.
    agent = _AgentProcess(workdir, "speaker", broker.url, fold_s=0.000001)
    try:
        _wait(agent.ready, 30)
        broker.stop()
        _wait(lambda: not agent.status()["connected"], 30)
        start = time.monotonic()
        batch = [{"type": "utterance", "text": "아리아 라디오 켜줘"}] * 50
        for _ in range(events // 50):
            agent.post(batch)
        intake_s = time.monotonic() - start
        queued = int(agent.status()["outbox"])
        broker.start()
        _wait(lambda: bool(agent.status()["connected"]), 60)
        replay_s = _wait(lambda: int(agent.status()["outbox"]) == 0, 600)
    finally:
        agent.stop()
    return {
        "signals": events // 50 * 50,
        "queued_messages": queued,
        "intake_per_s": round(events // 50 * 50 / intake_s),
        "replay_s": round(replay_s, 2),
        "replay_per_s": round(queued / replay_s) if replay_s else None,
    }


def run_edge_bench(
    *, events: int, idle_s: float, output: Path, out: Out | None = None
) -> dict[str, Any]:
    """Run the edge benchmark; print and write the figures as JSON."""

    def say(line: str) -> None:
        if out is not None:
            out(line)
        else:
            sys.stdout.write(line + "\n")

    with tempfile.TemporaryDirectory(prefix="anbu-bench-edge-") as tmp:
        workdir = Path(tmp)
        broker = Broker.mosquitto(workdir=workdir / "mosquitto")
        try:
            kinds = [footprint(workdir, broker, kind, idle_s) for kind in DEVICE_KINDS]
            for figure in kinds:
                say(
                    f"{figure['kind']:8} RSS {figure['rss_mib']} MiB "
                    f"(peak {figure['peak_rss_mib']}), idle CPU {figure['idle_cpu_pct']} % "
                    f"over {figure['idle_s']} s"
                )
            catch_up = replay(workdir, broker, events)
            say(
                f"outbox: {catch_up['signals']} utterances taken at {catch_up['intake_per_s']}/s "
                f"while offline; {catch_up['queued_messages']} messages replayed in "
                f"{catch_up['replay_s']} s = {catch_up['replay_per_s']}/s"
            )
        finally:
            broker.close()
    result = {"footprint": kinds, "replay": catch_up, "cpus": os.cpu_count()}
    output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    say(f"written to {output}")
    return result
