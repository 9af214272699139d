"""The case summary's figures (통합지원회의 사례 요약): pure calculations, no I/O.

Owns what ``GET /residents/{id}/summary`` (:mod:`hub.api.case_summary_page`) computes from
the store's rows (:mod:`hub.store.case_reads`); each definition is stated here and, in
Korean, on the printed page:

* **Response times** (:func:`response_of`): to the centre's acknowledgement (접수), the first
  ``acknowledged`` timeline row whose role is the control centre or its supervisor, minus
  ``opened_at`` (a guardian's tap is not the centre's answer); to resolution,
  ``resolved_at - opened_at``. None when it has not happened.
* **Device uptime** (:func:`uptime`): the hub's own rule for "online" (the core's
  ``device_seen`` / ``device_offline``): a device is online from any message the hub
  receives from it (receipt time, as the core counts it) until its last heartbeat interval
  times the policy's ``device_offline_after_heartbeats`` has passed with nothing more, or
  until its broker Last Will (``status`` offline) arrives. Time before its first message in
  the window (or before it was registered) is not online. The share is online time over the
  device's time in the window.
* **Weekly activity** (:func:`weekly_activity`): 13 weeks of seven days ending at the moment
  printed; each week's activity signals (the ``count`` each message folds, as
  :mod:`alerts.trends` counts them). The resident's baseline is the median of the weeks
  monitored in full (a week before or across registration is left out of it).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = [
    "CENTRE_ROLES",
    "Response",
    "Signal",
    "Week",
    "WeeklyActivity",
    "chart_bars",
    "median_span",
    "response_of",
    "uptime",
    "weekly_activity",
]

CENTRE_ROLES = frozenset({"control_center", "supervisor"})
"""Whose acknowledgement is the centre's (접수): the timeline's ``acknowledged`` note."""


@dataclass(frozen=True)
class Response:
    """How long an alert waited for the centre's acknowledgement and for its end."""

    to_ack: timedelta | None
    to_resolve: timedelta | None


def response_of(
    opened_at: datetime,
    resolved_at: datetime | None,
    acknowledgements: Iterable[tuple[datetime, str | None]],
) -> Response:
    """``acknowledgements``: the alert's ``acknowledged`` timeline rows as (at, role)."""
    centre = sorted(at for at, role in acknowledgements if role in CENTRE_ROLES)
    return Response(
        to_ack=centre[0] - opened_at if centre else None,
        to_resolve=None if resolved_at is None else resolved_at - opened_at,
    )


def median_span(spans: Sequence[timedelta]) -> timedelta | None:
    """The median of ``spans`` (the mean of the middle two for an even count); None if none."""
    if not spans:
        return None
    ordered = sorted(spans)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


@dataclass(frozen=True)
class Signal:
    """Something the hub received from a device: when, and what it says of the link.

    ``interval_s``: a heartbeat's promise of the next one; ``offline``: the broker's Last
    Will (a ``status`` offline). Any other message only proves the device is connected.
    """

    at: datetime
    interval_s: int | None = None
    offline: bool = False


def uptime(
    signals: Sequence[Signal], start: datetime, end: datetime, missed: int
) -> tuple[timedelta, timedelta]:
    """(online, measured) time of one device over ``[start, end)``.

    ``signals`` in receipt order; one received before ``start`` may lead them (the device's
    state as the window opens). ``missed``: heartbeats missed before the hub calls a device
    offline (the policy's ``device_offline_after_heartbeats``).
    """
    measured = max(end - start, timedelta(0))
    online = timedelta(0)
    interval: int | None = None
    up_until: datetime | None = None  # the device counts as online until then
    last_at = start
    for signal in sorted(signals, key=lambda s: s.at):
        if up_until is not None:
            online += _overlap(last_at, min(up_until, signal.at), start, end)
        if signal.interval_s is not None:
            interval = signal.interval_s
        if signal.offline:
            up_until = None
        else:
            # Without a known interval a message proves only its own moment.
            span = timedelta(seconds=interval * missed) if interval else timedelta(0)
            up_until = signal.at + span
        last_at = signal.at
    if up_until is not None:
        online += _overlap(last_at, up_until, start, end)
    return min(online, measured), measured


def _overlap(a: datetime, b: datetime, start: datetime, end: datetime) -> timedelta:
    low, high = max(a, start), min(b, end)
    return high - low if high > low else timedelta(0)


@dataclass(frozen=True)
class Week:
    """One week of the activity chart: ``[start, end)``, its signals, whether it counts."""

    start: datetime
    end: datetime
    signals: int
    full: bool
    """Monitored the whole week (the resident was registered before it began)."""
    share: float | None = None
    """Signals over the baseline (1.0 = the resident's median week); None without one."""


@dataclass(frozen=True)
class WeeklyActivity:
    weeks: tuple[Week, ...]
    baseline: float | None
    """The median of the full weeks' signals; None with no full week."""


def weekly_activity(
    activity: Iterable[tuple[datetime, int]],
    end: datetime,
    monitored_since: datetime,
    weeks: int = 13,
) -> WeeklyActivity:
    """``activity`` as (ts, signals) bucketed into ``weeks`` weeks of 7 days ending at ``end``."""
    first = end - timedelta(days=7 * weeks)
    counts = [0] * weeks
    for ts, signals in activity:
        if first <= ts < end:
            counts[(ts - first) // timedelta(days=7)] += signals
    starts = [first + timedelta(days=7 * i) for i in range(weeks)]
    full = [start >= monitored_since for start in starts]
    kept = [count for count, whole in zip(counts, full, strict=True) if whole]
    baseline = float(statistics.median(kept)) if kept else None
    return WeeklyActivity(
        weeks=tuple(
            Week(
                start=start,
                end=start + timedelta(days=7),
                signals=count,
                full=whole,
                share=count / baseline if baseline else None,
            )
            for start, count, whole in zip(starts, counts, full, strict=True)
        ),
        baseline=baseline,
    )


@dataclass(frozen=True)
class Bar:
    """One bar of the inline SVG chart, in the chart's own units (viewBox)."""

    x: float
    y: float
    width: float
    height: float
    low: bool
    """Below half the baseline: drawn in the warning colour (and said in the text)."""


def chart_bars(
    activity: WeeklyActivity, width: float, height: float, gap: float = 4.0
) -> tuple[list[Bar], float | None]:
    """The bars of ``activity`` scaled into ``width`` x ``height``, and the baseline's y."""
    top = max([w.signals for w in activity.weeks] + [activity.baseline or 0, 1])
    scale = height / (top * 1.1)
    step = width / max(len(activity.weeks), 1)
    bars = []
    for index, week in enumerate(activity.weeks):
        tall = week.signals * scale
        bars.append(
            Bar(
                x=round(index * step + gap / 2, 1),
                y=round(height - tall, 1),
                width=round(step - gap, 1),
                height=round(tall, 1),
                low=week.full and week.share is not None and week.share < 0.5,
            )
        )
    line = None if activity.baseline is None else round(height - activity.baseline * scale, 1)
    return bars, line
