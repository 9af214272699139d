"""The district's monthly usage-and-outcome report (사용현황서): figures, CSV and printable HTML.

This module owns the report's definitions, the queries that compute them from the store
(SQLAlchemy Core, SQLite and PostgreSQL), and the two renderings a district office prints or
opens in Excel. It knows nothing of HTTP: the API and the CLI call :func:`monthly_report`
and hand the result to :func:`report_csv` or :func:`report_html`.

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
import csv
import html
import io
import json
import math
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Engine,
    Integer,
    and_,
    case,
    cast,
    distinct,
    extract,
    func,
    select,
)

from alerts.trends import TREND_KINDS
from hub.store.tables import alert_timeline, alerts, devices, events, residents, trend_findings
from protocol.vocab import ALERT_KINDS, KOREA_TZ, STAGES
from protocol.vocab import OUTCOMES as VOCAB_OUTCOMES

AUTO_RESOLVED = "auto_resolved"
"""The outcome of an alert that ended without a person (activity resumed, device back)."""
OUTCOMES = (*VOCAB_OUTCOMES, AUTO_RESOLVED)

TREND_LABELS = {
    "activity_drop": "활동 감소 추이",
    "sleep_shift": "수면 시간대 변화",
    "restless_nights": "밤중 잦은 기상",
}
KIND_LABELS = {
    "emergency": "응급 호출",
    "inactivity": "무활동",
    "monitoring_lost": "모니터링 끊김",
    "device_offline": "기기 연결 끊김",
    "vital_out_of_range": "생체 신호 이상",
}
STAGE_LABELS = {
    "checkin": "안부 확인",
    "guardian": "보호자",
    "health_center": "보건소",
    "control_center": "관제센터",
}
OUTCOME_LABELS = {
    "false_alarm": "오경보",
    "resolved_by_phone": "전화 확인으로 해결",
    "visited": "방문 확인",
    "transported": "병원 이송",
    "resolved_by_guardian": "보호자 확인으로 해결",
    "other": "기타",
    AUTO_RESOLVED: "자동 해제(활동 재개 등)",
}

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


def _epoch_seconds(dialect: str, column: ColumnElement[datetime]) -> ColumnElement[int]:
    """Whole seconds since 1970 of a stored (naive UTC) timestamp, per backend.

    Hour slots are counted in SQL because a month of heartbeats is millions of rows; only
    one count per device comes back.
    """
    if dialect == "sqlite":
        return cast(func.strftime("%s", column), Integer)
    if dialect == "postgresql":
        # timestamp without time zone: the epoch of the stored UTC wall time.
        return cast(func.floor(extract("epoch", column)), BigInteger)
    msg = f"monthly reports support sqlite and postgresql, not {dialect}"
    raise ValueError(msg)


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
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # One snapshot for every query, so the figures agree with each other while the
            # hub keeps writing.
            conn.execution_options(isolation_level="REPEATABLE READ")
        return _compute(conn, district, month, tz, period, as_of)


def _compute(
    conn: Connection, district: str, month: str, tz: str, period: _Period, as_of: datetime
) -> MonthlyReport:
    in_district = residents.c.district == district
    monitored: dict[str, datetime] = {
        resident: created_at
        for resident, created_at in conn.execute(
            select(residents.c.id, residents.c.created_at).where(
                in_district, residents.c.created_at < period.end
            )
        )
    }
    hours_up, hours_total, device_count = _uptime(conn, in_district, period)
    active = _active_days(conn, in_district, period)

    last_day = period.days - 1
    resident_days = 0
    active_days = 0
    for resident, created_at in monitored.items():
        first = period.day_index(max(period.start, created_at))
        resident_days += max(0, last_day - first + 1)
        active_days += sum(1 for day in active.get(resident, ()) if first <= day <= last_day)
    per_day = Counter(day for days in active.values() for day in days)

    opened = conn.execute(
        select(alerts.c.kind, alerts.c.stage, alerts.c.opened_at, alerts.c.acknowledged_at)
        .join(residents, residents.c.id == alerts.c.resident_id)
        .where(in_district, alerts.c.opened_at >= period.start, alerts.c.opened_at < period.end)
    ).all()
    ack_seconds = [
        (row.acknowledged_at - row.opened_at).total_seconds()
        for row in opened
        if row.kind == "emergency"
        and row.acknowledged_at is not None
        and row.acknowledged_at <= as_of
    ]
    emergencies = sum(1 for row in opened if row.kind == "emergency")

    resolved = conn.execute(
        select(alerts.c.kind, alerts.c.outcome)
        .join(residents, residents.c.id == alerts.c.resident_id)
        .where(
            in_district,
            alerts.c.resolved_at >= period.start,
            alerts.c.resolved_at < period.end,
        )
    ).all()
    emergencies_resolved = sum(1 for row in resolved if row.kind == "emergency")
    false_alarms = sum(
        1 for row in resolved if row.kind == "emergency" and row.outcome == "false_alarm"
    )

    steps: dict[str, int] = {
        what: int(count)
        for what, count in conn.execute(
            select(alert_timeline.c.what, func.count())
            .select_from(
                alert_timeline.join(alerts, alerts.c.id == alert_timeline.c.alert_id).join(
                    residents, residents.c.id == alerts.c.resident_id
                )
            )
            .where(
                in_district,
                alert_timeline.c.what.in_(("dispatched", "called_119")),
                alert_timeline.c.at >= period.start,
                alert_timeline.c.at < period.end,
            )
            .group_by(alert_timeline.c.what)
        )
    }

    trends = conn.execute(
        select(trend_findings.c.resident_id, trend_findings.c.kind)
        .join(residents, residents.c.id == trend_findings.c.resident_id)
        .where(
            in_district,
            trend_findings.c.detected_at >= period.start,
            trend_findings.c.detected_at < period.end,
        )
    ).all()

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


def _uptime(
    conn: Connection, in_district: ColumnElement[bool], period: _Period
) -> tuple[int, int, int]:
    """(hours up, device-hours, devices) for the district's devices over the period."""
    registered = conn.execute(
        select(devices.c.resident_id, devices.c.id, devices.c.registered_at)
        .join(residents, residents.c.id == devices.c.resident_id)
        .where(
            in_district,
            residents.c.created_at < period.end,
            devices.c.registered_at < period.end,
        )
    ).all()
    if not registered:
        return 0, 0, 0
    start_epoch = int(period.start.timestamp())
    slot = (_epoch_seconds(conn.dialect.name, events.c.ts) - start_epoch) // _HOUR
    up = {
        (row[0], row[1]): int(row[2])
        for row in conn.execute(
            select(events.c.resident_id, events.c.device_id, func.count(distinct(slot)))
            .select_from(
                events.join(
                    devices,
                    and_(
                        devices.c.resident_id == events.c.resident_id,
                        devices.c.id == events.c.device_id,
                    ),
                ).join(residents, residents.c.id == events.c.resident_id)
            )
            .where(
                in_district,
                events.c.kind != "status",
                events.c.ts >= period.start,
                events.c.ts < period.end,
                events.c.ts >= devices.c.registered_at,
            )
            .group_by(events.c.resident_id, events.c.device_id)
        )
    }
    hours_up = 0
    hours_total = 0
    for row in registered:
        hours = period.hours - period.hour_index(max(period.start, row.registered_at))
        hours_total += hours
        # min(): a device clock's slot can only fall inside the device's own hours, but a
        # share above 100 % must never be printed whatever the data says.
        hours_up += min(hours, up.get((row.resident_id, row.id), 0))
    return hours_up, hours_total, len(registered)


