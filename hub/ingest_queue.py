"""The ingest worker's queue: bounded, with a lane reserved for emergencies.

Owns what waits between the MQTT network thread and the ingest worker, and what happens when
more arrives than the worker takes:

* **control** (operators' calls, the stop marker): never refused, always taken first. They
  come from HTTP requests, which are few and wait for their answer.
* **urgent** (anything on an ``…/emergency`` topic, whatever its QoS): a lane of its own, so a
  flood of other messages can neither shed an emergency nor make it wait behind the flood;
  taken before normal messages, **one device at a time in turn**, so a device flooding its
  own emergency topic (broken, or compromised: the broker lets it publish there) cannot make
  another resident's call for help that is already queued wait behind its thousands. A device
  has at most :data:`URGENT_PER_DEVICE` emergencies waiting: beyond that its QoS 0 ones are
  shed and counted (``emergency``; what it says is already being paged, from the first of
  them), its QoS 1 ones wait like any QoS 1 message — and then the network thread waits with
  them, so a QoS 1 flood still holds back what the broker has not yet delivered (the
  broker's per-client limits bound it). Other devices' emergencies are never shed: when the
  whole lane is full the caller waits.
* **normal** (everything else): at most ``bound`` messages. When full, a QoS 0 message is
  shed and counted by kind (QoS 0 carries no promise, and a device that floods with it must
  not grow the hub's memory); a QoS 1 message is refused with :class:`queue.Full` after
  ``timeout``, and the caller (the MQTT bridge) waits and offers it again: meanwhile nothing
  more is read from the broker, which keeps what follows in the hub's session.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter, deque
from typing import Generic, TypeVar

from hub.mqtt import Incoming

__all__ = ["IngestQueue"]

C = TypeVar("C")

_URGENT_SUFFIX = "/emergency"
URGENT_PER_DEVICE = 100
"""Emergencies one device may have waiting; far more than a person can raise at once."""


def _device(topic: str) -> str:
    """``anbu/v1/<resident>/<device>`` of an emergency topic: whose turn it takes."""
    return topic.removesuffix(_URGENT_SUFFIX)


def _kind(topic: str) -> str:
    """The topic's last level (``activity``, ``emergency``, …) for the shed counts; a topic
    that is not the protocol's counts as ``other`` so junk cannot mint new labels."""
    kind = topic.rsplit("/", 1)[-1]
    if kind in {"activity", "heartbeat", "emergency", "checkin", "vitals", "status"}:
        return kind
    return "other"


class IngestQueue(Generic[C]):
    """Messages and control items for one consumer thread (see the module docstring)."""

    def __init__(self, bound: int) -> None:
        if bound < 1:
            msg = "bound must be at least 1"
            raise ValueError(msg)
        self.bound = bound
        lock = threading.Lock()
        self._ready = threading.Condition(lock)  # something to take
        self._room = threading.Condition(lock)  # a lane has room again
        self._control: deque[C | None] = deque()
        # Emergencies per device, and the devices in turn (each once while it has some).
        self._urgent: dict[str, deque[Incoming]] = {}
        self._turns: deque[str] = deque()
        self._urgent_count = 0
        self._normal: deque[Incoming] = deque()
        self.shed: Counter[str] = Counter()
        """QoS 0 messages shed, by kind: the normal lane was full, or (``emergency``) their
        device already had URGENT_PER_DEVICE emergencies waiting."""

    def put_control(self, item: C | None) -> None:
        """A call or the stop marker (``None``): never refused."""
        with self._ready:
            self._control.append(item)
            self._ready.notify()

    def put_message(self, message: Incoming, timeout: float | None = None) -> bool:
        """Queue ``message``; False when it was shed (QoS 0, normal lane full).

        Raises :class:`queue.Full` when a message that must not be shed (QoS 1, or any
        emergency) found no room within ``timeout`` seconds (``None``: wait as long as it
        takes).
        """
        if message.topic.endswith(_URGENT_SUFFIX):
            return self._put_urgent(message, timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._ready:
            while len(self._normal) >= self.bound:
                if message.qos == 0:
                    self.shed[_kind(message.topic)] += 1
                    return False
                self._wait_for_room(deadline)
            self._normal.append(message)
            self._ready.notify()
        return True

    def _put_urgent(self, message: Incoming, timeout: float | None) -> bool:
        device = _device(message.topic)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._ready:
            while True:
                waiting = len(self._urgent.get(device, ()))
                if waiting >= URGENT_PER_DEVICE and message.qos == 0:
                    self.shed["emergency"] += 1
                    return False
                if waiting < URGENT_PER_DEVICE and self._urgent_count < self.bound:
                    break
                self._wait_for_room(deadline)
            lane = self._urgent.get(device)
            if lane is None:
                lane = self._urgent[device] = deque()
                self._turns.append(device)
            lane.append(message)
            self._urgent_count += 1
            self._ready.notify()
        return True

    def _wait_for_room(self, deadline: float | None) -> None:
        """Under the lock: wait until something is taken; queue.Full past ``deadline``."""
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise queue.Full
        self._room.wait(left)

    def get(self, timeout: float) -> Incoming | C | None:
        """The next item, control first, then urgent, then normal; raises queue.Empty."""
        with self._ready:
            if not self._ready.wait_for(self._any, timeout):
                raise queue.Empty
            return self._take()

    def get_nowait(self) -> Incoming | C | None:
        with self._ready:
            if not self._any():
                raise queue.Empty
            return self._take()

    def qsize(self) -> int:
        with self._ready:
            return len(self._control) + self._urgent_count + len(self._normal)

    def _any(self) -> bool:
        return bool(self._control or self._urgent_count or self._normal)

    def _take(self) -> Incoming | C | None:
        if self._control:
            return self._control.popleft()
        if self._urgent_count:
            device = self._turns.popleft()
            lane = self._urgent[device]
            item = lane.popleft()
            self._urgent_count -= 1
            if lane:
                self._turns.append(device)  # its next one after every other device's
            else:
                del self._urgent[device]
        else:
            item = self._normal.popleft()
        self._room.notify_all()
        return item
