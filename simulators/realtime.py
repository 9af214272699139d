"""Real-time fleet: N simulated households as real MQTT clients against a running hub.

Each household's device is its own MQTT 5 client (client id ``sim.{resident}.{device}``),
publishing protocol v1 activity and heartbeats with QoS 1 at a fleet-wide ``rate`` (messages
per second), so the hub sees what a district's fleet would send. A few threads drive all
clients' network loops, so thousands of clients fit in one process. Households can be
registered through the hub's API first (``register``), or already be known to it.

``run_fleet`` returns the figures (published, acknowledged, seconds, achieved rate) and calls
``progress`` about once a second with them.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import resource
import secrets
import selectors
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from alerts.clock import Clock, SystemClock
from protocol.models import Activity, Heartbeat, to_json
from protocol.topics import device_topic

SOURCES = ("voice", "speaker_use", "motion", "door", "power", "screen")
_LOOP_THREADS = 4
DEVICE = "spk"
"""Each simulated household's one device: a speaker with this id."""
_CONNECT_WAIT_S = 30.0


@dataclass
class FleetFigures:
    """What a run achieved; also what ``progress`` receives."""

    households: int
    published: int = 0
    acknowledged: int = 0
    seconds: float = 0.0
    connected: int = 0
    failed: int = 0

    @property
    def rate(self) -> float:
        return self.acknowledged / self.seconds if self.seconds else 0.0


@dataclass
class _Device:
    resident: str
    device: str
    client: mqtt.Client
    ids: itertools.count[int] = field(default_factory=itertools.count)
    # Ids must stay unique across runs against the same hub, or its dedup drops them.
    run: str = field(default_factory=lambda: secrets.token_hex(4))
    connected: threading.Event = field(default_factory=threading.Event)


def household_ids(households: int, prefix: str = "sim") -> list[str]:
    return [f"{prefix}-{n:05d}" for n in range(households)]


