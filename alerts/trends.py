"""Slow changes in a resident's own routine, for the district official's work list.

Owns :class:`Trends` (kept in :class:`~alerts.state.ResidentState`, about 0.4 KB) and
:func:`daily`, which the engine calls once per learned day with that day's figures and which
returns the findings to put on the official's work list: a lasting drop in activity
(``activity_drop``, "활동 감소 추이"), a longer night (``sleep_shift``: later up, earlier to
bed) and nights with repeated getting-up (``restless_nights``). Never an SMS of its own,
never to a guardian: a trend is something to look into at the next visit, not an emergency.
Days that say nothing (away mode, every device offline, monitoring lost, a day with no sign
of life at all) never reach :func:`daily`: the engine learns only days it can trust.

Method, and why
---------------
**Activity** is a count: the day's signals, every source, as the devices fold them. Counts of
a person's day are Poisson at best and over-dispersed in practice (a visitor, a day out), so
the decline chart is the negative-binomial CUSUM of Lucas (1985, *Technometrics* 27:129) and
Hawkins & Olwell (1998, *Cumulative Sum Charts and Charting for Quality Improvement*, ch. 5):
Page's (1954) one-sided CUSUM on the log-likelihood ratio of each day's count ``x``::

    S = max(0, S + x ln(rho (r + mu) / (r + rho mu)) + r ln((r + mu) / (r + rho mu)))

with ``mu`` the resident's own baseline (the mean of their learned days, then an
exponentially weighted mean with a memory of four weeks), ``r`` the dispersion of their own
days (method of moments on the same weighted variance, ``var = mu + mu^2 / r``, shrunk
towards a prior of an ordinarily varied life while few days are learned, and never less
scattered than :data:`_MIN_DISPERSION`: two weeks cannot prove a life that regular) and
``rho`` the drop the chart is designed for (:data:`_RHO`: a fifth fewer signals, the first
lasting drop worth a visit; a CUSUM is quickest for the shift it is designed for, and a
decline that ends at half the usual activity is a fifth down long before). A decline is also
a longer night (later up, earlier to bed), so on days whose night was seen the chart adds
that night's log-likelihood ratio (normal, a shift of half the night's own spread, from the
night chart's baseline below). ``S`` is in nats of evidence: a finding at ``S >= h``
(:data:`_H`, 4 nats) means the days since ``S`` last stood at zero are ``e^h`` (55) times
likelier under the decline than under the resident's usual life. One day adds at most
:data:`_MAX_STEP` (a third of ``h``) and takes away at most half of ``h``: a day at a child's
home or one that ended in hospital is one low day, a visitor one busy day, a decline is
several low days. The finding also needs the median day of the last week at most
:data:`_DROP_SHOWN` of the baseline: most days down, and a drop worth the visit.

The chart starts on the fourteenth day seen (:data:`_MIN_BASELINE_DAYS`: a week learned, a
week held), its young baseline's uncertainty put into the dispersion (above); the week's
median guards the first weeks against a baseline that happened to start high.

**The baseline does not learn a decline.** Each day is held for a week (:data:`_HOLD`) before
it joins the baseline, so the week under test is never part of the mean it is tested
against; a finding drops the held week.

**One decline, one work-list item.** After a finding the chart is disarmed and learns the new
level from scratch (the chart runs on against it, never past ``h``); it is armed again when
the level has recovered (the median of the last week back above half way from the new low
level to the old baseline) or, if it never does, :data:`_NEW_NORMAL_DAYS` days after the
finding: the low level is then the new normal, the baseline is learned again from the days
after that (a fall settles in weeks) and a further drop from there is news, a new finding.

**The night** (minutes from bedtime to the first activity) and **restless nights** (hours
with activity between midnight and the first activity) have charts of their own: Page's
CUSUM on the deviation from their own exponentially weighted mean in units of its spread,
``k = 0.5``, ``h = 8`` (sleep is noisier day to day than activity: a late film, an early
night); they are not repeated for 14 days.

What this can and cannot see: a day's count holds ``mu^2 / var`` units of information about
its level, so a drop of a fifth in a home that sends a few hundred signals a day is found in
days, while a home that sends five a day (a door and a plug) or twenty (a speaker) gathers
only a nat or two of evidence in the first week of a gradual decline: no test tells that
from an ordinary quiet week without flooding the work list, and such declines are found in
the second week or later. Measured on the simulator (``simulators/scoring.py``, "false
trends"), about 4 findings per 100 household-months on households with no decline, all three
kinds; on stable negative-binomial lives from 5 to 200 signals a day (the tests), at most
about one activity finding per resident-year whatever the level, where a chart on the log of
the count (this module's earlier one) gave five a year in a home of five signals a day.
The weekly comparison shown with a finding (:func:`week_text`) gives the change per part of
the day.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["TREND_KINDS", "DayFigures", "Finding", "Trends", "daily", "week_text"]

TREND_KINDS = ("activity_drop", "sleep_shift", "restless_nights")
_PARTS = ("새벽", "오전", "오후", "저녁")

_RHO = 0.8
"""The drop the decline chart is designed for: a fifth fewer signals than usual."""
_H = 4.0
"""Nats of evidence for a finding (e^4: 55 times likelier a decline than the usual life)."""
_NIGHT_SHIFT = 0.5
"""The longer night the decline chart expects, in spreads of the resident's own night."""
_MAX_STEP = _H / 3
"""No single day adds more: a decline takes at least three low days."""
_MIN_STEP = -_H / 2
"""Nor takes away more: one busy day (a visitor) does not wipe out a week of evidence."""
_MIN_DISPERSION = 0.02
"""The least over-dispersion assumed (``1/r``): a day's count varies at least about 14 %
beyond counting noise, however regular the first weeks looked."""
_PRIOR_DISPERSION = 0.05
"""The prior for the dispersion: a day's count varying about 22 % beyond counting noise."""
_PRIOR_DAYS = 7
_MEMORY_DAYS = 28
_MIN_BASELINE_DAYS = 14
_HOLD = 7
_NEW_NORMAL_DAYS = 28
_DROP_SHOWN = 0.9
"""A finding also needs the median day of the held week at most 90 % of the baseline: most
days of the week are down (two empty days among usual ones are not a decline), and the work
list never reads "활동 감소 추이: 평소의 97%"."""

