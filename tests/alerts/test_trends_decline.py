"""The decline chart (alerts/trends.py): a negative-binomial CUSUM against the resident's own
baseline that finds a gradual fall in activity, says so once, re-arms only after a recovery
(or once the low level is the new normal), and stays quiet on ordinary varied lives."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import date, timedelta

import pytest

from alerts.trends import DayFigures, Finding, Trends, daily, nb_step

DAY0 = date(2026, 11, 2)


def nb_count(rng: random.Random, mean: float, dispersion: float) -> int:
    """A negative-binomial day (gamma-mixed Poisson): var = mean + dispersion mean^2."""
    rate = rng.gammavariate(1 / dispersion, mean * dispersion) if dispersion > 0 else mean
    # Knuth's Poisson for small rates, a rounded normal for large ones (enough for a test).
    if rate > 50:
        return max(0, round(rng.gauss(rate, math.sqrt(rate))))
    limit, k, p = math.exp(-rate), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def figures(n: int, count: int, night_min: int | None = None) -> DayFigures:
    part = count // 4
    return DayFigures(DAY0 + timedelta(days=n), (part, part, part, count - 3 * part), night_min, 0)


def drops(found: list[Finding]) -> list[Finding]:
    return [f for f in found if f.kind == "activity_drop"]


def live(
    trends: Trends,
    days: range,
    level: float | Callable[[int], float],
    rng: random.Random,
    dispersion: float,
) -> list[Finding]:
    """Feed ``days``; ``level(n)`` is the day's expected count. Returns the findings."""
    found: list[Finding] = []
    for n in days:
        mean = level(n) if callable(level) else float(level)
        found += daily(trends, figures(n, nb_count(rng, mean, dispersion)))
    return found


@pytest.mark.parametrize(
    ("level", "dispersion"),
    [(5, 0.0), (25, 0.04), (40, 0.03), (200, 0.02), (200, 0.06), (20, 0.15)],
)
def test_ordinary_varied_lives_make_about_one_false_finding_a_year_at_most(
    level: float, dispersion: float
) -> None:
    # Thirty residents each, a year of ordinary days: a door-and-plug home (5 signals, no
    # more scattered than counting), speakers, a fully equipped home. The threshold means
    # the same at every level: the chart on ln(1 + signals) this one replaced made 149
    # findings in the door-and-plug homes (five a year each) and 132 at (20, 0.15).
    false = 0
    for seed in range(30):
        rng = random.Random(f"{level}:{dispersion}:{seed}")
        false += len(drops(live(Trends(), range(365), level, rng, dispersion)))
    assert false <= 45, false


