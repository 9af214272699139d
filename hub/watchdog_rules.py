"""When ``anbu watchdog`` pages: the pure decision, no I/O, no clock of its own.

The watchdog (:mod:`hub.watchdog`) hears the hub two ways: its ``/health`` over HTTP and its
heartbeat over MQTT (:mod:`hub.heartbeat`). Either saying "ok" is a healthy sighting; a
"degraded" answer (the database or the broker down), a refused connection, a timeout or a
silence are all the same thing here: no sighting. So "not healthy for ``down_after``" is
"no healthy sighting for ``down_after``", whatever the part that failed.

Rules (:func:`decide`):

* **down**: no healthy sighting for ``down_after`` since the last one, or since the
  watchdog started (a watchdog that was itself down knows nothing of that time, so it
  never pages for it) → one page, a new incident, unless this incident is already paged;
* **up**: a healthy sighting after the down page → one recovery page for that incident;
* **never twice**: the state that says which incident was paged is what survives a
  restart (:class:`WatchState`, written before any SMS of it goes out), so a watchdog
  restarted during an outage does not page it again, and still pages its recovery.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

__all__ = ["Decision", "Page", "PageKind", "WatchState", "decide", "page_text"]

PageKind = Literal["down", "up"]


@dataclass(frozen=True, slots=True)
class WatchState:
    """What the watchdog keeps across restarts."""

    incident: int = 0
    """How many outages were paged so far; the current one's number while ``down``."""
    down: bool = False
    """The down page of ``incident`` was decided and its recovery page not yet."""
    down_since: datetime | None = None
    """The last healthy sighting before the outage (or the watch's start): for the text."""
    paged_at: datetime | None = None
    """When the down page was decided; a recovery needs a healthy sighting after it."""


@dataclass(frozen=True, slots=True)
class Page:
    """One page to the control centre and the supervisor."""

    kind: PageKind
    incident: int
    down_for: timedelta
    """How long the hub had not been seen healthy (down: so far; up: the whole outage)."""


@dataclass(frozen=True, slots=True)
class Decision:
    state: WatchState
    page: Page | None


def decide(
    state: WatchState,
    *,
    now: datetime,
    last_ok: datetime | None,
    watching_since: datetime,
    down_after: timedelta,
) -> Decision:
    """The next state and the page to send now, if any.

    ``last_ok``: this run's latest healthy sighting (``None``: none yet since the start);
    ``watching_since``: when this run began watching.
    """
    if state.down:
        if last_ok is not None and state.paged_at is not None and last_ok > state.paged_at:
            since = state.down_since or state.paged_at
            page = Page("up", state.incident, max(timedelta(0), last_ok - since))
            return Decision(replace(state, down=False, down_since=None, paged_at=None), page)
        return Decision(state, None)
    seen = watching_since if last_ok is None else max(last_ok, watching_since)
    if now - seen < down_after:
        return Decision(state, None)
    incident = state.incident + 1
    after = WatchState(incident=incident, down=True, down_since=seen, paged_at=now)
    return Decision(after, Page("down", incident, now - seen))


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds < 60:
        return f"{seconds}초"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}분"
    hours, rest = divmod(minutes, 60)
    return f"{hours}시간 {rest}분" if rest else f"{hours}시간"


def page_text(page: Page) -> str:
    """The Korean SMS body: what happened and what to do; which part failed is not said
    (the hub's own status page tells staff that), nor anything about any resident."""
    if page.kind == "down":
        return (
            f"[안부 감시] 안부 허브가 {_duration(page.down_for)}째 정상 응답이 없습니다. "
            "어르신 안부 확인이 멈췄을 수 있으니 허브를 바로 점검해 주세요."
        )
    return (
        f"[안부 감시] 안부 허브가 다시 정상입니다 (중단 약 {_duration(page.down_for)}). "
        "중단 중 놓친 알림이 없는지 경보 보드를 확인해 주세요."
    )