_K = 0.5
_H_SLEEP = 8.0
_QUIET_DAYS = 14


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


class _Counts(BaseModel):
    """The activity baseline (a count per day) and its negative-binomial CUSUM."""

    model_config = ConfigDict(extra="forbid")

    mean: float | None = None
    var: float = 0.0
    days: int = 0
    cusum: float = 0.0
    held: list[int] = Field(default_factory=list)
    """The last days' counts, oldest first, not yet learned (at most :data:`_HOLD`)."""
    found_at: float | None = None
    """The baseline when the last finding was made; None while armed."""
    since: int = 0
    """Days learned since that finding."""


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

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        # A state stored before the negative-binomial chart kept a log-level chart and a
        # week of levels: dropped, so the resident's state still loads and the new chart
        # learns its baseline afresh (two weeks) while the rest is kept.
        if isinstance(data, dict) and ("activity" in data or "week" in data):
            return {k: v for k, v in data.items() if k not in ("activity", "week")}
        return data

    counts: _Counts = Field(default_factory=_Counts)
    night: _Chart = Field(default_factory=_Chart)
    nights: _Chart = Field(default_factory=_Chart)
    parts_base: list[float] = Field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])
    parts_week: list[float] = Field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])
    """Mean signals per part of the day: the baseline, and the last week (memory 7 days)."""
    last_found: dict[str, date] = Field(default_factory=dict)

    def copy_mutable(self) -> Trends:
        """A copy that shares nothing mutable (faster than a deep copy; add new fields here)."""
        counts = self.counts.model_copy(update={"held": list(self.counts.held)})
        return self.model_copy(
            update={
                "counts": counts,
                "night": self.night.model_copy(),
                "nights": self.nights.model_copy(),
                "parts_base": list(self.parts_base),
                "parts_week": list(self.parts_week),
                "last_found": dict(self.last_found),
            }
        )


