"""The ingest worker's queue: bounded, with a lane reserved for emergencies.

Owns what waits between the MQTT network thread and the ingest worker, and what happens when
more arrives than the worker takes:

* **control** (operators' calls, the stop marker): never refused, always taken first. They
  come from HTTP requests, which are few and wait for their answer.
* **urgent** (anything on an ``…/emergency`` topic, whatever its QoS): a lane of its own, so a
  flood of other messages can neither shed an emergency nor make it wait behind the flood;
  taken before normal messages. Never shed: when even this lane is full the caller waits.
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
        self._urgent: deque[Incoming] = deque()
        self._normal: deque[Incoming] = deque()
        self.shed: Counter[str] = Counter()
        """QoS 0 messages shed because the normal lane was full, by kind."""

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
        urgent = message.topic.endswith(_URGENT_SUFFIX)
        lane = self._urgent if urgent else self._normal
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._ready:
            while len(lane) >= self.bound:
                if message.qos == 0 and not urgent:
                    self.shed[_kind(message.topic)] += 1
                    return False
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise queue.Full
                self._room.wait(left)
            lane.append(message)
            self._ready.notify()
        return True

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
            return len(self._control) + len(self._urgent) + len(self._normal)

    def _any(self) -> bool:
        return bool(self._control or self._urgent or self._normal)

    def _take(self) -> Incoming | C | None:
        if self._control:
            return self._control.popleft()
        lane = self._urgent if self._urgent else self._normal
        item = lane.popleft()
        self._room.notify_all()
        return item
