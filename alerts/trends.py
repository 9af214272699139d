"""Slow changes in a resident's own routine, for the district official's work list.

Owns :class:`Trends` (kept in :class:`~alerts.state.ResidentState`, about 0.3 KB) and
:func:`daily`, which the engine calls once per learned day with that day's figures and which
returns the findings to put on the official's work list: a lasting drop in activity
(``activity_drop``, "활동 감소 추이"), a longer night (``sleep_shift``: later up, earlier to
bed) and nights with repeated getting-up (``restless_nights``). Never an SMS of its own,
never to a guardian: a trend is something to look into at the next visit, not an emergency.

Method: each measure is compared with the resident's own baseline by a one-sided CUSUM (Page,
1954), the standard chart for a small lasting shift: ``C = max(0, C + z - k)`` with ``z`` the
day's deviation from the baseline mean in units of its spread, ``k = 0.5`` and a finding when
``C > 4`` (about one false signal a year per measure on stable data; a shift of one spread is
found in about eight days, of two spreads in three or four). The baseline (an exponentially
weighted mean and spread over about four weeks) stands still once ``C`` is half way to a
finding, so a decline is not learned as the new normal while it is being measured. The measures:

* activity: ``ln(1 + signals)`` of the day (every source; signals as the devices fold them);
* the night: minutes from bedtime to the first activity (later up, earlier to bed);
* restless nights: hours with activity between midnight and the first activity.

A finding resets its chart and is not repeated for 14 days. The weekly comparison shown with
it (:func:`week_text`) gives the change per part of the day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["TREND_KINDS", "DayFigures", "Finding", "Trends", "daily"]

TREND_KINDS = ("activity_drop", "sleep_shift", "restless_nights")
_K = 0.5
_H = 4.0
_H_SLEEP = 8.0
"""Sleep charts are noisier day to day (a late film, an early night): they need more."""
_WEEK_Z = 3.0
_DROP = 0.12
"""A drop must also be worth a visit: the last week's signals at least 12 % below the
baseline's."""
_MEMORY_DAYS = 28
_MIN_BASELINE_DAYS = 14
_QUIET_DAYS = 14
_PARTS = ("새벽", "오전", "오후", "저녁")


@dataclass(frozen=True, slots=True)
class DayFigures:
    """One learned day, as the routine saw it."""

    day: date
    signals: tuple[int, int, int, int]
    """Signals per part of the day (00-06, 06-12, 12-18, 18-24)."""
    night_min: int | None
    """The night before the day: bedtime to first activity, minutes; None when not seen."""
    night_hours: int
    """Hours with activity between midnight and the first activity."""


@dataclass(frozen=True, slots=True)
class Finding:
    """A lasting change worth the official's attention."""

    kind: str
    day: date
    detail: str
    """Plain Korean for the work list and the digest, without health details."""


class _Chart(BaseModel):
    """One measure's baseline and its CUSUM."""

    model_config = ConfigDict(extra="forbid")

    mean: float | None = None
    spread: float = 0.0
    days: int = 0
    cusum: float = 0.0


class Trends(BaseModel):
    """The charts, the weekly parts of the day, and when each kind was last found."""

    model_config = ConfigDict(extra="forbid")

    activity: _Chart = Field(default_factory=_Chart)
    night: _Chart = Field(default_factory=_Chart)
    nights: _Chart = Field(default_factory=_Chart)
    parts_base: list[float] = Field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])
    parts_week: list[float] = Field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])
    """Mean signals per part of the day: the baseline, and the last week (memory 7 days)."""
    week: list[float] = Field(default_factory=list)
    """The activity measure of the last seven learned days, oldest first."""
    last_found: dict[str, date] = Field(default_factory=dict)

    def copy_mutable(self) -> Trends:
        """A copy that shares nothing mutable (faster than a deep copy; add new fields here)."""
        return self.model_copy(
            update={
                "activity": self.activity.model_copy(),
                "night": self.night.model_copy(),
                "nights": self.nights.model_copy(),
                "parts_base": list(self.parts_base),
                "parts_week": list(self.parts_week),
                "week": list(self.week),
                "last_found": dict(self.last_found),
            }
        )