def daily(trends: Trends, figures: DayFigures) -> list[Finding]:
    """Fold one learned day into the charts; return what is now a lasting change."""
    found: list[Finding] = []
    frozen = trends.counts.cusum > 0
    _parts(trends, figures.signals, frozen)
    share = _activity_dropped(trends.counts, sum(figures.signals), _night_evidence(trends, figures))
    if share is not None:
        found.append(Finding("activity_drop", figures.day, week_text(trends, share)))
    if figures.night_min is not None:
        mean = trends.night.mean
        if _step(trends.night, float(figures.night_min), _NIGHT_LEAST):
            longer = round(figures.night_min - (mean or figures.night_min))
            found.append(
                Finding(
                    "sleep_shift",
                    figures.day,
                    f"수면 시간대 변화: 잠자리에 드는 시간부터 첫 활동까지가 평소보다 약 "
                    f"{max(longer, 0)}분 깁니다.",
                )
            )
    if _step(trends.nights, float(figures.night_hours), 0.5):
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
        # The decline chart is armed again only after a recovery; the night charts wait.
        rearmed = finding.kind == "activity_drop" or last is None
        if rearmed or (last is not None and (finding.day - last).days >= _QUIET_DAYS):
            trends.last_found[finding.kind] = finding.day
            out.append(finding)
    return out


def week_text(trends: Trends, share: float | None = None) -> str:
    """``활동 감소 추이: 최근 한 주 활동량이 평소의 62%입니다, 오후 45%.``: ``share`` (the
    last week against the baseline, as the chart measured it; else from the part means) and
    the part of the day that fell most."""
    base, week = sum(trends.parts_base), sum(trends.parts_week)
    if share is None:
        share = week / base if base > 0 else 0.0
    percent = round(100 * share)
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
    return f"활동 감소 추이: 최근 한 주 활동량이 평소의 {percent}%입니다{part}."


def _parts(trends: Trends, signals: tuple[int, int, int, int], frozen: bool) -> None:
    days = trends.counts.days + len(trends.counts.held)
    base_w = 1.0 / min(days + 1, _MEMORY_DAYS)
    week_w = 1.0 / min(days + 1, _HOLD)
    for p, value in enumerate(signals):
        if not frozen:
            trends.parts_base[p] = round(
                trends.parts_base[p] + base_w * (value - trends.parts_base[p]), 2
            )
        trends.parts_week[p] = round(
            trends.parts_week[p] + week_w * (value - trends.parts_week[p]), 2
        )


def nb_step(mean: float, dispersion: float, count: int, rho: float = _RHO) -> float:
    """ln P(count | mean rho) - ln P(count | mean), negative binomial with ``var = mean +
    dispersion mean^2`` (the CUSUM's increment; Poisson as ``dispersion`` goes to 0)."""
    low = rho * mean
    if dispersion <= 0:
        return count * math.log(rho) + mean - low
    r = 1.0 / dispersion
    return count * math.log(rho * (r + mean) / (r + low)) + r * math.log((r + mean) / (r + low))


def _dispersion(chart: _Counts) -> float:
    assert chart.mean is not None  # noqa: S101 - only asked of a learned baseline
    mean = max(chart.mean, 0.5)
    # The weighted variance of n days underestimates by (n - 1)/n; so does the mean's own
    # error, which a new day does not share: both are put back.
    n = min(chart.days, _MEMORY_DAYS)
    var = chart.var * n / max(n - 1, 1) * (1 + 1 / n)
    seen = max(0.0, (var - mean) / mean**2)
    # A week or two of days says little about how much a life varies: the estimate leans on
    # a prior worth :data:`_PRIOR_DAYS` days of an ordinarily varied life until it has more.
    shrunk = (n * seen + _PRIOR_DAYS * _PRIOR_DISPERSION) / (n + _PRIOR_DAYS)
    return max(_MIN_DISPERSION, shrunk)


def _night_evidence(trends: Trends, figures: DayFigures) -> float:
    """The night's log-likelihood ratio, a longer night against the usual one (0 unseen)."""
    night = trends.night
    if figures.night_min is None or night.mean is None or night.days < _MIN_BASELINE_DAYS:
        return 0.0
    z = (figures.night_min - night.mean) / max(night.spread * _MAD_TO_SD, _NIGHT_LEAST)
    return max(-1.0, min(1.0, _NIGHT_SHIFT * z - _NIGHT_SHIFT**2 / 2))


