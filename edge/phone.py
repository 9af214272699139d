"""The phone adapter: what the resident does with the phone, as an automation app reports it.

An automation app on the phone (MacroDroid, Tasker, iOS Shortcuts) posts one event per
trigger to the agent's feed (FEED.md). Only actions the resident takes count as activity:
unlocking, a screen switched on by hand, placing or answering a call, plugging in the
charger, opening an app. Incoming notifications, pushes and calls that ring unanswered
prove the app is alive but not that anyone touched the phone; a screen that lights up right
after one of them was lit by it.

Phone makers put background apps to sleep. When the feed goes silent (no event and no
``alive`` ping for ``alive_timeout_s``), the agent reports the device offline and stops its
heartbeats: the hub sees a device problem, not a resident who stopped moving.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

import structlog

from edge.adapter import AdapterBase, AgentPort, FeedError, FeedResult
from edge.config import PhoneConfig
from protocol.models import ActivitySource, CheckinCommand

log = structlog.get_logger(__name__)

USER_ACTIONS: Final[Mapping[str, ActivitySource]] = {
    "screen_unlock": "screen",
    "screen_on": "screen",
    "call_outgoing": "call",
    "call_answered": "call",
    "charging_connected": "other",
    "app_opened": "app",
}
PASSIVE: Final = frozenset(
    {
        "notification",
        "push",
        "sms_received",
        "call_incoming",
        "call_missed",
        "screen_off",
        "charging_disconnected",
        "alarm",
    }
)
ALIVE: Final = "alive"
SOS: Final = "sos"
# A screen that turns on within this long after a notification was woken by it.
_LIT_BY_NOTIFICATION = timedelta(seconds=10)
_LAST_FEED_KEY = "phone.last_feed"


class PhoneAdapter(AdapterBase):
    """A resident's phone, through its automation app."""

    kind = "phone"

    def __init__(self, config: PhoneConfig) -> None:
        self.config = config
        super().__init__()
        self._last_passive: datetime | None = None
        self._last_feed: datetime | None = None
        self._asleep = False
        self._battery: int | None = None
        # Feed threads and the agent's tick both move the app between awake and asleep.
        self._lock = threading.RLock()

    def start(self, agent: AgentPort) -> None:
        super().start(agent)
        saved = agent.get_state(_LAST_FEED_KEY)
        # After a restart the app has had the whole timeout again to say something.
        self._last_feed = datetime.fromisoformat(saved) if saved else agent.now()
        if saved and agent.now() - self._last_feed > timedelta(seconds=self.config.alive_timeout_s):
            self._last_feed = agent.now()

    def stop(self) -> None:
        """Nothing runs in the background."""

    def battery_pct(self) -> int | None:
        return self._battery

    def handle_feed(self, event: Mapping[str, Any], at: datetime, ref: str | None) -> FeedResult:
        with self._lock:
            return self._handle(event, at, ref)

    def _handle(self, event: Mapping[str, Any], at: datetime, ref: str | None) -> FeedResult:
        kind = event.get("type")
        if not isinstance(kind, str):
            msg = "event needs a string 'type'"
            raise FeedError(msg)
        if kind not in USER_ACTIONS and kind not in PASSIVE and kind not in {ALIVE, SOS}:
            known = ", ".join(sorted([*USER_ACTIONS, *PASSIVE, ALIVE, SOS]))
            msg = f"unknown event type {kind!r} for a phone ({known})"
            raise FeedError(msg)
        self._feed_alive(event)
        if kind == SOS:
            event_id = self.agent.emergency("app", None, at, ref=ref)
            return FeedResult("accepted" if event_id else "duplicate", "emergency")
        if kind in PASSIVE:
            self._last_passive = at
            return FeedResult("ignored", "not an action of the resident")
        if kind == ALIVE:
            return FeedResult("accepted", "alive")
        if (
            kind == "screen_on"
            and self._last_passive is not None
            and timedelta(0) <= at - self._last_passive <= _LIT_BY_NOTIFICATION
        ):
            return FeedResult("ignored", "screen lit by a notification")
        taken = self.agent.activity(USER_ACTIONS[kind], at, ref=ref)
        return FeedResult("accepted" if taken else "duplicate")

    def _feed_alive(self, event: Mapping[str, Any]) -> None:
        now = self.agent.now()
        self._last_feed = now
        self.agent.put_state(_LAST_FEED_KEY, now.isoformat())
        battery = event.get("battery_pct")
        if isinstance(battery, int) and not isinstance(battery, bool) and 0 <= battery <= 100:
            self._battery = battery
        if self._asleep:
            self._asleep = False
            self.agent.set_presence(True)
            log.info("phone automation app is back")

    def on_checkin(self, command: CheckinCommand) -> None:
        log.info("check-in ignored: a phone agent cannot speak", request_id=command.id)

    def tick(self, now: datetime) -> datetime | None:
        with self._lock:
            return self._watch(now)

    def _watch(self, now: datetime) -> datetime | None:
        if self._last_feed is None:
            return None
        deadline = self._last_feed + timedelta(seconds=self.config.alive_timeout_s)
        if now < deadline or self._asleep:
            return None if self._asleep else deadline
        self._asleep = True
        self.agent.set_presence(False)
        log.warning("phone automation app is silent: reporting a device problem")
        return None