def daily(trends: Trends, figures: DayFigures) -> list[Finding]:
    """Fold one learned day into the charts; return what is now a lasting change."""
    found: list[Finding] = []
    level = math.log1p(sum(figures.signals))
    _parts(trends, figures.signals)
    trends.week = [*trends.week[-6:], round(level, 3)]
    if _activity_dropped(trends, level):
        found.append(Finding("activity_drop", figures.day, week_text(trends)))
    if figures.night_min is not None:
        mean = trends.night.mean
        if _step(trends.night, float(figures.night_min), 20.0, down=False, limit=_H_SLEEP):
            longer = round(figures.night_min - (mean or figures.night_min))
            found.append(
                Finding(
                    "sleep_shift",
                    figures.day,
                    f"수면 시간대 변화: 잠자리에 드는 시간부터 첫 활동까지가 평소보다 약 "
                    f"{max(longer, 0)}분 깁니다.",
                )
            )
    if _step(trends.nights, float(figures.night_hours), 0.5, down=False, limit=_H_SLEEP):
        found.append(
            Finding(
                "restless_nights",
                figures.day,
                "밤중에 깨어 활동하는 날이 평소보다 잦습니다(밤중 잦은 기상).",
            )
        )
    out = []
    for finding in found:
        last = trends.last_found.get(finding.kind)
        if last is None or (finding.day - last).days >= _QUIET_DAYS:
            trends.last_found[finding.kind] = finding.day
            out.append(finding)
    return out


def week_text(trends: Trends) -> str:
    """``활동 감소 추이: 최근 활동량이 평소의 62%(오후 45%)`` from the weekly part means."""
    base, week = sum(trends.parts_base), sum(trends.parts_week)
    share = round(100 * week / base) if base > 0 else 0
    # The part of the day that fell most, among those holding a tenth of the day or more.
    parts = [p for p in range(4) if base > 0 and trends.parts_base[p] >= 0.1 * base] or [0]
    worst = min(
        parts,
        key=lambda p: trends.parts_week[p] / trends.parts_base[p] if trends.parts_base[p] else 1,
    )
    part = ""
    if trends.parts_base[worst] > 0:
        part_share = round(100 * trends.parts_week[worst] / trends.parts_base[worst])
        part = f", {_PARTS[worst]} {part_share}%"
    return f"활동 감소 추이: 최근 한 주 활동량이 평소의 {share}%입니다{part}."


def _parts(trends: Trends, signals: tuple[int, int, int, int]) -> None:
    days = trends.activity.days
    base_w = 1.0 / min(days + 1, _MEMORY_DAYS)
    week_w = 1.0 / min(days + 1, 7)
    frozen = trends.activity.cusum > _H / 2 and days >= _MIN_BASELINE_DAYS
    for p, value in enumerate(signals):
        if not frozen:
            trends.parts_base[p] = round(
                trends.parts_base[p] + base_w * (value - trends.parts_base[p]), 2
            )
        trends.parts_week[p] = round(
            trends.parts_week[p] + week_w * (value - trends.parts_week[p]), 2
        )


def _activity_dropped(trends: Trends, level: float) -> bool:
    """The daily CUSUM crossed, or the week's mean is three of its standard errors below the
    baseline; either way the week's signals are at least :data:`_DROP` fewer."""
    chart = trends.activity
    mean = chart.mean
    if mean is None or chart.days < _MIN_BASELINE_DAYS or len(trends.week) < 7:
        _step(chart, level, _LEAST_LEVEL, down=True)
        return False
    week = sum(trends.week) / len(trends.week)
    spread = max(chart.spread * _MAD_TO_SD, _LEAST_LEVEL)
    weekly = (mean - week) / (spread / math.sqrt(7)) >= _WEEK_Z
    crossed = _step(chart, level, _LEAST_LEVEL, down=True)
    base = sum(trends.parts_base)
    share = sum(trends.parts_week) / base if base > 0 else 1.0
    if (crossed or weekly) and share <= 1 - _DROP:
        chart.cusum = 0.0
        return True
    return False


_LEAST_LEVEL = 0.1
"""ln(1 + signals): a tenth more or less is the least spread counted."""
_MAD_TO_SD = 1.25
"""A mean absolute deviation is about 0.8 standard deviations (normal data)."""


def _step(chart: _Chart, value: float, least: float, *, down: bool, limit: float = _H) -> bool:
    """One day on one chart; True when the CUSUM crosses ``limit`` (and is reset). ``least``:
    the least spread, so very steady days are not flagged for a tiny wobble (minutes for the
    night, hours for restless nights)."""
    if chart.mean is None:
        chart.mean, chart.days = value, 1
        return False
    crossed = False
    if chart.days >= _MIN_BASELINE_DAYS:
        spread = max(chart.spread * _MAD_TO_SD, least)
        z = (chart.mean - value) / spread if down else (value - chart.mean) / spread
        chart.cusum = round(max(0.0, chart.cusum + z - _K), 3)
        if chart.cusum > limit:
            chart.cusum = 0.0
            crossed = True
    # The baseline learns every ordinary day, high or low (learning only from days that
    # leave the chart at zero would keep the low ones out and shrink the spread), and
    # stands still once the chart is half way to a finding: a change may be under way.
    if chart.cusum <= limit / 2 and not crossed:
        weight = 1.0 / min(chart.days + 1, _MEMORY_DAYS)
        chart.spread = round(chart.spread + weight * (abs(value - chart.mean) - chart.spread), 3)
        chart.mean = round(chart.mean + weight * (value - chart.mean), 3)
    chart.days += 1
    return crossed