def _active_days(
    conn: Connection, in_district: ColumnElement[bool], period: _Period
) -> dict[str, set[int]]:
    """Per resident, the local day indexes (0 = the 1st) with an activity sign."""
    if period.days == 0:
        return {}
    # Day boundaries as a CASE over the local midnights: exact in any time zone, DST
    # included, on both backends, and only one row per resident-day leaves the database.
    day = case(
        *((events.c.ts < period.day_starts[i + 1], i) for i in range(period.days)),
        else_=period.days,
    )
    in_period = and_(events.c.ts >= period.start, events.c.ts < period.end)
    joined = events.join(residents, residents.c.id == events.c.resident_id)
    active: dict[str, set[int]] = {}
    for resident, index in conn.execute(
        select(events.c.resident_id, day)
        .distinct()
        .select_from(joined)
        .where(in_district, in_period, events.c.kind == "activity")
    ):
        active.setdefault(resident, set()).add(int(index))
    # Check-ins are a few a day per resident at most, so reading them is cheap.
    for resident, ts, payload in conn.execute(
        select(events.c.resident_id, events.c.ts, events.c.payload)
        .select_from(joined)
        .where(in_district, in_period, events.c.kind == "checkin")
    ):
        if _answered(payload):
            active.setdefault(resident, set()).add(period.day_index(ts))
    return active