def register(api: str, token: str, residents: list[str], district: str = "유성구") -> int:
    """Register residents and their speaker through the hub's API; existing ones are kept.

    ``district`` must be one of the hub's districts (the hub refuses free text); the fleet's
    residents are told apart by their names ("시뮬 …").
    """
    created = 0
    with httpx.Client(
        base_url=api, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as http:
        for resident in residents:
            answer = http.post(
                "/api/v1/residents",
                json={"id": resident, "name": f"시뮬 {resident[-5:]}", "district": district},
            )
            if answer.status_code == 201:
                created += 1
                http.post(
                    f"/api/v1/residents/{resident}/devices", json={"id": DEVICE, "kind": "speaker"}
                ).raise_for_status()
            elif answer.status_code != 409:
                answer.raise_for_status()
    return created


def run_fleet(
    url: str,
    residents: list[str],
    *,
    rate: float,
    seconds: float,
    seed: int = 1,
    progress: Callable[[FleetFigures], None] | None = None,
    clock: Clock | None = None,
) -> FleetFigures:
    """Connect one client per household, publish at ``rate`` for ``seconds``, then wait for
    outstanding acknowledgements (up to 10 s) and disconnect.

    Messages are stamped with ``clock`` (the machine's by default): the hub's, in a test.
    """
    clock = clock or SystemClock()
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 1883
    _allow_descriptors(len(residents) + 64)
    figures = FleetFigures(households=len(residents))
    lock = threading.Lock()
    devices = [_connect(host, port, resident, figures, lock) for resident in residents]
    stop = threading.Event()
    loops = [
        threading.Thread(target=_drive, args=(devices[n::_LOOP_THREADS], stop), daemon=True)
        for n in range(_LOOP_THREADS)
    ]
    for thread in loops:
        thread.start()
    deadline = time.monotonic() + _CONNECT_WAIT_S
    for device in devices:
        device.connected.wait(max(0.0, deadline - time.monotonic()))
    figures.connected = sum(d.connected.is_set() for d in devices)
    live = [d for d in devices if d.connected.is_set()]
    chooser = random.Random(seed)
    started = time.monotonic()
    sent = 0
    next_report = started + 1.0
    try:
        while live and (now := time.monotonic()) - started < seconds:
            due = int((now - started) * rate) - sent
            for _ in range(max(0, due)):
                _publish(chooser.choice(live), chooser, figures, lock, clock)
                sent += 1
            if progress is not None and now >= next_report:
                figures.seconds = now - started
                progress(figures)
                next_report += 1.0
            time.sleep(0.005)
        settle = time.monotonic() + 10.0
        while figures.acknowledged < figures.published and time.monotonic() < settle:
            time.sleep(0.05)
    finally:
        figures.seconds = time.monotonic() - started
        stop.set()
        for thread in loops:
            thread.join(5)
        for device in devices:
            device.client.disconnect()
    if progress is not None:
        progress(figures)
    return figures


def _allow_descriptors(wanted: int) -> None:
    """One socket per household: lift the soft open-files limit as far as the hard one allows
    (the common default of 1,024 would stop a fleet at about a thousand households)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _connect(
    host: str, port: int, resident: str, figures: FleetFigures, lock: threading.Lock
) -> _Device:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"sim.{resident}.{DEVICE}", protocol=mqtt.MQTTv5
    )
    device = _Device(resident, DEVICE, client)

    def on_connect(_c: mqtt.Client, _u: object, _f: object, rc: object, _p: object) -> None:
        if not getattr(rc, "is_failure", False):
            device.connected.set()

    def on_publish(_c: mqtt.Client, _u: object, _mid: int, rc: object, _p: object) -> None:
        with lock:
            if getattr(rc, "is_failure", False):
                figures.failed += 1
            else:
                figures.acknowledged += 1

    client.on_connect = on_connect
    client.on_publish = on_publish
    client.max_inflight_messages_set(100)
    client.connect_async(host, port, keepalive=60)
    return device


def _drive(devices: list[_Device], stop: threading.Event) -> None:
    """Network I/O of a share of the clients through one epoll selector.

    paho's own ``loop()`` uses ``select()``, which cannot watch descriptors above 1,024, so
    a few hundred clients would be the limit; paho's external-loop calls
    (``loop_read``/``loop_write``/``loop_misc``) have no such limit. A refused or dropped
    connection is retried about once a second.
    """
    selector = selectors.DefaultSelector()
    retry_at = dict.fromkeys(range(len(devices)), 0.0)
    watched: dict[int, object] = {}
    next_misc = 0.0
    while not stop.is_set():
        now = time.monotonic()
        for index in [i for i, at in retry_at.items() if at <= now]:
            client = devices[index].client
            try:
                client.reconnect()
            except OSError:
                retry_at[index] = now + 1.0
                continue
            del retry_at[index]
            sock = client.socket()
            if sock is not None:
                selector.register(sock, selectors.EVENT_READ, index)
                watched[index] = sock
        for key, _events in selector.select(timeout=0.01):
            index = key.data
            if devices[index].client.loop_read() != mqtt.MQTT_ERR_SUCCESS:
                _drop(devices[index], selector, watched, index, retry_at, now)
        for index in list(watched):
            client = devices[index].client
            if client.want_write() and client.loop_write() != mqtt.MQTT_ERR_SUCCESS:
                _drop(devices[index], selector, watched, index, retry_at, now)
        if now >= next_misc:
            next_misc = now + 1.0
            for index in list(watched):
                devices[index].client.loop_misc()  # keepalive pings, retries
    selector.close()


def _drop(
    device: _Device,
    selector: selectors.BaseSelector,
    watched: dict[int, object],
    index: int,
    retry_at: dict[int, float],
    now: float,
) -> None:
    device.connected.clear()
    sock = watched.pop(index, None)
    if sock is not None:
        with contextlib.suppress(KeyError, ValueError):
            selector.unregister(sock)  # type: ignore[arg-type]
    retry_at[index] = now + 1.0


def _publish(
    device: _Device,
    chooser: random.Random,
    figures: FleetFigures,
    lock: threading.Lock,
    clock: Clock,
) -> None:
    now = clock.now()
    n = next(device.ids)
    if n % 20 == 0:
        topic = device_topic(device.resident, device.device, "heartbeat")
        payload = to_json(Heartbeat(v=1, id=f"h-{device.run}-{n}", ts=now, interval_s=300))
    else:
        topic = device_topic(device.resident, device.device, "activity")
        source = chooser.choice(SOURCES)
        payload = to_json(
            Activity(v=1, id=f"a-{device.run}-{n}", ts=now, source=source)  # type: ignore[arg-type]
        )
    device.client.publish(topic, payload, qos=1)
    with lock:
        figures.published += 1
