"""The monthly report's two renderings: CSV for Excel and a printable Korean HTML page.

Owns how a :class:`~hub.reports.MonthlyReport` is shown to a district office: the Korean
labels of alert kinds, stages, outcomes and trends, the rows both renderings share, the CSV
(:func:`report_csv`) and the self-contained A4 page with inline SVG charts
(:func:`report_html`), and the page's content alone (:func:`report_body`) for the staff
pages' report view. What each figure means is in :mod:`hub.reports`.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from zoneinfo import ZoneInfo

from hub.reports import AUTO_RESOLVED, MonthlyReport
from protocol.glossary import ALERT_KIND_WORDS, OUTCOME_WORDS, STAGE_WORDS

__all__ = [
    "KIND_LABELS",
    "OUTCOME_LABELS",
    "STAGE_LABELS",
    "TREND_LABELS",
    "report_body",
    "report_csv",
    "report_html",
    "report_sections",
    "report_title",
]

TREND_LABELS = {
    "activity_drop": "활동 감소 추이",
    "sleep_shift": "수면 시간대 변화",
    "restless_nights": "밤중 잦은 기상",
}
# The glossary's words (protocol/glossary.py), so that a kind, a stage or an outcome reads
# the same in the report as on the board and in the staff pages.
KIND_LABELS: dict[str, str] = {str(kind): word for kind, word in ALERT_KIND_WORDS.items()}
STAGE_LABELS: dict[str, str] = {str(stage): word for stage, word in STAGE_WORDS.items()}
OUTCOME_LABELS: dict[str, str] = {
    **{str(outcome): word for outcome, word in OUTCOME_WORDS.items()},
    # Not a person's outcome, so not in the glossary: the report alone counts it.
    AUTO_RESOLVED: "자동 해제(활동 재개 등)",
}


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
        ("긴급 호출 발생(건)", str(report.emergencies)),
        ("긴급 호출 접수(건)", str(report.emergencies_acknowledged)),
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
        ("종결된 긴급 호출(건)", str(report.emergencies_resolved)),
        ("오경보로 종결된 긴급 호출(건)", str(report.false_alarms)),
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
        ("긴급 대응", response),
        ("처리 결과", outcomes),
        ("생활 변화 추이", trend_rows),
    ]


def report_sections(report: MonthlyReport) -> list[tuple[str, list[tuple[str, str]]]]:
    """The rows both renderings show, under their section titles (이용 현황, 알림 발생, 긴급
    대응, 처리 결과, 생활 변화 추이); ``anbu report`` prints them as text."""
    return _sections(report)


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
    "접수 시간: 이달 발생한 긴급 호출의 발생부터 접수까지. 60초·180초 이내 접수율의 분모는 "
    "이달 발생한 긴급 호출 전체(미접수 포함).",
    "처리 결과·오경보율: 이달에 종결된 알림 기준. 오경보율 = 오경보 종결 긴급 호출 ÷ 종결된 "
    "긴급 호출.",
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


def report_title(report: MonthlyReport) -> str:
    """The report's heading: "안부 서비스 사용현황서 - 유성구 2026년 11월"."""
    return f"안부 서비스 사용현황서 - {report.district} {_month_label(report)}"


def report_body(report: MonthlyReport, *, level: int = 1) -> str:
    """The report's content as escaped HTML: its heading (``<h{level}>``), the period, the
    figure tables, the two charts and the definitions, each in a ``<section>``.

    :func:`report_html` puts it in a page of its own; the staff pages' report view
    (``/reports``) puts it in theirs, so both show and print the same report.
    """
    sub = f"h{level + 1}"
    tables = {name: _table(rows, ("항목", "값")) for name, rows in _sections(report)}
    definitions = "".join(f"<li>{html.escape(text)}</li>" for text in _DEFINITIONS)

    def section(title: str, content: str) -> str:
        return f"<section>\n<{sub}>{html.escape(title)}</{sub}>\n{content}\n</section>\n"

    return (
        f"<header>\n<h{level}>{html.escape(report_title(report))}</h{level}>\n"
        f'<p class="meta">집계 기간: {html.escape(_period_label(report))}</p>\n</header>\n'
        + section("이용 현황", tables["이용 현황"])
        + section("일별 활동 확인 대상자 수", _daily_chart(report.per_day_active_residents))
        + section("알림 종류별 건수", _kind_chart(report.alerts_by_kind))
        + section("알림 발생", tables["알림 발생"])
        + section("긴급 대응", tables["긴급 대응"])
        + section("처리 결과", tables["처리 결과"])
        + section("생활 변화 추이", tables["생활 변화 추이"])
        + section("산출 기준", f'<ol class="defs">{definitions}</ol>')
    )


def report_html(report: MonthlyReport) -> str:
    """A complete, self-contained Korean HTML page for printing on A4.

    No JavaScript and nothing fetched (no fonts, images or style sheets from elsewhere): it
    must print the same from a file on an offline district PC. Charts are inline SVG.
    """
    return f"""<!DOCTYPE html>
<html lang="ko">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(report_title(report))}</title>
<style>{_CSS}</style>
</head>
<body>
<main>
{report_body(report)}</main>
</body>
</html>
"""
