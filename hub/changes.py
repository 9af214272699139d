"""A change counter the live board listens to: bumped after every commit that matters.

The ingest worker (events, timers, operators' actions) and the dispatcher (delivery states)
bump it; each board connection holds a server-sent-events stream that sends the new version
as soon as it moves, and the page then re-reads what its user may see. The event carries no
data, so a district official's stream reveals nothing about other districts.
"""

from __future__ import annotations

import threading


class ChangeFeed:
    """A monotonically increasing version with a wait for the next one."""

    def __init__(self) -> None:
        self._version = 0
        self._changed = threading.Condition()

    @property
    def version(self) -> int:
        return self._version

    def bump(self) -> None:
        with self._changed:
            self._version += 1
            self._changed.notify_all()

    def wait_past(self, version: int, timeout: float) -> int:
        """Block until the version is past ``version`` or ``timeout``; returns the version."""
        with self._changed:
            self._changed.wait_for(lambda: self._version > version, timeout=timeout)
            return self._version
