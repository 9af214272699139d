"""The district's monthly usage-and-outcome report (사용현황서): what its figures are.

This module owns the report's definitions (below), :class:`MonthlyReport` and
:func:`monthly_report`, which computes the figures from the reads in
:mod:`hub.store.report_queries`. The two renderings a district office prints or opens in
Excel are :mod:`hub.report_render`. It knows nothing of HTTP: the API and the CLI call
:func:`monthly_report` and hand the result to :func:`~hub.report_render.report_csv` or
:func:`~hub.report_render.report_html`.

Definitions (exactly what the code computes)
--------------------------------------------
The month is the calendar month in ``tz`` (default Asia/Seoul): from local midnight on the
1st to local midnight on the 1st of the next month. The *period* is that month cut at
``now`` when the month is still running (``period_end = min(month end, now)``); for a past
month the period is the whole month. "In the month" below means ``period_start <= t <
period_end``. Only residents whose ``residents.district`` equals ``district`` and their
devices, events and alerts take part.

* Residents monitored: residents of the district with ``created_at < period_end``.
* Device uptime: over the devices of those residents registered before ``period_end``, the
  share of device-hours that were "up". The month is cut into one-hour slots counted from
  the month's start; a device's hours run from the slot containing
  ``max(month start, registered_at)`` to the last slot that starts before ``period_end``.
  Approximation: the hub keeps no online/offline history, so a slot counts as up when the
  device sent any stored event (heartbeat, activity, ...; never ``status``, which can be the
  broker's Last Will rather than the device) with ``registered_at <= ts`` in that slot.
  Event time is the device's ``ts``. Devices deleted before the report are not seen.
* Days with activity: over resident-days monitored, the share with at least one
  ``activity`` event, or a ``checkin`` event whose JSON payload has ``"answered": true``
  (an unreadable payload does not count). A resident's monitored days run from the local
  day containing ``max(month start, created_at)`` to the local day containing the end of
  the period, both included - so the registration day counts even when partial.
* Active residents per day: for each local day of the period, the number of the district's
  residents with such an activity sign that day (the chart's bars).
* Alerts by kind / by stage: alerts with ``opened_at`` in the month, counted by ``kind`` and
  by ``stage``. An alert's stage only ever rises, so ``alerts.stage`` is the highest stage
  it reached. Every known kind and stage is listed, with 0 when none.
* Time to acknowledge: emergencies with ``opened_at`` in the month. For those with an
  ``acknowledged_at`` (by anyone, guardian or centre, up to ``now``): the median of
  ``acknowledged_at - opened_at`` in seconds. "Within 60 s / 180 s" (inclusive) is over
  *all* emergencies opened in the month; an unacknowledged one (including one resolved
  without an acknowledgement) counts as not within. ``None`` when there is nothing to
  measure.
* Outcomes: alerts with ``resolved_at`` in the month, counted by ``outcome``. An alert the
  system closed by itself (activity resumed, monitoring restored) has no outcome and is
  counted as ``auto_resolved``. Counting by resolution month keeps a closed month's report
  stable: an alert opened on the 30th and resolved on the 1st counts in the next month.
* Dispatches / 119 calls: ``alert_timeline`` steps ``dispatched`` / ``called_119`` with
  ``at`` in the month, on alerts of the district's residents (whenever those were opened).
* False-alarm rate: emergencies resolved in the month with outcome ``false_alarm``, divided
  by all emergencies resolved in the month, in percent.
* Trend findings (생활 변화 추이): lasting changes in a resident's own routine that
  :mod:`alerts.trends` put on the official's work list, with ``detected_at`` in the month,
  by kind, and how many residents had one.

Every percentage is ``None`` when its denominator is zero: an empty month reports zeros and
``None``, never an error or a made-up 0 %.
"""

from __future__ import annotations

import bisect
import json
import math
import re
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from alerts.trends import TREND_KINDS
from hub.store import report_queries as queries
from hub.store.db import Connection, Engine, reading
from protocol.vocab import ALERT_KINDS, KOREA_TZ, STAGES
from protocol.vocab import OUTCOMES as VOCAB_OUTCOMES

AUTO_RESOLVED = "auto_resolved"
"""The outcome of an alert that ended without a person (activity resumed, device back)."""
OUTCOMES = (*VOCAB_OUTCOMES, AUTO_RESOLVED)

_MONTH = re.compile(r"(\d{4})-(\d{2})")
_HOUR = 3600