def _activity_dropped(chart: _Counts, count: int, night: float) -> float | None:
    """One day on the decline chart (``night``: that night's evidence); when it makes a
    finding (see the module docstring), the last week's share of the baseline."""
    chart.held.append(count)
    found = None
    # Charted from the fourteenth day seen: a week learned, a week held.
    if chart.mean is not None and chart.days + _HOLD >= _MIN_BASELINE_DAYS:
        step = nb_step(chart.mean, _dispersion(chart), count) + night
        cusum = max(0.0, chart.cusum + max(_MIN_STEP, min(_MAX_STEP, step)))
        # Disarmed, the chart runs on against the new level but never past a finding.
        chart.cusum = round(cusum if chart.found_at is None else min(cusum, _H), 3)
        # Most days of the week must be down: two empty days among usual ones are not.
        week = statistics.median(chart.held)
        low = chart.mean > 0 and week <= _DROP_SHOWN * chart.mean
        if chart.found_at is None and chart.cusum >= _H and low:
            found = week / chart.mean
            chart.found_at, chart.since = chart.mean, 0
            chart.mean, chart.var, chart.days, chart.cusum = None, 0.0, 0, 0.0
            chart.held = [count]
    if chart.found_at is not None and found is None:
        chart.since += 1
        # Recovered: the week back above half way from the new low level to the old one.
        mean = chart.mean
        week = statistics.median(chart.held)
        if mean is not None and week >= (mean + chart.found_at) / 2:
            chart.found_at, chart.cusum = None, 0.0
        elif chart.since >= _NEW_NORMAL_DAYS:
            # A fall settles in weeks: the baseline is learned again from the settled days
            # alone, and the chart starts over once it has two weeks of them.
            chart.found_at, chart.cusum = None, 0.0
            chart.mean, chart.var, chart.days = None, 0.0, 0
    if len(chart.held) > _HOLD:
        _learn(chart, chart.held.pop(0))
    return found


def _learn(chart: _Counts, count: int) -> None:
    if chart.mean is None:
        chart.mean, chart.var, chart.days = float(count), 0.0, 1
        return
    weight = 1.0 / min(chart.days + 1, _MEMORY_DAYS)
    deviation = count - chart.mean
    if chart.days >= _MIN_BASELINE_DAYS:
        # One odd day (a party, a half day out) moves the spread a little, not a lot.
        bound = 3 * math.sqrt(chart.mean + _MIN_DISPERSION * chart.mean**2 + chart.var)
        deviation = max(-bound, min(bound, deviation))
    chart.mean = round(chart.mean + weight * deviation, 3)
    chart.var = round((1 - weight) * (chart.var + weight * deviation**2), 3)
    chart.days += 1


def _step(chart: _Chart, value: float, least: float) -> bool:
    """One day on one upward chart; True when the CUSUM crosses :data:`_H_SLEEP` (and is
    reset). ``least``: the least spread, so very steady days are not flagged for a tiny
    wobble (minutes for the night, hours for restless nights)."""
    if chart.mean is None:
        chart.mean, chart.days = value, 1
        return False
    crossed = False
    if chart.days >= _MIN_BASELINE_DAYS:
        spread = max(chart.spread * _MAD_TO_SD, least)
        chart.cusum = round(max(0.0, chart.cusum + (value - chart.mean) / spread - _K), 3)
        if chart.cusum > _H_SLEEP:
            chart.cusum = 0.0
            crossed = True
    # The baseline learns every ordinary day, high or low, and stands still once the chart
    # is half way to a finding: a change may be under way.
    if chart.cusum <= _H_SLEEP / 2 and not crossed:
        weight = 1.0 / min(chart.days + 1, _MEMORY_DAYS)
        chart.spread = round(chart.spread + weight * (abs(value - chart.mean) - chart.spread), 3)
        chart.mean = round(chart.mean + weight * (value - chart.mean), 3)
    chart.days += 1
    return crossed


_NIGHT_LEAST = 20.0
"""Minutes: the least spread of a night, so a very steady one is not flagged for a wobble."""
_MAD_TO_SD = 1.25
"""A mean absolute deviation is about 0.8 standard deviations (normal data)."""