def test_a_gradual_decline_is_found_once_while_it_lasts() -> None:
    # 200 signals a day, then 2 % fewer each day from day 30 to a floor of 40 % (day 60).
    def level(n: int) -> float:
        return 200 * max(0.4, 1 - 0.02 * max(0, n - 30))

    late = []
    for seed in range(20):
        rng = random.Random(seed)
        trends = Trends()
        assert drops(live(trends, range(30), level, rng, 0.02)) == []
        found = drops(live(trends, range(30, 100), level, rng, 0.02))
        assert len(found) == 1, found  # one decline, one work-list item
        late.append((found[0].day - DAY0).days - 30)
        assert "활동 감소 추이" in found[0].detail
    # Found while it is still a fall of a fifth to a third, long before the floor.
    assert sorted(late)[len(late) // 2] <= 14 and max(late) <= 20, late


def test_a_step_drop_in_a_quiet_home_is_found_too() -> None:
    # Five signals a day (a door and a plug) halved: little evidence a day, but it adds up.
    late = []
    for seed in range(20):
        rng = random.Random(seed)
        trends = Trends()
        live(trends, range(28), 5, rng, 0.0)
        found = drops(live(trends, range(28, 60), 2.5, rng, 0.0))
        late.append((found[0].day - DAY0).days - 28 if found else 99)
    assert sorted(late)[len(late) // 2] <= 12, late
    assert sum(n <= 21 for n in late) >= 16, late


@pytest.mark.parametrize("empty", [1, 2, 3])
def test_a_few_empty_days_are_not_a_decline(empty: int) -> None:
    # A day at a child's home, or a hospital stay that began late in the day: a few very
    # low days, then the usual ones. Each day adds at most a quarter of the evidence.
    trends = Trends()
    usual = [55, 62, 58, 66, 60, 57, 63]
    found = [f for n in range(28) for f in daily(trends, figures(n, usual[n % 7]))]
    for n in range(28, 28 + empty):
        found += daily(trends, figures(n, 2))
    found += [f for n in range(28 + empty, 60) for f in daily(trends, figures(n, usual[n % 7]))]
    assert drops(found) == []


def test_a_week_mostly_low_is() -> None:
    trends = Trends()
    usual = [55, 62, 58, 66, 60, 57, 63]
    found = [f for n in range(28) for f in daily(trends, figures(n, usual[n % 7]))]
    for n in range(28, 33):
        found += daily(trends, figures(n, 25))
    assert [f.day for f in drops(found)] == [DAY0 + timedelta(days=31)]


def test_the_chart_is_armed_again_after_a_recovery() -> None:
    rng = random.Random(11)
    trends = Trends()
    live(trends, range(28), 100, rng, 0.02)
    first = drops(live(trends, range(28, 42), 50, rng, 0.02))
    assert len(first) == 1
    # Back to her usual days for three weeks: no new item, and the chart is armed again.
    assert drops(live(trends, range(42, 63), 100, rng, 0.02)) == []
    assert trends.counts.found_at is None
    again = drops(live(trends, range(63, 80), 50, rng, 0.02))
    assert len(again) == 1, again


def test_a_low_level_that_lasts_becomes_the_new_normal_and_a_further_drop_is_new() -> None:
    rng = random.Random(5)
    trends = Trends()
    live(trends, range(28), 120, rng, 0.02)
    assert len(drops(live(trends, range(28, 40), 60, rng, 0.02))) == 1
    # Six weeks at the lower level: one item was enough.
    assert drops(live(trends, range(40, 82), 60, rng, 0.02)) == []
    # Then down again from the new level: that is news for the official.
    assert len(drops(live(trends, range(82, 100), 25, rng, 0.02))) == 1


def test_the_baseline_does_not_learn_the_week_under_test() -> None:
    rng = random.Random(2)
    trends = Trends()
    live(trends, range(28), 100, rng, 0.02)
    baseline = trends.counts.mean
    assert baseline is not None
    live(trends, range(28, 32), 70, rng, 0.02)  # four low days, still held
    assert trends.counts.mean == pytest.approx(baseline, rel=0.05)
    assert len(trends.counts.held) == 7


def test_the_increment_is_the_negative_binomial_log_likelihood_ratio() -> None:
    def log_pmf(x: int, mean: float, dispersion: float) -> float:
        r = 1 / dispersion
        return (
            math.lgamma(x + r)
            - math.lgamma(r)
            - math.lgamma(x + 1)
            + r * math.log(r / (r + mean))
            + x * math.log(mean / (r + mean))
        )

    for x, mean, dispersion in [(3, 5.0, 0.1), (150, 200.0, 0.02), (0, 12.0, 0.5)]:
        expected = log_pmf(x, 0.8 * mean, dispersion) - log_pmf(x, mean, dispersion)
        assert nb_step(mean, dispersion, x, 0.8) == pytest.approx(expected)
    # Poisson at no dispersion: x ln(rho) + mean (1 - rho).
    assert nb_step(10.0, 0.0, 7, 0.8) == pytest.approx(7 * math.log(0.8) + 2.0)
    # A usual day is evidence against a decline, a day at the designed drop for it.
    assert nb_step(50.0, 0.02, 50) < 0 < nb_step(50.0, 0.02, 40)


def test_the_finding_says_how_far_the_week_fell() -> None:
    trends = Trends()
    for n in range(28):
        daily(trends, figures(n, 100))
    found: list[Finding] = []
    n = 28
    while not drops(found):
        found += daily(trends, figures(n, 50))
        n += 1
    (finding,) = drops(found)
    share = int(finding.detail.split("평소의 ")[1].split("%")[0])
    assert 50 <= share <= 85, finding.detail


def test_a_state_stored_by_the_earlier_chart_still_loads() -> None:
    legacy = {
        "activity": {"mean": 5.2, "spread": 0.1, "days": 40, "cusum": 0.0},
        "night": {"mean": 510.0, "spread": 20.0, "days": 40, "cusum": 0.0},
        "nights": {"mean": 0.2, "spread": 0.3, "days": 40, "cusum": 0.0},
        "parts_base": [1.0, 60.0, 80.0, 40.0],
        "parts_week": [1.0, 60.0, 80.0, 40.0],
        "week": [5.2, 5.1, 5.3, 5.2, 5.2, 5.1, 5.2],
        "last_found": {"sleep_shift": "2026-10-01"},
    }
    trends = Trends.model_validate(legacy)
    assert trends.counts.mean is None  # learned afresh
    assert trends.night.mean == 510.0
    assert trends.last_found == {"sleep_shift": date(2026, 10, 1)}
    assert Trends.model_validate_json(trends.model_dump_json()) == trends


def test_the_charts_stay_small() -> None:
    rng = random.Random(1)
    trends = Trends()
    for n in range(120):
        daily(trends, figures(n, nb_count(rng, 3000, 0.05), 500 + rng.randint(-60, 60)))
    assert len(trends.model_dump_json()) <= 450