# --- renderings --------------------------------------------------------------------------


def _fmt_pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _fmt_seconds(value: float | None) -> str:
    if value is None:
        return ""
    rounded = round(value, 1)
    return str(int(rounded)) if rounded == int(rounded) else f"{rounded:.1f}"


def _month_label(report: MonthlyReport) -> str:
    year, number = report.month.split("-")
    return f"{year}년 {int(number)}월"


def _period_label(report: MonthlyReport) -> str:
    zone = ZoneInfo(report.tz)
    start = report.period_start.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    end = report.period_end.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    return f"{start} ~ {end} ({report.tz})"


def _sections(report: MonthlyReport) -> list[tuple[str, list[tuple[str, str]]]]:
    """The report's rows as (항목, 값) under section titles, shared by the CSV and the HTML."""
    usage = [
        ("지역(구)", report.district),
        ("대상 월", report.month),
        ("집계 기간", _period_label(report)),
        ("모니터링 대상자 수(명)", str(report.residents_monitored)),
        ("모니터링 기기 수(대)", str(report.devices_monitored)),
        ("기기 가동률(%)", _fmt_pct(report.device_uptime_pct)),
        ("기기 가동 시간(시간)", str(report.device_hours_up)),
        ("기기 전체 시간(시간)", str(report.device_hours)),
        ("활동 확인 일수 비율(%)", _fmt_pct(report.days_with_activity_pct)),
        ("활동 확인 일수(인·일)", str(report.resident_days_active)),
        ("모니터링 일수(인·일)", str(report.resident_days)),
    ]
    alert_rows = [("알림 발생 건수(건)", str(report.alerts_total))]
    alert_rows += [
        (f"알림 종류별: {KIND_LABELS.get(kind, kind)}(건)", str(count))
        for kind, count in report.alerts_by_kind.items()
    ]
    alert_rows += [
        (f"최고 단계별: {STAGE_LABELS.get(stage, stage)}(건)", str(count))
        for stage, count in report.alerts_by_stage.items()
    ]
    response = [
        ("응급 호출 발생(건)", str(report.emergencies)),
        ("응급 호출 접수(건)", str(report.emergencies_acknowledged)),
        ("접수까지 걸린 시간 중앙값(초)", _fmt_seconds(report.ack_median_s)),
        ("60초 이내 접수율(%)", _fmt_pct(report.ack_within_60s_pct)),
        ("180초 이내 접수율(%)", _fmt_pct(report.ack_within_180s_pct)),
        ("출동 지시(건)", str(report.dispatches)),
        ("119 신고(건)", str(report.calls_119)),
    ]
    outcomes = [
        (f"처리 결과: {OUTCOME_LABELS.get(outcome, outcome)}(건)", str(count))
        for outcome, count in report.outcomes.items()
    ]
    outcomes += [
        ("종결된 응급 호출(건)", str(report.emergencies_resolved)),
        ("오경보로 종결된 응급 호출(건)", str(report.false_alarms)),
        ("오경보율(%)", _fmt_pct(report.false_alarm_rate_pct)),
    ]
    trend_rows = [("생활 변화 추이가 있었던 대상자(명)", str(report.trend_residents))]
    trend_rows += [
        (f"생활 변화: {TREND_LABELS.get(kind, kind)}(건)", str(count))
        for kind, count in report.trends_by_kind.items()
    ]
    return [
        ("이용 현황", usage),
        ("알림 발생", alert_rows),
        ("응급 대응", response),
        ("처리 결과", outcomes),
        ("생활 변화 추이", trend_rows),
    ]