@dataclass(frozen=True)
class MonthlyReport:
    """One district's figures for one month; see the module docstring for each definition.

    Besides the figures the brief names, it carries the counts behind every percentage
    (``device_hours_up`` / ``device_hours`` and so on) so an official can check the
    arithmetic on paper, and the period actually covered.
    """

    district: str
    month: str  # "2026-11"
    tz: str
    period_start: datetime  # aware UTC: local midnight on the 1st
    period_end: datetime  # aware UTC: the month's end, or ``now`` for a month still running
    residents_monitored: int
    devices_monitored: int
    device_hours: int
    device_hours_up: int
    device_uptime_pct: float | None
    resident_days: int
    resident_days_active: int
    days_with_activity_pct: float | None
    alerts_total: int
    alerts_by_kind: dict[str, int]
    alerts_by_stage: dict[str, int]
    emergencies: int  # opened in the month
    emergencies_acknowledged: int
    ack_median_s: float | None
    ack_within_60s_pct: float | None
    ack_within_180s_pct: float | None
    outcomes: dict[str, int]
    emergencies_resolved: int  # resolved in the month
    false_alarms: int  # emergencies resolved in the month as false_alarm
    false_alarm_rate_pct: float | None
    dispatches: int
    calls_119: int
    per_day_active_residents: list[tuple[date, int]]
    trends_by_kind: dict[str, int] = field(default_factory=dict)
    """Trend findings (생활 변화 추이) made in the month, by kind."""
    trend_residents: int = 0
    """Residents with at least one trend finding in the month."""