def report_csv(report: MonthlyReport) -> str:
    """The report as CSV text: a "항목,값" section, a blank line, then one row per day.

    The text starts with a BOM (U+FEFF): Excel on Korean Windows reads a CSV without one as
    CP949 and garbles the Hangul. Write the string as UTF-8. Missing figures are empty cells
    so Excel still treats the column as numbers.
    """
    out = io.StringIO()
    # CRLF, as Excel writes and expects.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("항목", "값"))
    for _, rows in _sections(report):
        writer.writerows(rows)
    writer.writerow(())
    writer.writerow(("날짜", "활동 확인 대상자 수(명)"))
    writer.writerows((day.isoformat(), count) for day, count in report.per_day_active_residents)
    return "\ufeff" + out.getvalue()


_CSS = """
@page { size: A4; margin: 15mm 14mm; }
* { box-sizing: border-box; }
body { font-family: "Malgun Gothic", "Apple SD Gothic Neo", "Noto Sans KR", sans-serif;
  color: #111; margin: 24px auto; max-width: 182mm; font-size: 10.5pt; line-height: 1.45; }
h1 { font-size: 17pt; margin: 0 0 4px; }
h2 { font-size: 12pt; margin: 18px 0 6px; border-bottom: 1px solid #555; }
p.meta { margin: 0; color: #444; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #999; padding: 3px 8px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th { background: #eee; }
th[scope="row"] { width: 62%; }
svg { display: block; width: 100%; height: auto; }
svg text { font-family: inherit; fill: #222; }
.bar { fill: #3b6ea5; }
.axis { stroke: #555; stroke-width: 1; }
.grid { stroke: #ccc; stroke-width: 0.5; }
ol.defs { font-size: 8.5pt; color: #333; padding-left: 18px; }
section { break-inside: avoid; page-break-inside: avoid; }
@media print {
  body { margin: 0; max-width: none; }
  th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .bar { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2 { break-after: avoid; page-break-after: avoid; }
}
"""

_DEFINITIONS = (
    "대상자: 해당 구 주민 중 집계 기간이 끝나기 전에 등록된 사람.",
    "기기 가동률: 기기별 등록 시각(또는 월초)부터의 1시간 구간 중 기기가 하트비트 등 "
    "이벤트를 한 번 이상 보낸 구간의 비율(근사치).",
    "활동 확인 일수 비율: 대상자별 모니터링 일수(등록일 포함) 중 활동 감지 또는 안부 확인 "
    "응답이 있었던 날의 비율.",
    "알림: 이달에 발생한 알림. 단계는 알림이 도달한 가장 높은 단계.",
    "접수 시간: 이달 발생한 응급 호출의 발생부터 접수까지. 60초·180초 이내 접수율의 분모는 "
    "이달 발생한 응급 호출 전체(미접수 포함).",
    "처리 결과·오경보율: 이달에 종결된 알림 기준. 오경보율 = 오경보 종결 응급 호출 ÷ 종결된 "
    "응급 호출.",
    "출동 지시·119 신고: 이달에 관제센터가 기록한 조치 건수.",
    "생활 변화 추이: 대상자 본인의 평소 생활과 비교해 활동 감소, 수면 시간대 변화, 밤중 잦은 "
    "기상이 지속된 경우(담당 공무원 업무 목록에 표시, 문자 발송 없음).",
)