@dataclass(frozen=True)
class _Period:
    zone: ZoneInfo
    first_day: date
    start: datetime
    month_end: datetime
    end: datetime
    # UTC instants of local midnights: day i of the month is [day_starts[i], day_starts[i+1]).
    day_starts: list[datetime]

    @property
    def hours(self) -> int:
        """One-hour slots from the month's start that begin before the period's end."""
        return math.ceil((self.end - self.start).total_seconds() / _HOUR)

    @property
    def days(self) -> int:
        """Local days that begin before the period's end."""
        return self.day_index(self.end - timedelta(microseconds=1)) + 1

    def hour_index(self, at: datetime) -> int:
        return int((at - self.start).total_seconds() // _HOUR)

    def day_index(self, at: datetime) -> int:
        return bisect.bisect_right(self.day_starts, at) - 1


def _period(month: str, tz: str, now: datetime) -> _Period:
    match = _MONTH.fullmatch(month)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        msg = f"month must look like 2026-11, got {month!r}"
        raise ValueError(msg)
    year, number = int(match.group(1)), int(match.group(2))
    zone = ZoneInfo(tz)
    first = date(year, number, 1)
    following = date(year + 1, 1, 1) if number == 12 else date(year, number + 1, 1)
    day_starts = [
        datetime.combine(first + timedelta(days=offset), time(), tzinfo=zone).astimezone(UTC)
        for offset in range((following - first).days + 1)
    ]
    start, month_end = day_starts[0], day_starts[-1]
    # A future month has an empty period rather than a negative one.
    end = min(month_end, max(now.astimezone(UTC), start))
    return _Period(zone, first, start, month_end, end, day_starts)


def _pct(part: int, whole: int) -> float | None:
    return None if whole == 0 else part * 100 / whole


def _answered(payload: str) -> bool:
    # Parsed here, not in SQL: a stored payload may be cut short, and a JSON error inside
    # the query would abort the whole report.
    try:
        body = json.loads(payload)
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("answered") is True


def _ordered(counts: Mapping[str, int], known: Sequence[str]) -> dict[str, int]:
    """Every known key (0 when absent) in a fixed order, then any unexpected key, sorted."""
    result = {key: counts.get(key, 0) for key in known}
    result.update({key: counts[key] for key in sorted(set(counts) - set(known))})
    return result


def monthly_report(
    engine: Engine,
    district: str,
    month: str,
    tz: str = KOREA_TZ,
    *,
    now: datetime | None = None,
) -> MonthlyReport:
    """Compute ``district``'s report for ``month`` ("2026-11"), a calendar month in ``tz``.

    ``now`` (aware; default the current time) cuts a month still running, and bounds which
    acknowledgements are known; tests pass it to be deterministic.
    """
    as_of = datetime.now(UTC) if now is None else now.astimezone(UTC)
    period = _period(month, tz, as_of)
    with reading(engine) as conn:
        queries.one_snapshot(conn)
        return _compute(conn, district, month, tz, period, as_of)


def _compute(
    conn: Connection, district: str, month: str, tz: str, period: _Period, as_of: datetime
) -> MonthlyReport:
    monitored = queries.monitored_residents(conn, district, period.end)
    hours_up, hours_total, device_count = _uptime(conn, district, period)
    active = _active_days(conn, district, period)

    last_day = period.days - 1
    resident_days = 0
    active_days = 0
    for resident, created_at in monitored.items():
        first = period.day_index(max(period.start, created_at))
        resident_days += max(0, last_day - first + 1)
        active_days += sum(1 for day in active.get(resident, ()) if first <= day <= last_day)
    per_day = Counter(day for days in active.values() for day in days)

    opened = queries.opened_alerts(conn, district, period.start, period.end)
    ack_seconds = [
        (row.acknowledged_at - row.opened_at).total_seconds()
        for row in opened
        if row.kind == "emergency"
        and row.acknowledged_at is not None
        and row.acknowledged_at <= as_of
    ]
    emergencies = sum(1 for row in opened if row.kind == "emergency")

    resolved = queries.resolved_alerts(conn, district, period.start, period.end)
    emergencies_resolved = sum(1 for row in resolved if row.kind == "emergency")
    false_alarms = sum(
        1 for row in resolved if row.kind == "emergency" and row.outcome == "false_alarm"
    )

    steps = queries.timeline_steps(
        conn, district, ("dispatched", "called_119"), period.start, period.end
    )
    trends = queries.trend_findings_in(conn, district, period.start, period.end)

    return MonthlyReport(
        district=district,
        month=month,
        tz=tz,
        period_start=period.start,
        period_end=period.end,
        residents_monitored=len(monitored),
        devices_monitored=device_count,
        device_hours=hours_total,
        device_hours_up=hours_up,
        device_uptime_pct=_pct(hours_up, hours_total),
        resident_days=resident_days,
        resident_days_active=active_days,
        days_with_activity_pct=_pct(active_days, resident_days),
        alerts_total=len(opened),
        alerts_by_kind=_ordered(Counter(row.kind for row in opened), ALERT_KINDS),
        alerts_by_stage=_ordered(Counter(row.stage for row in opened), STAGES),
        emergencies=emergencies,
        emergencies_acknowledged=len(ack_seconds),
        ack_median_s=statistics.median(ack_seconds) if ack_seconds else None,
        ack_within_60s_pct=_pct(sum(1 for s in ack_seconds if s <= 60), emergencies),
        ack_within_180s_pct=_pct(sum(1 for s in ack_seconds if s <= 180), emergencies),
        outcomes=_ordered(Counter(row.outcome or AUTO_RESOLVED for row in resolved), OUTCOMES),
        emergencies_resolved=emergencies_resolved,
        false_alarms=false_alarms,
        false_alarm_rate_pct=_pct(false_alarms, emergencies_resolved),
        dispatches=steps.get("dispatched", 0),
        calls_119=steps.get("called_119", 0),
        per_day_active_residents=[
            (period.first_day + timedelta(days=day), per_day.get(day, 0))
            for day in range(period.days)
        ],
        trends_by_kind=_ordered(Counter(row.kind for row in trends), TREND_KINDS),
        trend_residents=len({row.resident_id for row in trends}),
    )


def _uptime(conn: Connection, district: str, period: _Period) -> tuple[int, int, int]:
    """(hours up, device-hours, devices) for the district's devices over the period."""
    registered = queries.registered_devices(conn, district, period.end)
    if not registered:
        return 0, 0, 0
    up = queries.device_slots_up(conn, district, period.start, period.end, _HOUR)
    hours_up = 0
    hours_total = 0
    for row in registered:
        hours = period.hours - period.hour_index(max(period.start, row.registered_at))
        hours_total += hours
        # min(): a device clock's slot can only fall inside the device's own hours, but a
        # share above 100 % must never be printed whatever the data says.
        hours_up += min(hours, up.get((row.resident_id, row.id), 0))
    return hours_up, hours_total, len(registered)


def _active_days(conn: Connection, district: str, period: _Period) -> dict[str, set[int]]:
    """Per resident, the local day indexes (0 = the 1st) with an activity sign."""
    if period.days == 0:
        return {}
    day_ends = period.day_starts[1 : period.days + 1]
    active = queries.activity_days(conn, district, period.start, period.end, day_ends)
    for checkin in queries.checkins(conn, district, period.start, period.end):
        if _answered(checkin.payload):
            active.setdefault(checkin.resident_id, set()).add(period.day_index(checkin.ts))
    return active