def _daily_chart(points: Sequence[tuple[date, int]]) -> str:
    """Vertical bars, one per day: residents with an activity sign."""
    width, height = 700, 230
    left, right, top, bottom = 34, 6, 14, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((count for _, count in points), default=0)
    scale_max = max(peak, 1)
    slot = plot_w / max(len(points), 1)
    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="일별 활동 확인 대상자 수(최대 {peak}명)">',
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{width - right}" '
        f'y2="{top + plot_h}"/>',
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}"/>',
    ]
    for tick in sorted({0, scale_max // 2, scale_max}):
        y = top + plot_h - plot_h * tick / scale_max
        parts.append(
            f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}"/>'
            f'<text x="{left - 4}" y="{y + 3:.1f}" font-size="9" text-anchor="end">{tick}</text>'
        )
    for index, (day, count) in enumerate(points):
        bar_h = plot_h * count / scale_max
        x = left + index * slot + slot * 0.15
        y = top + plot_h - bar_h
        centre = left + index * slot + slot / 2
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{bar_h:.1f}"><title>{day.month}월 {day.day}일: {count}명</title></rect>'
            f'<text x="{centre:.1f}" y="{top + plot_h + 12}" font-size="8" '
            f'text-anchor="middle">{day.day}</text>'
        )
        if count:
            parts.append(
                f'<text x="{centre:.1f}" y="{y - 2:.1f}" font-size="8" '
                f'text-anchor="middle">{count}</text>'
            )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 2}" font-size="9" '
        'text-anchor="middle">일</text></svg>'
    )
    return "".join(parts)


def _kind_chart(counts: Mapping[str, int]) -> str:
    """Horizontal bars, one per alert kind."""
    row_h, label_w, width = 26, 120, 700
    height = row_h * max(len(counts), 1) + 8
    scale_max = max(max(counts.values(), default=0), 1)
    bar_room = width - label_w - 50
    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="알림 종류별 건수">',
        f'<line class="axis" x1="{label_w}" y1="2" x2="{label_w}" y2="{height - 4}"/>',
    ]
    for index, (kind, count) in enumerate(counts.items()):
        label = html.escape(KIND_LABELS.get(kind, kind))
        y = 4 + index * row_h
        bar_w = bar_room * count / scale_max
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 16}" font-size="11" text-anchor="end">{label}</text>'
            f'<rect class="bar" x="{label_w}" y="{y + 4}" width="{bar_w:.1f}" '
            f'height="{row_h - 10}">'
            f"<title>{label}: {count}건</title></rect>"
            f'<text x="{label_w + bar_w + 5:.1f}" y="{y + 16}" font-size="11">{count}건</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(rows: Iterable[tuple[str, str]], head: tuple[str, str]) -> str:
    body = "".join(
        f'<tr><th scope="row">{html.escape(name)}</th><td class="num">'
        f"{html.escape(value) if value else '-'}</td></tr>"
        for name, value in rows
    )
    return (
        f'<table><thead><tr><th scope="col">{html.escape(head[0])}</th>'
        f'<th scope="col">{html.escape(head[1])}</th></tr></thead><tbody>{body}</tbody></table>'
    )


def report_html(report: MonthlyReport) -> str:
    """A complete, self-contained Korean HTML page for printing on A4.

    No JavaScript and nothing fetched (no fonts, images or style sheets from elsewhere): it
    must print the same from a file on an offline district PC. Charts are inline SVG.
    """
    title = f"안부 서비스 사용현황서 - {report.district} {_month_label(report)}"
    tables = {name: _table(rows, ("항목", "값")) for name, rows in _sections(report)}
    definitions = "".join(f"<li>{html.escape(text)}</li>" for text in _DEFINITIONS)
    return f"""<!DOCTYPE html>
<html lang="ko">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<header>
<h1>{html.escape(title)}</h1>
<p class="meta">집계 기간: {html.escape(_period_label(report))}</p>
</header>
<main>
<section>
<h2>이용 현황</h2>
{tables["이용 현황"]}
</section>
<section>
<h2>일별 활동 확인 대상자 수</h2>
{_daily_chart(report.per_day_active_residents)}
</section>
<section>
<h2>알림 종류별 건수</h2>
{_kind_chart(report.alerts_by_kind)}
</section>
<section>
<h2>알림 발생</h2>
{tables["알림 발생"]}
</section>
<section>
<h2>응급 대응</h2>
{tables["응급 대응"]}
</section>
<section>
<h2>처리 결과</h2>
{tables["처리 결과"]}
</section>
<section>
<h2>산출 기준</h2>
<ol class="defs">{definitions}</ol>
</section>
</main>
</body>
</html>
"""
